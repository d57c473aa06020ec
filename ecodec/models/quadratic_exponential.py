"""Quadratic-plus-exponential test agents of the DELTA experiment (ALGORITHMS_WAVE2.md section 2).

Source: Brumali, Carnevale, Notarstefano, "Data-Driven Distributed Optimization via Aggregative Tracking and
Deep-Learning" (arXiv 2503.04668; IEEE TCNS 2026), simulation section as the ECODREAM report prints it.  The printed
cost is garbled; ecodec's reading ``[R]``, with zeta = [x_i; sigma] in R^4, is

    f_i(x_i, sigma) = 1/2 zeta' P_i zeta + v_i' zeta + a_i exp(b_i' zeta + c_i) + q_i

strongly convex when P_i is positive definite and a_i >= 0 (both checked).  Agent i decides x_i in R^2 in the box
[x_min, x_max]^2, its share of the aggregates is phi_i(x_i) = x_i, so sigma = (1/N) sum_i x_i.  With several steps
(T > 1) every step is its own copy of the problem and the costs add up.  The costs are abstract test functions
(dimensionless); they stand for agents whose cost a user can only sample, and :func:`ecodec.io.delta.delta_tables`
draws them with a seed as the report's experiment does (the distributions are ecodec's ``[D]``).

=========  =============  ================================================  ====
symbol     Pyomo          workbook column (sheet quadratic_exponential)     unit
=========  =============  ================================================  ====
x_i        ``x1, x2``     (decisions) starting at x1_start, x2_start        -
P_i        (symmetric)    p_11 p_12 p_13 p_14 p_22 p_23 p_24                -
                          p_33 p_34 p_44 (the upper triangle)               -
v_i                       v_1 v_2 v_3 v_4                                   -
a_i                       a                                                 -
b_i                       b_1 b_2 b_3 b_4                                   -
c_i, q_i                  c, q                                              -
box                       x_min, x_max                                      -
=========  =============  ================================================  ====
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.declarations import NUMBER, Rule, at_most
from ecodec.models.base import AggregativeAgent, AggregativeTerms, Output, TimeGrid
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind

#: The aggregates: the mean of each coordinate of the agents' decisions
AGGREGATES: tuple[str, ...] = ("mean_x1", "mean_x2")
#: The upper triangle of P, row by row, as the workbook names it
P_ENTRIES: tuple[str, ...] = tuple(f"p_{a}{b}" for a in range(1, 5) for b in range(a, 5))


def p_matrix(values) -> np.ndarray:
    """The symmetric 4 x 4 matrix P from its upper-triangle entries (a mapping with the keys ``P_ENTRIES``).

    >>> float(p_matrix({name: 1.0 if name[2] == name[3] else 0.0 for name in P_ENTRIES}).trace())
    4.0
    """
    p = np.zeros((4, 4))
    for name in P_ENTRIES:
        a, b = int(name[2]) - 1, int(name[3]) - 1
        p[a, b] = p[b, a] = float(values[name])
    return p


def _positive_definite(row) -> bool:
    return bool(np.linalg.eigvalsh(p_matrix(row)).min() > 0.0)


def _entry(description: str, default: float = 0.0):
    return parameter(NUMBER, "-", description, default=default)


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class QuadraticExponential(AggregativeAgent):
    p_11: float = _entry("P_i[1, 1] (P_i symmetric positive definite; zeta = [x1, x2, mean_x1, mean_x2]).", 1.0)
    p_12: float = _entry("P_i[1, 2].")
    p_13: float = _entry("P_i[1, 3].")
    p_14: float = _entry("P_i[1, 4].")
    p_22: float = _entry("P_i[2, 2].", 1.0)
    p_23: float = _entry("P_i[2, 3].")
    p_24: float = _entry("P_i[2, 4].")
    p_33: float = _entry("P_i[3, 3].", 1.0)
    p_34: float = _entry("P_i[3, 4].")
    p_44: float = _entry("P_i[4, 4].", 1.0)
    v_1: float = _entry("v_i[1], the linear term's weight of x1.")
    v_2: float = _entry("v_i[2], of x2.")
    v_3: float = _entry("v_i[3], of mean_x1.")
    v_4: float = _entry("v_i[4], of mean_x2.")
    a: float = parameter(NUMBER, "-", "a_i, the weight of the exponential term (>= 0).", default=0.0, lower=0.0)
    b_1: float = _entry("b_i[1], the exponent's weight of x1.")
    b_2: float = _entry("b_i[2], of x2.")
    b_3: float = _entry("b_i[3], of mean_x1.")
    b_4: float = _entry("b_i[4], of mean_x2.")
    c: float = _entry("c_i, the exponent's offset.")
    q: float = _entry("q_i, a constant.")
    x_min: float = _entry("Lower bound of x1 and x2.", -5.0)
    x_max: float = _entry("Upper bound of x1 and x2.", 5.0)
    x1_start: float = _entry("Initial x1 of a distributed method (inside the box).")
    x2_start: float = _entry("Initial x2 of a distributed method (inside the box).")

    kind = "quadratic_exponential"
    sheet = "quadratic_exponential"
    sheet_description = (
        "Quadratic-plus-exponential test agents of the DELTA experiment (docs/delta.md): agent i decides x_i in R^2 "
        "and pays 1/2 z'P z + v'z + a exp(b'z + c) + q with z = [x_i; mean of all x]. Generated by "
        "'ecodec generate delta'. A case holds either these or other agents. (The example row is inactive.)")
    rules = (Rule(P_ENTRIES, _positive_definite, "P (p_11 .. p_44) positive definite"),
             at_most("x_min", "x_max"), at_most("x_min", "x1_start"), at_most("x1_start", "x_max"),
             at_most("x_min", "x2_start"), at_most("x2_start", "x_max"))
    example = {"name": "agent1", "active": False, "p_11": 1.5, "p_22": 1.5, "p_33": 1.0, "p_44": 1.0, "v_1": 0.3,
               "v_2": -0.2, "a": 0.5, "b_1": 0.1, "c": -0.5, "q": 0.2, "x_min": -5.0, "x_max": 5.0}
    aggregates = AGGREGATES
    outputs = (Output("x1", "x1", "-", "first decision"), Output("x2", "x2", "-", "second decision"))

    def build(self, b: pyo.Block, grid: TimeGrid, sigma: dict[str, list]) -> AggregativeTerms:
        T = grid.steps
        p = p_matrix(self.parameter_values())
        v = [self.v_1, self.v_2, self.v_3, self.v_4]
        weights = [self.b_1, self.b_2, self.b_3, self.b_4]
        b.x1 = pyo.Var(T, bounds=(self.x_min, self.x_max), initialize=self.x1_start)
        b.x2 = pyo.Var(T, bounds=(self.x_min, self.x_max), initialize=self.x2_start)

        def cost(t):
            z = [b.x1[t], b.x2[t], sigma[AGGREGATES[0]][t], sigma[AGGREGATES[1]][t]]
            quadratic = 0.5 * sum(p[r, s] * z[r] * z[s] for r in range(4) for s in range(4) if p[r, s] != 0.0)
            linear = sum(v[r] * z[r] for r in range(4) if v[r] != 0.0)
            exponent = sum(weights[r] * z[r] for r in range(4) if weights[r] != 0.0) + self.c
            return quadratic + linear + (self.a * pyo.exp(exponent) if self.a > 0 else 0.0) + self.q

        b.cost = pyo.Expression(expr=sum(cost(t) for t in T))
        return AggregativeTerms(cost=b.cost, shares={AGGREGATES[0]: [b.x1[t] for t in T],
                                                     AGGREGATES[1]: [b.x2[t] for t in T]})
