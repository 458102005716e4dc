"""``clamr-frames serve``: a local web app over a folder of videos (the ``ui`` extra: Starlette + uvicorn).

One static page (the report's own renderer plus a small form) and a JSON API:

- ``GET /api/videos``: the folder's videos with their indexing state and progress;
- ``POST /api/index`` ``{"video"}``: index a video in the background (progress per video in ``/api/videos``);
- ``POST /api/select`` ``{"video", "question", "k", "scorer", "policy", "options"}``: the report data of a
  selection (an indexed video answers from its cached index);
- ``GET /media/<path>``: the video itself (range requests, for seeking).

Every path from a request goes through :func:`~clamr_frames.report.paths.resolve_inside`: nothing outside the
served folder is read. The selector comes from the caller (``make_selector(scorer)``): this package never imports
:mod:`clamr_frames.selector`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from clamr_frames.errors import ClamrFramesError, InputError
from clamr_frames.report.html import asset
from clamr_frames.report.live import selection_extras, selection_page
from clamr_frames.report.paths import PathRefused, resolve_inside

#: Files the app lists as videos.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi")
#: Hosts that only this machine reaches.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class UiUnavailableError(ClamrFramesError):
    """The ``ui`` extra (Starlette, uvicorn) is not installed."""


def _require_ui() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UiUnavailableError(f"`serve` needs the 'ui' extra ({e.name} is missing): "
                                 "pip install 'clamr-frames[ui]'") from None


def subtitles_beside(video: Path) -> Path | None:
    """A subtitle file next to ``video`` with its stem (``talk.srt`` for ``talk.mp4``), the ASR context the app
    and ``select --subtitles`` give the same video."""
    for suffix in (".srt", ".vtt"):
        p = video.with_suffix(suffix)
        if p.is_file():
            return p
    return None


class VideoLibrary:
    """The served folder: its videos, one background indexing job per video, the selectors by scorer."""

    def __init__(self, folder: str | Path, make_selector: Callable[[str], Any], *, scorers: Sequence[str],
                 policies: Sequence[str]) -> None:
        self.root = Path(folder).resolve()
        if not self.root.is_dir():
            raise InputError(f"{folder}: not a folder")
        self.make_selector = make_selector
        self.scorers = list(scorers)
        self.policies = list(policies)
        self._selectors: dict[tuple[str, str], Any] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._guard = threading.Lock()

    def path(self, relative: str) -> Path:
        return resolve_inside(self.root, relative)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def selector(self, scorer: str, role: str) -> tuple[Any, threading.Lock]:
        """The selector for ``scorer`` (one for answering, one for background indexing: an hour being indexed
        does not hold up questions on indexed videos; the two share the on-disk index store and its locks)."""
        if scorer not in self.scorers:
            raise InputError(f"unknown scorer {scorer!r}; this app serves {', '.join(self.scorers)}")
        with self._guard:
            key = (scorer, role)
            if key not in self._selectors:
                self._selectors[key] = self.make_selector(scorer)
                self._locks[key] = threading.Lock()
            return self._selectors[key], self._locks[key]

    def videos(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.root.rglob("*")):
            if p.suffix.lower() not in VIDEO_SUFFIXES or not p.is_file():
                continue
            try:
                real = resolve_inside(self.root, self.relative(p))
            except (PathRefused, ValueError):
                continue  # a symlink out of the folder is not listed
            rel = self.relative(p)
            subs = subtitles_beside(real)
            out.append({"path": rel, "size": real.stat().st_size, "subtitles": subs.name if subs else None,
                        **self.job(rel)})
        return out

    def job(self, rel: str) -> dict[str, Any]:
        j = self._jobs.get(rel)
        if j is None:
            return {"state": "not indexed"}
        out = {k: v for k, v in j.items() if k != "stats"}
        stats = j.get("stats")
        if stats is not None and j["state"] == "indexing" and j.get("expected"):
            enc = stats.stages.get("encode")
            out["progress"] = min(1.0, (enc.done if enc else 0.0) / j["expected"])
        return out

    def start_index(self, rel: str, scorer: str) -> dict[str, Any]:
        video = self.path(rel)
        with self._guard:
            if self._jobs.get(rel, {}).get("state") == "indexing":
                return self.job(rel)
            from clamr_frames.index.pipeline import PipelineStats

            stats = PipelineStats()
            self._jobs[rel] = {"state": "indexing", "progress": 0.0, "stats": stats, "scorer": scorer,
                               "expected": None, "started": time.time()}
        threading.Thread(target=self._index, args=(rel, video, scorer, stats), daemon=True).start()
        return self.job(rel)

    def _index(self, rel: str, video: Path, scorer: str, stats: Any) -> None:
        job = self._jobs[rel]
        try:
            selector, lock = self.selector(scorer, "index")
            job["expected"] = _expected_candidates(video, selector)
            with lock:
                idx = selector.index(video, subtitles_beside(video), stats=stats)
            job.update(state="indexed", progress=1.0, candidates=idx.num_candidates,
                       seconds=round(time.time() - job["started"], 2))
        except ClamrFramesError as e:
            job.update(state="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - a background job reports what stopped it instead of dying silently
            job.update(state="failed", error=f"{type(e).__name__}: {e}")

    def select(self, body: dict[str, Any]) -> dict[str, Any]:
        rel = body.get("video")
        video = self.path(rel if isinstance(rel, str) else "")
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError("type a question")
        try:
            k = int(body.get("k", 16))
        except (TypeError, ValueError):
            raise InputError(f"k must be a whole number, got {body.get('k')!r}") from None
        policy = str(body["policy"]) if body.get("policy") else None  # none: the scorer's default
        scorer = str(body.get("scorer") or self.scorers[0])
        options = [str(o) for o in body.get("options") or [] if str(o).strip()] or None
        selector, lock = self.selector(scorer, "answer")
        subs = subtitles_beside(video)
        started = time.perf_counter()
        with lock:
            sel = selector.select(video, question, k=k, subtitles=subs, options=options, policy=policy)
            extras = selection_extras(selector, sel, subtitles=subs, options=options)
        seconds = time.perf_counter() - started
        data = selection_page(sel, self.root, options=options, video_url="/media/" + quote(self.relative(video)),
                              meta={"scorer": scorer, "k": len(sel.indices), "seconds": round(seconds, 3)}, **extras)
        data["video"]["name"] = self.relative(video)
        if self._jobs.get(self.relative(video), {}).get("state") != "indexing":
            self._jobs[self.relative(video)] = {"state": "indexed", "progress": 1.0,
                                                "candidates": len(sel.all_scores)}
        return data


def _expected_candidates(video: Path, selector: Any) -> int | None:
    """How many candidates the index will hold (for the progress bar): the sampling settings over the duration."""
    try:
        from clamr_frames.video import VideoReader

        with VideoReader(video) as reader:
            meta = reader.metadata
        s = getattr(selector, "settings", None)
        if s is not None and getattr(s, "num_frames", None):
            return int(s.num_frames)
        fps = getattr(s, "fps", 1.0) or 1.0
        return max(1, int(meta.duration * fps))
    except ClamrFramesError:
        return None


def create_app(folder: str | Path, make_selector: Callable[[str], Any], *, scorers: Sequence[str] = ("default",),
               policies: Sequence[str] = ("topk",)) -> Any:
    """The Starlette app serving ``folder`` (see the module doc)."""
    _require_ui()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.routing import Route

    lib = VideoLibrary(folder, make_selector, scorers=scorers, policies=policies)
    page = _app_page(lib.root.name)

    def refused(e: Exception, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": str(e)}, status_code=status)

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def config(request: Request) -> JSONResponse:
        return JSONResponse({"folder": lib.root.name, "scorers": lib.scorers, "policies": lib.policies})

    async def videos(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(lib.videos))

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise InputError("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        return body

    def posted(work: Callable[[dict[str, Any]], Awaitable[Any]]) -> Callable[[Request], Awaitable[JSONResponse]]:
        """A POST endpoint: its JSON body goes to ``work``; a refused path answers 403, other bad input 400."""

        async def endpoint(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await work(await body_of(request)))
            except PathRefused as e:
                return refused(e, 403)
            except ClamrFramesError as e:
                return refused(e)

        return endpoint

    async def index(body: dict[str, Any]) -> Any:
        rel = body.get("video")
        return lib.start_index(rel if isinstance(rel, str) else "", str(body.get("scorer") or lib.scorers[0]))

    async def select(body: dict[str, Any]) -> Any:
        return await run_in_threadpool(lib.select, body)

    async def media(request: Request) -> Any:
        try:
            path = lib.path(request.path_params["path"])
        except PathRefused as e:
            return refused(e, 403)
        if not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
            return refused(InputError(f"{request.path_params['path']}: no such video"), 404)
        return FileResponse(path)

    return Starlette(routes=[
        Route("/", home), Route("/api/config", config), Route("/api/videos", videos),
        Route("/api/index", posted(index), methods=["POST"]),
        Route("/api/select", posted(select), methods=["POST"]),
        Route("/media/{path:path}", media),
    ])


def _app_page(folder: str) -> str:
    from html import escape

    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
        f"<title>clamr-frames: {escape(folder)}</title><style>{asset('report.css')}{asset('app.css')}</style></head>"
        "<body><div id=\"app\"></div><div id=\"report\"></div>"
        f"<script>{asset('dom.js')}\n{asset('report.js')}\n{asset('app.js')}</script></body></html>\n"
    )


def serve(folder: str | Path, make_selector: Callable[[str], Any], *, host: str = "127.0.0.1", port: int = 8765,
          scorers: Sequence[str] = ("default",), policies: Sequence[str] = ("topk",)) -> None:
    """Run the app with uvicorn until interrupted."""
    app = create_app(folder, make_selector, scorers=scorers, policies=policies)
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
