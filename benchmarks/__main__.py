"""``python -m benchmarks``: the stage-by-stage benchmark (benchmarks/stages.py); ``--help`` for its options.

``python -m benchmarks scaleout``: indexing with N worker processes vs one (benchmarks/stages.py).

The other benchmarks run as scripts: ``python benchmarks/{compress,maxsim,decode,conformance,ocr,quality,latency,gpu}.py``.
"""

import sys

from benchmarks.stages import main, scaleout_main

if __name__ == "__main__":
    if sys.argv[1:2] == ["scaleout"]:
        scaleout_main(sys.argv[2:])
    else:
        main()
