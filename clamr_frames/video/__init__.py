"""Video decoding: candidate frames with container timestamps, streamed in chunks (decord or PyAV).

See :mod:`clamr_frames.video.reader` for the sampling rules, the backends and how damaged files are handled.
"""

from clamr_frames.video.reader import FrameChunk, VideoMetadata, VideoReader, probe
from clamr_frames.video.writer import write_video

__all__ = ["FrameChunk", "VideoMetadata", "VideoReader", "probe", "write_video"]
