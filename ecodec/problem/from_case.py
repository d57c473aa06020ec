"""Turn a validated Case into a problem: agent specs become agents of their registered kind, resource rows
resources.  The kinds come from :mod:`ecodec.models.registry`, so a newly registered kind needs nothing here."""

from __future__ import annotations

from ecodec.case import Case
from ecodec.errors import ProblemError
from ecodec.models.base import TimeGrid
from ecodec.models.registry import agent_class
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.network import network_from_case
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.deployment import DeploymentProblem, TargetComponent, Workspace
from ecodec.problem.online_sharing import OnlineSharingProblem
from ecodec.problem.resource import CouplingResource


def problem_from_case(case: Case) -> CoupledProblem | AggregativeProblem | OnlineSharingProblem:
    """The problem of ``case``, agents in workbook order (sheet by sheet, row by row), of the problem kind its
    agents make (``problem_kind`` of their class): an :class:`AggregativeProblem` for a market case (buyers and
    sellers), an :class:`OnlineSharingProblem` for prosumer nodes (over the case's network), else a
    :class:`CoupledProblem`.  Raises AgentError for invalid parameters, ProblemError for an unknown kind or a
    case that mixes problem kinds."""
    grid = TimeGrid(case.T, case.step_h, case.start)
    try:
        classes = [agent_class(spec.kind) for spec in case.agents]
    except KeyError as exc:
        raise ProblemError(exc.args[0]) from None
    agents = [cls(spec.name, **spec.params) for cls, spec in zip(classes, case.agents)]
    kinds = sorted({type(agent).problem_kind for agent in agents})
    if len(kinds) > 1:
        raise ProblemError("a case holds agents of one problem kind (market agents, prosumer nodes or agents "
                           f"coupled through resources), not several: {', '.join(kinds)}")
    if kinds == ["aggregative"]:
        return AggregativeProblem(agents, grid, name=case.name, currency=case.currency)
    if kinds == ["deployment"]:
        w = case.workspace or {}
        workspace = Workspace(w.get("x_min_m"), w.get("x_max_m"), w.get("y_min_m"), w.get("y_max_m"), w.get("nx"),
                              w.get("ny"))
        target = [TargetComponent(t["x_m"], t["y_m"], t["std_m"], t["weight"]) for t in case.targets]
        return DeploymentProblem(agents, workspace, target, divergence=w.get("divergence", "model-target"),
                                 floor=w.get("floor", 1e-6), name=case.name)
    if kinds == ["online-sharing"]:
        return OnlineSharingProblem(agents, network_from_case(case), grid, name=case.name)
    resources = [CouplingResource(r.name if r.scope == "step" else f"{r.name}_total", r.sense, r.rhs, r.rhs_upper,
                                  r.unit, scope=r.scope, carrier=r.name) for r in case.resources]
    return CoupledProblem(agents, resources, grid, name=case.name, currency=case.currency)
