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

===========  ==========  ===============================  ==============
symbol       Pyomo       workbook column                  unit
===========  ==========  ===============================  ==============
u            ``u``       mode                             -
v            ``v``       mode ('v2g')                     -
P_ch         ``p_ch``    p_charge_kw                      kW
P_dis        ``p_dis``   p_discharge_kw                   kW
e            ``e``       e_min_kwh, e_max_kwh, e_init_kwh kWh
e_target                 e_target_kwh                     kWh
eta_ch                   eta_charge                       -
eta_dis                  eta_discharge                    -
W                        arrival_step, departure_step     step (1-based)
c                        price_per_kwh                    currency/kWh
s                        discharge_price_per_kwh          currency/kWh
w                        departure_value_per_kwh          currency/kWh
===========  ==========  ===============================  ==============
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at

CONTINUOUS, BINARY, V2G = "continuous", "binary", "v2g"
MODES = (CONTINUOUS, BINARY, V2G)


@dataclass(eq=False)
class ElectricVehicle(Agent):
    name: str
    p_charge_kw: float
    e_max_kwh: float
    e_init_kwh: float
    e_target_kwh: float
    price_per_kwh: Param
    mode: str = CONTINUOUS
    p_discharge_kw: float = 0.0
    e_min_kwh: float = 0.0
    eta_charge: float = 1.0
    eta_discharge: float = 1.0
    arrival_step: int = 1
    departure_step: int | None = None
    discharge_price_per_kwh: Param | None = None
    departure_value_per_kwh: float = 0.0

    kind = "ev"
    outputs = (Output("p", "p", "kW"), Output("p_charge", "p_ch", "kW"), Output("p_discharge", "p_dis", "kW"),
               Output("e_end", "e_end", "kWh"), Output("u", "u", "-"), Output("v", "v", "-"))

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"EV '{self.name}': mode {self.mode!r} is not one of {', '.join(MODES)}")

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
