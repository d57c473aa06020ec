"""ecodec's bridge from Pyomo to Ipopt (cyipopt): published NLP test problems with known optima
(:mod:`ecodec.solvers.reference_nlps`, with their sources), derivatives checked against finite differences,
multipliers checked against re-solves with a moved bound and against HiGHS, and clear errors.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from ecodec.cli import main
from ecodec.decomposition.centralized import CentralizedOptions, solve_centralized
from ecodec.errors import ProblemError
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case
from ecodec.solvers.ipopt import PyomoNLP, solve_with_ipopt
from ecodec.solvers.reference_nlps import KNOWN, hs6, hs35, hs71

TIGHT = {"tol": 1e-10}


@pytest.mark.parametrize("name", list(KNOWN))
def test_published_optima_are_reproduced(name):
    build, optimum, solution = KNOWN[name]
    m = build()
    outcome = solve_with_ipopt(m, options=TIGHT)
    assert outcome.status == "optimal", outcome.message
    assert outcome.objective == pytest.approx(optimum, rel=1e-6, abs=1e-9)
    assert pyo.value(m.obj) == pytest.approx(outcome.objective, rel=1e-12, abs=1e-12)  # loaded into the model
    assert [pyo.value(v) for v in m.x.values()] == pytest.approx(solution, rel=1e-6, abs=1e-6)


def test_the_limited_memory_hessian_reaches_the_same_optimum():
    m = hs71()
    outcome = solve_with_ipopt(m, hessian="limited-memory", options=TIGHT)
    assert outcome.status == "optimal" and outcome.objective == pytest.approx(17.0140173, rel=1e-6)


def test_multipliers_are_the_derivative_of_the_optimum_with_respect_to_each_bound():
    """HS71's duals against central differences of re-solves with the bound moved by +-h."""
    outcome = solve_with_ipopt(hs71(), options=TIGHT)
    h = 1e-4
    for name, bound in (("product", "lower"), ("sphere", "both")):
        ends = []
        for step in (h, -h):
            m = hs71()
            c = getattr(m, name)
            value = pyo.value(c.lower) + step
            c.set_value((value, c.body, value if bound == "both" else None))
            ends.append(solve_with_ipopt(m, options=TIGHT).objective)
        derivative = (ends[0] - ends[1]) / (2 * h)
        dual = outcome.duals[_constraint_of(outcome, name)]
        assert dual == pytest.approx(derivative, rel=1e-5), name
    # the published multipliers of Ipopt's own HS71 example are lambda = (-0.552294, 0.161469) for
    # L = f + lambda' g; as derivatives of the optimum they change sign
    assert outcome.constraint_duals == pytest.approx([0.552294, -0.161469], rel=1e-5)


def _constraint_of(outcome, name):
    return next(c for c in outcome.duals if c.local_name == name)


