"""Shared cold thermal storage of a cooling district (chilled-water or ice tank on the cooling network).

Source: ALGORITHMS_WAVE2.md section 5.2, "minimal model for ecodec [D]": ecodec's design, a reconstruction (the
papers' equations were not available).  See docs/district_cooling.md.  The energy state is the electric
storage's (:func:`ecodec.models.storage.stored_energy`), with the standing loss given per hour.

Per step t (Delta = step length in hours)::

    E_{t+1} = (1 - sigma)^Delta E_t + Delta (eta_c q_ch,t - q_dis,t / eta_d),   E_0 = e_init
    0 <= E_{t+1} <= capacity,   E_T >= e_final_min
    0 <= q_ch,t <= q_ch_max,   0 <= q_dis,t <= q_dis_max
    cost = 0

Contribution: cooling q_dis,t - q_ch,t (discharging delivers cold to the network).

======  ===============  =========================================  ==========
symbol  Pyomo            workbook column                            unit
======  ===============  =========================================  ==========
E       ``e``            capacity_kwh, e_init_kwh, e_final_min_kwh  kWh (cold)
q_ch    ``q_charge``     q_charge_max_kw                            kW (cold)
q_dis   ``q_discharge``  q_discharge_max_kw                         kW (cold)
sigma                    loss_per_h                                 1/h
eta_c                    eta_charge                                 -
eta_d                    eta_discharge                              -
======  ===============  =========================================  ==========
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.carriers import COOLING
from ecodec.declarations import NUMBER, at_most
from ecodec.models.base import Agent, AgentTerms, Output, TimeGrid
from ecodec.models.parameters import efficiency, parameter
from ecodec.models.registry import register_agent_kind
from ecodec.models.storage import stored_energy


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class ColdStorage(Agent):
    capacity_kwh: float = parameter(NUMBER, "kWh", "Largest stored cold.", lower=0.0)
    e_init_kwh: float = parameter(NUMBER, "kWh", "Stored cold at the start of step 1.", lower=0.0)
    e_final_min_kwh: float = parameter(NUMBER, "kWh", "Floor on the stored cold at the end of the horizon.",
                                       default=0.0, lower=0.0)
    loss_per_h: float = parameter(NUMBER, "1/h", "Share of the stored cold lost per hour (sigma).", default=0.0,
                                  lower=0.0, upper=1.0, upper_open=True)
    eta_charge: float = efficiency("Charging efficiency.", default=1.0)
    eta_discharge: float = efficiency("Discharging efficiency.", default=1.0)
    q_charge_max_kw: float = parameter(NUMBER, "kW", "Largest charging rate (cold taken from the network).",
                                       lower=0.0)
    q_discharge_max_kw: float = parameter(NUMBER, "kW", "Largest discharging rate (cold delivered to the network).",
                                          lower=0.0)

    kind = "cold_storage"
    sheet = "cold_storages"
    sheet_description = ("Shared cold thermal storage on the district cooling network (ecodec's design, see "
                         "docs/district_cooling.md).")
    rules = (at_most("e_init_kwh", "capacity_kwh"), at_most("e_final_min_kwh", "capacity_kwh"))
    example = {"name": "cold_tank", "active": False, "capacity_kwh": 400.0, "e_init_kwh": 100.0,
               "e_final_min_kwh": 100.0, "loss_per_h": 0.005, "eta_charge": 0.95, "eta_discharge": 0.95,
               "q_charge_max_kw": 100.0, "q_discharge_max_kw": 100.0}
    outputs = (
        Output("e_end", "e_end", "kWh", "stored cold"),
        Output("q_charge", "q_charge", "kW", "cold charged", schedule=True),
        Output("q_discharge", "q_discharge", "kW", "cold discharged", schedule=True),
    )
    shared_asset = "storage"

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        b.q_charge = pyo.Var(T, bounds=(0.0, self.q_charge_max_kw))
        b.q_discharge = pyo.Var(T, bounds=(0.0, self.q_discharge_max_kw))
        stored_energy(b, grid, self.e_init_kwh, lambda t: (0.0, self.capacity_kwh),
                      (1.0 - self.loss_per_h) ** grid.step_h, b.q_charge, b.q_discharge, self.eta_charge,
                      self.eta_discharge)
        b.final_energy = pyo.Constraint(expr=b.e[grid.T] >= self.e_final_min_kwh)
        b.cost = pyo.Expression(expr=0.0)
        return AgentTerms(cost=b.cost, contributions={COOLING: [b.q_discharge[t] - b.q_charge[t] for t in T]})
