"""Small shared helpers for the tests: build a coupled problem from agents and rows, read results back.

These helpers only assemble inputs and read tables; they never compute an expected value.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

from ecodec.carriers import CARRIER_UNITS
from ecodec.models.base import TimeGrid
from ecodec.problem import CoupledProblem, CouplingResource


def pytest_configure(config):
    """A test runner started in the background of a non-interactive shell (``cmd &``, ``nohup``) inherits SIGINT
    ignored, and so would every ecodec process the tests start (an ignored signal stays ignored across exec): the
    tests of Ctrl-C then see runs that never stop.  Each test process takes back the default handling first."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items):
    """The slow tests first (a stable sort): on several test processes the long runs start early and the many
    quick tests fill the end, so no process waits alone for one long test."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None and item.get_closest_marker("mpi") is None)


def make_problem(agents, step_h: float, **rows) -> CoupledProblem:
    """A CoupledProblem over ``agents`` with one coupling row per keyword.

    ``active_power=[...]`` gives an equality row (sum of injections == value); a tuple ``heat=(lower, upper)``
    gives a band row.  T is the length of the rows.
    """
    resources = []
    for name, spec in rows.items():
        unit = CARRIER_UNITS[name]
        if isinstance(spec, tuple):
            lower, upper = spec
            resources.append(CouplingResource(name, "band", np.asarray(lower, float), np.asarray(upper, float), unit))
        else:
            resources.append(CouplingResource(name, "==", np.asarray(spec, float), unit=unit))
    return CoupledProblem(agents, resources, TimeGrid(resources[0].T, step_h), name="test")


def series(result, agent: str, quantity: str) -> np.ndarray:
    """One agent quantity of a RunResult's dispatch as an array ordered by step t = 1..T."""
    rows = result.dispatch[(result.dispatch["agent"] == agent) & (result.dispatch["quantity"] == quantity)]
    assert len(rows), f"no '{quantity}' rows for agent '{agent}'"
    return rows.sort_values("t")["value"].to_numpy(dtype=float)


def quantities(result, agent: str) -> set[str]:
    """The quantity names an agent reports in the dispatch table."""
    return set(result.dispatch.loc[result.dispatch["agent"] == agent, "quantity"])


def prices(result, resource: str) -> np.ndarray:
    """Dual prices of one coupling resource (currency per kWh or kvarh), ordered by step."""
    rows = result.coupling[result.coupling["resource"] == resource]
    return rows.sort_values("t")["price"].to_numpy(dtype=float)


def agent_cost(result, agent: str) -> float:
    """The cost of one agent from the agent_costs table."""
    row = result.agent_costs[result.agent_costs["agent"] == agent]
    assert len(row) == 1
    return float(row["cost"].iloc[0])


def case_issues(path) -> list[str]:
    """The messages of the CaseError that reading the workbook ``path`` raises (fails when it reads)."""
    from ecodec.errors import CaseError
    from ecodec.io.workbook import read_case

    with pytest.raises(CaseError) as err:
        read_case(path)
    return err.value.messages()


def one_message(messages: list[str], *fragments: str) -> str:
    """The single message containing every fragment (fails listing all messages otherwise)."""
    hits = [m for m in messages if all(f in m for f in fragments)]
    assert len(hits) == 1, f"expected one message with {fragments}, got {hits} among:\n" + "\n".join(messages)
    return hits[0]
