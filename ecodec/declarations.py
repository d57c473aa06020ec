"""Declared values: one declaration per agent parameter, workbook column and method option.

A :class:`Declared` says once what a value is: its type, unit, bounds or choices, default, description and
whether it may be a profile (one value per step).  Everything that needs to know that reads the declaration:

* the workbook reader parses and checks cells with it (:mod:`ecodec.io.sheet_reader`), and reports a bad cell with
  :meth:`Declared.expected`;
* an agent built in Python checks its parameters with :func:`check_values` (the same words, without the cell;
  :class:`ecodec.models.parameters.DeclaredAgent`);
* a method's options are parsed from text (``-O key=value``, the workbook's ``drivers`` sheet) with
  :meth:`Declared.parse` and checked with :meth:`Declared.problem`;
* the blank template, the docs tables and ``ecodec methods`` print :meth:`Declared.expected` and the description.

A :class:`Rule` checks several values of one row together (``p_min_kw <= p_max_kw``); its first name is where a
violation is reported.

>>> power = Declared("p_max_kw", NUMBER, "kW", "Highest power.", lower=0.0, profile=True)
>>> power.expected()
"a number >= 0 or the name of a 'timeseries' column whose values are all >= 0"
>>> power.problem(-5.0) is not None, power.problem(5.0)
(True, None)
>>> Declared("steps", INTEGER, lower=1).problem(True)   # a boolean is never taken for a number
'a whole number >= 1'
>>> Declared("mode", CHOICE, choices=("a", "b")).parse("b")
'b'
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

NUMBER, INTEGER, TEXT, BOOL, CHOICE = "number", "integer", "text", "bool", "choice"
DTYPES = (NUMBER, INTEGER, TEXT, BOOL, CHOICE)
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class Declared:
    """One declared value: a workbook column, an agent parameter or a method option.

    ``required`` with no ``default``: a value must be given.  ``optional``: None is a valid value (an empty cell,
    'none' on the command line), meaning what the description says.  ``lower_open``/``upper_open`` exclude the
    bound itself.  ``profile``: a number per step is accepted too (a numpy array of length T; in a workbook the
    name of a ``timeseries`` column).  ``aliases``: other spellings of a choice, as (alias, choice) pairs.
    ``dates``: a text that may be a date (meta ``start``): what Excel makes of a typed ``2019-04-17 00:00`` (a date
    cell) is taken as the text ``2019-04-17 00:00``, the form the typed text itself is kept in (:func:`date_text`).
    """

    name: str
    dtype: str
    unit: str = "-"
    description: str = ""
    required: bool = True
    default: object = None
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    upper_open: bool = False
    profile: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    optional: bool = False
    dates: bool = False

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"{self.name}: dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    # -- words ---------------------------------------------------------------------------------------------
    def expected(self) -> str:
        """What a valid value looks like, in the words error messages, the template and the docs use."""
        if self.dtype == CHOICE:
            also = f" (or {', '.join(repr(a) for a, _ in self.aliases)})" if self.aliases else ""
            text = "one of " + ", ".join(repr(c) for c in self.choices) + also
        elif self.dtype == BOOL:
            text = "TRUE or FALSE (also yes/no, 1/0)"
        elif self.dtype == TEXT:
            text = "a non-empty text or a date (such as 2019-04-17 00:00)" if self.dates else "a non-empty text"
        else:
            kind = "a whole number" if self.dtype == INTEGER else "a number"
            rng = self.range_text()
            text = f"{kind}{' ' + rng if rng else ''}"
            if self.profile:
                text += " or the name of a 'timeseries' column whose values are all " + (rng or "numbers")
        return text + (", or none" if self.optional else "")

    def range_text(self) -> str:
        lo, hi = self.lower, self.upper
        if lo is not None and hi is not None:
            return f"in {'(' if self.lower_open else '['}{lo:g}, {hi:g}{')' if self.upper_open else ']'}"
        if lo is not None:
            return f"{'>' if self.lower_open else '>='} {lo:g}"
        if hi is not None:
            return f"{'<' if self.upper_open else '<='} {hi:g}"
        return ""

    @property
    def has_default(self) -> bool:
        """Whether the value may be left out (it then takes ``default``, which may be None)."""
        return not self.required or self.default is not None

    # -- checks --------------------------------------------------------------------------------------------
    def in_range(self, value: float | np.ndarray) -> bool:
        arr = np.asarray(value, dtype=float)
        ok = np.isfinite(arr)
        if self.lower is not None:
            ok &= arr > self.lower if self.lower_open else arr >= self.lower
        if self.upper is not None:
            ok &= arr < self.upper if self.upper_open else arr <= self.upper
        return bool(np.all(ok))

    def problem(self, value: object, steps: int | None = None) -> str | None:
        """None when ``value`` (a typed Python value) is valid, else what was expected.  ``steps``: the length a
        profile must have, when known."""
        if value is None:
            return None if (self.optional or not self.required) else self.expected()
        if self.dtype == BOOL:
            return None if isinstance(value, (bool, np.bool_)) else self.expected()
        if self.dtype == TEXT:
            return None if isinstance(value, str) and value.strip() else self.expected()
        if self.dtype == CHOICE:
            return None if isinstance(value, str) and value in self.choices else self.expected()
        if isinstance(value, (bool, np.bool_)):
            return self.expected()
        if isinstance(value, (np.ndarray, list, tuple)):
            arr = np.asarray(value)
            if not self.profile or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
                return self.expected()
            if steps is not None and arr.size != steps:
                return f"{self.expected()}, one value per step (T = {steps}), not {arr.size}"
        elif not isinstance(value, (int, float, np.integer, np.floating)):
            return self.expected()
        elif self.dtype == INTEGER and not float(value).is_integer():
            return self.expected()
        return None if self.in_range(value) else self.expected()

    def parse(self, text: object) -> object:
        """A typed value from text or a number (a workbook cell, ``key=value`` on the command line); raises
        ValueError with :meth:`expected` when it cannot be read.  Profiles are not resolved here."""
        raw = text.strip() if isinstance(text, str) else text
        if raw is None or (isinstance(raw, str) and (raw == "" or (self.optional and raw.lower() == "none"))):
            if self.optional or not self.required:
                return None if self.optional else self.default
            raise ValueError(self.expected())
        if self.dtype == BOOL:
            if isinstance(raw, (bool, np.bool_)):
                return bool(raw)
            if isinstance(raw, (int, float)) and raw in (0, 1):
                return bool(raw)
            word = str(raw).lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError(self.expected())
        if self.dtype == TEXT:
            if isinstance(raw, bool):
                raise ValueError(self.expected())
            if self.dates and isinstance(raw, datetime.date):
                return date_text(raw)
            return format_number(raw) if isinstance(raw, (int, float)) else str(raw)
        if self.dtype == CHOICE:
            word = format_number(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else str(raw)
            word = dict(self.aliases).get(word.lower(), word)
            if word in self.choices:
                return word
            raise ValueError(self.expected())
        if isinstance(raw, bool):
            raise ValueError(self.expected())
        number = raw if isinstance(raw, (int, float)) else parse_number(raw)
        if number is None or not math.isfinite(number):
            raise ValueError(self.expected())
        if self.dtype == INTEGER:
            if not (math.isfinite(number) and float(number).is_integer()):
                raise ValueError(self.expected())
            return int(number)
        return float(number)


@dataclass(frozen=True)
class Rule:
    """A check across values of one row (profiles as arrays of length T).  ``names`` are the values it reads; the
    first one is where a violation is reported.  ``check`` may also read ``T`` and ``step_h`` (the horizon) when
    ``needs_horizon``; such a rule is checked only where the horizon is known."""

    names: tuple[str, ...]
    check: Callable[[dict], bool]
    expected: str
    needs_horizon: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The names, as the workbook calls them (columns of one row)."""
        return self.names


