"""``trust_remote_code`` stays off unless a caller asks: no model, tokenizer or processor load in the library runs
code shipped with the weights by default.

Two checks: every ``from_pretrained`` call in clamr_frames/ and qa_harness/ (read from the source) passes
``trust_remote_code`` as ``False`` or as a parameter whose default is ``False``, or leaves it out (transformers'
default is off); and the real loaders, run on tiny local models, hand transformers ``trust_remote_code`` off.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules():
    """(path, tree, parents) of every module of the two packages."""
    out = []
    for pkg in ("clamr_frames", "qa_harness"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
            out.append((path.relative_to(ROOT), tree, parents))
    return out


def _enclosing(node, parents):
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node = parents.get(node)
    return node


def _from_pretrained_calls(modules):
    for path, tree, parents in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
                yield path, node, _enclosing(node, parents)


def _default_of(fn, name):
    if fn is None:
        return None
    args = fn.args
    positional = args.posonlyargs + args.args
    for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        if a.arg == name:
            return d
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        if a.arg == name:
            return d
    return None


def _dict_value(fn, name: str, key: str):
    """The value of ``key`` in a dict literal assigned to ``name`` inside ``fn`` (``kw = {...}``), if any."""
    for node in ast.walk(fn) if fn is not None else ():
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, ast.Constant) and k.value == key:
                        return v
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "dict" and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):
            for k in node.value.keywords:
                if k.arg == key:
                    return k.value
    return None


def _off(v, fn, modules, depth: int = 4) -> bool:
    """``v`` (an argument expression inside ``fn``) is False, or a parameter defaulting to False, or a parameter
    without a default whose every caller (in any module of the two packages) passes one of those."""
    if isinstance(v, ast.Constant):
        return v.value is False
    if not isinstance(v, ast.Name) or fn is None or depth == 0:
        return False
    default = _default_of(fn, v.id)
    if default is not None:
        return isinstance(default, ast.Constant) and default.value is False
    positional = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if v.id not in positional + [a.arg for a in fn.args.kwonlyargs]:
        return False  # a local name: not followed
    callers = []
    for _, tree, parents in modules:
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and (isinstance(n.func, ast.Name) and n.func.id == fn.name
                                            or isinstance(n.func, ast.Attribute) and n.func.attr == fn.name):
                callers.append((n, parents))
    if not callers:
        return False
    for c, parents in callers:
        arg = next((k.value for k in c.keywords if k.arg == v.id), None)
        if arg is None and v.id in positional:
            i = positional.index(v.id) - (1 if positional[0] in ("self", "cls") else 0)
            arg = c.args[i] if 0 <= i < len(c.args) else None
        outer = _enclosing(c, parents)
        if arg is None or outer is fn or not _off(arg, outer, modules, depth - 1):
            return False
    return True


def test_every_from_pretrained_call_keeps_remote_code_off():
    modules = _modules()
    calls = list(_from_pretrained_calls(modules))
    assert len(calls) >= 8  # the CLaMR, default, CLIP, LanguageBind and answerer loads
    bad = []
    for path, call, fn in calls:
        for kw in call.keywords:
            if kw.arg == "trust_remote_code":
                v = kw.value
            elif kw.arg is None and isinstance(kw.value, ast.Name):  # **kw: the dict it was built as
                v = _dict_value(fn, kw.value.id, "trust_remote_code")
                if v is None:
                    continue
            else:
                continue
            if not _off(v, fn, modules):
                bad.append(f"{path}:{call.lineno}")
    assert not bad, f"from_pretrained with trust_remote_code not off by default: {bad}"


@pytest.fixture
def loads(monkeypatch):
    """Every from_pretrained that reaches transformers' base classes, with the trust_remote_code it got."""
    import transformers

    seen = []
    for cls in (transformers.PreTrainedModel, transformers.PreTrainedTokenizerBase, transformers.ProcessorMixin,
                transformers.AutoTokenizer, transformers.AutoModel, transformers.AutoProcessor,
                transformers.image_processing_base.ImageProcessingMixin):
        real = cls.__dict__["from_pretrained"].__func__

        def spy(klass, *args, _real=real, **kwargs):
            seen.append((klass.__name__, kwargs.get("trust_remote_code", False)))
            return _real(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    return seen


@pytest.mark.slow
def test_loaders_pass_remote_code_off(loads, tiny_qwen_dir, tiny_clip_dir):
    import torch

    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.encoders.clip import ClipEncoder
    from clamr_frames.encoders.default import DefaultEncoder

    DefaultEncoder(device="cpu")
    ClipEncoder.from_pretrained(tiny_clip_dir, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bare backbone's freshly initialised head
        ClamrEncoder.from_pretrained(None, base_model=tiny_qwen_dir, device="cpu", output_dtype=torch.float32)
    names = {n for n, _ in loads}
    assert {"Qwen2_5_VLForConditionalGeneration", "CLIPModel"} <= names, names
    assert len(loads) >= 5
    assert [c for c in loads if c[1]] == []
