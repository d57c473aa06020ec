"""Numbers inside a parameter's declared bounds but beyond what a solver handles are refused with the coefficient
named, before any solve, on the centralized and the distributed path; no solver traceback reaches the user
(issue 20, item 11)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp

from ecodec.cli import main
from ecodec.errors import ProblemError, SolveError
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.solvers.highs import solve_with_highs
from ecodec.solvers.numerics import LARGEST_VALUE, coefficient_issues
from ecodec.study import load, solve_case


def _case(tmp_path, name: str, sheet: str, **values):
    tables = copy.deepcopy(example_tables())
    tables[sheet][0].update(values)
    return write_case_workbook(tmp_path / name, tables)


def test_an_efficiency_near_zero_is_refused_naming_the_coefficient(tmp_path, capsys):
    """eta_discharge = 1e-17 is inside its declared (0, 1] and puts 1 / eta into the storage's energy balance; HiGHS
    then reports an optimum whose duals cannot be read (an IndexError inside the solver interface)."""
    path = _case(tmp_path, "eta.xlsx", "storages", eta_discharge=1e-17)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: case 'example': numbers no solver handles reliably")
    assert "of agents[bat1].p_dis[0] in agents[bat1].energy_balance[0]: outside 1e-09 to 1e+12" in err
    assert "Traceback" not in err
    # the distributed methods compile each agent alone: the same check, naming the agent
    assert main(["run", str(path), "--method", "primal-decomposition", "--no-reference", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: agent 'bat1' (storage): numbers no solver handles reliably")


def test_the_solver_interface_failing_on_such_numbers_is_an_error_not_a_traceback(tmp_path):
    """Without ecodec's check, HiGHS's answer on that case cannot be read back: a SolveError says so."""
    problem = load(_case(tmp_path, "eta.xlsx", "storages", eta_discharge=1e-17)).problem
    model = problem.centralized_model().model
    with pytest.raises(SolveError, match="cannot hand back"):
        solve_with_highs(model, duals_of=model.coupling.values())


def test_a_price_far_beyond_physical_values_is_refused_and_a_wide_one_warned(tmp_path):
    """Prices of 1e15 per kWh ended in HiGHS's 'error' status, reported as 'try a longer time limit'."""
    with pytest.raises(ProblemError, match=r"cost coefficient 2\.5e\+14 of agents\[grid\]\.p_in\[0\]"):
        solve_case(_case(tmp_path, "p15.xlsx", "grid", buy_price_per_kwh=1e15, sell_price_per_kwh=0.0))
    result = solve_case(_case(tmp_path, "p9.xlsx", "grid", buy_price_per_kwh=1e9))
    assert result.status == "optimal"
    (warning,) = result.info["warnings"]
    assert warning.startswith("case 'example': the cost coefficients span") and "ratio above 1e+10" in warning
    # a physical case has nothing to warn about
    assert solve_case("cases/microgrid_8.xlsx").info["warnings"] == []


def test_coefficient_ranges_by_hand():
    a = sp.csr_array(np.array([[1.0, 1e-12, 0.0], [0.0, 2.0, 3e12]]))
    refused, warned = coefficient_issues(
        a, np.array([1.0, 0.0, -2e12]), np.array([0.0, -1e20, 0.0]), np.array([5e12, 1e20, np.inf]),
        np.array([-np.inf, 1.0]), np.array([1e30, 2.0]), ["x", "y", "z"], ["r1", "r2"])
    assert refused == [
        "coefficient 1e-12 of y in r1: outside 1e-09 to 1e+12 in absolute value",
        "coefficient 3e+12 of z in r2: outside 1e-09 to 1e+12 in absolute value",
        f"cost coefficient -2e+12 of z: above {LARGEST_VALUE:g} in absolute value",
        "upper bound 5e+12 of x: above 1e+12 in absolute value (from 1e+20 on a value means no limit)",
    ]  # -1e20, 1e20 and 1e30 are no limit
    assert warned == ["the matrix entries span 1e-12 to 3e+12, a ratio above 1e+10: the smallest are below the "
                      "solver's tolerances next to the largest",
                      "the cost coefficients span 1 to 2e+12, a ratio above 1e+10: the smallest are below the "
                      "solver's tolerances next to the largest"]
