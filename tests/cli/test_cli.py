"""The command line: help, version, clear messages and exit codes on bad input, a real select run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from clamr_frames.cli import main
from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.video.writer import write_video


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clamr_frames.cli", *args], capture_output=True, text=True)


def test_help_and_version():
    r = _run("--help")
    assert r.returncode == 0 and "select" in r.stdout and "inspect" in r.stdout
    r = _run("--version")
    assert r.returncode == 0 and "clamr-frames 0." in r.stdout


def test_no_command_prints_help_and_fails():
    assert main([]) == 2


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    frames = (np.full((48, 64, 3), (i * 7) % 255, np.uint8) for i in range(24))
    video = write_video(d / "v.mp4", frames, fps=2.0)
    srt = write_srt(d / "v.srt", [Cue(1.0, 3.0, "hello there"), Cue(8.0, 10.0, "the password is falcon")])
    return video, srt


def test_inspect_prints_metadata_and_context(small_video, capsys):
    video, srt = small_video
    assert main(["inspect", str(video), "--subtitles", str(srt)]) == 0
    out = capsys.readouterr().out
    assert "duration" in out and "12.000 s" in out and "24" in out
    assert "falcon" in out


def test_inspect_json(small_video, capsys):
    video, srt = small_video
    assert main(["inspect", str(video), "--json", "--fps", "0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metadata"]["num_frames"] == 24
    # every 2 s of a 2-fps video: native frames 0, 4, ..., 20, at their container times (exact in binary)
    assert [c["frame_index"] for c in data["candidates"]] == [0, 4, 8, 12, 16, 20]
    assert [c["timestamp"] for c in data["candidates"]] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


@pytest.mark.parametrize(
    "content, expect",
    [(None, "no such file"), (b"", "empty"), (b"this is not a video\n" * 20, "")],
)
def test_bad_video_gives_message_and_exit_2(tmp_path, content, expect):
    p = tmp_path / "bad.mp4"
    if content is not None:
        p.write_bytes(content)
    r = _run("inspect", str(p))
    assert r.returncode == 2
    assert str(p) in r.stderr and "Traceback" not in r.stderr
    assert expect.lower() in r.stderr.lower()


@pytest.mark.slow
def test_select_cli_json_and_plot(small_video, tmp_path, capsys):
    video, srt = small_video
    plot = tmp_path / "t.png"
    rc = main(
        ["select", str(video), "what is the password?", "-k", "3", "--subtitles", str(srt), "--json",
         "--plot", str(plot), "--index-dir", str(tmp_path / "cache"), "--quiet", "--no-ocr"]
    )
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    # The frames are plain grey, so only the subtitles tell candidates apart: the three whose ASR window holds
    # "the password is falcon" (8.0-10.0 s, end included) are the picks, and each says why.
    assert [f["candidate"] for f in data["frames"]] == [8, 9, 10]
    assert [f["frame_index"] for f in data["frames"]] == [16, 18, 20]
    assert [f["timestamp"] for f in data["frames"]] == [8.0, 9.0, 10.0]
    for e in data["explain"]:
        assert "falcon" in e["asr"] and "password" in e["matched"]["asr"] and e["top_modality"] == "asr"
    assert data["num_candidates"] == 12
    assert plot.exists() and plot.stat().st_size > 5000


@pytest.mark.slow
def test_select_save_frames_writes_the_picked_frames(tmp_path, capsys):
    """`select --save-frames DIR`: one JPEG per picked frame, named by its time, showing that very frame (the
    frames carry their own index, read back from the JPEG)."""
    from PIL import Image

    from testkit.media import make_video, read_code

    video = make_video(tmp_path / "coded.mp4", 24, fps=2.0)  # 12 s, frame i shows i
    srt = write_srt(tmp_path / "coded.srt", [Cue(3.0, 5.0, "the password is falcon")])
    out = tmp_path / "frames"
    rc = main(["select", str(video), "what is the password?", "-k", "2", "--subtitles", str(srt), "--json",
               "--save-frames", str(out), "--index-dir", str(tmp_path / "cache"), "--quiet", "--no-ocr",
               "--policy", "topk"])  # the two best-scored frames of the line
    assert rc == 0
    picks = json.loads(capsys.readouterr().out)["frames"]
    assert [p["timestamp"] for p in picks] == [3.0, 4.0]
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"frame_{p['timestamp']:010.3f}.jpg" for p in picks]
    for f, p in zip(files, picks):
        with Image.open(f) as img:
            assert img.format == "JPEG" and img.size == (160, 96)
            assert read_code(np.asarray(img.convert("RGB"))) == p["frame_index"]


@pytest.mark.slow
def test_select_cli_bad_input(small_video, tmp_path):
    video, srt = small_video
    r = _run("select", str(video), "   ", "-k", "3", "--index-dir", str(tmp_path), "--no-ocr")
    assert r.returncode == 2 and "question" in r.stderr and "Traceback" not in r.stderr
    r = _run("select", str(video), "what?", "-k", "0", "--index-dir", str(tmp_path), "--no-ocr")
    assert r.returncode == 2 and "k must be" in r.stderr
    r = _run("select", str(video), "what?", "--subtitles", str(tmp_path / "nope.srt"), "--index-dir", str(tmp_path), "--no-ocr")
    assert r.returncode == 2 and "nope.srt" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def bars_video(tmp_path_factory):
    """20 s at 1 fps: frames 0-9 dark, 10-19 bright with a white bar, so a CLIP scorer sees two kinds of frame."""
    d = tmp_path_factory.mktemp("bars")
    frames = []
    for i in range(20):
        f = np.full((64, 64, 3), 30 if i < 10 else 200, np.uint8)
        if i >= 10:
            f[20:40, :, :] = 255
        f[0, 0, 0] = i  # every frame distinct
        frames.append(f)
    return write_video(d / "bars.mp4", frames, fps=1.0)


def test_select_cli_clip_scorer_nms_policy_on_a_local_model(bars_video, tiny_clip_dir, tmp_path, capsys):
    """`select --scorer clip --weights DIR --policy nms`: the picks are nms over the CLIP cosine similarities."""
    import torch

    from clamr_frames.encoders.base import Document
    from clamr_frames.encoders.clip import ClipEncoder
    from clamr_frames.select import select_frames
    from clamr_frames.video import VideoReader

    clip_dir = tiny_clip_dir
    question = "a white bar"
    rc = main(["select", str(bars_video), question, "-k", "3", "--scorer", "clip", "--weights", str(clip_dir),
               "--policy", "nms", "--json", "--index-dir", str(tmp_path / "cache"), "--quiet", "--device", "cpu"])
    assert rc == 0
    picked = json.loads(capsys.readouterr().out)["frames"]

    enc = ClipEncoder.from_pretrained(clip_dir, device="cpu", output_dtype=torch.float32)
    with VideoReader(bars_video) as r:
        idx, _ = r.candidate_indices(fps=1.0)
        chunk = r.get_frames(idx)
    docs = enc.encode_documents([Document(image=f) for f in chunk.frames])
    q = enc.encode_queries([question])
    scores = (docs.embeddings.float() @ q[0].float().T).squeeze(-1).numpy()
    expect = select_frames(scores, np.asarray(chunk.timestamps), 3, policy="nms")
    assert [p["candidate"] for p in picked] == [int(i) for i in expect]
    assert [p["score"] for p in picked] == pytest.approx(scores[expect].tolist(), abs=2e-3)
    ts = [p["timestamp"] for p in picked]
    assert min(np.diff(ts)) >= 20.0 / (4 * 3) - 1e-6  # nms' default gap: duration / (4 k)


def test_select_cli_weights_for_the_wrong_scorer(bars_video, tmp_path):
    r = _run("select", str(bars_video), "what?", "--scorer", "clip", "--audio-weights", str(tmp_path),
             "--index-dir", str(tmp_path), "--no-ocr")
    assert r.returncode == 2 and "languagebind-va" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_demo_finds_the_spoken_needles_from_the_audio_and_plots(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--minutes", "1.5", "--no-ocr", "-k", "4"]) == 0
    out = capsys.readouterr().out
    assert "ASR context: speech recognised from the audio track (whisper:tiny.en" in out  # no subtitle file used
    asr = next(line for line in out.splitlines() if line.strip().startswith("asr") and "clamr-frames" in line)
    assert "clamr-frames 1.00" in asr
    assert "OCR context is off" in out
    assert (tmp_path / "demo" / "timeline.png").stat().st_size > 5000


@pytest.mark.slow
def test_select_uses_a_compressed_index(bars_video, tmp_path, capsys):
    srt = write_srt(tmp_path / "b.srt", [Cue(12.0, 14.0, "the password is falcon")])
    # topk: on a 20-frame toy video one 2-s line reads as a flat profile to gated (its bulk scores exactly 0)
    args = ["select", str(bars_video), "what is the password?", "-k", "2", "--subtitles", str(srt), "--json",
            "--index-dir", str(tmp_path / "cache"), "--quiet", "--no-ocr", "--policy", "topk", "--compression", "int8"]
    assert main(args) == 0
    ts = [f["timestamp"] for f in json.loads(capsys.readouterr().out)["frames"]]
    assert any(12.0 <= t <= 14.0 for t in ts)
    assert main([*args[:-2], "--compression", "nonsense"]) == 2
    assert "compression" in capsys.readouterr().err
