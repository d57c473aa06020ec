"""CoupledProblem: agents + coupling resources + time grid, and the models built from them.

Both views come from the same ``Agent.build`` code so they cannot drift:

* ``centralized_model()``: one ConcreteModel, one Block per agent (``m.agents[name]``), the coupling rows
  ``m.coupling[resource, t]`` summing the contributions, and the objective sum_i cost_i;
* ``local_model(agent)``: that agent alone on ``m.agent``, its cost as the objective and its contributions
  exposed (for the distributed drivers).

Agents contribute to carriers; :meth:`CoupledProblem.resource_terms` turns those into contributions to the
declared resources (a per-step resource takes its carrier's contributions as they are, a horizon resource their
running energy, see :mod:`ecodec.problem.resource`), and both views use it.
Construction checks that agent names are unique, that resources cover the horizon, and that every
contribution names a declared resource and every resource has a contributor.  Order is deterministic:
agents in the order given, resources in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr
from pyomo.core.expr.numvalue import is_potentially_variable

from ecodec.errors import ProblemError
from ecodec.vocabulary import KindWords
from ecodec.models.base import Agent, AgentTerms, TimeGrid
from ecodec.problem.resource import SCALE_FLOOR, CouplingResource, peak_rhs


@dataclass
class BuiltModel:
    """A Pyomo model and, per agent name, the terms its ``build`` returned (:class:`AgentTerms`, or
    :class:`~ecodec.models.base.AggregativeTerms` for an aggregative problem)."""

    model: pyo.ConcreteModel
    terms: dict[str, AgentTerms]

    def block(self, agent_name: str) -> pyo.Block:
        m = self.model
        return m.agents[agent_name] if hasattr(m, "agents") else m.agent

    def outputs_and_costs(self, problem) -> tuple[dict[str, tuple], list[tuple[str, str, float]]]:
        """At the model's current values: per agent (kind, [(quantity, unit)], values of shape (outputs, T)) and
        the rows (agent, kind, cost), in the problem's agent order."""
        outputs, costs = {}, []
        for agent in problem.agents:
            block = self.block(agent.name)
            reported = agent.reported_outputs(block)
            values = np.array([[pyo.value(block.component(o.component)[t]) for t in problem.grid.steps]
                               for o in reported], dtype=float).reshape(len(reported), problem.grid.T)
            outputs[agent.name] = (agent.kind, [(o.quantity, o.unit_in(problem.currency)) for o in reported], values)
            costs.append((agent.name, agent.kind, float(pyo.value(self.terms[agent.name].cost))))
        return outputs, costs


def check_unique_names(agents) -> None:
    """ProblemError naming the agent names used more than once."""
    names = [a.name for a in agents]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProblemError(f"agent names must be unique; repeated: {', '.join(duplicates)}")


def expression_reach(expr) -> float:
    """max(|a|, |b|) of the range [a, b] interval arithmetic over the variable bounds gives ``expr`` (fbbt), a side
    that is unbounded counted as 0.

    >>> m = pyo.ConcreteModel(); m.x = pyo.Var(bounds=(0, 90)); m.y = pyo.Var(bounds=(0, None))
    >>> expression_reach(-m.x / 3.0), expression_reach(m.y - m.x), expression_reach(2.5)
    (30.0, 90.0, 2.5)
    """
    if not is_potentially_variable(expr):
        return abs(float(pyo.value(expr)))
    ends = [abs(float(end)) for end in compute_bounds_on_expr(expr) if end is not None and math.isfinite(end)]
    return max(ends, default=0.0)


def agent_named(agents, name: str, index: dict | None = None):
    """The agent of ``agents`` called ``name``; KeyError when there is none.  ``index``: a dict the caller keeps
    to look names up in constant time (filled on first use, read again while it covers ``agents``)."""
    if index is not None:
        if len(index) != len(agents):
            index.clear()
            index.update((a.name, a) for a in agents)
        found = index.get(name)
        if found is not None and found.name == name:
            return found
    for a in agents:
        if a.name == name:
            return a
    raise KeyError(name)


