"""lmms-eval adapter, tasks and answerers for clamr-frames (see the lmms-eval issue; requires the `eval` extra)."""
