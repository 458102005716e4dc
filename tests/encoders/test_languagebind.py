"""LanguageBind V / V+A single-vector scorers on tiny random checkpoints in the released layout (config fields,
LanguageBind / peft state-dict key names, pytorch_model.bin read with weights_only), the audio front end, and
the z-score fusion. Nothing is downloaded."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from clamr_frames.encoders.base import Document, Encoder
from clamr_frames.encoders.clip_common import OPENAI_MEAN, OPENAI_STD
from testkit.tiny_clip import languagebind_config, languagebind_state_dict, write_tiny_languagebind
from clamr_frames.encoders.languagebind import LanguageBindEncoder, convert_state_dict, load_audio_checkpoint
from clamr_frames.scoring import score_frames
from clamr_frames.scoring.fusion import fuse_scores, modality_similarities
from clamr_frames.encoders.languagebind_audio import (
    AudioFeatureSettings,
    audio_inputs,
    crops_from_fbank,
    kaldi_fbank,
    read_windows,
)
from clamr_frames.errors import InputError, ModelLoadError
from clamr_frames.scoring import maxsim
from clamr_frames.types import Modality

SR = 16000


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("lb")
    return {
        "image": write_tiny_languagebind(root / "LanguageBind_Image", "image", seed=0),
        "audio": write_tiny_languagebind(root / "LanguageBind_Audio_FT", "audio", seed=1),
    }


@pytest.fixture(scope="module")
def va(ckpts):
    return LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu", output_dtype=torch.float32)


@pytest.fixture(scope="module")
def v(ckpts):
    return LanguageBindEncoder.from_pretrained(ckpts["image"], device="cpu", output_dtype=torch.float32)


def _frames(n, seed=0, shape=(40, 56, 3)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def _track(seconds, seed=0):
    """Test audio: a tone whose pitch changes every second, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    pitch = 200.0 + 150.0 * np.floor(t)
    return (0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _reader(track):
    calls = []

    def read(start, end, sample_rate):
        assert sample_rate == SR
        calls.append((start, end))
        return track[int(round(start * sample_rate)) : int(round(end * sample_rate))]

    read.calls = calls
    return read


# ------------------------------------------------------------------------------------------------ V
def test_v_encoder_protocol(v, ckpts):
    assert isinstance(v, Encoder)
    assert v.multi_vector is False and v.uses_audio is False and v.score_fusion is None
    assert v.dim == 16 and v.image_size == 32
    docs = [Document(image=f, timestamp=float(i)) for i, f in enumerate(_frames(4))]
    out = v.encode_documents(docs)
    assert out.offsets.tolist() == [0, 1, 2, 3, 4] and out.modality_ids.tolist() == [Modality.VIDEO] * 4
    torch.testing.assert_close(out.embeddings.norm(dim=-1), torch.ones(4), atol=1e-5, rtol=0)
    q = v.encode_queries(["what is on the board"])[0]
    assert q.shape == (1, 16)
    # V-only: the video-aware entry point is the same as encode_documents
    same = v.encode_video_documents(docs, "unused.mp4")
    torch.testing.assert_close(same.embeddings, out.embeddings, atol=0, rtol=0)
    assert v.config["audio"] is None and v.config["text_pooling"] == "argmax"
    assert v.encoder_id.startswith("languagebind:") and v.encoder_id != "languagebind:x"


def test_preprocessing_equals_languagebinds_torchvision_transform(v):
    """LanguageBind's transform (ToTensor, Resize bicubic, CenterCrop, Normalize) as its pinned torchvision 0.14
    ran it (a tensor resize without antialiasing: the default here), and as current torchvision runs it."""
    from PIL import Image
    from torchvision import transforms

    def transform(antialias):
        return transforms.Compose(
            [
                transforms.ToTensor(),
                transforms.Resize(32, interpolation=transforms.InterpolationMode.BICUBIC, antialias=antialias),
                transforms.CenterCrop(32),
                transforms.Normalize(OPENAI_MEAN, OPENAI_STD),
            ]
        )

    frames = _frames(2, seed=1) + _frames(1, seed=2, shape=(70, 30, 3))  # mixed sizes, portrait included
    reference = torch.stack([transform(False)(Image.fromarray(f)) for f in frames])
    current = torch.stack([transform(True)(Image.fromarray(f)) for f in frames])
    assert v.antialias is False and v.config["antialias"] is False
    torch.testing.assert_close(v._preprocess(frames), reference, atol=1e-5, rtol=0)
    assert (reference - current).abs().max() > 0.1  # the two downscales really differ on these frames
    try:
        v.antialias = True
        torch.testing.assert_close(v._preprocess(frames), current, atol=1e-5, rtol=0)
    finally:
        v.antialias = False


def test_audio_defaults_feed_the_released_ft_tower():
    """Without a checkpoint config, the front end's defaults turn one window of audio into what the released
    LanguageBind_Audio_FT tower takes: 3 x 112 mel bins x 1036 frames, whose 14-px patches (8 x 74) and class
    token make its 593 positions. The whole front end runs (framing, fbank, crops), not just the defaults."""
    from clamr_frames.encoders.languagebind_audio import audio_inputs

    s = AudioFeatureSettings()
    t = np.arange(int(round(s.input_seconds * s.sample_rate))) / s.sample_rate
    x = audio_inputs([np.sin(2 * np.pi * 440.0 * t).astype(np.float32)], s)
    assert tuple(x.shape) == (1, 3, 112, 1036) and torch.isfinite(x).all()
    assert (x.shape[2] // 14) * (x.shape[3] // 14) + 1 == 593


def _reference_model(cfg, state):
    """A plain transformers CLIPModel built from the test's config dict, holding ``state``."""
    from transformers import CLIPConfig, CLIPModel

    keep = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act")
    text = {k: cfg["text_config"][k] for k in keep + ("vocab_size", "max_position_embeddings")}
    vision = {k: cfg["vision_config"][k] for k in keep + ("image_size", "patch_size")}
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=cfg["projection_dim"]))
    model.load_state_dict({k: t for k, t in state.items() if not k.endswith("position_ids")}, strict=True)
    return model.eval()