def test_maximisation_with_logarithms_and_its_price():
    """max ln x + ln y s.t. x + y <= b: x = y = b/2, f*(b) = 2 ln(b/2), d f*/d b = 2/b = 0.5 at b = 4."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1e-6, None), initialize=1.0)
    m.y = pyo.Var(bounds=(1e-6, None), initialize=1.0)
    m.obj = pyo.Objective(expr=pyo.log(m.x) + pyo.log(m.y), sense=pyo.maximize)
    m.budget = pyo.Constraint(expr=m.x + m.y <= 4)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    outcome = solve_with_ipopt(m, options=TIGHT)
    assert m.dual[m.budget] == outcome.duals[m.budget]  # written back to the model
    assert outcome.objective == pytest.approx(2 * math.log(2), rel=1e-7)  # Ipopt's sides are relaxed by 1e-8
    assert (pyo.value(m.x), pyo.value(m.y)) == pytest.approx((2.0, 2.0), rel=1e-7)
    assert outcome.duals[m.budget] == pytest.approx(0.5, rel=1e-7)


def _central(fn, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of fn (vector valued) at x: shape (len(fn(x)), len(x))."""
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((np.atleast_1d(fn(x + step)) - np.atleast_1d(fn(x - step))) / (2 * h))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("build", [hs71, hs35, hs6])
def test_derivatives_equal_finite_differences_at_random_points(build):
    nlp = PyomoNLP(build())
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.uniform(1.0, 3.0, nlp.n)
        np.testing.assert_allclose(nlp.gradient(x), _central(nlp.objective, x)[0], rtol=1e-6, atol=1e-6)
        jacobian = np.zeros((nlp.m, nlp.n))
        jacobian[nlp.jacobian.rows, nlp.jacobian.cols] = nlp.jacobian_values(x)
        if nlp.m:
            np.testing.assert_allclose(jacobian, _central(nlp.constraints_values, x), rtol=1e-6, atol=1e-6)
        weights, factor = rng.normal(size=nlp.m), 0.7

        def lagrangian_gradient(point):
            full = np.zeros((nlp.m, nlp.n))
            full[nlp.jacobian.rows, nlp.jacobian.cols] = nlp.jacobian_values(point)
            return factor * nlp.gradient(point) + weights @ full

        hessian = np.zeros((nlp.n, nlp.n))
        hessian[nlp.hessian_rows, nlp.hessian_cols] = nlp.hessian_values(x, weights, factor)
        assert np.all(nlp.hessian_rows >= nlp.hessian_cols)  # lower triangle, as Ipopt expects
        full = np.tril(hessian) + np.tril(hessian, -1).T
        np.testing.assert_allclose(full, _central(lagrangian_gradient, x), rtol=1e-5, atol=1e-5)


def test_an_infeasible_problem_is_reported_as_infeasible():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.obj = pyo.Objective(expr=m.x ** 2)
    m.low = pyo.Constraint(expr=m.x ** 2 <= 1)
    m.high = pyo.Constraint(expr=m.x >= 2)
    outcome = solve_with_ipopt(m)
    assert outcome.status == "infeasible" and not outcome.has_solution and "nfeasib" in outcome.message


def test_models_ipopt_cannot_take_are_refused_with_the_reason():
    m = pyo.ConcreteModel(name="commitment")
    m.on = pyo.Var(within=pyo.Binary)
    m.obj = pyo.Objective(expr=m.on ** 2)
    with pytest.raises(ProblemError, match="integer variables .*on"):
        PyomoNLP(m)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1.0)
    m.obj = pyo.Objective(expr=pyo.Expr_if(m.x >= 0, m.x, -m.x))
    with pytest.raises(ProblemError, match="cannot evaluate '(Expr_if|Inequality)Expression'"):
        PyomoNLP(m)


def test_the_shipped_lp_microgrid_on_ipopt_equals_highs_in_cost_and_prices():
    """A 2113-variable LP through the bridge against HiGHS's simplex: the same optimum and the same dual prices
    (an independent check of the multipliers' sign and scale)."""
    problem = problem_from_case(read_case("cases/microgrid_8.xlsx"))
    highs = solve_centralized(problem)
    ipopt = solve_centralized(problem, CentralizedOptions(solver="ipopt"))
    assert ipopt.status == "optimal" and ipopt.info["solver"].startswith("Ipopt")
    assert ipopt.objective == pytest.approx(highs.objective, rel=1e-8)
    np.testing.assert_allclose(ipopt.coupling["price"], highs.coupling["price"], atol=1e-6)


def test_solve_command_takes_the_solver_and_refuses_integers_with_ipopt(capsys):
    assert main(["solve", "cases/microgrid_8.xlsx", "--solver", "ipopt"]) == 0
    out = capsys.readouterr().out
    assert "Ipopt" in out and "total cost: 365.55 EUR" in out
    assert main(["solve", "cases/microgrid_8_milp.xlsx", "--solver", "ipopt"]) == 2
    err = capsys.readouterr().err
    assert "Ipopt solves continuous problems" in err and "integer variables" in err
