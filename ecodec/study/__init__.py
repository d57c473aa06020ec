"""The pipeline as library calls: read a case, solve it, compare, save, report.

Each call does in order what a user would otherwise chain by hand, and the ``ecodec`` command calls exactly one of
them per command:

* :func:`solve_case`: the centralized reference solve of a case (``ecodec solve``);
* :func:`run_case`: one method, with the centralized reference for its cost gap unless told otherwise
  (``ecodec run``);
* :func:`compare_case`: the centralized solve and several methods, their comparison, the runs saved and the PDF
  report (``ecodec compare``).

A case is a workbook path, a :class:`~ecodec.case.Case` or an already built problem (a
:class:`~ecodec.problem.CoupledProblem` or :class:`~ecodec.problem.AggregativeProblem`, with a
:class:`~ecodec.network.CommunicationNetwork`; without one, the complete graph over its agents).  Method options
come, in order of precedence, from ``options`` (``{method: {option: value}}``), then the workbook's ``drivers``
sheet; stopping rules from ``stopping`` then the sheet's ``stopping`` rows.

>>> from ecodec.study import compare_case
>>> study = compare_case("cases/microgrid_8.xlsx", ["centralized", "proximal-dual"],
...                      stopping={"max_iterations": 5})
>>> [run.method for run in study.runs]
['centralized', 'proximal-dual']
>>> study.comparison.to_json_dict()["proximal-dual"]["iterations"]
5
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ecodec.case import Case
from ecodec.decomposition import (METHODS, CheckpointHook, Hook, ProgressHook, StoppingRules, check_method_fits,
                                  default_method, options_for, run)
from ecodec.errors import CaseError, EcodecError, did_you_mean
from ecodec.files import check_writable, interrupts_deferred, safe_file_stem
from ecodec.io.workbook import read_case
from ecodec.network import CommunicationNetwork, network_from_case
from ecodec.progress import stage
from ecodec.problem import PROBLEM_KINDS, problem_from_case
from ecodec.results import CaseSummary, Comparison, RunResult, SeedRuns, compare, save_runs
from ecodec.results.store import check_results_format, save_run
from ecodec.results.workbook import write_results_workbook
from ecodec.runtime import is_root_process, on_root
from ecodec.study.declared_outputs import summary_with_declarations
from ecodec.study.drivers_sheet import drivers_issues
from ecodec.study.resume import method_checkpoint, output_lock, resume_directories
from ecodec.study.shared_assets import INFO_KEY, shared_agents, shared_asset_value
from ecodec.versions import file_hashes
from ecodec.vocabulary import CENTRALIZED, INTERRUPTED

log = logging.getLogger(__name__)

#: ``options`` of the study calls: per method name, option name -> value (text or typed); the key
#: :data:`EVERY_METHOD` holds values for every distributed method run (for the centralized solve when it runs alone)
MethodValues = Mapping[str, Mapping[str, object]]
EVERY_METHOD = "*"
#: How many seeds an online sharing comparison runs by default
ONLINE_SEEDS = 10


@dataclass
class Study:
    """What a study call produced: the problem it solved, the runs (the centralized one first when it ran), their
    comparison against the centralized reference (None without a usable reference) and the files written."""

    case_name: str
    problem: object
    network: CommunicationNetwork
    runs: list[RunResult]
    reference: RunResult | None
    comparison: Comparison | None
    summary: CaseSummary
    written: dict[str, Path] = field(default_factory=dict)
    seeds: SeedRuns | None = None  # an online comparison over several seeds: every seed's curves and levels

    def run(self, method: str) -> RunResult:
        """The run of ``method``."""
        for result in self.runs:
            if result.method == method:
                return result
        raise KeyError(f"no run of method '{method}' in this study; runs: {', '.join(r.method for r in self.runs)}")


@dataclass
class _Prepared:
    case: Case | None
    problem: object
    network: CommunicationNetwork


def load(case: str | Path | Case | object, network: CommunicationNetwork | None = None) -> _Prepared:
    """The problem and network of a workbook path, a Case, or a built problem (with ``network``, or the complete
    graph over its agents)."""
    if isinstance(case, (str, Path)):
        case = read_case(case)
    if isinstance(case, Case):
        issues = drivers_issues(case)  # the drivers sheet against the methods' declarations, before any solve
        if issues:
            raise CaseError(case.source, issues)
        return _Prepared(case, problem_from_case(case), network or network_from_case(case))
    if getattr(case, "kind", None) not in PROBLEM_KINDS:  # the problem contract's registry of kinds
        raise EcodecError(f"expected a workbook path, a Case or a problem, got {type(case).__name__}")
    if network is None:
        network = CommunicationNetwork.named("complete", [agent.name for agent in case.agents])
    return _Prepared(None, case, network)


def method_options(prepared: _Prepared, method: str, options: MethodValues | None = None, every_alone: bool = False):
    """Typed options of ``method``: the workbook's ``drivers`` rows for it, then ``options[EVERY_METHOD]`` (for a
    distributed method, or for the centralized one when ``every_alone``: it runs alone), then ``options[method]``."""
    values = dict(prepared.case.driver_options.get(method, {})) if prepared.case is not None else {}
    if method != CENTRALIZED or every_alone:
        values.update((options or {}).get(EVERY_METHOD, {}))
    values.update((options or {}).get(method, {}))
    return options_for(method, values)


def stopping_rules(prepared: _Prepared, stopping: StoppingRules | Mapping[str, object] | None = None) -> StoppingRules:
    """The stopping rules: the workbook's ``drivers`` rows of driver 'stopping', then ``stopping``."""
    if isinstance(stopping, StoppingRules):
        return stopping
    values = dict(prepared.case.driver_options.get("stopping", {})) if prepared.case is not None else {}
    values.update(stopping or {})
    return StoppingRules.from_mapping(values)