class CoupledProblem:
    """Agents coupled through shared resources over a time grid."""

    kind = "coupled"
    #: The report sections that apply (:data:`ecodec.vocabulary.REPORT_SECTIONS`): no market section
    report_sections = ("glance", "case", "convergence", "dispatch", "storage", "grid", "prices", "costs", "details")
    words = KindWords("cases coupled through shared resources",
                      "its agents are coupled through shared resources")

    def __init__(self, agents: list[Agent], resources: list[CouplingResource], grid: TimeGrid, *,
                 name: str = "case", currency: str = "EUR"):
        self.agents = list(agents)
        self.resources = list(resources)
        self.grid = grid
        self.name = name
        self.currency = currency
        check_unique_names(self.agents)
        for agent in self.agents:
            agent.validate(grid)
        resource_names = [r.name for r in self.resources]
        if len(set(resource_names)) != len(resource_names):
            raise ProblemError(f"resource names must be unique; got {', '.join(resource_names)}")
        for r in self.resources:
            if r.T != grid.T:
                raise ProblemError(f"resource '{r.name}' has {r.T} steps; the horizon has T = {grid.T}")
        if not self.agents:
            raise ProblemError("a problem needs at least one agent")

    # -- views -------------------------------------------------------------------------------------------
    def agent(self, name: str) -> Agent:
        return agent_named(self.agents, name, self.__dict__.setdefault("_agent_index", {}))

    def resource(self, name: str) -> CouplingResource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def is_mixed_integer(self) -> bool:
        return any(a.is_mixed_integer() for a in self.agents)

    def violation_scales(self) -> np.ndarray:
        """Per resource r (in resource order) the size S_r its coupling violations are measured against: a relative
        violation is  max_t |residual_r,t| / S_r.  With lo_r,t, hi_r,t the ends of its row (+-inf where free)::

            P_r = max_t max(|lo_r,t|, |hi_r,t|) over the finite ends           (the peak |right-hand side|)
            R_r = max_i max_t max(|a_i,r,t|, |b_i,r,t|)                         (the reach of the balance)
            S_r = P_r if P_r > 0,  else R_r if R_r > 0,  else 1e-9

        where [a_i,r,t, b_i,r,t] is the range of agent i's contribution h_i,r,t(x_i) over its variable bounds
        alone, by interval arithmetic on the contribution expressions of the centralized model (Pyomo's fbbt); an
        unbounded side of that range adds nothing (R_r does not become infinite).

        Why: a balance whose right-hand side is 0 at every step (an electricity or cooling network that balances
        itself) has no load to measure a violation against; it is judged against the largest flow one agent can
        put through it instead, the size the graph methods also take for their step scale when every right-hand
        side is 0 (:func:`ecodec.decomposition.neighbour_driver.contribution_reach`).  P_r is the rule
        :func:`ecodec.results.kpi.resource_scale` applies; only resources with P_r = 0 build the model.  Computed
        once per problem (read-only array, shape (resources,)).
        """
        cached = self.__dict__.get("_violation_scales")
        if cached is not None:
            return cached
        peak = peak_rhs(np.stack([r.lower() for r in self.resources]),
                        np.stack([r.upper() for r in self.resources])) if self.resources else np.zeros(0)
        scales = peak.copy()
        if np.any(peak <= 0.0):
            reach = self.contribution_reach()
            scales = np.where(peak > 0.0, peak, reach)
        scales = np.maximum(scales, SCALE_FLOOR)
        scales.flags.writeable = False
        self._violation_scales = scales
        return scales

    def violation_scales_by_name(self) -> dict[str, float]:
        """:meth:`violation_scales` as {resource name: S_r}, as a run records it (``info['violation_scales']``)."""
        return {r.name: float(s) for r, s in zip(self.resources, self.violation_scales())}

    def contribution_reach(self) -> np.ndarray:
        """Per resource, R_r of :meth:`violation_scales`: the largest |h_i,r,t| any single agent's variable bounds
        allow at any step (0 for a resource whose contributions are all fixed at 0)."""
        built = self.centralized_model()
        names = [r.name for r in self.resources]
        reach = np.zeros(len(names))
        for terms in built.terms.values():
            for resource, exprs in terms.contributions.items():
                k = names.index(resource)
                reach[k] = max(reach[k], max((expression_reach(e) for e in exprs), default=0.0))
        return reach

    def coupling_description(self) -> str:
        """What couples the agents, in words: the resources (a horizon row says so)."""
        return "resources: " + ", ".join(f"{r.carrier} (over the horizon)" if r.scope == "horizon" else r.name
                                         for r in self.resources)

    @property
    def problem_class(self) -> str:
        """'MILP' when an agent has integer decisions, 'QP' when an agent has a quadratic cost, else 'LP' (the
        class HiGHS solves centrally)."""
        if self.is_mixed_integer():
            return "MILP"
        return "QP" if any(agent.is_quadratic() for agent in self.agents) else "LP"

    def check(self) -> None:
        """Build the centralized model once: it checks what each agent's build returns against the problem."""
        self.centralized_model()

    def centralized_model(self, elastic: bool = False) -> BuiltModel:
        """One model with every agent and the coupling rows; objective: total cost.

        ``elastic=True`` builds the phase-one model used to explain infeasibility instead: each coupling row
        gets a shortfall slack ``m.short[r, t] >= 0`` (added to the lhs) and a surplus slack ``m.surplus[r, t]``
        (subtracted), and the objective is their sum: the least total violation the agents can reach.
        """
        m = pyo.ConcreteModel(name=self.name)
        m.agents = pyo.Block([a.name for a in self.agents])
        terms = {a.name: a.build(m.agents[a.name], self.grid) for a in self.agents}
        self._check_contributions(terms)
        terms = {name: self.resource_terms(agent_terms) for name, agent_terms in terms.items()}
        self._add_coupling_rows(m, terms, elastic, lambda r, t: [terms[a.name].contributions[r][t] for a in self.agents
                                                                 if r in terms[a.name].contributions])
        return BuiltModel(m, terms)

    def _add_coupling_rows(self, m: pyo.ConcreteModel, terms: dict[str, AgentTerms], elastic: bool,
                           row_terms) -> None:
        """The coupling rows ``m.coupling[r, t]``: lo_r,t <= sum of ``row_terms(r, t)`` (+ the slacks when
        ``elastic``) <= hi_r,t, a row without finite bounds skipped; and the objective (total cost, or the slacks'
        sum when ``elastic``)."""
        keys = [(r.name, t) for r in self.resources for t in self.grid.steps]
        bounds = {r.name: (r.lower(), r.upper()) for r in self.resources}
        if elastic:
            m.short = pyo.Var(keys, within=pyo.NonNegativeReals)
            m.surplus = pyo.Var(keys, within=pyo.NonNegativeReals)

        def row(m, r, t):
            lo, hi = bounds[r][0][t], bounds[r][1][t]
            if not (np.isfinite(lo) or np.isfinite(hi)):
                return pyo.Constraint.Skip
            total = sum(row_terms(r, t)) + ((m.short[r, t] - m.surplus[r, t]) if elastic else 0.0)
            return (None if np.isinf(lo) else float(lo), total, None if np.isinf(hi) else float(hi))

        m.coupling = pyo.Constraint(keys, rule=row)
        objective = sum(m.short[k] + m.surplus[k] for k in keys) if elastic else sum(
            terms[a.name].cost for a in self.agents)
        m.objective = pyo.Objective(expr=objective, sense=pyo.minimize)

    def local_model(self, agent: Agent) -> BuiltModel:
        """That agent alone: its own variables and constraints, its cost as the objective."""
        m = pyo.ConcreteModel(name=f"{self.name}:{agent.name}")
        m.agent = pyo.Block()
        terms = agent.build(m.agent, self.grid)
        self._check_contributions({agent.name: terms}, require_cover=False)
        terms = self.resource_terms(terms)
        m.objective = pyo.Objective(expr=terms.cost, sense=pyo.minimize)
        return BuiltModel(m, {agent.name: terms})

    def resource_terms(self, terms: AgentTerms) -> AgentTerms:
        """``terms`` with contributions per declared resource (in resource order) instead of per carrier: a
        per-step resource takes its carrier's h_t, a horizon resource the energy so far Delta sum_{s <= t} h_s."""
        step_h = self.grid.step_h
        contributions = {}
        for r in self.resources:
            if r.carrier not in terms.contributions:
                continue
            exprs = terms.contributions[r.carrier]
            if r.scope == "step":
                contributions[r.name] = exprs
            else:
                running, total = [], 0.0
                for e in exprs:
                    total = total + e
                    running.append(step_h * total)
                contributions[r.name] = running
        return replace(terms, contributions=contributions)

    # -- evaluation --------------------------------------------------------------------------------------
    def coupling_lhs(self, built: BuiltModel) -> dict[str, np.ndarray]:
        """Sum of contributions per resource and step at the model's current variable values."""
        lhs = {r.name: np.zeros(self.grid.T) for r in self.resources}
        for terms in built.terms.values():
            for resource, exprs in terms.contributions.items():
                lhs[resource] += np.array([pyo.value(e) for e in exprs], dtype=float)
        return lhs

    # -- internals ---------------------------------------------------------------------------------------
    def _check_contributions(self, terms: dict[str, AgentTerms], require_cover: bool = True) -> None:
        declared = {r.carrier for r in self.resources}
        problems = []
        fed = set()
        for name, agent_terms in terms.items():
            for resource, exprs in agent_terms.contributions.items():
                if resource not in declared:
                    problems.append(f"agent '{name}' contributes to '{resource}', which is not a declared coupling "
                                    f"resource (add a '{resource}' row to the 'resources' sheet)")
                elif len(exprs) != self.grid.T:  # e.g. a profile longer or shorter than the horizon
                    problems.append(f"agent '{name}' gives {len(exprs)} steps for '{resource}', expected "
                                    f"T = {self.grid.T}")
                fed.add(resource)
        if require_cover:
            for r in self.resources:
                if r.carrier not in fed:
                    problems.append(f"resource '{r.name}' has no contributing agent (remove its row from the "
                                    f"'resources' sheet or add an agent that feeds it)")
        if problems:
            raise ProblemError("; ".join(problems))
