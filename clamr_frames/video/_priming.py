"""Priming a fresh decoder before its first seek: what some encoders write only once, at the start of the stream."""

from __future__ import annotations

import logging

from clamr_frames.video._ffmpeg import ffmpeg_reason

log = logging.getLogger(__name__)


def prime_decoder(container, stream, path: str) -> None:
    """Decode the stream's first packet (output discarded) before a fresh decoder's first seek.

    Some encoders write, once and at the start of the stream only, what a decoder needs to decode later
    frames right. x264 writes its version in an SEI message of the first access unit, and FFmpeg's H.264
    decoder needs it to reproduce a bug of x264 before r151 (unfiltered 8x8 intra prediction in lossless
    macroblocks of High 4:4:4 Predictive streams): without it, tests/data/video/cockatoo.mp4 (x264 core 142,
    ``qpmin=0``) decodes from its second or third IDR frame into garbled, mostly green pictures, though every
    GOP starts with an intact IDR frame. Xvid and DivX write their build in MPEG-4 Part 2 user data the same
    way. A decoder that starts at a later key frame never sees it; the seek after this flushes the decoder's
    pictures but not what it learned.
    Costs one picture's decode per opened file.
    """
    import av

    try:
        for packet in container.demux(stream):
            if packet.size:
                packet.decode()
                return
    except av.error.FFmpegError as e:  # type: ignore[attr-defined]
        log.debug("%s: the first packet does not decode (%s)", path, ffmpeg_reason(e))
