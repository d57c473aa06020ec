"""The words every layer of ecodec agrees on: how a run ended, and the name of the reference method.

A solver reports one of the *solve statuses*, a distributed method one of the *run statuses*; a
:class:`~ecodec.results.RunResult` carries one of them in ``status`` and the report, the CLI and the tests read
them from here.  Keeping them on the ground floor lets the solvers, the methods and the report agree without
any of them importing another.

>>> from ecodec.vocabulary import OPTIMAL, CONVERGED, is_finished_well
>>> is_finished_well(OPTIMAL), is_finished_well(CONVERGED), is_finished_well("iteration_limit")
(True, True, False)
"""

from dataclasses import dataclass

#: How a solve of one model ended (HiGHS, Ipopt, a compiled subproblem)
OPTIMAL = "optimal"
TIME_LIMIT = "time_limit"
INFEASIBLE = "infeasible"
UNBOUNDED = "unbounded"
INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
ERROR = "error"

#: How a distributed run ended (the shared iteration loop)
CONVERGED = "converged"
ITERATION_LIMIT = "iteration_limit"
INTERRUPTED = "interrupted"
#: An online method that played every round of the case's horizon (it learns; it does not converge)
COMPLETED = "completed"

SOLVE_STATUSES = (OPTIMAL, TIME_LIMIT, INFEASIBLE, UNBOUNDED, INFEASIBLE_OR_UNBOUNDED, ERROR)
RUN_STATUSES = (CONVERGED, COMPLETED, ITERATION_LIMIT, INTERRUPTED, INFEASIBLE)

#: The sections a report can hold, in the order it prints them; a problem kind declares which of them apply
REPORT_SECTIONS = ("glance", "case", "convergence", "market", "learning", "online", "deployment", "dispatch", "storage", "grid",
                   "prices", "costs", "details")

#: The name of the centralized solve, the reference every distributed run is compared with
CENTRALIZED = "centralized"

#: What a saved run holds besides its CSV tables (``--results-format``, :func:`ecodec.results.save_run`): the
#: results workbook for people, Parquet tables for other programs, or both
RESULTS_FORMATS = ("xlsx", "parquet", "both")


@dataclass(frozen=True)
class KindWords:
    """A problem kind in words, for messages: the ``cases`` a method of the kind solves ('cases coupled through
    shared resources'), and what one ``case`` of it is ('its agents are coupled through shared resources')."""

    cases: str
    case: str


def is_finished_well(status: str) -> bool:
    """True for the statuses that mean the method reached what it aims at (an optimum, its own tolerances)."""
    return status in (OPTIMAL, CONVERGED, COMPLETED)
