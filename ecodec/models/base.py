"""The agent contract shared by every model.

An agent holds validated parameters, each declared once on its class (:mod:`ecodec.models.parameters`): the
workbook sheet, the template, the docs table and the checks of an agent built in Python all read that
declaration.  Given its own Pyomo Block and the time grid it declares its local variables and constraints and
returns :class:`AgentTerms`: its cost expression and its *contributions*, a mapping from a carrier name
(:mod:`ecodec.carriers`) to one expression per step, injection positive.  It never writes a coupling constraint:
:class:`ecodec.problem.CoupledProblem` does, from the same ``build`` for the centralized model and for each local
subproblem, so the two views cannot drift.

Time-varying parameters are numpy arrays of length T, constants are floats; :func:`at` reads either at a step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyomo.environ as pyo

from ecodec.models.parameters import DeclaredAgent

Param = float | np.ndarray


def at(value: Param, t: int) -> float:
    """Value of a constant or a profile (array, list or tuple) at step ``t`` (0-based).  A Pyomo parameter stands
    for the number while one layout is compiled for many agents (:mod:`ecodec.solvers.shared_layout`) and is
    returned as it is (a profile's entry at ``t``)."""
    if isinstance(value, (np.ndarray, list, tuple)):
        return float(value[t])
    if hasattr(value, "is_indexed"):  # a Pyomo component
        return value[t] if value.is_indexed() else value
    return float(value)


@dataclass(frozen=True)
class TimeGrid:
    """Steps t = 0..T-1 of ``step_h`` hours each (the workbook numbers them 1..T); ``start``: the local time at
    which the first step starts, as the case writes it (empty when the case has none; see
    :mod:`ecodec.time_steps`)."""

    T: int
    step_h: float
    start: str = ""

    @property
    def steps(self) -> range:
        return range(self.T)


@dataclass(frozen=True)
class Output:
    """A per-step quantity an agent reports in results: ``component`` is the Var or Expression on its block;
    ``label``: what the quantity is in words, for figures and tables (the unit is added there, e.g. 'grid import'
    becomes 'grid import [kW]'); empty: the quantity's name is shown with spaces for underscores.

    ``band``: the names of the agent's two parameters (constants or profiles) between which the quantity must stay,
    ``(lower, upper)``, as lo_k <= y_k <= hi_k at every step k (a zone temperature and its comfort band); the
    report draws every agent's trajectory against its band and the largest violation max_k max(lo_k - y_k,
    y_k - hi_k, 0).  ``schedule``: the quantity is an operating schedule the report draws per agent over time (a
    chiller's cooling output, a storage's charging).  Neither changes the model."""

    quantity: str
    component: str
    unit: str
    label: str = ""
    band: tuple[str, str] | tuple[()] = ()
    schedule: bool = False

    def unit_in(self, currency: str) -> str:
        """The unit with the case's currency in place of the word 'currency' (a payment: 'EUR')."""
        return self.unit.replace("currency", currency)


@dataclass
class AgentTerms:
    """What ``Agent.build`` returns: the cost (currency) and the per-step contributions to carriers."""

    cost: object
    contributions: dict[str, list]


class Agent(DeclaredAgent, ABC):
    """Base class of the agents coupled through resources; subclasses are dataclasses whose fields are the
    declared parameters (:class:`~ecodec.models.parameters.DeclaredAgent`)."""

    outputs: ClassVar[tuple[Output, ...]]
    #: The problem kind a case of these agents is (:mod:`ecodec.problem.contract`)
    problem_kind: ClassVar[str] = "coupled"
    #: What an agent of this kind is as an asset the agents share, in words ('storage'); non-empty: the study
    #: reports what the case costs without agents of this kind (:mod:`ecodec.study.shared_assets`)
    shared_asset: ClassVar[str] = ""

    @abstractmethod
    def build(self, block: pyo.Block, grid: TimeGrid) -> AgentTerms:
        """Declare this agent's variables and constraints on ``block``; return its cost and contributions."""

    def is_mixed_integer(self) -> bool:
        """True when ``build`` declares integer variables."""
        return False

    def is_quadratic(self) -> bool:
        """True when ``build`` returns a quadratic cost (the centralized model is then a QP, which the compiled
        linear subproblems of the distributed methods refuse)."""
        return False

    def reported_outputs(self, block: pyo.Block) -> tuple[Output, ...]:
        """The outputs present on a built block (optional components may be absent)."""
        return tuple(o for o in self.outputs if block.component(o.component) is not None)


@dataclass
class AggregativeTerms:
    """What ``AggregativeAgent.build`` returns: the cost f_i(x_i, sigma) (currency) and the agent's shares
    phi_i(x_i) of the aggregates, one expression per step for each aggregate it feeds (absent: zero)."""

    cost: object
    shares: dict[str, list]


class AggregativeAgent(DeclaredAgent, ABC):
    """Base class of agents coupled through aggregates instead of shared resources (the market's buyers and
    sellers): agent i's cost f_i(x_i, sigma) depends on its own decisions x_i and on the aggregates

        sigma_{k,t} = (1/N) sum_j phi_{j,k,t}(x_j)        (N agents, k in ``aggregates``, t a step)

    ``build`` declares x_i on its block and returns f_i and phi_i, with ``sigma[k][t]`` whatever the caller
    passes: the aggregates of every agent in the centralized model, the agent's own estimate of them (fixed
    values) in a distributed method.  As for :class:`Agent`, the agent never sees the other agents."""

    outputs: ClassVar[tuple[Output, ...]]
    aggregates: ClassVar[tuple[str, ...]]
    problem_kind: ClassVar[str] = "aggregative"
    #: Agent kinds a case with this kind must also hold (a buyer needs sellers), and why, in words
    requires_kinds: ClassVar[tuple[str, ...]] = ()
    requirement: ClassVar[str] = ""

    @abstractmethod
    def build(self, block: pyo.Block, grid: TimeGrid, sigma: dict[str, list]) -> AggregativeTerms:
        """Declare this agent's variables on ``block``; return its cost and its shares of the aggregates."""

    def is_mixed_integer(self) -> bool:
        return False

    def reported_outputs(self, block: pyo.Block) -> tuple[Output, ...]:
        return tuple(o for o in self.outputs if block.component(o.component) is not None)


@dataclass
class SharingTerms:
    """What ``SharingAgent.build`` returns: per recipient j of its neighbourhood (itself included), the energy it
    sends j at each step, its own shortfall variables q_i,t >= 0 (the demand its neighbourhood leaves unserved,
    kW) and its cost, its loss term: the shortfall counted once by every node that observes it (see
    :mod:`ecodec.problem.online_sharing`)."""

    sent: dict[str, list]
    shortfall: list
    cost: object


class SharingAgent(DeclaredAgent, ABC):
    """Base class of the prosumer nodes of an online energy-sharing problem
    (:class:`~ecodec.problem.OnlineSharingProblem`): node i generates d_i,t, needs l_i,t and sends x_ij,t to each
    j of its neighbourhood N_i+ (itself included: what it keeps).  Round by round the environment draws the
    generation; ``build`` declares the node's part of the per-round best allocation in hindsight (the
    comparator) for given generation and demand, so the centralized view comes from the agent's own code."""

    outputs: ClassVar[tuple[Output, ...]]
    problem_kind: ClassVar[str] = "online-sharing"

    @abstractmethod
    def build(self, block: pyo.Block, grid: TimeGrid, neighbourhood: tuple[str, ...], generation_kw: np.ndarray,
              demand_kw: np.ndarray) -> SharingTerms:
        """Declare the node's allocations and shortfall on ``block`` for the given generation and demand."""

    def is_mixed_integer(self) -> bool:
        return False

    def reported_outputs(self, block: pyo.Block) -> tuple[Output, ...]:
        return tuple(o for o in self.outputs if block.component(o.component) is not None)


class DeploymentAgent(DeclaredAgent):
    """Base class of agents placed in a workspace by a macroscopic probabilistic model
    (:class:`~ecodec.problem.DeploymentProblem`): each contributes a kernel over the workspace's cells; it has no
    Pyomo model (the problem evaluates every kernel on every cell with numpy)."""

    outputs: ClassVar[tuple[Output, ...]]
    problem_kind: ClassVar[str] = "deployment"

    def is_mixed_integer(self) -> bool:
        return False
