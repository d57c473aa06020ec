"""Solve a Pyomo model with any solver Pyomo's (legacy) ``SolverFactory`` knows: GLPK, CBC, CPLEX, Gurobi, SCIP...

The centralized solve takes this path for every ``solver`` other than ``auto``, ``highs`` and ``ipopt`` (which
keep ecodec's own HiGHS and Ipopt paths); the distributed methods never take it (their subproblems keep the
compiled HiGHS path).  :func:`solve_with_pyomo` returns the same :class:`~ecodec.solvers.highs.SolverOutcome`
as :func:`~ecodec.solvers.highs.solve_with_highs`: a status in ecodec's words, the objective, the bound and MIP
gap when the solver reports a bound, and for an LP solved to optimality the duals of the requested constraints
read through an imported ``dual`` suffix (d objective / d right-hand side, HiGHS's convention) when the solver
supports it (GLPK, CBC, CPLEX, Gurobi do for LPs); a solver that cannot return them leaves ``duals`` empty.

The time limit and MIP gap are passed under each solver's own option names (:data:`LIMIT_OPTIONS`):

============================  ========================  ==========================
solver (Pyomo name)           time limit                relative MIP gap
============================  ========================  ==========================
glpk                          ``tmlim`` (whole s)       ``mipgap``
cbc                           ``seconds``               ``ratioGap``
gurobi, gurobi_direct, ...    ``TimeLimit``             ``MIPGap``
cplex, cplex_direct, ...      ``timelimit``             ``mip_tolerances_mipgap``
scip, scip_direct, ...        ``limits/time``           ``limits/gap``
============================  ========================  ==========================

For any other solver they are not passed, with a warning saying so.  GLPK reports neither a MIP bound nor
whether it stopped at its time limit or its gap: a feasible (not proven optimal) solution counts as stopped at
the time limit when the solve took at least the limit, else as optimal within the MIP gap.

:func:`solver_problem` says in one line why a name cannot be used (unknown to Pyomo, or known but not installed
here, with how to install it and which of the common solvers are available).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import shutil
import time
import warnings

import pyomo.environ as pyo
from pyomo.opt import SolverFactory, TerminationCondition

from ecodec.errors import SolveError
from ecodec.solvers.highs import SolverOutcome, finite_or_none, has_integers
from ecodec.vocabulary import ERROR, INFEASIBLE, INFEASIBLE_OR_UNBOUNDED, OPTIMAL, TIME_LIMIT, UNBOUNDED

log = logging.getLogger(__name__)

#: How each legacy termination condition reads in ecodec's words (``feasible``: see the module docstring)
_STATUS = {
    TerminationCondition.optimal: OPTIMAL,
    TerminationCondition.globallyOptimal: OPTIMAL,
    TerminationCondition.locallyOptimal: OPTIMAL,
    TerminationCondition.maxTimeLimit: TIME_LIMIT,
    TerminationCondition.maxIterations: TIME_LIMIT,
    TerminationCondition.maxEvaluations: TIME_LIMIT,
    TerminationCondition.minStepLength: TIME_LIMIT,
    TerminationCondition.minFunctionValue: TIME_LIMIT,
    TerminationCondition.infeasible: INFEASIBLE,
    TerminationCondition.unbounded: UNBOUNDED,
    TerminationCondition.infeasibleOrUnbounded: INFEASIBLE_OR_UNBOUNDED,
}

#: The option names of the time limit and the relative MIP gap, by solver (the Pyomo name's family)
LIMIT_OPTIONS = {
    "glpk": ("tmlim", "mipgap"),
    "cbc": ("seconds", "ratioGap"),
    "gurobi": ("TimeLimit", "MIPGap"),
    "cplex": ("timelimit", "mip_tolerances_mipgap"),
    "scip": ("limits/time", "limits/gap"),
}

#: How to install the common solvers (shown when one is asked for but not available here)
INSTALL_HINTS = {
    "glpk": "apt install glpk-utils (make setup installs it on Debian/Ubuntu)",
    "cbc": "apt install coinor-cbc",
    "gurobi": "pip install gurobipy (solver 'gurobi_direct') or Gurobi's gurobi.sh on PATH, with a Gurobi licence",
    "cplex": "pip install cplex (solver 'cplex_direct') or the cplex executable on PATH",
    "scip": "pip install pyscipopt (solver 'scip_direct') or the scip executable on PATH",
    "xpress": "pip install xpress (solver 'xpress_direct')",
    "mosek": "pip install mosek (solver 'mosek_direct')",
    "baron": "install BARON (minlp.com) with its licence, the baron executable on PATH",
}

#: The solvers :func:`solver_problem` lists as available or not when a name cannot be used
COMMON = ("glpk", "cbc", "gurobi_direct", "cplex_direct", "scip", "xpress_direct", "mosek_direct")


def family(name: str) -> str:
    """'gurobi' for 'gurobi_direct', 'gurobi_persistent', 'appsi_gurobi'...: the key of the tables above."""
    for key in LIMIT_OPTIONS.keys() | INSTALL_HINTS.keys():
        if key in name.lower():
            return key
    return name.lower()


@contextlib.contextmanager
def _quiet():
    """Pyomo logs a warning (some with a traceback) for every solver it cannot find: the caller says it once."""
    logger = logging.getLogger("pyomo")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def known(name: str) -> bool:
    """Whether Pyomo's SolverFactory knows ``name``: a registered solver, or an executable on PATH (which Pyomo
    runs as an AMPL solver)."""
    return name in SolverFactory or shutil.which(name) is not None


@functools.cache
def is_available(name: str) -> bool:
    """Whether solver ``name`` is known and installed here (never raises, never logs)."""
    if not known(name):
        return False
    with _quiet():
        try:
            return bool(SolverFactory(name).available(exception_flag=False))
        except Exception:  # noqa: BLE001 - a plugin that fails to load is not available
            return False


def available_common() -> list[str]:
    """Those of :data:`COMMON` available here."""
    return [name for name in COMMON if is_available(name)]


def solver_problem(name: str) -> str | None:
    """None when ``name`` can solve here, else why not, in one line (with how to install it and the solvers
    available here)."""
    if is_available(name):
        return None
    here = ", ".join(["highs", "ipopt", *available_common()])
    if not known(name):
        return f"Pyomo knows no solver of that name (solvers available here: {here})"
    hint = INSTALL_HINTS.get(family(name))
    return ("known to Pyomo but not installed here" + (f"; to install it: {hint}" if hint else "")
            + f" (solvers available here: {here})")


def solver_version(name: str) -> str:
    """'GLPK 5.0': the solver's name and version where Pyomo can read it."""
    with _quiet():
        try:
            version = SolverFactory(name).version()
        except Exception:  # noqa: BLE001 - not every plugin can say
            version = None
    if isinstance(version, tuple):
        version = ".".join(str(v) for v in version[:3] if v is not None)
    return f"{name} {version}" if version else name


