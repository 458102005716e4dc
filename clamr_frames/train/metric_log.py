"""Training metrics: one JSON object per line in ``output_dir/log.jsonl``, the ``clamr_frames.train`` logger
(and, with ``log_stdout``, stdout without breaking the tqdm bar), and TensorBoard when it is installed."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("clamr_frames.train")


class MetricLog:
    """Where a run's metric records go (only the main process writes; see the module docstring)."""

    def __init__(self, output_dir: Path, enabled: bool, stdout: bool):
        self.enabled = enabled
        self.path = output_dir / "log.jsonl"
        self.tb = None
        self.handler = None
        if not enabled:
            return
        if stdout and not any(getattr(h, "_clamr_train", False) for h in logger.handlers):
            self.handler = _TqdmHandler()
            self.handler._clamr_train = True  # type: ignore[attr-defined]
            logger.addHandler(self.handler)
            self._old_propagate = logger.propagate
            logger.propagate = False  # printed here already: not a second time by a root handler
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                self._old_level = logger.level
                logger.setLevel(logging.INFO)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(output_dir / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tb = None

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        step = record.get("step", 0)
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in record.items() if k not in ("time",))
        logger.info(shown)
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "time"):
                    self.tb.add_scalar(f"{record.get('event', 'train')}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.handler is not None:
            logger.removeHandler(self.handler)
            logger.propagate = self._old_propagate
            if hasattr(self, "_old_level"):
                logger.setLevel(self._old_level)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class _TqdmHandler(logging.Handler):
    """Writes log lines to stdout without breaking a tqdm bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stdout)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)
