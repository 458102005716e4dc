"""Load the documentation site's Sphinx extensions (docs/_ext/*.py, not a package) for the tests, by file path,
without putting docs/_ext on ``sys.path``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"


def load(name: str) -> ModuleType:
    """The extension module ``docs/_ext/<name>.py``, registered in ``sys.modules`` under ``name`` so that a Sphinx
    ``conf.py`` can list it in ``extensions``."""
    if name in sys.modules:
        return sys.modules[name]
    return load_file(name, EXT / f"{name}.py")


def load_file(name: str, path: Path) -> ModuleType:
    """The module of the Python file ``path``, registered in ``sys.modules`` as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
