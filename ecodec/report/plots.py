"""The report's figures from Python: each function takes RunResults (the reference first, as a comparison orders
them) and returns a matplotlib ``Figure`` built without pyplot, or None when the runs hold nothing to draw (no
storage, no prices, ...).  Save one with ``fig.savefig("prices.pdf")``; in a notebook it displays itself.

``summary`` (a :class:`~ecodec.results.CaseSummary`: ``study.summary``, or :func:`ecodec.results.store.
load_case_summary` of a saved run directory) gives the labels saved with the runs; without it the declared labels
of the agent kinds are used (:mod:`ecodec.report.labels`).  :func:`report_figures` lists every figure the report
draws for some runs, under a short name, in the report's order.

>>> import ecodec
>>> from ecodec.report import plots
>>> study = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized", "primal-decomposition"],
...                             stopping={"max_iterations": 5})
>>> list(plots.report_figures(study.runs, study.summary))  # doctest: +NORMALIZE_WHITESPACE
['02_case_communication_network', '03_convergence', '04_dispatch_active_power', '04_dispatch_reactive_power',
 '04_dispatch_heat', '05_stored_energy', '06_grid_exchange', '07_coupling_prices', '08_costs_per_agent']
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ecodec.report import dispatch_figures, figures, market_figures
from ecodec.report.document import report_story
from ecodec.report.export import report_figures as figures_of_story
from ecodec.results.case_summary import CaseSummary
from ecodec.results.comparison import Comparison, compare
from ecodec.results.online_seeds import SeedRuns
from ecodec.results.run_result import RunResult

IMPORT, EXPORT = "p_import", "p_export"  # the grid agents' quantities (ecodec.models.grid)


def convergence(runs: list[RunResult]) -> Figure | None:
    """Cost gap, coupling violation and decision distance per iteration (log scales) and the cost against f*.

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized", "primal-decomposition"],
    ...                            stopping={"max_iterations": 5}).runs
    >>> fig = plots.convergence(runs)
    >>> fig.axes[-1].get_title()
    'cost per iteration [EUR]'
    """
    return figures.convergence_figure(runs)


def dispatch(runs: list[RunResult], resource: str, summary: CaseSummary | None = None) -> Figure | None:
    """Each agent's contribution to ``resource`` stacked (the largest by name and the rest per kind beyond 12
    agents), the net sum and the row's ends, one panel per run, over clock time.

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).runs
    >>> fig = plots.dispatch(runs, "active_power")
    >>> fig.axes[0].get_ylabel(), [t.get_text() for t in fig.legends[0].get_texts()][-3:]
    ('Active power [kW]', ['grid', 'net sum', 'required net supply'])
    """
    return dispatch_figures.resource_dispatch_figure(runs, resource, None, summary)


def prices(runs: list[RunResult], summary: CaseSummary | None = None) -> Figure | None:
    """The coupling prices per resource and run over time; numerical noise drawn as 0
    (:data:`ecodec.report.labels.PRICE_ZERO`).

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).runs
    >>> fig = plots.prices(runs)
    >>> [ax.get_title() for ax in fig.axes]
    ['Active power', 'Reactive power', 'Heat']
    >>> set(fig.axes[1].get_lines()[0].get_ydata())  # the reactive-power price is zero, not 1e-14 noise
    {np.float64(0.0)}
    """
    return figures.price_figure(runs, summary)


def costs(runs: list[RunResult]) -> Figure:
    """Each agent's cost per run (beyond 12 agents the largest |cost| by name, the rest per kind).

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).runs
    >>> len(plots.costs(runs).axes[0].patches)  # one bar per agent
    8
    """
    return figures.agent_cost_figure(runs)


def storage(runs: list[RunResult], summary: CaseSummary | None = None) -> Figure | None:
    """The stored energy of batteries and vehicles per run over time (None without storage).

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).runs
    >>> plots.storage(runs).axes[0].get_ylabel()
    'stored energy [kWh]'
    """
    return dispatch_figures.storage_energy_figure(runs, None, summary)


def grid_agents(runs: list[RunResult]) -> list[str]:
    """The agents that import and export (the connections to the main grid), in first-seen order."""
    return list(dict.fromkeys(a for run in runs if run.has_solution
                              for a in run.dispatch.loc[run.dispatch["quantity"] == IMPORT, "agent"]))


def grid_exchange(runs: list[RunResult], summary: CaseSummary | None = None) -> Figure | None:
    """Import (up) and export (down) of the grid agents per run over time (None without a grid agent).

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).runs
    >>> plots.grid_exchange(runs).axes[0].get_ylabel()
    'grid import (+), grid export (-) [kW]'
    """
    return dispatch_figures.grid_exchange_figure(runs, grid_agents(runs), IMPORT, EXPORT, summary)


def market(runs: list[RunResult]) -> Figure | None:
    """A market case's bids, fractions sold, energies and payments per agent and run (None for other cases).

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> runs = ecodec.compare_case("cases/community_market.xlsx", ["centralized"]).runs
    >>> plots.market(runs).axes[0].get_title()
    'bid [EUR/kWh]'
    """
    return market_figures.market_figure(runs)


def network(summary: CaseSummary) -> Figure:
    """The communication graph of the case, nodes coloured by agent kind.

    >>> import ecodec
    >>> from ecodec.report import plots
    >>> summary = ecodec.compare_case("cases/microgrid_8.xlsx", ["centralized"]).summary
    >>> len(plots.network(summary).legends)
    1
    """
    return figures.network_figure(summary)


def report_figures(runs: list[RunResult], summary: CaseSummary | None = None, comparison: Comparison | None = None,
                   seeds: SeedRuns | None = None) -> dict[str, Figure]:
    """Every figure the report of ``runs`` draws, in the document's order, under the file stem
    :func:`ecodec.report.export_figures` gives it ('03_convergence', '04_dispatch_active_power', ...): the figures
    are taken from the report's own story, so this is exactly what the PDF shows.  ``comparison`` defaults to the
    runs compared with the first."""
    comparison = comparison if comparison is not None else compare(runs, runs[0])
    return {item.name: item.figure for item in figures_of_story(report_story(runs, comparison, summary, seeds))}


__all__ = ["convergence", "costs", "dispatch", "grid_agents", "grid_exchange", "market", "network", "prices",
           "report_figures", "storage"]
