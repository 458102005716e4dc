"""ClamrEncoder on a tiny random Qwen2.5-VL (testkit/tiny_qwen.py): no downloads, CPU, float32."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from clamr_frames.encoders.base import DocEmbeddings, Document, Encoder  # noqa: E402
from clamr_frames.encoders.clamr import (  # noqa: E402
    OPTIONS_MARKER,
    ClamrEncoder,
    ClamrSettings,
    build_query,
    make_colqwen,
)
from clamr_frames.encoders.clamr.adapter import to_installed_name, to_legacy_name  # noqa: E402
from clamr_frames.encoders.clamr.head import reference_head_weight  # noqa: E402
from clamr_frames.errors import InputError, ModelLoadError  # noqa: E402
from clamr_frames.types import Modality  # noqa: E402


#: The released adapter's target_modules, written against transformers-4.51 module names.
RELEASED_TARGETS = "(.*(model).*(down_proj|gate_proj|up_proj|k_proj|q_proj|v_proj|o_proj).*$|.*(custom_text_proj).*$)"
ASR = "welcome back to the channel, today we are cooking pasta"
OCR = "BREAKING NEWS: storm reaches the coast"
AUG = "<|endoftext|>"


def _frame(seed: int, h: int = 224, w: int = 224) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _docs() -> list[Document]:
    return [
        Document(_frame(1, 180, 320), asr=ASR, ocr=OCR, timestamp=1.0),
        Document(_frame(2), asr="", ocr="Exit 12 closed", timestamp=2.0),
        Document(_frame(3), asr=("the quick brown fox jumps over the lazy dog " * 3).strip(), ocr="", timestamp=3.0),
        Document(None, asr="a text-only document", ocr="", timestamp=4.0),
    ]


def _random_head(dim: int = 128, hidden: int = 64, seed: int = 7) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"weight": torch.randn(dim, hidden, generator=g) * 0.1, "bias": torch.randn(dim, generator=g) * 0.01}


@pytest.fixture(scope="module")
def tiny():
    from testkit.tiny_qwen import build_tiny_qwen

    return build_tiny_qwen(seed=0)


@pytest.fixture(scope="module")
def head():
    return _random_head()


@pytest.fixture(scope="module")
def encoder(tiny, head):
    vlm, processor = tiny
    return ClamrEncoder.from_model(vlm, processor, head_state=head, device="cpu", output_dtype=torch.float32)


# ---------------------------------------------------------------- independent reference (from the formulas)
def _reference_user_prompt(processor, image: bool, ocr: str, asr: str) -> str:
    content = [{"type": "image"}] if image else []
    if ocr:
        content.append({"type": "text", "text": " OCR: " + ocr})
    if asr:
        content.append({"type": "text", "text": " ASR: " + asr})
    return processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False)


def _colqwen_head(vlm, inputs, weight, bias) -> torch.Tensor:
    """ColQwen2.5 as the reference computes it: full model with hidden states, last one, proj, L2, mask."""
    with torch.no_grad():
        out = vlm(**inputs, output_hidden_states=True)
        h = out.hidden_states[-1]
        proj = F.normalize(F.linear(h, weight, bias), p=2, dim=-1)
        return proj * inputs["attention_mask"].unsqueeze(-1)


def _reference_doc(vlm, processor, doc: Document, weight, bias) -> torch.Tensor:
    from PIL import Image

    image = Image.fromarray(doc.image).resize((224, 224), Image.BICUBIC) if doc.image is not None else None
    prompt = _reference_user_prompt(processor, image is not None, doc.ocr, doc.asr)
    inputs = processor(text=[prompt], images=[image] if image is not None else None, return_tensors="pt")
    return _colqwen_head(vlm, dict(inputs), weight, bias)[0]


def _reference_query(vlm, processor, text: str, weight, bias) -> torch.Tensor:
    inputs = processor.tokenizer(["Query: " + text + AUG * 10], return_tensors="pt")
    return _colqwen_head(vlm, dict(inputs), weight, bias)[0]


# ---------------------------------------------------------------- protocol, shapes
@pytest.mark.slow
def test_protocol_and_shapes(encoder):
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 128 and encoder.multi_vector and encoder.uses_image and encoder.uses_ocr
    json.dumps(encoder.config)
    assert encoder.encoder_id.startswith("clamr:")

    docs = _docs()
    out = encoder.encode_documents(docs)
    assert isinstance(out, DocEmbeddings) and out.num_docs == len(docs)
    n = int(out.offsets[-1])
    assert out.embeddings.shape == (n, 128) and out.modality_ids.shape == (n,)
    assert out.offsets.dtype == torch.int64 and torch.all(out.offsets[1:] > out.offsets[:-1])
    assert torch.allclose(out.embeddings.norm(dim=-1), torch.ones(n), atol=1e-5)
    lengths = [len(encoder.prepare_document(d)) for d in docs]
    assert out.offsets.diff().tolist() == lengths
    # 224x224 frame -> 16x16 patches -> 64 merged visual tokens (+ <|vision_start|>).
    first = out.modality_ids[: out.offsets[1]]
    assert int((first == Modality.VIDEO).sum()) == 65
    assert int((out.modality_ids[out.offsets[3]:] == Modality.VIDEO).sum()) == 0  # text-only document

    q = encoder.encode_queries(["what does the speaker write on the board?", "red car"])
    assert [t.shape[1] for t in q] == [128, 128] and all(t.shape[0] > 10 for t in q)
    half = ClamrEncoder(encoder.model, encoder.processor, device="cpu")  # default output fp16
    assert half.encode_queries(["red car"])[0].dtype == torch.float16

    empty = encoder.encode_documents([])
    assert empty.num_docs == 0 and empty.embeddings.shape == (0, 128)
    assert encoder.encode_queries([]) == []


def test_encoder_id_follows_the_weights(encoder, tiny):
    """The id is a function of the weights: recomputed for the same weights it is equal, other weights change it."""
    vlm, processor = tiny
    again = ClamrEncoder(encoder.model, encoder.processor, device="cpu")  # a fresh instance: nothing cached
    assert again.encoder_id == encoder.encoder_id
    other_head = ClamrEncoder.from_model(vlm, processor, head_state=_random_head(seed=8), device="cpu")
    assert other_head.encoder_id != encoder.encoder_id
    weight = encoder.model.model.language_model.layers[1].mlp.up_proj.weight
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight.mul_(1.01)  # a fine-tuned backbone under the same head
        assert ClamrEncoder(encoder.model, encoder.processor, device="cpu").encoder_id != encoder.encoder_id
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def test_bad_inputs(encoder):
    with pytest.raises(InputError, match="document 0"):
        encoder.encode_documents([Document(np.zeros((8, 8), dtype=np.uint8))])
    with pytest.raises(InputError):
        encoder.encode_queries(["   "])
    with pytest.raises(InputError):
        encoder.encode_queries("not a list")
    with pytest.raises(InputError):
        ClamrSettings(frame_size=100)
    with pytest.raises(InputError):
        ClamrSettings(query_max_length=12)


# ---------------------------------------------------------------- modality ids
def _span_text(encoder, prepared, modality) -> str:
    ids = [t for t, m in zip(prepared.input_ids, prepared.modality_ids) if m == modality]
    return encoder.tokenizer.decode(ids)


def test_modality_ids_land_on_their_tokens(encoder, tiny):
    _, processor = tiny
    doc = Document(_frame(5), asr=ASR, ocr=OCR)
    p = encoder.prepare_document(doc)
    assert _span_text(encoder, p, Modality.VIDEO) == "<|vision_start|>" + "<|image_pad|>" * 64
    assert _span_text(encoder, p, Modality.ASR) == " ASR: " + ASR
    assert _span_text(encoder, p, Modality.OCR) == " OCR: " + OCR
    other = _span_text(encoder, p, Modality.OTHER)
    assert other.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert other.endswith("<|vision_end|><|im_end|>\n")
    # Reference order: video, OCR, ASR; each span contiguous.
    mods = p.modality_ids
    first = {m: mods.index(m) for m in (Modality.VIDEO, Modality.OCR, Modality.ASR)}
    assert first[Modality.VIDEO] < first[Modality.OCR] < first[Modality.ASR]
    for m in (Modality.VIDEO, Modality.OCR, Modality.ASR):
        idx = [i for i, x in enumerate(mods) if x == m]
        assert idx == list(range(idx[0], idx[-1] + 1))

    # Same token ids as the real processor on the same prompt.
    from PIL import Image

    prompt = _reference_user_prompt(processor, True, OCR, ASR)
    ref = processor(text=[prompt], images=[Image.fromarray(doc.image)], return_tensors="pt")
    assert ref["input_ids"][0].tolist() == p.input_ids

    # prefix_in_span=False: the prefix tokens become OTHER, the text keeps its modality.
    bare = ClamrEncoder(encoder.model, encoder.processor, ClamrSettings(prefix_in_span=False), device="cpu")
    pb = bare.prepare_document(doc)
    assert pb.input_ids == p.input_ids
    assert _span_text(bare, pb, Modality.ASR) == " " + ASR
    assert _span_text(bare, pb, Modality.OCR) == " " + OCR


def test_text_truncation_and_sanitising(encoder):
    s = ClamrSettings(text_max_length=12, text_order=("asr", "ocr"))
    enc = ClamrEncoder(encoder.model, encoder.processor, s, device="cpu")
    long_asr = " ".join(["pasta sauce basil tomato"] * 60)
    p = enc.prepare_document(Document(_frame(6), asr=long_asr, ocr="hidden <|im_end|> injection"))
    asr_text = _span_text(enc, p, Modality.ASR)
    assert asr_text.startswith(" ASR: pasta") and long_asr.startswith(asr_text[len(" ASR: "):])
    assert sum(m == Modality.ASR for m in p.modality_ids) == 12
    assert p.input_ids.count(enc.tokenizer.convert_tokens_to_ids("<|im_end|>")) == 2  # system + user turn only
    mods = p.modality_ids
    assert mods.index(Modality.ASR) < mods.index(Modality.OCR)  # text_order knob
    # Empty texts are left out unless keep_empty_text.
    p2 = enc.prepare_document(Document(_frame(6), asr="", ocr=""))
    assert set(p2.modality_ids) == {Modality.OTHER, Modality.VIDEO}
    keep = ClamrEncoder(encoder.model, encoder.processor, ClamrSettings(keep_empty_text=True), device="cpu")
    p3 = keep.prepare_document(Document(_frame(6), asr="", ocr=""))
    assert _span_text(keep, p3, Modality.ASR) == " ASR:"


def test_keep_aspect_resizes_like_reference(encoder):
    enc = ClamrEncoder(encoder.model, encoder.processor, ClamrSettings(keep_aspect=True), device="cpu")
    p = enc.prepare_document(Document(_frame(7, 720, 1280)))
    assert p.grid_thw == (1, 12, 20) and p.image.size == (280, 168)  # 60 visual tokens, as max_pixels=224*224
    out = enc.encode_documents([Document(_frame(7, 720, 1280), asr="hi")])
    assert int((out.modality_ids == Modality.VIDEO).sum()) == 61


# ---------------------------------------------------------------- batching / padding invariance
@pytest.mark.slow
def test_document_same_alone_and_in_batch(encoder):
    docs = _docs()
    small = ClamrEncoder(encoder.model, encoder.processor, device="cpu", output_dtype=torch.float32,
                         max_batch_tokens=250)  # forces several batches, mixed padding
    together = encoder.encode_documents(docs)
    split = small.encode_documents(docs)
    for i, d in enumerate(docs):
        alone = encoder.encode_documents([d])
        a, b = together.offsets[i], together.offsets[i + 1]
        torch.testing.assert_close(together.embeddings[a:b], alone.embeddings, atol=2e-5, rtol=0)
        torch.testing.assert_close(together.modality_ids[a:b], alone.modality_ids)
    torch.testing.assert_close(split.embeddings, together.embeddings, atol=2e-5, rtol=0)
    assert torch.equal(split.offsets, together.offsets)

    qs = ["red car", "what does the speaker write on the board at the end?", "dog"]
    batched = encoder.encode_queries(qs)
    for q, e in zip(qs, batched):
        torch.testing.assert_close(encoder.encode_queries([q])[0], e, atol=2e-5, rtol=0)


def test_batches_respect_token_budget(encoder):
    enc = ClamrEncoder(encoder.model, encoder.processor, device="cpu", max_batch_tokens=300)
    lengths = [100, 150, 20, 150, 90, 400]
    batches = enc._batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 300


# ---------------------------------------------------------------- queries
def test_query_cap_keeps_augmentation_tokens(encoder):
    aug = encoder.tokenizer.convert_tokens_to_ids(AUG)
    question = "which frame shows the red car crossing the bridge at night " * 12
    options = ["the red car", "a blue bus", "nobody crosses", "the lazy dog jumps over the fox"]
    plain = encoder.prepare_query(question)
    assert len(plain) == 64 and plain[-10:] == [aug] * 10 and plain[-11] != aug

    full = build_query(question, options)
    assert OPTIONS_MARKER in full and full.endswith("D. the lazy dog jumps over the fox")
    ids = encoder.prepare_query(full)
    assert 64 < len(ids) <= 256 and ids[-10:] == [aug] * 10 and ids[-11] != aug
    assert len(encoder.prepare_query(full, max_length=40)) == 40
    short = encoder.prepare_query("red car")
    assert encoder.tokenizer.decode(short) == "Query: red car" + AUG * 10

    emb = encoder.encode_queries([full, question])
    assert emb[0].shape[0] == len(ids) and emb[1].shape[0] == 64


def test_lm_head_is_never_called(encoder):
    calls = []
    handle = encoder.model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    try:
        encoder.encode_documents(_docs()[:2])
        encoder.encode_queries(["red car"])
    finally:
        handle.remove()
    assert calls == []


# ---------------------------------------------------------------- parity with ColQwen2.5 written from the formulas
@pytest.mark.slow
def test_parity_with_independent_colqwen_head(encoder, tiny, head):
    vlm, processor = tiny
    docs = _docs()
    out = encoder.encode_documents(docs)
    for i, doc in enumerate(docs):
        ref = _reference_doc(vlm, processor, doc, head["weight"], head["bias"])
        got = out.embeddings[out.offsets[i]: out.offsets[i + 1]]
        assert got.shape == ref.shape
        torch.testing.assert_close(got, ref, atol=2e-5, rtol=0)
    q = "what does the speaker write on the board?"
    torch.testing.assert_close(encoder.encode_queries([q])[0],
                               _reference_query(vlm, processor, q, head["weight"], head["bias"]), atol=2e-5, rtol=0)


@pytest.mark.slow
def test_image_item_matches_reference_one_frame_video_item(encoder, tiny, head):
    """The reference fed frames as a video item (Qwen pads one frame to two); a still image gives the same."""
    vlm, processor = tiny
    frame = _frame(9)
    content = [{"type": "video"}, {"type": "text", "text": " ASR: " + ASR}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False)
    inputs = processor(text=[prompt], videos=[np.stack([frame, frame])], return_tensors="pt",
                       videos_kwargs={"do_sample_frames": False, "fps": 1.0, "do_resize": False})
    assert inputs["video_grid_thw"].tolist() == [[1, 16, 16]]
    inputs = {k: v for k, v in inputs.items() if k != "video_metadata"}
    ref = _colqwen_head(vlm, inputs, head["weight"], head["bias"])[0]
    got = encoder.encode_documents([Document(frame, asr=ASR)]).embeddings
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-3, rtol=0)


# ---------------------------------------------------------------- loading the released adapter layout
class _Wrapper(torch.nn.Module):
    """Test-local stand-in for the reference ColQwen2_5: same children, installed transformers layout."""

    def __init__(self, vlm):
        super().__init__()
        self.model, self.lm_head = vlm.model, vlm.lm_head
        self.custom_text_proj = torch.nn.Linear(64, 128)
        with torch.no_grad():  # the reference's random head (its float16 draw; tests/encoders/test_clamr_head.py checks it)
            self.custom_text_proj.weight.copy_(reference_head_weight(128, 64))
            self.custom_text_proj.bias.zero_()


def _legacy_key(key: str) -> str:
    """Installed-layout adapter key → the transformers-4.51 name the released file uses (written independently)."""
    key = key.replace("base_model.model.model.language_model.", "base_model.model.model.")
    return key.replace("base_model.model.model.visual.", "base_model.model.visual.")


@pytest.fixture(scope="module")
def released_adapter(tmp_path_factory, tiny_qwen_dir):
    """A random LoRA on LM + custom_text_proj saved in the released (4.51) key layout, plus reference outputs."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(tiny_qwen_dir)
    wrapper = _Wrapper(vlm)
    lm = [f"model.language_model.layers.{i}.{m}" for i in range(2) for m in
          ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=lm + ["custom_text_proj"],
                     init_lora_weights="gaussian")
    peft_model = get_peft_model(wrapper, cfg)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    state = get_peft_model_state_dict(peft_model)
    assert any("language_model" in k for k in state)

    adapter = tmp_path_factory.mktemp("adapter") / "clamr_release_layout"
    adapter.mkdir()
    save_file({_legacy_key(k): v.contiguous() for k, v in state.items()}, str(adapter / "adapter_model.safetensors"))
    (adapter / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "FEATURE_EXTRACTION", "r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
        "bias": "none", "init_lora_weights": "gaussian", "target_modules": RELEASED_TARGETS,
        "base_model_name_or_path": "Qwen/Qwen2.5-VL-3B-Instruct", "modules_to_save": None,
    }))
    # The same adapter as a transformers-5 trainer would save it: new names, a regex written for them, and the
    # head's base weights next to it.
    installed = adapter.parent / "installed_layout"
    installed.mkdir()
    save_file({k: v.contiguous() for k, v in state.items()}, str(installed / "adapter_model.safetensors"))
    cfg_installed = json.loads((adapter / "adapter_config.json").read_text())
    cfg_installed["target_modules"] = r".*language_model.*_proj|custom_text_proj"
    (installed / "adapter_config.json").write_text(json.dumps(cfg_installed))
    base_head = {"weight": wrapper.custom_text_proj.base_layer.weight.detach().clone(),
                 "bias": wrapper.custom_text_proj.base_layer.bias.detach().clone()}
    save_file(base_head, str(installed / "clamr_head.safetensors"))

    merged = peft_model.merge_and_unload().eval()
    w, b = merged.custom_text_proj.weight.detach().clone(), merged.custom_text_proj.bias.detach().clone()
    docs = _docs()[:3]
    ref_docs = [_reference_doc(vlm, processor, d, w, b) for d in docs]
    ref_q = _reference_query(vlm, processor, "red car on the bridge", w, b)
    return adapter, docs, ref_docs, ref_q, installed


