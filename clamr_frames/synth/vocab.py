"""Word pools and phrasing templates of the synthetic generator.

Pools are disjoint by construction: no key word (the answer of a needle) is a word of a filler
subtitle line, of a needle subject, or of a question template, so the only place a key shows up
is its own needle. ``tests/test_synth.py`` checks this.
"""

from __future__ import annotations

# --- needle keys, by type (the answer and its distractors always share a type) -----------------

KEY_POOLS: dict[str, tuple[str, ...]] = {
    "code": (
        "COBALT", "FALCON", "MAPLE", "JUNIPER", "ORCHID", "QUARTZ", "TUNDRA", "ZEPHYR", "MARLIN",
        "CITADEL", "PELICAN", "GRANITE", "VELVET", "HORIZON", "LANTERN", "MERIDIAN", "NEBULA",
        "OBSIDIAN", "PAPRIKA", "RAVEN", "SEQUOIA", "TANGO", "WALNUT", "YARROW", "ANVIL", "BEACON",
        "CANYON", "DYNAMO", "EMBER", "FJORD", "GLACIER", "HARPOON", "JASPER", "KESTREL", "LAGOON",
        "MONSOON", "NOMAD", "PRISM", "QUILL", "SIERRA", "THISTLE", "VORTEX",
    ),
    "city": (
        "LISBON", "OSLO", "KYOTO", "NAIROBI", "LIMA", "QUEBEC", "HAVANA", "DUBLIN", "CAIRO",
        "SEOUL", "PERTH", "VIENNA", "PRAGUE", "BOGOTA", "HELSINKI", "MANILA", "ZURICH", "MUMBAI",
        "TUNIS", "KRAKOW", "ATHENS", "DENVER", "SANTIAGO", "TBILISI",
    ),
    "animal": (
        "OTTER", "BADGER", "HERON", "LYNX", "BISON", "GECKO", "WALRUS", "IBEX", "TOUCAN", "MOOSE",
        "COYOTE", "PUFFIN", "JAGUAR", "LEMUR", "BEAVER", "CONDOR", "HYENA", "IGUANA", "MEERKAT",
        "PANDA", "TAPIR", "WOMBAT", "OSPREY", "ARMADILLO",
    ),
    "fruit": (
        "MANGO", "PAPAYA", "LYCHEE", "GUAVA", "KIWI", "PLUM", "QUINCE", "APRICOT", "FIG",
        "PERSIMMON", "POMEGRANATE", "TANGERINE", "NECTARINE", "GOOSEBERRY", "CRANBERRY", "DURIAN",
        "PINEAPPLE", "COCONUT", "RASPBERRY", "CHERRY",
    ),
    # "number" keys are drawn as three-digit numbers; filler lines contain no digits at all.
    "number": (),
}

#: what a question calls a key of each type ("What {noun} is written on ...").
KEY_NOUNS = {"code": "word", "city": "city", "animal": "animal", "fruit": "fruit", "number": "number"}

# --- OCR needles: a sign at a place -------------------------------------------------------------

OCR_PLACES: tuple[str, ...] = (
    "MUSEUM ROOF", "HARBOUR GATE", "NORTH TOWER", "TRAIN PLATFORM", "LIBRARY DOOR",
    "BAKERY WINDOW", "BRIDGE PILLAR", "STADIUM ENTRANCE", "HOTEL LOBBY", "FERRY DECK",
    "CASTLE WALL", "GARDEN SHED", "FACTORY FLOOR", "AIRPORT HANGAR", "SCHOOL GYM",
    "MARKET STALL", "LIGHTHOUSE", "SUBWAY TUNNEL", "THEATRE STAGE", "POST OFFICE",
    "FIRE STATION", "CLOCK TOWER", "ZOO ENTRANCE", "BUS DEPOT", "WATER TOWER", "CITY HALL",
    "ART GALLERY", "SKI LODGE", "MINE SHAFT", "OBSERVATORY", "BOAT HOUSE", "PARKING GARAGE",
    "GREENHOUSE", "CHAPEL DOOR", "DOCK OFFICE", "RADIO MAST",
)
OCR_KEY_TYPES = ("code", "code", "number", "city", "animal")

# {place} is lowercase in questions; {noun} from KEY_NOUNS.
OCR_QUESTIONS: tuple[str, ...] = (
    "What {noun} is written on the {place} sign?",
    "Which {noun} appears on the sign at the {place}?",
    "The {place} sign shows which {noun}?",
    "According to the sign at the {place}, what is the {noun}?",
    "What {noun} can be read on the {place} sign?",
    "Which {noun} is displayed on the {place} sign in the video?",
)

# --- ASR needles: a speaker states an attribute -------------------------------------------------

ASR_SPEAKERS: tuple[str, ...] = (
    "harbour master", "night nurse", "bakery owner", "museum guide", "taxi driver",
    "school principal", "ship captain", "radio host", "park ranger", "head chef",
    "train conductor", "street musician", "hotel manager", "lighthouse keeper",
    "flight attendant", "farm manager", "bank teller", "tour guide", "team coach", "librarian",
    "firefighter", "mail carrier", "zookeeper", "dentist", "pharmacist", "carpenter", "tailor",
    "mechanic", "florist", "barber", "plumber", "locksmith", "jeweller", "beekeeper",
)