@pytest.mark.parametrize("layout", ["peft-0.4", "peft-current"])
def test_lora_checkpoint_matches_peft_forward(tmp_path, layout):
    """A LoRA-tuned checkpoint (LanguageBind wraps vision_model.encoder with peft) loads with the LoRA merged:
    its embeddings equal peft's own (unmerged) forward."""
    from peft import LoraConfig, get_peft_model

    cfg = languagebind_config("image", lora_r=4, lora_alpha=8)
    model = _reference_model(cfg, languagebind_state_dict(cfg, seed=3))
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["k_proj", "v_proj", "q_proj", "out_proj"], lora_dropout=0.0)
    model.vision_model.encoder = get_peft_model(model.vision_model.encoder, lora)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero; make the update count
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    state = dict(model.state_dict())
    assert any(".base_model.model.layers.0.self_attn.q_proj.lora_A.default.weight" in k for k in state)
    if layout == "peft-0.4":  # LanguageBind's pinned peft wrote no base_layer level
        state = {k.replace(".base_layer.", "."): t for k, t in state.items()}
    state["vision_model.embeddings.position_ids"] = torch.arange(17).unsqueeze(0)
    path = write_tiny_languagebind(tmp_path / "lora", "image", config=cfg, state=state)
    enc = LanguageBindEncoder.from_pretrained(path, device="cpu", output_dtype=torch.float32)

    frames = _frames(3, seed=4)
    pixels = enc._preprocess(frames)
    texts = ["the cat", "what is written on the board"]
    ids = enc.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref_img = F.normalize(model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output), dim=-1)
        hidden = model.text_model(**ids).last_hidden_state
        eos = hidden[torch.arange(2), ids["input_ids"].argmax(-1)]
        ref_txt = F.normalize(model.text_projection(eos), dim=-1)
    torch.testing.assert_close(enc.encode_images(frames), ref_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(enc.encode_texts(texts), ref_txt, atol=1e-5, rtol=0)
    # without merging, the image embeddings would differ: the LoRA update is really applied
    unwrap = lambda k: k.replace(".base_model.model.", ".").replace(".base_layer.", ".")  # noqa: E731
    plain = {unwrap(k): t for k, t in state.items() if "lora_" not in k}
    plain_path = write_tiny_languagebind(tmp_path / "plain", "image", config=languagebind_config("image"), state=plain)
    unmerged = LanguageBindEncoder.from_pretrained(plain_path, device="cpu")
    assert (unmerged.encode_images(frames) - ref_img).abs().max() > 1e-3


def test_convert_state_dict_rejects_bad_lora():
    base = {"vision_model.encoder.layers.0.self_attn.q_proj.weight": torch.zeros(4, 4)}
    a = {"vision_model.encoder.layers.0.self_attn.q_proj.lora_A.default.weight": torch.ones(2, 4)}
    with pytest.raises(ModelLoadError, match="exactly one lora_A/lora_B pair"):
        convert_state_dict({**base, **a})
    b_bad = {"vision_model.encoder.layers.0.self_attn.q_proj.lora_B.default.weight": torch.ones(3, 2)}
    with pytest.raises(ModelLoadError, match="does not fit"):
        convert_state_dict({**base, **a, **b_bad})
    b = {"vision_model.encoder.layers.0.self_attn.q_proj.lora_B.default.weight": torch.ones(4, 2)}
    with pytest.raises(ModelLoadError, match="differs from lora_r=8"):
        convert_state_dict({**base, **a, **b}, lora_r=8)
    with pytest.raises(ModelLoadError, match="unsupported adapter"):
        convert_state_dict({**base, "vision_model.x.lora_magnitude_vector.default": torch.ones(4)})
    merged = convert_state_dict({**base, **a, **b}, lora_alpha=4.0)  # alpha / r = 2; B @ A = 2 everywhere
    torch.testing.assert_close(merged["vision_model.encoder.layers.0.self_attn.q_proj.weight"], torch.full((4, 4), 4.0))


def test_safetensors_and_bin_give_the_same_encoder(tmp_path, v, ckpts):
    cfg = languagebind_config("image")
    path = write_tiny_languagebind(tmp_path / "st", "image", seed=0, fmt="safetensors", config=cfg)
    assert (path / "model.safetensors").exists() and (ckpts["image"] / "pytorch_model.bin").exists()
    st = LanguageBindEncoder.from_pretrained(path, device="cpu")
    frames = _frames(2, seed=5)
    torch.testing.assert_close(st.encode_images(frames), v.encode_images(frames), atol=0, rtol=0)
    assert st.encoder_id.split("@")[1] == v.encoder_id.split("@")[1]


def test_tokenizer_from_vocab_and_merges_only(tmp_path, v):
    """Repositories that ship vocab.json + merges.txt without tokenizer.json load the same tokenizer."""
    import shutil

    path = shutil.copytree(v.source["image"], tmp_path / "no_tokenizer_json")
    (path / "tokenizer.json").unlink()
    other = LanguageBindEncoder.from_pretrained(path, device="cpu", output_dtype=torch.float32)
    texts = ["The cat is on the board!", "what's   up"]
    assert other.tokenizer(texts)["input_ids"] == v.tokenizer(texts)["input_ids"]
    torch.testing.assert_close(other.encode_texts(texts), v.encode_texts(texts), atol=0, rtol=0)


def test_loading_errors(tmp_path, ckpts):
    with pytest.raises(ModelLoadError, match="an audio checkpoint"):
        LanguageBindEncoder.from_pretrained(ckpts["audio"], device="cpu")
    with pytest.raises(ModelLoadError, match="not an audio checkpoint"):
        LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["image"], device="cpu")
    video_cfg = languagebind_config("image")
    video_cfg["vision_config"].update(add_time_attn=True, num_frames=8)
    with pytest.raises(ModelLoadError, match="temporal attention"):
        LanguageBindEncoder.from_pretrained(write_tiny_languagebind(tmp_path / "vid", config=video_cfg), device="cpu")
    with pytest.raises(InputError, match="fusion"):
        LanguageBindEncoder.from_pretrained(ckpts["image"], fusion="sum")
    with pytest.raises(ModelLoadError, match="local directory") as e:
        LanguageBindEncoder.from_pretrained("LanguageBind/clamr-frames-tests-missing", local_files_only=True)
    assert "huggingface-cli download LanguageBind/clamr-frames-tests-missing" in str(e.value)
    # weights from a bigger tower than the config says
    wrong = write_tiny_languagebind(tmp_path / "wrong", config=languagebind_config("image", projection_dim=8),
                                    state=languagebind_state_dict(languagebind_config("image")))
    with pytest.raises(ModelLoadError, match="do not match the architecture"):
        LanguageBindEncoder.from_pretrained(wrong, device="cpu")


