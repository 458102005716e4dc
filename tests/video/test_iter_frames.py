"""VideoReader.iter_frames: the picked frames only, streamed in blocks, equal to get_frames."""

import numpy as np
import pytest

from clamr_frames.errors import InputError


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from clamr_frames.synth import generate_video

    out = tmp_path_factory.mktemp("v")
    generate_video(out, seed=3, duration=30.0, fps=4.0, width=160, height=90, video_id="v", needles_per_kind=1)
    return out / "v.mp4"


def test_iter_frames_matches_get_frames(video):
    from clamr_frames.video import VideoReader

    want = [97, 3, 50, 3, 118, 0]
    with VideoReader(video) as r:
        chunks = list(r.iter_frames(want, max_side=80, chunk_size=2))
        ref = r.get_frames(sorted(set(want)), max_side=80)
    got_idx = np.concatenate([c.indices for c in chunks])
    assert got_idx.tolist() == sorted(set(want))  # each once, in order
    assert all(len(c) <= 2 for c in chunks)
    np.testing.assert_array_equal(np.concatenate([c.frames for c in chunks]), ref.frames)
    np.testing.assert_array_equal(np.concatenate([c.timestamps for c in chunks]), ref.timestamps)


def test_iter_frames_rejects_bad_indices(video):
    from clamr_frames.video import VideoReader

    with VideoReader(video) as r:
        with pytest.raises(InputError, match="outside"):
            r.iter_frames([0, 10_000])
        with pytest.raises(InputError, match="chunk_size"):
            r.iter_frames([0], chunk_size=0)
