"""benchmarks/conformance.py counts wrong and dropped frames right: on a real file, a reader that returns the
frames asked for scores 0 / 0, one that drops a frame or returns a neighbour's picture is counted, frame by frame
(the readers are replaced by ones that err on purpose; the truth is the benchmark's own in-order decode)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import conformance as bench
from testkit import conformance_media as cm

NAME = "mjpeg.avi"  # intra-only: every frame decodes on its own


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return str(cm.write(NAME, tmp_path_factory.mktemp("conformance")))


def _pyav_frames(path, indices):
    from clamr_frames.video import VideoReader

    with VideoReader(path, backend="pyav") as r:
        return r.get_frames(np.asarray(indices)).frames


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["none", "drop", "neighbour"])
def test_wrong_and_dropped_are_counted(video, fault, monkeypatch):
    asked = {}

    def reader(path, indices):
        idx = np.asarray(indices)
        asked[len(idx)] = idx
        if fault == "drop":  # the last requested frame is missing
            idx = idx[:-1]
        shown = idx + 1 if fault == "neighbour" else idx  # the picture of the next frame, labelled as idx
        shown = np.minimum(shown, cm.N - 1)
        return idx, _pyav_frames(path, shown), "test reader"

    monkeypatch.setattr(bench, "METHODS", {"lmms": "a reader that errs on purpose"})
    monkeypatch.setattr(bench, "_lmms", reader)
    out = bench.measure_file(video, cm.first_code(NAME), cm.SPECS[NAME].rotation, repeats=1)
    assert out["frames"] == out["in_order_frames"] == cm.N
    for workload in ("uniform", "1fps"):
        r = out["results"][f"{workload}/lmms"]
        want = r["requested"]
        assert want == (32 if workload == "uniform" else cm.N // cm.FPS)  # 1 fps over N / FPS seconds
        if fault == "none":
            assert (r["wrong"], r["dropped"]) == (0, 0)
        elif fault == "drop":
            assert (r["wrong"], r["dropped"]) == (0, 1)
        else:  # every frame shows its neighbour's picture, but the video's last frame (clamped: itself)
            assert (r["wrong"], r["dropped"]) == (int(np.sum(asked[want] != cm.N - 1)), 0)
        assert r["fps"] == pytest.approx(want / r["seconds"])
