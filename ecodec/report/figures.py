"""Report figures about runs as a whole: convergence, the communication network, prices and costs per agent.

Every function takes results (RunResults, the case summary) and returns a matplotlib ``Figure`` built without
pyplot (no global state, no display needed), or None when the results hold nothing to draw, so that the
document leaves the section out instead of printing an empty plot.  Colours are fixed per method
(:func:`method_colors`) and per agent (:func:`agent_colors`) so that a method or an agent looks the same in
every figure.  :mod:`ecodec.report.plots` is the public face of these functions.

Conventions every figure keeps (tested in tests/test_report_figures.py):

* legends sit outside the axes, below them (:func:`place_legend`; constrained layout keeps them in the figure);
* a time axis shows clock time (:func:`time_edges`, :func:`style_time_axis`: concise dates) when the case has a
  start, hours since the start ('time [h]') otherwise; values held over a step stay steps;
* labels are words with units (:mod:`ecodec.report.labels`), linear axes print plain numbers (no offset or
  'x 1e-14' multiplier above the axes, where it collides with a title);
* more than :data:`ecodec.report.grouping.MAX_NAMED` agents: the largest by name, the rest per kind.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ecodec.report.grouping import agent_groups, is_grouped, series_of
from ecodec.report.labels import PRICE_NOTE, resource_label, shown_prices
from ecodec.results.case_summary import CaseSummary
from ecodec.results.run_result import RunResult

WIDTH_IN = 6.85  # the PDF frame width (A4 less 2 x 18 mm)
REFERENCE_COLOR = "#222222"
_METHOD_CYCLE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
_LOG_PANELS = (("cost_gap", "relative cost gap |f - f*| / |f*|", "cost_gap_tol"),
               ("rel_violation", "relative coupling violation", "violation_tol"),
               ("distance", "relative distance of decisions ||x - x*|| / ||x*||", None),
               ("tracking_error_sigma", "aggregate tracking error maxᵢ ‖sᵢ − σ‖ / ‖σ‖", None),
               ("consensus_error", "consensus error of the agents' copies", None))
BOUND_COLUMNS = ("lower_bound", "upper_bound")
#: a method whose decisions are an average of its iterates (proximal dual decomposition) also records the last
#: iterate's numbers; they are drawn thin and dotted beside the decisions' own curve
LAST_ITERATE_COLUMNS = {"rel_violation": "last_rel_violation", "objective": "last_objective"}
MAX_AGENT_BARS = 40


def method_colors(runs: list[RunResult]) -> dict[str, str]:
    """The reference (first run) in near-black, the others from a fixed cycle in run order."""
    return colors_by_method([run.method for run in runs])


def colors_by_method(methods: list[str]) -> dict[str, str]:
    """The colours of :func:`method_colors` for methods given by name, the reference first."""
    colors = {methods[0]: REFERENCE_COLOR} if methods else {}
    for k, method in enumerate(methods[1:]):
        colors[method] = _METHOD_CYCLE[k % len(_METHOD_CYCLE)]
    return colors


def agent_colors(names: list[str]) -> dict[str, tuple]:
    """One colour per name (agents or kinds) from the tab20 map, in the given order."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return {name: cmap(k % 20) for k, name in enumerate(names)}


