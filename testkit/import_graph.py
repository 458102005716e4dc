"""The module import graph of clamr_frames/ and qa_harness/, read from the source (``python -m testkit.import_graph``).

Every ``import`` / ``from ... import`` statement counts, wherever it is: at module level, inside a function or
a method, under ``if TYPE_CHECKING`` or in a ``try``. An edge ``a -> b`` means module ``a`` names module ``b``
(``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``; implicit imports of
parent packages are not edges). Only modules of the two packages are nodes.

It reports:

- **circles**: strongly connected components of more than one module (imports inside functions included, so
  a circle "broken" by a lazy import is still a circle);
- **stage violations**: an edge from a module on a lower floor to one on a higher floor. Floors, bottom up:
  ``base`` (errors, types, _fs, _machine, _settings, keyed_store, run_info, evaluation, _minilm: imported by anyone), then the
  pipeline stages ``video``, ``context``, ``encoders``, ``index``, ``scoring``, ``select``, then ``top`` (the
  façade ``selector``, ``cli``, ``demo``, ``messages``, ``plot``, ``questions``, the package ``__init__``/``__main__``,
  ``train``, ``synth``, ``report`` and all of ``qa_harness``). A module may import its own floor and any floor
  below it. Modules this map does not place are listed as *unplaced* and take no part in the check;
- **climbs back up when following ``video`` from ``FrameSelector.select``**, defined as follows. Start in
  ``clamr_frames.selector.FrameSelector.select`` with its parameter ``video`` as the tracked name. Walk the
  function's calls in source order (by line, then column). A call *passes the video on* when one of its
  arguments is a tracked name, or ``str(x)`` / ``Path(x)`` / ``os.fspath(x)`` of one. Such a call is followed
  when its callee resolves statically to a function of the two packages: a function of the same module, a
  name imported with ``from m import f`` (at module level or in the function), ``alias.f`` for an imported
  module, or ``self.f`` for a method of the same class; a class resolves to its ``__init__``. The callee's
  parameter that receives the video becomes its tracked name, and its body is walked the same way (depth
  first; a function already walked is recorded but not walked again). The *trace* is the list of the callees'
  modules in the order the calls are met, leaving out ``base`` modules (an error naming the file is not a place
  the video goes). A *climb back up* is a step of the trace to a higher floor than the previous entry's (floors
  as above, stages ordered video < context < encoders < index < scoring < select < top). A pipeline that hands the video down once (selector -> index -> video) climbs 0 times; every
  time a lower stage is left and a higher one entered again, the video went back up a floor.

``python -m testkit.import_graph [--json]`` prints the summary, the circles, the violations, the trace and the
number of climbs; tests/packaging/test_import_graph.py asserts no circle and no violation.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("clamr_frames", "qa_harness")

FLOORS = ["base", "video", "context", "encoders", "index", "scoring", "select", "top"]
_BASE = {"errors", "types", "_fs", "_machine", "_settings", "keyed_store", "run_info", "evaluation", "_minilm"}
_TOP = {"selector", "cli", "demo", "messages", "plot", "questions", "__init__", "__main__", "train", "synth", "report", "selections"}
_STAGES = {"video", "context", "encoders", "index", "scoring", "select"}
# stage helpers that live at the package's top level
_STAGE_OF_TOP_MODULE: dict[str, str] = {}


def floor_of(module: str) -> str | None:
    """The floor of a dotted module name, or None when the map does not place it."""
    parts = module.split(".")
    if parts[0] == "qa_harness":
        return "top"
    if parts[0] != "clamr_frames":
        return None
    if len(parts) == 1:
        return "top"  # the package __init__
    head = parts[1]
    if head in _STAGES:
        return head
    if head in _STAGE_OF_TOP_MODULE:
        return _STAGE_OF_TOP_MODULE[head]
    if head in _BASE:
        return "base"
    if head in _TOP:
        return "top"
    return None


def rank(module: str) -> int | None:
    f = floor_of(module)
    return None if f is None else FLOORS.index(f)


# ------------------------------------------------------------------------------------------------ reading
@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    imports: set[str] = field(default_factory=set)


def discover(root: Path = ROOT, packages=PACKAGES) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            mods[name] = Module(name, path, is_package, tree)
    return mods


def _absolute(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _targets(mod: Module, node: ast.AST, known: dict[str, Module]) -> list[str]:
    out = []
    if isinstance(node, ast.Import):
        for a in node.names:
            name = a.name
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.append(name)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(mod, node)
        for a in node.names:
            full = f"{base}.{a.name}"
            if full in known:
                out.append(full)
            elif base in known:
                out.append(base)
    return out


def build_graph(mods: dict[str, Module]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for m in mods.values():
        edges = set()
        for node in ast.walk(m.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _targets(m, node, mods) if t != m.name)
        m.imports = edges
        graph[m.name] = edges
    return graph


# ------------------------------------------------------------------------------------------------ checks
def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Edges from a lower floor to a higher one."""
    bad = []
    for a, targets in graph.items():
        ra = rank(a)
        for b in targets:
            rb = rank(b)
            if ra is not None and rb is not None and rb > ra:
                bad.append((a, b))
    return sorted(bad)


