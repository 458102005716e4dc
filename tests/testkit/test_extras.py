"""testkit.extras.require_extra: skips with a reason naming the extra, fails where extras are required."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from testkit import extras

ROOT = Path(__file__).resolve().parents[2]


def _run(env_extra: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """A one-test pytest run in a fresh process whose extra 'eval' needs a module that does not exist."""
    test = tmp_path / "test_needs_missing.py"
    test.write_text(textwrap.dedent("""
        from testkit import extras
        extras.EXTRAS["eval"] = ("clamr_frames_no_such_module",)

        def test_it():
            extras.require_extra("eval")
    """))
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "CLAMR_REQUIRE_EXTRAS", "CLAMR_REQUIRE_EVAL", "CLAMR_REQUIRE_RAY")}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--rootdir",
                           str(tmp_path), str(test)], capture_output=True, text=True, env=env, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("env, outcome", [({}, "1 skipped"), ({"CI": "true"}, "1 failed")])
def test_missing_extra_skips_or_fails(env, outcome, tmp_path):
    r = _run(env, tmp_path)
    assert outcome in r.stdout, r.stdout + r.stderr
    assert "needs the 'eval' extra: clamr_frames_no_such_module is not importable" in r.stdout
    assert "pip install 'clamr-frames[eval]'" in r.stdout


@pytest.mark.parametrize("env, required", [({}, False), ({"CI": "true"}, True), ({"CI": "false"}, False),
                                           ({"CLAMR_REQUIRE_EXTRAS": "1"}, True), ({"CLAMR_REQUIRE_EVAL": "1"}, True),
                                           ({"CLAMR_REQUIRE_RAY": "1"}, False)])
def test_where_extras_are_required(env, required, monkeypatch):
    for k in ("CI", "CLAMR_REQUIRE_EXTRAS", "CLAMR_REQUIRE_EVAL", "CLAMR_REQUIRE_RAY"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert extras.extras_required("eval") is required
    assert extras.extras_required("distributed") is (required and "CLAMR_REQUIRE_EVAL" not in env
                                                     or "CLAMR_REQUIRE_RAY" in env)


def test_present_extra_returns_its_module(monkeypatch):
    monkeypatch.setitem(extras.EXTRAS, "eval", ("json", "os"))
    import json

    assert extras.require_extra("eval") is json


def test_unknown_extra_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown extra 'evl'"):
        extras.require_extra("evl")
