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
from ecodec.network import CommunicationNetwork, GraphSchedule


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


GRAPH_MODES = ("fixed", "random", "periodic")


@dataclass(frozen=True)
class TimeVaryingGraphOptions(MethodOptions):
    """Options of a method that may run on a time-varying communication graph (:mod:`ecodec.network.time_varying`).

    ``graph``: ``fixed`` (every edge of the case's network at every iteration), ``random`` (each edge active with
    probability ``edge_probability`` per iteration, drawn from ``graph_seed``) or ``periodic`` (the edges dealt
    round-robin over ``graph_period`` graphs that repeat); ``connectivity_window`` B: the union of the graphs over
    every B consecutive iterations must be connected (None: the period, or 20 for random edges).
    """

    graph: str = "fixed"
    edge_probability: float = 0.5
    graph_seed: int = 0
    graph_period: int = 2
    connectivity_window: int | None = None

    def __post_init__(self):
        require(self.graph in GRAPH_MODES, self.method, "graph", self.graph, "one of " + ", ".join(GRAPH_MODES))
        require(isinstance(self.edge_probability, (int, float)) and 0 < self.edge_probability <= 1, self.method,
                "edge_probability", self.edge_probability, "a number in (0, 1]")
        require(isinstance(self.graph_seed, int) and self.graph_seed >= 0, self.method, "graph_seed", self.graph_seed,
                "an integer >= 0")
        require(isinstance(self.graph_period, int) and self.graph_period >= 2, self.method, "graph_period",
                self.graph_period, "an integer >= 2")
        require(self.connectivity_window is None or (isinstance(self.connectivity_window, int)
                                                     and self.connectivity_window >= 1), self.method,
                "connectivity_window", self.connectivity_window, "an integer >= 1, or none")

    def schedule(self, network: CommunicationNetwork) -> GraphSchedule:
        """The :class:`~ecodec.network.GraphSchedule` these options describe over ``network``."""
        return GraphSchedule(network, self.graph, edge_probability=self.edge_probability, seed=self.graph_seed,
                             period=self.graph_period, window=self.connectivity_window)
