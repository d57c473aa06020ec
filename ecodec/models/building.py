"""Building of a cooling district: one thermal zone, its own chiller and a port to the district cooling network.

Source: ALGORITHMS_WAVE2.md section 5.2, "minimal model for ecodec [D]": ecodec's design, a reconstruction (the
papers' equations were not available).  See docs/district_cooling.md.

The zone is a first-order RC model, C dT/dt = (T_out - T) / R + Q_gain - Q_cool, with the inputs held constant
over each step of Delta hours.  Per step k = 0..T-1::

    T_{k+1} = a T_k + (1 - a) (T_out,k + R (Q_gain,k - Q_cool,k)),   T_0 = t_init
    a = exp(-Delta / (R C))          discretisation 'zoh' (default): exact for inputs constant over the step
    a = 1 - Delta / (R C)            discretisation 'euler': forward Euler (needs Delta <= R C)
    Q_gain,k = q_internal,k + A_sol I_k
    t_min,k <= T_{k+1} <= t_max,k    (comfort band at the end of every step, k + 1 = 1..T)
    Q_cool,k = Q_chil,k + Q_in,k - Q_out,k >= 0          (a chiller only cools)
    0 <= Q_chil,k <= Q_chil_max,   0 <= Q_in,k, Q_out,k <= Q_x_max
    P_el,k = Q_chil,k / COP_k,     COP_k = max(cop - s max(T_out,k - T_ref, 0), min(cop, 1))
    cost = 0                         (electricity is paid where it is bought: the grid agent)

The COP rule is the chiller's (:func:`ecodec.models.chiller.cop_profile`); T_out is a known profile, so COP_k is
a number per step and the model is linear.  Q_in is cold taken from the district network, Q_out cold the
building's chiller sends into it.

Contributions: active power -P_el,k (consumption), cooling Q_out,k - Q_in,k (only when q_exchange_max_kw > 0:
a building without a port to the network needs no cooling row in its case).

=========  ===============  =========================  ============
symbol     Pyomo            workbook column            unit
=========  ===============  =========================  ============
T_k        ``t``            t_init_c (k = 0)           degC
T_{k+1}    ``t_zone``       t_min_c, t_max_c           degC
Q_cool     ``q_cool``                                  kW (cold)
Q_chil     ``q_chiller``    q_chiller_max_kw           kW (cold)
Q_in       ``q_in``         q_exchange_max_kw          kW (cold)
Q_out      ``q_out``        q_exchange_max_kw          kW (cold)
P_el       ``p_el``                                    kW
C                           c_kwh_per_k                kWh/K
R                           r_k_per_kw                 K/kW
T_out                       t_out_c                    degC
q_internal                  q_internal_kw              kW
A_sol                       solar_aperture_m2          m2
I                           irradiance_kw_per_m2       kW/m2
COP                         cop                        -
s                           cop_temp_slope_per_k       1/K
T_ref                       cop_t_ref_c                degC
a                           discretisation             -
=========  ===============  =========================  ============
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, COOLING
from ecodec.declarations import CHOICE, NUMBER, Rule, at_most
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.chiller import cop_parameter, cop_profile, cop_slope_parameter, cop_t_ref_parameter
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind

#: How the RC model is discretised: the exact zero-order hold, or forward Euler
DISCRETISATIONS = ("zoh", "euler")


def zone_decay(step_h: float, r_k_per_kw: float, c_kwh_per_k: float, discretisation: str = "zoh") -> float:
    """The factor a of T_{k+1} = a T_k + (1 - a) (...) (see the module docstring).

    >>> round(zone_decay(1.0, 2.0, 5.0), 6), zone_decay(1.0, 2.0, 5.0, "euler")
    (0.904837, 0.9)
    """
    ratio = step_h / (r_k_per_kw * c_kwh_per_k)
    return math.exp(-ratio) if discretisation == "zoh" else 1.0 - ratio


def _euler_is_stable(r: dict) -> bool:
    return r["discretisation"] != "euler" or r["step_h"] <= r["r_k_per_kw"] * r["c_kwh_per_k"]


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Building(Agent):
    c_kwh_per_k: float = parameter(NUMBER, "kWh/K", "Thermal capacitance of the zone (C).", lower=0.0,
                                   lower_open=True)
    r_k_per_kw: float = parameter(NUMBER, "K/kW", "Thermal resistance between the zone and the outside (R).",
                                  lower=0.0, lower_open=True)
    t_out_c: Param = parameter(NUMBER, "degC", "Outside temperature.", profile=True)
    q_internal_kw: Param = parameter(NUMBER, "kW", "Internal heat gains (people, appliances).", default=0.0,
                                     profile=True)
    solar_aperture_m2: float = parameter(NUMBER, "m2", "Effective solar aperture: solar gain = aperture x irradiance.",
                                         default=0.0, lower=0.0)
    irradiance_kw_per_m2: Param = parameter(NUMBER, "kW/m2", "Global horizontal irradiance.", default=0.0, lower=0.0,
                                            profile=True)
    t_init_c: float = parameter(NUMBER, "degC", "Zone temperature at the start of step 1.")
    t_min_c: Param = parameter(NUMBER, "degC", "Lowest comfortable zone temperature (end of each step).",
                               profile=True)
    t_max_c: Param = parameter(NUMBER, "degC", "Highest comfortable zone temperature (end of each step).",
                               profile=True)
    q_chiller_max_kw: float = parameter(NUMBER, "kW", "Largest cooling output of the building's own chiller.",
                                        lower=0.0)
    cop: float = cop_parameter()
    cop_temp_slope_per_k: float = cop_slope_parameter()
    cop_t_ref_c: float = cop_t_ref_parameter()
    q_exchange_max_kw: float = parameter(NUMBER, "kW", "Largest cold exchanged with the district cooling network, "
                                         "each way (0 = no connection).", default=0.0, lower=0.0)
    discretisation: str = parameter(CHOICE, "-", "How the RC model is discretised: 'zoh' exact for inputs constant "
                                    "over a step, 'euler' forward Euler (needs step_h <= R C).", default="zoh",
                                    choices=DISCRETISATIONS)

    kind = "building"
    sheet = "buildings"
    sheet_description = ("Buildings of a cooling district: one thermal zone (RC model) kept in a comfort band by "
                         "the building's own chiller and cold exchanged with the district network (ecodec's "
                         "design, see docs/district_cooling.md).")
    rules = (
        at_most("t_min_c", "t_max_c"),
        Rule(("discretisation", "r_k_per_kw", "c_kwh_per_k"), _euler_is_stable,
             "'zoh', or 'euler' with step_h <= r_k_per_kw x c_kwh_per_k (forward Euler is unstable beyond)",
             needs_horizon=True),
    )
    example = {"name": "building1", "active": False, "c_kwh_per_k": 20.0, "r_k_per_kw": 0.5, "t_out_c": 32.0,
               "q_internal_kw": 10.0, "solar_aperture_m2": 15.0, "irradiance_kw_per_m2": 0.6, "t_init_c": 24.0,
               "t_min_c": 21.0, "t_max_c": 26.0, "q_chiller_max_kw": 60.0, "cop": 3.5, "cop_temp_slope_per_k": 0.05,
               "cop_t_ref_c": 25.0, "q_exchange_max_kw": 30.0, "discretisation": "zoh"}
    outputs = (
        Output("t_zone", "t_zone", "degC", "zone temperature", band=("t_min_c", "t_max_c")),
        Output("q_cool", "q_cool", "kW", "cooling delivered to the zone"),
        Output("q_chiller", "q_chiller", "kW", "own chiller's cooling output", schedule=True),
        Output("p_el", "p_el", "kW", "chiller electricity"),
        Output("q_in", "q_in", "kW", "cold taken from the network"),
        Output("q_out", "q_out", "kW", "cold sent into the network"),
    )

    def gains(self, steps: int) -> np.ndarray:
        """Q_gain,k = q_internal,k + A_sol I_k (kW) at each step."""
        ones = np.ones(steps)
        return ones * np.asarray(self.q_internal_kw, float) + self.solar_aperture_m2 * ones * np.asarray(
            self.irradiance_kw_per_m2, float)

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        a = zone_decay(grid.step_h, self.r_k_per_kw, self.c_kwh_per_k, self.discretisation)
        gain = self.gains(grid.T)
        cop = cop_profile(self.cop, self.cop_temp_slope_per_k, self.cop_t_ref_c, self.t_out_c, grid.T)
        b.t = pyo.Var(range(grid.T + 1), bounds=lambda _, k: (
            (self.t_init_c, self.t_init_c) if k == 0 else (at(self.t_min_c, k - 1), at(self.t_max_c, k - 1))))
        b.q_chiller = pyo.Var(T, bounds=(0.0, self.q_chiller_max_kw))
        b.q_in = pyo.Var(T, bounds=(0.0, self.q_exchange_max_kw))
        b.q_out = pyo.Var(T, bounds=(0.0, self.q_exchange_max_kw))
        b.q_cool = pyo.Expression(T, rule=lambda b, k: b.q_chiller[k] + b.q_in[k] - b.q_out[k])
        b.cooling_only = pyo.Constraint(T, rule=lambda b, k: b.q_cool[k] >= 0.0)
        b.zone = pyo.Constraint(T, rule=lambda b, k: b.t[k + 1] == a * b.t[k] + (1.0 - a) * (
            at(self.t_out_c, k) + self.r_k_per_kw * (float(gain[k]) - b.q_cool[k])))
        b.t_zone = pyo.Expression(T, rule=lambda b, k: b.t[k + 1])
        b.p_el = pyo.Expression(T, rule=lambda b, k: b.q_chiller[k] / float(cop[k]))
        b.cost = pyo.Expression(expr=0.0)
        contributions = {ACTIVE_POWER: [-b.p_el[k] for k in T]}
        if self.q_exchange_max_kw > 0:  # a building without a port needs no cooling row in the case
            contributions[COOLING] = [b.q_out[k] - b.q_in[k] for k in T]
        return AgentTerms(cost=b.cost, contributions=contributions)
