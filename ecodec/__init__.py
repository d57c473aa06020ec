"""ecodec: energy communities and microgrids in Pyomo, solved centrally and with distributed algorithms.

Everything a user needs is importable from ``ecodec`` itself (docs/python_api.md):

>>> import ecodec
>>> case = ecodec.read_case("cases/microgrid_8.xlsx")
>>> problem = ecodec.build_problem(case)
>>> network = ecodec.network_from_case(case)
>>> reference = ecodec.solve_centralized(problem)
>>> run = ecodec.run(problem, network, "proximal-dual", stopping=ecodec.StoppingRules(max_iterations=3),
...                  reference=reference)
>>> comparison = ecodec.compare([reference, run], reference)
>>> comparison.to_json_dict()["proximal-dual"]["iterations"]
3

The data flow runs one way (docs/architecture.md): workbook --io--> Case --problem--> problem --methods-->
RunResult --results--> Comparison --report--> PDF; :mod:`ecodec.study` chains them.  Names are loaded when first
used, so ``import ecodec`` stays quick (the command line starts without Pyomo or matplotlib until it needs them).
"""

from __future__ import annotations

import importlib
from importlib import metadata

try:
    __version__ = metadata.version("ecodec")
except metadata.PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0.0.0+unknown"

#: Public name -> the module that defines it
_PUBLIC = {
    # cases and workbooks
    "Case": "ecodec.case", "read_case": "ecodec.io.workbook", "write_case_workbook": "ecodec.io.template",
    # agents
    "Agent": "ecodec.models", "AgentTerms": "ecodec.models", "AggregativeAgent": "ecodec.models",
    "AggregativeTerms": "ecodec.models", "Output": "ecodec.models", "TimeGrid": "ecodec.models",
    "Microturbine": "ecodec.models", "Renewable": "ecodec.models", "Storage": "ecodec.models",
    "Grid": "ecodec.models", "Boiler": "ecodec.models", "ElectricVehicle": "ecodec.models",
    "Buyer": "ecodec.models", "Seller": "ecodec.models", "AGENT_CLASSES": "ecodec.models",
    "SharingAgent": "ecodec.models", "Prosumer": "ecodec.models", "DeploymentAgent": "ecodec.models",
    "Sensor": "ecodec.models", "QuadraticExponential": "ecodec.models", "delta_problem": "ecodec.io.delta",
    "parameter": "ecodec.models", "register_agent_kind": "ecodec.models",
    # problems and networks
    "CoupledProblem": "ecodec.problem", "AggregativeProblem": "ecodec.problem", "CouplingResource": "ecodec.problem",
    "Problem": "ecodec.problem", "PROBLEM_KINDS": "ecodec.problem", "CommunicationNetwork": "ecodec.network",
    "network_from_case": "ecodec.network", "OnlineSharingProblem": "ecodec.problem",
    "DeploymentProblem": "ecodec.problem", "Workspace": "ecodec.problem", "TargetComponent": "ecodec.problem",
    # methods
    "run": "ecodec.decomposition", "solve_centralized": "ecodec.decomposition.centralized",
    "options_for": "ecodec.decomposition", "StoppingRules": "ecodec.decomposition", "METHODS": "ecodec.decomposition",
    "Hook": "ecodec.decomposition", "ProgressHook": "ecodec.decomposition", "CheckpointHook": "ecodec.decomposition",
    # results and reports
    "RunResult": "ecodec.results", "Comparison": "ecodec.results", "compare": "ecodec.results",
    "save_runs": "ecodec.results", "load_runs": "ecodec.results", "write_report": "ecodec.report",
    "SeedRuns": "ecodec.results",
    # the pipeline
    "Study": "ecodec.study", "solve_case": "ecodec.study", "run_case": "ecodec.study",
    "compare_case": "ecodec.study", "validate_case": "ecodec.study", "report_saved_runs": "ecodec.study",
    "cost_change_study": "ecodec.study.cost_change", "CostChangeStudy": "ecodec.study.cost_change",
    # analysis tools
    "wait_and_judge_epsilon": "ecodec.solvers.scenario_epsilon", "fleet_sensitivity": "ecodec.study.sensitivity",
    "cargo_sensitivity": "ecodec.study.sensitivity", "sensitivity_analysis": "ecodec.study.sensitivity",
    "SensitivityResult": "ecodec.results.sensitivity", "load_sensitivity": "ecodec.results.sensitivity",
    "V2GOptions": "ecodec.study.v2g_profitability", "v2g_profitability": "ecodec.study.v2g_profitability",
    "v2g_profitability_case": "ecodec.study.v2g_profitability",
    "V2GProfitabilityResult": "ecodec.results.v2g_profitability", "RingAveraging": "ecodec.network",
    "RandomizedPolynomialClassifier": "ecodec.learning", "predict_flexible": "ecodec.learning.ev_flexibility",
    "flexible_fleet_from_history": "ecodec.study.ev_flexibility",
    # errors
    "EcodecError": "ecodec.errors", "CaseError": "ecodec.errors", "ProblemError": "ecodec.errors",
    "AgentError": "ecodec.errors",
}
__all__ = sorted([*_PUBLIC, "build_problem", "__version__"])


def build_problem(case):
    """The problem of a :class:`Case` (read from a workbook or built in Python): a :class:`CoupledProblem` for
    agents coupled through resources, an :class:`AggregativeProblem` for a market, an
    :class:`OnlineSharingProblem` for prosumers, a :class:`DeploymentProblem` for sensors."""
    from ecodec.problem import problem_from_case

    return problem_from_case(case)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ecodec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
