"""Solution methods behind one interface; the centralized solve is the reference method.

:func:`run` is the single entry point: ``run(problem, network, method, options, stopping, hooks, reference)``
returns a :class:`~ecodec.results.RunResult` for any method in :data:`METHODS`.  A method is either the
centralized solve (one model on HiGHS) or a distributed :class:`~ecodec.decomposition.driver.Driver` executed by a
runtime (:mod:`ecodec.runtime`) under the shared loop of :func:`~ecodec.decomposition.driver.run_driver`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecodec.decomposition.centralized import CentralizedOptions, solve_centralized
from ecodec.decomposition.driver import Driver, StoppingRules, run_driver
from ecodec.decomposition.hooks import CheckpointHook, Hook, LoggingHook, ProgressHook
from ecodec.decomposition.options import MethodOptions, OptionError
from ecodec.decomposition.primal_decomposition import PrimalDecomposition, PrimalDecompositionOptions
from ecodec.network import CommunicationNetwork
from ecodec.problem.coupled import CoupledProblem
from ecodec.results.run_result import RunResult

CENTRALIZED = "centralized"
DRIVERS: dict[str, type[Driver]] = {PrimalDecomposition.method: PrimalDecomposition}
METHODS: tuple[str, ...] = (CENTRALIZED, *DRIVERS)


def options_for(method: str, values: Mapping[str, object] | None = None) -> MethodOptions:
    """Typed options of ``method`` from text or numbers (unknown method or option: :class:`OptionError`)."""
    values = dict(values or {})
    if method == CENTRALIZED:
        return CentralizedOptions.from_mapping(values)
    if method not in DRIVERS:
        raise OptionError(f"unknown method '{method}'; ecodec knows: {', '.join(METHODS)}")
    return DRIVERS[method].options_type.from_mapping(values)


def run(problem: CoupledProblem, network: CommunicationNetwork, method: str, options: MethodOptions | None = None,
        stopping: StoppingRules | None = None, hooks: list[Hook] | None = None, reference: RunResult | None = None,
        runtime=None) -> RunResult:
    """Solve ``problem`` with ``method``; distributed methods run on ``runtime`` (default: in-process)."""
    options = options or options_for(method)
    if method == CENTRALIZED:
        return solve_centralized(problem, options)
    from ecodec.runtime import InProcessRuntime

    driver = DRIVERS[method](problem, runtime or InProcessRuntime(network), options)
    return run_driver(driver, stopping or StoppingRules(), hooks, reference)


__all__ = ["CENTRALIZED", "DRIVERS", "METHODS", "CheckpointHook", "Hook", "LoggingHook", "MethodOptions",
           "OptionError", "PrimalDecompositionOptions", "ProgressHook", "StoppingRules", "options_for", "run"]