def solve_case(case: str | Path | Case | object, *, options: Mapping[str, object] | None = None,
               output: str | Path | None = None, results_format: str = "xlsx") -> RunResult:
    """The centralized solve of ``case`` (HiGHS for LP/MILP, Ipopt for a market); ``options`` are the centralized
    method's options (``time_limit_s``, ``mip_rel_gap``, ``solver``, ...); ``output``, written when there is a
    solution: a results workbook (a name ending in .xlsx), or else a run directory as
    :func:`~ecodec.results.save_run` writes it (CSV tables, summary.json, and per ``results_format`` 'xlsx',
    'parquet' or 'both' the results workbook and Parquet tables).

    >>> result = solve_case("cases/microgrid_8.xlsx")
    >>> result.status, round(result.objective, 2)
    ('optimal', 365.55)
    """
    check_results_format(results_format)
    workbook = output is not None and Path(output).suffix.lower() == ".xlsx"
    if workbook and results_format != "xlsx":
        raise EcodecError(f"{output}: {results_format} results go into a directory; give a directory name, not .xlsx")
    if output is not None:
        check_writable(output, directory=not workbook,
                       what="the results workbook" if workbook else "the results directory")
    prepared = load(case)
    result = run(prepared.problem, prepared.network, CENTRALIZED,
                 method_options(prepared, CENTRALIZED, {CENTRALIZED: options or {}}))
    if input_hashes(prepared.case):
        result.info.setdefault("inputs", input_hashes(prepared.case))
    if result.has_solution and output is not None:
        with interrupts_deferred():
            if workbook:
                write_results_workbook(result, output)
            else:
                save_run(result, output, results_format)
    return result