def place_legend(fig: Figure, fontsize: float = 6.5, markerscale: float = 1.0):
    """One legend for the whole figure, below its axes (outside every data area), with the entries of all its
    axes once each (labels starting with '_' are left out); None when nothing is labelled.  The columns are as
    many as fit the figure's width."""
    handles: dict[str, object] = {}
    for ax in fig.axes:
        if ax.get_visible():
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
    if not handles:
        return None
    longest = max(len(label) for label in handles)
    width_pt = fig.get_figwidth() * 72 - 20
    columns = max(1, min(len(handles), int(width_pt // (longest * fontsize * 0.55 + 3 * fontsize))))
    return fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=columns, fontsize=fontsize,
                      frameon=False, markerscale=markerscale)


def time_edges(run: RunResult, T: int) -> tuple[np.ndarray, bool]:
    """The T + 1 boundaries of the run's steps (a value is held from its step's start to the next): clock times
    (numpy datetime64) when the case has a start (second element True), else hours since the start."""
    times = run.times(np.arange(1, T + 2))
    if times is None:
        return np.arange(T + 1) * run.step_h, False
    return times.to_numpy(), True


def style_time_axis(ax, edges: np.ndarray, dated: bool, label: bool = True) -> None:
    """Concise clock-time ticks for a dated axis (times of day, the date at midnight) labelled with the start
    ('time from 17 Apr 2019 00:00'; no offset text at the axis end), else hours ('time [h]'); ``edges`` as
    :func:`time_edges` gives them; ``label``: whether to write the axis label."""
    text = "time [h]"
    if dated:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, show_offset=False))
        first = np.datetime64(edges[0], "m").astype(object)
        text = f"time from {first:%d %b %Y %H:%M}"
    ax.set_xlabel(text if label else "", fontsize=8)


def held(values) -> np.ndarray:
    """Values per step with the last repeated: the heights of a step plot over :func:`time_edges`."""
    values = np.asarray(values, dtype=float)
    return np.append(values, values[-1])


def new_figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
    fig.set_facecolor("white")
    return fig


def _positive(values) -> np.ndarray:
    """Values for a log axis: zeros and negatives become gaps instead of errors."""
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


def convergence_figure(runs: list[RunResult]) -> Figure | None:
    """Per-iteration cost gap, relative violation and decision distance of every run with a history, on log
    scales, with the stopping tolerances and phase changes marked; the consensus error of the agents' copies of
    shared variables when a run records one (history column ``consensus_error``: max_i ||z_i - z_avg|| over a
    scale for a method on structured programs, the aggregate estimates' error for DELTA); a panel of the cost per
    iteration against
    the reference cost f*, with the lower and upper bounds of methods that report them (history columns
    ``lower_bound`` / ``upper_bound``).  None when no run has a history."""
    iterative = [run for run in runs if not run.history.empty]
    if not iterative:
        return None
    colors = method_colors(runs)
    coupled = any(not run.coupling.empty for run in runs if run.has_solution)  # a market case has no coupling rows
    panels = [p for p in _LOG_PANELS if any(p[0] in run.history.columns for run in iterative)
              and (coupled or p[0] != "rel_violation")]
    fig = new_figure(2.5 * math.ceil((len(panels) + 1) / 2) + 0.4)
    axes = fig.subplots(math.ceil((len(panels) + 1) / 2), 2, squeeze=False).ravel()
    for ax in axes[len(panels) + 1:]:
        ax.set_visible(False)
    for ax, (column, title, tolerance_key) in zip(axes, panels):
        tolerances = set()
        for run in iterative:
            if column not in run.history.columns:
                continue
            history = run.history
            ax.plot(history["iteration"], _positive(history[column]), color=colors[run.method], lw=1.1,
                    label=run.method)
            _plot_last_iterate(ax, history, column, colors[run.method], run.method, log=True)
            _mark_phases(ax, history, colors[run.method])
            tolerance = run.info.get("stopping", {}).get(tolerance_key) if tolerance_key else None
            if tolerance:
                tolerances.add(float(tolerance))
        for tolerance in sorted(tolerances):
            ax.axhline(tolerance, color="#777777", lw=0.8, ls="--", label=f"tolerance {tolerance:g}")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=8.5)
        style_axes(ax, "iteration")
    ax = axes[len(panels)]
    for run in iterative:
        ax.plot(run.history["iteration"], run.history["objective"], color=colors[run.method], lw=1.1,
                label=f"{run.method}")
        _plot_last_iterate(ax, run.history, "objective", colors[run.method], run.method, log=False)
        for column, style in zip(BOUND_COLUMNS, ("--", "-.")):
            if column in run.history.columns:
                ax.plot(run.history["iteration"], run.history[column], color=colors[run.method], ls=style, lw=1.0,
                        label=f"{run.method}: {column.replace('_', ' ')}")
    ax.axhline(runs[0].objective, color=REFERENCE_COLOR, lw=0.9, ls=":", label=f"{runs[0].method} f*")
    low, high = _cost_limits(iterative, runs[0].objective)
    ax.set_ylim(low, high)
    ax.set_title(f"cost per iteration [{runs[0].currency}]", fontsize=8.5)
    style_axes(ax, "iteration")
    place_legend(fig)
    return fig


