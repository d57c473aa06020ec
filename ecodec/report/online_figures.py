"""Report figures of an online sharing case (:mod:`ecodec.problem.online_sharing`): the paper's curves over
rounds with confidence bands over the seeds, the energy levels per node before and after sharing, and the network
with its surplus and shortage nodes.

Every function reads a :class:`~ecodec.results.SeedRuns` (the means and bands are its own) and returns a matplotlib
``Figure``, or None when there is nothing to draw.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from matplotlib.figure import Figure

from ecodec.report.figures import (REFERENCE_COLOR, colors_by_method, method_colors, new_figure, place_legend,
                                   style_axes)
from ecodec.results.case_summary import CaseSummary
from ecodec.results.online_seeds import SeedRuns

_PANELS = (("cumulative_loss", "cumulative loss"), ("dynamic_regret", "dynamic regret"),
           ("cumulative_violation", "cum. violation [kW, summed]"))
SURPLUS, SHORTAGE = "#2e7d32", "#c62828"


def online_curves_figure(seeds: SeedRuns, runs) -> Figure | None:
    """Cumulative loss, dynamic regret and cumulative hard-constraint violation per round: the mean over the seeds
    of each method with its confidence band; the comparator's mean cumulative loss dashed in the first panel."""
    methods = seeds.methods
    if not methods:
        return None
    colors = method_colors(runs)
    fig = new_figure(6.2)
    axes = fig.subplots(3, 1, sharex=True)
    comparator = seeds.curves[seeds.curves["method"] == methods[0]].assign(
        value=lambda f: f["cumulative_loss"] - f["dynamic_regret"]).groupby("round")["value"].mean()
    axes[0].plot(comparator.index, comparator.to_numpy(), color=REFERENCE_COLOR, ls="--", lw=1.0,
                 label="comparator (best in hindsight)")
    for ax, (column, label) in zip(axes, _PANELS):
        for method in methods:
            band = seeds.band(method, column)
            ax.plot(band["round"], band["mean"], color=colors.get(method), lw=1.1, label=method)
            ax.fill_between(band["round"], band["low"], band["high"], color=colors.get(method), alpha=0.2, lw=0)
        style_axes(ax, "round" if ax is axes[-1] else "", label)
    place_legend(fig)
    return fig


def energy_level_figure(seeds: SeedRuns) -> Figure | None:
    """Per node: its energy level (energy over demand across the horizon) before sharing and after it under each
    method (means over the seeds), with the threshold 1.0 (the demand met)."""
    levels = seeds.mean_levels()
    if levels.empty:
        return None
    methods = list(dict.fromkeys(levels["method"]))
    nodes = list(dict.fromkeys(levels["node"]))
    before = levels[levels["method"] == methods[0]].set_index("node")["before"]
    colors = {"before sharing": "#9e9e9e", **colors_by_method(methods)}
    fig = new_figure(3.4 if len(nodes) <= 10 else 4.0)
    ax = fig.subplots()
    width = 0.8 / (len(methods) + 1)
    positions = np.arange(len(nodes))
    ax.bar(positions - 0.4 + width / 2, before.loc[nodes].to_numpy(), width, color=colors["before sharing"],
           label="before sharing")
    for k, method in enumerate(methods):
        after = levels[levels["method"] == method].set_index("node")["after"]
        ax.bar(positions - 0.4 + width * (k + 1.5), after.loc[nodes].to_numpy(), width, color=colors[method],
               label=f"after: {method}")
    ax.axhline(1.0, color="black", lw=0.9, ls="--", label="demand met (1.0)")
    ax.set_xticks(positions, nodes, rotation=45 if len(nodes) > 10 else 0, ha="right" if len(nodes) > 10 else
                  "center", fontsize=7)
    style_axes(ax, "node", "energy / demand")
    place_legend(fig)
    return fig


def sharing_network_figure(summary: CaseSummary, seeds: SeedRuns) -> Figure | None:
    """The energy-exchange graph, each node green when its own generation covers its demand over the horizon
    (level before sharing >= 1) and red when it does not; labelled with the level."""
    levels = seeds.mean_levels()
    if levels.empty:
        return None
    before = levels.drop_duplicates("node").set_index("node")["before"]
    graph = nx.Graph()
    graph.add_nodes_from(summary.network["agents"])
    graph.add_edges_from(tuple(edge) for edge in summary.network["edges"])
    position = nx.kamada_kawai_layout(graph) if graph.number_of_nodes() > 1 else {n: (0, 0) for n in graph}
    fig = new_figure(3.4)
    ax = fig.subplots()
    nx.draw_networkx_edges(graph, position, ax=ax, edge_color="#999999", width=0.8)
    for label, color, chosen in (("surplus (level >= 1)", SURPLUS, [n for n in graph if before.get(n, 1.0) >= 1.0]),
                                 ("shortage (level < 1)", SHORTAGE, [n for n in graph if before.get(n, 1.0) < 1.0])):
        nx.draw_networkx_nodes(graph, position, nodelist=chosen, ax=ax, node_color=color, node_size=380,
                               label=label, edgecolors="#333333", linewidths=0.5)
    nx.draw_networkx_labels(graph, position, ax=ax, font_size=6.5, font_color="white",
                            labels={n: f"{n}\n{before.get(n, float('nan')):.2f}" for n in graph})
    place_legend(fig, fontsize=7, markerscale=0.5)
    ax.set_axis_off()
    ax.margins(0.1)
    return fig


__all__ = ["energy_level_figure", "online_curves_figure", "sharing_network_figure"]
