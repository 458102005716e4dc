"""Index: per-video document embeddings on disk, built once and reused by every question."""

from clamr_frames.index.builder import IndexSettings, build_index
from clamr_frames.index.store import (
    CACHE_ENV,
    IndexStore,
    VideoIndex,
    default_cache_dir,
    video_fingerprint,
)

__all__ = [
    "CACHE_ENV",
    "IndexSettings",
    "IndexStore",
    "VideoIndex",
    "build_index",
    "default_cache_dir",
    "video_fingerprint",
]
