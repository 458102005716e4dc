"""Reports: see why frames were picked, as one self-contained HTML page per selection.

- :func:`page_data` turns a selection (plain data: ``Selection.to_dict()`` plus the scores of every candidate,
  the picked frames' pixels, the transcript) into the JSON a page renders;
- :func:`write_page` / :func:`write_index` write self-contained HTML files (inline CSS, JavaScript and base64
  JPEG thumbnails; the video is linked by a relative path);
- :mod:`clamr_frames.report.view` renders a whole selections file (``clamr-frames view``);
- :mod:`clamr_frames.report.app` is the local web app (``clamr-frames serve``, the ``ui`` extra).

This package sits after ``select`` in the data flow and never imports :mod:`clamr_frames.selector`:
``Selection.to_html`` imports it and hands it plain data.
"""

from clamr_frames.report.html import render_index, render_page, write_index, write_page
from clamr_frames.report.page import index_row, modality_shares, page_data, thumb_uri

__all__ = ["index_row", "modality_shares", "page_data", "render_index", "render_page", "thumb_uri", "write_index",
           "write_page"]
