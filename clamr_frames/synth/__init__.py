"""Synthetic long videos with ground-truth "needles" (a sign, a subtitle line, a coloured shape).

>>> from clamr_frames.synth import SyntheticScene
>>> SyntheticScene(seed=0, duration=60.0).render_frame(12.5).shape
(180, 320, 3)

``generate_video`` writes a video, its .srt and Video-MME-style questions; ``generate_dataset``
writes many; ``SyntheticScene`` renders single frames without writing anything.
"""

from clamr_frames.synth.generator import SyntheticVideo, generate_dataset, generate_video, video_seed
from clamr_frames.synth.plan import KINDS, Needle, duration_class
from clamr_frames.synth.render import SyntheticScene, render_sign, shape_mask
from clamr_frames.synth.vocab import N_PHRASINGS

__all__ = [
    "KINDS",
    "N_PHRASINGS",
    "Needle",
    "SyntheticScene",
    "SyntheticVideo",
    "duration_class",
    "generate_dataset",
    "generate_video",
    "render_sign",
    "shape_mask",
    "video_seed",
]