def test_pickled_code_in_languagebind_bin_is_never_run(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(tmp_path / "was-executed"),))

    state = languagebind_state_dict(languagebind_config("image"))
    path = write_tiny_languagebind(tmp_path / "evil", state=state)
    torch.save({**state, "payload": Payload()}, path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="cannot read weights safely"):
        LanguageBindEncoder.from_pretrained(path, device="cpu")
    assert not (tmp_path / "was-executed").exists()


# ------------------------------------------------------------------------------------------------ audio front end
def test_kaldi_fbank_matches_transformers_numpy_implementation():
    from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

    x = _track(1.5)
    filters = mel_filter_bank(
        num_frequency_bins=257, num_mel_filters=126, min_frequency=20, max_frequency=SR // 2, sampling_rate=SR,
        norm=None, mel_scale="kaldi", triangularize_in_mel_space=True,
    )  # fmt: skip
    ref = spectrogram(
        x, window_function(400, "hann", periodic=False), frame_length=400, hop_length=160, fft_length=512,
        power=2.0, center=False, preemphasis=0.97, mel_filters=filters, log_mel="log",
        mel_floor=1.192092955078125e-07, remove_dc_offset=True,
    ).T  # fmt: skip
    ours = kaldi_fbank(torch.from_numpy(x), num_mel_bins=126)
    assert ours.shape == ref.shape == (148, 126)
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-3)
    batched = kaldi_fbank(torch.from_numpy(np.stack([x, x[::-1].copy()])), num_mel_bins=126)
    torch.testing.assert_close(batched[0], ours, atol=1e-5, rtol=0)
    assert kaldi_fbank(torch.zeros(399), num_mel_bins=8).shape == (0, 8)


