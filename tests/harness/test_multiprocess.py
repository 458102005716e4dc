"""lmms-eval's own multi-process launch (`accelerate launch -m lmms_eval --model clamr_frames`) with two CPU
processes (gloo) sharing one index store: each video is encoded once across the ranks, and a video indexed ahead of
time (as `clamr-frames index` / the Ray pipeline do) is only loaded.

Needs the ``eval`` extra (lmms-eval): ``testkit.extras.require_extra`` skips without it, or fails in CI.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.extras import require_extra

require_extra("eval")

REPO = Path(__file__).resolve().parents[2]

#: Loaded by every Python process started with this folder on PYTHONPATH: logs each encoded part
#: (rank, video, documents) so the test sees what the launched ranks encoded.
_ENCODE_LOG_HOOK = '''
import os
if os.environ.get("CLAMR_TEST_ENCODE_LOG"):
    from clamr_frames.index import builder as _builder

    _encode_part = _builder.encode_part

    def encode_part(encoder, docs, video_path):
        with open(os.environ["CLAMR_TEST_ENCODE_LOG"], "a") as f:
            f.write(f"{os.environ.get('RANK', '-')} {os.path.basename(str(video_path))} {len(docs)}\\n")
        return _encode_part(encoder, docs, video_path)

    _builder.encode_part = encode_part
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_accelerate_launch_two_ranks_encode_each_video_once(tmp_path):
    from clamr_frames.encoders.default import DefaultEncoder
    from clamr_frames.index import IndexSettings, IndexStore
    from clamr_frames.index.corpus import index_locally, jobs_from_paths
    from qa_harness.make_synthetic import make_synthetic

    synth = tmp_path / "videomme"
    make_synthetic(synth, n_videos=2, duration=40.0, needles_per_kind=1, frame_num=8)
    videos = sorted((synth / "data").glob("*.mp4"))
    srts = [synth / "subtitle" / f"{v.stem}.srt" for v in videos]
    cache = tmp_path / "cache"
    # video 0 indexed ahead of time, with the settings the model uses (fps 1, its subtitles as ASR context)
    pre = index_locally(jobs_from_paths([str(videos[0])], [str(srts[0])]), DefaultEncoder(),
                        settings=IndexSettings(fps=1.0), store=IndexStore(cache), progress=False, ocr=False)
    assert len(pre.indexed) == 1

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_ENCODE_LOG_HOOK)
    # the lmms_eval.models entry point, so that a source checkout that was not pip-installed resolves the model too
    dist = tmp_path / "ep" / "clamr_frames_ep-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: clamr-frames-ep\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[lmms_eval.models]\nclamr_frames = qa_harness.lmms_plugin:manifests\n")
    log = tmp_path / "encoded.log"
    env = dict(
        os.environ, ACCELERATE_USE_CPU="1", CLAMR_TEST_ENCODE_LOG=str(log), HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1", HF_DATASETS_CACHE=str(tmp_path / "hf_datasets"), OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(hook), str(dist.parent), str(REPO)]),
    )
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        "-m", "lmms_eval", "--model", "clamr_frames",
        "--model_args", f"policy=topk,k=2,ocr=false,subtitles=selected,index_dir={cache},"
                        f"log_selections={tmp_path / 'sel.jsonl'}",
        "--tasks", "synthetic_videoqa", "--include_path", str(synth), "--batch_size", "1",
        "--output_path", str(tmp_path / "out"), "--log_samples", "--verbosity", "WARNING",
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert re.search(r"\|synthetic_videoqa\|none", proc.stdout), proc.stdout[-3000:]
    out = tmp_path / "out"
    samples = [json.loads(line) for f in out.rglob("*_samples_synthetic_videoqa.jsonl") for line in f.open()]
    questions = json.loads((synth / "synthetic_videoqa.json").read_text())
    assert len(samples) == len(questions)  # rank 0 gathered every rank's answers

    # both ranks answered questions about video 1, yet it was encoded once, by one rank; video 0 only loaded
    per_rank = {r: [json.loads(line) for line in (tmp_path / f"sel.rank{r}.jsonl").open()] for r in (0, 1)}
    assert sorted(d["doc_id"] for recs in per_rank.values() for d in recs) == sorted(range(len(questions)))
    assert all(any(Path(d["video"]).name == videos[1].name for d in recs) for recs in per_rank.values())
    encoded = [line.split() for line in log.read_text().splitlines()]
    assert not [e for e in encoded if e[1] == videos[0].name]
    ranks = {rank for rank, name, _ in encoded if name == videos[1].name}
    assert len(ranks) == 1 and sum(int(n) for _, name, n in encoded if name == videos[1].name) == 40
