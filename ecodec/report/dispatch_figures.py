"""Report figures about the schedules: each coupling resource stacked by agent, stored energy, grid exchange.

Runs are drawn side by side (the reference first) on shared axes, so a reader sees at once where a distributed
schedule departs from the centralized one.  Time is clock time when the case has a start (hours since the start
otherwise), each value held over its step (:func:`ecodec.report.figures.time_edges`).  Like
:mod:`ecodec.report.figures`, each function returns None when there is nothing to draw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecodec.problem.resource import end_labels
from ecodec.report.figures import (REFERENCE_COLOR, agent_colors, held, method_colors, new_figure, place_legend,
                                   style_axes, style_time_axis, time_edges)
from ecodec.report.grouping import MAX_NAMED, agent_groups, is_grouped, series_of
from ecodec.report.labels import quantity_label, resource_label, with_unit
from ecodec.results.case_summary import CaseSummary
from ecodec.results.run_result import RunResult

MAX_STACKED = MAX_NAMED  # more contributors than this: the largest by name, the rest per kind
MAX_LINES = 6  # more storage agents than this are drawn as their total per kind
ENERGY_UNIT = "kWh"
STORED_ENERGY = "e_end"  # the dispatch quantity of a stored-energy state (batteries, EVs)
RUN_LINE_STYLES = ("-", "--", ":", "-.")


def contributor_groups(runs: list[RunResult], resource: str) -> dict[str, str]:
    """Agent -> the series it is stacked in for ``resource``: itself, or beyond MAX_STACKED agents the largest by
    energy (sum of |contribution| in the first run that has them) by name and the rest per kind
    (:func:`ecodec.report.grouping.agent_groups`)."""
    scores: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for run in runs:
        rows = run.contributions[run.contributions["resource"] == resource]
        energy = rows.assign(size=rows["value"].astype(float).abs()).groupby("agent", sort=False)["size"].sum()
        for agent, kind in zip(rows["agent"], rows["kind"]):
            kinds.setdefault(agent, kind)
            scores.setdefault(agent, float(energy.get(agent, 0.0)))
    return agent_groups(scores, kinds, MAX_STACKED)


def contributors(runs: list[RunResult], resource: str) -> tuple[list[str], bool]:
    """The series a resource is stacked by, in order, and whether agents are grouped (second element True: more
    than MAX_STACKED agents, the largest by name and 'other <kind> (n)')."""
    groups = contributor_groups(runs, resource)
    return series_of(groups), is_grouped(groups)


def resource_dispatch_figure(run_list: list[RunResult], resource: str, palette: dict[str, tuple] | None = None,
                             summary: CaseSummary | None = None) -> Figure | None:
    """One panel per run: the contributions to ``resource`` stacked by agent (positive up, negative down), the
    net sum (the coupling left-hand side) and the row's ends in words; None when no run contributes."""
    runs = [run for run in run_list if run.has_solution and (run.contributions["resource"] == resource).any()]
    if not runs:
        return None
    groups = contributor_groups(runs, resource)
    series = series_of(groups)
    if is_grouped(groups) or palette is None or any(name not in palette for name in series):
        palette = agent_colors(series)
    columns = min(len(runs), 2)
    rows = math.ceil(len(runs) / columns)
    fig = new_figure(2.9 * rows + 0.9)
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    for ax, run in zip(axes, runs):
        coupling = run.coupling[run.coupling["resource"] == resource].sort_values("t")
        T, unit = len(coupling), str(coupling["unit"].iloc[0])
        contributions = run.contributions[run.contributions["resource"] == resource]
        table = (contributions.assign(series=contributions["agent"].map(groups))
                 .pivot_table(index="t", columns="series", values="value", aggfunc="sum")
                 .reindex(index=range(1, T + 1), columns=series).fillna(0.0))
        edges, dated = time_edges(run, T)
        up, down = np.zeros(T), np.zeros(T)
        for name in series:
            values = table[name].to_numpy(dtype=float)
            if not np.any(values):
                continue
            for part, base in ((np.maximum(values, 0.0), up), (np.minimum(values, 0.0), down)):
                if np.any(part):
                    ax.fill_between(edges, held(base), held(base + part), step="post", color=palette[name],
                                    lw=0, label=name)
                    base += part
        ax.step(edges, held(coupling["lhs"].to_numpy(dtype=float)), where="post", color="black", lw=0.9,
                label="net sum")
        _rhs_lines(ax, edges, coupling)
        ax.axhline(0, color="#777777", lw=0.5)
        ax.set_title(run.method, fontsize=8.5)
        style_axes(ax, None, with_unit(resource_label(resource, summary), unit) if ax is axes[0] else None)
        style_time_axis(ax, edges, dated)
    place_legend(fig)
    return fig


