"""Every distributed method of coupled problems runs on generated fleets of 400 and 2000 vehicles without a failed
local solve (the same fleets as ``ecodec generate pev --n N --variant lp --seed S``; DualBi on the budget fleet of
``--coupling budget``, the one scalar row it prices).

A run of a few iterations checks what breaks with scale (a local program that stops solving, a set-up that fails);
whether the methods converge on fleets is measured in docs/convex_methods.md, docs/scale.md and benchmarks (m)."""

from __future__ import annotations

import numpy as np
import pytest

from ecodec.decomposition import REGISTRY, run
from ecodec.decomposition.stopping import StoppingRules
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import CommunicationNetwork
from ecodec.problem.from_case import problem_from_case

ITERATIONS = 2
METHODS = sorted(name for name, spec in REGISTRY.items()
                 if spec.is_distributed and not spec.preset and "coupled" in spec.kinds)


def _fleet(tmp_path, n: int, seed: int, coupling: str):
    tables = pev_tables(n, seed, "lp", coupling=coupling)
    path = tmp_path / f"fleet_{n}_{seed}_{coupling}.xlsx"
    write_case_workbook(path, tables)
    problem = problem_from_case(read_case(path))
    network = CommunicationNetwork.from_edges([a.name for a in problem.agents],
                                              [(r["from"], r["to"]) for r in tables["network"]])
    return problem, network


def _runs_without_failure(problem, network, method: str) -> None:
    result = run(problem, network, method, stopping=StoppingRules(max_iterations=ITERATIONS))
    assert result.status == "iteration_limit", (method, result.status, result.info.get("message"))
    assert len(result.history) == ITERATIONS
    assert np.all(np.isfinite(result.history["objective"].to_numpy())), method
    assert set(result.dispatch["agent"]) == {a.name for a in problem.agents}, method


def test_the_methods_of_coupled_problems_are_the_ones_checked_here():
    assert {"primal-decomposition", "tightening", "tracking-admm", "proximal-dual", "dual-subgradient", "dualbi",
            "proximal-minimization"} <= set(METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_method_runs_on_a_400_vehicle_fleet(seed, tmp_path):
    feeder = _fleet(tmp_path, 400, seed, "feeder")
    budget = _fleet(tmp_path, 400, seed, "budget")
    for method in METHODS:
        _runs_without_failure(*(budget if method == "dualbi" else feeder), method)


@pytest.mark.slow
def test_every_method_runs_on_a_2000_vehicle_fleet(tmp_path):
    feeder = _fleet(tmp_path, 2000, 0, "feeder")
    budget = _fleet(tmp_path, 2000, 0, "budget")
    for method in METHODS:
        _runs_without_failure(*(budget if method == "dualbi" else feeder), method)
