"""Turn a validated Case into a CoupledProblem: agent specs become agent models, resource rows resources."""

from __future__ import annotations

from ecodec.case import Case
from ecodec.models import AGENT_CLASSES
from ecodec.models.base import TimeGrid
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.resource import CouplingResource


def problem_from_case(case: Case) -> CoupledProblem:
    """The coupled problem of ``case``, agents in workbook order (sheet by sheet, row by row)."""
    agents = [AGENT_CLASSES[spec.kind](name=spec.name, **spec.params) for spec in case.agents]
    resources = [CouplingResource(r.name if r.scope == "step" else f"{r.name}_total", r.sense, r.rhs, r.rhs_upper,
                                  r.unit, scope=r.scope, carrier=r.name) for r in case.resources]
    return CoupledProblem(agents, resources, TimeGrid(case.T, case.step_h), name=case.name,
                          currency=case.currency)
