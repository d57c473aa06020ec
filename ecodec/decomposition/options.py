"""Typed options declared once: each option's type, unit, description, default and range, and the checks and the
parser that read that declaration.

A method's options are a frozen dataclass deriving from :class:`MethodOptions` whose fields are made by
:func:`option`: the field's metadata carries a :class:`~ecodec.declarations.Declared` (the same declaration the
workbook columns and agent parameters use).  From it, and nothing else,

* ``__post_init__`` checks every value (type, range, choices; a boolean is never taken for a number; None only
  where the option is ``optional``): a non-positive step or penalty is an error, never silently fixed;
* :meth:`MethodOptions.from_mapping` parses values given as text (the workbook's ``drivers`` sheet,
  ``--option key=value`` on the command line) with :meth:`Declared.parse`;
* ``ecodec methods`` prints each option's name, what it expects, unit, default and description
  (:func:`~ecodec.decomposition.registry.methods_help`).

Every refusal reads ``<method> option <key> must be <expected>, got <value>``.  A check that reads several
options together is a :class:`~ecodec.declarations.Rule` in the class's ``rules`` (its first name is the option
the message names).

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class StepOptions(MethodOptions):
...     method = "example"
...     step_size: float = option(0.1, "-", "Step of the update.", lower=0.0, lower_open=True)
>>> StepOptions.from_mapping({"step_size": "0.5"}).step_size
0.5
>>> StepOptions(step_size=True)
Traceback (most recent call last):
...
ecodec.decomposition.options.OptionError: example option step_size must be a number > 0, got True
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ecodec.declarations import BOOL, CHOICE, INTEGER, NUMBER, TEXT, Declared, Rule
from ecodec.errors import EcodecError, did_you_mean
from ecodec.network import CommunicationNetwork, GraphSchedule
from ecodec.solvers.interior_qp import QP_SOLVERS

DECLARED = "declared"  # the key of a field's metadata that holds its declaration


class OptionError(EcodecError):
    """An option of a method is unknown, of the wrong type or out of range."""


def option(default: object, unit: str = "-", description: str = "", *, lower: float | None = None,
           upper: float | None = None, lower_open: bool = False, upper_open: bool = False,
           choices: tuple[str, ...] = (), optional: bool = False, dtype: str | None = None):
    """A dataclass field declared once: its ``default``, ``unit``, one-line ``description``, bounds (``lower_open``
    / ``upper_open`` exclude the bound), ``choices`` and whether None is a value (``optional``).  The type is the
    default's (bool, int, float, or a choice when ``choices`` are given) unless ``dtype`` names it (an optional
    option whose default is None)."""
    if dtype is None:
        dtype = (CHOICE if choices else BOOL if isinstance(default, bool) else INTEGER if isinstance(default, int)
                 else NUMBER if isinstance(default, float) else TEXT)
    declared = Declared("", dtype, unit, description, required=False, default=default, lower=lower, upper=upper,
                        lower_open=lower_open, upper_open=upper_open, choices=tuple(choices), optional=optional)
    return dataclasses.field(default=default, metadata={DECLARED: declared})


@dataclass(frozen=True)
class MethodOptions:
    """Base of every method's options; subclasses are frozen dataclasses whose fields are made by :func:`option`.

    ``method``: the name the messages give; ``rules``: checks across options (see the module docstring)."""

    method: ClassVar[str] = "method"
    rules: ClassVar[tuple[Rule, ...]] = ()

    def __post_init__(self):
        for name, declared in self.declarations().items():
            value = getattr(self, name)
            if declared.dtype == INTEGER and isinstance(value, float) and value.is_integer():
                object.__setattr__(self, name, int(value))  # 3.0 for a whole number: kept as the int 3
            if declared.problem(value) is not None:
                self.refuse(name, value, declared.expected())
        values = self.as_dict()
        for rule in self.rules:
            if not rule.check(values):
                self.refuse(rule.names[0], values[rule.names[0]], rule.expected)

    @classmethod
    def refuse(cls, key: str, value: object, expected: str) -> typing.NoReturn:
        raise OptionError(f"{cls.method} option {key} must be {expected}, got {value!r}")

    @classmethod
    def declarations(cls) -> dict[str, Declared]:
        """Every option's declaration, in field order, named."""
        return {f.name: dataclasses.replace(f.metadata[DECLARED], name=f.name) for f in dataclasses.fields(cls)}

    @classmethod
    def from_mapping(cls, values: typing.Mapping[str, object]) -> MethodOptions:
        """Options from text or numbers; unknown names and unreadable values raise :class:`OptionError`."""
        declared = cls.declarations()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            named = ", ".join(f"{name}{did_you_mean(name, declared)}" for name in unknown)
            raise OptionError(f"unknown {cls.method} option{'s' if len(unknown) > 1 else ''} {named}; known: "
                              f"{', '.join(sorted(declared))}")
        parsed = {}
        for key, value in values.items():
            try:
                parsed[key] = declared[key].parse(value.item() if isinstance(value, np.generic) else value)
            except ValueError:
                cls.refuse(key, value, declared[key].expected())
        return cls(**parsed)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


