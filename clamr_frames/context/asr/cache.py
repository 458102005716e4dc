"""Transcripts on disk: one JSON file per (video content fingerprint, transcriber cache key), kept by the
:class:`~clamr_frames.keyed_store.KeyedJsonStore` every context cache uses; :func:`cached_transcribe` transcribes
through it (once per video, resumable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from clamr_frames._fs import default_cache_dir, video_fingerprint
from clamr_frames.context.asr.settings import AsrSettings
from clamr_frames.context.asr.transcriber import WhisperTranscriber, get_transcriber
from clamr_frames.context.asr.transcripts import Transcript, TranscriptState
from clamr_frames.keyed_store import KeyedJsonStore

CACHE_FORMAT = "clamr-frames/transcript"
CACHE_VERSION = 1


class TranscriptCache:
    """Transcripts on disk, one JSON file per (video content fingerprint, transcriber cache key).

    The file name is a sha256 of both, so no key can name a path outside ``directory``. A file holds a
    :class:`TranscriptState`; a partial one (an interrupted transcription) is resumed from its last block.
    Writes are atomic (temporary file + rename); :meth:`lock` serialises processes working on one video.
    An unreadable or foreign file gives a warning and is treated as absent.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.store = KeyedJsonStore(directory if directory is not None else default_cache_dir() / "asr",
                                    format=CACHE_FORMAT, version=CACHE_VERSION, what="transcript cache",
                                    naming="hashed", on_unreadable="transcribing again")

    @property
    def directory(self) -> Path:
        return self.store.directory

    def path_for(self, fingerprint: str, key: str) -> Path:
        return self.store.path_for((fingerprint, key))

    def lock(self, fingerprint: str, key: str) -> Any:
        return self.store.lock((fingerprint, key))

    def load(self, fingerprint: str, key: str) -> TranscriptState | None:
        return self.store.load((fingerprint, key), lambda data: TranscriptState.from_json(data["state"]),
                               match={"fingerprint": fingerprint, "key": key})

    def save(self, fingerprint: str, key: str, state: TranscriptState, *, video: str = "") -> None:
        self.store.save((fingerprint, key), {"fingerprint": fingerprint, "key": key, "video": video,
                                             "state": state.to_json()})


def cached_transcribe(
    path: str | Path,
    settings: AsrSettings | None = None,
    *,
    cache: TranscriptCache | str | Path | None = None,
    transcriber: WhisperTranscriber | None = None,
    progress: bool = True,
    on_block: Callable[[TranscriptState], None] | None = None,
) -> Transcript:
    """:func:`transcribe` through a :class:`TranscriptCache` (default: ``<cache root>/asr``).

    The first call on a video transcribes it, saving after every block; later calls (any process) read the
    file. An interrupted transcription resumes from its last saved block. ``on_block`` is called with the state
    after each block is saved (and once with a resumed state's cues before the first new block).
    """
    transcriber = transcriber or get_transcriber(settings)
    if not isinstance(cache, TranscriptCache):
        cache = TranscriptCache(cache)
    path = Path(path)
    if not path.is_file():
        from clamr_frames.errors import VideoError

        raise VideoError(path, "no such file" if not path.exists() else "not a file")
    fingerprint = video_fingerprint(path)
    key = transcriber.cache_key()
    with cache.lock(fingerprint, key):
        state = cache.load(fingerprint, key)
        if state is not None and state.complete:
            return state.transcript(str(path), transcriber.model_id)
        state = state or TranscriptState()
        if on_block is not None and state.cues:
            on_block(state)

        def saved(st: TranscriptState) -> None:
            cache.save(fingerprint, key, st, video=str(path))
            if on_block is not None:
                on_block(st)

        result = transcriber.transcribe(path, state=state, progress=progress, on_block=saved)
        cache.save(fingerprint, key, state, video=str(path))
        return result


__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "TranscriptCache", "cached_transcribe"]
