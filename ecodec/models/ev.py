"""Electric vehicle (plug-in EV) charging at a shared connection: continuous, on/off, or vehicle-to-grid.

Source: the plug-in EV charging benchmark of Vujanic et al. 2016 as used by public code (ALGORITHMS.md
section 6): e(t+1) = e(t) + P Delta eta u(t), e(T) >= E_ref, with u continuous (variant A) or binary (B), and
the vehicle-to-grid variant C with binary charge u and discharge v, u + v <= 1.  ecodec adds what real charging
sessions need: an availability window (the vehicle is plugged in from step ``arrival_step`` to step
``departure_step``, 1-based, both included; outside it u = v = 0 and the energy stays), the target reached at the
end of the departure step, a discharge efficiency and a discharge price (both unverified in the source, so
parameters), and the value w of each kWh held at departure beyond the target (0 by default: the vehicle then
charges no more than its target needs; with w above a slot's c_t / eta_ch it fills up there, which is what
makes a fleet's total-energy budget bind).

Per step t (0-based; window W = {arrival_step - 1, ..., departure_step - 1})::

    p_ch_t = P_ch u_t,   p_dis_t = P_dis v_t,   p_t = p_ch_t - p_dis_t                 (p > 0: charging)
    u_t in [0, 1] (mode 'continuous') or {0, 1} ('binary', 'v2g');  v_t in {0, 1} ('v2g'), else v_t = 0
    u_t + v_t <= 1;   u_t = v_t = 0 for t not in W
    e_{t+1} = e_t + (eta_ch p_ch_t - p_dis_t / eta_dis) Delta,   e_0 = e_init
    e_min <= e_{t+1} <= e_max;   e_{departure_step} >= e_target
    cost = sum_t (c_t p_ch_t - s_t p_dis_t) Delta  -  w (e_{departure_step} - e_target)

Contribution: active power -p_t (a charging vehicle draws power from the shared connection).

===========  ==========  ================================  ==============
symbol       Pyomo       workbook column                   unit
===========  ==========  ================================  ==============
u            ``u``       mode                              -
v            ``v``       mode ('v2g')                      -
P_ch         ``p_ch``    p_charge_kw                       kW
P_dis        ``p_dis``   p_discharge_kw                    kW
e            ``e``       e_min_kwh, e_max_kwh, e_init_kwh  kWh
e_target                 e_target_kwh                      kWh
eta_ch                   eta_charge                        -
eta_dis                  eta_discharge                     -
W                        arrival_step, departure_step      step (1-based)
c                        price_per_kwh                     currency/kWh
s                        discharge_price_per_kwh           currency/kWh
w                        departure_value_per_kwh           currency/kWh
===========  ==========  ================================  ==============
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER
from ecodec.declarations import CHOICE, INTEGER, NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import efficiency, parameter
from ecodec.models.registry import register_agent_kind

CONTINUOUS, BINARY, V2G = "continuous", "binary", "v2g"
MODES = (CONTINUOUS, BINARY, V2G)


def _target_reachable(r: dict) -> bool:
    """The target can be met charging at full power over the whole window (ignoring the shared limit)."""
    departure = r["departure_step"] if r["departure_step"] is not None else r["T"]
    steps = max(0, departure - r["arrival_step"] + 1)
    reachable = min(r["e_max_kwh"], r["e_init_kwh"] + r["eta_charge"] * r["p_charge_kw"] * steps * r["step_h"])
    return reachable >= r["e_target_kwh"] - 1e-9


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class ElectricVehicle(Agent):
    mode: str = parameter(CHOICE, "-", "'continuous' charging power in [0, p_charge_kw] (LP), 'binary' on/off at "
                          "p_charge_kw (MILP), 'v2g' binary charge or discharge, never both (MILP).",
                          default=CONTINUOUS, choices=MODES)
    p_charge_kw: float = parameter(NUMBER, "kW", "Charging power (the most, or the only one with 'binary').",
                                   lower=0.0, lower_open=True)
    p_discharge_kw: float = parameter(NUMBER, "kW", "Discharging power with 'v2g' (0 otherwise).", default=0.0,
                                      lower=0.0)
    e_min_kwh: float = parameter(NUMBER, "kWh", "Lowest energy in the battery at the end of each step.",
                                 default=0.0, lower=0.0)
    e_max_kwh: float = parameter(NUMBER, "kWh", "Battery capacity.", lower=0.0, lower_open=True)
    e_init_kwh: float = parameter(NUMBER, "kWh", "Energy at arrival.", lower=0.0)
    e_target_kwh: float = parameter(NUMBER, "kWh", "Energy required at departure.", lower=0.0)
    eta_charge: float = efficiency("Charging efficiency.", default=1.0)
    eta_discharge: float = efficiency("Discharging efficiency ('v2g').", default=1.0)
    arrival_step: int = parameter(INTEGER, "step", "First step plugged in (1-based).", default=1, lower=1)
    departure_step: int | None = parameter(INTEGER, "step", "Last step plugged in (empty = the last step of the "
                                           "horizon).", default=None, lower=1)
    price_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Price of the energy charged.", profile=True)
    discharge_price_per_kwh: Param | None = parameter(NUMBER, "currency/kWh", "Price received per kWh discharged "
                                                      "('v2g'; empty = price_per_kwh).", default=None, profile=True)
    departure_value_per_kwh: float = parameter(
        NUMBER, "currency/kWh", "What each kWh in the battery at departure beyond e_target_kwh is worth to the "
        "driver (e.g. the price of charging elsewhere): with a value above some slot's price / eta_charge the "
        "vehicle charges beyond its target there.", default=0.0, lower=0.0)

    kind = "ev"
    sheet = "evs"
    sheet_description = (
        "Electric vehicles charging at the shared connection: plugged in from arrival_step to departure_step "
        "(both included), they must hold e_target_kwh at the end of the departure step. (The example row is "
        "inactive: set active to TRUE and connect it on sheet 'network' to add it.)")
    rules = (
        at_most("e_min_kwh", "e_max_kwh"),
        Rule(("e_init_kwh", "e_min_kwh", "e_max_kwh"), lambda r: r["e_min_kwh"] <= r["e_init_kwh"] <= r["e_max_kwh"],
             "e_init_kwh within [e_min_kwh, e_max_kwh]"),
        Rule(("e_target_kwh", "e_max_kwh"), lambda r: r["e_target_kwh"] <= r["e_max_kwh"],
             "e_target_kwh <= e_max_kwh"),
        Rule(("departure_step", "arrival_step"),
             lambda r: r["departure_step"] is None or r["arrival_step"] <= r["departure_step"] <= r["T"],
             "a step from arrival_step to T (the number of steps)", needs_horizon=True),
        Rule(("arrival_step",), lambda r: r["arrival_step"] <= r["T"], "a step from 1 to T (the number of steps)",
             needs_horizon=True),
        Rule(("p_discharge_kw", "mode"), lambda r: r["mode"] != V2G or r["p_discharge_kw"] > 0,
             "a power > 0 with mode 'v2g'"),
        Rule(("e_target_kwh", "e_init_kwh", "p_charge_kw", "eta_charge", "arrival_step", "departure_step",
              "e_max_kwh"), _target_reachable,
             "a target the vehicle can reach: e_init_kwh + eta_charge x p_charge_kw x (hours plugged in), "
             "within e_max_kwh", needs_horizon=True),
    )
    example = {"name": "ev1", "active": False, "mode": "continuous", "p_charge_kw": 7.4, "p_discharge_kw": 0.0,
               "e_min_kwh": 0.0, "e_max_kwh": 40.0, "e_init_kwh": 10.0, "e_target_kwh": 15.0, "eta_charge": 0.92,
               "eta_discharge": 1.0, "arrival_step": 1, "departure_step": 4, "price_per_kwh": 0.25}
    outputs = (
        Output("p", "p", "kW", "net charging power"),
        Output("p_charge", "p_ch", "kW", "charging power"),
        Output("p_discharge", "p_dis", "kW", "discharging power"),
        Output("e_end", "e_end", "kWh", "stored energy"),
        Output("u", "u", "-", "charging level"),
        Output("v", "v", "-", "discharging on"),
    )

    def is_mixed_integer(self) -> bool:
        return self.mode in (BINARY, V2G)

    def window(self, grid: TimeGrid) -> range:
        """The 0-based steps at which the vehicle is plugged in."""
        last = grid.T if self.departure_step is None else int(self.departure_step)
        return range(int(self.arrival_step) - 1, last)

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T, window = grid.steps, set(self.window(grid))
        departure = max(window) + 1 if window else 0

        def plugged(_, t):
            return (0.0, 1.0) if t in window else (0.0, 0.0)

        b.u = pyo.Var(T, within=pyo.Binary if self.is_mixed_integer() else pyo.UnitInterval, bounds=plugged)
        b.p_ch = pyo.Expression(T, rule=lambda b, t: self.p_charge_kw * b.u[t])
        if self.mode == V2G:
            b.v = pyo.Var(T, within=pyo.Binary, bounds=plugged)
            b.one_direction = pyo.Constraint(T, rule=lambda b, t: b.u[t] + b.v[t] <= 1)
            b.p_dis = pyo.Expression(T, rule=lambda b, t: self.p_discharge_kw * b.v[t])
        else:
            b.p_dis = pyo.Expression(T, rule=lambda b, t: 0.0)
        b.p = pyo.Expression(T, rule=lambda b, t: b.p_ch[t] - b.p_dis[t])
        b.e = pyo.Var(range(grid.T + 1), bounds=lambda _, k: (
            (self.e_init_kwh, self.e_init_kwh) if k == 0 else (self.e_min_kwh, self.e_max_kwh)))
        b.energy_balance = pyo.Constraint(T, rule=lambda b, t: b.e[t + 1] == b.e[t] + (
            self.eta_charge * b.p_ch[t] - b.p_dis[t] / self.eta_discharge) * grid.step_h)
        b.target = pyo.Constraint(expr=b.e[departure] >= self.e_target_kwh)
        b.e_end = pyo.Expression(T, rule=lambda b, t: b.e[t + 1])
        sell = self.discharge_price_per_kwh if self.discharge_price_per_kwh is not None else self.price_per_kwh
        b.cost = pyo.Expression(expr=sum(
            (at(self.price_per_kwh, t) * b.p_ch[t] - at(sell, t) * b.p_dis[t]) * grid.step_h for t in T)
            - self.departure_value_per_kwh * (b.e[departure] - self.e_target_kwh))
        return AgentTerms(cost=b.cost, contributions={ACTIVE_POWER: [-b.p[t] for t in T]})