def _rhs_lines(ax, edges: np.ndarray, coupling: pd.DataFrame) -> None:
    """The row's ends as dashed steps, named for what they are (:func:`ecodec.problem.resource.end_labels`)."""
    ends = {"lower": coupling["lower"].to_numpy(dtype=float), "upper": coupling["upper"].to_numpy(dtype=float)}
    for which, label in end_labels(ends["lower"], ends["upper"]):
        values = ends["lower" if which == "both" else which]
        ax.step(edges, held(np.where(np.isfinite(values), values, np.nan)), where="post", color="#d62728", lw=0.9,
                ls="--" if which != "upper" else "-.", label=label)


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


def storage_energy_figure(run_list: list[RunResult], palette: dict[str, tuple] | None = None,
                          summary: CaseSummary | None = None) -> Figure | None:
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
    palette = palette or agent_colors([label if len(agents) > 1 else agents[0] for label, agents, _ in groups])
    fig = new_figure(3.3)
    ax = fig.subplots()
    edges, dated = np.zeros(1), False
    for k, run in enumerate(runs):
        for label, agents, quantity in groups:
            values = _summed(run, agents, quantity)
            if values is not None:
                color = palette.get(agents[0] if len(agents) == 1 else label.split(",")[0],
                                    palette.get(label, REFERENCE_COLOR))
                edges, dated = time_edges(run, len(values))
                ax.step(edges, held(values), where="post", color=color, ls=RUN_LINE_STYLES[k % len(RUN_LINE_STYLES)],
                        lw=1.1, label=f"{label} ({run.method})")
    kinds = list(dict.fromkeys(kind for _, kind, _ in found))
    style_axes(ax, None, with_unit(quantity_label(STORED_ENERGY, kinds, summary), ENERGY_UNIT))
    style_time_axis(ax, edges, dated)
    place_legend(fig)
    return fig


def grid_exchange_figure(run_list: list[RunResult], grid_agents: list[str], import_quantity: str = "p_import",
                         export_quantity: str = "p_export", summary: CaseSummary | None = None) -> Figure | None:
    """Import (up) and export (down) of the grid agents per run, summed over them when there are several; None
    when the case has no grid agent."""
    runs = [run for run in run_list if run.has_solution]
    if not grid_agents or not runs:
        return None
    colors = method_colors(run_list)
    fig = new_figure(3.3)
    ax = fig.subplots()
    who = "" if len(grid_agents) == 1 else f" of {len(grid_agents)} grid agents"
    kinds = list(dict.fromkeys(runs[0].dispatch.loc[runs[0].dispatch["agent"].isin(grid_agents), "kind"]))
    words = {q: quantity_label(q, kinds, summary) for q in (import_quantity, export_quantity)}
    edges, dated, unit = np.zeros(1), False, "kW"
    for k, run in enumerate(runs):
        for quantity, sign in ((import_quantity, 1.0), (export_quantity, -1.0)):
            values = _summed(run, grid_agents, quantity)
            if values is None:
                continue
            unit = str(run.dispatch.loc[run.dispatch["quantity"] == quantity, "unit"].iloc[0])
            edges, dated = time_edges(run, len(values))
            ax.step(edges, held(sign * values), where="post", color=colors[run.method],
                    ls=RUN_LINE_STYLES[k % len(RUN_LINE_STYLES)] if sign > 0 else ":", lw=1.1,
                    label=f"{words[quantity]}{who} ({run.method})")
    ax.axhline(0, color="#777777", lw=0.5)
    style_axes(ax, None, with_unit(f"{words[import_quantity]} (+), {words[export_quantity]} (-)", unit))
    style_time_axis(ax, edges, dated)
    place_legend(fig)
    return fig
