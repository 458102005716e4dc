"""``python -m benchmarks``: the stage-by-stage benchmark (benchmarks/stages.py); ``--help`` for its options.

``python -m benchmarks scaleout``: corpus indexing on Ray with 1 vs N encoder workers (benchmarks/scaleout.py).

The other benchmarks run as modules from the repository root: ``python -m benchmarks.{compress,maxsim,decode,conformance,ocr,quality,latency,gpu}``.
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["scaleout"]:
        from benchmarks.scaleout import main as scaleout_main

        scaleout_main(sys.argv[2:])
    else:
        from benchmarks.stages import main

        main()
