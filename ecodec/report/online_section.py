"""The report's "Online sharing" section: what the online methods achieved over the seeds (the paper's Figures 4,
5, 7 and 8 and a KPI table), read from a :class:`~ecodec.results.SeedRuns` or, without one, from the runs' own
seed.  Nothing here computes a KPI: the means and bands are :class:`SeedRuns`'s.
"""

from __future__ import annotations

from ecodec.report import online_figures
from ecodec.report.pdf import figure, heading, paragraph, table
from ecodec.results.case_summary import CaseSummary
from ecodec.results.online_seeds import CONFIDENCE, SeedRuns, threshold_crossings


def online_section(runs: list, summary: CaseSummary | None, seeds: SeedRuns | None) -> list:
    """The section's flowables; empty when the runs are not of an online sharing case."""
    if not any("environment_seed" in run.info for run in runs):
        return []
    seeds = seeds if seeds is not None else SeedRuns.collect({int(runs[0].info["environment_seed"]): runs})
    count = len(seeds.seeds)
    over = (f"the mean over {count} seeds (each seed one draw of the environment, the same for every method) with "
            f"its {CONFIDENCE:.0%} confidence band" if count > 1 else f"one seed ({seeds.seeds[0]})")
    out = [paragraph(
        "Each round every prosumer node keeps part of its generation and sends the rest to its neighbours, learning "
        "from its neighbours' satisfaction alone (bandit feedback). Loss: the unserved share of demand each node "
        "observes in its neighbourhood, summed over the nodes; dynamic regret: the cumulative loss minus that of "
        "the best allocation of every round in hindsight (the comparator); violation: what the nodes sent beyond "
        f"their generation. Curves and table show {over}.")]
    rows = [["method", "seeds", "cumulative loss", "dynamic regret", "violation [kW, summed]",
             "regret / t at T/4, T/2, T"]]
    for row in seeds.summary().to_dict("records"):
        rows.append([row["method"], str(row["seeds"]),
                     f"{row['cumulative_loss']:,.1f} ± {row['cumulative_loss_ci']:,.1f}",
                     f"{row['dynamic_regret']:,.1f} ± {row['dynamic_regret_ci']:,.1f}",
                     f"{row['cumulative_violation']:,.0f} ± {row['cumulative_violation_ci']:,.0f}",
                     f"{row['regret_per_round_quarter']:.3f}, {row['regret_per_round_half']:.3f}, "
                     f"{row['regret_per_round_end']:.3f}"])
    out += [table(rows, align_right_from=1),
            paragraph("± : half-width of the confidence interval of the mean over the seeds (Student t). Regret per "
                      "round falling over the horizon is the sublinear regret online learning aims at.", "caption")]
    curves = online_figures.online_curves_figure(seeds, runs)
    if curves is not None:
        out += figure(curves, "Cumulative loss, dynamic regret and cumulative hard-constraint violation per round: "
                              "the mean over the seeds of each method, its band shaded; dashed: the comparator.")
    levels = online_figures.energy_level_figure(seeds)
    if levels is not None:
        out += [heading("Energy levels per node", 1),
                *figure(levels, "Energy over demand across the horizon, per node: before sharing (its own "
                                "generation) and after it under each method (what it received); dashed: 1.0, the "
                                "demand met.")]
        mean = seeds.mean_levels()
        for method in dict.fromkeys(mean["method"]):
            crossed, raised = threshold_crossings(mean, method)
            if crossed or raised:
                out.append(paragraph(
                    f"{method}: " + (f"{', '.join(crossed)} move from below to above 1.0" if crossed else
                                     "no node moves from below to above 1.0")
                    + (f"; {', '.join(raised)} stay below 1.0" if raised else "") + ".", "body"))
    if summary is not None:
        network = online_figures.sharing_network_figure(summary, seeds)
        if network is not None:
            out += [heading("Surplus and shortage nodes", 1),
                    *figure(network, "The energy-exchange network (also the communication graph): green nodes "
                                     "generate at least their demand over the horizon, red ones less; each label "
                                     "gives the node's level before sharing.")]
    return out


__all__ = ["online_section"]
