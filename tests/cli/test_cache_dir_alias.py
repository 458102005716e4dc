"""``--cache-dir`` (the deprecated old name of ``--index-dir``) works on every subcommand that takes an index
directory: ``index`` and ``select`` always did, ``inspect`` and ``transcribe`` rejected it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clamr_frames.cli import build_parser, main


@pytest.mark.parametrize("command", ["inspect", "transcribe", "index", "select"])
def test_every_subcommand_with_an_index_dir_takes_the_old_name(command, tmp_path, capsys):
    args = build_parser().parse_args([command, "v.mp4", "--cache-dir", str(tmp_path)])
    assert args.index_dir == str(tmp_path)
    assert "--cache-dir is deprecated, use --index-dir" in capsys.readouterr().err
    assert build_parser().parse_args([command, "v.mp4", "--index-dir", "x"]).index_dir == "x"


def _video(path, *, audio: bool):
    from clamr_frames.video import write_video

    frames = [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(6)]
    silence = np.zeros(16000 * 3, np.float32) if audio else None
    return write_video(path, frames, fps=2.0, audio=silence)


def test_inspect_runs_with_cache_dir(tmp_path, capsys):
    video = _video(tmp_path / "v.mp4", audio=False)
    assert main(["inspect", str(video), "--cache-dir", str(tmp_path / "idx"), "--asr", "none", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "--cache-dir is deprecated" in err
    assert len(json.loads(out)["candidates"]) == 3


def test_transcribe_stores_its_transcript_under_cache_dir(tmp_path, capsys):
    # needs the 'asr' extra (run.sh test installs it): a missing extra fails here rather than skipping
    video = _video(tmp_path / "v.mp4", audio=True)
    assert main(["transcribe", str(video), "--cache-dir", str(tmp_path / "idx"), "--quiet"]) == 0
    assert "--cache-dir is deprecated" in capsys.readouterr().err
    assert list((tmp_path / "idx" / "asr").iterdir())