def test_key_remapping_helpers():
    assert to_installed_name("model.layers.0.mlp.up_proj") == "model.language_model.layers.0.mlp.up_proj"
    assert to_installed_name("visual.merger.mlp.0") == "model.visual.merger.mlp.0"
    for name in ("model.language_model.layers.1.self_attn.q_proj", "model.visual.blocks.0.mlp.up_proj",
                 "custom_text_proj", "lm_head"):
        assert to_installed_name(to_legacy_name(name)) == name


def _load(adapter, tiny_qwen_dir, **kw):
    return ClamrEncoder.from_pretrained(adapter, base_model=tiny_qwen_dir, device="cpu", local_files_only=True,
                                        output_dtype=torch.float32, **kw)


@pytest.mark.slow
def test_released_layout_adapter_matches_merged_weights(released_adapter, tiny_qwen_dir, tmp_path):
    adapter, docs, ref_docs, ref_q, installed = released_adapter
    with pytest.warns(UserWarning, match="seed 42"):
        enc = _load(adapter, tiny_qwen_dir)
    # The released regex, read with 4.51 names, selects only LM projections + the head (no ViT MLPs).
    assert enc.source["adapter_tensors"] == 2 * 15
    assert not any("lora_" in n for n, _ in enc.model.named_parameters())
    out = enc.encode_documents(docs)
    for i, ref in enumerate(ref_docs):
        torch.testing.assert_close(out.embeddings[out.offsets[i]: out.offsets[i + 1]], ref, atol=2e-5, rtol=0)
    torch.testing.assert_close(enc.encode_queries(["red car on the bridge"])[0], ref_q, atol=2e-5, rtol=0)

    # Unmerged LoRA layers give the same embeddings.
    with pytest.warns(UserWarning):
        lazy = _load(adapter, tiny_qwen_dir, merge_adapter=False)
    assert any("lora_A" in n for n, _ in lazy.model.named_parameters())
    torch.testing.assert_close(lazy.encode_documents(docs).embeddings, out.embeddings, atol=2e-5, rtol=0)

    # An adapter already in the installed layout, with its head file: same embeddings, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inst = _load(installed, tiny_qwen_dir)
    torch.testing.assert_close(inst.encode_documents(docs).embeddings, out.embeddings, atol=2e-5, rtol=0)

    # save_pretrained -> from_pretrained round trip: self-contained, head stored, no warning.
    saved = enc.save_pretrained(tmp_path / "saved")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = ClamrEncoder.from_pretrained(saved, device="cpu", local_files_only=True, output_dtype=torch.float32)
    torch.testing.assert_close(back.encode_documents(docs).embeddings, out.embeddings, atol=1e-6, rtol=0)
    assert back.config == enc.config
    assert back.encoder_id.split("@")[1] == enc.encoder_id.split("@")[1]
    with pytest.raises(InputError):
        lazy.save_pretrained(tmp_path / "unmerged")


