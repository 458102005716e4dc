"""``python -m benchmarks``: the stage-by-stage benchmark (benchmarks/stages.py); ``--help`` for its options.

The other benchmarks run as scripts: ``python benchmarks/{compress,maxsim,decode,ocr,quality,latency,gpu}.py``.
"""

from benchmarks.stages import main

if __name__ == "__main__":
    main()
