"""Real media: word error rate of the bundled tiny.en on real recordings, and spoken-question retrieval.

The recordings are the committed real-speech set (tests/data/speech: JFK's inaugural clip and LJ Speech clips,
public domain, with their published transcripts; sources in tests/data/README.md). Two records:

- ``real_media--wer``: per recording, the words of the published transcript, the edits of tiny.en's transcript
  (default AsrSettings on CPU, ``--threads`` threads; clamr_frames.evaluation.word_error_rate normalisation),
  and the time of ``transcribe()`` (model loaded before the timer);
- ``real_media--retrieval``: a video whose soundtrack is all the recordings one after the other (each under its
  own plain picture), questions worded unlike the speech, the default scorer with ASR from the audio: where the
  top-1 frame lies and the rank of the first frame inside the recording asked about;
- ``real_media--shots``: shot boundaries of the visual prior at 1-fps candidates on real footage (a montage of
  real clips with known hard cuts, and single handheld shots).

tests/context/test_real_speech.py asserts bounds a little above these numbers.

    python -m benchmarks.real_media [--threads 2] [--no-record]
"""

from __future__ import annotations

import argparse
import shutil

from benchmarks._common import WORK, record
from testkit import real_media as rm


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for speech recognition")
    ap.add_argument("--no-record", action="store_true", help="print only; write no record")
    args = ap.parse_args(argv)
    work = WORK / "real_media"
    shutil.rmtree(work, ignore_errors=True)  # no transcript or index cache from an earlier run

    rows = rm.measure_wer(work / "wer", threads=args.threads)
    total = rows[-1]
    record("Real speech: word error rate of tiny.en on the committed recordings", rows=rows,
           notes=f"Corpus WER {total['wer']:.4f} ({total['edits']} edits / {total['words']} words). Transcripts are "
                 "compared after clamr_frames.evaluation.normalize_words (case, punctuation; numbers are not "
                 "spelled out, so '1455' against 'fourteen fifty-five' would count).",
           name="real_media--wer", write=not args.no_record)

    rrows = rm.measure_retrieval(work / "retrieval")
    hits = sum(r["hit_at_1"] for r in rrows)
    record("Real speech: spoken-question retrieval with the default scorer (ASR from the audio)", rows=rrows,
           notes=f"Top-1 frame inside the recording asked about: {hits} of {len(rrows)} questions. Candidates at "
                 "1 fps (the default), the recordings 1.5 s apart, each under its own plain picture (no text on "
                 "screen): only the recognised speech can place a question.",
           name="real_media--retrieval", write=not args.no_record)

    srows = rm.measure_shots()
    record("Real footage: shot boundaries of the visual prior (1-fps candidates)", rows=srows,
           notes="True cuts are where testkit/make_derived.py joins the clips; in a single shot every boundary "
                 "found is false.",
           name="real_media--shots", write=not args.no_record)


if __name__ == "__main__":
    main()
