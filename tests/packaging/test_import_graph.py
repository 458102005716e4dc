"""The import graph of clamr_frames/ and qa_harness/ (testkit/import_graph.py): no import circle, no import from a
lower floor of the pipeline to a higher one, and the checker itself on a small package written here."""

from __future__ import annotations

import textwrap

import pytest

from testkit import import_graph as ig

def test_no_import_circles():
    r = ig.analyse()
    assert r["circles"] == [], r["circles"]


def test_no_import_from_a_lower_floor_to_a_higher_one():
    r = ig.analyse()
    assert r["stage_violations"] == [], r["stage_violations"]


def test_every_module_has_a_floor():
    assert ig.analyse()["unplaced"] == []


def test_following_the_video_climbs_back_up_at_most_three_times():
    r = ig.analyse()
    assert r["video_trace"] and r["video_trace"][0].startswith("clamr_frames.selector.FrameSelector.select")
    assert r["climbs_back_up"] <= 3, "\n".join(r["video_trace"])


# -- the checker on a package written here ------------------------------------------------------------------
def _write(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_checker_finds_circles_through_function_imports_and_floor_violations(tmp_path):
    _write(tmp_path, {
        "clamr_frames/__init__.py": "",
        "clamr_frames/errors.py": "",
        "clamr_frames/video/__init__.py": "from .reader import VideoReader\n",
        "clamr_frames/video/reader.py": """
            from clamr_frames.errors import *

            class VideoReader:
                def __init__(self, path):
                    from clamr_frames.index import store  # a lower floor reaching up, inside a function
        """,
        "clamr_frames/index/__init__.py": "",
        "clamr_frames/index/store.py": "from ..video import reader\n",
        "clamr_frames/select/__init__.py": "",
        "clamr_frames/select/a.py": "def f():\n    from . import b\n",
        "clamr_frames/select/b.py": "from clamr_frames.select.a import f\n",
        "clamr_frames/selector.py": """
            from clamr_frames.video import VideoReader
            from clamr_frames.index import store

            class FrameSelector:
                def select(self, video, question):
                    return self._index(str(video))

                def _index(self, path):
                    VideoReader(path)
                    store.build(path)
        """,
    })
    mods = ig.discover(tmp_path)
    graph = ig.build_graph(mods)
    assert graph["clamr_frames.video"] == {"clamr_frames.video.reader"}  # relative import resolved
    assert "clamr_frames.index.store" in graph["clamr_frames.video.reader"]
    assert ig.circles(graph) == [["clamr_frames.index.store", "clamr_frames.video.reader"],
                                 ["clamr_frames.select.a", "clamr_frames.select.b"]]
    assert ig.violations(graph) == [("clamr_frames.video.reader", "clamr_frames.index.store")]
    trace = ig.follow_video(mods)
    assert trace == [("clamr_frames.selector", "FrameSelector.select"), ("clamr_frames.selector", "FrameSelector._index"),
                     ("clamr_frames.video.reader", "VideoReader.__init__")]  # store.build is not a function here
    assert ig.climbs(trace) == 0
    assert ig.climbs([("clamr_frames.index.store", "f"), ("clamr_frames.video.reader", "g"),
                      ("clamr_frames.index.store", "h"), ("clamr_frames.errors", "E"),
                      ("clamr_frames.index.store", "k")]) == 1  # base modules are left out
