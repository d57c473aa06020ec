"""DELTA's robustness experiment: the agents' costs change mid-run and the learned gradients must follow.

The DELTA paper (Brumali, Carnevale, Notarstefano, arXiv 2503.04668) reports that its 20-agent simulations are
robust to changes of the local cost functions.  :func:`cost_change_study` reproduces that run: DELTA on ``case``
for ``change_at`` iterations, then the costs every agent samples become those of ``changed`` (the same agents and
aggregates; each agent keeps its decisions, estimates and network), and the run goes on to ``iterations``.  Both
optima come from the centralized solve of each case.  In the run's history ``distance`` (||x^k - x*|| / ||x*||)
and ``cost_gap`` are measured against the optimum of the costs in force at iteration k, and ``objective`` is the
total of those costs; ``info['cost_change_at']`` says where the change happened (the report's "Learning" section
marks it).  The comparison and the report measure the run's end against the optimum after the change.

>>> from ecodec.io.delta import delta_problem
>>> (before, network), (after, _) = delta_problem(4, 0), delta_problem(4, 0, cost_seed=1)
>>> study = cost_change_study(before, after, change_at=3, iterations=6, network=network,
...                           options={"width": 8, "replay": 4})   # a tiny run: the shape of the result
>>> len(study.run.history), study.run.info["cost_change_at"]
(6, 3)
>>> bool(study.optimum_before.objective != study.optimum_after.objective)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecodec.decomposition import Hook, StoppingRules, placement_weights, run, spec_of
from ecodec.decomposition.driver import run_driver
from ecodec.errors import EcodecError
from ecodec.results import RunResult, compare, kpi
from ecodec.runtime import make_runtime
from ecodec.study import load, method_options
from ecodec.study.declared_outputs import summary_with_declarations
from ecodec.vocabulary import CENTRALIZED

METHOD = "delta"


@dataclass
class CostChangeStudy:
    """The two optima and the DELTA run across the change."""

    optimum_before: RunResult
    optimum_after: RunResult
    run: RunResult
    change_at: int


class _ChangeCosts(Hook):
    """Measures each iterate against the optimum in force (``distance``, ``cost_gap``) and changes the costs after
    iteration ``change_at``."""

    def __init__(self, driver, change_at: int, changed_problem, optima: tuple[RunResult, RunResult]):
        self.driver, self.change_at, self.changed_problem, self.optima = driver, change_at, changed_problem, optima
        self.current = 0
        self._targets: dict[tuple[int, str], np.ndarray] = {}

    def _target(self, name: str, functions) -> np.ndarray:
        key = (self.current, name)
        if key not in self._targets:
            self._targets[key] = kpi.agent_output_matrix(self.optima[self.current].dispatch, name,
                                                         functions.decision_quantities, functions.T)
        return self._targets[key]

    def on_iteration(self, record: dict) -> None:
        driver = self.driver

        def local(name):
            functions = driver.subproblems[name]
            target = self._target(name, functions)
            return np.array([np.sum((functions.decision_values(driver.decisions[name]) - target) ** 2),
                             np.sum(target ** 2)])

        total = driver.runtime.sum(driver.runtime.each(local))
        record["distance"] = float(np.sqrt(total[0] / total[1])) if total[1] > 0 else float(np.sqrt(total[0]))
        record["cost_gap"] = kpi.relative_cost_gap(record["objective"], self.optima[self.current].objective)
        if record["iteration"] == self.change_at:
            driver.change_costs(self.changed_problem)
            self.current = 1


def cost_change_study(case, changed, *, change_at: int, iterations: int,
                      options: Mapping[str, object] | None = None, hooks: Sequence[Hook] = (),
                      network=None, report: str | Path | None = None) -> CostChangeStudy:
    """DELTA on ``case`` whose costs become those of ``changed`` after iteration ``change_at`` (see the module
    docstring).  ``case`` and ``changed`` are workbook paths, Cases or problems with the same agents; ``options``
    are DELTA's (over the workbook's ``drivers`` rows of ``case``); ``report``: a PDF to write (the optimum after
    the change, then the run)."""
    if report is not None and Path(report).suffix.lower() != ".pdf":
        raise EcodecError(f"{report}: a report is a PDF file; give a name ending in .pdf")
    if not 0 < change_at < iterations:
        raise EcodecError(f"change_at {change_at}: expected an iteration from 1 to iterations - 1 = {iterations - 1}")
    prepared, after = load(case, network), load(changed, network)
    names = [a.name for a in prepared.problem.agents]
    if [a.name for a in after.problem.agents] != names:
        raise EcodecError("the changed case must have the same agents, in the same order, as the case: "
                          f"{', '.join(names)}")
    optima = tuple(run(p.problem, p.network, CENTRALIZED, method_options(p, CENTRALIZED, every_alone=True))
                   for p in (prepared, after))
    for label, optimum in zip(("case", "changed case"), optima):
        if not optimum.has_solution:
            raise EcodecError(f"the centralized solve of the {label} found no optimum ({optimum.status})")
    spec = spec_of(METHOD)
    typed = method_options(prepared, METHOD, {METHOD: dict(options or {})})
    driver = spec.driver(prepared.problem, make_runtime(prepared.network, placement_weights(prepared.problem)),
                         typed)
    driver.label = METHOD
    result = run_driver(driver, StoppingRules(max_iterations=iterations),
                        [_ChangeCosts(driver, change_at, after.problem, optima), *hooks], reference=optima[0])
    if result is None:  # another process of an MPI run: rank 0 reports
        return None
    result.info["cost_change_at"] = change_at
    study = CostChangeStudy(optima[0], optima[1], result, change_at)
    if report is not None:
        from ecodec.report import write_report

        runs = [optima[1], result]
        summary = summary_with_declarations(after.problem, after.network)
        write_report(report, runs, compare(runs, optima[1]), summary)
    return study


__all__ = ["CostChangeStudy", "cost_change_study"]
