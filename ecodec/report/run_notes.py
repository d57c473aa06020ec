"""Plain-language text about a run for the report: one sentence per method, and a note when a run did not
converge, stopped early, has no solution or left warnings.

The numbers are those of the comparison row (computed once by :mod:`ecodec.results.kpi`) printed with
:func:`~ecodec.results.comparison.format_cell`; the only thing read here from the run's tables is where its
largest residual sits, to tell the reader which resource and hour to look at.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from ecodec.results.comparison import format_cell
from ecodec.results.run_result import RunResult
from ecodec.vocabulary import COMPLETED, CONVERGED, INTERRUPTED, ITERATION_LIMIT, OPTIMAL, TIME_LIMIT



def run_sentence(row: dict, currency: str, coupled: bool = True) -> str:
    """One sentence on a distributed run: how it ended, its cost against the reference, feasibility (``coupled``:
    the case has coupling rows; a market has none), effort."""
    method, status = row["method"], row["status"]
    ending = {CONVERGED: "converged", COMPLETED: "played every round", ITERATION_LIMIT: "stopped at its iteration limit",
              INTERRUPTED: "was interrupted"}.get(str(status), f"ended with status '{status}'")
    if row["objective"] is None:
        return f"{method} {ending} after {row['iterations']} iterations without a solution."
    return (f"{method} {ending} after {format_cell(row, 'iterations')} iterations with a cost of "
            f"{format_cell(row, 'objective')} {currency} (cost gap {format_cell(row, 'cost_gap')}), "
            + (f"a relative coupling violation of {format_cell(row, 'rel_violation')} and " if coupled else
               f"a relative distance of its decisions of {format_cell(row, 'distance')} and ")
            + f"{format_cell(row, 'messages')} messages in {format_cell(row, 'wall_time_s')} s.")


def run_note(run: RunResult, row: dict, currency: str) -> str | None:
    """The note printed under the KPI tables for ``run`` (its comparison ``row``), or None when all went well:
    ReportLab paragraph markup, every text taken from the run escaped."""
    method, status, info = run.method, run.status, run.info
    stopping = info.get("stopping", {})
    parts = []
    if not run.has_solution:
        parts.append(f"<b>{method} has no solution</b> ({status}): {escape(str(info.get('message', '')))}. "
                     "Its KPIs are n/a.")
    elif status == ITERATION_LIMIT and "rel_step" in run.history.columns:  # a fixed-point method's own rule
        last = run.history.iloc[-1]
        parts.append(f"<b>{method} stopped at its iteration limit</b> of {format_cell(row, 'iterations')} iterations "
                     f"before meeting its stopping rule: relative change of the decisions {last['rel_step']:.2e} and "
                     f"tracking error of the aggregates {last['tracking_error_sigma']:.2e} (step_tol "
                     f"{info.get('options', {}).get('step_tol', float('nan')):g}).")
        parts.append("Allow more iterations (--max-iterations) or tune the method's options to go further.")
    elif status == ITERATION_LIMIT:
        parts.append(f"<b>{method} stopped at its iteration limit</b> of {format_cell(row, 'iterations')} iterations "
                     f"before meeting its stopping tolerances: relative coupling violation "
                     f"{format_cell(row, 'rel_violation')}{_tolerance(stopping, 'violation_tol')} and cost gap "
                     f"{format_cell(row, 'cost_gap')}{_tolerance(stopping, 'cost_gap_tol')}.")
        parts.append(_last_iterate(run))
        parts.append("Allow more iterations (--max-iterations) or tune the method's options to go further.")
    elif status == INTERRUPTED:
        parts.append(f"<b>{method} was stopped early</b>: interrupted by the user after "
                     f"{format_cell(row, 'iterations')} iterations.")
        parts.append(_last_iterate(run))
    elif status == TIME_LIMIT:
        gap = info.get("mip_gap")
        parts.append(f"<b>{method} stopped at its time limit</b>: its cost {format_cell(row, 'objective')} {currency} "
                     f"is the best solution found, not a proven optimum"
                     + (f" (the solver's own gap to its bound is {gap:.2e})." if gap is not None else "."))
    elif status == CONVERGED and row["cost_gap"] is not None and row["cost_gap"] > stopping.get("cost_gap_tol", 0.0):
        parts.append(f"<b>{method} stopped once its decisions met the coupling tolerance</b>: its cost gap "
                     f"{format_cell(row, 'cost_gap')} is above the cost tolerance"
                     f"{_tolerance(stopping, 'cost_gap_tol')[:-1].replace(' (tolerance', '')}.")
        if info.get("problem_class") == "MILP":
            parts.append("With mixed-integer agents the method is a heuristic: its schedule is feasible for the "
                         "coupling constraints but need not be optimal.")
    elif status not in (CONVERGED, COMPLETED, OPTIMAL):
        parts.append(f"<b>{method} ended with status '{status}'</b>: {escape(str(info.get('message', '')))}.")
    warnings = list(info.get("warnings", []))
    if warnings:
        parts.append("Warnings: " + escape(" ".join(map(str, warnings))))
    return " ".join(p for p in parts if p) or None


def _tolerance(stopping: dict, key: str) -> str:
    return f" (tolerance {stopping[key]:g})" if key in stopping else ""


def _last_iterate(run: RunResult) -> str:
    """Where the last iterate violates the coupling most: resource, unit, hour."""
    coupling = run.coupling
    if coupling.empty:
        return ""
    worst = coupling.iloc[int(np.argmax(np.abs(coupling["residual"].to_numpy(dtype=float))))]
    if worst["residual"] == 0:
        return "Its last iterate satisfies every coupling row."
    hour = (int(worst["t"]) - 1) * run.step_h
    return (f"All figures show its last iterate, which does not yet meet the coupling constraints: the largest "
            f"residual is {worst['residual']:+.3g} {worst['unit']} on {escape(str(worst['resource']))} in step "
            f"{int(worst['t'])} (hour {hour:g}).")
