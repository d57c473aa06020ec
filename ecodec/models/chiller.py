"""District chiller plant feeding the cooling network, and the COP rule shared with the buildings' own chillers.

Source: ALGORITHMS_WAVE2.md section 5.2, "minimal model for ecodec [D]": ecodec's design, a reconstruction (the
papers' equations were not available).  See docs/district_cooling.md.

The coefficient of performance falls as the outside temperature rises above a reference (:func:`cop_profile`)::

    COP_t = max(cop - s max(T_out,t - T_ref, 0), min(cop, 1))

The floor keeps the COP at or above 1 (a chiller never needs more electricity than the cold it makes), or at
``cop`` itself when ``cop`` < 1.  The outside temperature is a known profile, so COP_t is a number per step and the
model stays linear.

Per step t (Delta = step length in hours)::

    0 <= q_t <= q_max_t
    p_el_t = q_t / COP_t
    cost = Delta * sum_t E_t q_t

Contributions: cooling +q_t, active power -p_el_t (it draws electricity).

======  ==========  ======================  ============
symbol  Pyomo       workbook column         unit
======  ==========  ======================  ============
q       ``q``       q_max_kw                kW (cold)
p_el    ``p_el``                            kW
COP_t               cop                     -
s                   cop_temp_slope_per_k    1/K
T_ref               cop_t_ref_c             degC
T_out               t_out_c                 degC
E                   om_cost_per_kwh_th      currency/kWh
======  ==========  ======================  ============
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from ecodec.carriers import ACTIVE_POWER, COOLING
from ecodec.declarations import NUMBER
from ecodec.models.base import Agent, AgentTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind

#: The COP never falls below this (nor below the reference COP itself when that is lower)
COP_FLOOR = 1.0


def cop_profile(cop: float, slope_per_k: float, t_ref_c: float, t_out_c: Param, steps: int) -> np.ndarray:
    """The chiller's COP at each of ``steps`` steps (see the module docstring).

    >>> cop_profile(4.0, 0.1, 25.0, np.array([20.0, 30.0, 60.0]), 3).tolist()
    [4.0, 3.5, 1.0]
    """
    excess = np.maximum(np.broadcast_to(np.asarray(t_out_c, dtype=float), (steps,)) - t_ref_c, 0.0)
    return np.maximum(cop - slope_per_k * excess, min(cop, COP_FLOOR))


def cop_parameter() -> Any:
    """The COP at or below the reference outside temperature (declared by the chiller and the building)."""
    return parameter(NUMBER, "-", "Coefficient of performance (cold out per electricity in) at or below the "
                     "reference outside temperature.", lower=0.0, lower_open=True)


def cop_slope_parameter() -> Any:
    """The decrease of the COP per K above the reference temperature."""
    return parameter(NUMBER, "1/K", "Decrease of the COP per K of outside temperature above the reference (the COP "
                     "never falls below 1).", default=0.0, lower=0.0)


def cop_t_ref_parameter() -> Any:
    """The reference outside temperature of the COP."""
    return parameter(NUMBER, "degC", "Reference outside temperature of the COP.", default=25.0)


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Chiller(Agent):
    q_max_kw: Param = parameter(NUMBER, "kW", "Largest cooling output (cold delivered to the network).", lower=0.0,
                                profile=True)
    cop: float = cop_parameter()
    cop_temp_slope_per_k: float = cop_slope_parameter()
    cop_t_ref_c: float = cop_t_ref_parameter()
    t_out_c: Param = parameter(NUMBER, "degC", "Outside temperature (sets the COP).", profile=True)
    om_cost_per_kwh_th: Param = parameter(NUMBER, "currency/kWh", "Operating cost per kWh of cold (E).", default=0.0,
                                          lower=0.0, profile=True)

    kind = "chiller"
    sheet = "chillers"
    sheet_description = ("District chiller plants feeding the cooling network: electricity = cold / COP, the COP "
                         "falling with the outside temperature (ecodec's design, see docs/district_cooling.md).")
    example = {"name": "chiller1", "active": False, "q_max_kw": 300.0, "cop": 4.5, "cop_temp_slope_per_k": 0.08,
               "cop_t_ref_c": 25.0, "t_out_c": 30.0, "om_cost_per_kwh_th": 0.002}
    outputs = (Output("q", "q", "kW", "cold delivered", schedule=True),
               Output("p_el", "p_el", "kW", "electricity used"))

    def build(self, b: pyo.Block, grid: TimeGrid) -> AgentTerms:
        T = grid.steps
        cop = cop_profile(self.cop, self.cop_temp_slope_per_k, self.cop_t_ref_c, self.t_out_c, grid.T)
        b.q = pyo.Var(T, bounds=lambda _, t: (0.0, at(self.q_max_kw, t)))
        b.p_el = pyo.Expression(T, rule=lambda b, t: b.q[t] / float(cop[t]))
        b.cost = pyo.Expression(expr=grid.step_h * sum(at(self.om_cost_per_kwh_th, t) * b.q[t] for t in T))
        return AgentTerms(cost=b.cost, contributions={
            COOLING: [b.q[t] for t in T],
            ACTIVE_POWER: [-b.p_el[t] for t in T],
        })
