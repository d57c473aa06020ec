"""Typed, validated options shared by every method, and the parser that reads them from text.

Each method declares its options as a frozen dataclass deriving from :class:`MethodOptions`; the fields carry
their type and default, ``__post_init__`` validates them (a non-positive step or penalty is an error, never
silently fixed), and :meth:`MethodOptions.from_mapping` parses values given as text (a workbook's ``drivers``
sheet, ``--option key=value`` on the command line) with messages naming the method, the option, the value and
what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass

from ecodec.errors import EcodecError


class OptionError(EcodecError):
    """An option of a method is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class MethodOptions:
    """Base of every method's options; subclasses are frozen dataclasses with typed fields."""

    method = "method"

    @classmethod
    def from_mapping(cls, values: typing.Mapping[str, object]) -> MethodOptions:
        """Options from text or numbers; unknown names and unparsable values raise :class:`OptionError`."""
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionError(f"unknown {cls.method} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        parsed = {key: _parse(cls.method, key, value, hints[key]) for key, value in values.items()}
        return cls(**parsed)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _parse(method: str, key: str, value: object, hint) -> object:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    text = value.strip() if isinstance(value, str) else value
    if type(None) in allowed and (text is None or (isinstance(text, str) and text.lower() in {"", "none"})):
        return None
    for kind in allowed:
        if kind is bool:
            if isinstance(text, bool):
                return text
            if isinstance(text, str) and text.lower() in {"true", "yes", "1", "false", "no", "0"}:
                return text.lower() in {"true", "yes", "1"}
        elif kind is int:
            try:
                number = float(text)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number) and number == int(number):
                return int(number)
        elif kind is float:
            try:
                return float(text)
            except (TypeError, ValueError):
                continue
        elif kind is str and isinstance(text, str):
            return text
    names = " or ".join("nothing" if k is type(None) else k.__name__ for k in allowed)
    raise OptionError(f"{method} option {key} must be {names}, got {value!r}")


def require(condition: bool, method: str, key: str, value: object, expected: str) -> None:
    """Raise :class:`OptionError` naming the option, its value and what was expected unless ``condition``."""
    if not condition:
        raise OptionError(f"{method} option {key} must be {expected}, got {value!r}")
