"""``python -m benchmarks``: the stage-by-stage benchmark (benchmarks/stages.py); ``--help`` for its options.

``python -m benchmarks scaleout``: corpus indexing on Ray with 1 vs N encoder workers (benchmarks/scaleout.py).

``python -m benchmarks report [--check]``: regenerate benchmarks/RESULTS.md from the records in
benchmarks/results/ (``--check``: exit 1 when the file differs from what the records generate; writes nothing).

The other benchmarks run as modules from the repository root:
``python -m benchmarks.{compress,maxsim,decode,conformance,ocr,quality,latency,gpu,real_media,...}``.
"""

import argparse
import sys


def report_main(argv: list[str]) -> int:
    from benchmarks import records

    ap = argparse.ArgumentParser(prog="python -m benchmarks report", description="Regenerate RESULTS.md from the records.")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when RESULTS.md is out of date")
    args = ap.parse_args(argv)
    try:
        same = records.report(check=args.check)
    except records.RecordError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if not same:
            print(f"{records.RESULTS_MD} differs from the records: run python -m benchmarks report", file=sys.stderr)
            return 1
        print(f"{records.RESULTS_MD} matches the records")
        return 0
    print(f"{records.RESULTS_MD} {'already up to date' if same else 'regenerated'}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["report"]:
        sys.exit(report_main(sys.argv[2:]))
    elif sys.argv[1:2] == ["scaleout"]:
        from benchmarks.scaleout import main as scaleout_main

        scaleout_main(sys.argv[2:])
    else:
        from benchmarks.stages import main

        main()
