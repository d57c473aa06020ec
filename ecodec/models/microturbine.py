"""Gas microturbine with heat recovery (CHP), with an optional on/off commitment.

Source: ECODREAM final report, "Application of distributed optimization to the management of active and
reactive powers in sustainable microgrids" (University of Genova model); ALGORITHMS.md section 1.  The report
omits the link between primary energy and electricity; ecodec uses p_el = eta_el * p_pe.

Per step t (Delta = step length in hours)::

    u_t p_min_t <= p_el_t <= u_t p_max_t      (u_t = 1 without commitment, binary with it)
    s_t >= u_t - u_{t-1},  s_t <= u_t,  s_t <= 1 - u_{t-1},  0 <= s_t <= 1
                                              starts (with commitment; u_{-1} = initially_on):
                                              with binary u these make s_t = max(0, u_t - u_{t-1}) exactly
    F_utx_t = (1 - ff) * beta * p_el_t        untaxed fuel (the fuel-tax split)
    F_t     = F_utx_t + F_tx_t,  F_tx_t >= 0
    p_pe_t  = F_t * Lhv
    p_el_t  = eta_el * p_pe_t
    p_th_t  = mu * p_el_t
    cost    = Delta * sum_t (F_utx_t K_utx_t + F_tx_t K_tx_t + C_t p_pe_t) + K_start * sum_t s_t

Contributions: active power +p_el_t, heat +p_th_t.

======  =============  ============================  ==============
symbol  Pyomo name     workbook column               unit
======  =============  ============================  ==============
p_el    ``p_el``       p_min_kw, p_max_kw            kW
u       ``on``         commitment                    0/1
s       ``start``      initially_on                  0..1
K_start                startup_cost                  currency
F_utx   ``fuel_utx``   beta_sm3_per_kwh, ff          Sm3/h
F_tx    ``fuel_tx``                                  Sm3/h
p_pe    ``p_pe``       lhv_kwh_per_sm3               kW (primary)
eta_el                 eta_el                        -
mu                     heat_to_power_ratio           kW_th/kW_el
K_utx                  fuel_price_untaxed_per_sm3    currency/Sm3
K_tx                   fuel_price_taxed_per_sm3      currency/Sm3
C                      emission_cost_per_kwh_pe      currency/kWh
======  =============  ============================  ==============
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, HEAT
from ecodec.declarations import BOOL, NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import efficiency, parameter
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Microturbine(Agent):
    p_min_kw: Param = parameter(NUMBER, "kW", "Lowest electrical output (when on, with commitment).", lower=0.0,
                                profile=True)
    p_max_kw: Param = parameter(NUMBER, "kW", "Highest electrical output (capacity).", lower=0.0, profile=True)
    eta_el: float = efficiency("Electrical efficiency p_el / p_pe.")
    heat_to_power_ratio: float = parameter(NUMBER, "kW_th/kW_el", "Recovered heat per unit of electricity (mu).",
                                           lower=0.0)
    lhv_kwh_per_sm3: float = parameter(NUMBER, "kWh/Sm3", "Lower heating value of the fuel.", lower=0.0,
                                       lower_open=True)
    beta_sm3_per_kwh: float = parameter(NUMBER, "Sm3/kWh", "Fuel per kWh of electricity eligible for the untaxed "
                                        "rate.", lower=0.0)
    ff: float = parameter(NUMBER, "-", "Share of the eligible fuel that is taxed anyway (fuel-tax split).",
                          lower=0.0, upper=1.0)
    fuel_price_untaxed_per_sm3: Param = parameter(NUMBER, "currency/Sm3", "Price of untaxed fuel (K_utx).",
                                                  lower=0.0, profile=True)
    fuel_price_taxed_per_sm3: Param = parameter(NUMBER, "currency/Sm3", "Price of taxed fuel (K_tx).", lower=0.0,
                                                profile=True)
    emission_cost_per_kwh_pe: Param = parameter(NUMBER, "currency/kWh", "Emission cost per kWh of primary energy "
                                                "(C).", default=0.0, lower=0.0, profile=True)
    commitment: bool = parameter(BOOL, "-", "TRUE adds an on/off binary per step: output is 0 or within "
                                 "[p_min_kw, p_max_kw] (makes the case a MILP).", default=False)
    startup_cost: float = parameter(NUMBER, "currency", "Cost of each start (with commitment).", default=0.0,
                                    lower=0.0)
    initially_on: bool = parameter(BOOL, "-", "Whether the turbine is on before step 1 (with commitment; a start "
                                   "at step 1 is charged only if it was off).", default=False)

    kind = "microturbine"
    sheet = "microturbines"
    sheet_description = "Gas microturbines (CHP): electricity from fuel, heat recovered in proportion to electricity."
    rules = (
        at_most("p_min_kw", "p_max_kw"),
        Rule(("beta_sm3_per_kwh", "ff", "eta_el", "lhv_kwh_per_sm3"),
             lambda r: (1 - r["ff"]) * r["beta_sm3_per_kwh"] * r["eta_el"] * r["lhv_kwh_per_sm3"] <= 1 + 1e-12,
             "(1 - ff) * beta_sm3_per_kwh <= 1 / (eta_el * lhv_kwh_per_sm3): untaxed fuel cannot exceed the "
             "fuel burnt"),
    )
    example = {"name": "mt1", "active": True, "p_min_kw": 0.0, "p_max_kw": 65.0, "eta_el": 0.28,
               "heat_to_power_ratio": 1.7, "lhv_kwh_per_sm3": 9.59, "beta_sm3_per_kwh": 0.22, "ff": 0.0,
               "fuel_price_untaxed_per_sm3": 0.30, "fuel_price_taxed_per_sm3": 0.40,
               "emission_cost_per_kwh_pe": 0.005, "commitment": False, "startup_cost": 0.0,
               "initially_on": False}
    outputs = (
        Output("p_el", "p_el", "kW", "electric output"),
        Output("p_th", "p_th", "kW", "heat output"),
        Output("p_pe", "p_pe", "kW", "primary energy input"),
        Output("fuel_untaxed", "fuel_utx", "Sm3/h", "untaxed fuel flow"),
        Output("fuel_taxed", "fuel_tx", "Sm3/h", "taxed fuel flow"),
        Output("on", "on", "-", "running"),
        Output("start", "start", "-", "start-up"),
    )

    def is_mixed_integer(self) -> bool:
        return bool(self.commitment)

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        if self.commitment:
            b.on = pyo.Var(T, within=pyo.Binary)
            b.p_el = pyo.Var(T, bounds=lambda _, t: (0.0, at(self.p_max_kw, t)))
            b.p_min_when_on = pyo.Constraint(T, rule=lambda b, t: b.p_el[t] >= at(self.p_min_kw, t) * b.on[t])
            b.p_max_when_on = pyo.Constraint(T, rule=lambda b, t: b.p_el[t] <= at(self.p_max_kw, t) * b.on[t])
            b.start = pyo.Var(T, bounds=(0.0, 1.0))
            was_on = [float(self.initially_on)] + [b.on[t] for t in T][:-1]
            b.start_when_switched_on = pyo.Constraint(T, rule=lambda b, t: b.start[t] >= b.on[t] - was_on[t])
            b.start_only_when_on = pyo.Constraint(T, rule=lambda b, t: b.start[t] <= b.on[t])
            b.start_only_after_off = pyo.Constraint(T, rule=lambda b, t: b.start[t] <= 1 - was_on[t])
        else:
            b.p_el = pyo.Var(T, bounds=lambda _, t: (at(self.p_min_kw, t), at(self.p_max_kw, t)))
        b.fuel_utx = pyo.Var(T, within=pyo.NonNegativeReals)
        b.fuel_tx = pyo.Var(T, within=pyo.NonNegativeReals)
        b.p_pe = pyo.Var(T, within=pyo.NonNegativeReals)
        untaxed_per_kwh = (1.0 - self.ff) * self.beta_sm3_per_kwh
        b.untaxed_fuel = pyo.Constraint(T, rule=lambda b, t: b.fuel_utx[t] == untaxed_per_kwh * b.p_el[t])
        b.primary_energy = pyo.Constraint(
            T, rule=lambda b, t: b.p_pe[t] == (b.fuel_utx[t] + b.fuel_tx[t]) * self.lhv_kwh_per_sm3)
        b.efficiency = pyo.Constraint(T, rule=lambda b, t: b.p_el[t] == self.eta_el * b.p_pe[t])
        b.p_th = pyo.Expression(T, rule=lambda b, t: self.heat_to_power_ratio * b.p_el[t])
        b.cost = pyo.Expression(expr=grid.step_h * sum(
            b.fuel_utx[t] * at(self.fuel_price_untaxed_per_sm3, t) + b.fuel_tx[t] * at(self.fuel_price_taxed_per_sm3, t)
            + b.p_pe[t] * at(self.emission_cost_per_kwh_pe, t) for t in T)
            + (self.startup_cost * sum(b.start[t] for t in T) if self.commitment else 0.0))
        return AgentTerms(cost=b.cost, contributions={
            ACTIVE_POWER: [b.p_el[t] for t in T],
            HEAT: [b.p_th[t] for t in T],
        })