def test_audio_inputs_follow_languagebinds_recipe():
    s = AudioFeatureSettings(num_mel_bins=16, target_length=48)
    short = _track(0.2)  # 18 fbank frames: tiled to 48
    long = _track(1.0, seed=1)  # 98 frames: three crops starting at 0, 17, 34
    x = audio_inputs([short, long, short], s)
    assert x.shape == (3, 3, 16, 48)
    norm = lambda x: (x + 4.2677393) / (2 * 4.5689974)  # noqa: E731 - (x - mean) / (2 std), AudioSet stats
    fb = kaldi_fbank(torch.from_numpy(short - short.mean()), num_mel_bins=16)
    assert fb.shape[0] == 18
    tiled = torch.cat([fb, fb, fb])[:48].T
    for c in range(3):
        torch.testing.assert_close(x[0, c], norm(tiled), atol=1e-5, rtol=0)
    fb_long = kaldi_fbank(torch.from_numpy(long - long.mean()), num_mel_bins=16)
    for c, start in enumerate([0, 17, 34]):
        torch.testing.assert_close(x[1, c], norm(fb_long[start : start + 48].T), atol=1e-5, rtol=0)
    torch.testing.assert_close(x[2], x[0], atol=0, rtol=0)
    with pytest.raises(InputError, match="fewer than one fbank frame"):
        audio_inputs([np.zeros(100, np.float32)], s)
    with pytest.raises(InputError, match="empty fbank"):
        crops_from_fbank(torch.zeros(0, 4), 8)


