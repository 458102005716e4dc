"""lmms-eval task files for clamr-frames: pass this folder to ``--include_path`` (see ``utils`` for the functions)."""