def _plot_last_iterate(ax, history, column: str, color: str, method: str, log: bool) -> None:
    last = LAST_ITERATE_COLUMNS.get(column)
    if last in history.columns:
        ax.plot(history["iteration"], _positive(history[last]) if log else history[last], color=color, lw=0.6,
                ls=":", label=f"{method}: last iterate")


def _cost_limits(runs: list[RunResult], reference: float) -> tuple[float, float]:
    """y-limits of the cost panel: the 2nd to 98th percentile of the iterates (and bounds) and f*, padded, so
    that the first wild iterates do not flatten the rest."""
    values = [reference]
    for run in runs:
        for column in ("objective", *BOUND_COLUMNS):
            if column in run.history.columns:
                finite = run.history[column].to_numpy(dtype=float)
                finite = finite[np.isfinite(finite)]
                if finite.size:
                    values += [float(np.percentile(finite, 2)), float(np.percentile(finite, 98))]
    low, high = min(values), max(values)
    pad = 0.08 * (high - low) if high > low else max(abs(high), 1.0) * 0.05
    return low - pad, high + pad


def _mark_phases(ax, history, color) -> None:
    """A dotted vertical line where the method's ``phase`` column changes (e.g. the mixed-integer recovery)."""
    if "phase" not in history.columns or len(history) < 2:
        return
    phase = history["phase"].to_numpy()
    for k in np.flatnonzero(phase[1:] != phase[:-1]):
        ax.axvline(history["iteration"].iloc[k + 1], color=color, lw=0.8, ls=":", label="phase change")


