"""Report figures of what the agents declare about their outputs: trajectories against their bands, and schedules.

An output may declare a band, two of its agent's parameters lo and hi with lo_k <= y_k <= hi_k at every step k (a
building's zone temperature and its comfort band), and whether it is a schedule (a chiller's cooling output, a
storage's charging).  The declarations and the band's values reach the report in the case summary saved with the
runs (``summary.labels``: ``bands``, ``schedules``, ``profiles``; see :mod:`ecodec.study.declared_outputs`); a
band end that is a constant is the agent's parameter as the summary records it.  The report never reads the
models: without those labels (no summary, or one saved before they were recorded) nothing here is drawn.

The band violation of agent a at step k is v_{a,k} = max(lo_{a,k} - y_{a,k}, y_{a,k} - hi_{a,k}, 0), in the
output's unit; a run's largest violation is max_{a,k} v_{a,k}, 0 for a schedule that keeps every band.

Runs are drawn side by side (the reference first) on shared axes.  Beyond
:data:`~ecodec.report.grouping.MAX_NAMED` agents a band figure names the :data:`~ecodec.report.grouping.TOP`
agents that come nearest to (or go furthest beyond) their band in the reference, max_k max(lo_k - y_k, y_k -
hi_k), and draws the others as the range they span; a schedule figure names the agents of largest energy and sums
the others of their kind (:func:`~ecodec.report.grouping.agent_groups`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecodec.report.figures import agent_colors, held, new_figure, place_legend, style_axes, style_time_axis, time_edges
from ecodec.report.grouping import MAX_NAMED, TOP, agent_groups, series_of
from ecodec.report.labels import quantity_label, with_unit
from ecodec.results.case_summary import CaseSummary
from ecodec.results.run_result import RunResult

BAND_COLOR = "#9e9e9e"


def declared_bands(summary: CaseSummary | None) -> list[tuple[str, str, str, str]]:
    """(kind, quantity, lower parameter, upper parameter) of every output that declares a band, as the summary
    records them (none without a summary).

    >>> summary = CaseSummary("c", 2, 1.0, "EUR", [], [], {}, labels={"bands": {"building": {"t_zone": ["lo", "hi"]}}})
    >>> declared_bands(summary)
    [('building', 't_zone', 'lo', 'hi')]
    """
    bands = summary.labels.get("bands", {}) if summary is not None else {}
    return [(kind, quantity, ends[0], ends[1]) for kind, outputs in bands.items() for quantity, ends in outputs.items()]


def declared_schedules(summary: CaseSummary | None) -> dict[str, list[str]]:
    """Kind -> the quantities its agents declare as schedules (none without a summary)."""
    return dict(summary.labels.get("schedules", {})) if summary is not None else {}


def band_limits(summary: CaseSummary, agent: str, ends: tuple[str, str],
                T: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(lo, hi) of ``agent`` per step from the recorded parameters named ``ends``: a series recorded in the
    summary's ``profiles``, or a constant parameter; None when either end is not recorded.

    >>> summary = CaseSummary("c", 2, 1.0, "EUR", [{"name": "b", "kind": "building", "parameters": {"hi": 26.0}}],
    ...                       [], {}, labels={"profiles": {"b": {"lo": [20.0, 21.0]}}})
    >>> [v.tolist() for v in band_limits(summary, "b", ("lo", "hi"), 2)]
    [[20.0, 21.0], [26.0, 26.0]]
    """
    profiles = summary.labels.get("profiles", {}).get(agent, {})
    parameters = next((a["parameters"] for a in summary.agents if a["name"] == agent), {})
    out = []
    for name in ends:
        value = parameters.get(name)
        if name in profiles and len(profiles[name]) == T:
            out.append(np.asarray(profiles[name], dtype=float))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(np.full(T, float(value)))
        else:
            return None
    return out[0], out[1]


