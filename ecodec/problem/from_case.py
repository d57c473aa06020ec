"""Turn a validated Case into a problem: agent specs become agents of their registered kind, resource rows
resources.  The kinds come from :mod:`ecodec.models.registry`, so a newly registered kind needs nothing here."""

from __future__ import annotations

from ecodec.case import Case
from ecodec.errors import ProblemError
from ecodec.models.base import AggregativeAgent, TimeGrid
from ecodec.models.registry import agent_class
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.resource import CouplingResource


def problem_from_case(case: Case) -> CoupledProblem | AggregativeProblem:
    """The problem of ``case``, agents in workbook order (sheet by sheet, row by row): an
    :class:`AggregativeProblem` for a market case (agents coupled through aggregates: buyers and sellers), else a
    :class:`CoupledProblem`.  Raises AgentError for invalid parameters, ProblemError for an unknown kind."""
    grid = TimeGrid(case.T, case.step_h)
    try:
        classes = [agent_class(spec.kind) for spec in case.agents]
    except KeyError as exc:
        raise ProblemError(exc.args[0]) from None
    agents = [cls(spec.name, **spec.params) for cls, spec in zip(classes, case.agents)]
    market = [agent for agent in agents if isinstance(agent, AggregativeAgent)]
    if market:
        if len(market) != len(agents):
            raise ProblemError("a case holds either market agents (buyers, sellers) or agents coupled through "
                               "resources, not both")
        return AggregativeProblem(market, grid, name=case.name, currency=case.currency)
    resources = [CouplingResource(r.name if r.scope == "step" else f"{r.name}_total", r.sense, r.rhs, r.rhs_upper,
                                  r.unit, scope=r.scope, carrier=r.name) for r in case.resources]
    return CoupledProblem(agents, resources, grid, name=case.name, currency=case.currency)