def test_read_windows_groups_nearby_reads_and_keeps_input_order():
    track = _track(300.0)
    read = _reader(track)
    ts = [float(t) for t in range(30)][::-1] + [200.0]  # dense run (any order) + one far away
    out = read_windows(lambda s, e: read(s, e, SR), ts, before=1.0, after=2.0, sample_rate=SR)
    assert len(read.calls) == 2  # one decode for the 30 dense windows, one for the far one
    for t, w in zip(ts, out):
        lo = int(round(max(t - 1.0, 0.0) * SR))
        np.testing.assert_array_equal(w, track[lo : lo + len(w)])
        assert len(w) == (2.0 + min(t, 1.0)) * SR  # the window at t=0 is clipped at 0
    # long runs are split so that no single read exceeds max_span
    read2 = _reader(track)
    ts2 = [float(t) for t in range(250)]
    read_windows(lambda s, e: read2(s, e, SR), ts2, before=1, after=1, sample_rate=SR, max_span=60)
    assert all(e - s <= 60 for s, e in read2.calls) and len(read2.calls) == 5
    # past the end of the track: no window; no audio stream: None overall
    assert read_windows(lambda s, e: read(s, e, SR), [299.9, 400.0], before=0.5, after=0.5, sample_rate=SR)[1] is None
    assert read_windows(lambda s, e: None, [1.0], before=1, after=1, sample_rate=SR) is None


