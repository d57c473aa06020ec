"""KPI functions: the one place where every reported number about a run is computed.

The CLI, the JSON output, the results workbook, the drivers' iteration records, the comparison, the tests (and
later the PDF report) all call these; nothing computes a KPI a second way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ecodec.problem.resource import SCALE_FLOOR, peak_rhs


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


# -- per-iteration and comparison KPIs (arrays of shape (resources, T)) -------------------------------------
def residuals(lhs: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Signed violation of each coupling row: lhs - upper above the upper end, lhs - lower below the lower end."""
    return np.maximum(lhs - upper, 0.0) + np.minimum(lhs - lower, 0.0)


def certified_gap(upper: float, lower: float) -> float:
    """(upper - lower)^+ / |upper|: how far a cost ``upper`` can at most be above the optimum, given a proven
    lower bound ``lower`` on it (the certificate of the coordinator methods and of a MILP solver)."""
    return max(upper - lower, 0.0) / max(abs(upper), 1e-9)


def resource_scale(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per resource, its peak |right-hand side| over the horizon (the peak load of a balance), at least 1e-9.

    Relative violations are measured against it, so each resource is judged in its own unit and size; a resource
    whose right-hand side is 0 throughout is measured against the reach of its balance instead, which only the
    problem knows (:meth:`ecodec.problem.coupled.CoupledProblem.violation_scales`, the scales the runs use).
    """
    return np.maximum(peak_rhs(lower, upper), SCALE_FLOOR)


def relative_violation(residual: np.ndarray, scale: np.ndarray) -> float:
    """max over resources r of  max_t |residual_r,t| / scale_r  (0 when every row holds)."""
    return float(np.max(np.abs(residual).max(axis=1) / scale)) if residual.size else 0.0


def relative_cost_gap(objective: float, reference: float) -> float:
    """|f - f*| / max(|f*|, 1e-9): the relative distance of a method's total cost to the reference optimum."""
    return abs(objective - reference) / max(abs(reference), 1e-9)


def agent_output_matrix(dispatch: pd.DataFrame, agent: str, quantities: list[str], T: int) -> np.ndarray:
    """One agent's reported quantities as an array (quantities, T) from a dispatch table (missing: 0)."""
    rows = dispatch[dispatch["agent"] == agent]
    out = np.zeros((len(quantities), T))
    for k, quantity in enumerate(quantities):
        values = rows[rows["quantity"] == quantity].sort_values("t")["value"].to_numpy(dtype=float)
        out[k, : len(values)] = values
    return out


# -- comparison KPIs on the tidy tables of a RunResult --------------------------------------------------------
def relative_decision_distance(dispatch: pd.DataFrame, reference_dispatch: pd.DataFrame,
                               quantities: list[str] | None = None) -> float:
    """||D - D*|| / ||D*||: the relative Euclidean distance of all reported decisions to the reference ones.

    D and D* hold every dispatch value aligned on (t, agent, quantity); a row present on one side only counts
    as 0 on the other.  When ||D*|| = 0 the absolute distance ||D - D*|| is returned (as the driver does).
    ``quantities`` limits D to those quantities (a market's decisions, bid and fraction_sold, without the energies
    and payments that follow from them).
    """
    keys = ["t", "agent", "quantity"]
    if quantities is not None:
        dispatch = dispatch[dispatch["quantity"].isin(quantities)]
        reference_dispatch = reference_dispatch[reference_dispatch["quantity"].isin(quantities)]
    both = dispatch[keys + ["value"]].merge(reference_dispatch[keys + ["value"]], on=keys, how="outer",
                                            suffixes=("", "_ref"))
    values = both[["value", "value_ref"]].fillna(0.0).to_numpy(dtype=float)
    distance = float(np.linalg.norm(values[:, 0] - values[:, 1]))
    scale = float(np.linalg.norm(values[:, 1]))
    return distance / scale if scale > 0 else distance


def relative_coupling_violation(coupling: pd.DataFrame, scales: Mapping[str, float] | None = None) -> float:
    """max over resources r of  max_t |residual_r,t| / S_r.

    The table form of :func:`relative_violation`: the number a driver reports per iteration as ``rel_violation``,
    computed from a coupling table (0 for an empty table).  S_r is ``scales[r]`` when given (the run's
    ``info['violation_scales']``: :meth:`~ecodec.problem.coupled.CoupledProblem.violation_scales`), else the
    table's own peak |finite lower or upper end_r,t| (:func:`resource_scale`), which is the same number for every
    resource with a nonzero right-hand side.
    """
    if coupling.empty:
        return 0.0
    wide = coupling.pivot(index="resource", columns="t", values=["residual", "lower", "upper"])
    scale = resource_scale(wide["lower"].to_numpy(dtype=float), wide["upper"].to_numpy(dtype=float))
    if scales:
        scale = np.array([float(scales.get(str(r), s)) for r, s in zip(wide.index, scale)])
    return relative_violation(wide["residual"].to_numpy(dtype=float), scale)


def _within(history: pd.DataFrame, tol: float) -> pd.Series | None:
    """Per iteration of ``history``, whether cost_gap <= tol and rel_violation <= tol (NaN counts as not within);
    None when the history has no ``cost_gap`` column (a run made without a reference)."""
    if "cost_gap" not in history.columns:
        return None
    return (history["cost_gap"] <= tol) & (history["rel_violation"] <= tol)


def iterations_to(history: pd.DataFrame, tol: float) -> int | None:
    """The iteration k after which the run stays within the tolerance: cost_gap_j <= tol and rel_violation_j <= tol
    at k and at every later iteration j of the history (None if the last iteration is not within).

    A run that crosses the tolerance, goes back above it and crosses again counts from the last crossing; the first
    crossing is :func:`first_iteration_to`.  Also None when the history has no ``cost_gap`` column.
    """
    within = _within(history, tol)
    if within is None or not len(within) or not within.iloc[-1]:
        return None
    outside = (~within).to_numpy().nonzero()[0]
    start = int(outside[-1]) + 1 if len(outside) else 0
    return int(history["iteration"].iloc[start])


def first_iteration_to(history: pd.DataFrame, tol: float) -> int | None:
    """The first iteration k with  cost_gap_k <= tol  and  rel_violation_k <= tol, even when the run goes back
    above the tolerance later (None if never reached, or when the history has no ``cost_gap`` column)."""
    within = _within(history, tol)
    if within is None:
        return None
    reached = history.loc[within, "iteration"]
    return int(reached.iloc[0]) if len(reached) else None


# -- market (aggregative) results ---------------------------------------------------------------------------
#: market quantities that are prices or fractions: averaged over the steps; every other one is summed
MARKET_AVERAGED = ("bid", "fraction_sold")
MARKET_QUANTITIES = ("bid", "energy_received", "shortfall", "payment", "fraction_sold", "energy_sold", "revenue")


def market_summary(dispatch: pd.DataFrame) -> pd.DataFrame:
    """Per market agent (rows in dispatch order) its bid and fraction sold (mean over the steps) and its energy
    received, shortfall, payment, energy sold and revenue (sums over the steps); NaN where a quantity is not the
    agent's (a seller has no bid).  Empty when the dispatch has no market quantity."""
    rows = dispatch[dispatch["quantity"].isin(MARKET_QUANTITIES)]
    if rows.empty:
        return pd.DataFrame(columns=["agent", "kind", *MARKET_QUANTITIES])
    agents = list(dict.fromkeys(rows["agent"]))
    kinds = rows.drop_duplicates("agent").set_index("agent")["kind"]
    grouped = rows.groupby(["agent", "quantity"])["value"]
    means, sums = grouped.mean(), grouped.sum()
    table = {"agent": agents, "kind": [kinds[a] for a in agents]}
    for quantity in MARKET_QUANTITIES:
        source = means if quantity in MARKET_AVERAGED else sums
        table[quantity] = [float(source.get((a, quantity), np.nan)) for a in agents]
    return pd.DataFrame(table)
