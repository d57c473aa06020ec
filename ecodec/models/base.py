"""The agent contract shared by every model.

An agent holds validated parameters.  Given its own Pyomo Block and the time grid it declares its local
variables and constraints and returns :class:`AgentTerms`: its cost expression and its *contributions*, a
mapping from a carrier name (:mod:`ecodec.carriers`) to one expression per step, injection positive.  It never
writes a coupling constraint: :class:`ecodec.problem.CoupledProblem` does, from the same ``build`` for the
centralized model and for each local subproblem, so the two views cannot drift.

Time-varying parameters are numpy arrays of length T, constants are floats; :func:`at` reads either at a step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyomo.environ as pyo

Param = float | np.ndarray


def at(value: Param, t: int) -> float:
    """Value of a constant or a profile (array, list or tuple) at step ``t`` (0-based)."""
    return float(value[t]) if isinstance(value, (np.ndarray, list, tuple)) else float(value)


@dataclass(frozen=True)
class TimeGrid:
    """Steps t = 0..T-1 of ``step_h`` hours each (the workbook numbers them 1..T)."""

    T: int
    step_h: float

    @property
    def steps(self) -> range:
        return range(self.T)


@dataclass(frozen=True)
class Output:
    """A per-step quantity an agent reports in results: ``component`` is the Var or Expression on its block."""

    quantity: str
    component: str
    unit: str


@dataclass
class AgentTerms:
    """What ``Agent.build`` returns: the cost (currency) and the per-step contributions to carriers."""

    cost: object
    contributions: dict[str, list]


class Agent(ABC):
    """Base class of all agent models; subclasses are dataclasses whose fields are the workbook columns."""

    kind: ClassVar[str]
    outputs: ClassVar[tuple[Output, ...]]
    name: str

    @abstractmethod
    def build(self, block: pyo.Block, grid: TimeGrid) -> AgentTerms:
        """Declare this agent's variables and constraints on ``block``; return its cost and contributions."""

    def is_mixed_integer(self) -> bool:
        """True when ``build`` declares integer variables."""
        return False

    def reported_outputs(self, block: pyo.Block) -> tuple[Output, ...]:
        """The outputs present on a built block (optional components may be absent)."""
        return tuple(o for o in self.outputs if block.component(o.component) is not None)
