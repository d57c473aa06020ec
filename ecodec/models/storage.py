"""Electric storage with decay, charge/discharge efficiencies, energy bounds and reactive range.

Source: ECODREAM final report, microgrid model (University of Genova); ALGORITHMS.md section 1.  The report
writes e_{t+1} = a e_t + eta p_t Delta with one efficiency for both directions, which would credit energy
when discharging (p_t < 0).  ecodec splits the power into charge and discharge so that losses are losses in
both directions; with eta_charge = eta_discharge = 1 the two models coincide.

Per step t (p positive = charging; the storage enters the active balance with a minus sign)::

    p_t = p_ch_t - p_dis_t,   p_ch_t, p_dis_t >= 0,   p_min_t <= p_t <= p_max_t
    e_{t+1} = a e_t + (eta_ch p_ch_t - p_dis_t / eta_dis) Delta,   e_0 = e_init
    e_min_t <= e_{t+1} <= e_max_t,   e_T >= e_final_min (optional)
    q_min_t <= q_t <= q_max_t
    cost = 0

Contributions: active power -p_t, reactive power -q_t.

=======  ==========  ===================================================  =====
symbol   Pyomo       workbook column                                      unit
=======  ==========  ===================================================  =====
p_ch     ``p_ch``    p_max_kw                                             kW
p_dis    ``p_dis``   p_min_kw                                             kW
p        ``p``                                                            kW
q        ``q``       q_min_kvar, q_max_kvar                               kvar
e        ``e``       e_min_kwh, e_max_kwh, e_init_kwh, e_final_min_kwh    kWh
a                    decay_per_step                                       -
eta_ch               eta_charge                                           -
eta_dis              eta_discharge                                        -
=======  ==========  ===================================================  =====
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, REACTIVE_POWER
from ecodec.declarations import NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import efficiency, parameter, q_max_kvar, q_min_kvar
from ecodec.models.registry import register_agent_kind


def _first(value) -> float:
    return float(np.atleast_1d(value)[0])


def _last(value) -> float:
    return float(np.atleast_1d(value)[-1])


def stored_energy(b: pyo.Block, grid: TimeGrid, e_init: float, e_bounds, keep: float, charge, discharge,
                  eta_charge: float, eta_discharge: float) -> None:
    """Declare the energy state of a store on ``b``: ``b.e[0..T]`` with e_0 = ``e_init`` and
    ``e_bounds(t)`` = (lowest, highest) energy at the end of step t, the balance
    e_{t+1} = keep e_t + (eta_charge charge_t - discharge_t / eta_discharge) Delta (``b.energy_balance``) and
    ``b.e_end[t]`` = e_{t+1}, the energy at the end of step t.  Shared by the electric and the cold storage."""
    b.e = pyo.Var(range(grid.T + 1), bounds=lambda _, k: (e_init, e_init) if k == 0 else e_bounds(k - 1))
    b.energy_balance = pyo.Constraint(grid.steps, rule=lambda b, t: b.e[t + 1] == keep * b.e[t] + (
        eta_charge * charge[t] - discharge[t] / eta_discharge) * grid.step_h)
    b.e_end = pyo.Expression(grid.steps, rule=lambda b, t: b.e[t + 1])


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Storage(Agent):
    p_min_kw: Param = parameter(NUMBER, "kW", "Lowest power (negative = largest discharge).", profile=True)
    p_max_kw: Param = parameter(NUMBER, "kW", "Highest power (largest charge).", profile=True)
    q_min_kvar: Param = q_min_kvar()
    q_max_kvar: Param = q_max_kvar()
    e_min_kwh: Param = parameter(NUMBER, "kWh", "Lowest stored energy at the end of each step.", lower=0.0,
                                 profile=True)
    e_max_kwh: Param = parameter(NUMBER, "kWh", "Highest stored energy (capacity) at the end of each step.",
                                 lower=0.0, profile=True)
    e_init_kwh: float = parameter(NUMBER, "kWh", "Stored energy at the start of step 1.", lower=0.0)
    e_final_min_kwh: float | None = parameter(NUMBER, "kWh", "Floor on the energy at the end of the horizon "
                                              "(empty = none).", default=None, lower=0.0)
    decay_per_step: float = parameter(NUMBER, "-", "Share of stored energy kept from one step to the next (a).",
                                      default=1.0, lower=0.0, upper=1.0)
    eta_charge: float = efficiency("Charging efficiency.", default=1.0)
    eta_discharge: float = efficiency("Discharging efficiency.", default=1.0)

    kind = "storage"
    sheet = "storages"
    sheet_description = ("Electric storage: positive power charges, negative discharges; energy follows the decay "
                         "and efficiencies.")
    rules = (
        at_most("p_min_kw", "p_max_kw"), at_most("q_min_kvar", "q_max_kvar"), at_most("e_min_kwh", "e_max_kwh"),
        Rule(("e_init_kwh", "e_min_kwh", "e_max_kwh"),
             lambda r: _first(r["e_min_kwh"]) <= r["e_init_kwh"] <= _first(r["e_max_kwh"]),
             "e_init_kwh within [e_min_kwh, e_max_kwh] of the first step"),
        Rule(("e_final_min_kwh", "e_max_kwh"),
             lambda r: r["e_final_min_kwh"] is None or r["e_final_min_kwh"] <= _last(r["e_max_kwh"]),
             "e_final_min_kwh <= e_max_kwh of the last step"),
    )
    example = {"name": "bat1", "active": True, "p_min_kw": -20.0, "p_max_kw": 20.0, "q_min_kvar": -10.0,
               "q_max_kvar": 10.0, "e_min_kwh": 5.0, "e_max_kwh": 50.0, "e_init_kwh": 25.0,
               "e_final_min_kwh": 25.0, "decay_per_step": 1.0, "eta_charge": 0.95, "eta_discharge": 0.95}
    outputs = (
        Output("p", "p", "kW", "net charging power"),
        Output("p_charge", "p_ch", "kW", "charging power"),
        Output("p_discharge", "p_dis", "kW", "discharging power"),
        Output("q", "q", "kvar", "reactive power"),
        Output("e_end", "e_end", "kWh", "stored energy"),
    )

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        b.p_ch = pyo.Var(T, bounds=lambda _, t: (0.0, max(at(self.p_max_kw, t), 0.0)))
        b.p_dis = pyo.Var(T, bounds=lambda _, t: (0.0, max(-at(self.p_min_kw, t), 0.0)))
        b.p = pyo.Expression(T, rule=lambda b, t: b.p_ch[t] - b.p_dis[t])
        b.power_range = pyo.Constraint(
            T, rule=lambda b, t: (at(self.p_min_kw, t), b.p_ch[t] - b.p_dis[t], at(self.p_max_kw, t)))
        b.q = pyo.Var(T, bounds=lambda _, t: (at(self.q_min_kvar, t), at(self.q_max_kvar, t)))
        stored_energy(b, grid, self.e_init_kwh, lambda t: (at(self.e_min_kwh, t), at(self.e_max_kwh, t)),
                      self.decay_per_step, b.p_ch, b.p_dis, self.eta_charge, self.eta_discharge)
        if self.e_final_min_kwh is not None:
            b.final_energy = pyo.Constraint(expr=b.e[grid.T] >= self.e_final_min_kwh)
        b.cost = pyo.Expression(expr=0.0)
        return AgentTerms(cost=b.cost, contributions={
            ACTIVE_POWER: [-b.p[t] for t in T],
            REACTIVE_POWER: [-b.q[t] for t in T],
        })
