"""Turn a validated Case into a CoupledProblem: agent specs become agent models, resource rows resources."""

from __future__ import annotations

from ecodec.case import Case
from ecodec.errors import ProblemError
from ecodec.models import AGENT_CLASSES, AGGREGATIVE_CLASSES
from ecodec.models.base import TimeGrid
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.resource import CouplingResource


def problem_from_case(case: Case) -> CoupledProblem | AggregativeProblem:
    """The problem of ``case``, agents in workbook order (sheet by sheet, row by row): an
    :class:`AggregativeProblem` for a market case (buyers and sellers), else a :class:`CoupledProblem`."""
    grid = TimeGrid(case.T, case.step_h)
    market = [spec for spec in case.agents if spec.kind in AGGREGATIVE_CLASSES]
    if market:
        if len(market) != len(case.agents):
            raise ProblemError("a case holds either market agents (buyers, sellers) or agents coupled through "
                               "resources, not both")
        return AggregativeProblem([AGGREGATIVE_CLASSES[spec.kind](name=spec.name, **spec.params) for spec in market],
                                  grid, name=case.name, currency=case.currency)
    agents = [AGENT_CLASSES[spec.kind](name=spec.name, **spec.params) for spec in case.agents]
    resources = [CouplingResource(r.name if r.scope == "step" else f"{r.name}_total", r.sense, r.rhs, r.rhs_upper,
                                  r.unit, scope=r.scope, carrier=r.name) for r in case.resources]
    return CoupledProblem(agents, resources, grid, name=case.name,
                          currency=case.currency)
