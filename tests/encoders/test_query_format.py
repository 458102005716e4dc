"""One query format for inference and training: a Video-MME-length question with four options reaches the
CLaMR scorer whole, augmentation tokens included, and byte for byte as the training pipeline builds it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from clamr_frames.encoders.clamr import ClamrEncoder  # noqa: E402
from clamr_frames.encoders.query import OPTIONS_MARKER, build_query, has_options  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.index import IndexSettings  # noqa: E402
from clamr_frames.selector import FrameSelector  # noqa: E402
from clamr_frames.train.builders import examples_from_qa  # noqa: E402
from clamr_frames.train.models import ClamrTrainable  # noqa: E402
from clamr_frames.video.writer import write_video  # noqa: E402


AUG = "<|endoftext|>"
# A Video-MME-sized item: a 22-word question and four options of 17-20 words, labelled as Video-MME labels them.
QUESTION = ("In the lecture, what does the professor explain about gradient descent and learning rates after the "
            "football match shown in the video?")
OPTIONS = [
    "A. The professor explains that the learning rates must fall after ninety minutes of play in the match.",
    "B. The speaker writes the price of the pasta with tomato sauce and fresh basil on the board.",
    "C. The man in a blue jacket opens the door and the quick brown fox jumps over the lazy dog.",
    "D. The red car crossing the bridge at night shows that the storm reaches the coast today.",
]


def _encoder(tiny_qwen_dir) -> ClamrEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fresh head's "re-initialised" warning
        return ClamrEncoder.from_pretrained(None, base_model=tiny_qwen_dir, device="cpu", output_dtype=torch.float32,
                                           frame_size=56)


@pytest.fixture(scope="module")
def encoder(tiny_qwen_dir):
    return _encoder(tiny_qwen_dir)


class RecordingEncoder:
    """A real encoder that records the query texts it is asked to encode."""

    def __init__(self, inner):
        self.inner = inner
        self.queries: list[str] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_queries(self, queries):
        self.queries.extend(queries)
        return self.inner.encode_queries(queries)


def test_build_query_format_and_errors():
    q = build_query(QUESTION, OPTIONS)
    assert q == QUESTION + OPTIONS_MARKER + "\n".join(OPTIONS) and has_options(q)
    assert build_query(QUESTION, [o[3:] for o in OPTIONS]) == q  # unlabelled options get the same labels
    assert not has_options(build_query(QUESTION)) and build_query(QUESTION, []) == QUESTION
    with pytest.raises(InputError):
        build_query("  ")
    with pytest.raises(InputError, match="one string"):
        build_query(QUESTION, "A. yes")


def test_options_survive_with_the_augmentation_tokens(encoder):
    aug = encoder.tokenizer.convert_tokens_to_ids(AUG)
    query = build_query(QUESTION, OPTIONS)
    ids = encoder.prepare_query(query)
    # Longer than the 64-token query cap, within the options cap: nothing of the text is cut ...
    assert 64 < len(ids) <= encoder.settings.query_max_length_with_options
    assert encoder.tokenizer.decode(ids) == "Query: " + query + AUG * 10
    # ... and the 10 augmentation tokens close it.
    assert ids[-10:] == [aug] * 10 and ids[-11] != aug
    # What the selector sent before (options joined with spaces, no marker) got the 64 cap: option D was lost.
    joined = QUESTION + " " + " ".join(OPTIONS)
    cut = encoder.prepare_query(joined)
    assert len(cut) == 64 and "coast" not in encoder.tokenizer.decode(cut)


@pytest.mark.slow
def test_inference_queries_exactly_as_training(encoder, tiny_qwen_dir, tmp_path):
    video = write_video(tmp_path / "v.mp4", (np.full((56, 56, 3), 40 * i, np.uint8) for i in range(4)), fps=1.0)
    record = {"video": "v.mp4", "question": QUESTION, "options": OPTIONS, "evidence": [[1.0, 2.0]]}
    (tmp_path / "qa.json").write_text(json.dumps([record]))

    # Inference: FrameSelector.select(options=...), which the lmms-eval harness calls with Video-MME's options.
    rec = RecordingEncoder(encoder)
    selector = FrameSelector(rec, index_dir=tmp_path / "cache", progress=False, settings=IndexSettings(chunk_size=4),
                             ocr=False)
    sel = selector.select(video, QUESTION, k=2, options=OPTIONS)
    assert len(sel.indices) == 2 and sel.question == QUESTION
    assert rec.queries == [build_query(QUESTION, OPTIONS)]

    # Training: the annotation reader builds the query, the trainable model tokenises it with the encoder's code.
    (example,) = examples_from_qa(tmp_path / "qa.json", tmp_path, options_key="options")
    assert example.queries == (rec.queries[0],)
    model = ClamrTrainable(_encoder(tiny_qwen_dir), lora={"r": 2, "alpha": 2, "dropout": 0.0})
    batch = model.prepare_queries(list(example.queries))
    n = int(batch["attention_mask"][0].sum())
    assert batch["input_ids"][0, :n].tolist() == encoder.prepare_query(rec.queries[0])
