"""The three functions once called ``asr_context`` have names that say what they do; the old module-level names
still import, with a DeprecationWarning, and give the same function."""

from __future__ import annotations

import pytest

from clamr_frames.context.subtitles import Cue


def test_old_names_warn_and_point_to_the_new_functions():
    import clamr_frames.context as context
    import clamr_frames.context.asr as asr
    import clamr_frames.context.subtitles as subtitles

    with pytest.warns(DeprecationWarning, match="asr_text_at"):
        assert subtitles.asr_context is subtitles.asr_text_at
    with pytest.warns(DeprecationWarning, match="asr_text_at"):
        assert context.asr_context is subtitles.asr_text_at
    with pytest.warns(DeprecationWarning, match="asr_cue_source"):
        assert asr.asr_context is asr.asr_cue_source
    with pytest.raises(AttributeError):
        asr.no_such_name  # noqa: B018
    assert "asr_context" not in subtitles.__all__ + asr.__all__ + context.__all__


def test_asr_text_at_is_the_text_around_a_time():
    from clamr_frames.context.subtitles import asr_contexts, asr_text_at

    cues = [Cue(0, 2, "hello"), Cue(2.5, 4, "world"), Cue(9, 10, "later")]
    assert asr_text_at(cues, 1.0) == "hello world"
    assert asr_contexts(cues, [1.0, 9.5]) == ["hello world", "later"]


def test_asr_cue_source_without_asr_gives_the_subtitles_or_nothing(tmp_path):
    from clamr_frames.context.asr import asr_cue_source

    assert asr_cue_source(tmp_path / "any.mp4", "talk.srt", "subtitles") == "talk.srt"
    assert asr_cue_source(tmp_path / "any.mp4", "talk.srt", "none") is None