def test_audio_tower_on_a_square_input_equals_clips_vision_model(tmp_path):
    """The patch-grid embeddings reproduce transformers' CLIPVisionEmbeddings where both apply (square input)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    cfg = languagebind_config("audio", num_mel_bins=16, target_length=16)
    state = languagebind_state_dict(cfg, seed=7)
    path = write_tiny_languagebind(tmp_path / "sq", "audio", config=cfg, state=state)
    tower, settings, _ = load_audio_checkpoint(path)
    assert (settings.num_mel_bins, settings.target_length, settings.sample_rate) == (16, 16, 16000)
    vc = cfg["vision_config"]
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act", "patch_size")
    ref = CLIPVisionModel(CLIPVisionConfig(**{k: vc[k] for k in keys}, image_size=16)).eval()
    prefix = "vision_model."
    ref.load_state_dict(
        {k[len(prefix) :]: t for k, t in state.items() if k.startswith(prefix) and not k.endswith("position_ids")}
    )
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ref(pixel_values=x).pooler_output @ state["visual_projection.weight"].T
        torch.testing.assert_close(tower(x), expected, atol=1e-5, rtol=0)
        with pytest.raises(InputError, match="patch grid"):
            tower(torch.randn(1, 3, 16, 24))


# ------------------------------------------------------------------------------------------------ V+A
def test_va_documents_have_a_video_and_an_audio_token(va):
    assert va.uses_audio and va.score_fusion == "max" and va.audio_window == (0.24, 0.24)
    assert va.config["audio_features"]["num_mel_bins"] == 16 and va.config["audio_window"] == [0.24, 0.24]
    frames = _frames(4, seed=8)
    docs = [Document(image=f, timestamp=1.0 + i) for i, f in enumerate(frames)]
    read = _reader(_track(6.0))
    out = va.encode_video_documents(docs, "video.mp4", read_audio=read)
    assert out.offsets.tolist() == [0, 2, 4, 6, 8]
    assert out.modality_ids.tolist() == [Modality.VIDEO, Modality.AUDIO] * 4
    torch.testing.assert_close(out.embeddings.norm(dim=-1), torch.ones(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.embeddings[0::2], va.encode_images(frames), atol=1e-6, rtol=0)
    windows = [_track(6.0)[int((t - 0.24) * SR) : int((t + 0.24) * SR)] for t in (1.0, 2.0, 3.0, 4.0)]
    torch.testing.assert_close(out.embeddings[1::2], torch.stack(va.encode_audio(windows)), atol=1e-5, rtol=0)
    # different seconds of the track (different pitch) give different audio vectors
    assert (out.embeddings[1] - out.embeddings[3]).abs().max() > 1e-3


def test_audio_is_deterministic_and_batch_invariant(ckpts):
    a = LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu", audio_batch_size=1)
    b = LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu", audio_batch_size=8)
    track = _track(5.0)
    windows = [track[: SR // 2], track[SR : 2 * SR], None, track[3 * SR : 3 * SR + 100], track[2 * SR : 3 * SR]]
    va, vb = a.encode_audio(windows), b.encode_audio(windows)
    assert va[2] is None and va[3] is None and vb[2] is None  # missing / shorter than one 25 ms frame
    for x, y in zip(va, vb):
        if x is not None:
            torch.testing.assert_close(x, y, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.encode_audio(windows)[0], va[0], atol=0, rtol=0)


def test_fusion_scores_from_stored_embeddings(va):
    frames = _frames(5, seed=9)
    docs = [Document(image=f, timestamp=0.5 + i) for i, f in enumerate(frames)]
    docs[4] = Document(image=frames[4], timestamp=9.0)  # past the end of the 6 s track: no audio token
    out = va.encode_video_documents(docs, "video.mp4", read_audio=_reader(_track(6.0)))
    assert out.offsets.tolist() == [0, 2, 4, 6, 8, 9]
    q = va.encode_queries(["a high pitched tone"])[0]
    per = modality_similarities(out, q)
    video_sims = va.encode_images(frames) @ q[0].float()
    torch.testing.assert_close(per[:, 0], video_sims, atol=1e-5, rtol=0)
    assert torch.isnan(per[4, 1]) and not torch.isnan(per[:4, 1]).any()
    for method in ("max", "mean"):
        torch.testing.assert_close(score_frames(q, out, fusion=method)[0], fuse_scores(per, method), atol=0, rtol=0)
    # the plain MaxSim path (selector unchanged) is the raw, uncalibrated max of the two similarities
    raw = maxsim(q, out.embeddings, out.offsets)
    torch.testing.assert_close(raw, torch.where(torch.isnan(per), torch.tensor(-2.0), per).amax(1), atol=1e-6, rtol=0)


def test_fuse_scores_math_on_hand_made_vectors():
    nan = float("nan")
    per = torch.tensor([[0.30, 0.10], [0.20, 0.30], [0.10, nan], [nan, nan]])
    z_video = torch.tensor([1.0, 0.0, -1.0]) * (1.5**0.5)  # population std of (0.3, 0.2, 0.1) is sqrt(2/3)/10
    z_audio = torch.tensor([-1.0, 1.0])
    mean = fuse_scores(per, "mean")
    expected = torch.stack([(z_video[0] + z_audio[0]) / 2, (z_video[1] + z_audio[1]) / 2, z_video[2]])
    torch.testing.assert_close(mean[:3], expected)
    mx = fuse_scores(per, "max")
    torch.testing.assert_close(mx[:3], torch.stack([z_video[0], z_audio[1], z_video[2]]))
    assert torch.isneginf(mean[3]) and torch.isneginf(mx[3])
    # a modality without spread (or a single candidate) contributes 0, not NaN
    flat = fuse_scores(torch.tensor([[0.2, 0.5], [0.4, 0.5]]), "mean")
    torch.testing.assert_close(flat, torch.tensor([-0.5, 0.5]))
    # z-scoring is per column: scaling one modality's similarities does not change the fused scores
    scaled = per.clone()
    scaled[:, 1] = scaled[:, 1] * 10 + 3
    torch.testing.assert_close(fuse_scores(scaled, "mean"), mean)
    with pytest.raises(InputError, match="fusion"):
        fuse_scores(per, "sum")


def test_no_audio_stream_falls_back_to_v_with_one_warning(va):
    frames = _frames(3, seed=10)
    docs = [Document(image=f, timestamp=float(i)) for i, f in enumerate(frames)]
    silent = lambda s, e, sr: None  # noqa: E731 - what VideoReader.read_audio returns without an audio stream
    with pytest.warns(UserWarning, match="no audio stream; LanguageBind V\\+A falls back to V"):
        out = va.encode_video_documents(docs, "silent.mp4", read_audio=silent)
    assert out.offsets.tolist() == [0, 1, 2, 3] and out.modality_ids.tolist() == [Modality.VIDEO] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second chunk of the same video does not warn again
        va.encode_video_documents(docs, "silent.mp4", read_audio=silent)
    assert va.encode_video_audio("silent.mp4", [0.0], read_audio=silent) is None
    # a soundtrack that does not decode is treated the same way (warned once per video)
    from clamr_frames.errors import VideoError

    def broken(s, e, sr):
        raise VideoError("broken.mp4", "audio packet 3 is corrupt")

    with pytest.warns(UserWarning, match=r"broken.mp4: its audio track does not decode \(audio packet 3 is corrupt\)"):
        out_b = va.encode_video_documents(docs, "broken.mp4", read_audio=broken)
    assert out_b.modality_ids.tolist() == [Modality.VIDEO] * 3
    # fused scores then rank like the frame similarities alone
    q = va.encode_queries(["x"])[0]
    fused = score_frames(q, out, fusion=va.score_fusion)[0]
    assert fused.argsort().tolist() == (out.embeddings @ q[0]).argsort().tolist()


def test_document_without_frame_keeps_its_audio_token(va):
    docs = [Document(image=None, timestamp=1.0), Document(image=_frames(1)[0], timestamp=2.0)]
    with pytest.warns(UserWarning, match="no frame"):
        out = va.encode_video_documents(docs, "v.mp4", read_audio=_reader(_track(4.0)))
    assert out.modality_ids.tolist() == [Modality.AUDIO, Modality.VIDEO, Modality.AUDIO]


def test_text_towers_of_different_releases_warn(tmp_path, ckpts):
    other = write_tiny_languagebind(tmp_path / "other_audio", "audio", seed=1, text_seed=5)
    with pytest.warns(UserWarning, match="text projection differs"):
        LanguageBindEncoder.from_pretrained(ckpts["image"], other, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu")


# ------------------------------------------------------------------------------------------------ real videos
def _video_reader_with_audio():
    try:
        from clamr_frames.video import VideoReader
    except ImportError:
        return None
    return VideoReader if hasattr(VideoReader, "read_audio") else None


needs_reader = pytest.mark.skipif(
    _video_reader_with_audio() is None, reason="clamr_frames.video.VideoReader.read_audio not available"
)


@pytest.mark.slow
@needs_reader
def test_audio_windows_from_a_video_file_line_up_with_the_track(tmp_path, ckpts):
    from clamr_frames.video.writer import write_video

    track = np.concatenate([_tone(300.0, 3.0), _tone(2500.0, 3.0)])  # low tone, then high tone
    frames = _frames(12, seed=11, shape=(32, 32, 3))
    path = write_video(tmp_path / "av.mp4", frames, fps=2.0, audio=track, audio_rate=SR)
    enc = LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu", audio_window=1.0)
    got = enc.encode_video_audio(path, [1.5, 4.5])
    assert got is not None
    vecs, present = got
    assert present.tolist() == [True, True]
    originals = [track[int(1.0 * SR) : int(2.0 * SR)], track[int(4.0 * SR) : int(5.0 * SR)]]
    direct = torch.stack(enc.encode_audio(originals))
    sims = vecs @ direct.T  # decoded (AAC) windows match the original window at the same time best
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]
    # the same through the tower's input, where the random weights cannot blur the difference
    from clamr_frames.video import VideoReader

    with VideoReader(path) as reader:
        read = lambda s, e: reader.read_audio(s, e, sample_rate=SR)  # noqa: E731
        decoded = read_windows(read, [1.5, 4.5], before=0.5, after=0.5, sample_rate=SR)
    assert [len(w) for w in decoded] == [SR, SR]
    dec, org = audio_inputs(decoded, enc.audio_settings), audio_inputs(originals, enc.audio_settings)
    for i in range(2):
        assert (dec[i] - org[i]).abs().mean() < 0.1 * (dec[i] - org[1 - i]).abs().mean()
    docs = [Document(image=f, timestamp=i / 2.0) for i, f in enumerate(frames)]
    out = enc.encode_video_documents(docs, path)
    assert out.modality_ids.tolist() == [Modality.VIDEO, Modality.AUDIO] * 12


@needs_reader
def test_video_without_audio_track_falls_back_to_v(tmp_path, ckpts):
    from clamr_frames.video.writer import write_video

    frames = _frames(4, seed=12, shape=(32, 32, 3))
    path = write_video(tmp_path / "mute.mp4", frames, fps=2.0)
    enc = LanguageBindEncoder.from_pretrained(ckpts["image"], ckpts["audio"], device="cpu")
    docs = [Document(image=f, timestamp=i / 2.0) for i, f in enumerate(frames)]
    with pytest.warns(UserWarning, match="no audio stream"):
        out = enc.encode_video_documents(docs, path)
    assert out.modality_ids.tolist() == [Modality.VIDEO] * 4


def _tone(freq, seconds):
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
