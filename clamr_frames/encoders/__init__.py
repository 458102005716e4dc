"""Encoders: queries and documents (a frame and its OCR / ASR text context) → token embeddings."""

from clamr_frames.encoders.base import DocEmbeddings, Document, Encoder
from clamr_frames.encoders.clamr import ClamrEncoder, ClamrSettings
from clamr_frames.encoders.query import build_query

__all__ = ["ClamrEncoder", "ClamrSettings", "DocEmbeddings", "Document", "Encoder", "build_query"]
