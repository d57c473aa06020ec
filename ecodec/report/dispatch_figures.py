"""Report figures about the schedules: each coupling resource stacked by agent, stored energy, grid exchange.

Runs are drawn side by side (the reference first) on shared axes, so a reader sees at once where a distributed
schedule departs from the centralized one.  Time is in hours from the start of the horizon, each value held
over its step.  Like :mod:`ecodec.report.figures`, each function returns None when there is nothing to draw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecodec.report.figures import REFERENCE_COLOR, style_axes, method_colors, new_figure
from ecodec.results.run_result import RunResult

MAX_STACKED = 12  # more contributors than this are stacked by kind
MAX_LINES = 6  # more storage agents than this are drawn as their total per kind
ENERGY_UNIT = "kWh"
STORED_ENERGY = "e_end"  # the dispatch quantity of a stored-energy state (batteries, EVs)
RUN_LINE_STYLES = ("-", "--", ":", "-.")


def _edges(T: int, step_h: float) -> np.ndarray:
    """Hours 0, step_h, ..., T step_h: the step boundaries a 'post' step plot needs (last value repeated)."""
    return np.arange(T + 1) * step_h


def _held(values: np.ndarray) -> np.ndarray:
    return np.append(values, values[-1])


def contributors(runs: list[RunResult], resource: str) -> tuple[list[str], bool]:
    """The series a resource is stacked by: its agents in first-seen order, or their kinds when there are more
    than MAX_STACKED agents (second element True)."""
    agents: dict[str, str] = {}
    for run in runs:
        rows = run.contributions[run.contributions["resource"] == resource]
        for agent, kind in zip(rows["agent"], rows["kind"]):
            agents.setdefault(agent, kind)
    if len(agents) > MAX_STACKED:
        return list(dict.fromkeys(agents.values())), True
    return list(agents), False


def resource_dispatch_figure(run_list: list[RunResult], resource: str, palette: dict[str, tuple]) -> Figure | None:
    """One panel per run: the contributions to ``resource`` stacked by agent (positive up, negative down), the
    net sum (the coupling left-hand side) and the row's right-hand side; None when no run contributes."""
    runs = [run for run in run_list if run.has_solution and (run.contributions["resource"] == resource).any()]
    if not runs:
        return None
    series, by_kind = contributors(runs, resource)
    column = "kind" if by_kind else "agent"
    columns = min(len(runs), 2)
    rows = math.ceil(len(runs) / columns)
    fig = new_figure(2.9 * rows + 0.6)
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    unit = ""
    for ax, run in zip(axes, runs):
        coupling = run.coupling[run.coupling["resource"] == resource].sort_values("t")
        T, unit = len(coupling), str(coupling["unit"].iloc[0])
        table = (run.contributions[run.contributions["resource"] == resource]
                 .pivot_table(index="t", columns=column, values="value", aggfunc="sum")
                 .reindex(index=range(1, T + 1), columns=series).fillna(0.0))
        hours = _edges(T, run.step_h)
        up, down = np.zeros(T), np.zeros(T)
        for name in series:
            values = table[name].to_numpy(dtype=float)
            if not np.any(values):
                continue
            for part, base in ((np.maximum(values, 0.0), up), (np.minimum(values, 0.0), down)):
                if np.any(part):
                    ax.fill_between(hours, _held(base), _held(base + part), step="post", color=palette[name],
                                    lw=0, label=name)
                    base += part
        ax.step(hours, _held(coupling["lhs"].to_numpy(dtype=float)), where="post", color="black", lw=0.9,
                label="net sum")
        _rhs_lines(ax, hours, coupling)
        ax.axhline(0, color="#777777", lw=0.5)
        ax.set_title(run.method, fontsize=8.5)
        style_axes(ax, "hour", unit if ax is axes[0] else None, legend=False)
    handles = {}
    for ax in axes[: len(runs)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=min(6, len(handles)), fontsize=6.5,
               frameon=False)
    return fig


