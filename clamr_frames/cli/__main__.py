"""``python -m clamr_frames.cli``: the command line (same as ``clamr-frames``)."""

from clamr_frames.cli import main

if __name__ == "__main__":  # pragma: no cover - run as a module
    raise SystemExit(main())