def unplaced(graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m in graph if floor_of(m) is None)


# ------------------------------------------------------------------------------------- following the video
_WRAPPERS = {"str", "Path", "fspath"}


def _functions(mods: dict[str, Module]):
    """(module, qualname) -> FunctionDef, and (module, class) -> ClassDef."""
    funcs, classes = {}, {}
    for m in mods.values():
        for node in m.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs[(m.name, node.name)] = node
            elif isinstance(node, ast.ClassDef):
                classes[(m.name, node.name)] = node
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        funcs[(m.name, f"{node.name}.{item.name}")] = item
    return funcs, classes


def _import_names(mod: Module, scope: ast.AST, mods: dict[str, Module]) -> dict[str, tuple[str, str | None]]:
    """Names bound by imports at module level and inside ``scope``: name -> (module, attribute or None)."""
    names: dict[str, tuple[str, str | None]] = {}
    for body in (mod.tree.body, list(ast.walk(scope))):
        for node in body:
            if isinstance(node, ast.ImportFrom):
                base = _absolute(mod, node)
                for a in node.names:
                    full = f"{base}.{a.name}"
                    names[a.asname or a.name] = (full, None) if full in mods else (base, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and a.name in mods:
                        names[a.asname] = (a.name, None)
    return names


def _passes(arg: ast.AST, tracked: set[str]) -> bool:
    if isinstance(arg, ast.Name):
        return arg.id in tracked
    if isinstance(arg, ast.Call) and len(arg.args) == 1:
        f = arg.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        return fname in _WRAPPERS and _passes(arg.args[0], tracked)
    return False


def _param_for(fn: ast.FunctionDef, call: ast.Call, tracked: set[str], bound: bool) -> str | None:
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if bound and params:
        params = params[1:]
    for i, arg in enumerate(call.args):
        if _passes(arg, tracked) and i < len(params):
            return params[i]
    for kw in call.keywords:
        if kw.arg and _passes(kw.value, tracked):
            return kw.arg
    return None


def follow_video(mods: dict[str, Module], start=("clamr_frames.selector", "FrameSelector.select"),
                 param: str = "video") -> list[tuple[str, str]]:
    """The trace: (module, function) of every call that passes the video on, in the walk's order."""
    funcs, classes = _functions(mods)
    trace: list[tuple[str, str]] = []
    walked: set[tuple[str, str]] = set()

    def lookup(module: str, attr: str, hops: int = 4) -> tuple[str, str] | None:
        """A function or class ``attr`` of ``module``, following re-exports (``from .reader import X``)."""
        if (module, attr) in funcs:
            return (module, attr)
        if (module, attr) in classes:
            return (module, f"{attr}.__init__")
        if hops and module in mods:
            reexport = _import_names(mods[module], ast.Module(body=[], type_ignores=[]), mods).get(attr)
            if reexport and reexport[1] is not None:
                return lookup(reexport[0], reexport[1], hops - 1)
        return None

    def resolve(mod: Module, cls: str | None, call: ast.Call, names) -> tuple[tuple[str, str], bool] | None:
        f = call.func
        target = None
        if isinstance(f, ast.Name):
            if (mod.name, f.id) in funcs:
                target = (mod.name, f.id)
            elif (mod.name, f.id) in classes:
                target = (mod.name, f"{f.id}.__init__")
            elif f.id in names and names[f.id][1] is not None:
                target = lookup(*names[f.id])
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner = f.value.id
            if owner in ("self", "cls") and cls is not None:
                target = (mod.name, f"{cls}.{f.attr}")
                return (target, True) if target in funcs else None
            if owner in names and names[owner][1] is None:
                target = lookup(names[owner][0], f.attr)
            elif (mod.name, owner) in classes:  # a classmethod / staticmethod called on a class of the module
                target = (mod.name, f"{owner}.{f.attr}")
                return (target, True) if target in funcs else None
        if target is None or target not in funcs:
            return None
        return target, target[1].endswith(".__init__")

    def walk(key: tuple[str, str], tracked: set[str]) -> None:
        walked.add(key)
        mod = mods[key[0]]
        fn = funcs[key]
        cls = key[1].split(".")[0] if "." in key[1] else None
        names = _import_names(mod, fn, mods)
        calls = sorted((n for n in ast.walk(fn) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset))
        for call in calls:
            if not any(_passes(a, tracked) for a in [*call.args, *(k.value for k in call.keywords)]):
                continue
            hit = resolve(mod, cls, call, names)
            if hit is None:
                continue
            target, bound = hit
            p = _param_for(funcs[target], call, tracked, bound)
            if p is None:
                continue
            trace.append(target)
            if target not in walked:
                walk(target, {p})

    trace.append(start)
    walk(start, {param})
    return trace


def climbs(trace: list[tuple[str, str]]) -> int:
    """Steps of the trace to a higher floor than the previous entry's."""
    ranks = [rank(m) for m, _ in trace]
    ranks = [r for r in ranks if r is not None and r > 0]  # base modules are left out
    return sum(1 for a, b in zip(ranks, ranks[1:]) if b > a)


# ------------------------------------------------------------------------------------------------ report
def analyse(root: Path = ROOT) -> dict:
    mods = discover(root)
    graph = build_graph(mods)
    per_floor: dict[str, int] = defaultdict(int)
    for m in graph:
        per_floor[floor_of(m) or "unplaced"] += 1
    try:
        trace = follow_video(mods)
    except KeyError:  # FrameSelector.select moved: no trace
        trace = []
    return {
        "modules": len(graph),
        "edges": sum(len(v) for v in graph.values()),
        "modules_per_floor": {f: per_floor[f] for f in [*FLOORS, "unplaced"] if per_floor.get(f)},
        "circles": circles(graph),
        "stage_violations": [list(e) for e in violations(graph)],
        "unplaced": unplaced(graph),
        "video_trace": [f"{m}.{f} [{floor_of(m)}]" for m, f in trace if floor_of(m) != "base"],
        "climbs_back_up": climbs(trace),
        "graph": {k: sorted(v) for k, v in sorted(graph.items())},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testkit.import_graph", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print everything (the graph too) as JSON")
    a = ap.parse_args(argv)
    r = analyse()
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"{r['modules']} modules, {r['edges']} import edges (imports inside functions included)")
    print("modules per floor: " + ", ".join(f"{k} {v}" for k, v in r["modules_per_floor"].items()))
    print(f"\nimport circles: {len(r['circles'])}")
    for c in r["circles"]:
        print("  " + " <-> ".join(c))
    print(f"\nimports from a lower floor to a higher one (stage violations): {len(r['stage_violations'])}")
    for a_, b in r["stage_violations"]:
        print(f"  {a_} [{floor_of(a_)}] -> {b} [{floor_of(b)}]")
    if r["unplaced"]:
        print(f"\nmodules the floor map does not place (not checked): {', '.join(r['unplaced'])}")
    print(f"\nfollowing `video` from FrameSelector.select ({len(r['video_trace'])} calls):")
    for step in r["video_trace"]:
        print("  " + step)
    print(f"climbs back up: {r['climbs_back_up']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
