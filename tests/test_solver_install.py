"""The solvers setup installs work: HiGHS through Pyomo, Ipopt through cyipopt (built against the system Ipopt)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from ecodec.solvers.highs import solve_with_highs


def test_highs_solves_a_two_variable_lp_with_known_duals():
    """min x + 2y s.t. x + y >= 4, x <= 3: x = 3, y = 1, cost 5; the row x + y >= 4 prices at 2 (more demand is
    met by y at 2 per unit), the bound x <= 3 is what makes it so."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3))
    m.y = pyo.Var(bounds=(0, None))
    m.demand = pyo.Constraint(expr=m.x + m.y >= 4)
    m.obj = pyo.Objective(expr=m.x + 2 * m.y)
    out = solve_with_highs(m, duals_of=[m.demand])
    assert out.status == "optimal" and out.objective == pytest.approx(5.0)
    assert (pyo.value(m.x), pyo.value(m.y)) == pytest.approx((3.0, 1.0))
    assert out.duals[m.demand] == pytest.approx(2.0)


def test_ipopt_through_cyipopt_solves_hs071():
    """Hock-Schittkowski problem 71: min x1 x4 (x1 + x2 + x3) + x3 s.t. x1 x2 x3 x4 >= 25,
    x1^2 + x2^2 + x3^2 + x4^2 = 40, 1 <= x <= 5, from x0 = (1, 5, 5, 1).  Published optimum
    x* = (1, 4.74299963, 3.82114998, 1.37940829), f* = 17.0140173 (Hock & Schittkowski 1981)."""
    import cyipopt

    class HS071:
        def objective(self, x):
            return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

        def gradient(self, x):
            return np.array([x[0] * x[3] + x[3] * (x[0] + x[1] + x[2]), x[0] * x[3],
                             x[0] * x[3] + 1.0, x[0] * (x[0] + x[1] + x[2])])

        def constraints(self, x):
            return np.array([np.prod(x), np.dot(x, x)])

        def jacobian(self, x):
            return np.concatenate([np.prod(x) / x, 2 * x])

    nlp = cyipopt.Problem(n=4, m=2, problem_obj=HS071(), lb=[1.0] * 4, ub=[5.0] * 4, cl=[25.0, 40.0],
                          cu=[2.0e19, 40.0])
    nlp.add_option("print_level", 0)
    nlp.add_option("hessian_approximation", "limited-memory")
    nlp.add_option("tol", 1e-9)
    x, info = nlp.solve(np.array([1.0, 5.0, 5.0, 1.0]))
    assert info["status"] == 0
    np.testing.assert_allclose(x, [1.0, 4.74299963, 3.82114998, 1.37940829], rtol=1e-6)
    assert info["obj_val"] == pytest.approx(17.0140173, rel=1e-7)
