"""The report section of a sensitivity analysis (:class:`~ecodec.results.sensitivity.SensitivityResult`):
the LP's prices, the support agents, the bound eps(s*) beside the Monte-Carlo frequency and its interval, and
eps(k) over k.  It reads the result only (nothing is re-solved), so a saved result renders again as it was.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from ecodec.report.figures import new_figure, place_legend, style_axes
from ecodec.report.pdf import figure, heading, paragraph, table, write_pdf
from ecodec.results.sensitivity import SensitivityResult

MAX_NAMES = 40  # support agents listed by name; more are counted


def fact_rows(result: SensitivityResult) -> list[list[str]]:
    """The section's table of facts (label, value): what the CLI prints too.

    >>> from ecodec.results.sensitivity import SensitivityResult
    >>> r = SensitivityResult(case="c", description="", n_agents=4, beta=0.001, s_star=1, eps_s_star=0.5,
    ...                       s_star_price=2, eps_s_star_price=0.75, draws=100, changes=12, changes_price=20,
    ...                       interval=(0.0636, 0.2002), interval_level=0.95)
    >>> fact_rows(r)[4]
    ['eps(s*) (bound, confidence 1 - beta)', '0.5']
    """
    level = f"{result.interval_level * 100:g}%"
    return [
        ["agents N", f"{result.n_agents}"],
        ["confidence parameter beta", f"{result.beta:g}"],
        ["optimal objective", f"{result.objective:.6g} {result.objective_unit}"],
        ["support agents s* (allocation rule)", f"{result.s_star}"],
        ["eps(s*) (bound, confidence 1 - beta)", f"{result.eps_s_star:.6g}"],
        ["new agents drawn", f"{result.draws}"],
        ["new agents that changed the others' shares", f"{result.changes}"],
        ["Monte-Carlo frequency", f"{result.frequency:.6g}"],
        [f"{level} Clopper-Pearson interval", f"[{result.interval[0]:.6g}, {result.interval[1]:.6g}]"],
        ["support agents (price rule) / eps", f"{result.s_star_price} / {result.eps_s_star_price:.6g}"],
        ["frequency of a price change", f"{result.frequency_price:.6g}"],
        ["time (LP, leave-one-out, Monte Carlo)",
         " / ".join(f"{result.timings_s.get(k, float('nan')):.3g} s" for k in ("solve", "leave_one_out",
                                                                             "monte_carlo"))],
    ]


def price_rows(result: SensitivityResult) -> list[list[str]]:
    """Header and one row per shared resource: capacity and optimal price lambda*."""
    rows = [["resource", "capacity", "unit", "price lambda*", "price unit"]]
    for r in result.resources.itertuples(index=False):
        rows.append([str(r.resource), f"{r.capacity:.6g}", str(r.unit), f"{r.price:.6g}", str(r.price_unit)])
    return rows


def epsilon_figure(result: SensitivityResult) -> Figure:
    """eps(k) over k = 0..N, s* (both rules) marked, and the Monte-Carlo frequency with its interval."""
    fig = new_figure(2.6)
    ax = fig.add_subplot()
    k, eps = result.epsilon["k"].to_numpy(), result.epsilon["eps"].to_numpy()
    ax.plot(k, eps, color="#1f77b4", lw=1.2, label="eps(k), wait-and-judge")
    ax.plot([result.s_star], [result.eps_s_star], "o", color="#d62728", ms=5,
            label=f"s* = {result.s_star} (allocation rule): eps = {result.eps_s_star:.3g}")
    ax.plot([result.s_star_price], [result.eps_s_star_price], "s", color="#9467bd", ms=4, mfc="none",
            label=f"s* = {result.s_star_price} (price rule): eps = {result.eps_s_star_price:.3g}")
    ax.axhspan(result.interval[0], result.interval[1], color="#2ca02c", alpha=0.2, lw=0)
    ax.axhline(result.frequency, color="#2ca02c", lw=1.0,
               label=f"changes in {result.draws} draws: {result.frequency:.3g} "
                     f"({result.interval_level * 100:g}% interval shaded)")
    ax.set_xlim(0, max(1, result.n_agents))
    ax.set_ylim(0, 1.02)
    style_axes(ax, "number of support agents k", "eps(k)")
    place_legend(fig)
    return fig


def sensitivity_section(result: SensitivityResult) -> list:
    """The flowables of the section."""
    names = result.support_agents
    listed = ", ".join(names[:MAX_NAMES]) + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")
    bound = ("below" if result.interval[1] <= result.eps_s_star else
             "above" if result.interval[0] > result.eps_s_star else "across")
    story = [
        heading(f"Sensitivity to a new agent: {result.case}"),
        paragraph(f"{result.description.rstrip('.')}. New agents are drawn from: {result.population}."),
        paragraph("An agent changes the others' shares when no optimal allocation of the others stays optimal once "
                  "it is accommodated (objective on the others' optimal face above the free optimum). Support "
                  "agents are those whose own arrival, to the program without them, is such a change. With "
                  f"confidence 1 - beta = {1 - result.beta:g}, a new agent from the same population changes the "
                  f"others' shares with probability at most eps(s*) = {result.eps_s_star:.4g} (wait-and-judge, "
                  f"Campi and Garatti 2018). The Monte-Carlo frequency's interval lies {bound} that bound."),
        table(fact_rows(result), header=False),
        heading("Support agents", 1),
        paragraph(f"{result.s_star} of {result.n_agents}: {listed or 'none'}."),
        heading("Prices of the shared resources", 1),
        table(price_rows(result)),
    ]
    story += figure(epsilon_figure(result), "The wait-and-judge bound eps(k) over the number of support agents k, "
                    "the support counts of both rules, and the frequency with which new agents changed the "
                    "others' shares (shaded: its interval).", name="epsilon")
    return story


def write_sensitivity_report(result: SensitivityResult, path: str | Path) -> Path:
    """The section as a PDF at ``path``."""
    return write_pdf(path, sensitivity_section(result), title=f"ecodec sensitivity: {result.case}",
                     subject="Sensitivity of a resource-sharing LP to the arrival of a new agent",
                     header=f"ecodec sensitivity - {result.case}")