def at_most(a: str, b: str) -> Rule:
    """The rule ``a <= b`` at every step."""
    return Rule((a, b), lambda r: bool(np.all(np.asarray(r[a]) <= np.asarray(r[b]))), f"{a} <= {b} at every step")


def check_values(declared: Iterable[Declared], rules: Iterable[Rule], values: Mapping[str, object],
                 horizon: Mapping[str, object] | None = None) -> list[tuple[str, object, str]]:
    """Every problem of ``values`` against the declarations and rules, as (name, value, expected), in declaration
    order; a rule is checked only when its values are valid (and the horizon known, if it needs one)."""
    steps = int(horizon["T"]) if horizon else None
    problems = []
    for item in declared:
        value = values.get(item.name)
        expected = item.problem(value, steps)
        if expected is not None:
            problems.append((item.name, value, expected))
    return problems + check_rules(rules, values, horizon, invalid={name for name, _, _ in problems})


def check_rules(rules: Iterable[Rule], values: Mapping[str, object], horizon: Mapping[str, object] | None = None,
                invalid: Iterable[str] = ()) -> list[tuple[str, object, str]]:
    """The rules ``values`` break, as (name, value, expected), in rule order.  A rule reading a name in ``invalid``
    (or one an earlier rule reported) is skipped, and so is a rule that needs the horizon when it is None."""
    problems, bad = [], set(invalid)
    for rule in rules:
        if bad.intersection(rule.names) or (rule.needs_horizon and horizon is None):
            continue
        try:
            ok = rule.check({**values, **(horizon or {})})
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append((rule.names[0], values.get(rule.names[0]), rule.expected))
            bad.add(rule.names[0])
    return problems


def parse_number(text: object) -> float | None:
    """A finite float from text such as '1.5' or '2e3'; None for anything else (a number that is not text too)."""
    if not isinstance(text, str):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def date_text(value: datetime.date) -> str:
    """A date (or date and time) as the text a user types for it: ``2019-04-17 00:00`` (seconds when not 0).

    >>> date_text(datetime.datetime(2019, 4, 17)), date_text(datetime.date(2019, 4, 17))
    ('2019-04-17 00:00', '2019-04-17 00:00')
    """
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    return value.strftime("%Y-%m-%d %H:%M" if not value.second and not value.microsecond else "%Y-%m-%d %H:%M:%S")


def format_number(value: float | int) -> str:
    """A number as text without a spurious '.0' (3.0 -> '3')."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

