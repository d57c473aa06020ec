"""Report figures of a market case (buyers and sellers, :mod:`ecodec.models.market`): what each agent decided and
got, run beside run, and how the distributed decisions travelled to the reference.

Like :mod:`ecodec.report.figures`, every function takes results and returns a matplotlib ``Figure`` (or None when
the results hold nothing to draw); the numbers come from :func:`ecodec.results.kpi.market_summary`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ecodec.report.figures import method_colors, new_figure, place_legend, style_axes
from ecodec.results import kpi
from ecodec.results.run_result import RunResult

#: (quantity, panel title) of the 2 x 2 market figure; buyers' quantities first, then the sellers'
_PANELS = (("bid", "bid [{currency}/kWh]"), ("fraction_sold", "fraction of the excess sold"),
           (("energy_received", "energy_sold"), "energy received (buyers) and sold (sellers) [kWh]"),
           (("payment", "revenue"), "payment (buyers) and revenue (sellers) [{currency}]"))
#: history columns of the decisions, 'x:<agent>:<entry>' (:mod:`ecodec.decomposition.aggregative_tracking`)
DECISION_PREFIX = "x:"


def market_figure(runs: list[RunResult]) -> Figure | None:
    """Grouped bars per agent, one bar per run: bids, fractions sold, energies, payments and revenues (horizon
    totals; bids and fractions averaged over the steps).  None when the runs are not of a market case."""
    solved = [run for run in runs if run.has_solution]
    tables = [kpi.market_summary(run.dispatch) for run in solved]
    if not tables or tables[0].empty:
        return None
    colors = method_colors(runs)
    fig = new_figure(5.2)
    axes = fig.subplots(2, 2).ravel()
    width = 0.8 / len(solved)
    currency = solved[0].currency
    for ax, (quantities, title) in zip(axes, _PANELS):
        quantities = (quantities,) if isinstance(quantities, str) else quantities
        agents = [a for a, *values in zip(tables[0]["agent"], *(tables[0][q] for q in quantities))
                  if any(np.isfinite(v) for v in values)]
        positions = np.arange(len(agents))
        for k, (run, table) in enumerate(zip(solved, tables)):
            indexed = table.set_index("agent")
            values = [next((float(indexed.at[a, q]) for q in quantities if np.isfinite(indexed.at[a, q])), np.nan)
                      for a in agents]
            ax.bar(positions + (k - (len(solved) - 1) / 2) * width, values, width, color=colors[run.method],
                   label=run.method)
        ax.set_xticks(positions, agents, rotation=45, ha="right", fontsize=7)
        ax.set_title(title.format(currency=currency), fontsize=8.5)
        style_axes(ax, "")
    place_legend(fig)
    return fig


def decision_trajectory_figure(runs: list[RunResult]) -> Figure | None:
    """Each agent's decisions per iteration of the distributed runs that recorded them (history columns
    ``x:<agent>:<entry>``), buyers' bids and sellers' fractions in two panels, with the reference's decisions as
    dashed lines.  None when no run recorded its decisions."""
    recorded = [run for run in runs[1:] if any(c.startswith(DECISION_PREFIX) for c in run.history.columns)]
    if not recorded:
        return None
    reference = runs[0]
    kinds = dict(zip(reference.agent_costs["agent"], reference.agent_costs["kind"]))
    groups = list(dict.fromkeys(kinds.values()))
    fig = new_figure(2.6 * len(recorded))
    axes = fig.subplots(len(recorded), len(groups), squeeze=False)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for row, run in zip(axes, recorded):
        columns = [c for c in run.history.columns if c.startswith(DECISION_PREFIX)]
        for ax, kind in zip(row, groups):
            agents = [a for a, k in kinds.items() if k == kind]
            for n, agent in enumerate(agents):
                own = [c for c in columns if c.split(":")[1] == agent]
                for column in own:
                    ax.plot(run.history["iteration"], run.history[column], color=cmap(n % 10), lw=1.0,
                            label=agent if column == own[0] else None)
                decisions = reference.dispatch[(reference.dispatch["agent"] == agent)
                                               & reference.dispatch["quantity"].isin(kpi.MARKET_AVERAGED)]
                for value in decisions["value"]:
                    ax.axhline(float(value), color=cmap(n % 10), lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.set_title(f"{run.method}: {kind} decisions", fontsize=8.5)
            style_axes(ax, "iteration")
    place_legend(fig)
    return fig
