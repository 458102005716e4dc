"""``Selection.to_qwen_messages`` gives the answering model the real frame times, both ways (one video at the
average rate k / duration, or timestamped images), and qwen_vl_utils' real ``process_vision_info`` + the real
Qwen2.5-VL processor turn them into the model's time inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from testkit.extras import require_extra

from clamr_frames.errors import InputError
from clamr_frames.messages import frame_content, sampling_rate, timestamp_text
from clamr_frames.selector import Selection

SMALL = {"min_pixels": 28 * 28 * 4, "max_pixels": 28 * 28 * 16}


def _selection(timestamps, duration=600.0, missing=()):
    rng = np.random.default_rng(0)
    k = len(timestamps)
    frames = [None if j in missing else rng.integers(0, 255, (96, 160, 3), dtype=np.uint8) for j in range(k)]
    t = np.asarray(timestamps, dtype=np.float64)
    return Selection(video="v.mp4", question="When does the bell ring?", indices=np.arange(k), timestamps=t,
                     scores=np.ones(k), all_scores=np.ones(k), all_timestamps=t, frame_indices=np.arange(k),
                     asr=[""] * k, ocr=[""] * k, policy="topk", duration=duration, _frames=frames)


@pytest.mark.slow
def test_video_item_carries_the_average_rate_and_qwen_gets_it():
    require_extra("eval")  # qwen-vl-utils comes with lmms-eval
    import qwen_vl_utils as qvu
    from testkit.tiny_qwen import build_processor

    sel = _selection([12.0, 13.0, 14.0, 300.0, 301.0, 590.0], duration=600.0)
    msgs = sel.to_qwen_messages(subtitles="the bell rang", **SMALL)
    (item, subs, question), = [m["content"] for m in msgs]
    assert item["type"] == "video" and len(item["video"]) == 6 and item["max_pixels"] == SMALL["max_pixels"]
    assert item["sample_fps"] == pytest.approx(6 / 600.0)
    assert subs["text"] == "Subtitles: the bell rang" and question["text"] == sel.question

    # the older transformers path: the rate comes back as the processor's fps (qwen_vl_utils' own default: 2.0)
    _, videos, video_kwargs = qvu.process_vision_info(msgs, return_video_kwargs=True)
    assert len(videos) == 1 and videos[0].shape[0] == 6 and video_kwargs["fps"] == [pytest.approx(0.01)]
    # transformers 5: the rate travels in the video metadata
    images, videos, video_kwargs = qvu.process_vision_info(msgs, return_video_kwargs=True, return_video_metadata=True)
    assert images is None and "fps" not in video_kwargs
    videos, metadata = zip(*videos)
    assert metadata[0]["fps"] == pytest.approx(0.01)
    processor = build_processor()
    text = processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], videos=list(videos), video_metadata=list(metadata), return_tensors="pt",
                       **video_kwargs)
    # Qwen2.5-VL's time-aligned rope ids advance by second_per_grid_ts per temporal patch of 2 frames:
    # 3 patches x 200 s span the real 600 s of the video.
    assert inputs["video_grid_thw"][0, 0].item() == 3
    assert float(inputs["second_per_grid_ts"][0]) == pytest.approx(200.0)


def test_images_each_follow_their_timestamp_and_qwen_reads_them():
    require_extra("eval")  # qwen-vl-utils comes with lmms-eval
    import qwen_vl_utils as qvu
    from testkit.tiny_qwen import build_processor

    ts = [12.0, 13.5, 300.25, 590.0]
    msgs = _selection(ts).to_qwen_messages(frames_as="images", **SMALL)
    content = msgs[0]["content"]
    assert [c["type"] for c in content] == ["text", "image"] * 4 + ["text"]
    assert [c["text"] for c in content[:-1:2]] == ["<12.0 seconds>", "<13.5 seconds>", "<300.2 seconds>",
                                                  "<590.0 seconds>"]
    images, videos = qvu.process_vision_info(msgs)
    assert videos is None and len(images) == 4
    processor = build_processor()
    text = processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    # in the prompt the model reads, each timestamp comes right before its own image
    pattern = r"<([\d.]+) seconds><\|vision_start\|><\|image_pad\|><\|vision_end\|>"
    assert re.findall(pattern, text) == ["12.0", "13.5", "300.2", "590.0"]
    inputs = processor(text=[text], images=images, return_tensors="pt")
    assert inputs["image_grid_thw"].shape[0] == 4


def test_a_frame_that_did_not_decode_takes_its_time_with_it():
    sel = _selection([1.0, 2.0, 3.0], missing={1})
    content = sel.to_qwen_messages(frames_as="images")[0]["content"]
    assert [c["text"] for c in content[:-1:2]] == ["<1.0 seconds>", "<3.0 seconds>"]
    video = sel.to_qwen_messages()[0]["content"][0]
    assert len(video["video"]) == 2 and video["sample_fps"] == pytest.approx(2 / 600.0)


def test_helpers_and_bad_input():
    assert sampling_rate(4, 40.0) == 0.1 and sampling_rate(4, 0) == 1.0
    assert timestamp_text(754) == "<754.0 seconds>"
    with pytest.raises(InputError, match="frames_as must be one of"):
        _selection([1.0]).to_qwen_messages(frames_as="gif")
    with pytest.raises(InputError, match="2 frames but 1 timestamps"):
        frame_content(["a", "b"], [1.0])
    with pytest.raises(InputError, match="no frames"):
        frame_content([], [])
    # without a known duration the frames count as one second apart
    assert _selection([5.0, 9.0], duration=None).to_qwen_messages()[0]["content"][0]["sample_fps"] == 1.0


@pytest.mark.slow
def test_selector_records_the_video_duration(tmp_path):
    from clamr_frames import FrameSelector
    from testkit.media import make_video

    video = make_video(tmp_path / "v.mp4", 50, fps=10.0)  # 5 s
    sel = FrameSelector.from_pretrained("default", index_dir=tmp_path / "idx", progress=False, ocr=False).select(
        video, "what is shown?", k=2)
    assert sel.duration == pytest.approx(5.0, abs=0.15) and sel.to_dict()["duration"] == sel.duration
    assert sel.to_qwen_messages()[0]["content"][0]["sample_fps"] == pytest.approx(2 / sel.duration)
