"""Solution methods behind one interface; the centralized solve is the reference method.

:func:`run` is the single entry point: ``run(problem, network, method, options, stopping, hooks, reference)``
returns a :class:`~ecodec.results.RunResult` for any method in :data:`METHODS`.  Every method is registered
(:mod:`ecodec.decomposition.registry`) with the problem kinds it solves, its declared options, its history
columns and its stopping rules; this module only reads the registry.  A method is either a single solve (the
centralized one: one model on HiGHS or Ipopt) or a distributed :class:`~ecodec.decomposition.driver.Driver`
executed by a runtime (:mod:`ecodec.runtime`) under the shared loop of
:func:`~ecodec.decomposition.driver.run_driver`.

Importing a method's module registers it; the imports below fix the order ``ecodec methods`` lists them in.
"""

from __future__ import annotations

from collections.abc import Mapping

# the methods, in the order they are listed (importing a module registers its methods)
from ecodec.decomposition.centralized import CentralizedOptions, solve_centralized
from ecodec.decomposition.primal_decomposition import PrimalDecomposition, PrimalDecompositionOptions
from ecodec.decomposition.tightening import Tightening, TighteningOptions
from ecodec.decomposition.dualbi import DualBi, DualBiOptions
from ecodec.decomposition.tracking_admm import TrackingAdmm, TrackingAdmmOptions
from ecodec.decomposition.proximal_dual import ProximalDual, ProximalDualOptions
from ecodec.decomposition.proximal_minimization import ProximalMinimization, ProximalMinimizationOptions
from ecodec.decomposition.aggregative_tracking import AggregativeTracking, AggregativeTrackingOptions
from ecodec.decomposition.delta import Delta, DeltaOptions
from ecodec.decomposition.drs import DRS, DRSOptions
from ecodec.decomposition.ma_nsdrs import MaNsdrs, MaNsdrsOptions
from ecodec.decomposition.bansap import Bansap, BansapOptions
from ecodec.decomposition.macropt import Macropt, MacroptOptions
from ecodec.decomposition.method_template import DualSubgradient, DualSubgradientOptions
# the interface
from ecodec.decomposition.checkpoint import StateCheckpoint
from ecodec.decomposition.driver import Driver, run_driver
from ecodec.decomposition.hooks import CheckpointHook, Hook, LoggingHook, ProgressHook
from ecodec.decomposition.options import MethodOptions, OptionError
from ecodec.errors import did_you_mean
from ecodec.decomposition.registry import REGISTRY, MethodSpec, methods_help
from ecodec.decomposition.stopping import StoppingRules
from ecodec.network import CommunicationNetwork
from ecodec.results.run_result import RunResult
from ecodec.problem.contract import PROBLEM_KINDS
from ecodec.vocabulary import CENTRALIZED, KindWords

#: The registered methods' names: the centralized solve, the distributed methods, their preset variants
METHODS: tuple[str, ...] = tuple(REGISTRY)


def spec_of(method: str) -> MethodSpec:
    """The registered :class:`MethodSpec` of ``method`` (unknown method: :class:`OptionError`)."""
    if method not in REGISTRY:
        raise OptionError(f"unknown method '{method}'{did_you_mean(method, REGISTRY)}; ecodec knows: "
                          f"{', '.join(REGISTRY)}")
    return REGISTRY[method]


def options_for(method: str, values: Mapping[str, object] | None = None) -> MethodOptions:
    """Typed options of ``method`` from text or numbers (unknown method or option: :class:`OptionError`)."""
    return spec_of(method).make_options(dict(values or {}))


