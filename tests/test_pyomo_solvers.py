"""Any Pyomo solver for the centralized solve (issue 21, item 4): ``solver=NAME`` goes to Pyomo's SolverFactory.

GLPK (``glpsol``, Debian package glpk-utils, installed by ``make setup``) must give HiGHS's optimum on the shipped
LP to 1e-6 and the same coupling prices (its LP duals, read through a ``dual`` suffix: they agree to about 1e-16
on microgrid_8); on the MILP it must land within the MIP gap of HiGHS's optimum.  An unknown name, or a known
solver not installed here, is one line and exit code 2.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest

from ecodec.cli import main
from ecodec.decomposition.centralized import CentralizedOptions
from ecodec.decomposition.options import OptionError
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.solvers.pyomo_solver import is_available, limit_options, solver_problem
from ecodec.study import solve_case

LP, MILP, MARKET = "cases/microgrid_8.xlsx", "cases/microgrid_8_milp.xlsx", "cases/community_market.xlsx"
PRICE_TOL = 1e-9  # EUR/kWh; measured difference 3e-17

@pytest.fixture(scope="module")
def lp_results():
    return {name: solve_case(LP, options={"solver": name}) for name in ("highs", "glpk")}


def test_glpk_gives_the_optimum_and_prices_of_highs_on_the_lp(lp_results):
    highs, glpk = lp_results["highs"], lp_results["glpk"]
    assert glpk.status == highs.status == "optimal"
    assert glpk.objective == pytest.approx(highs.objective, rel=1e-6)
    assert glpk.info["solver"].startswith("glpk ") and glpk.info["options"]["solver"] == "glpk"
    assert highs.info["solver"].startswith("HiGHS")
    assert glpk.coupling.price.notna().all()
    np.testing.assert_allclose(glpk.coupling.price.to_numpy(float), highs.coupling.price.to_numpy(float),
                               rtol=0, atol=PRICE_TOL)
    assert np.abs(glpk.coupling.residual.to_numpy(float)).max() < 1e-6


def test_glpk_lands_within_the_mip_gap_of_highs_on_the_milp():
    gap = 1e-4
    highs = solve_case(MILP, options={"solver": "highs", "mip_rel_gap": gap})
    glpk = solve_case(MILP, options={"solver": "glpk", "mip_rel_gap": gap})
    assert highs.status == glpk.status == "optimal"
    assert glpk.info["n_integer_variables"] > 0
    assert glpk.objective >= highs.info["objective_bound"] - 1e-6 * abs(highs.objective)  # no better than the bound
    assert abs(glpk.objective - highs.objective) <= 2 * gap * abs(highs.objective)  # both within gap of the optimum


def test_an_unknown_or_missing_solver_is_refused_in_one_line():
    with pytest.raises(OptionError, match="^centralized option solver must be .* got 'nosuchsolver': Pyomo knows no "
                                          "solver of that name"):
        CentralizedOptions(solver="nosuchsolver")
    assert CentralizedOptions(solver=" HiGHS ").solver == "highs"
    assert "highs, ipopt" in solver_problem("nosuchsolver")
    if not is_available("gurobi_direct"):
        assert "pip install gurobipy" in solver_problem("gurobi_direct")


def test_the_cli_refuses_an_unknown_solver_with_exit_2(capsys):
    assert main(["run", LP, "--method", "centralized", "-O", "solver=nosuchsolver"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nosuchsolver'" in err[0] and "Pyomo knows no solver of that name" in err[0]


def test_solve_command_takes_any_installed_solver_and_refuses_others(capsys):
    assert main(["solve", "cases/microgrid_8.xlsx", "--solver", "nosuchsolver"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "'nosuchsolver'" in err[0]
    if not is_available("gurobi"):
        assert main(["solve", "cases/microgrid_8.xlsx", "--solver", "gurobi"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not installed here" in err[0] and "pip install gurobipy" in err[0]
    assert main(["solve", "cases/microgrid_8.xlsx", "--solver", "glpk"]) == 0  # glpk: installed by make setup
    out = capsys.readouterr().out
    assert "glpk" in out and "total cost: 365.55 EUR" in out


def test_a_market_case_refuses_a_linear_solver(capsys):
    assert main(["run", MARKET, "--method", "centralized", "-O", "solver=glpk"]) == 2
    err = capsys.readouterr().err
    assert "solver 'glpk' does not solve this case" in err and "use solver 'ipopt'" in err


def test_limits_go_under_each_solvers_own_names(caplog):
    assert limit_options("glpk", 2.5, 1e-3, is_mip=True) == {"tmlim": 3, "mipgap": 1e-3}
    assert limit_options("glpk", None, 1e-3, is_mip=False) == {}
    assert limit_options("cbc", 10.0, 1e-3, is_mip=True) == {"seconds": 10.0, "ratioGap": 1e-3}
    assert limit_options("gurobi_direct", 10.0, 1e-3, is_mip=True) == {"TimeLimit": 10.0, "MIPGap": 1e-3}
    assert limit_options("scip", 10.0, None, is_mip=True) == {"limits/time": 10.0}
    with caplog.at_level(logging.WARNING, logger="ecodec.solvers.pyomo_solver"):
        assert limit_options("appsi_highs", 10.0, 1e-3, is_mip=True) == {}
    assert "not passed" in caplog.text and "time limit and MIP gap" in caplog.text


def test_the_numeric_range_check_runs_before_a_pyomo_solver(tmp_path, capsys):
    tables = copy.deepcopy(example_tables())
    tables["storages"][0].update(eta_discharge=1e-17)
    path = write_case_workbook(tmp_path / "eta.xlsx", tables)
    assert main(["run", str(path), "--method", "centralized", "-O", "solver=glpk"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: case 'example': numbers no solver handles reliably") and "Traceback" not in err
