"""RunResult: the tidy record of one solve (centralized now, each distributed method later).

Tables (pandas DataFrames, steps numbered 1..T as in the workbook):

* ``dispatch``: t, agent, kind, quantity, value, unit: every reported per-step quantity of every agent;
* ``coupling``: t, resource, unit, lhs, lower, upper, residual, price, price_unit: each coupling row with the
  sum of contributions, its bounds, the signed residual (see :mod:`ecodec.problem.resource`) and, for LPs
  solved to optimality, the dual price converted to currency per kWh (or kvarh): dual / step_h, i.e. the
  change of total cost per extra kWh of right-hand side.  A band row has one price: positive when its lower
  end binds (more demand costs more), negative when its upper end binds (more room to dissipate saves);
* ``agent_costs``: agent, kind, cost;
* ``contributions``: t, agent, kind, resource, unit, value: each agent's term in each coupling row (what it
  supplies to, or takes from, the balances and the heat band), whose sum over the agents is ``coupling.lhs``.

* ``history``: one row per iteration of a distributed method (iteration, objective, max_violation,
  rel_violation, cost_gap and distance when a reference was given, messages, timings, and the method's own
  columns such as the step size); empty for the centralized solve.

``info`` holds the scalar facts: timings, sizes, solver, bound and gap, message, options, versions.

The tables keep the step number ``t``; :meth:`RunResult.times` turns steps into clock times when the case has a
start time, :meth:`RunResult.dispatch_frame`, :meth:`RunResult.coupling_frame` and
:meth:`RunResult.contributions_frame` give wide frames indexed by time (:mod:`ecodec.results.tables`), and the
exported tables (CSV, Excel, Parquet) get a ``time`` column next to ``t`` (:meth:`RunResult.with_time`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecodec.results import kpi, tables
from ecodec.time_steps import step_times

DISPATCH_COLUMNS = ["t", "agent", "kind", "quantity", "value", "unit"]
COUPLING_COLUMNS = ["t", "resource", "unit", "lhs", "lower", "upper", "residual", "price", "price_unit"]
COST_COLUMNS = ["agent", "kind", "cost"]
CONTRIBUTION_COLUMNS = ["t", "agent", "kind", "resource", "unit", "value"]


@dataclass(frozen=True)
class AgentOutcome:
    """What a result needs of one agent's final decisions: kind, reported (quantity, unit) labels and their values
    (outputs, T), cost, and contribution to the coupling rows (resources, T).  Plain data, so it can be sent
    from the process that hosts the agent to the one that writes the results."""

    kind: str
    labels: list[tuple[str, str]]
    values: np.ndarray
    cost: float
    contribution: np.ndarray

    @classmethod
    def of(cls, sub, x: np.ndarray) -> AgentOutcome:
        """The outcome of decisions ``x`` of a compiled subproblem ``sub``."""
        return cls(kind=sub.kind, labels=[(o.quantity, o.unit) for o in sub.outputs], values=sub.output_values(x),
                   cost=float(sub.cost(x)), contribution=np.asarray(sub.contribution(x), dtype=float))


@dataclass
class RunResult:
    method: str
    case_name: str
    status: str
    objective: float | None
    currency: str
    step_h: float
    dispatch: pd.DataFrame
    coupling: pd.DataFrame
    agent_costs: pd.DataFrame
    info: dict = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    contributions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CONTRIBUTION_COLUMNS))
    #: local time at which step 1 starts, as the case wrote it ('' when it has none): see :meth:`times`
    start: str = ""

    @classmethod
    def from_agent_outcomes(cls, method: str, problem, status: str, info: dict, history: pd.DataFrame,
                            outcomes: dict[str, AgentOutcome], prices: np.ndarray | None = None) -> RunResult:
        """A result from every agent's :class:`AgentOutcome` (distributed methods; gathered from wherever the
        agents ran), in the problem's agent order."""
        outcomes = {agent.name: outcomes[agent.name] for agent in problem.agents}
        lhs = None
        for outcome in outcomes.values():  # summed in agent order, like every reduction of the runtimes
            if lhs is None:
                lhs = outcome.contribution.astype(float, copy=True)
            else:
                lhs += outcome.contribution
        costs = pd.DataFrame({"agent": list(outcomes), "kind": [o.kind for o in outcomes.values()],
                              "cost": np.array([o.cost for o in outcomes.values()], dtype=float)},
                             columns=COST_COLUMNS)
        terms = {name: (o.kind, o.contribution) for name, o in outcomes.items()}
        return cls(method=method, case_name=problem.name, status=status,
                   objective=float(sum(o.cost for o in outcomes.values())),
                   currency=problem.currency, step_h=problem.grid.step_h,
                   dispatch=dispatch_table({name: (o.kind, o.labels, o.values) for name, o in outcomes.items()}),
                   coupling=coupling_table(problem, lhs, prices), agent_costs=costs,
                   info=info, history=history,
                   contributions=contribution_table(problem, terms), start=problem.grid.start)

    @classmethod
    def empty(cls, method: str, problem, status: str, info: dict, history: pd.DataFrame | None = None) -> RunResult:
        """A result without a solution (infeasible, failed, interrupted before the first iteration)."""
        return cls(method=method, case_name=problem.name, status=status, objective=None, currency=problem.currency,
                   step_h=problem.grid.step_h, dispatch=pd.DataFrame(columns=DISPATCH_COLUMNS),
                   coupling=pd.DataFrame(columns=COUPLING_COLUMNS), agent_costs=pd.DataFrame(columns=COST_COLUMNS),
                   info=info, history=history if history is not None else pd.DataFrame(), start=problem.grid.start)

    @property
    def has_solution(self) -> bool:
        return self.objective is not None

    def times(self, steps) -> pd.DatetimeIndex | None:
        """The clock time at which each of ``steps`` (numbers 1..T, as in the tables' column ``t``) starts; None
        when the case has no start time (:func:`ecodec.time_steps.step_times`)."""
        return step_times(self.start, self.step_h, steps)

    def dispatch_frame(self, quantity: str | None = None) -> pd.DataFrame:
        """The dispatch as a wide frame, one row per step: index ``time`` (a DatetimeIndex, see :meth:`times`) or
        ``t`` for a case without a start time; columns (agent, quantity), or the agents when ``quantity`` is given
        (e.g. ``"p"``); units in ``attrs["units"]`` (:mod:`ecodec.results.tables`)."""
        return tables.dispatch_frame(self, quantity)

    def coupling_frame(self, field: str | None = None) -> pd.DataFrame:
        """The coupling rows as a wide frame indexed like :meth:`dispatch_frame`: columns (resource, field) with
        field lhs, lower, upper, residual and price, or the resources when ``field`` is given."""
        return tables.coupling_frame(self, field)

    def contributions_frame(self, resource: str | None = None) -> pd.DataFrame:
        """Each agent's term in each coupling row as a wide frame indexed like :meth:`dispatch_frame`: columns
        (agent, resource), or the agents when ``resource`` is given."""
        return tables.contributions_frame(self, resource)

    def with_time(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` (one of this run's tidy tables) with a ``time`` column right after ``t`` when the case has a
        start time, as the CSV, Excel and Parquet results hold it."""
        return tables.with_time(self, table)

    def summary(self) -> dict:
        """The machine-readable summary printed by ``--json`` and written to the summary sheet."""
        out = {
            "case": self.case_name,
            "method": self.method,
            "status": self.status,
            "objective": self.objective,
            "currency": self.currency,
            "max_coupling_violation": kpi.max_coupling_violation(self.coupling) if self.has_solution else None,
            "rms_coupling_violation": kpi.rms_coupling_violation(self.coupling) if self.has_solution else None,
        }
        out.update(self.info)
        return out


def utc_timestamp() -> str:
    """The current time in UTC as ISO 8601 text to the second (``info['started_at']`` of every run)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dispatch_table(outputs: dict[str, tuple[str, list[tuple[str, str]], np.ndarray]]) -> pd.DataFrame:
    """The tidy dispatch table from, per agent name, (kind, [(quantity, unit)], values of shape (outputs, T)): one
    block of T rows per agent and quantity, in the given order.  Built column by column (one array per column for
    all agents), so its cost grows linearly with the number of agents.

    >>> dispatch_table({"pv": ("pv", [("p", "kW")], np.array([[1.0, -0.0]]))}).to_dict("list")["value"]
    [1.0, 0.0]
    """
    names, kinds, quantities, units, blocks = [], [], [], [], []
    for name, (kind, labels, values) in outputs.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 2 or values.shape[1] == 0:
            continue  # no steps: no rows
        rows = min(len(labels), values.shape[0])  # a quantity is reported when it has a label and a row
        for (quantity, unit), row in zip(labels[:rows], values[:rows]):
            names.append(name)
            kinds.append(kind)
            quantities.append(quantity)
            units.append(unit)
            blocks.append(row)
    if not blocks:
        return pd.DataFrame(columns=DISPATCH_COLUMNS)
    lengths = np.fromiter((len(block) for block in blocks), dtype=np.int64, count=len(blocks))
    block = np.repeat(np.arange(len(blocks)), lengths)
    return pd.DataFrame({"t": _step_numbers(lengths), "agent": _text(names, block), "kind": _text(kinds, block),
                         "quantity": _text(quantities, block), "value": np.concatenate(blocks) + 0.0,
                         "unit": _text(units, block)}, columns=DISPATCH_COLUMNS)


def contribution_table(problem, terms: dict[str, tuple[str, np.ndarray]]) -> pd.DataFrame:
    """The tidy contributions table from, per agent name, (kind, values of shape (resources, T)) in problem order;
    rows where an agent has no term in a resource (all zeros) are left out.  All agents' terms are stacked into
    one array (agents, resources, T) and the kept (agent, resource) blocks picked at once."""
    T, resources = problem.grid.T, problem.resources
    if not terms or not resources or T == 0:
        return pd.DataFrame(columns=CONTRIBUTION_COLUMNS)
    stacked = np.stack([np.asarray(values, dtype=float)[:len(resources)] for _, values in terms.values()])
    kept = np.any(stacked != 0.0, axis=2)  # (agents, resources): NaN counts as a term, as != 0 says
    agent_of, resource_of = np.nonzero(kept)  # agent-major: each agent's resources in problem order
    if agent_of.size == 0:
        return pd.DataFrame(columns=CONTRIBUTION_COLUMNS)
    block_agent, block_resource = np.repeat(agent_of, T), np.repeat(resource_of, T)
    names = list(terms)
    return pd.DataFrame({"t": np.tile(np.arange(1, T + 1), agent_of.size), "agent": _text(names, block_agent),
                         "kind": _text([kind for kind, _ in terms.values()], block_agent),
                         "resource": _text([r.name for r in resources], block_resource),
                         "unit": _text([r.unit for r in resources], block_resource),
                         "value": stacked[agent_of, resource_of].ravel() + 0.0}, columns=CONTRIBUTION_COLUMNS)


def _step_numbers(lengths: np.ndarray) -> np.ndarray:
    """1..n for each block length n, one after the other: [2, 3] -> [1, 2, 1, 2, 3]."""
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) - starts + 1


def _text(labels: list[str], codes: np.ndarray) -> pd.Index:
    """The text column ``labels[codes]``, with the text dtype pandas gives text columns."""
    return pd.Index(labels).take(codes)


def coupling_table(problem, lhs: np.ndarray, prices: np.ndarray | None) -> pd.DataFrame:
    """Coupling rows of ``problem`` with left-hand sides ``lhs`` (resources, T) and prices per unit and hour."""
    T = problem.grid.T
    frames = []
    for k, r in enumerate(problem.resources):
        frames.append(pd.DataFrame({
            "t": np.arange(1, T + 1), "resource": r.name, "unit": r.unit, "lhs": lhs[k], "lower": r.lower(),
            "upper": r.upper(), "residual": r.residual(lhs[k]),
            "price": prices[k] + 0.0 if prices is not None else np.full(T, np.nan),
            "price_unit": f"{problem.currency}/{r.unit}h" if r.per_hour else f"{problem.currency}/{r.unit}"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COUPLING_COLUMNS)