def band_violation(values, lower, upper) -> np.ndarray:
    """v_k = max(lo_k - y_k, y_k - hi_k, 0) per step (see the module docstring).

    >>> band_violation([20.0, 27.5, 17.0], [18.0, 18.0, 18.0], [26.0, 26.0, 26.0]).tolist()
    [0.0, 1.5, 1.0]
    """
    values = np.asarray(values, dtype=float)
    return np.maximum(np.maximum(np.asarray(lower, float) - values, values - np.asarray(upper, float)), 0.0)


def output_table(run: RunResult, agents: list[str], quantity: str) -> pd.DataFrame:
    """The run's ``quantity`` per step (rows t = 1..T) and agent (columns, those of ``agents`` that report it)."""
    rows = run.dispatch[(run.dispatch["quantity"] == quantity) & run.dispatch["agent"].isin(agents)]
    table = rows.pivot_table(index="t", columns="agent", values="value", aggfunc="sum").sort_index()
    return table[[a for a in agents if a in table.columns]].astype(float)


def largest_violation(run: RunResult, summary: CaseSummary, kind: str, quantity: str,
                      ends: tuple[str, str]) -> tuple[float, str, int] | None:
    """(largest band violation of the run's agents of ``kind``, the agent, the step t where it occurs) for a
    banded ``quantity``; None when the run reports it for no agent with a recorded band.  Ties: the first agent,
    then the first step; (0, '', 0) when every band is kept."""
    table = output_table(run, [a["name"] for a in summary.agents_of(kind)], quantity)
    worst = (0.0, "", 0)
    found = False
    for agent in table.columns:
        limits = band_limits(summary, agent, ends, len(table))
        if limits is None:
            continue
        found = True
        violation = band_violation(table[agent].to_numpy(), *limits)
        k = int(np.argmax(violation))
        if violation[k] > worst[0]:
            worst = (float(violation[k]), agent, int(table.index[k]))
    return worst if found else None


def _closeness(values: np.ndarray, limits) -> float:
    """max_k max(lo_k - y_k, y_k - hi_k): positive beyond the band, minus the smallest margin inside it."""
    if limits is None:
        return -math.inf
    return float(np.max(np.maximum(limits[0] - values, values - limits[1])))


def band_figure(run_list: list[RunResult], summary: CaseSummary, kind: str, quantity: str, ends: tuple[str, str],
                palette: dict[str, tuple] | None = None) -> Figure | None:
    """One panel per run: each agent's ``quantity`` over time against its band (shaded), as the module docstring
    says; None when no run reports the quantity."""
    agents = [a["name"] for a in summary.agents_of(kind)]
    tables = [(run, output_table(run, agents, quantity)) for run in run_list if run.has_solution]
    tables = [(run, table) for run, table in tables if not table.empty]
    if not tables:
        return None
    present = list(dict.fromkeys(a for _, table in tables for a in table.columns))
    T = len(tables[0][1])
    limits = {agent: band_limits(summary, agent, ends, T) for agent in present}
    first = tables[0][1]
    if len(present) > MAX_NAMED:
        score = {a: _closeness(first[a].to_numpy(), limits[a]) if a in first else -math.inf for a in present}
        named = sorted(present, key=lambda a: (-score[a], present.index(a)))[:TOP]
        named = [a for a in present if a in named]
    else:
        named = present
    rest = [a for a in present if a not in named]
    rest_label = f"other {kind} ({len(rest)}): range"
    if palette is None or any(a not in palette for a in named):
        palette = agent_colors(named + [kind])
    recorded = [limits[a] for a in present if limits[a] is not None]
    common = len(recorded) == len(present) and all(
        np.array_equal(r[0], recorded[0][0]) and np.array_equal(r[1], recorded[0][1]) for r in recorded)
    columns = min(len(tables), 2)
    fig = new_figure(2.9 * math.ceil(len(tables) / columns) + 0.9)
    axes = fig.subplots(math.ceil(len(tables) / columns), columns, squeeze=False, sharey=True).ravel()
    for ax in axes[len(tables):]:
        ax.set_visible(False)
    unit = ""
    for ax, (run, table) in zip(axes, tables):
        edges, dated = time_edges(run, len(table))
        unit = str(run.dispatch.loc[run.dispatch["quantity"] == quantity, "unit"].iloc[0])
        if common:
            ax.fill_between(edges, held(recorded[0][0]), held(recorded[0][1]), step="post", color=BAND_COLOR,
                            alpha=0.25, lw=0, label="band (every agent)")
        for agent in named:
            if not common and limits[agent] is not None:
                ax.fill_between(edges, held(limits[agent][0]), held(limits[agent][1]), step="post",
                                color=palette[agent], alpha=0.12, lw=0)
            if agent in table:
                ax.step(edges, held(table[agent].to_numpy()), where="post", color=palette[agent], lw=1.0,
                        label=agent)
        shown = [a for a in rest if a in table]
        if shown:
            values = table[shown].to_numpy()
            ax.fill_between(edges, held(values.min(axis=1)), held(values.max(axis=1)), step="post",
                            color=palette.get(kind, BAND_COLOR), alpha=0.35, lw=0, label=rest_label)
        ax.set_title(run.method, fontsize=8.5)
        style_time_axis(ax, edges, dated)
    for ax in axes[:len(tables)]:
        style_axes(ax, None, with_unit(quantity_label(quantity, [kind], summary), unit) if ax is axes[0] else None)
    place_legend(fig)
    return fig