def run(problem, network: CommunicationNetwork, method: str, options: MethodOptions | None = None,
        stopping: StoppingRules | None = None, hooks: list[Hook] | None = None, reference: RunResult | None = None,
        runtime=None, checkpoint: StateCheckpoint | None = None) -> RunResult:
    """Solve ``problem`` with ``method``.  Distributed methods run on ``runtime``: by default the MPI runtime when
    this process was started by mpiexec (every rank calls ``run``; the result is returned on rank 0, None on the
    others), else the in-process one.  A single solve (the centralized one) runs on rank 0 under MPI and its
    result is sent to every rank.  ``checkpoint`` (a distributed method that declares its state) writes the
    method's state as it runs and resumes from a saved one (:mod:`ecodec.decomposition.checkpoint`)."""
    spec = spec_of(method)
    options = options or options_for(method)
    from ecodec.runtime import make_runtime, on_root

    if not spec.is_distributed:
        return on_root(lambda: spec.solve(problem, options))
    check_method_fits(method, problem)
    driver = spec.driver(problem, runtime or make_runtime(network, placement_weights(problem)), options)
    driver.label = method
    return run_driver(driver, stopping or StoppingRules(), hooks, reference, checkpoint)


def default_method(problem) -> str:
    """The distributed method ``ecodec run`` and ``compare`` use when none is named: the one registered as the
    default of the problem's kind (primal-decomposition for coupled problems, aggregative-tracking for markets)."""
    for spec in REGISTRY.values():
        if problem.kind in spec.default_for:
            return spec.name
    raise OptionError(f"no method is registered as the default for {problem.kind} problems such as case "
                      f"'{problem.name}'; name one of: {', '.join(_solving(problem.kind))}")


def check_method_fits(method: str, problem) -> None:
    """OptionError when ``method`` does not declare the kind of ``problem`` among the kinds it solves."""
    spec = spec_of(method)
    if problem.kind in spec.kinds:
        return
    solves = " and ".join(f"{_words(kind).cases} (kind {kind})" for kind in spec.kinds)
    words = _words(problem.kind)
    raise OptionError(f"method '{method}' solves {solves}; case '{problem.name}' is of kind {problem.kind}"
                      f"{': ' + words.case if words.case else ''}; use "
                      + ", ".join(f"'{name}'" for name in _solving(problem.kind)))


def _words(kind: str):
    """The words a problem kind declares for itself (:class:`~ecodec.problem.contract.KindWords`)."""
    cls = PROBLEM_KINDS.get(kind)
    return cls.words if cls is not None else KindWords(f"{kind} cases", "")


def _solving(kind: str) -> list[str]:
    """The registered distributed methods that solve ``kind``, then the single solves."""
    specs = [s for s in REGISTRY.values() if kind in s.kinds]
    return [s.name for s in specs if s.is_distributed] + [s.name for s in specs if not s.is_distributed]


def placement_weights(problem) -> dict[str, float]:
    """The cost estimate that places agents on MPI ranks: 5 for an agent with integer decisions (a MILP
    subproblem, several LPs per solve), 1 for an LP agent."""
    return {agent.name: 5.0 if agent.is_mixed_integer() else 1.0 for agent in problem.agents}


__all__ = ["CENTRALIZED", "DRS", "METHODS", "REGISTRY", "AggregativeTracking", "AggregativeTrackingOptions",
           "Bansap", "BansapOptions", "CentralizedOptions", "DRSOptions", "CheckpointHook", "Driver", "DualBi",
           "DualBiOptions", "DualSubgradient",
           "DualSubgradientOptions", "Hook", "LoggingHook", "Macropt", "MacroptOptions", "MaNsdrs",
           "MaNsdrsOptions",
           "MethodOptions", "MethodSpec", "OptionError", "PrimalDecomposition", "PrimalDecompositionOptions",
           "ProgressHook", "ProximalDual", "ProximalDualOptions", "ProximalMinimization",
           "ProximalMinimizationOptions", "StateCheckpoint", "StoppingRules", "Tightening",
           "TighteningOptions", "TrackingAdmm", "TrackingAdmmOptions", "check_method_fits", "default_method",
           "methods_help", "options_for", "placement_weights", "run", "solve_centralized", "spec_of"]
