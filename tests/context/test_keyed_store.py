"""The keyed, locked, versioned, atomic JSON store (clamr_frames.keyed_store) and the two context caches on it:
concurrent writers merge, a file of another version or key is rebuilt, keys cannot leave the directory, a failed
write leaves the old file, and files written by the caches before they shared the store still read."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
import warnings

import pytest

from clamr_frames.context.asr import TranscriptCache, TranscriptState
from clamr_frames.context.ocr import OcrCache
from clamr_frames.context.subtitles import Cue
from clamr_frames.errors import IndexCacheError, InputError
from clamr_frames.keyed_store import KeyedJsonStore


def _store(directory, naming="hashed", version=1):
    return KeyedJsonStore(directory, format="test/notes", version=version, what="notes cache", naming=naming,
                          on_unreadable="it is rebuilt")


def _texts(record):
    texts = record["texts"]
    if not isinstance(texts, dict):
        raise ValueError("malformed texts")
    return texts


def _add(directory, naming, key, entries):
    store = _store(directory, naming)
    for k, v in entries:
        store.update(key, _texts, lambda cur, k=k, v=v: {"texts": {**(cur or {}), k: v}})


@pytest.mark.parametrize("naming", ["hashed", "readable"])
def test_concurrent_threads_merge_instead_of_losing_entries(tmp_path, naming):
    key = ("fp", "settings")
    threads = [threading.Thread(target=_add, args=(tmp_path, naming, key, [(f"{w}.{i}", "x") for i in range(15)]))
               for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = _store(tmp_path, naming).load(key, _texts)
    assert sorted(texts) == sorted(f"{w}.{i}" for w in range(4) for i in range(15))


def test_concurrent_processes_merge_instead_of_losing_entries(tmp_path):
    key = ("fp", "settings")
    ctx = multiprocessing.get_context("fork")  # separate processes: only the file lock orders them
    procs = [ctx.Process(target=_add, args=(tmp_path, "readable", key, [(f"{w}.{i}", str(w)) for i in range(10)]))
             for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    texts = _store(tmp_path, "readable").load(key, _texts)
    assert len(texts) == 30 and all(texts[f"{w}.{i}"] == str(w) for w in range(3) for i in range(10))
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_another_version_or_key_is_foreign_and_rebuilt(tmp_path):
    key = ("fp", "s")
    old = _store(tmp_path, version=1)
    old.save(key, {"fingerprint": "fp", "texts": {"a": "1"}})
    new = _store(tmp_path, version=2)
    with pytest.warns(UserWarning, match="unreadable notes cache file .*of this version.*it is rebuilt"):
        assert new.load(key, _texts) is None
    with pytest.warns(UserWarning):  # the update sees nothing usable and writes the new version
        new.update(key, _texts, lambda cur: {"fingerprint": "fp", "texts": {**(cur or {}), "b": "2"}})
    data = json.loads(new.path_for(key).read_text())
    assert (data["format"], data["version"], data["texts"]) == ("test/notes", 2, {"b": "2"})
    # a file copied under another key's name is foreign; a field that only dates it is silently outdated
    new.path_for(("other", "s")).write_bytes(new.path_for(key).read_bytes())
    with pytest.warns(UserWarning, match="another video or settings"):
        assert new.load(("other", "s"), _texts, match={"fingerprint": "other"}) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert new.load(key, _texts, current={"rules": 3}) is None
        assert new.load(key, _texts, match={"fingerprint": "fp"}) == {"b": "2"}
    new.path_for(key).write_text("{ torn")
    with pytest.warns(UserWarning, match="unreadable notes cache"):
        assert new.load(key, _texts) is None


@pytest.mark.parametrize("naming", ["hashed", "readable"])
@pytest.mark.parametrize("part", ["../../escape", "/etc/passwd", "..", ".", "a/b\\c", "x" * 500, "nul\x00b", "~/h"])
def test_keys_cannot_leave_the_directory(tmp_path, naming, part):
    root = tmp_path / "store"
    store = _store(root, naming)
    for key in ((part, "s"), ("fp", part), (part, part)):
        path = store.path_for(key)
        assert path.parent == root and path.name.endswith(".json") and not path.name.startswith(".")
        assert len(path.name) < 200
        store.save(key, {"texts": {"t": part}})
        assert store.load(key, _texts) == {"t": part}
    assert {p.parent for p in tmp_path.rglob("*.json")} == {root}


def test_bad_keys_are_refused(tmp_path):
    store = _store(tmp_path)
    for key in ((), ("",), (None, "s"), ("fp", 3)):
        with pytest.raises(InputError, match="notes cache"):
            store.path_for(key)
    with pytest.raises(InputError, match="naming"):
        KeyedJsonStore(tmp_path, format="f", version=1, what="w", naming="plain")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    import clamr_frames._fs as fs

    store = _store(tmp_path)
    store.save(("fp",), {"texts": {"a": "old"}})
    before = store.path_for(("fp",)).read_bytes()

    def no_replace(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(fs.os, "replace", no_replace)
    with pytest.raises(IndexCacheError, match="notes cache directory cannot be created or written"):
        store.save(("fp",), {"texts": {"a": "new"}})
    monkeypatch.undo()
    assert store.path_for(("fp",)).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [store.path_for(("fp",)).name]


def test_an_unusable_directory_is_an_index_cache_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(IndexCacheError, match="notes cache directory cannot be created"):
        _store(blocker / "sub").save(("fp",), {"texts": {}})
    with pytest.raises(IndexCacheError, match="notes cache directory cannot be created"):
        _store(blocker / "sub").update(("fp",), _texts, lambda cur: {"texts": {}})


# -- the caches keep their on-disk format -----------------------------------------------------------------------
def test_ocr_cache_files_written_before_the_store_still_read(tmp_path):
    from clamr_frames.video import FRAME_RULES

    # what OcrCache wrote before it was built on the store: readable names, these fields in this order
    blob = {"format": "clamr-frames/ocr-cache", "version": 1, "fingerprint": "abc", "engine": "e/1",
            "frames": FRAME_RULES, "texts": {"0.000": "EXIT", "1.500": "ROOF"}}
    name = "abc__e_1-" + hashlib.sha256(b"e/1").hexdigest()[:16] + ".json"
    (tmp_path / name).write_text(json.dumps(blob, ensure_ascii=False), encoding="utf-8")
    cache = OcrCache(tmp_path)
    assert cache.path_for("abc", engine="e/1").name == name
    assert cache.get_many("abc", [0.0, 1.5, 2.0], engine="e/1") == ["EXIT", "ROOF", None]
    cache.put("abc", 2.0, "NEW", engine="e/1")
    assert json.loads((tmp_path / name).read_text()) == {**blob, "texts": {**blob["texts"], "2.000": "NEW"}}


def test_transcript_cache_files_written_before_the_store_still_read(tmp_path):
    state = TranscriptState(cues=[Cue(0.0, 1.5, "hello there")], done_until=2.0, duration=2.0, complete=True)
    blob = {"format": "clamr-frames/transcript", "version": 1, "fingerprint": "fp", "key": "k",
            "video": "talk.mp4", "state": state.to_json()}
    name = hashlib.sha256(b"fp\0k").hexdigest()[:40] + ".json"
    (tmp_path / name).write_text(json.dumps(blob, ensure_ascii=False), encoding="utf-8")
    cache = TranscriptCache(tmp_path)
    assert cache.path_for("fp", "k").name == name
    assert cache.load("fp", "k").cues == state.cues
    cache.save("fp", "k", state, video="talk.mp4")
    assert (tmp_path / name).read_text(encoding="utf-8") == json.dumps(blob, ensure_ascii=False)
    with cache.lock("fp", "k"):
        assert (tmp_path / (name + ".lock")).exists()
    blob["version"] = 2
    (tmp_path / name).write_text(json.dumps(blob))
    with pytest.warns(UserWarning, match="unreadable transcript cache file.*transcribing again"):
        assert cache.load("fp", "k") is None
