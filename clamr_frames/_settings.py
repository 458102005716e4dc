"""One ``to_dict`` / ``from_dict`` for the frozen settings dataclasses (CLaMR, the default encoder, LanguageBind
audio features): what an encoder records in its saved config and reads back."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar, TypeVar

from clamr_frames.errors import InputError

S = TypeVar("S", bound="Settings")


def unknown_keys(cls: type, d: dict[str, Any]) -> list[str]:
    """Keys of ``d`` that are not fields of the dataclass ``cls``, sorted."""
    return sorted(set(d) - {f.name for f in fields(cls)})


class Settings:
    """Mixin for a settings dataclass: ``to_dict`` (JSON-ready: tuples become lists) and ``from_dict``, which
    refuses unknown keys (a typo in a saved config or a keyword would otherwise be dropped without a word).

    ``label`` names the settings in that error (``"unknown CLaMR setting(s): ..."``).
    """

    label: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        """Build from a dict of field values; validation is the dataclass's own (``__post_init__``).

        Raises:
            InputError: a key that is not a field (the message lists the known ones).
        """
        unknown = unknown_keys(cls, d)
        if unknown:
            known = ", ".join(f.name for f in fields(cls))  # type: ignore[arg-type]
            raise InputError(f"unknown {cls.label} setting(s): {', '.join(unknown)} (known: {known})")
        return cls(**d)