def run_case(case: str | Path | Case | object, method: str | None = None, *, reference: bool = True,
             options: MethodValues | None = None, stopping: StoppingRules | Mapping[str, object] | None = None,
             network: CommunicationNetwork | None = None, hooks: Sequence[Hook] = (),
             progress: TextIO | None = None, output: str | Path | None = None,
             report: str | Path | None = None, resume: bool | str | Path | None = None,
             results_format: str = "xlsx") -> Study | None:
    """Solve ``case`` with one method (None: the default method of the case's problem kind); with ``reference``
    the centralized solve runs first and the method's history gets the cost gap and distance to it.  Under MPI
    every rank calls this; rank 0 gets the Study, the others None.

    ``resume`` continues the run checkpointed in ``output`` (True) or in the directory given (writing to
    ``output`` when given, else there) to the iterates of a run never stopped; case, method, options and
    reference must be those of the checkpointed run (:mod:`ecodec.study.resume`)."""
    if report is not None and not reference:
        raise EcodecError("a report compares against the centralized reference; run with the reference")
    resume, output = resume_directories(resume, output)
    prepared = load(case, network)
    method = method or default_method(prepared.problem)
    methods = [method] if method == CENTRALIZED or not reference else [CENTRALIZED, method]
    online = prepared.problem.kind == "online-sharing" and len(methods) > 1  # the comparator on the method's seed
    with output_lock(output):
        return _study(prepared, methods, options, stopping, hooks, progress, output, report,
                      seeds=1 if online else None, resume=resume, results_format=results_format)