def style_axes(ax, xlabel: str | None, ylabel: str | None = None) -> None:
    """Label sizes, a light grid and plain tick numbers on linear axes (no offset or multiplier text, which would
    sit on the title); ``xlabel`` None leaves the x label as it is (a time axis labels itself).  Legends are the
    figure's (:func:`place_legend`)."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    for axis, scale in (("x", ax.get_xscale()), ("y", ax.get_yscale())):
        formatter = (ax.xaxis if axis == "x" else ax.yaxis).get_major_formatter()
        if scale == "linear" and isinstance(formatter, ScalarFormatter):
            ax.ticklabel_format(axis=axis, style="plain", useOffset=False)


def network_figure(summary: CaseSummary) -> Figure:
    """The communication graph: one node per agent coloured by kind, labelled when there are few agents."""
    graph = nx.Graph()
    graph.add_nodes_from(summary.network["agents"])
    graph.add_edges_from(tuple(edge) for edge in summary.network["edges"])
    kinds = {agent["name"]: agent["kind"] for agent in summary.agents}
    palette = agent_colors(summary.kinds())
    n = graph.number_of_nodes()
    position = nx.kamada_kawai_layout(graph) if 1 < n <= 150 and nx.is_connected(graph) else nx.spring_layout(
        graph, seed=1)
    fig = new_figure(3.6 if n <= 40 else 4.6)
    ax = fig.subplots()
    nx.draw_networkx_edges(graph, position, ax=ax, edge_color="#999999", width=0.8 if n <= 100 else 0.3)
    for kind in summary.kinds():
        nodes = [name for name in graph.nodes if kinds.get(name) == kind]
        nx.draw_networkx_nodes(graph, position, nodelist=nodes, ax=ax, node_color=[palette[kind]],
                               node_size=420 if n <= 40 else max(8, 4000 // n), label=kind, edgecolors="#333333",
                               linewidths=0.5)
    if n <= 40:
        nx.draw_networkx_labels(graph, position, ax=ax, font_size=6.5)
    place_legend(fig, fontsize=7, markerscale=0.5 if n <= 40 else 2)
    ax.set_axis_off()
    ax.margins(0.08)
    return fig


def price_figure(runs: list[RunResult], summary: CaseSummary | None = None) -> Figure | None:
    """Coupling prices over time, one panel per resource with a price in any run, one line per run, held over
    each step; prices below the noise threshold drawn as 0 (:func:`ecodec.report.labels.shown_prices`).  None
    when no run has prices (a MILP reference has no duals, a method may not estimate them)."""
    resources, scale = [], 0.0
    for run in runs:
        for name, rows in run.coupling.groupby("resource", sort=False):
            price = rows["price"].to_numpy(dtype=float)
            if np.isfinite(price).any():
                scale = max(scale, float(np.nanmax(np.abs(price))))
                if name not in resources:
                    resources.append(name)
    if not resources:
        return None
    colors = method_colors(runs)
    fig = new_figure(1.9 * len(resources) + 0.7)
    axes = fig.subplots(len(resources), 1, squeeze=False, sharex=True).ravel()
    edges, dated = np.zeros(1), False
    for ax, name in zip(axes, resources):
        unit = ""
        for run in runs:
            rows = run.coupling[run.coupling["resource"] == name].sort_values("t")
            price = rows["price"].to_numpy(dtype=float)
            if len(rows) and np.isfinite(price).any():
                edges, dated = time_edges(run, len(rows))
                ax.step(edges, held(shown_prices(price, scale)), where="post", color=colors[run.method], lw=1.0,
                        label=run.method)
                unit = str(rows["price_unit"].iloc[0])
        ax.axhline(0, color="#bbbbbb", lw=0.5)
        ax.set_title(resource_label(name, summary), fontsize=8.5)
        style_axes(ax, None, f"price [{unit}]" if unit else "price")
        style_time_axis(ax, edges, dated, label=ax is axes[-1])
    place_legend(fig)
    return fig


def price_caption() -> str:
    """The caption of :func:`price_figure`, with the noise threshold."""
    return f"Coupling prices per step, one line per run that has them; {PRICE_NOTE}."


def agent_cost_figure(runs: list[RunResult]) -> Figure:
    """Cost per agent over the horizon, one bar per run; beyond :data:`~ecodec.report.grouping.MAX_NAMED` agents
    the largest |cost| of the reference by name and the rest summed per kind ('other ev (95)')."""
    solved = [run for run in runs if run.has_solution]
    colors = method_colors(runs)
    reference = solved[0].agent_costs
    groups = agent_groups(dict(zip(reference["agent"], reference["cost"].astype(float))),
                          dict(zip(reference["agent"], reference["kind"])))
    values = {run.method: run.agent_costs.assign(series=run.agent_costs["agent"].map(groups))
              .groupby("series")["cost"].sum().astype(float).to_dict() for run in solved}
    labels = series_of(groups)
    fig = new_figure(max(2.2, 0.22 * len(labels) * max(1, len(solved) * 0.6) + 0.9))
    ax = fig.subplots()
    height = 0.8 / len(solved)
    positions = np.arange(len(labels))
    for k, run in enumerate(solved):
        ax.barh(positions + (k - (len(solved) - 1) / 2) * height, [values[run.method].get(x, 0.0) for x in labels],
                height=height, color=colors[run.method], label=run.method)
    ax.set_yticks(positions, labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color="#777777", lw=0.6)
    style_axes(ax, f"cost over the horizon [{solved[0].currency}]")
    place_legend(fig)
    return fig


def agent_cost_caption(runs: list[RunResult]) -> str:
    """The caption of :func:`agent_cost_figure` for these runs (what its bars are)."""
    solved = [run for run in runs if run.has_solution]
    costs = solved[0].agent_costs
    groups = agent_groups(dict(zip(costs["agent"], costs["cost"].astype(float))), dict(zip(costs["agent"],
                                                                                              costs["kind"])))
    if not is_grouped(groups):
        return "Cost of each agent over the horizon, per run."
    named = sum(agent == series for agent, series in groups.items())
    return (f"Cost over the horizon per run: the {named} agents of largest |cost| in {solved[0].method} by name, "
            "the others summed per kind ('other <kind> (number of agents)').")