#: (attribute as spoken and asked, key type)
ASR_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("password", "code"),
    ("code word", "code"),
    ("secret signal", "code"),
    ("room number", "number"),
    ("locker number", "number"),
    ("gate number", "number"),
    ("meeting city", "city"),
    ("destination city", "city"),
    ("team mascot", "animal"),
    ("spirit animal", "animal"),
    ("favourite fruit", "fruit"),
    ("dessert flavour", "fruit"),
)

ASR_LINES: tuple[str, ...] = (
    "the {speaker} said the {attr} is {key}",
    "according to the {speaker}, the {attr} is {key}",
    "listen, the {speaker} told me the {attr} is {key}",
    "the {speaker} confirmed that the {attr} is {key}",
)

ASR_QUESTIONS: tuple[str, ...] = (
    "What {attr} did the {speaker} say?",
    "According to the {speaker}, what is the {attr}?",
    "Which {attr} was mentioned by the {speaker}?",
    "What did the {speaker} give as the {attr}?",
    "The {speaker} stated a {attr}. What was it?",
    "What is the {attr} according to the {speaker}?",
)

# --- vision needles: a saturated shape ----------------------------------------------------------

#: pure, saturated colours; scene backgrounds and moving shapes stay muted so none of these occur
#: outside a vision needle (and the OCR sign is black on white).
VISION_COLOURS: dict[str, tuple[int, int, int]] = {
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
    "yellow": (255, 255, 0),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "orange": (255, 128, 0),
}
#: background shapes are ellipses and rectangles, so none of these is confused with them.
VISION_SHAPES: tuple[str, ...] = ("star", "triangle", "diamond", "cross", "hexagon", "arrow", "crescent")

VISION_COLOUR_QUESTIONS: tuple[str, ...] = (
    "What colour is the {shape} that briefly appears in the video?",
    "Which colour is the {shape} shown for a few seconds?",
    "The video briefly shows one {shape}. What colour is it?",
    "What is the colour of the {shape} in the video?",
    "Of what colour is the large {shape} seen in the video?",
)
VISION_SHAPE_QUESTIONS: tuple[str, ...] = (
    "What shape is the {colour} object that briefly appears in the video?",
    "Which shape does the {colour} object shown for a few seconds have?",
    "The video briefly shows one {colour} object. What shape is it?",
    "What is the shape of the {colour} object in the video?",
    "Which shape is the large {colour} figure seen in the video?",
)

#: number of phrasing templates per kind (the ``phrasing`` knob is taken modulo these).
N_PHRASINGS = {
    "ocr": len(OCR_QUESTIONS),
    "asr": len(ASR_QUESTIONS),
    "vision": len(VISION_COLOUR_QUESTIONS),
}

# --- filler subtitles: everyday talk, no digits, no key / subject words -------------------------

FILLER_PEOPLE = (
    "my sister", "our neighbour", "my uncle", "a friend of mine", "the kids", "grandma",
    "my cousin", "everyone at work", "my roommate", "our landlord", "my brother", "the twins",
)
FILLER_CHORES = (
    "cleaned the kitchen", "painted the fence", "washed the car", "fixed the bicycle",
    "sorted the laundry", "baked some bread", "watered the plants", "moved the sofa",
    "cleared the gutters", "tidied the garage", "walked the dog", "cooked a big stew",
)
FILLER_TIMES = (
    "last weekend", "yesterday morning", "on Sunday", "before lunch", "after dinner",
    "this afternoon", "early today", "late last night", "over the holidays", "on Friday evening",
)
FILLER_WEATHER = ("rain", "snow", "clear up", "get windy", "be foggy", "stay warm", "turn cold")
FILLER_GROCERIES = (
    "milk", "bread", "eggs", "rice", "coffee", "butter", "cheese", "pasta", "soap", "tea",
    "flour", "onions", "potatoes", "yoghurt",
)
FILLER_HOBBIES = (
    "play the guitar", "knit scarves", "speak Spanish", "swim properly", "draw portraits",
    "juggle", "bake sourdough", "play chess", "grow tomatoes", "dance salsa",
)
FILLER_MEDIA = ("cooking show", "detective series", "nature documentary", "quiz programme", "sitcom")
FILLER_THINGS = ("washing machine", "kitchen tap", "front porch light", "old laptop", "car heater", "doorbell")
FILLER_TEMPLATES: tuple[str, ...] = (
    "{person} {chore} {time}.",
    "i think it will {weather} {time}.",
    "did you remember to buy {grocery}?",
    "{person} is learning to {hobby}.",
    "we ran out of {grocery} again.",
    "have you seen the new {media}?",
    "{person} says the {thing} needs fixing.",
    "honestly, i could use a nap {time}.",
    "{person} wants to {hobby} with us.",
    "the {thing} started making a funny noise {time}.",
    "let's not forget the {grocery} this time.",
    "{person} watched a {media} {time}.",
    "okay, so that's the plan then.",
    "right, where were we?",
)
