"""The PDF report: centralized and distributed runs of one case, the way users hand them to colleagues.

:func:`write_report` turns saved or fresh results (RunResults, their :class:`~ecodec.results.Comparison`, the
:class:`~ecodec.results.CaseSummary`) into one A4 document:

=============================  ==================================================================================
section                        content (left out when the results hold nothing for it)
=============================  ==================================================================================
title page                     case, horizon, agents, methods; input files with SHA-256, each run's start and
                               wall time, machine, software versions, options of every run (title_page.py)
Contents                       the sections below with page numbers (also as PDF bookmarks)
Results at a glance            KPI tables (the comparison's numbers, printed by the CLI's formatter) and a
                               plain-language note for every run that did not converge or stopped early
The case                       agents by kind with their parameters, coupling resources (if any), network
Convergence                    cost gap, coupling violation, decision distance (log scales), bounds if any,
                               the consensus error of the agents' copies when a method records one
Market                         a market case: bids, fractions sold, energy shares, payments and revenues per
                               agent and run, and the distributed decisions per iteration
Learning                       runs that learn their gradients (DELTA): distance to the optimum, consensus error
                               and learning error per iteration, and their values at the snapshot iterations
Online sharing                 an online sharing case: loss, regret and violation over the seeds with confidence
                               bands, energy levels per node before and after sharing, surplus and shortage nodes
Deployment                     a deployment case: the agents over the target density at the kept iterations, the
                               reference's end, the divergence and stationarity per iteration
Dispatch                       per coupling resource, contributions stacked by agent, runs side by side; every
                               output that declares a band against it, with each run's largest violation, and
                               the declared schedules per agent (declared_section.py)
Stored energy                  energy states (kWh) of storage agents per run
Grid exchange                  import and export of the grid agents per run
Coupling prices                dual prices of the reference and the distributed estimates over time
Costs per agent                bar chart and table, with each run's difference to the reference; what the
                               shared assets save (the case solved without them), when the reference recorded it
Run details                    how each run ended, timings, messages, warnings
=============================  ==================================================================================

Nothing here computes a KPI: the numbers come from the comparison rows (:mod:`ecodec.results.kpi`) and are
printed by :func:`ecodec.results.comparison.format_cell`, so the report, the terminal table and the JSON output
agree digit for digit.  The document is written atomically: an existing report is replaced only by a whole one.
:func:`report_story` is the one list of flowables both the document and :func:`ecodec.report.export_figures`
(every figure as its own file) are made from.  Sections follow each other on a page when there is room
(:func:`~ecodec.report.pdf.section_break`; the layout rules are in :mod:`ecodec.report.pdf`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import PageBreak

from ecodec.errors import EcodecError
from ecodec.report import dispatch_figures, figures, market_figures
from ecodec.report.declared_section import band_blocks, schedule_blocks, shared_asset_blocks
from ecodec.report.deployment_section import deployment_section
from ecodec.report.learning_section import learning_section
from ecodec.report.online_section import online_section
from ecodec.report.pdf import (FRAME_WIDTH, figure, heading, paragraph, section_break, table, table_of_contents,
                               write_pdf)
from ecodec.report.run_notes import run_note, run_sentence
from ecodec.report.tables import parameter_tables, value_text
from ecodec.report.title_page import title_page
from ecodec.results import kpi
from ecodec.results.case_summary import CaseSummary
from ecodec.results.comparison import Comparison, column_headers, format_cell
from ecodec.results.online_seeds import SeedRuns
from ecodec.results.run_result import RunResult
from ecodec.vocabulary import OPTIMAL, REPORT_SECTIONS

log = logging.getLogger(__name__)

SECTION_TITLES = ("Results at a glance", "The case", "Convergence", "Market", "Learning", "Online sharing", "Deployment",
                  "Dispatch", "Stored energy", "Grid exchange", "Coupling prices", "Costs per agent", "Run details")
QUALITY_COLUMNS = ("method", "status", "objective", "cost_gap", "max_violation", "rms_violation", "rel_violation",
                   "distance")
EFFORT_COLUMNS = ("method", "iterations", "iterations_to_1pct", "iterations_to_0.1pct", "wall_time_s", "messages")
BOUND_COLUMNS = ("method", "objective", "lower_bound", "gap_to_bound")


def write_report(path: str | Path, runs: list[RunResult], comparison: Comparison,
                 summary: CaseSummary | None = None, seeds: SeedRuns | None = None) -> Path:
    """Write the report of ``runs`` (the reference first, as in ``comparison``) to ``path`` (.pdf); returns it.

    ``summary`` adds the agents, their parameters and the network drawing; without it the case section lists
    only what the runs themselves hold.  ``seeds``: the curves and levels of an online sharing comparison over
    several seeds (without them, the online section shows the runs' own seed).  Raises EcodecError for a path that is not a .pdf or cannot be written,
    and for runs that do not match the comparison.
    """
    story = report_story(runs, comparison, summary, seeds)
    path = write_pdf(path, story, title=f"ecodec report: {comparison.case_name}",
                     subject="centralized and distributed solutions compared",
                     header=f"ecodec report  |  case {comparison.case_name}")
    log.info("wrote the report of case %s (%d runs) to %s", comparison.case_name, len(runs), path)
    return path


def report_story(runs: list[RunResult], comparison: Comparison, summary: CaseSummary | None = None,
                 seeds: SeedRuns | None = None) -> list:
    """The flowables of the report (title page, contents, the numbered sections); :func:`write_report` lays them
    out and :func:`ecodec.report.export.export_figures` takes the figures from them.  Raises EcodecError for runs
    that do not match the comparison or a summary of another case."""
    if [run.method for run in runs] != [row["method"] for row in comparison.rows]:
        raise EcodecError(f"the runs ({', '.join(r.method for r in runs)}) are not those of the comparison "
                          f"({', '.join(str(row['method']) for row in comparison.rows)}), in the same order")
    if summary is not None and summary.case != comparison.case_name:
        raise EcodecError(f"the case summary is of case {summary.case}, the runs of case {comparison.case_name}")
    return _Story(runs, comparison, summary, seeds).build()


class _Story:
    """The flowables of the report, section by section; empty sections are dropped and the rest numbered."""

    def __init__(self, runs: list[RunResult], comparison: Comparison, summary: CaseSummary | None,
                 seeds: SeedRuns | None = None):
        self.runs, self.comparison, self.summary = runs, comparison, summary
        self.seeds = seeds
        self.solved = [run for run in runs if run.has_solution]
        self.coupled = bool(summary.resources) if summary is not None else any(
            not run.coupling.empty for run in self.solved)  # whether the problem has coupling rows
        self.currency = comparison.currency
        agents = list(dict.fromkeys(a for run in self.solved for a in run.agent_costs["agent"]))
        kinds = list(dict.fromkeys(k for run in self.solved for k in run.agent_costs["kind"]))
        self.palette = figures.agent_colors(agents + kinds)

    def build(self) -> list:
        story = title_page(self.runs, self.comparison, self.summary)
        story += [PageBreak(), paragraph("Contents", "h1"), table_of_contents(), PageBreak()]
        declared = self.summary.report_sections if self.summary is not None else ()
        number = 0
        for key, title in zip(REPORT_SECTIONS, SECTION_TITLES):
            if declared and key not in declared:  # the problem kind says the section does not apply
                continue
            body = getattr(self, key)()
            if not body:
                log.debug("report: no '%s' section (nothing to show)", title)
                continue
            number += 1
            story += [heading(f"{number}  {title}"), *body, section_break()]
        return story[:-1]

    # -- sections --------------------------------------------------------------------------------------------
    def glance(self) -> list:
        rows = self.comparison.rows
        reference = rows[0]
        what = "optimum" if reference["status"] == OPTIMAL else f"solution ({reference['status']})"
        out = [paragraph(f"Each method is compared with the {reference['method']} {what} of "
                         f"{format_cell(reference, 'objective')} {self.currency}.")]
        out += [paragraph(run_sentence(row, self.currency, self.coupled), "body") for row in rows[1:]]
        headers = column_headers(self.currency)
        tables = [("Cost and feasibility", QUALITY_COLUMNS), ("Effort", EFFORT_COLUMNS)]
        bounded = any(row["lower_bound"] is not None for row in rows[1:]) or (
            rows[0]["lower_bound"] is not None and self.runs[0].info.get("problem_class") == "MILP")
        if bounded:  # a MILP or a method that certifies its cost: show how close each run is proven to be
            tables.append(("Bounds", BOUND_COLUMNS))
        for title, columns in tables:
            cells = [[headers[c] for c in columns]] + [[format_cell(row, c) for c in columns] for row in rows]
            out += [paragraph(title, "h2"), table(cells, align_right_from=2 if "status" in columns else 1)]
        if bounded:
            out.append(paragraph("bound: the lower bound on the optimal cost each run proves itself (the MILP "
                                 "solver's dual bound, a dual function value); gap to bound: (f - B) / |f| with B the "
                                 "best of these bounds, how far each cost can at most be from the optimum.",
                                 "caption"))
        out.append(paragraph(
            "cost gap: |f - f*| / |f*| against the reference cost f*; max and RMS viol.: largest and root-mean-square "
            "residual of the coupling rows, each in its own unit; rel. viol.: largest residual of a resource over "
            "its scale (its peak right-hand side, or the largest flow one agent can put through a balance whose "
            "right-hand side is 0); distance: ||x - x*|| / ||x*|| over all reported decisions; to 1% and to "
            "0.1%: the iteration from which both cost gap and rel. viol. stay at or below that tolerance to the "
            "end of the run ('> N': not reached in the N iterations run); messages: messages the agents sent.", "caption"))
        for run, row in zip(self.runs, rows):
            note = run_note(run, row, self.currency)
            if note:
                out.append(paragraph(note, "note", markup=True))
        return out

    def case(self) -> list:
        out = []
        if self.summary is not None:
            s = self.summary
            out.append(paragraph(f"Case {s.case}: {len(s.agents)} agents over {s.T} steps of {s.step_h:g} h; costs "
                                 f"in {s.currency}. Time series are shown as their range and mean over the horizon."))
            for kind in s.kinds():
                agents = s.agents_of(kind)
                integer = sum(a["mixed_integer"] for a in agents)
                out.append(heading(f"{kind} agents ({len(agents)})", 1))
                if integer:
                    out.append(paragraph(f"{integer} of them with integer decisions (mixed-integer subproblems).",
                                         "small"))
                out += parameter_tables(agents)
        if self._resource_rows()[1:]:
            out.append(heading("Coupling resources", 1))
            out.append(table(self._resource_rows()))
            out.append(paragraph("sense: how the sum of the agents' contributions must meet the right-hand side (== a "
                             "balance, band: between a lower and an upper end); scale: what its relative violation is "
                                 "measured against: the largest |right-hand side|, or for a balance whose right-hand "
                                 "side is 0 the largest flow one agent can put through it.", "caption"))
        if self.summary is not None:
            out += [heading("Communication network", 1),
                    *figure(figures.network_figure(self.summary), f"Communication graph: "
                           f"{self.summary.network['description']}. Agents exchange messages only along its edges.")]
        return out

    def _resource_rows(self) -> list[list[str]]:
        worst = {run.method: kpi.max_violation_by_resource(run.coupling) for run in self.solved}
        rows = [["resource", "unit", "sense", "scale"] + [f"max |residual| {m}" for m in worst]]
        if self.summary is not None:  # a summary saved before the scale was recorded has its peak only
            described = [(r["name"], r["unit"], r["sense"], f"{r.get('scale', r['peak']):.4g}")
                         for r in self.summary.resources]
        else:
            first = self.solved[0].coupling.drop_duplicates("resource")
            described = [(name, unit, "", "") for name, unit in zip(first["resource"], first["unit"])]
        for name, unit, sense, peak in described:
            rows.append([name, unit, sense, peak] + [f"{worst[m].get(name, 0.0):.2e}" for m in worst])
        return rows

    def convergence(self) -> list:
        fig = figures.convergence_figure(self.runs)
        if fig is None:
            return []
        return [paragraph("How the distributed methods approached the reference, iteration by iteration. A gap in "
                          "a line is an exact zero, which a log scale cannot show."),
                *figure(fig, "Convergence per iteration: relative cost gap to the reference, "
                       + ("relative coupling violation " if self.coupled else "")
                       + "and relative distance of the decisions"
                       + ("" if self.coupled else ", and the agents' largest tracking error of the aggregates")
                       + (", and the consensus error a method records (for copies of shared variables: the "
                          "largest distance of an agent's copy to their average, relative)" if any(
                              "consensus_error" in run.history.columns for run in self.runs) else "")
                       + ". Dashed: the stopping tolerances; dotted vertical: a change of the method's phase (e.g. "
                       "the mixed-integer recovery).")]

    def market(self) -> list:
        fig = market_figures.market_figure(self.runs)
        if fig is None:
            return []
        tables = [kpi.market_summary(run.dispatch).set_index("agent") for run in self.solved]
        rows = [["agent", "quantity"] + [run.method for run in self.solved]]
        for agent in tables[0].index:
            for quantity in kpi.MARKET_QUANTITIES:
                values = [t.at[agent, quantity] if agent in t.index else float("nan") for t in tables]
                if values[0] == values[0]:
                    rows.append([agent, quantity.replace("_", " ")] + [f"{v:,.4f}" for v in values])
        out = [paragraph("What each agent of the market decided and received: buyers bid a unit price and receive "
                         "energy in proportion to their bid; sellers sell a fraction of their excess and are paid in "
                         "proportion to what they sell. Shortfall: demand minus energy received (negative: more "
                         "than the demand)."),
               *figure(fig, "Per agent and run: bid, fraction of the excess sold, energy, payment and revenue "
                            "(bids and fractions averaged over the steps, the rest summed).", "per_agent"),
               table(rows)]
        trajectories = market_figures.decision_trajectory_figure(self.runs)
        if trajectories is not None:
            out += figure(trajectories, f"Decisions per iteration (log scale) of each distributed run, one colour "
                                        f"per agent; dashed: the decisions of {self.solved[0].method}.",
                              "decisions_per_iteration")
        return out

    def learning(self) -> list:
        return learning_section(self.runs)

    def online(self) -> list:
        return online_section(self.runs, self.summary, self.seeds)

    def deployment(self) -> list:
        return deployment_section(self.runs)

    def dispatch(self) -> list:
        out = []
        resources = list(dict.fromkeys(r for run in self.solved for r in run.coupling["resource"]))
        for resource in resources:
            fig = dispatch_figures.resource_dispatch_figure(self.runs, resource, self.palette, self.summary)
            if fig is None:
                continue
            _, by_kind = dispatch_figures.contributors(self.solved, resource)
            out += [heading(figures.resource_label(resource, self.summary), 1), *figure(fig, (
                f"{figures.resource_label(resource, self.summary)}: "
                + ("the largest contributors by energy and the rest of each kind ('other <kind> (number of agents)')"
                   if by_kind else "each agent's contribution")
                + " stacked (supply up, consumption down), the net sum (black) and the limits the row sets (red, "
                "dashed: required net supply, or its minimum and maximum, or a connection limit); one panel per "
                "run."))]
        return out + band_blocks(self.runs, self.summary, self.palette) + schedule_blocks(self.runs, self.summary,
                                                                                          self.palette)

    def storage(self) -> list:
        fig = dispatch_figures.storage_energy_figure(self.runs, self.palette, self.summary)
        if fig is None:
            return []
        styles = ", ".join(f"{run.method}: {style}" for run, style in zip(
            self.solved, ("solid", "dashed", "dotted", "dash-dotted")))
        return [*figure(fig, f"Stored energy at the end of each step; one colour per agent (their total per kind "
                            f"when there are more than {dispatch_figures.MAX_LINES}), one line style per run "
                            f"({styles}).")]

    def grid(self) -> list:
        grid_agents = list(dict.fromkeys(  # the agents that import and export (the grid connections)
            a for run in self.solved for a in run.dispatch.loc[run.dispatch["quantity"] == "p_import", "agent"]))
        fig = dispatch_figures.grid_exchange_figure(self.runs, grid_agents, "p_import", "p_export",
                                                   summary=self.summary)
        if fig is None:
            return []
        energy = []
        for run in self.solved:
            imported = sum(kpi.energy_by_agent(run.dispatch, "p_import", run.step_h).get(a, 0.0) for a in grid_agents)
            exported = sum(kpi.energy_by_agent(run.dispatch, "p_export", run.step_h).get(a, 0.0) for a in grid_agents)
            energy.append([run.method, f"{imported:,.1f}", f"{exported:,.1f}"])
        return [*figure(fig, "Power drawn from (up) and fed into (down) the main grid, per run."),
                table([["method", "imported [kWh]", "exported [kWh]"]] + energy)]

    def prices(self) -> list:
        fig = figures.price_figure(self.runs, self.summary)
        if fig is None:
            return []
        return [paragraph("The price of each coupling resource over time: for the reference the dual value of its "
                          "row (the cost of one more unit of demand), for a distributed method its own estimate. A "
                          "mixed-integer reference has no dual prices."),
                *figure(fig, figures.price_caption())]

    def costs(self) -> list:
        fig = figures.agent_cost_figure(self.runs)
        reference = self.solved[0]
        by_kind = len(reference.agent_costs) > figures.MAX_AGENT_BARS
        header = ["kind" if by_kind else "agent"] + [f"{run.method} [{self.currency}]" for run in self.solved]
        header += [f"{run.method} - {reference.method}" for run in self.solved[1:]]
        values = [kpi.total_cost_by_kind(run.agent_costs) if by_kind else
                  dict(zip(run.agent_costs["agent"], run.agent_costs["cost"].astype(float))) for run in self.solved]
        rows = [header]
        for name in values[0]:
            costs = [v.get(name, 0.0) for v in values]
            rows.append([name] + [f"{c:,.2f}" for c in costs] + [f"{c - costs[0]:+,.2f}" for c in costs[1:]])
        totals = [float(run.objective) for run in self.solved]
        rows.append(["total"] + [f"{c:,.2f}" for c in totals] + [f"{c - totals[0]:+,.2f}" for c in totals[1:]])
        return [*figure(fig, figures.agent_cost_caption(self.runs)), table(rows), *shared_asset_blocks(reference)]

    def details(self) -> list:
        out = []
        for run in self.runs:
            info = run.info
            rows = [["status", run.status], ["how it ended", str(info.get("message", ""))]]
            for key, label in (("problem_class", "problem class"), ("solver", "solver"), ("runtime", "runtime"),
                               ("network", "network"), ("iterations", "iterations"), ("messages", "messages sent"),
                               ("floats_sent", "floats sent"), ("setup_time_s", "setup time [s]"),
                               ("build_time_s", "model build time [s]"), ("solve_time_s", "solver time [s]"),
                               ("wall_time_s", "wall time [s]"), ("objective_bound", f"bound [{self.currency}]"),
                               ("mip_gap", "MIP gap")):
                if info.get(key) is not None:
                    rows.append([label, value_text(info[key])])
            for warning in info.get("warnings", []):
                rows.append(["warning", str(warning)])
            out += [heading(run.method, 1), table(rows, [45 * mm, FRAME_WIDTH - 45 * mm], wrap=True, header=False)]
        return out
