"""Connection to the main grid: buy and sell at (time-varying) prices within power limits.

Source: ECODREAM final report, microgrid model (University of Genova); ALGORITHMS.md section 1.

Per step t::

    p_t = p_in_t - p_out_t,   0 <= p_in_t <= max(p_max_t, 0),   0 <= p_out_t <= max(-p_min_t, 0)
    p_min_t <= p_t <= p_max_t,   q_min_t <= q_t <= q_max_t
    cost = Delta * sum_t (B_t p_in_t - S_t p_out_t)

Where the sell price exceeds the buy price (S_t > B_t) an LP would buy and sell at once for profit, so at
those steps a binary z_t forbids it: p_in_t <= max(p_max_t, 0) z_t and p_out_t <= max(-p_min_t, 0)(1 - z_t).
Cases with S_t <= B_t at every step stay LPs.

Contributions: active power +p_t (import positive), reactive power +q_t.

======  ==========  ======================  ============
symbol  Pyomo       workbook column         unit
======  ==========  ======================  ============
p_in    ``p_in``    p_max_kw                kW
p_out   ``p_out``   p_min_kw                kW
p       ``p``                               kW
q       ``q``       q_min_kvar, q_max_kvar  kvar
z       ``buying``  (S_t > B_t only)        0/1
B                   buy_price_per_kwh       currency/kWh
S                   sell_price_per_kwh      currency/kWh
======  ==========  ======================  ============
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, REACTIVE_POWER
from ecodec.declarations import NUMBER, at_most
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

    kind = "grid"
    sheet = "grid"
    sheet_description = ("Connection to the main grid: buy at the buy price, sell at the sell price, within power "
                         "limits.")
    rules = (at_most("p_min_kw", "p_max_kw"), at_most("q_min_kvar", "q_max_kvar"))
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
        b.cost = pyo.Expression(expr=grid.step_h * sum(
            at(self.buy_price_per_kwh, t) * b.p_in[t] - at(self.sell_price_per_kwh, t) * b.p_out[t] for t in T))
        return AgentTerms(cost=b.cost, contributions={
            ACTIVE_POWER: [b.p[t] for t in T],
            REACTIVE_POWER: [b.q[t] for t in T],
        })
