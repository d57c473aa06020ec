"""The parts of the report drawn from what agents declare: outputs against their bands, schedules, shared assets.

Inside the "Dispatch" section, after the coupling resources:

* for every output that declares a band (:mod:`ecodec.report.band_figures`), a sub-heading '<label> against its
  band' with each agent's trajectory over its shaded band, runs side by side, and a table of each run's largest
  violation max_{a,k} max(lo_{a,k} - y_{a,k}, y_{a,k} - hi_{a,k}, 0) in the output's unit, with the agent and
  step where it occurs (0: every agent stays in its band);
* for every kind that declares schedules, a sub-heading '<kind>: <labels>' with each agent's schedule per run.

Inside "Costs per agent", when the reference recorded what the case costs without its shared assets
(``info["shared_assets"]``, :mod:`ecodec.study.shared_assets`): a sentence 'the shared storage saves X EUR (Y%)'
and a table of the cost with and without them.  Everything is read from the runs and the case summary.
"""

from __future__ import annotations

from ecodec.report.band_figures import (band_figure, declared_bands, declared_schedules, largest_violation,
                                        schedule_figure)
from ecodec.report.labels import humanize, quantity_label, with_unit
from ecodec.report.pdf import figure, heading, paragraph, table
from ecodec.results.case_summary import CaseSummary
from ecodec.results.run_result import RunResult

#: The key of the reference's ``info`` holding the value of the shared assets (as the study records it)
SHARED_ASSETS = "shared_assets"


def band_blocks(runs: list[RunResult], summary: CaseSummary | None, palette: dict | None = None) -> list:
    """Per banded output: its sub-heading, figure and violation table (see the module docstring)."""
    out = []
    solved = [run for run in runs if run.has_solution]
    for kind, quantity, lower, upper in declared_bands(summary):
        fig = band_figure(solved, summary, kind, quantity, (lower, upper), palette)
        if fig is None:
            continue
        label = quantity_label(quantity, [kind], summary)
        units = [run.dispatch.loc[run.dispatch["quantity"] == quantity, "unit"] for run in solved]
        unit = next((str(u.iloc[0]) for u in units if len(u)), "")
        rows = [["method", with_unit("largest violation", unit), "agent", "step"]]
        for run in solved:
            worst = largest_violation(run, summary, kind, quantity, (lower, upper))
            if worst is not None:
                value, agent, step = worst
                rows.append([run.method, f"{value:.3g}", agent or "-", str(step) if agent else "-"])
        out += [heading(f"{label[:1].upper()}{label[1:]} against its band", 1), *figure(fig, (
            f"{label[:1].upper()}{label[1:]} of the {humanize(kind)} agents at the end of each step against the band "
            f"{lower} .. {upper} each declares (shaded: grey when every agent has the same band, else in the agent's "
            "colour); one panel per run. Beyond 12 agents the 5 nearest to or furthest beyond their band are named "
            "and the others drawn as the range they span.")), table(rows),
            paragraph(f"largest violation: max over the agents and steps of max(lower - value, value - upper, 0), "
                      f"in {unit or 'the output unit'}; 0 when every agent stays in its band; agent and step: where it "
                      "occurs (steps numbered 1..T).", "caption")]
    return out


def schedule_blocks(runs: list[RunResult], summary: CaseSummary | None, palette: dict | None = None) -> list:
    """Per kind that declares schedules: its sub-heading and figure (see the module docstring)."""
    out = []
    for kind, quantities in declared_schedules(summary).items():
        fig = schedule_figure(runs, summary, kind, quantities, palette)
        if fig is None:
            continue
        words = " and ".join(quantity_label(q, [kind], summary) for q in quantities)
        title = humanize(kind)
        out += [heading(f"{title[:1].upper()}{title[1:]}: {words}", 1), *figure(fig, (
            f"{words[:1].upper()}{words[1:]} of each {title} agent over time, one row per quantity and one column "
            "per run (beyond 12 agents the 5 of largest energy by name, the others of the kind summed)."))]
    return out


def shared_asset_sentence(value: dict, currency: str) -> str:
    """What the shared assets save, in words, from the value the study recorded.

    >>> print(shared_asset_sentence({"words": "storage", "agents": ["tank"], "cost_with": 292.45,
    ...                              "cost_without": 300.62, "saving": 8.17, "saving_pct": 2.717}, "EUR"))
    ... # doctest: +NORMALIZE_WHITESPACE
    Without its shared storage (tank) the case costs 300.62 EUR instead of 292.45 EUR:
    the shared storage saves 8.17 EUR (2.7%).
    """
    words, agents = value["words"], ", ".join(value["agents"])
    verb = "save" if " and " in words else "saves"
    if value.get("cost_without") is None:
        return (f"Without its shared {words} ({agents}) the case has no solution ({value.get('status_without', '')}: "
                f"{value.get('message', '')}): the shared {words} {'make' if verb == 'save' else 'makes'} it feasible.")
    saving, share = value["saving"], value.get("saving_pct")
    share_text = f" ({share:.1f}%)" if share is not None else ""
    return (f"Without its shared {words} ({agents}) the case costs {value['cost_without']:,.2f} {currency} instead of "
            f"{value['cost_with']:,.2f} {currency}: the shared {words} {verb} {saving:,.2f} {currency}{share_text}.")


def shared_asset_blocks(reference: RunResult) -> list:
    """The sentence and table of the value of the shared assets, when the reference recorded it."""
    value = reference.info.get(SHARED_ASSETS)
    if not value:
        return []
    currency = reference.currency
    missing = value.get("cost_without") is None
    rows = [["shared asset", "agents", f"cost with [{currency}]", f"cost without [{currency}]",
             f"saving [{currency}]", "saving [%]"],
            [", ".join(humanize(kind) for kind in value["kinds"]), ", ".join(value["agents"]),
             f"{value['cost_with']:,.2f}", "no solution" if missing else f"{value['cost_without']:,.2f}",
             "-" if missing else f"{value['saving']:,.2f}",
             "-" if missing or value.get("saving_pct") is None else f"{value['saving_pct']:.1f}"]]
    return [heading(f"Value of the shared {value['words']}", 1),
            paragraph(shared_asset_sentence(value, currency)), table(rows, align_right_from=2),
            paragraph(f"cost without: the centralized optimum of the same case without the agents of the shared "
                      f"{value['words']} (the others unchanged); saving: cost without - cost with, and its share of "
                      "the cost without.", "caption")]


__all__ = ["SHARED_ASSETS", "band_blocks", "schedule_blocks", "shared_asset_blocks", "shared_asset_sentence"]
