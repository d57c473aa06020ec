"""Solve a Pyomo model with HiGHS (through Pyomo's ``pyomo.contrib.solver`` HiGHS interface).

Returns a :class:`SolverOutcome` whatever happens: a clear status, the objective and HiGHS's own bound and
MIP gap when there are any, and the duals of the requested constraints when the model is an LP solved to
optimality (duals follow d objective / d right-hand side: a positive price on a balance row means that one
more unit of load costs that much more).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from ecodec.errors import SolveError
from ecodec.versions import highs_version
from ecodec.vocabulary import ERROR, INFEASIBLE, INFEASIBLE_OR_UNBOUNDED, OPTIMAL, TIME_LIMIT, UNBOUNDED

log = logging.getLogger(__name__)

_STATUS = {
    TerminationCondition.convergenceCriteriaSatisfied: OPTIMAL,
    TerminationCondition.maxTimeLimit: TIME_LIMIT,
    TerminationCondition.iterationLimit: TIME_LIMIT,
    TerminationCondition.provenInfeasible: INFEASIBLE,
    TerminationCondition.locallyInfeasible: INFEASIBLE,
    TerminationCondition.unbounded: UNBOUNDED,
    TerminationCondition.infeasibleOrUnbounded: INFEASIBLE_OR_UNBOUNDED,
}


def silent_highs() -> highspy.Highs:
    """A new HiGHS instance that prints nothing.  The first one a process makes prints HiGHS's banner on the
    standard output before any option can be set; that would corrupt ``--json`` output, so its file descriptor 1
    is pointed at the null device while it is made (later instances print no banner)."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


_BANNER_SHOWN = False


@dataclass
class SolverOutcome:
    status: str
    has_solution: bool
    objective: float | None
    objective_bound: float | None
    mip_gap: float | None
    solve_time_s: float
    solver: str
    duals: dict = field(default_factory=dict)


def solve_with_highs(model: pyo.ConcreteModel, *, time_limit_s: float | None = None,
                     mip_rel_gap: float | None = None, duals_of=None) -> SolverOutcome:
    """Solve ``model``; load the solution into it when there is one; duals of ``duals_of`` for optimal LPs."""
    solver = Highs()
    if not solver.available():
        raise SolveError("HiGHS is not available: reinstall ecodec's dependencies (pip install highspy)")
    options: dict = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    if mip_rel_gap is not None:
        options["rel_gap"] = float(mip_rel_gap)
    started = time.perf_counter()
    try:
        results = solver.solve(model, **options)
    except Exception as exc:  # HiGHS or the Pyomo interface failed outright
        raise SolveError(f"HiGHS failed on '{model.name}': {type(exc).__name__}: {exc}") from None
    elapsed = time.perf_counter() - started
    status = _STATUS.get(results.termination_condition, ERROR)
    has_solution = results.incumbent_objective is not None and status in (OPTIMAL, TIME_LIMIT)
    outcome = SolverOutcome(
        status=status, has_solution=has_solution,
        objective=results.incumbent_objective if has_solution else None,
        objective_bound=finite_or_none(results.objective_bound), mip_gap=None, solve_time_s=elapsed,
        solver=f"HiGHS {highs_version()}")
    if has_solution:
        try:
            results.solution_loader.load_vars()
            if duals_of is not None and status == OPTIMAL and not has_integers(model):
                outcome.duals = results.solution_loader.get_duals(list(duals_of))
        except Exception as exc:  # noqa: BLE001 - a solution HiGHS reports but cannot hand back in full
            raise SolveError(f"HiGHS reported a solution of '{model.name}' it cannot hand back "
                             f"({type(exc).__name__}: {exc}); the model's numbers are probably beyond what it handles "
                             "reliably") from None
        if outcome.objective_bound is not None and outcome.objective is not None:
            outcome.mip_gap = abs(outcome.objective - outcome.objective_bound) / max(1e-10, abs(outcome.objective))
    log.info("HiGHS: %s in %.3f s, objective %s", status, elapsed, outcome.objective)
    return outcome


def finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if abs(value) != float("inf") else None


def has_integers(model: pyo.ConcreteModel) -> bool:
    return any(v.is_integer() or v.is_binary() for v in model.component_data_objects(pyo.Var, active=True)
               if not v.fixed)