def schedule_figure(run_list: list[RunResult], summary: CaseSummary, kind: str, quantities: list[str],
                    palette: dict[str, tuple] | None = None) -> Figure | None:
    """One row of panels per schedule quantity of ``kind``, one column per run: each agent's schedule over time
    (beyond MAX_NAMED agents the largest by energy in the reference and the others of the kind summed); None when
    no run reports any of them."""
    agents = [a["name"] for a in summary.agents_of(kind)]
    runs = [run for run in run_list if run.has_solution]
    rows = [(q, [output_table(run, agents, q) for run in runs]) for q in quantities]
    rows = [(q, tables) for q, tables in rows if any(not t.empty for t in tables)]
    if not rows:
        return None
    fig = new_figure(2.0 * len(rows) + 0.9)
    axes = fig.subplots(len(rows), len(runs), squeeze=False, sharex=True, sharey="row")
    for i, (quantity, tables) in enumerate(rows):
        reference = next(t for t in tables if not t.empty)
        groups = agent_groups({a: float(reference[a].abs().sum()) if a in reference else 0.0 for a in
                               dict.fromkeys(a for t in tables for a in t.columns)}, dict.fromkeys(agents, kind))
        series = series_of(groups)
        colors = palette if palette is not None and all(s in palette for s in series) else agent_colors(series)
        for j, (run, table) in enumerate(zip(runs, tables)):
            ax = axes[i, j]
            if not table.empty:
                summed = table.T.groupby(table.columns.map(groups), sort=False).sum().T
                edges, dated = time_edges(run, len(table))
                for name in series:
                    if name in summed:
                        ax.step(edges, held(summed[name].to_numpy()), where="post", color=colors[name], lw=1.0,
                                label=name)
                style_time_axis(ax, edges, dated, label=i == len(rows) - 1)
                unit = str(run.dispatch.loc[run.dispatch["quantity"] == quantity, "unit"].iloc[0])
                style_axes(ax, None, with_unit(quantity_label(quantity, [kind], summary), unit) if j == 0 else None)
            if i == 0:
                ax.set_title(run.method, fontsize=8.5)
    place_legend(fig)
    return fig


__all__ = ["band_figure", "band_limits", "band_violation", "declared_bands", "declared_schedules",
           "largest_violation", "output_table", "schedule_figure"]
