"""Solution methods behind one interface; the centralized solve is the reference method.

:func:`run` is the single entry point: ``run(problem, network, method, options, stopping, hooks, reference)``
returns a :class:`~ecodec.results.RunResult` for any method in :data:`METHODS`.  A method is either the
centralized solve (one model on HiGHS) or a distributed :class:`~ecodec.decomposition.driver.Driver` executed by a
runtime (:mod:`ecodec.runtime`) under the shared loop of :func:`~ecodec.decomposition.driver.run_driver`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecodec.decomposition.aggregative_tracking import AggregativeTracking, AggregativeTrackingOptions
from ecodec.decomposition.centralized import CentralizedOptions, solve_centralized
from ecodec.decomposition.driver import Driver, StoppingRules, run_driver
from ecodec.decomposition.dualbi import DualBi, DualBiOptions
from ecodec.decomposition.hooks import CheckpointHook, Hook, LoggingHook, ProgressHook
from ecodec.decomposition.options import MethodOptions, OptionError
from ecodec.decomposition.primal_decomposition import PrimalDecomposition, PrimalDecompositionOptions
from ecodec.decomposition.proximal_dual import ProximalDual, ProximalDualOptions
from ecodec.decomposition.tightening import Tightening, TighteningOptions
from ecodec.decomposition.tracking_admm import TrackingAdmm, TrackingAdmmOptions
from ecodec.network import CommunicationNetwork
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import CoupledProblem
from ecodec.results.run_result import RunResult

CENTRALIZED = "centralized"
DRIVERS: dict[str, type[Driver]] = {PrimalDecomposition.method: PrimalDecomposition, Tightening.method: Tightening,
                                    DualBi.method: DualBi, TrackingAdmm.method: TrackingAdmm,
                                    ProximalDual.method: ProximalDual, AggregativeTracking.method: AggregativeTracking}
#: Named variants: a driver with some options preset, run under its own name (so one comparison can hold both)
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "tightening-constant": (Tightening.method, {"tightening": "constant"}),
    "tightening-adaptive": (Tightening.method, {"tightening": "adaptive"}),
}
METHODS: tuple[str, ...] = (CENTRALIZED, *DRIVERS, *VARIANTS)


def options_for(method: str, values: Mapping[str, object] | None = None) -> MethodOptions:
    """Typed options of ``method`` from text or numbers (unknown method or option: :class:`OptionError`)."""
    values = dict(values or {})
    if method == CENTRALIZED:
        return CentralizedOptions.from_mapping(values)
    if method in VARIANTS:
        driver, preset = VARIANTS[method]
        clash = sorted(k for k in preset if k in values and str(values[k]) != str(preset[k]))
        if clash:
            raise OptionError(f"method '{method}' fixes {', '.join(f'{k} = {preset[k]}' for k in clash)}; use "
                              f"method '{driver}' to choose it")
        return DRIVERS[driver].options_type.from_mapping({**values, **preset})
    if method not in DRIVERS:
        raise OptionError(f"unknown method '{method}'; ecodec knows: {', '.join(METHODS)}")
    return DRIVERS[method].options_type.from_mapping(values)


def run(problem: CoupledProblem, network: CommunicationNetwork, method: str, options: MethodOptions | None = None,
        stopping: StoppingRules | None = None, hooks: list[Hook] | None = None, reference: RunResult | None = None,
        runtime=None) -> RunResult:
    """Solve ``problem`` with ``method``.  Distributed methods run on ``runtime``: by default the MPI runtime when
    this process was started by mpiexec (every rank calls ``run``; the result is returned on rank 0, None on the
    others), else the in-process one.  Under MPI the centralized solve runs on rank 0 and its result is sent to
    every rank."""
    options = options or options_for(method)
    from ecodec.runtime import make_runtime, on_root

    if method == CENTRALIZED:
        return on_root(lambda: solve_centralized(problem, options))
    driver_type = DRIVERS[VARIANTS[method][0] if method in VARIANTS else method]
    check_method_fits(method, problem)
    driver = driver_type(problem, runtime or make_runtime(network, placement_weights(problem)), options)
    driver.label = method
    return run_driver(driver, stopping or StoppingRules(), hooks, reference)


def default_method(problem) -> str:
    """The distributed method ``ecodec run`` and ``compare`` use when none is named: aggregative-tracking for a
    market (aggregative) case, primal-decomposition otherwise."""
    return AggregativeTracking.method if isinstance(problem, AggregativeProblem) else PrimalDecomposition.method


def check_method_fits(method: str, problem) -> None:
    """OptionError when ``method`` cannot solve ``problem``: aggregative-tracking solves market (aggregative)
    cases, the other distributed methods cases coupled through resources."""
    if method == CENTRALIZED:
        return
    driver_type = DRIVERS[VARIANTS[method][0] if method in VARIANTS else method]
    market = isinstance(problem, AggregativeProblem)
    if market and driver_type is not AggregativeTracking:
        raise OptionError(f"method '{method}' solves cases coupled through shared resources; case '{problem.name}' is "
                          f"a market whose agents are coupled through aggregates: use '{AggregativeTracking.method}'")
    if not market and driver_type is AggregativeTracking:
        raise OptionError(f"method '{method}' solves market cases (buyers and sellers); case '{problem.name}' is "
                          f"coupled through shared resources")


def placement_weights(problem: CoupledProblem) -> dict[str, float]:
    """The cost estimate that places agents on MPI ranks: 5 for an agent with integer decisions (a MILP
    subproblem, several LPs per solve), 1 for an LP agent."""
    return {agent.name: 5.0 if agent.is_mixed_integer() else 1.0 for agent in problem.agents}


__all__ = ["CENTRALIZED", "DRIVERS", "METHODS", "VARIANTS", "AggregativeTracking", "AggregativeTrackingOptions",
           "check_method_fits", "default_method", "CheckpointHook", "DualBiOptions", "Hook", "LoggingHook",
           "MethodOptions",
           "OptionError", "PrimalDecompositionOptions", "ProgressHook", "ProximalDualOptions", "StoppingRules",
           "TighteningOptions", "TrackingAdmmOptions",
           "options_for", "run"]
