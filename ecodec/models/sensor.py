"""Mobile sensor of a macroscopic probabilistic deployment (MACROPT; ALGORITHMS_WAVE2.md section 3).

Source: Brumali, Carnevale, Notarstefano, "Distributed learning and optimization of a multi-agent macroscopic
probabilistic model", European Journal of Control 86, 2025 (the update as the ECODREAM report prints it); the
kernel's form and scale are ecodec's labelled choices (``[D]``).

Agent i has a position x_i in the 2-D workspace and a Gaussian sensing kernel: its contribution to cell c (centre
m_c, area A) is

    p_i^c(x_i) = A exp(-||m_c - x_i||^2 / (2 s_i^2)) / (2 pi s_i^2),      grad p_i^c(x_i) = p_i^c (m_c - x_i) / s_i^2

a probability vector over the cells up to the mass the workspace's borders cut off.  The deployment problem
(:class:`~ecodec.problem.DeploymentProblem`) averages the agents' kernels into the macroscopic model p(x) and
measures it against a target density.

=========  =====================  ================================  ====
symbol     Pyomo                  workbook column (sensors)         unit
=========  =====================  ================================  ====
x_i(0)                            x0_m, y0_m                        m
s_i                               kernel_width_m                    m
=========  =====================  ================================  ====

(The agent has no Pyomo model: the kernel sums 100 agents over 2500 cells, which numpy evaluates directly.)
"""

from __future__ import annotations

from dataclasses import dataclass
from ecodec.declarations import NUMBER
from ecodec.models.base import DeploymentAgent, Output
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Sensor(DeploymentAgent):
    x0_m: float = parameter(NUMBER, "m", "Initial position, first coordinate (inside the workspace).")
    y0_m: float = parameter(NUMBER, "m", "Initial position, second coordinate (inside the workspace).")
    kernel_width_m: float = parameter(NUMBER, "m", "Standard deviation s_i of the Gaussian sensing kernel.",
                                      default=5.0, lower=0.0, lower_open=True)

    kind = "sensor"
    sheet = "sensors"
    sheet_description = (
        "Mobile sensors of a macroscopic probabilistic deployment (docs/deployment.md): each has a Gaussian "
        "sensing kernel; together they should cover the target density of the 'workspace' and 'targets' sheets. "
        "A case holds either sensors or other agents. (The example row is inactive.)")
    example = {"name": "sensor1", "active": False, "x0_m": 50.0, "y0_m": 50.0, "kernel_width_m": 5.0}
    outputs = (Output("x", "x", "m", "position x"), Output("y", "y", "m", "position y"))
