"""Fixtures shared across the test folders (session-scoped: each is built once per pytest run).

- ``default_encoder``: the embedded default scorer (offline MiniLM), on the CPU;
- ``tiny_qwen_dir``: a tiny random Qwen2.5-VL saved in the real layout (``testkit.tiny_qwen``);
- ``tiny_clip_dir``: a tiny random CLIP checkpoint in the ``openai/clip-vit-*`` layout (``testkit.tiny_clip``);
- ``subtitled_clip``: a 40-s generated video (2 fps, noise frames) with subtitles: one cue every 4 s from a
  filler list, and at 28-31.5 s the needle "the harbour master said the password is falcon".

Test-support code lives in the importable package ``testkit`` (repository root), never in a test file: test
files do not import each other. The fixtures import their factories inside their bodies, so collecting a
folder that does not use them costs nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

SUBTITLED_CLIP_SECONDS = 40  # at 2 fps native → 40 candidates at 1 fps
SUBTITLED_CLIP_NEEDLE = (28.0, 31.5, "the harbour master said the password is falcon")
_FILLER = [
    "we walked along the river before lunch",
    "the weather turned cold in the afternoon",
    "my cousin likes to paint old fences",
    "there were many buses on the bridge today",
    "the bakery closes early on sundays",
]


@pytest.fixture(scope="session")
def default_encoder():
    """The embedded default encoder (MiniLM token embeddings, CPU). Tests must not change its state."""
    from clamr_frames.encoders.default import DefaultEncoder

    return DefaultEncoder(device="cpu")


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory):
    """A tiny random Qwen2.5-VL (seed 0) saved with its processor, loadable by ``from_pretrained``."""
    from testkit.tiny_qwen import save_tiny_qwen

    return save_tiny_qwen(tmp_path_factory.mktemp("tiny_qwen") / "base", seed=0)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """A tiny random CLIP (seed 0) in the ``openai/clip-vit-*`` layout (safetensors)."""
    from testkit.tiny_clip import write_tiny_clip

    return write_tiny_clip(tmp_path_factory.mktemp("tiny_clip") / "tiny-clip", seed=0)


@pytest.fixture(scope="session")
def subtitled_clip(tmp_path_factory):
    """(video path, subtitle path): 40 s at 2 fps of seeded noise frames, cues every 4 s, a needle at 28 s."""
    from clamr_frames.context.subtitles import Cue, write_srt
    from clamr_frames.video.writer import write_video

    d = tmp_path_factory.mktemp("subtitled_clip")
    rng = np.random.default_rng(0)
    n = SUBTITLED_CLIP_SECONDS
    frames = (np.clip(rng.normal(100 + i, 20, size=(64, 96, 3)), 0, 255).astype(np.uint8) for i in range(2 * n))
    video = write_video(d / "clip.mp4", frames, fps=2.0)
    cues = [Cue(float(t), float(t) + 3.5, _FILLER[(t // 4) % len(_FILLER)]) for t in range(0, n, 4)]
    cues[7] = Cue(*SUBTITLED_CLIP_NEEDLE)
    srt = write_srt(d / "clip.srt", cues)
    return video, srt
