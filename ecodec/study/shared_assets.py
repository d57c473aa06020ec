"""What the agents' shared assets are worth: the case solved centrally again without them.

An agent kind that declares ``shared_asset`` (:class:`~ecodec.models.base.Agent`; the cold storage of a cooling
district says 'storage') is an asset the other agents share.  When a study runs the centralized solve and the
problem holds such agents, :func:`shared_asset_value` solves the same case without every one of them (same
resources, horizon and options; the others unchanged) and records, in the reference run's
``info["shared_assets"]`` (saved with the run, so a re-rendered report shows it without solving again)::

    f_with     the optimal cost of the case (the reference's objective)
    f_without  the optimal cost without the shared-asset agents (None when that case has no solution)
    saving     f_without - f_with                     (currency)
    saving_%   100 (f_without - f_with) / |f_without|  (share of what the case would cost without them)

with the kinds and agents removed, their words ('storage'), the status of the solve without them and, when it has
no solution, why (``message``).  A saving is never negative for an LP solved to optimality: removing agents only
removes options (removing a cost-free storage keeps every other schedule feasible).
"""

from __future__ import annotations

import logging

from ecodec.decomposition import run
from ecodec.errors import EcodecError
from ecodec.network import CommunicationNetwork
from ecodec.problem import CoupledProblem
from ecodec.results import RunResult
from ecodec.vocabulary import CENTRALIZED

log = logging.getLogger(__name__)

#: The key of the reference's ``info`` that holds the value of the shared assets
INFO_KEY = "shared_assets"


def shared_agents(problem) -> list:
    """The agents of ``problem`` whose kind declares ``shared_asset``, in the problem's order."""
    return [agent for agent in getattr(problem, "agents", ()) if getattr(type(agent), "shared_asset", "")]


def without_agents(problem: CoupledProblem, removed: list) -> CoupledProblem:
    """The same case without the agents ``removed`` (same resources, horizon, name and currency)."""
    names = {agent.name for agent in removed}
    return CoupledProblem([a for a in problem.agents if a.name not in names], problem.resources, problem.grid,
                          name=problem.name, currency=problem.currency)


def shared_asset_value(problem, reference: RunResult, options=None) -> dict | None:
    """The value of the shared assets of ``problem`` (see the module docstring) against the centralized
    ``reference``, solved without them with the centralized method's ``options``; None when the problem holds no
    shared asset, is not a problem of shared resources, or the reference has no solution.

    >>> import ecodec
    >>> from ecodec.problem import problem_from_case
    >>> problem = problem_from_case(ecodec.read_case("cases/cooling_district_4.xlsx"))
    >>> value = shared_asset_value(problem, ecodec.solve_case("cases/cooling_district_4.xlsx"))
    >>> value["words"], value["agents"], round(value["cost_with"], 2), round(value["cost_without"], 2)
    ('storage', ['tank'], 292.45, 300.62)
    >>> round(value["saving"], 2), round(value["saving_pct"], 1)
    (8.17, 2.7)
    """
    shared = shared_agents(problem)
    if not shared or not isinstance(problem, CoupledProblem) or not reference.has_solution:
        return None
    kinds = list(dict.fromkeys(agent.kind for agent in shared))
    words = list(dict.fromkeys(type(agent).shared_asset for agent in shared))
    value = {"kinds": kinds, "words": " and ".join(words), "agents": [agent.name for agent in shared],
             "cost_with": float(reference.objective), "cost_without": None, "saving": None, "saving_pct": None,
             "status_without": "", "message": ""}
    if len(shared) == len(problem.agents):
        value.update(status_without="no agents", message="every agent of the case is a shared asset")
        return value
    try:
        smaller = without_agents(problem, shared)
        network = CommunicationNetwork.named("complete", [agent.name for agent in smaller.agents])
        result = run(smaller, network, CENTRALIZED, options)
    except EcodecError as exc:  # e.g. a resource only the shared assets contribute to
        value.update(status_without="not built", message=str(exc))
        return value
    value.update(status_without=result.status, message=str(result.info.get("message", "")))
    if result.has_solution:
        without = float(result.objective)
        value.update(cost_without=without, saving=without - value["cost_with"],
                     saving_pct=100.0 * (without - value["cost_with"]) / abs(without) if without else None)
    log.info("without its shared %s the case costs %s", value["words"], value["cost_without"])
    return value


__all__ = ["INFO_KEY", "shared_agents", "shared_asset_value", "without_agents"]
