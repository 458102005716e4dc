"""Training writes survive a kill at any instant: checkpoints, the final model, the JSONL and its stamp.

A checkpoint is swapped into place by renames (``clamr_frames._fs.publish_directory``); a process killed
mid-swap leaves the old or the new complete checkpoint, or the old one renamed aside, which ``find_checkpoint``
puts back. Here a subprocess saves checkpoints in a loop (a small model, the real ``save_checkpoint``) and is
killed with SIGKILL at random moments, and separately at each step of the swap; after every kill the
checkpoint directory must load, with the weights of one complete save.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from clamr_frames._fs import recover_directory  # noqa: E402
from clamr_frames.train.checkpoints import (  # noqa: E402
    CHECKPOINTS,
    OPTIMIZER,
    SCHEDULER,
    STATE,
    TRAINABLE,
    find_checkpoint,
)

ROOT = Path(__file__).resolve().parents[2]
STEP = "step-00000001"

# The writer: the real save_checkpoint / save_final on a 1024x1024 linear layer with AdamW state (about 12 MB a
# checkpoint), every tensor filled with the save's counter, so a torn checkpoint shows as mixed counters.
WRITER = textwrap.dedent('''
    import json, os, shutil, sys
    from pathlib import Path
    import torch
    from safetensors.torch import save_file
    from clamr_frames.train.checkpoints import save_checkpoint, save_final

    out, start, crash = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if crash != "none":  # die (as a kill would) at one step of the directory swap
        what, n = crash.split(":")
        calls = {"n": 0}
        real = {"replace": os.replace, "rmtree": shutil.rmtree}
        def hook(*a, **k):
            calls["n"] += 1
            if what == "rmtree" and ".old-" not in str(a[0]):
                return real["rmtree"](*a, **k)
            if calls["n"] == int(n):
                os._exit(9)
            return real[what](*a, **k)
        if what == "replace":
            os.replace = hook
        else:
            shutil.rmtree = hook

    class Acc:  # one process
        is_main_process, num_processes, process_index = True, 1, 0
        def wait_for_everyone(self):
            pass

    model = torch.nn.Linear(1024, 1024)
    loss_fn = torch.nn.Module()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 1024)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)

    def fill(i):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(i)
            for st in opt.state.values():
                st["exp_avg"].fill_(i)

    def write_final(folder, i):
        save_file({"weight": model.weight.detach().contiguous()}, str(folder / "model.safetensors"))
        (folder / "meta.json").write_text(json.dumps({"i": i}))

    i = start
    print("ready", flush=True)
    while True:
        fill(i)
        state = {"global_step": i, "epoch": 0, "batch_in_epoch": 0}
        save_checkpoint(out / "checkpoints" / "step-00000001", model=model, loss_fn=loss_fn, optimizer=opt,
                        scheduler=sched, state=state, accelerator=Acc())
        save_final(out / "final", lambda folder: write_final(folder, i))
        print(i, flush=True)
        i += 1
''')


def _writer(out: Path, start: int, crash: str = "none") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = out.parent / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(out), str(start), crash], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def _check_loadable(out: Path) -> tuple[int, int]:
    """Recover, then load the checkpoint and the final model; each must hold one save's counter throughout.
    Returns (checkpoint counter, final counter)."""
    from safetensors.torch import load_file

    ckpt = find_checkpoint(out)
    assert ckpt is not None and ckpt.name == STEP, sorted(p.name for p in (out / CHECKPOINTS).iterdir())
    i = json.loads((ckpt / STATE).read_text())["global_step"]
    weights = load_file(str(ckpt / TRAINABLE))
    assert set(weights) == {"model.weight", "model.bias"}
    assert all(bool((t == i).all()) for t in weights.values()), f"checkpoint {i} holds weights of another save"
    opt = torch.load(ckpt / OPTIMIZER, map_location="cpu", weights_only=True)
    assert all(bool((s["exp_avg"] == i).all()) for s in opt["state"].values())
    torch.load(ckpt / SCHEDULER, map_location="cpu", weights_only=True)
    # nothing but the checkpoint is left beside it once recovered
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == [STEP]

    final = out / "final"
    assert recover_directory(final)
    j = json.loads((final / "meta.json").read_text())["i"]
    assert bool((load_file(str(final / "model.safetensors"))["weight"] == j).all())
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".final")) == []
    return i, j


def _first_save(out: Path) -> None:
    """Run the writer until one checkpoint and one final model are complete, then stop it."""
    proc = _writer(out, start=1)
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "1"
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory):
    """A run folder holding one complete checkpoint and final model (counter 1)."""
    out = tmp_path_factory.mktemp("saved") / "run"
    _first_save(out)
    assert _check_loadable(out) == (1, 1)
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_loadable_checkpoint(saved_once, tmp_path):
    out = _copy(saved_once, tmp_path)
    rng = random.Random(0)
    prev, start, mid_write = (1, 1), 100, 0
    for _ in range(5):
        proc = _writer(out, start=start)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))  # a save takes tens to hundreds of ms: most kills land mid-write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        mid_write += any(p.name.startswith(".") for p in (out / CHECKPOINTS).iterdir())
        i, j = _check_loadable(out)
        # the counters of complete saves only: the previous run's last, or one of this run's
        assert i == prev[0] or i >= start, (i, prev, start)
        assert j == prev[1] or j >= start, (j, prev, start)
        prev, start = (i, j), start + 100
    print(f"{mid_write} of 5 kills left an unfinished checkpoint write behind")


@pytest.mark.slow
@pytest.mark.parametrize("crash", [
    "replace:1",  # the checkpoint's old copy is about to be renamed aside: the old one stays
    "replace:2",  # the old copy is aside, the new one not yet in place: recovery puts the old one back
    "replace:4",  # the checkpoint is done; the final model's old copy is aside, the new one not yet in place
    "rmtree:1",   # both swapped, the old copy not yet deleted: the new one is used, the aside copy removed
])
def test_kill_at_each_step_of_the_swap(saved_once, tmp_path, crash):
    out = _copy(saved_once, tmp_path)
    proc = _writer(out, start=2, crash=crash)
    proc.wait(timeout=120)
    assert proc.returncode == 9, "the writer did not reach the crash point"
    leftovers = [p.name for p in (out / CHECKPOINTS).iterdir() if p.name != STEP] + \
        [p.name for p in out.iterdir() if p.name.startswith(".final")]
    if crash != "replace:1":
        assert leftovers, "the crash point left nothing to recover: the test no longer exercises the swap"
    i, j = _check_loadable(out)
    expected = {"replace:1": (1, 1), "replace:2": (1, 1), "replace:4": (2, 1), "rmtree:1": (2, 1)}[crash]
    assert (i, j) == expected


def test_write_jsonl_and_stamp_are_atomic(tmp_path, monkeypatch):
    """Two writers of one JSONL never share a temporary file, and a failed write leaves the old file whole."""
    from clamr_frames.train import data

    ex = data.Example(video=tmp_path / "v.mp4", queries=("q",), query_type="asr", positives=((1.0, 2.0),))
    target = tmp_path / "examples.jsonl"
    data.write_jsonl([ex], target)
    before = target.read_bytes()

    class Boom(Exception):
        pass

    def broken():
        yield ex
        raise Boom

    with pytest.raises(Boom):
        data.write_jsonl(broken(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples.jsonl"]  # no temporary file left behind
