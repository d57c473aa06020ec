"""Published NLP test problems with known optima, as Pyomo models: the checks of ecodec's Ipopt bridge.

Sources: W. Hock, K. Schittkowski, "Test Examples for Nonlinear Programming Codes", Lecture Notes in Economics
and Mathematical Systems 187, Springer 1981 (problems 1, 6, 35, 71, with their standard starting points); J. J.
More, B. S. Garbow, K. E. Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7(1), 1981
(problem 21, the extended Rosenbrock function, any even size n).

:data:`KNOWN` gives, per problem, its builder, the optimal objective and the optimal point.
"""

from __future__ import annotations

from collections.abc import Callable

import pyomo.environ as pyo


def hs71() -> pyo.ConcreteModel:
    """min x1 x4 (x1 + x2 + x3) + x3  s.t.  x1 x2 x3 x4 >= 25,  sum x_i^2 = 40,  1 <= x <= 5."""
    m = pyo.ConcreteModel(name="hs71")
    m.x = pyo.Var(range(4), bounds=(1, 5), initialize={0: 1, 1: 5, 2: 5, 3: 1})
    m.obj = pyo.Objective(expr=m.x[0] * m.x[3] * (m.x[0] + m.x[1] + m.x[2]) + m.x[2])
    m.product = pyo.Constraint(expr=m.x[0] * m.x[1] * m.x[2] * m.x[3] >= 25)
    m.sphere = pyo.Constraint(expr=sum(m.x[i] ** 2 for i in range(4)) == 40)
    return m


def hs35() -> pyo.ConcreteModel:
    """A convex quadratic over x >= 0 with one linear inequality."""
    m = pyo.ConcreteModel(name="hs35")
    m.x = pyo.Var(range(3), bounds=(0, None), initialize=0.5)
    x = m.x
    m.obj = pyo.Objective(expr=9 - 8 * x[0] - 6 * x[1] - 4 * x[2] + 2 * x[0] ** 2 + 2 * x[1] ** 2 + x[2] ** 2
                          + 2 * x[0] * x[1] + 2 * x[0] * x[2])
    m.c = pyo.Constraint(expr=x[0] + x[1] + 2 * x[2] <= 3)
    return m


def hs6() -> pyo.ConcreteModel:
    """min (1 - x1)^2  s.t.  10 (x2 - x1^2) = 0, from (-1.2, 1)."""
    m = pyo.ConcreteModel(name="hs6")
    m.x = pyo.Var(range(2), initialize={0: -1.2, 1: 1.0})
    m.obj = pyo.Objective(expr=(1 - m.x[0]) ** 2)
    m.c = pyo.Constraint(expr=10 * (m.x[1] - m.x[0] ** 2) == 0)
    return m


def hs1() -> pyo.ConcreteModel:
    """Rosenbrock's function with x2 >= -1.5, from (-2, 1)."""
    m = pyo.ConcreteModel(name="hs1")
    m.x = pyo.Var(range(2), initialize={0: -2.0, 1: 1.0})
    m.x[1].setlb(-1.5)
    m.obj = pyo.Objective(expr=100 * (m.x[1] - m.x[0] ** 2) ** 2 + (1 - m.x[0]) ** 2)
    return m


def extended_rosenbrock(n: int) -> pyo.ConcreteModel:
    """sum over pairs of 100 (x_{2i+1} - x_{2i}^2)^2 + (1 - x_{2i})^2 from (-1.2, 1, -1.2, 1, ...); n even."""
    if n < 2 or n % 2:
        raise ValueError(f"the extended Rosenbrock function needs an even n >= 2, got {n}")
    m = pyo.ConcreteModel(name=f"rosenbrock_{n}")
    m.x = pyo.Var(range(n), initialize=lambda _, i: -1.2 if i % 2 == 0 else 1.0)
    m.obj = pyo.Objective(expr=sum(100 * (m.x[i + 1] - m.x[i] ** 2) ** 2 + (1 - m.x[i]) ** 2 for i in range(0, n, 2)))
    return m


KNOWN: dict[str, tuple[Callable[[], pyo.ConcreteModel], float, tuple[float, ...]]] = {
    "hs71": (hs71, 17.0140173, (1.0, 4.7429994, 3.8211503, 1.3794082)),
    "hs35": (hs35, 1 / 9, (4 / 3, 7 / 9, 4 / 9)),
    "hs6": (hs6, 0.0, (1.0, 1.0)),
    "hs1": (hs1, 0.0, (1.0, 1.0)),
}
