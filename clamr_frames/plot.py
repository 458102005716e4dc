"""Score-timeline plot: per-candidate scores over time, the picked frames marked, their thumbnails below.

With the video's visual prior (``Selection.prior``), the shots are shaded as alternating bands behind the
scores and the novelty curve is drawn in its own panel under them, on the same time axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.selector import Selection


def plot_timeline(
    selection: "Selection",
    path: str | Path,
    *,
    spans: Sequence[tuple[float, float]] = (),
    max_thumbnails: int = 12,
    title: str | None = None,
) -> Path:
    """Write a PNG of ``selection``'s scores over time.

    Args:
        spans: ground-truth time spans to shade (e.g. a synthetic needle), in seconds.
        max_thumbnails: at most this many picked frames are shown as thumbnails (evenly chosen).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = selection.frames
    show = list(range(len(frames)))
    if len(show) > max_thumbnails:
        show = [int(round(x)) for x in np.linspace(0, len(show) - 1, max_thumbnails)]
    n_thumb = max(1, len(show))
    prior = selection.prior
    if prior is not None and len(prior) != len(selection.all_scores):
        prior = None
    if prior is None:
        fig = plt.figure(figsize=(max(10.0, 1.3 * n_thumb), 5.2))
        grid = fig.add_gridspec(2, n_thumb, height_ratios=[2.3, 1.0], hspace=0.35)
    else:
        fig = plt.figure(figsize=(max(10.0, 1.3 * n_thumb), 6.6))
        grid = fig.add_gridspec(3, n_thumb, height_ratios=[2.3, 0.9, 1.0], hspace=0.45)
    ax = fig.add_subplot(grid[0, :])
    ts, sc = selection.all_timestamps, selection.all_scores
    if prior is not None:
        _shot_bands(ax, ts, prior)
    ax.plot(ts / 60.0, sc, lw=0.8, color="#4a6fa5", label="frame score")
    for s, e in spans:
        ax.axvspan(s / 60.0, e / 60.0, color="#f2b134", alpha=0.35, lw=0)
    ax.scatter(selection.timestamps / 60.0, selection.scores, color="#d1495b", zorder=3, s=18, label="picked")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("score")
    ax.set_xlim(0, max(float(ts[-1]) / 60.0, 1e-3) if len(ts) else 1)
    ax.set_title(title or _short(selection.question, 110), fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    if spans:
        from matplotlib.patches import Patch

        handles.append(Patch(color="#f2b134", alpha=0.35))
        labels.append("ground truth")
    ax.legend(handles, labels, loc="upper right", fontsize=8)
    if prior is not None:
        nax = fig.add_subplot(grid[1, :], sharex=ax)
        _shot_bands(nax, ts, prior)
        nax.plot(ts / 60.0, prior.novelty, lw=0.8, color="#2e8b57")
        for t in selection.timestamps:
            nax.axvline(t / 60.0, color="#d1495b", lw=0.6, alpha=0.7)
        nax.set_ylabel("novelty", fontsize=8)
        nax.set_xlabel("time (min)")
        ax.set_xlabel("")
        nax.set_title(f"visual prior: {prior.num_shots} shots (bands), novelty within the shot; red: picked",
                      fontsize=8)
        nax.tick_params(labelsize=7)
    for col, j in enumerate(show):
        tax = fig.add_subplot(grid[-1, col])
        tax.axis("off")
        if j < len(frames) and frames[j] is not None:
            tax.imshow(frames[j])
            tax.set_title(f"{selection.timestamps[j] / 60.0:.2f} min", fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _shot_bands(ax, ts, prior) -> None:
    """Shade every other shot, so that the shots show as alternating bands."""
    bounds = prior.shot_bounds
    step = float(ts[1] - ts[0]) if len(ts) > 1 else 1.0
    for s in range(0, len(bounds) - 1, 2):
        start = ts[bounds[s]]
        end = ts[bounds[s + 1]] if bounds[s + 1] < len(ts) else ts[-1] + step
        ax.axvspan(start / 60.0, end / 60.0, color="#8a8a8a", alpha=0.12, lw=0)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