def _rhs_lines(ax, hours: np.ndarray, coupling: pd.DataFrame) -> None:
    lower, upper = coupling["lower"].to_numpy(dtype=float), coupling["upper"].to_numpy(dtype=float)
    if np.allclose(lower, upper, equal_nan=True):
        ax.step(hours, _held(lower), where="post", color="#d62728", lw=0.9, ls="--", label="right-hand side")
        return
    for values, label in ((lower, "lower end"), (upper, "upper end")):
        if np.isfinite(values).any():
            ax.step(hours, _held(values), where="post", color="#d62728", lw=0.9, ls="--", label=label)


def energy_quantities(runs: list[RunResult]) -> list[tuple[str, str, str]]:
    """(agent, kind, quantity) of the stored-energy states (quantity STORED_ENERGY), in first-seen order."""
    found: dict[tuple[str, str, str], None] = {}
    for run in runs:
        rows = run.dispatch[run.dispatch["quantity"] == STORED_ENERGY]
        found.update(dict.fromkeys(zip(rows["agent"], rows["kind"], rows["quantity"])))
    return list(found)


def _summed(run: RunResult, agents: list[str], quantity: str) -> np.ndarray | None:
    """``quantity`` summed over ``agents`` per step (None when none of them reports it)."""
    rows = run.dispatch[run.dispatch["agent"].isin(agents) & (run.dispatch["quantity"] == quantity)]
    if rows.empty:
        return None
    return rows.groupby("t")["value"].sum().sort_index().to_numpy(dtype=float)


def storage_energy_figure(run_list: list[RunResult], palette: dict[str, tuple]) -> Figure | None:
    """Stored energy at the end of each step per storage agent (their total per kind beyond MAX_LINES agents),
    one line style per run; None without storage."""
    runs = [run for run in run_list if run.has_solution]
    found = energy_quantities(runs)
    if not found:
        return None
    if len(found) <= MAX_LINES:
        groups = [(agent, [agent], quantity) for agent, _, quantity in found]
    else:
        kinds = list(dict.fromkeys((kind, quantity) for _, kind, quantity in found))
        groups = [(f"{kind}, total of {sum(1 for _, k, q in found if (k, q) == (kind, quantity))}",
                   [a for a, k, q in found if (k, q) == (kind, quantity)], quantity) for kind, quantity in kinds]
    fig = new_figure(3.0)
    ax = fig.subplots()
    for k, run in enumerate(runs):
        for label, agents, quantity in groups:
            values = _summed(run, agents, quantity)
            if values is not None:
                color = palette.get(agents[0] if len(agents) == 1 else label.split(",")[0], REFERENCE_COLOR)
                ax.step(_edges(len(values), run.step_h), _held(values), where="post", color=color,
                        ls=RUN_LINE_STYLES[k % len(RUN_LINE_STYLES)], lw=1.1, label=f"{label} ({run.method})")
    style_axes(ax, "hour", ENERGY_UNIT)
    return fig


def grid_exchange_figure(run_list: list[RunResult], grid_agents: list[str], import_quantity: str,
                         export_quantity: str) -> Figure | None:
    """Import (up) and export (down) of the grid agents per run, summed over them when there are several; None
    when the case has no grid agent."""
    runs = [run for run in run_list if run.has_solution]
    if not grid_agents or not runs:
        return None
    colors = method_colors(run_list)
    fig = new_figure(3.0)
    ax = fig.subplots()
    who = "" if len(grid_agents) == 1 else f" of {len(grid_agents)} grid agents"
    for k, run in enumerate(runs):
        for quantity, sign, word in ((import_quantity, 1.0, "import"), (export_quantity, -1.0, "export")):
            values = _summed(run, grid_agents, quantity)
            if values is None:
                continue
            ax.step(_edges(len(values), run.step_h), _held(sign * values), where="post", color=colors[run.method],
                    ls=RUN_LINE_STYLES[k % len(RUN_LINE_STYLES)] if word == "import" else ":", lw=1.1,
                    label=f"{word}{who} ({run.method})")
    ax.axhline(0, color="#777777", lw=0.5)
    style_axes(ax, "hour", "kW (import +, export -)")
    return fig