def compare_case(case: str | Path | Case | object, methods: Sequence[str | None] | None = None, *,
                 options: MethodValues | None = None, stopping: StoppingRules | Mapping[str, object] | None = None,
                 network: CommunicationNetwork | None = None, hooks: Sequence[Hook] = (),
                 progress: TextIO | None = None, output: str | Path | None = None,
                 report: str | Path | None = None, seeds: int | None = None,
                 results_format: str = "xlsx") -> Study | None:
    """Solve ``case`` centrally and with each of ``methods`` (None in the list, or no list: the default method of
    the case's problem kind), compare them, save them under ``output`` (one folder per method, with the results
    workbook, Parquet tables or both per ``results_format``: 'xlsx', 'parquet', 'both') and write the PDF
    ``report``.  Raises when the centralized reference has no solution (there is nothing to compare against).

    An online sharing case is random: every method (and the comparator, its centralized reference) runs on
    ``seeds`` seeds (default :data:`ONLINE_SEEDS`), s, s + 1, ..., s being the methods' ``seed`` option; the runs of
    the first seed are the study's runs (saved, compared, reported in full) and ``study.seeds`` holds every seed's
    curves and energy levels (:class:`~ecodec.results.SeedRuns`), which the report draws with confidence bands."""
    prepared = load(case, network)
    chosen = [default_method(prepared.problem) if m is None else m for m in (methods or [None])]
    if CENTRALIZED not in chosen:
        chosen.insert(0, CENTRALIZED)
    online = prepared.problem.kind == "online-sharing"
    if seeds is not None and not online:
        raise EcodecError(f"seeds: only an online sharing case is repeated over seeds; case "
                          f"'{prepared.problem.name}' is of kind {prepared.problem.kind}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise EcodecError(f"seeds must be a whole number >= 1, got {seeds!r}")
    with output_lock(output):
        study = _study(prepared, list(dict.fromkeys(chosen)), options, stopping, hooks, progress, output, report,
                       seeds=(seeds or ONLINE_SEEDS) if online else None, results_format=results_format)
    if study is not None and study.comparison is None:
        raise EcodecError("the centralized reference has no solution, so there is nothing to compare against")
    return study


def _study(prepared: _Prepared, methods: list[str], options: MethodValues | None, stopping, hooks: Sequence[Hook],
           progress: TextIO | None, output: str | Path | None, report: str | Path | None,
           seeds: int | None = None, resume: Path | None = None, results_format: str = "xlsx") -> Study | None:
    check_results_format(results_format)
    if report is not None and Path(report).suffix.lower() != ".pdf":
        raise EcodecError(f"{report}: a report is a PDF file; give a name ending in .pdf")
    if output is not None:  # every output checked before anything is solved
        check_writable(output, directory=True, what="the results directory")
    if report is not None:
        check_writable(report, directory=False, what="the report")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        named = ", ".join(f"'{m}'{did_you_mean(m, METHODS)}" for m in unknown)
        raise EcodecError(f"unknown method{'s' if len(unknown) > 1 else ''} {named}; ecodec knows: "
                          f"{', '.join(METHODS)}")
    unused = sorted(set(options or {}) - set(methods) - {EVERY_METHOD})
    if unused:
        raise EcodecError(f"options given for {', '.join(unused)}, which is not one of the methods run "
                          f"({', '.join(methods)})")
    problem, network = prepared.problem, prepared.network
    for method in methods:
        check_method_fits(method, problem)  # before any solve
    typed = {m: method_options(prepared, m, options, every_alone=methods == [CENTRALIZED]) for m in methods}
    rules = stopping_rules(prepared, stopping)
    output = Path(output) if output is not None else None
    root = is_root_process()  # under MPI every rank runs the methods; rank 0 reports and writes
    first = typed[methods[-1]].as_dict().get("seed", 0) if seeds else None
    runs_by_seed = {}
    for k, seed in enumerate(range(first, first + seeds) if seeds else [None]):
        if seed is not None:  # an online case: every method and the comparator on the same environment
            typed = {m: options_for(m, {**typed[m].as_dict(), "seed": seed}) for m in methods}
            if progress is not None and root and k:
                progress.write(f"seed {seed} ({k + 1} of {seeds})\n")
        runs_by_seed[seed] = _runs(problem, network, methods, typed, rules, hooks, progress if not k else None,
                                   output if not k else None, root, resume)
    runs = runs_by_seed[first]
    reference = runs[0] if methods[0] == CENTRALIZED else None
    usable = reference if reference is not None and reference.has_solution else None
    if usable is not None and seeds is None and shared_agents(problem):  # every MPI rank calls the solve
        with stage(progress if root else None, "centralized: the case without its shared assets"):
            value = shared_asset_value(problem, usable, typed[CENTRALIZED])
        if value is not None:
            usable.info[INFO_KEY] = value
    if not root:
        return None
    inputs = input_hashes(prepared.case)
    for result in (r for seed_runs in runs_by_seed.values() for r in seed_runs if inputs):
        result.info.setdefault("inputs", inputs)  # the files the numbers came from (the report's title page)
    comparison = compare(runs, usable) if usable is not None else None
    study = Study(problem.name, problem, network, runs, reference, comparison,
                  summary_with_declarations(problem, network),
                  seeds=SeedRuns.collect(runs_by_seed) if seeds else None)
    if output is not None:
        with interrupts_deferred(), stage(progress, f"saving the runs to {output}"):  # a Ctrl-C now takes effect
            save_runs(runs, output, comparison, summary=study.summary, seeds=study.seeds,  # once all is written
                      results_format=results_format)
        study.written["runs"] = output
    if report is not None:
        if comparison is None:
            raise EcodecError(f"{report}: no report written: the centralized reference has no solution, so there is "
                              "nothing to compare against")
        from ecodec.report import write_report

        with stage(progress, f"rendering the report {report}"):
            write_report(report, runs, comparison, study.summary, study.seeds)
        study.written["report"] = Path(report)
    return study


def input_hashes(case: Case | None) -> dict[str, str]:
    """SHA-256 of each file ``case`` was read from (the workbook, then its time-series files), by file name."""
    if case is None:
        return {}
    return file_hashes(case.input_files or ([case.source] if case.source is not None else []))


def _runs(problem, network, methods: list[str], typed: dict, rules: StoppingRules, hooks: Sequence[Hook],
          progress: TextIO | None, output: Path | None, root: bool, resume: Path | None = None) -> list[RunResult]:
    """The centralized reference (when among ``methods``) and then every method, each measured against it; each
    method's state checkpointed under ``output`` (and resumed from ``resume``: checked before any solve)."""
    checkpoints = {m: method_checkpoint(problem, network, m, typed[m], rules, output, resume, CENTRALIZED in methods)
                   for m in methods if m != CENTRALIZED or methods == [CENTRALIZED]}
    reference = None
    if CENTRALIZED in methods:
        with stage(progress if root else None, "centralized: building and solving the model"):
            reference = run(problem, network, CENTRALIZED, typed[CENTRALIZED])
        if not reference.has_solution:
            log.warning("centralized reference: %s", reference.info["message"])
    runs = [reference] if reference is not None else []
    usable = reference if reference is not None and reference.has_solution else None
    for method in methods:
        if method == CENTRALIZED:
            continue
        method_hooks = list(hooks)
        if progress is not None and root:
            method_hooks.append(ProgressHook(progress, since=time.monotonic()))  # on_start: how long the set-up took
        if output is not None and root:
            method_hooks.append(CheckpointHook(output / "checkpoints" / f"{method}_history.csv"))
        runs.append(run(problem, network, method, typed[method], rules, method_hooks, usable,
                        checkpoint=checkpoints[method]))
        if on_root(lambda: runs[-1].status == INTERRUPTED):  # the same answer on every MPI rank
            rest = methods[methods.index(method) + 1:]
            if rest:
                log.warning("interrupted: %s not run", ", ".join(rest))
            break
    return runs


def validate_case(path: str | Path) -> dict[str, object]:
    """Read and check the workbook ``path`` as a solve would (every sheet, and the problem built from it); the
    facts ``ecodec validate`` prints: case name, horizon, agents per kind, and what couples them."""
    prepared = load(path)
    case, problem = prepared.case, prepared.problem
    problem.check()  # e.g. that contributions and what couples them match
    kinds: dict[str, int] = {}
    for spec in case.agents:
        kinds[spec.kind] = kinds.get(spec.kind, 0) + 1
    return {"file": Path(path).name, "case": case.name, "T": case.T, "step_h": case.step_h,
            "n_agents": len(case.agents), "agents_per_kind": kinds, "problem_kind": problem.kind,
            "coupling": problem.coupling_description()}


def report_saved_runs(directory: str | Path, output: str | Path | None = None, *,
                      progress: TextIO | None = None) -> Path:
    """Write the PDF report of the runs saved under ``directory`` (by :func:`compare_case` or ``ecodec compare
    --output``) without solving again; ``output`` defaults to reports/<case>.pdf, the case's name made a safe file
    name (:func:`~ecodec.files.safe_file_stem`: a name from the workbook never leads outside reports/).  Returns the
    path written; ``progress`` (a stream) gets a stage line when rendering took over a second."""
    from ecodec.report import write_report

    runs, comparison, summary, seeds = _saved(directory)
    output = Path(output) if output is not None else Path("reports") / f"{safe_file_stem(comparison.case_name)}.pdf"
    check_writable(output, directory=False, what="the report")
    with stage(progress, f"rendering the report {output}"):
        write_report(output, runs, comparison, summary, seeds)
    return output


def export_saved_figures(directory: str | Path, target: str | Path, fmt: str = "pdf", *,
                         progress: TextIO | None = None) -> list[Path]:
    """Write every figure of the report of the runs saved under ``directory`` to the folder ``target``, one
    ``fmt`` file (pdf, svg, png) each (:func:`ecodec.report.export_figures`); returns the paths written."""
    from ecodec.report import export_figures

    runs, comparison, summary, seeds = _saved(directory)
    with stage(progress, f"writing the figures to {target}"):
        return export_figures(target, runs, comparison, summary, seeds, fmt)


def _saved(directory: str | Path):
    """(runs, comparison, case summary, seed runs) saved under ``directory``, the centralized reference first."""
    from ecodec.results import load_case_summary, load_runs, load_seed_runs

    directory = Path(directory)
    if not directory.is_dir():
        raise EcodecError(f"{directory}: not a directory; give the directory written by 'ecodec compare --output'")
    runs = load_runs(directory)
    if runs[0].method != CENTRALIZED:
        raise EcodecError(f"{directory}: holds no centralized run, the reference a report compares against; save "
                          "the runs with 'ecodec compare --output'")
    return runs, compare(runs, runs[0]), load_case_summary(directory), load_seed_runs(directory)


__all__ = ["EVERY_METHOD", "ONLINE_SEEDS", "Study", "compare_case", "export_saved_figures", "load", "method_options",
           "report_saved_runs", "run_case", "solve_case", "stopping_rules", "validate_case"]
