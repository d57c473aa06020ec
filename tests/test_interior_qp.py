"""The local QPs solved by PIQP (ecodec.solvers.interior_qp) against HiGHS's active-set QP solver on the same data:
minimisers, objectives and duals, the copy of the data kept in step with every change of the program, and the
methods' ``qp_solver`` option."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case
from ecodec.solvers.matrix import MatrixProblem


def _random_qp(seed: int) -> dict:
    """A feasible, strictly convex QP with equality rows, ranged and one-sided rows, bounded, free and fixed
    columns: feasible by construction around a point x0 inside the bounds."""
    rng = np.random.default_rng(seed)
    n, m_eq, m_in = 12, 3, 6
    m = rng.standard_normal((n, n))
    hessian = m @ m.T / n + 0.1 * np.eye(n)
    lower, upper = -rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)
    lower[0], upper[1] = -np.inf, np.inf  # a column free below, one free above
    x0 = rng.uniform(-0.4, 0.4, n)
    lower[2] = upper[2] = x0[2]  # a fixed column
    a = sp.random_array((m_eq + m_in, n), density=0.5, rng=rng, format="csr") + sp.eye_array(m_eq + m_in, n)
    row = a @ x0
    row_lower = np.concatenate([row[:m_eq], row[m_eq:] - rng.uniform(0.0, 0.3, m_in)])
    row_upper = np.concatenate([row[:m_eq], row[m_eq:] + rng.uniform(0.0, 0.3, m_in)])
    row_lower[m_eq], row_upper[m_eq + 1] = -np.inf, np.inf  # one-sided rows
    return dict(cost=rng.standard_normal(n) * 3.0, lower=lower, upper=upper, matrix=a, row_lower=row_lower,
                row_upper=row_upper, hessian=sp.csc_array(hessian))


def _program(qp: dict, solver: str) -> MatrixProblem:
    program = MatrixProblem(qp["cost"], qp["lower"], qp["upper"], qp["matrix"], qp["row_lower"], qp["row_upper"],
                            offset=1.5)
    program.set_hessian(qp["hessian"], solver=solver)
    return program


@pytest.mark.parametrize("seed", range(6))
def test_piqp_finds_highs_minimiser_objective_and_duals(seed):
    qp = _random_qp(seed)
    piqp, highs = _program(qp, "piqp").solve(), _program(qp, "highs").solve()
    assert piqp.status == highs.status == "optimal"
    np.testing.assert_allclose(piqp.x, highs.x, atol=1e-6)
    assert piqp.objective == pytest.approx(highs.objective, rel=1e-8, abs=1e-8)
    # the objective is c'x + x'Qx/2 + offset at PIQP's own point (a different formula from HiGHS's report)
    x = piqp.x
    assert piqp.objective == pytest.approx(qp["cost"] @ x + 0.5 * x @ (qp["hessian"] @ x) + 1.5, rel=1e-12)
    np.testing.assert_allclose(piqp.row_dual, highs.row_dual, atol=1e-5)


def test_a_changed_program_is_solved_on_its_changed_data():
    """Costs, column and row bounds, appended columns and rows, a changed coefficient and the offset: after each,
    the PIQP program solves what a new HiGHS program built with the same data solves."""
    qp = _random_qp(11)
    program = _program(qp, "piqp")
    program.solve()
    rng = np.random.default_rng(3)
    n = qp["cost"].size
    qp["cost"] = rng.standard_normal(n)
    program.set_costs(np.arange(n), qp["cost"])
    qp["upper"][5] = qp["lower"][5] + 0.1
    program.set_column_bounds([5], qp["lower"][5], qp["upper"][5])
    qp["row_lower"][4], qp["row_upper"][4] = -np.inf, np.inf  # a row made free: dropped from PIQP's rows
    program.set_row_bounds([4], -np.inf, np.inf)
    program.set_coefficient(6, 3, 0.25)
    matrix = qp["matrix"].tolil()
    matrix[6, 3] = 0.25
    program.set_offset(-2.0)
    new = program.add_columns([1.0], 0.0, 4.0)  # a column with no quadratic term, then a row on it
    row = sp.csr_array((np.array([1.0, 1.0]), (np.array([0, 0]), np.array([0, new[0]]))), shape=(1, n + 1))
    program.add_rows(row, [0.5], [0.5])
    reference = MatrixProblem(np.append(qp["cost"], 1.0), np.append(qp["lower"], 0.0), np.append(qp["upper"], 4.0),
                              sp.vstack([sp.hstack([sp.csr_array(matrix), sp.csr_array((matrix.shape[0], 1))]), row]),
                              np.append(qp["row_lower"], 0.5), np.append(qp["row_upper"], 0.5), offset=-2.0)
    hessian = qp["hessian"].copy()
    hessian.resize((n + 1, n + 1))
    reference.set_hessian(hessian, solver="highs")
    mine, theirs = program.solve(), reference.solve()
    assert program.attempts == [("PIQP", "optimal")]
    np.testing.assert_allclose(mine.x, theirs.x, atol=1e-6)
    assert mine.objective == pytest.approx(theirs.objective, rel=1e-8)


def test_an_infeasible_qp_is_left_to_highs_which_confirms_it():
    program = MatrixProblem([1.0, 1.0], [0.0, 0.0], [1.0, 1.0], sp.csr_array([[1.0, 1.0]]), [3.0], [np.inf])
    program.set_hessian(sp.eye_array(2, format="csc"))
    solution = program.solve()
    assert solution.status == "infeasible" and solution.x is None
    assert program.attempts[0] == ("PIQP", "infeasible") and program.attempts[1] == ("no basis", "infeasible")


@pytest.mark.parametrize(("method", "path"), [("tracking-admm", "cases/microgrid_8.xlsx"),
                                            ("primal-decomposition", "cases/household_3.xlsx"),
                                            ("proximal-minimization", "cases/cooling_district_4.xlsx")])
def test_both_qp_solvers_give_the_same_run(method, path):
    """The same iterates to solver precision: a run whose QPs PIQP solves and one whose QPs HiGHS's active-set
    solver solves end at the same cost and violation after 30 iterations."""
    case = read_case(path)
    problem, network = problem_from_case(case), network_from_case(case)
    rules = StoppingRules(max_iterations=30, violation_tol=1e-12, cost_gap_tol=1e-12, stall_tol=1e-12)
    last = {solver: run(problem, network, method, options_for(method, {"qp_solver": solver}), rules).history.iloc[-1]
            for solver in ("piqp", "highs")}
    assert last["piqp"]["iteration"] == last["highs"]["iteration"] == 30
    assert last["piqp"]["objective"] == pytest.approx(last["highs"]["objective"], rel=1e-6, abs=1e-6)
    assert last["piqp"]["max_violation"] == pytest.approx(last["highs"]["max_violation"], rel=1e-3, abs=1e-6)


def test_an_unknown_qp_solver_is_refused_with_the_ones_there_are():
    program = MatrixProblem([1.0], [0.0], [1.0], name="ev7")
    with pytest.raises(ValueError, match="ev7: QP solver 'PIQP'; expected one of piqp, highs"):
        program.set_hessian(sp.eye_array(1, format="csc"), solver="PIQP")
