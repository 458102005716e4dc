"""Test-support toolkit shared by tests/ and benchmarks/ (not shipped in the wheel).

Media factories (coded test videos, tones, damaged files), tiny random models built on the fly (Qwen2.5-VL,
CLIP / LanguageBind) and the ``require_extra`` guard live here, so the tests and the benchmark scripts import
them as ``testkit.*`` without editing ``sys.path`` (pytest puts the repository root on the path through
``pythonpath`` in pyproject; ``python -m benchmarks.X`` runs from the root).
"""