@pytest.mark.parametrize(
    ("bogus", "why"),
    [
        ("base_model.model.model.layers.7.mlp.up_proj.lora_A.weight", "match no module"),  # no such layer
        ("base_model.model.visual.blocks.0.mlp.up_proj.lora_A.weight", "does not select"),  # ViT, untargeted in 4.51
        ("base_model.model.model.layers.0.mlp.up_proj.weight", "not LoRA tensors"),
    ],
)
def test_unmatched_adapter_key_fails_loudly(released_adapter, tiny_qwen_dir, tmp_path, bogus, why):
    adapter = released_adapter[0]
    broken = tmp_path / "broken"
    shutil.copytree(adapter, broken)
    state = load_file(str(broken / "adapter_model.safetensors"))
    state[bogus] = torch.zeros(4, 64)
    save_file(state, str(broken / "adapter_model.safetensors"))
    with pytest.raises(ModelLoadError, match=why) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _load(broken, tiny_qwen_dir)
    assert bogus in str(err.value)  # the offending key, as written in the file


def test_adapter_missing_weights_for_targets_fails(released_adapter, tiny_qwen_dir, tmp_path):
    adapter = released_adapter[0]
    broken = tmp_path / "partial"
    shutil.copytree(adapter, broken)
    state = load_file(str(broken / "adapter_model.safetensors"))
    gone = [k for k in state if "layers.1.mlp.down_proj" in k]
    save_file({k: v for k, v in state.items() if k not in gone}, str(broken / "adapter_model.safetensors"))
    with pytest.raises(ModelLoadError, match="layers.1.mlp.down_proj"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _load(broken, tiny_qwen_dir)


def test_unreachable_hub_ids_raise_model_load_error(released_adapter, tiny_qwen_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="--local-dir DIR"):
        ClamrEncoder.from_pretrained("clamr-frames-tests/no-such-adapter", base_model=tiny_qwen_dir,
                                     device="cpu", local_files_only=True)
    with pytest.raises(ModelLoadError, match="no-such-base.*base_model='DIR'"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ClamrEncoder.from_pretrained(released_adapter[0], base_model="clamr-frames-tests/no-such-base",
                                     device="cpu", local_files_only=True)
    with pytest.raises(ModelLoadError, match="no such directory"):
        ClamrEncoder.from_pretrained(str(tmp_path / "nowhere" / "x" / "y"), device="cpu", local_files_only=True)
    with pytest.raises(ModelLoadError, match="neither"):
        ClamrEncoder.from_pretrained(tiny_qwen_dir, device="cpu", local_files_only=True)


def test_4bit_needs_cuda(tiny_qwen_dir):
    with pytest.raises(ModelLoadError, match="CUDA"):
        ClamrEncoder.from_pretrained(tiny_qwen_dir, device="cpu", load_in_4bit=True, local_files_only=True)


def test_bare_base_model_gets_reference_head(tiny_qwen_dir):
    with pytest.warns(UserWarning, match="seed 42"):
        enc = ClamrEncoder.from_pretrained(None, base_model=tiny_qwen_dir, device="cpu", local_files_only=True)
    torch.testing.assert_close(enc.model.custom_text_proj.weight, reference_head_weight(128, 64), rtol=0, atol=0)
    assert torch.count_nonzero(enc.model.custom_text_proj.bias) == 0
    assert make_colqwen  # exported builder exists


@pytest.mark.slow
def test_adapter_names_its_backbone_and_training_settings(released_adapter, tiny_qwen_dir, tmp_path):
    """Without base_model=, the backbone comes from the training record or adapter_config.json; the training
    core's encoder settings are applied (explicit arguments still win)."""
    import shutil

    _, docs, _, _, installed = released_adapter
    ref = _load(installed, tiny_qwen_dir)
    ad = tmp_path / "trained"
    shutil.copytree(installed, ad)
    cfg = json.loads((ad / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tiny_qwen_dir)
    (ad / "adapter_config.json").write_text(json.dumps(cfg))
    enc = ClamrEncoder.from_pretrained(ad, device="cpu", local_files_only=True, output_dtype=torch.float32)
    assert enc.source["base_model"] == str(tiny_qwen_dir)
    torch.testing.assert_close(enc.encode_documents(docs).embeddings, ref.encode_documents(docs).embeddings,
                               atol=2e-5, rtol=0)

    (ad / "clamr_train.json").write_text(json.dumps({"kind": "clamr", "base_model": str(tiny_qwen_dir),
                                                     "settings": {"frame_size": 112}}))
    cfg["base_model_name_or_path"] = "no-such-org/no-such-model"  # the training record wins
    (ad / "adapter_config.json").write_text(json.dumps(cfg))
    enc = ClamrEncoder.from_pretrained(ad, device="cpu", local_files_only=True)
    assert enc.settings.frame_size == 112 and enc.source["base_model"] == str(tiny_qwen_dir)
    enc = ClamrEncoder.from_pretrained(ad, device="cpu", local_files_only=True, frame_size=56)
    assert enc.settings.frame_size == 56
