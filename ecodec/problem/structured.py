"""StructuredProblem: agents with local variables and copies of global variables, coupled by consensus.

A *structured program* (Belluschi, Falsone, Ioli, Margellos, Garatti, Prandini, "Distributed optimization for
structured programs and its application to energy management in a building district", arXiv 1610.06332;
ALGORITHMS_WAVE2.md section 5.1) is

    min  sum_i f_i(x_i)    s.t.  (y, x_i) in X_i  for every agent i,

with x_i agent i's *local* decisions and y the *global* decisions every agent's constraints may involve.  A
distributed method gives every agent its own copy y_i of y and asks the copies to agree (consensus): agents
exchange tentative values of y only, never their local decisions.

ecodec writes a problem of shared resources in this form: the global variables are the agents' contributions to
the shared resources (the flows through the district's balances, the shared storage's schedule) and the coupling
rows are constraints on them alone:

=================  ==============================================================================================
symbol             meaning
=================  ==============================================================================================
h_j,r,t(x_j)       agent j's contribution to resource r at step t (the same expression as in the coupled problem)
B                  the *blocks* (j, r): agent j feeds resource r; the global vector y has one entry y_b,t per block
                   b and step t, G = |B| T entries (``global_size``)
X_i                agent i's own constraints on x_i, its blocks' definitions  y_(i,r),t = h_i,r,t(x_i),  and
                   every coupling row written on y:  lo_r,t <= sum_{j: (j, r) in B} y_(j,r),t <= hi_r,t
=================  ==============================================================================================

Every agent holds the coupling rows (as every agent of the coupled problem knows the right-hand sides), so each
copy is a district-wide feasible flow pattern; only agent i's own blocks are tied to its decisions.  With the
copies equal, the problem is the coupled one: the same optimum (``tests/test_structured_problem.py`` checks it).
To make another shared quantity global, make it a resource the agents contribute to.

The centralized model is built from the same agent code: one Block per agent, the global variables
``m.glob[b, t]``, the definitions ``m.copy[b, t]: h_b(x) == y_b,t`` and the coupling rows ``m.coupling[r, t]`` on
y (named as the coupled problem's, so that their duals are the resources' prices).

>>> from ecodec.io.workbook import read_case
>>> from ecodec.problem import problem_from_case
>>> coupled = problem_from_case(read_case("cases/cooling_district_4.xlsx"))
>>> structured = StructuredProblem.of(coupled)
>>> structured.kind, len(structured.blocks()), structured.global_size() == len(structured.blocks()) * 96
('structured', 11, True)
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyomo.environ as pyo

from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.vocabulary import KindWords


class StructuredProblem(CoupledProblem):
    """Agents with local variables and copies of the global ones (their contributions to the shared resources);
    see the module docstring."""

    kind = "structured"
    report_sections = CoupledProblem.report_sections
    words = KindWords("structured programs (agents with local variables and copies of global ones)",
                      "its agents hold copies of the global variables (their contributions to the shared "
                      "resources) and agree on them by consensus")

    @classmethod
    def of(cls, problem: CoupledProblem) -> StructuredProblem:
        """The structured form of ``problem`` (``problem`` itself when it is one already)."""
        if isinstance(problem, cls):
            return problem
        return cls(problem.agents, problem.resources, problem.grid, name=problem.name, currency=problem.currency)

    def coupling_description(self) -> str:
        return (f"global variables: the agents' contributions to {', '.join(r.name for r in self.resources)} "
                f"({len(self.blocks())} blocks of {self.grid.T} steps), agreed by consensus")

    def blocks(self) -> list[tuple[str, str]]:
        """The blocks (agent, resource) of the global vector, resource by resource, agents in problem order."""
        return list(self._layout)

    def global_size(self) -> int:
        """G: the number of global variables (floats in one copy)."""
        return len(self._layout) * self.grid.T

    @cached_property
    def _layout(self) -> tuple[tuple[str, str], ...]:
        feeds = {}
        for agent in self.agents:
            built = self.local_model(agent)
            feeds[agent.name] = set(built.terms[agent.name].contributions)
        return tuple((a.name, r.name) for r in self.resources for a in self.agents if r.name in feeds[a.name])

    def centralized_model(self, elastic: bool = False) -> BuiltModel:
        """Agents' blocks, the global variables, their definitions and the coupling rows on them (module
        docstring); ``elastic`` as for the coupled problem (slacks on the coupling rows)."""
        m = pyo.ConcreteModel(name=self.name)
        m.agents = pyo.Block([a.name for a in self.agents])
        terms = {a.name: a.build(m.agents[a.name], self.grid) for a in self.agents}
        self._check_contributions(terms)
        terms = {name: self.resource_terms(agent_terms) for name, agent_terms in terms.items()}
        blocks = [(a.name, r.name) for r in self.resources for a in self.agents if r.name in terms[a.name].contributions]
        steps = list(self.grid.steps)
        m.glob = pyo.Var(range(len(blocks)), steps)
        m.copy = pyo.Constraint(range(len(blocks)), steps, rule=lambda m, b, t: (
            terms[blocks[b][0]].contributions[blocks[b][1]][t] == m.glob[b, t]))
        by_resource = {r.name: [b for b, (_, name) in enumerate(blocks) if name == r.name] for r in self.resources}
        self._add_coupling_rows(m, terms, elastic, lambda r, t: [m.glob[b, t] for b in by_resource[r]])
        return BuiltModel(m, terms)


__all__ = ["StructuredProblem"]
