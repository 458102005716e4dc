"""The index cache's files: an unusable cache directory is a one-line error naming it, cache files honour the
umask, and in-memory subtitles are keyed by their content (not by ``id()``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.context.ocr import OcrCache
from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.errors import IndexCacheError
from clamr_frames.index import IndexSettings
from clamr_frames.video.writer import write_video

DURATION = 8  # seconds at 2 fps native → 8 candidates at 1 fps


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(0)
    frames = (np.clip(rng.normal(90 + 3 * i, 20, size=(48, 64, 3)), 0, 255).astype(np.uint8)
              for i in range(2 * DURATION))
    video = write_video(d / "clip.mp4", frames, fps=2.0)
    srt = write_srt(d / "clip.srt", [Cue(0.0, 4.0, "the ferry leaves at noon"), Cue(4.0, 8.0, "bring a coat")])
    return video, srt


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


def _selector(encoder, cache):
    from clamr_frames.selector import FrameSelector

    return FrameSelector(encoder, index_dir=cache, progress=False, settings=IndexSettings(chunk_size=4), ocr=False)


# -- an index cache directory that cannot be created ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("where", ["proc", "file in the way"])
def test_unusable_cache_directory_is_a_one_line_error(clip, tmp_path, monkeypatch, capsys, where):
    from clamr_frames.cli import main

    if where == "proc":
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc on this system")
        cache = Path("/proc/clamr-frames-cache")  # procfs refuses new directories, even to root
    else:
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the cache directory should be")
        cache = blocker / "cache"
    monkeypatch.setenv("CLAMR_FRAMES_CACHE", str(cache))
    rc = main(["index", str(clip[0]), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error:" in ln]
    assert line.startswith("clamr-frames index: error: ")
    assert f"{cache}: index cache directory cannot be created or written" in line
    assert "CLAMR_FRAMES_CACHE" in line


def test_unusable_ocr_cache_directory_names_it(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(IndexCacheError, match=rf"{blocker / 'ocr'}: OCR cache directory cannot be created"):
        OcrCache(blocker / "ocr").put_many("fp", [0.0], ["EXIT"])


# -- cache files honour the umask ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_cache_files_honour_the_umask(clip, encoder, tmp_path, umask):
    video, srt = clip
    old = os.umask(umask)
    try:
        _selector(encoder, tmp_path / "cache").index(video, subtitles=srt)
        OcrCache(tmp_path / "cache" / "ocr").put_many("fp", [0.0, 1.0], ["EXIT", "EXIT"])
    finally:
        os.umask(old)
    # lock files are the file lock library's (it sets their mode itself)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".lock"]
    names = {p.name for p in files}
    assert {"manifest.json", "index.safetensors", "fp.json"} <= names, names
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, (p.name, oct(p.stat().st_mode))


# -- in-memory subtitles are keyed by content ---------------------------------------------------------------
@pytest.mark.slow
def test_in_memory_subtitles_are_keyed_by_content(clip, encoder, tmp_path):
    video, srt = clip
    selector = _selector(encoder, tmp_path)
    cues = [Cue(0.0, 8.0, "the password is falcon")]
    first = selector.index(video, subtitles=cues)
    assert "falcon" in first.asr[0]
    # the same object with other content (what a new object at a reused id() looks like to an id() key)
    cues[0] = Cue(0.0, 8.0, "the password is heron")
    second = selector.index(video, subtitles=cues)
    assert second.path != first.path and "heron" in second.asr[0]
    # equal content in another object finds the same index
    assert selector.index(video, subtitles=[Cue(0.0, 8.0, "the password is falcon")]).path == first.path
    # an edited subtitle file is looked up again, not served from memory
    srt2 = write_srt(tmp_path / "edited.srt", [Cue(0.0, 8.0, "first version")])
    assert "first" in selector.index(video, subtitles=srt2).asr[0]
    write_srt(srt2, [Cue(0.0, 8.0, "second edition of the lines")])
    st = srt2.stat()
    os.utime(srt2, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert "second" in selector.index(video, subtitles=srt2).asr[0]
