"""Fuel boiler.

Source: ECODREAM final report, microgrid model (University of Genova); ALGORITHMS.md section 1.

Per step t::

    0 <= p_th_t <= p_th_max_t
    p_pe_t * eta_B = p_th_t
    cost = Delta * sum_t (E_t p_th_t + C_t p_pe_t)

Contribution: heat +p_th_t.

======  ==========  ======================  ============
symbol  Pyomo       workbook column         unit
======  ==========  ======================  ============
p_th    ``p_th``    p_th_max_kw             kW
p_pe    ``p_pe``                            kW (primary)
eta_B               eta                     -
E                   om_cost_per_kwh_th      currency/kWh
C                   fuel_cost_per_kwh_pe    currency/kWh
======  ==========  ======================  ============
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.carriers import HEAT
from ecodec.declarations import NUMBER
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import efficiency, parameter
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Boiler(Agent):
    p_th_max_kw: Param = parameter(NUMBER, "kW", "Largest heat output.", lower=0.0, profile=True)
    eta: float = efficiency("Thermal efficiency p_th / p_pe.")
    fuel_cost_per_kwh_pe: Param = parameter(NUMBER, "currency/kWh", "Fuel and emission cost per kWh of primary "
                                            "energy (C).", lower=0.0, profile=True)
    om_cost_per_kwh_th: Param = parameter(NUMBER, "currency/kWh", "Operating cost per kWh of heat (E).", default=0.0,
                                          lower=0.0, profile=True)

    kind = "boiler"
    sheet = "boilers"
    sheet_description = "Fuel boilers: heat = efficiency x primary energy."
    example = {"name": "boiler1", "active": True, "p_th_max_kw": 80.0, "eta": 0.9, "fuel_cost_per_kwh_pe": 0.045,
               "om_cost_per_kwh_th": 0.002}
    outputs = (Output("p_th", "p_th", "kW", "heat output"), Output("p_pe", "p_pe", "kW", "primary energy input"))

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        b.p_th = pyo.Var(T, bounds=lambda _, t: (0.0, at(self.p_th_max_kw, t)))
        b.p_pe = pyo.Var(T, within=pyo.NonNegativeReals)
        b.efficiency = pyo.Constraint(T, rule=lambda b, t: b.p_pe[t] * self.eta == b.p_th[t])
        b.cost = pyo.Expression(expr=grid.step_h * sum(
            at(self.om_cost_per_kwh_th, t) * b.p_th[t] + at(self.fuel_cost_per_kwh_pe, t) * b.p_pe[t] for t in T))
        return AgentTerms(cost=b.cost, contributions={HEAT: [b.p_th[t] for t in T]})
