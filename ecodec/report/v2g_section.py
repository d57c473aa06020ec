"""The report of a V2G profitability study: expected profit against the reserve price (V2G with reserve,
charge-only, the closed form, both boundary prices), the grid as a table, and the verdict.  It reads a
:class:`ecodec.results.v2g_profitability.V2GProfitabilityResult` (saved or fresh); nothing is recomputed.

>>> from ecodec.results.v2g_profitability import V2GProfitabilityResult
>>> r = V2GProfitabilityResult(case="demo", vehicles=1, options={"policy": "robust"}, reserve_prices=[0.0, 0.1],
...     v2g_profit_eur=[-1.0, -0.5], reserve_revenue_eur=[0.0, 0.7], energy_cost_eur=[1.0, 1.2],
...     band_kwh=[0.0, 7.0], closed_form_profit_eur=[-1.0, -0.5], charge_only_profit_eur=-1.0,
...     boundary_closed_form=0.05, boundary_optimization=0.05, simplified_case=True, runtime_s=0.1)
>>> grid_rows(r)[2][:3]
['0.1', '-0.5', '0.5']
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from ecodec.report.figures import new_figure, place_legend, style_axes
from ecodec.report.pdf import figure, heading, paragraph, table, write_pdf


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "inf" if value == math.inf else f"{value:.6g}"


def profit_figure(result) -> Figure:
    """Fleet expected profit against the reserve price; the closed-form boundary (and the optimization's) drawn."""
    fig = new_figure(3.0)
    ax = fig.subplots()
    prices = result.reserve_prices
    ax.plot(prices, result.v2g_profit_eur, "o-", ms=3, lw=1.2, color="#1f77b4", label="V2G with reserve (sampled LP)")
    ax.axhline(result.charge_only_profit_eur, color="#555555", lw=1.0, label="charge-only")
    if all(v is not None for v in result.closed_form_profit_eur):
        ax.plot(prices, result.closed_form_profit_eur, "--", lw=1.0, color="#ff7f0e",
                label="closed form (simplified case)")
    for value, style, text in ((result.boundary_closed_form, ":", "closed-form boundary"),
                               (result.boundary_optimization, "-.", "optimization boundary")):
        if math.isfinite(value):
            ax.axvline(value, ls=style, lw=1.0, color="#d62728" if style == ":" else "#2ca02c",
                       label=f"{text} {value:.4g}")
    style_axes(ax, f"reserve price [{result.currency}/(kW h)]", f"expected profit [{result.currency}]")
    place_legend(fig)
    return fig


def grid_rows(result) -> list[list[str]]:
    """The table of the grid: a header row, then one row per reserve price."""
    rows = [["reserve price", "V2G profit", "gain", "band kWh", "closed form", "optimization: profitable",
             "closed form: profitable"]]
    for i, price in enumerate(result.reserve_prices):
        rows.append([_number(price), _number(result.v2g_profit_eur[i]), _number(result.gain_eur[i]),
                     _number(result.band_kwh[i]), _number(result.closed_form_profit_eur[i]),
                     "yes" if result.optimization_profitable[i] else "no",
                     "yes" if result.closed_form_profitable[i] else "no"])
    return rows


def verdict_text(result) -> str:
    """One paragraph: the boundaries, the agreement, and whether the closed form's assumptions hold."""
    options = result.options
    case = ("the simplified case (lossless, energy bounds not binding): the closed form is exact up to sampling"
            if result.simplified_case else
            "the general case (losses, possibly binding energy bounds, or the recourse policy): the closed form of "
            "the simplified case is used as a prediction")
    return (f"{result.vehicles} vehicles, policy '{options.get('policy')}', {options.get('scenarios')} activation "
            f"scenarios (seed {options.get('seed')}), up/down probability {options.get('up_probability')}/"
            f"{options.get('down_probability')}, activated fraction {options.get('activation_fraction')}. This is "
            f"{case}. Charge-only profit {result.charge_only_profit_eur:.4f} {result.currency}. Boundary reserve "
            f"price: closed form {_number(result.boundary_closed_form)}, optimization "
            f"{_number(result.boundary_optimization)} {result.currency}/(kW h). The verdicts (profitable or not) "
            f"agree at {result.agreement:.0%} of the {len(result.reserve_prices)} prices.")


def v2g_section(result) -> list:
    """The section's flowables."""
    out = [heading("V2G profitability under uncertain reserve activation"),
           paragraph("Each vehicle may sell a symmetric reserve band at the reserve price besides buying its energy; "
                     "the grid operator activates the band at random and the activated energy is settled at the "
                     "energy price. The model and its closed form are ecodec's own design [D] of the analysis of "
                     "Bianchi, Falsone and Vignali (IFAC 2023), whose text was not available beyond its abstract."),
           paragraph(verdict_text(result)),
           *figure(profit_figure(result), "Fleet expected profit against the reserve price: V2G with reserve "
                   "(sampled program), charge-only operation, the simplified case's closed form, and the boundary "
                   "prices above which V2G with reserve is more profitable.", "profit_vs_reserve_price"),
           heading("Grid of reserve prices", 1),
           table(grid_rows(result))]
    out += [paragraph(note) for note in result.notes]
    return out


def write_v2g_report(result, path: str | Path) -> Path:
    """The section as a PDF at ``path``."""
    return write_pdf(path, v2g_section(result), title=f"V2G profitability: {result.case}",
                     subject="V2G profitability under uncertain reserve activation", header=result.case)


__all__ = ["grid_rows", "profit_figure", "v2g_section", "verdict_text", "write_v2g_report"]
