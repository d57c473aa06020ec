"""RunResult: the tidy record of one solve (centralized now, each distributed method later).

Tables (pandas DataFrames, steps numbered 1..T as in the workbook):

* ``dispatch``: t, agent, kind, quantity, value, unit: every reported per-step quantity of every agent;
* ``coupling``: t, resource, unit, lhs, lower, upper, residual, price, price_unit: each coupling row with the
  sum of contributions, its bounds, the signed residual (see :mod:`ecodec.problem.resource`) and, for LPs
  solved to optimality, the dual price converted to currency per kWh (or kvarh): dual / step_h, i.e. the
  change of total cost per extra kWh of right-hand side.  A band row has one price: positive when its lower
  end binds (more demand costs more), negative when its upper end binds (more room to dissipate saves);
* ``agent_costs``: agent, kind, cost.

``info`` holds the scalar facts: timings, sizes, solver, bound and gap, message, versions.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import pandas as pd

from ecodec import __version__
from ecodec.results import kpi


@dataclass
class RunResult:
    method: str
    case_name: str
    status: str
    objective: float | None
    currency: str
    step_h: float
    dispatch: pd.DataFrame
    coupling: pd.DataFrame
    agent_costs: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.objective is not None

    def summary(self) -> dict:
        """The machine-readable summary printed by ``--json`` and written to the summary sheet."""
        out = {
            "case": self.case_name,
            "method": self.method,
            "status": self.status,
            "objective": self.objective,
            "currency": self.currency,
            "max_coupling_violation": kpi.max_coupling_violation(self.coupling) if self.has_solution else None,
            "rms_coupling_violation": kpi.rms_coupling_violation(self.coupling) if self.has_solution else None,
        }
        out.update(self.info)
        return out


def software_versions() -> dict[str, str]:
    """Versions recorded with every result, so a number can be traced to the code that made it."""
    import numpy
    import pyomo

    from ecodec.solvers.highs import highs_version

    return {"ecodec": __version__, "python": platform.python_version(), "pyomo": pyomo.__version__,
            "highs": highs_version(), "numpy": numpy.__version__, "pandas": pd.__version__}
