"""Declared agent parameters: each parameter is declared once, on the agent class, and checked from there.

An agent class is a dataclass whose parameter fields are made with :func:`parameter`: the field carries a
:class:`~ecodec.declarations.Declared` (type, unit, description, bounds, default, whether a profile is allowed)
in its metadata.  The class also declares its workbook sheet (``sheet``, ``sheet_description``), its
cross-parameter ``rules`` and its ``example`` row.  From these:

* constructing an agent validates it (:meth:`DeclaredAgent.validate`); an invalid agent raises
  :class:`~ecodec.errors.AgentError` listing every problem in the workbook's words, without the cell;
* :mod:`ecodec.io.schema` builds the agent's workbook sheet, so the reader, the blank template and the docs
  table (``docs/workbook.md``) follow the class.

>>> from dataclasses import dataclass
>>> @dataclass(eq=False, kw_only=True)
... class Tank(DeclaredAgent):
...     kind, sheet, sheet_description = "tank", "tanks", "Water tanks."
...     volume_m3: float = parameter(NUMBER, "m3", "Volume.", lower=0.0)
>>> Tank("t1", volume_m3=2.0).volume_m3
2.0
>>> Tank("t2", volume_m3=-1.0)
Traceback (most recent call last):
...
ecodec.errors.AgentError: agent 't2' (tank): column 'volume_m3': got -1; expected a number >= 0
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field
from functools import cache
from typing import Any, ClassVar

from ecodec.declarations import NUMBER, TEXT, Declared, Rule, check_values
from ecodec.errors import AgentError, InputIssue

#: The metadata key of a parameter field's declaration
DECLARED = "ecodec.declared"

#: Every agent's name: the first column of each agent sheet
NAME = Declared("name", TEXT, description="Unique agent name across all agent sheets (used by 'network' and results).")


def parameter(dtype: str, unit: str = "-", description: str = "", *, default: object = MISSING, **limits) -> Any:
    """A dataclass field declaring one agent parameter (its name is the field's name).

    ``dtype``, ``unit``, ``description`` and the keywords ``lower``, ``upper``, ``lower_open``, ``upper_open``,
    ``profile`` and ``choices`` are those of :class:`~ecodec.declarations.Declared`.  With a ``default`` (None
    included) the parameter may be left out: an empty workbook cell, or a keyword not given in Python.
    """
    if default is MISSING:
        return field(metadata={DECLARED: Declared("", dtype, unit, description, **limits)})
    declared = Declared("", dtype, unit, description, required=False, default=default, **limits)
    return field(default=default, metadata={DECLARED: declared})


def efficiency(description: str, *, default: object = MISSING) -> Any:
    """An efficiency in (0, 1]."""
    return parameter(NUMBER, "-", description, default=default, lower=0.0, upper=1.0, lower_open=True)


def q_min_kvar() -> Any:
    """The lowest reactive power of an agent on the reactive balance."""
    return parameter(NUMBER, "kvar", "Lowest reactive power (negative = absorbing).", default=0.0, profile=True)


def q_max_kvar() -> Any:
    """The highest reactive power of an agent on the reactive balance."""
    return parameter(NUMBER, "kvar", "Highest reactive power.", default=0.0, profile=True)


@cache
def declared_parameters(cls: type) -> tuple[Declared, ...]:
    """The declarations of ``cls``'s parameter fields, in field order, each named after its field."""
    if not dataclasses.is_dataclass(cls):
        return ()
    return tuple(dataclasses.replace(f.metadata[DECLARED], name=f.name)
                 for f in dataclasses.fields(cls) if DECLARED in f.metadata)


@dataclass(eq=False)
class DeclaredAgent:
    """An agent whose parameters are declared fields (see the module docstring).

    Subclasses are ``@dataclass(eq=False, kw_only=True)``: the name may be given by position, every parameter
    by keyword, so required and defaulted parameters may come in any order (the workbook's column order).
    """

    name: str

    kind: ClassVar[str]
    #: The workbook sheet holding one row per agent of this kind, and what the sheet is for
    sheet: ClassVar[str]
    sheet_description: ClassVar[str]
    #: Checks across parameters; the first name of a rule is the column a violation is reported at
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: One valid row of the sheet (name, active and parameters), shown in the template and the docs
    example: ClassVar[dict] = {}

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def parameters(cls) -> tuple[Declared, ...]:
        """Every parameter's declaration, in the workbook's column order (the name not included)."""
        return declared_parameters(cls)

    @classmethod
    def example_agent(cls, name: str | None = None) -> DeclaredAgent:
        """The agent of the declared example row."""
        known = {p.name for p in cls.parameters()}
        return cls(name or cls.example["name"], **{k: v for k, v in cls.example.items() if k in known})

    def parameter_values(self) -> dict[str, object]:
        return {p.name: getattr(self, p.name) for p in self.parameters()}

    def problems(self, grid=None) -> list[InputIssue]:
        """Every problem of the parameters; rules reading the horizon (T, step_h) and the length of profiles are
        checked only when the time ``grid`` is given."""
        found = [] if NAME.problem(self.name) is None else [(NAME.name, self.name, NAME.expected())]
        horizon = None if grid is None else {"T": grid.T, "step_h": grid.step_h}
        found += check_values(self.parameters(), self.rules, self.parameter_values(), horizon)
        return [InputIssue(None, None, name, value, expected) for name, value, expected in found]

    def validate(self, grid=None) -> None:
        """Raise :class:`~ecodec.errors.AgentError` listing every problem (see :meth:`problems`)."""
        issues = self.problems(grid)
        if issues:
            raise AgentError(str(self.name), self.kind, issues)
