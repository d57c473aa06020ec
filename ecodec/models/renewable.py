"""Renewable source (PV, wind, solar thermal) with free curtailment.

Source: ECODREAM final report, microgrid model (University of Genova); ALGORITHMS.md section 1.  The report
also counts renewable power in the heat balance; ecodec models this as a carrier chosen per source: an
'electric' source feeds the active and reactive balances, a 'thermal' one (solar thermal) feeds heat.

Per step t::

    0 <= p_t <= pbar_t = capacity * availability_t
    q_min_t <= q_t <= q_max_t                      (electric carrier only)
    cost = Delta * sum_t c_t p_t                   (c = 0 unless given)

Contributions: electric: active power +p_t, reactive power +q_t; thermal: heat +p_t.

======  ========  =======================================  ============
symbol  Pyomo     workbook column                          unit
======  ========  =======================================  ============
p       ``p``     capacity_kw, availability_pu, carrier    kW
q       ``q``     q_min_kvar, q_max_kvar                   kvar
c                 cost_per_kwh                             currency/kWh
======  ========  =======================================  ============
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, HEAT, REACTIVE_POWER
from ecodec.declarations import CHOICE, NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import parameter, q_max_kvar, q_min_kvar
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Renewable(Agent):
    carrier: str = parameter(CHOICE, "-", "'electric' (PV, wind) feeds active/reactive power; 'thermal' (solar "
                             "thermal) feeds heat.", choices=("electric", "thermal"))
    capacity_kw: float = parameter(NUMBER, "kW", "Rated power.", lower=0.0)
    availability_pu: Param = parameter(NUMBER, "pu", "Available share of capacity per step.", lower=0.0, upper=1.0,
                                       profile=True)
    q_min_kvar: Param = q_min_kvar()
    q_max_kvar: Param = q_max_kvar()
    cost_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Cost per kWh used (0 = free).", default=0.0,
                                    profile=True)

    kind = "renewable"
    sheet = "renewables"
    sheet_description = "Renewable sources: available power = capacity x availability profile; curtailment is allowed."
    rules = (
        at_most("q_min_kvar", "q_max_kvar"),
        Rule(("q_min_kvar", "carrier", "q_max_kvar"),
             lambda r: r["carrier"] == "electric"
             or bool(np.all(np.asarray(r["q_min_kvar"]) == 0) and np.all(np.asarray(r["q_max_kvar"]) == 0)),
             "0 for a thermal renewable (it has no reactive power)"),
    )
    example = {"name": "pv1", "active": True, "carrier": "electric", "capacity_kw": 50.0, "availability_pu": 0.6,
               "q_min_kvar": -15.0, "q_max_kvar": 15.0, "cost_per_kwh": 0.0}
    outputs = (
        Output("p", "p", "kW", "generation"),
        Output("p_available", "p_available", "kW", "available generation"),
        Output("q", "q", "kvar", "reactive power"),
    )

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        b.p_available = pyo.Expression(T, rule=lambda _, t: self.capacity_kw * at(self.availability_pu, t))
        b.p = pyo.Var(T, bounds=lambda _, t: (0.0, self.capacity_kw * at(self.availability_pu, t)))
        b.cost = pyo.Expression(expr=grid.step_h * sum(at(self.cost_per_kwh, t) * b.p[t] for t in T))
        if self.carrier == "thermal":
            return AgentTerms(cost=b.cost, contributions={HEAT: [b.p[t] for t in T]})
        b.q = pyo.Var(T, bounds=lambda _, t: (at(self.q_min_kvar, t), at(self.q_max_kvar, t)))
        return AgentTerms(cost=b.cost, contributions={
            ACTIVE_POWER: [b.p[t] for t in T],
            REACTIVE_POWER: [b.q[t] for t in T],
        })
