"""Connection to the main grid: buy and sell at (time-varying) prices within power limits.

Source: ECODREAM final report, microgrid model (University of Genova); ALGORITHMS.md section 1.

Per step t::

    p_t = p_in_t - p_out_t,   0 <= p_in_t <= max(p_max_t, 0),   0 <= p_out_t <= max(-p_min_t, 0)
    p_min_t <= p_t <= p_max_t,   q_min_t <= q_t <= q_max_t
    cost = Delta * sum_t ((B_t + beta p_in_t) p_in_t - S_t p_out_t)

beta >= 0 makes the buy price grow with the import (a demand-dependent price, convex: ALGORITHMS_WAVE2.md
section 5.2, ecodec's design [D]); beta = 0 (the default) is the fixed price.  With beta > 0, ``price_segments``
says how beta p_in_t^2 enters:

* 0: exactly, as a quadratic cost.  The centralized solve is then a QP, which HiGHS solves; the distributed
  methods' compiled subproblems are linear and refuse the agent (ProblemError naming it).
* N >= 1: an outer approximation that keeps an LP (every method can take it): an epigraph variable w_t with
  w_t >= 0 and, for the midpoints x_j = (j + 1/2) P_t / N of N equal segments of [0, P_t] (P_t = max(p_max_t, 0)),
  the tangents w_t >= beta (2 x_j p_in_t - x_j^2).  The maximum of these tangents meets beta p_in^2 at each x_j
  and underestimates it by at most beta (P_t / 2N)^2, so the approximate cost is a lower bound on the exact one
  (at the same p) and the gap shrinks as 1/N^2.

Where the sell price exceeds the buy price (S_t > B_t) an LP would buy and sell at once for profit, so at
those steps a binary z_t forbids it: p_in_t <= max(p_max_t, 0) z_t and p_out_t <= max(-p_min_t, 0)(1 - z_t).
Cases with S_t <= B_t at every step stay LPs.  HiGHS solves no mixed-integer QP, so the exact quadratic price
(price_segments = 0) is refused where S_t > B_t at some step: take price_segments >= 1 there.

Contributions: active power +p_t (import positive), reactive power +q_t.

======  ==========  ========================  ===============
symbol  Pyomo       workbook column           unit
======  ==========  ========================  ===============
p_in    ``p_in``    p_max_kw                  kW
p_out   ``p_out``   p_min_kw                  kW
p       ``p``                                 kW
q       ``q``       q_min_kvar, q_max_kvar    kvar
z       ``buying``  (S_t > B_t only)          0/1
w       ``w``       price_segments            currency/h
B                   buy_price_per_kwh         currency/kWh
beta                buy_price_slope_per_kw2h  currency/kWh/kW
S                   sell_price_per_kwh        currency/kWh
======  ==========  ========================  ===============
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, REACTIVE_POWER
from ecodec.declarations import INTEGER, NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import parameter, q_max_kvar, q_min_kvar
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Grid(Agent):
    p_min_kw: Param = parameter(NUMBER, "kW", "Lowest net import (negative = largest export).", profile=True)
    p_max_kw: Param = parameter(NUMBER, "kW", "Largest net import.", profile=True)
    q_min_kvar: Param = q_min_kvar()
    q_max_kvar: Param = q_max_kvar()
    buy_price_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Price paid per kWh imported (B).", profile=True)
    sell_price_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Price received per kWh exported (S).",
                                          profile=True)
    buy_price_slope_per_kw2h: float = parameter(
        NUMBER, "currency/kWh/kW", "Rise of the buy price per kW imported (beta): the price of step t is B_t + beta "
        "p_in_t (0 = fixed price).", default=0.0, lower=0.0)
    price_segments: int = parameter(
        INTEGER, "-", "With beta > 0: 0 = the exact quadratic cost (a QP, centralized solve only), N >= 1 = an "
        "N-segment tangent outer approximation (an LP).", default=0, lower=0)

    kind = "grid"
    sheet = "grid"
    sheet_description = ("Connection to the main grid: buy at the buy price, sell at the sell price, within power "
                         "limits.")
    rules = (at_most("p_min_kw", "p_max_kw"), at_most("q_min_kvar", "q_max_kvar"),
             Rule(("price_segments", "buy_price_slope_per_kw2h", "sell_price_per_kwh", "buy_price_per_kwh"),
                  lambda r: r["price_segments"] > 0 or r["buy_price_slope_per_kw2h"] == 0
                  or bool(np.all(np.asarray(r["sell_price_per_kwh"]) <= np.asarray(r["buy_price_per_kwh"]))),
                  "a number >= 1 when buy_price_slope_per_kw2h > 0 and the sell price exceeds the buy price at "
                  "some step (the exact quadratic price with the buy-or-sell binaries is a mixed-integer QP, which "
                  "HiGHS does not solve)"))
    example = {"name": "grid", "active": True, "p_min_kw": -100.0, "p_max_kw": 200.0, "q_min_kvar": -100.0,
               "q_max_kvar": 100.0, "buy_price_per_kwh": 0.20, "sell_price_per_kwh": 0.05}
    outputs = (
        Output("p", "p", "kW", "net grid import"),
        Output("p_import", "p_in", "kW", "grid import"),
        Output("p_export", "p_out", "kW", "grid export"),
        Output("q", "q", "kvar", "reactive power from the grid"),
    )

    def _exclusive_steps(self, grid: TimeGrid) -> list[int]:
        return [t for t in grid.steps if at(self.sell_price_per_kwh, t) > at(self.buy_price_per_kwh, t)]

    def is_mixed_integer(self) -> bool:
        return bool(np.any(np.asarray(self.sell_price_per_kwh) > np.asarray(self.buy_price_per_kwh)))

    def is_quadratic(self) -> bool:
        return self.buy_price_slope_per_kw2h > 0 and self.price_segments == 0

    def _price_rise(self, b: pyo.Block, grid: TimeGrid, p_in_max: dict) -> dict:
        """beta p_in_t^2 per step: exact (a quadratic) or its tangent approximation w_t (module docstring)."""
        beta, n = self.buy_price_slope_per_kw2h, self.price_segments
        if beta == 0:
            return {t: 0.0 for t in grid.steps}
        if n == 0:
            return {t: beta * b.p_in[t] * b.p_in[t] for t in grid.steps}
        cuts = [(t, j) for t in grid.steps for j in range(n)]
        b.w = pyo.Var(grid.steps, within=pyo.NonNegativeReals)
        b.price_tangent = pyo.Constraint(cuts, rule=lambda b, t, j: b.w[t] >= beta * (
            2.0 * (j + 0.5) * p_in_max[t] / n * b.p_in[t] - ((j + 0.5) * p_in_max[t] / n) ** 2))
        return {t: b.w[t] for t in grid.steps}

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        p_in_max = {t: max(at(self.p_max_kw, t), 0.0) for t in T}
        p_out_max = {t: max(-at(self.p_min_kw, t), 0.0) for t in T}
        b.p_in = pyo.Var(T, bounds=lambda _, t: (0.0, p_in_max[t]))
        b.p_out = pyo.Var(T, bounds=lambda _, t: (0.0, p_out_max[t]))
        b.p = pyo.Expression(T, rule=lambda b, t: b.p_in[t] - b.p_out[t])
        b.power_range = pyo.Constraint(
            T, rule=lambda b, t: (at(self.p_min_kw, t), b.p_in[t] - b.p_out[t], at(self.p_max_kw, t)))
        b.q = pyo.Var(T, bounds=lambda _, t: (at(self.q_min_kvar, t), at(self.q_max_kvar, t)))
        exclusive = self._exclusive_steps(grid)
        if exclusive:
            b.buying = pyo.Var(exclusive, within=pyo.Binary)
            b.buy_only = pyo.Constraint(exclusive, rule=lambda b, t: b.p_in[t] <= p_in_max[t] * b.buying[t])
            b.sell_only = pyo.Constraint(exclusive, rule=lambda b, t: b.p_out[t] <= p_out_max[t] * (1 - b.buying[t]))
        rise = self._price_rise(b, grid, p_in_max)
        b.cost = pyo.Expression(expr=grid.step_h * sum(
            at(self.buy_price_per_kwh, t) * b.p_in[t] + rise[t] - at(self.sell_price_per_kwh, t) * b.p_out[t]
            for t in T))
        return AgentTerms(cost=b.cost, contributions={
            ACTIVE_POWER: [b.p[t] for t in T],
            REACTIVE_POWER: [b.q[t] for t in T],
        })
