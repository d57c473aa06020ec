"""benchmarks/run.py --quick runs end to end: the table lists the agents, the times are usable, the paths agree.

No wall-clock assertion: timings depend on the machine; the benchmark reports ratios, the test only checks that
they were measured (finite, positive) on the same problems (same objectives).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("battery", "mt1", "grid")
# one run of the whole quick benchmark, whose (c) starts mpiexec, in one test process
pytestmark = [pytest.mark.slow, pytest.mark.mpi, pytest.mark.xdist_group("benchmarks")]


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output-dir",
                                str(out)], check=False, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return (out / "latest.md").read_text(), json.loads((out / "latest.json").read_text())


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_table_lists_the_three_agents_with_finite_positive_times(quick_run):
    table, report = quick_run
    section_a = table.split("## (b)")[0]  # (e) lists the same agents in a table of its own
    cells = {row[0]: row for row in ([c.strip() for c in line.split("|")[1:-1]] for line in section_a.splitlines()
                                     if line.startswith("| "))}
    assert cells["agent"][3:7] == ["compiled ms", "bare highspy ms", "Pyomo rebuild ms", "Pyomo persistent ms"]
    results = {r["agent"]: r for r in report["subproblem_resolve"]}
    assert set(AGENTS) <= cells.keys() and set(results) == set(AGENTS)
    for agent in AGENTS:
        compiled, bare, rebuild, persistent = cells[agent][3:7]  # ms per solve, as the header says
        assert all(_positive(float(value)) for value in (compiled, bare, rebuild)), cells[agent]
        assert persistent == "n/a" or _positive(float(persistent))
        times = results[agent]["ms_per_solve"]
        assert all(_positive(times[path]) for path in ("compiled", "bare", "rebuild")), times
        assert _positive(results[agent]["ratios"]["compiled/bare"])


def test_paths_agreed_on_every_objective(quick_run):
    table, report = quick_run
    assert report["objectives_agree"] is True
    for result in report["subproblem_resolve"]:
        assert result["objectives_agree"] is True
        assert {"bare", "rebuild"} <= result["max_rel_objective_diff"].keys()
        assert max(result["max_rel_objective_diff"].values()) <= report["settings"]["objective_rtol"]
    # no 'NO' cell in the tables of objectives and iterates, (a) to (k); (l)'s 'accepted' column judges time and
    # memory against a budget, which a loaded machine may exceed (its own test checks what does not depend on time)
    assert re.search(r"\| NO[ |(]", table.split("## (l)")[0]) is None


def test_scaling_rows_and_machine_info(quick_run):
    _, report = quick_run
    sizes = report["primal_decomposition_scaling"]
    assert [s["agents"] for s in sizes] == [8, 80]
    for size in sizes:
        for key in ("setup_s", "ms_per_iteration", "centralized_s", "iteration_over_centralized"):
            assert _positive(size[key]), (size["agents"], key)
        assert size["objective_ratio"] == pytest.approx(1.0, rel=1e-6)
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"] and machine["highspy"] and report["date"]


def test_mpi_ranks_computed_the_same_iterates(quick_run):
    table, report = quick_run
    ranks = report["mpi_ranks"]
    assert [r["ranks"] for r in ranks] == [1, 2]
    assert ranks[0]["objective_history"] == ranks[1]["objective_history"]
    assert all(_positive(r["ms_per_iteration"]) for r in ranks)
    assert "| 2 | 40 |" in table and "yes (bit for bit)" in table


def test_certified_gap_rows_bound_each_other(quick_run):
    """(d): both sides certify 1% and each one's cost lies above the other's lower bound."""
    table, report = quick_run
    rows = report["pev_certified"]
    assert [r["vehicles"] for r in rows] == [20, 50]
    for r in rows:
        assert r["bounds_consistent"] and r["dualbi_gap"] <= 0.01 and r["centralized_gap"] <= 0.01
        assert r["dualbi_objective"] >= r["centralized_bound"] - 1e-9
        assert r["centralized_objective"] >= r["dualbi_lower_bound"] - 1e-9
        assert _positive(r["ratio"]) and _positive(r["centralized_solve_s"]) and _positive(r["dualbi_setup_s"])
    small, large = rows  # tightening on the 20-vehicle fleet only, up to 30 iterations
    assert large["tightening_s"] is None and _positive(small["tightening_s"])
    if small["tightening_status"] == "converged":  # a certificate of 1%, which bounds_consistent checked against HiGHS
        assert small["tightening_gap"] <= 0.01 and small["tightening_iterations"] < 30
    else:
        assert small["tightening_status"] == "iteration_limit" and small["tightening_iterations"] == 30
    assert "## (d) Time to a certified 1% gap" in table and "| 20 |" in table and "30 iterations" in table


def test_the_qp_benchmark_measured_every_path_on_the_same_problems(quick_run):
    table, report = quick_run
    results = {r["agent"]: r for r in report["qp_resolve"]}
    assert set(results) == set(AGENTS)
    for agent, result in results.items():
        assert all(_positive(result["ms_per_solve"][path]) for path in ("compiled", "compiled_highs", "rebuild")), result
        assert result["objectives_agree"] is True and result["max_rel_objective_diff"] <= 1e-6
        assert result["hessian_nonzeros"] > 0
    assert "## (e) Tracking-ADMM's QP step" in table


def test_the_nlp_benchmark_solved_every_problem_and_split_its_time(quick_run):
    table, report = quick_run
    results = report["nlp_overhead"]
    assert [r["problem"] for r in results][:2] == ["Hock-Schittkowski 71", "Rosenbrock n = 100"]
    for r in results:
        assert r["reached"] is True, r
        assert 0 < r["callback_s"] < r["solve_s"] and 0 < r["callback_share"] < 1
    assert "## (f) Ipopt through ecodec's bridge" in table


def test_the_market_benchmark_reached_the_replicated_optimum(quick_run):
    """(g): k copies of the market have k times the base optimum (the same per-copy decisions)."""
    table, report = quick_run
    results = report["market_scaling"]
    assert [r["agents"] for r in results] == [8, 40]
    for r in results:
        assert r["reached"] is True and r["objective"] == pytest.approx(r["expected_objective"], rel=1e-6)
        assert _positive(r["ms_per_iteration"]) and _positive(r["centralized_s"])
    assert "## (g) Aggregative tracking per iteration on the community market" in table


def test_the_tightening_benchmark_compares_the_iteration_with_the_n_milp_floor(quick_run):
    """(h): on pev_100 the run's own certificate, from the column selection at iteration 50, is at most 5%
    (its bounds are a feasible cost and a dual function value, checked against each other), and both the
    iteration and the floor are positive times."""
    table, report = quick_run
    (row,) = report["tightening"]
    assert row["vehicles"] == 100 and row["iterations"] == 51 and row["first_incumbent"] <= 50
    assert row["lower_bound"] <= row["upper_bound"] and row["certified_gap"] <= 0.05
    assert _positive(row["iteration_s"]) and _positive(row["floor_s"]) and _positive(row["over_floor"])
    assert "## (h)" in table and "| pev_100.xlsx | 100 | 51 |" in table


def test_the_online_benchmark_times_every_method_and_the_comparator(quick_run):
    """(i): every network played the rounds asked, on its own node count; each method's round and the comparator's
    solve are positive times, in the table."""
    table, report = quick_run
    rows = report["online_sharing"]["networks"]
    assert [(r["network"], r["nodes"], r["rounds"]) for r in rows] == [("der_sharing_6", 6, 48),
                                                                        ("synthetic 200", 200, 12)]
    for r in rows:
        assert _positive(r["comparator_ms"]) and all(_positive(v) for v in r["method_ms"].values())
        assert set(r["method_ms"]) == {"drs", "ma-nsdrs", "bansap"}
    assert "## (i)" in table and "| synthetic 200 | 200 |" in table


def test_the_deployment_benchmark_times_macropt_against_the_exact_gradient(quick_run):
    """(j): the 100-agent, 2500-cell case for the iterations asked; both times positive, the divergence falling."""
    table, report = quick_run
    row = report["deployment"]
    assert (row["agents"], row["cells"], row["iterations"]) == (100, 2500, 10)
    assert _positive(row["macropt_ms"]) and _positive(row["gradient_ms"]) and _positive(row["ratio"])
    assert row["divergence_end"] < row["divergence_start"]
    assert "## (j)" in table and "| 100 | 2500 | 10 |" in table


def test_the_delta_benchmark_times_delta_against_aggregative_tracking(quick_run):
    """(k): the 20-agent case for the iterations asked; import, set-up and both per-iteration times positive."""
    table, report = quick_run
    row = report["delta"]
    assert (row["agents"], row["width"], row["iterations"]) == (20, 300, 5)
    assert all(_positive(row[k]) for k in ("import_s", "setup_s", "delta_ms", "tracking_ms", "ratio"))
    assert "## (k)" in table and "| 20 | 300 | 5 |" in table


def test_the_reading_benchmark_refused_every_hostile_workbook(quick_run):
    """(l): every bomb was refused as bad input (exit 2) with a message naming its file; times and peak memory
    measured, against the shipped case validated in the same run."""
    table, report = quick_run
    rows = report["reading_bounds"]
    assert [r["bomb"] for r in rows] == ["dimension", "dimension x2", "one row", "empty cells", "many parts",
                                         "cells at the limit"]
    for r in rows:
        assert r["exit_code"] == 2 and r["message"].startswith("error: "), r
        assert _positive(r["time_s"]) and _positive(r["max_rss_mb"]) and _positive(r["time_ratio"])
        assert _positive(r["case_time_s"]) and _positive(r["case_max_rss_mb"])
    assert "row 1048576: expected at most 200000 rows per sheet" in rows[0]["message"]
    assert "## (l)" in table and "| one row |" in table


def test_the_fleet_benchmark_measures_every_size_and_method(quick_run):
    """(m): every fleet size and method (and the centralized solve) ran; set-up, reading time and peak memory
    measured; the distributed runs stopped at the iteration limit asked, not on a failure; the part of an iteration
    spent in the solvers' runs is positive and less than the whole iteration."""
    table, report = quick_run
    rows = report["fleet_scale"]
    assert sorted({(r["vehicles"], r["method"]) for r in rows}) == sorted(
        (n, m) for n in (50, 200) for m in ("centralized", "primal-decomposition", "tracking-admm"))
    for r in rows:
        assert _positive(r["read_s"]) and _positive(r["setup_s"]) and _positive(r["peak_mb"]), r
        if r["method"] != "centralized":
            assert r["status"] == "iteration_limit" and r["iterations"] == 3, r
            assert _positive(r["ms_per_iteration_per_agent"]), r
            assert 0 < r["solver_ms_per_iteration_per_agent"] < r["ms_per_iteration_per_agent"], r
            assert len(r["runs_ms"]) == 2 and r["ms_per_iteration_per_agent"] == min(r["runs_ms"]), r  # the median
            # of two runs is the lower one
        else:
            assert r["status"] == "optimal", r
    assert "## (m)" in table and "| 200 | tracking-admm |" in table


def test_the_fleet_benchmark_counts_iterations_to_one_percent_and_draws_the_plot(quick_run, tmp_path):
    """(m): each method ran to 1% or its cap on the 50-vehicle fleet; a run said to converge reached a violation
    and a cost gap of at most 1% (read independently from its history's numbers), one that did not used every
    iteration of the cap; Tracking-ADMM reaches 1% on this fleet (8 iterations measured); the plot is a PNG."""
    table, report = quick_run
    rows = {r["method"]: r for r in report["fleet_convergence"]}
    assert set(rows) == {"primal-decomposition", "tracking-admm"}
    for r in rows.values():
        assert r["vehicles"] == 50 and r["cap"] == 40 and _positive(r["wall_s"]), r
        if r["converged"]:
            assert r["violation"] <= 0.01 and abs(r["cost_gap"]) <= 0.01, r
            assert r["iterations"] < r["cap"], r
        else:
            assert r["iterations"] == r["cap"] and r["violation"] > 0, r
    assert rows["tracking-admm"]["converged"]
    assert "| 50 | tracking-admm | " in table and "iterations to 1%" in table
    assert Path(report["fleet_plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
