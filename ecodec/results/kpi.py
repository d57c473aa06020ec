"""KPI functions: the one place where every reported number about a run is computed.

The CLI, the JSON output, the results workbook, the tests (and later the comparison and the PDF report) all
call these; nothing computes a KPI a second way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def max_coupling_violation(coupling: pd.DataFrame) -> float:
    """Largest absolute residual over all coupling rows and steps (in each row's own unit)."""
    return float(np.max(np.abs(coupling["residual"].to_numpy()))) if len(coupling) else 0.0


def rms_coupling_violation(coupling: pd.DataFrame) -> float:
    """Root mean square of the residuals over all coupling rows and steps."""
    return float(np.sqrt(np.mean(np.square(coupling["residual"].to_numpy())))) if len(coupling) else 0.0


def max_violation_by_resource(coupling: pd.DataFrame) -> dict[str, float]:
    """Largest absolute residual per resource."""
    return {str(k): float(v) for k, v in coupling.groupby("resource", sort=False)["residual"]
            .apply(lambda s: np.max(np.abs(s.to_numpy()))).items()}


def total_cost_by_kind(agent_costs: pd.DataFrame) -> dict[str, float]:
    """Sum of agent costs per agent kind."""
    return {str(k): float(v) for k, v in agent_costs.groupby("kind", sort=False)["cost"].sum().items()}


def energy_by_agent(dispatch: pd.DataFrame, quantity: str, step_h: float) -> dict[str, float]:
    """Energy (kWh) of a power quantity per agent over the horizon: sum_t value_t * step_h."""
    rows = dispatch[dispatch["quantity"] == quantity]
    return {str(k): float(v) * step_h for k, v in rows.groupby("agent", sort=False)["value"].sum().items()}