def limit_options(name: str, time_limit_s: float | None, mip_rel_gap: float | None,
                  is_mip: bool) -> dict[str, object]:
    """The solver options that carry ``time_limit_s`` and (for a MIP) ``mip_rel_gap``; a warning when the solver's
    names for them are unknown."""
    wanted = {"time limit": time_limit_s, "MIP gap": mip_rel_gap if is_mip else None}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    names = LIMIT_OPTIONS.get(family(name))
    if names is None:
        if wanted:
            log.warning("solver '%s': ecodec does not know its option names for the %s; not passed (the solver's "
                        "defaults apply)", name, " and ".join(wanted))
        return {}
    out: dict[str, object] = {}
    if time_limit_s is not None:
        out[names[0]] = max(1, math.ceil(time_limit_s)) if family(name) == "glpk" else float(time_limit_s)
    if is_mip and mip_rel_gap is not None:
        out[names[1]] = float(mip_rel_gap)
    return out


def solve_with_pyomo(model: pyo.ConcreteModel, name: str, *, time_limit_s: float | None = None,
                     mip_rel_gap: float | None = None, duals_of=None) -> SolverOutcome:
    """Solve ``model`` with Pyomo's solver ``name``; load the solution into it when there is one; duals of
    ``duals_of`` for LPs solved to optimality when the solver returns them."""
    problem = solver_problem(name)
    if problem is not None:
        raise SolveError(f"solver '{name}': {problem}")
    with _quiet():
        solver = SolverFactory(name)
    is_mip = has_integers(model)
    options = limit_options(name, time_limit_s, mip_rel_gap, is_mip)
    for key, value in options.items():
        solver.options[key] = value
    suffix = None
    if duals_of is not None and not is_mip and model.component("dual") is None:
        suffix = model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    started = time.perf_counter()
    try:
        try:
            results = solver.solve(model, load_solutions=False, tee=False)
        except ValueError as exc:
            if suffix is None or "suffix" not in str(exc).lower():
                raise
            log.info("solver '%s' cannot return duals (%s); solving without", name, exc)
            model.del_component(suffix)
            suffix = None
            results = solver.solve(model, load_solutions=False, tee=False)
    except Exception as exc:  # the solver or the Pyomo interface failed outright
        if suffix is not None:
            model.del_component(suffix)
        raise SolveError(f"solver '{name}' failed on '{model.name}': {type(exc).__name__}: {exc}") from None
    elapsed = time.perf_counter() - started
    condition = results.solver.termination_condition
    has_solution = len(results.solution) > 0
    if condition == TerminationCondition.feasible or (condition in (TerminationCondition.other,
                                                                    TerminationCondition.unknown) and has_solution):
        hit_limit = time_limit_s is not None and elapsed >= 0.99 * time_limit_s
        status = TIME_LIMIT if hit_limit else OPTIMAL  # a MIP solver stopping at its gap says 'feasible'
    else:
        status = _STATUS.get(condition, ERROR)
    has_solution = has_solution and status in (OPTIMAL, TIME_LIMIT)
    outcome = SolverOutcome(status=status, has_solution=has_solution, objective=None, objective_bound=None,
                            mip_gap=None, solve_time_s=elapsed, solver=solver_version(name))
    if has_solution:
        try:
            model.solutions.load_from(results)
            objective = next(model.component_data_objects(pyo.Objective, active=True))
            outcome.objective = float(pyo.value(objective))
            if suffix is not None and status == OPTIMAL:
                duals = {c: suffix.get(c) for c in duals_of}
                if all(v is not None for v in duals.values()):
                    outcome.duals = {c: float(v) for c, v in duals.items()}
        except Exception as exc:  # noqa: BLE001 - a solution the interface cannot hand back
            raise SolveError(f"solver '{name}' reported a solution of '{model.name}' that Pyomo cannot load "
                             f"({type(exc).__name__}: {exc})") from None
        finally:
            if suffix is not None:
                model.del_component(suffix)
        if is_mip:
            minimize = objective.sense == pyo.minimize
            bound = finite_or_none(results.problem.lower_bound if minimize else results.problem.upper_bound)
            if bound is not None:  # GLPK gives one only when it proved the optimum
                outcome.objective_bound = bound
                outcome.mip_gap = abs(outcome.objective - bound) / max(1e-10, abs(outcome.objective))
        else:
            outcome.objective_bound = outcome.objective if status == OPTIMAL else None
    elif suffix is not None:
        model.del_component(suffix)
    log.info("%s: %s in %.3f s, objective %s", outcome.solver, status, elapsed, outcome.objective)
    return outcome
