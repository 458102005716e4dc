"""lmms-eval task files for clamr-frames: pass this folder to ``--include_path`` (see ``utils`` for the functions).

:data:`TASK_DIR` is the folder wherever the package is installed (a source checkout or a wheel), e.g.
``--include_path "$(python -c 'import qa_harness.tasks as t; print(t.TASK_DIR)')"``.
"""

from pathlib import Path

#: The folder holding the task YAMLs (what ``--include_path`` / ``TaskManager(include_path=...)`` takes).
TASK_DIR = Path(__file__).resolve().parent

__all__ = ["TASK_DIR"]
