"""Video decoding: candidate frames with container timestamps, streamed in chunks (decord or PyAV).

See :mod:`clamr_frames.video.reader` for the sampling rules, the backends and how damaged files are handled.
"""

from clamr_frames.video.reader import FrameChunk, VideoMetadata, VideoReader, probe
from clamr_frames.video.writer import write_video

#: The version of the rules that say which picture frame ``i`` is (display order of an in-order decode, edit
#: lists applied, pictures turned by their display matrix). Caches of per-frame results key on it.
FRAME_RULES = 2

__all__ = ["FRAME_RULES", "FrameChunk", "VideoMetadata", "VideoReader", "probe", "write_video"]
