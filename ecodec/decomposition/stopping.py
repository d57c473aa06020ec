"""When the shared loop stops: the :class:`StoppingRules` options and the stopping rules methods declare.

The loop of :func:`~ecodec.decomposition.driver.run_driver` stops at ``max_iterations``, when the user interrupts,
when the method abandons (no feasible point), or when one of the *stopping rules its method declares*
(:attr:`~ecodec.decomposition.registry.MethodSpec.stopping`) reports, after an iteration, that the run has
reached what it aims at.  A rule is a :class:`StoppingRule`: it reads the history so far (and, for a rule that is
part of one method, the method's state) and returns the stopping message, or None.  The rules are asked in the
order the method declares them; the first message ends the run with the rule's status (``converged``, or
``completed`` for :class:`Horizon`).  The loop knows nothing
else of the methods: the shared rules are

* :class:`Tolerance`: the coupling holds within ``violation_tol`` and the cost is where it should be: within
  ``cost_gap_tol`` of the reference's when a reference run is given, else stalled (moved by at most
  ``stall_tol`` over ``stall_window`` iterations);
* :class:`Feasible`: the coupling holds within ``violation_tol`` (a heuristic phase, such as a mixed-integer
  repair, whose cost need not reach the reference's);
* :class:`CertifiedGap`: the method's own bounds certify its best feasible cost within its ``gap_tol``
  (history columns ``lower_bound``, ``upper_bound``, ``certified_gap``);
* :class:`Tracking`: a fixed-point iteration stands still: its relative step and tracking errors are all at or
  below its ``step_tol``;
* :class:`Stationary`: a gradient method on a non-convex cost stands at a stationary point (its projected gradient
  and tracking error at most its ``stationarity_tol``);
* :class:`Horizon`: an online method has played every round of the case (status ``completed``: it learns round
  after round and has no fixed point to converge to).

A rule may apply only in some *phases* of a method (the history's ``phase`` column): primal decomposition and
Tracking-ADMM stop on :class:`Tolerance` in their convex iterations (phase 0), never while relaxed before the
mixed-integer recovery (phase 1), and on :class:`Feasible` in the repair after it (phase 2): :data:`PHASED`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ecodec.decomposition.options import MethodOptions, option
from ecodec.vocabulary import COMPLETED, CONVERGED

#: The ``phase`` of a method with a mixed-integer recovery: convex problem, LP relaxation before the recovery,
#: repair after it (the integers fixed)
CONVEX, RELAXED, REPAIR = 0.0, 1.0, 2.0


@dataclass(frozen=True)
class StoppingRules(MethodOptions):
    """When the loop stops (whichever comes first).

    ``max_iterations``: hard limit; ``violation_tol``: relative coupling violation (largest |residual| of a
    resource over its peak |right-hand side|) at or below which the decisions count as feasible; ``cost_gap_tol``:
    relative cost gap |f - f*| / |f*| to the reference, used only when a reference run is given; without one,
    ``stall_tol`` stops a feasible run whose cost moved by less than this fraction over ``stall_window``
    iterations.
    """

    method = "stopping"
    max_iterations: int = option(10000, "iterations", "hard limit on the number of iterations", lower=1)
    violation_tol: float = option(1e-3, "-", "relative coupling violation (largest |residual| of a resource over "
                                  "its peak |right-hand side|) at or below which the decisions count as feasible",
                                  lower=0.0, lower_open=True)
    cost_gap_tol: float = option(1e-3, "-", "relative cost gap |f - f*| / |f*| to the reference run at or below "
                                 "which a feasible run has converged (only with a reference)", lower=0.0,
                                 lower_open=True)
    stall_tol: float = option(1e-5, "-", "without a reference: a feasible run whose cost moved by at most this "
                              "fraction over stall_window iterations has converged", lower=0.0, lower_open=True)
    stall_window: int = option(50, "iterations", "the window of stall_tol", lower=1)


@dataclass(frozen=True)
class LoopState:
    """What a rule reads after an iteration: the driver, the history so far (the last record is this
    iteration's), the stopping options and whether a reference run was given."""

    driver: object
    history: list[dict]
    stopping: StoppingRules
    has_reference: bool

    @property
    def last(self) -> dict:
        return self.history[-1]


class StoppingRule(ABC):
    """A rule a method declares; ``phases``: the values of the history's ``phase`` column in which it applies
    (None: in every iteration)."""

    name = "rule"
    description = ""
    status = CONVERGED  # the status of a run this rule stops

    def __init__(self, phases: tuple[float, ...] | None = None):
        self.phases = phases

    def reached(self, state: LoopState) -> str | None:
        """The stopping message when the rule applies in this iteration's phase and says stop, else None."""
        if self.phases is not None and state.last.get("phase") not in self.phases:
            return None
        return self.check(state)

    @abstractmethod
    def check(self, state: LoopState) -> str | None:
        """The stopping message, or None to go on."""

    def limit(self, problem) -> int | None:
        """The most iterations this rule lets a run on ``problem`` make (None: no limit of its own)."""
        return None

    def describe(self) -> str:
        """One line for ``ecodec methods``."""
        when = "" if self.phases is None else f" (in phase {', '.join(f'{p:g}' for p in self.phases)})"
        return f"{self.name}{when}: {self.description}"


class Tolerance(StoppingRule):
    """The shared rule: feasible within ``violation_tol``, and the cost gap to the reference within
    ``cost_gap_tol`` (or, without a reference, the cost stalled)."""

    name = "tolerance"
    description = ("relative violation <= violation_tol and, with a reference, cost gap <= cost_gap_tol; without "
                   "one, the cost moved by at most stall_tol over stall_window iterations")

    def check(self, state: LoopState) -> str | None:
        history, stopping, last = state.history, state.stopping, state.last
        if last["rel_violation"] > stopping.violation_tol:
            return None
        if state.has_reference:
            if last["cost_gap"] <= stopping.cost_gap_tol:
                return (f"converged: relative violation {last['rel_violation']:.2e} <= {stopping.violation_tol:g} "
                        f"and cost gap {last['cost_gap']:.2e} <= {stopping.cost_gap_tol:g}")
            return None
        if len(history) > stopping.stall_window:
            before = history[-1 - stopping.stall_window]["objective"]
            change = abs(last["objective"] - before) / max(abs(last["objective"]), 1e-12)
            if change <= stopping.stall_tol:
                return (f"converged: relative violation {last['rel_violation']:.2e} <= {stopping.violation_tol:g} "
                        f"and cost changed by {change:.1e} over {stopping.stall_window} iterations")
        return None


class Feasible(StoppingRule):
    """The coupling holds within ``violation_tol``, whatever the cost (a heuristic phase)."""

    name = "feasible"
    description = "relative violation <= violation_tol (the cost of a heuristic phase need not reach the reference)"

    def check(self, state: LoopState) -> str | None:
        violation, tol = state.last["rel_violation"], state.stopping.violation_tol
        return f"feasible: relative violation {violation:.2e} <= {tol:g}" if violation <= tol else None


class CertifiedGap(StoppingRule):
    """The method's certified gap (UB - LB) / |UB| (history ``certified_gap``) at most its option ``gap_tol``."""

    name = "certified gap"
    description = ("the certified gap (upper_bound - lower_bound) / |upper_bound| between the method's bounds "
                   "<= its option gap_tol")

    def check(self, state: LoopState) -> str | None:
        last, gap_tol = state.last, state.driver.options.gap_tol
        gap = last["certified_gap"]
        if gap == gap and gap <= gap_tol:
            return (f"certified: best feasible cost {last['upper_bound']:.6g} is within {gap:.2e} of the lower bound "
                    f"{last['lower_bound']:.6g} (gap_tol {gap_tol:g})")
        return None


class Tracking(StoppingRule):
    """A tracking method at a fixed point: ``rel_step``, ``tracking_error_sigma`` and ``tracking_error_gradient``
    all at most its option ``step_tol``."""

    name = "tracking"
    description = ("rel_step, tracking_error_sigma and tracking_error_gradient all <= the option step_tol (a "
                   "fixed point; the cost gap is not a criterion)")

    def check(self, state: LoopState) -> str | None:
        last, tol = state.last, state.driver.options.step_tol
        if max(last["rel_step"], last["tracking_error_sigma"], last["tracking_error_gradient"]) <= tol:
            return (f"converged: relative change of the decisions {last['rel_step']:.1e}, tracking errors of "
                    f"the aggregates {last['tracking_error_sigma']:.1e} and of their gradient "
                    f"{last['tracking_error_gradient']:.1e} <= step_tol {tol:g}")
        return None


class Stationary(StoppingRule):
    """A gradient method on a non-convex cost at a stationary point: ``stationarity`` and ``tracking_error`` both at
    most its option ``stationarity_tol``."""

    name = "stationary"
    description = ("stationarity (the projected gradient's norm) and tracking_error both <= the option "
                   "stationarity_tol (a stationary point of a non-convex cost; the cost gap is not a criterion)")

    def check(self, state: LoopState) -> str | None:
        last, tol = state.last, state.driver.options.stationarity_tol
        if max(last["stationarity"], last["tracking_error"]) <= tol:
            return (f"stationary: projected gradient {last['stationarity']:.1e} and tracking error "
                    f"{last['tracking_error']:.1e} <= stationarity_tol {tol:g}")
        return None


class Horizon(StoppingRule):
    """An online method has played the last round of the case's horizon (status ``completed``)."""

    name = "horizon"
    description = "the last round of the case's horizon (T rounds) has been played"
    status = COMPLETED

    def limit(self, problem) -> int | None:
        return problem.grid.T

    def check(self, state: LoopState) -> str | None:
        T = state.driver.problem.grid.T
        return f"played all {T} rounds of the horizon" if len(state.history) >= T else None


class Consensus(Tolerance):
    """:class:`Tolerance` once the agents' copies of the global variables agree: ``consensus_error`` (the method's
    history column, relative to the rows' scale) at most ``violation_tol``."""

    name = "consensus"
    description = ("consensus_error <= violation_tol, then the tolerance rule (relative violation and cost gap, or "
                   "a stalled cost without a reference)")

    def check(self, state: LoopState) -> str | None:
        error = state.last["consensus_error"]
        if error > state.stopping.violation_tol:
            return None
        said = super().check(state)
        return None if said is None else f"{said}; consensus error {error:.2e} <= {state.stopping.violation_tol:g}"


#: The rules of a method with a mixed-integer recovery: the tolerance while the problem is convex, nothing while
#: the relaxation runs before the recovery, feasibility in the repair after it
PHASED = (Tolerance(phases=(CONVEX,)), Feasible(phases=(REPAIR,)))

__all__ = ["CONVEX", "PHASED", "RELAXED", "REPAIR", "CertifiedGap", "Consensus", "Feasible", "LoopState", "StoppingRule",
           "StoppingRules", "Tolerance", "Tracking"]