GRAPH_MODES = ("fixed", "random", "periodic")


def graph_option(choices: tuple[str, ...] = GRAPH_MODES, why: str = ""):
    """The ``graph`` option of a method on a fixed or time-varying graph (``why``: why some modes are left out)."""
    return option("fixed", "-", "communication graph per iteration: fixed (every edge of the case), random (each "
                  "edge active with edge_probability) or periodic (edges dealt over graph_period graphs)" + why,
                  choices=choices)


@dataclass(frozen=True)
class TimeVaryingGraphOptions(MethodOptions):
    """Options of a method that may run on a time-varying communication graph (:mod:`ecodec.network.time_varying`).

    ``graph``: ``fixed`` (every edge of the case's network at every iteration), ``random`` (each edge active with
    probability ``edge_probability`` per iteration, drawn from ``graph_seed``) or ``periodic`` (the edges dealt
    round-robin over ``graph_period`` graphs that repeat); ``connectivity_window`` B: the union of the graphs over
    every B consecutive iterations must be connected (None: the period, or 20 for random edges).
    """

    graph: str = graph_option()
    edge_probability: float = option(0.5, "-", "probability that an edge is active at an iteration (graph random)",
                                     lower=0.0, upper=1.0, lower_open=True)
    graph_seed: int = option(0, "-", "seed of the random edges", lower=0)
    graph_period: int = option(2, "iterations", "number of graphs the edges are dealt over (graph periodic)",
                               lower=2)
    connectivity_window: int | None = option(
        None, "iterations", "B: the union of the graphs over every B iterations must be connected (none: the period, "
        "or 20 for random edges)", lower=1, optional=True, dtype=INTEGER)

    def schedule(self, network: CommunicationNetwork) -> GraphSchedule:
        """The :class:`~ecodec.network.GraphSchedule` these options describe over ``network``."""
        return GraphSchedule(network, self.graph, edge_probability=self.edge_probability, seed=self.graph_seed,
                             period=self.graph_period, window=self.connectivity_window)


def decay_option(default: float = 0.6):
    """The ``step_decay`` of a diminishing step alpha_0 / (k + 1)^step_decay."""
    return option(default, "-", "exponent of the step's decay 1 / (k + 1)^step_decay (in (0.5, 1]: the steps sum to "
                  "infinity, their squares do not)", lower=0.5, upper=1.0, lower_open=True)


def mixed_integer_option():
    """The ``mixed_integer`` option of a method with a mixed-integer recovery."""
    return option("auto", "-", "auto: the mixed-integer version when an agent has integers (relaxation, recovery "
                  "at recovery_iteration, repair); relaxed: the LP relaxation only", choices=("auto", "relaxed"))


def mip_gap_option(default: float = 1e-6):
    """The ``mip_rel_gap`` option: the relative MIP gap at which a mixed-integer solve stops."""
    return option(default, "-", "relative MIP gap at which each mixed-integer solve stops (ignored for LPs)",
                  lower=0.0, upper=1.0, upper_open=True)


def qp_solver_option():
    """The ``qp_solver`` option of a method whose local steps are QPs."""
    return option("piqp", "-", "solver of the local QPs: piqp (PIQP's interior-point method; HiGHS's active-set QP "
                  "solver when it does not end optimal) or highs (HiGHS's active-set QP solver alone)",
                  choices=QP_SOLVERS)


__all__ = ["GRAPH_MODES", "MethodOptions", "OptionError", "TimeVaryingGraphOptions", "decay_option", "graph_option",
           "mip_gap_option", "mixed_integer_option", "option", "qp_solver_option"]
