"""The ``ecodec`` command: a thin layer over the library, one call per command.

Every error ecodec knows about is printed as a plain message with a non-zero exit code (2 for bad input,
1 when a solve has no solution, 3 when a rank of an MPI run failed); no traceback reaches the user.  Under MPI
every rank runs the same command; rank 0 alone prints and writes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import sys
from pathlib import Path

from ecodec import __version__
from ecodec.cli_output import EXIT_INTERRUPTED, EXIT_NO_SOLUTION, EXIT_OK, exit_code, print_compare, print_run
from ecodec.errors import CaseError, EcodecError
from ecodec.vocabulary import RESULTS_FORMATS

EXIT_BAD_INPUT = 2
# modules with an ``add_parser(sub)`` that adds an analysis command (one entry per line)
ANALYSIS_COMMANDS: tuple[str, ...] = (
    "ecodec.cli_sensitivity",
    "ecodec.cli_v2g",
)
VERBOSE_HELP = "log progress and solver details (before or after the command)"
RESULTS_FORMAT_HELP = ("what --output holds besides the CSV tables: xlsx, the results workbook for people (the "
                       "default); parquet, one Parquet file per table for other programs; both")


def main(argv: list[str] | None = None) -> int:
    """The ``ecodec`` command's exit code; a Ctrl-C anywhere (even while printing) gives EXIT_INTERRUPTED."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    _check_command(parser, argv)
    args = parser.parse_args(argv)
    from ecodec.runtime import mpi_launched

    if getattr(args, "ranks", None) is not None and not mpi_launched():
        from ecodec.runtime.launcher import launch, without_ranks

        return _guarded(lambda: launch(without_ranks(argv), args.ranks))
    rank = _mpi_rank() if mpi_launched() else None
    if rank is not None:
        from ecodec.runtime.mpi_process import catch_interrupts

        catch_interrupts()  # Ctrl-C must not stop one rank alone: the ranks stop together at an iteration
    if rank:  # every rank runs this command; only rank 0 talks to the user
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _guarded(lambda: args.handler(args), rank)
    finally:
        if rank is not None:
            from ecodec.runtime.status import mark_rank_done

            mark_rank_done(rank)


def _check_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An unknown command gets a "did you mean" (argparse lists the commands but suggests none)."""
    from ecodec.errors import did_you_mean

    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    given = next((a for a in argv if not a.startswith("-")), None)
    if given is not None and given not in commands and not any(a in ("-h", "--help", "--version") for a in argv):
        parser.error(f"unknown command '{given}'{did_you_mean(given, commands)}; commands: {', '.join(commands)}")


def _guarded(command, rank: int | None = None) -> int:
    """Run ``command``; every error ecodec knows becomes a message and an exit code.  Under MPI any other error
    on one rank aborts every rank with one message (instead of leaving the others waiting)."""
    try:
        return command()
    except CaseError as exc:
        for message in exc.messages():
            print(f"error: {message}", file=sys.stderr)
        print(f"{len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''} found; nothing was solved.",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except EcodecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if rank is None:
            raise
        from mpi4py import MPI

        from ecodec.runtime.mpi_process import abort_job

        if isinstance(exc, MPI.Exception):  # a peer died in the middle of a message: the launcher names it
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            abort_job(MPI.COMM_WORLD, f"rank {rank} lost contact with another rank ({first})", lost_peer=True)
        else:
            abort_job(MPI.COMM_WORLD, f"rank {rank} failed: {type(exc).__name__}: {exc}")
        raise


def _mpi_rank() -> int:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecodec", description="Energy communities and microgrids, solved "
                                     "centrally and with distributed algorithms.")
    parser.add_argument("--version", action="version", version=f"ecodec {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in ANALYSIS_COMMANDS:  # the analysis tools: each module registers its command(s)
        importlib.import_module(module).add_parser(sub)

    p = sub.add_parser("validate", help="check a case workbook and list every problem")
    p.add_argument("case", type=Path)
    p.set_defaults(handler=_validate)

    p = sub.add_parser("template", help="write a blank case workbook with a README sheet")
    p.add_argument("output", type=Path)
    p.add_argument("--example", action="store_true", help="fill in the documented example values")
    p.set_defaults(handler=_template)

    p = sub.add_parser("solve", help="solve a case centrally (HiGHS; Ipopt for a market) and write its results "
                                     "workbook")
    p.add_argument("case", type=Path)
    p.add_argument("--output", "-o", type=Path, help="results workbook to write (a name ending in .xlsx), or a "
                   "directory for the run's tables (CSV, summary.json and the --results-format files)")
    p.add_argument("--results-format", choices=RESULTS_FORMATS, default="xlsx", help=RESULTS_FORMAT_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text summary")
    p.add_argument("--time-limit", type=float, dest="time_limit_s", help="solver time limit in seconds")
    p.add_argument("--mip-gap", type=float, dest="mip_rel_gap", help="relative MIP gap (default 1e-4)")
    p.add_argument("--solver", metavar="auto|highs|ipopt|NAME",
                   help="auto (the default: HiGHS, or Ipopt from several starts for a market case), highs (LP, "
                        "MILP), ipopt (continuous problems, exact derivatives) or the name of any installed solver "
                        "of Pyomo's SolverFactory (glpk, cbc, gurobi_direct, ...) for a coupled case")
    p.set_defaults(handler=_solve)

    for name, text in (("run", "solve a case with one method (distributed or centralized) and show how it went"),
                       ("compare", "solve a case with several methods and compare them with the centralized optimum")):
        p = sub.add_parser(name, help=text)
        p.add_argument("case", type=Path)
        if name == "run":
            p.add_argument("--method", "-m",
                           help="method to run (default: primal-decomposition, aggregative-tracking for a market case, "
                                "drs for an online sharing case); see 'ecodec methods'")
            p.add_argument("--no-reference", action="store_true",
                           help="skip the centralized reference solve (no cost gap in the progress and history)")
            p.add_argument("--resume", nargs="?", const=True, metavar="DIR", help="continue the interrupted (or finished) run saved in DIR (default: --output) to the result of a "
                                "run never stopped")
        else:
            p.add_argument("--methods",
                           help="comma-separated methods (default: centralized and primal-decomposition, or "
                                "aggregative-tracking for a market case, drs for an online sharing case)")
            p.add_argument("--seeds", type=int, metavar="R",
                           help="online sharing cases: run every method on R seeds and report means with "
                                "confidence bands (default 10)")
        p.add_argument("--option", "-O", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                       help="a method option, e.g. step_size=500 or primal-decomposition.penalty=2 (repeatable); "
                            "overrides the workbook's 'drivers' sheet")
        p.add_argument("--max-iterations", type=int, help="iteration limit of distributed methods")
        p.add_argument("--tol", type=float, help="relative violation and cost-gap tolerance (default 1e-3)")
        p.add_argument("--output", "-o", type=Path, help="directory for the results (one folder per method)")
        p.add_argument("--results-format", choices=RESULTS_FORMATS, default="xlsx", help=RESULTS_FORMAT_HELP)
        p.add_argument("--report", type=Path, metavar="PDF",
                       help="also write the PDF report comparing the runs, e.g. reports/NAME.pdf")
        p.add_argument("--json", action="store_true", help="print the KPIs per method as JSON (every column)")
        p.add_argument("--wide", action="store_true",
                       help="show every column of the comparison table (by default columns that are 0 or n/a in "
                            "every run are left out)")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
        p.add_argument("--ranks", type=int, metavar="R",
                       help="run the distributed methods on R MPI ranks (starts mpiexec; needs ecodec[mpi])")
        p.set_defaults(handler=_run if name == "run" else _compare)

    p = sub.add_parser("report", help="write the PDF report of runs saved with --output, without solving again; "
                       "--figures: its figures as separate files")
    p.add_argument("runs", type=Path, metavar="RUN_DIR", help="directory written by 'ecodec compare/run --output'")
    p.add_argument("--output", "-o", type=Path, metavar="PDF",
                   help="report to write (default reports/<case>.pdf; with --figures only when given)")
    p.add_argument("--figures", type=Path, metavar="DIR",
                   help="write every figure of the report to DIR as its own file, named by section and content "
                        "(e.g. 03_convergence.pdf, 04_dispatch_active_power.pdf)")
    p.add_argument("--figure-format", choices=["pdf", "svg", "png"], default="pdf",
                   help="file format of --figures: pdf or svg (vector) or png (300 dpi); default pdf")
    p.set_defaults(handler=_report)

    p = sub.add_parser("generate", help="write a generated case workbook (benchmark fleets, the DELTA experiment)")
    p.add_argument("family", choices=["pev", "delta"],
                   help="pev: plug-in EV fleet from the published benchmark distributions; delta: agents with "
                        "quadratic-plus-exponential costs (the DELTA experiment, docs/delta.md)")
    p.add_argument("--n", type=int, required=True, help="number of vehicles (pev) or agents (delta)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    p.add_argument("--variant", choices=["lp", "milp", "v2g"], default="milp",
                   help="lp: continuous charging; milp: on/off charging (default); v2g: on/off charge or discharge")
    p.add_argument("--pmax-per-vehicle", type=float, default=1.0, dest="pmax_per_vehicle_kw", metavar="KW",
                   help="shared connection limit per vehicle in kW (default 1)")
    p.add_argument("--coupling", choices=["feeder", "budget"], default="feeder",
                   help="feeder: a connection limit in every slot (default); budget: one total-energy budget over "
                        "the day (a single scalar row, for dualbi), vehicles valuing the energy they add")
    p.add_argument("--budget-share", type=float, default=0.5, metavar="S",
                   help="with --coupling budget: the budget is the least energy the fleet needs plus S times the "
                        "room above it (0..1, default 0.5)")
    p.add_argument("--output", "-o", type=Path, required=True, help="case workbook to write (.xlsx)")
    p.set_defaults(handler=_generate)

    p = sub.add_parser("methods", help="list the methods and their options with defaults")
    p.set_defaults(handler=_methods)

    p = sub.add_parser("schema-docs", help="print (or write) the workbook reference page")
    p.add_argument("--output", "-o", type=Path)
    p.set_defaults(handler=_schema_docs)
    for p in sub.choices.values():  # -v also after the command; SUPPRESS keeps one given before it
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def _validate(args) -> int:
    from ecodec.study import validate_case

    facts = validate_case(args.case)
    kinds = ", ".join(f"{n} {k}" for k, n in facts["agents_per_kind"].items())
    print(f"{facts['file']}: valid. Case '{facts['case']}', T = {facts['T']} steps of {facts['step_h']:g} h, "
          f"{facts['n_agents']} agents ({kinds}), {facts['coupling']}.")
    return EXIT_OK


def _template(args) -> int:
    from ecodec.io.template import example_tables, write_case_workbook

    if args.output.suffix.lower() != ".xlsx":
        raise EcodecError(f"{args.output}: the template is an .xlsx workbook; give a name ending in .xlsx")
    write_case_workbook(args.output, example_tables() if args.example else None)
    print(f"wrote {args.output}" + (" (example case)" if args.example else " (blank; see its README sheet)"))
    return EXIT_OK


def _solve(args) -> int:
    from ecodec.results.text import text_summary
    from ecodec.study import solve_case

    given = {k: v for k in ("time_limit_s", "mip_rel_gap", "solver") if (v := getattr(args, k)) is not None}
    result = solve_case(args.case, options=given, output=args.output, results_format=args.results_format)
    if args.json:
        summary = result.summary()
        if args.output is not None and result.has_solution:
            summary["results_workbook" if args.output.suffix.lower() == ".xlsx" else "results"] = str(args.output)
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(text_summary(result))
        if args.output is not None and result.has_solution:
            print(f"results written to {args.output}")
    return EXIT_OK if result.has_solution else EXIT_NO_SOLUTION


def _given_options(given: list[str]) -> dict[str, dict[str, str]]:
    """``--option`` values by method: METHOD.KEY=VALUE for that method, KEY=VALUE for every distributed method run
    (or the centralized solve when it runs alone)."""
    from ecodec.study import EVERY_METHOD

    options: dict[str, dict[str, str]] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise EcodecError(f"--option {text!r}: expected KEY=VALUE or METHOD.KEY=VALUE")
        target, _, name = key.strip().rpartition(".")
        options.setdefault(target or EVERY_METHOD, {})[name] = value.strip()
    return options


def _stopping(args) -> dict[str, object]:
    values: dict[str, object] = {}
    if args.max_iterations is not None:
        values["max_iterations"] = args.max_iterations
    if args.tol is not None:
        values.update(violation_tol=args.tol, cost_gap_tol=args.tol)
    return values


def _study_arguments(args) -> dict[str, object]:
    return {"options": _given_options(args.option), "stopping": _stopping(args), "output": args.output,
            "results_format": args.results_format,
            "report": args.report, "progress": None if args.quiet else sys.stderr}


def _run(args) -> int:
    from ecodec.study import run_case

    if args.report is not None and args.no_reference:
        raise EcodecError("--report compares against the centralized reference; drop --no-reference")
    study = run_case(args.case, args.method, reference=not args.no_reference, resume=args.resume,
                     **_study_arguments(args))
    if study is None:  # an MPI rank other than 0
        return EXIT_OK
    print_run(args, study)
    return exit_code(study)


def _compare(args) -> int:
    from ecodec.study import compare_case

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    study = compare_case(args.case, methods, seeds=args.seeds, **_study_arguments(args))
    if study is None:  # an MPI rank other than 0
        return EXIT_OK
    print_compare(args, study)
    return exit_code(study)


def _report(args) -> int:
    from ecodec.study import export_saved_figures, report_saved_runs

    if args.figures is not None:
        written = export_saved_figures(args.runs, args.figures, args.figure_format, progress=sys.stderr)
        print(f"wrote {len(written)} figures to {args.figures}:")
        for path in written:
            print(f"  {path.name}")
        if args.output is None:
            return EXIT_OK
    print(f"wrote {report_saved_runs(args.runs, args.output, progress=sys.stderr)}")
    return EXIT_OK


def _generate(args) -> int:
    from ecodec.io.pev import T_SLOTS, STEP_H, energy_shortfall_kwh, pev_tables
    from ecodec.io.template import write_case_workbook

    if args.output.suffix.lower() != ".xlsx":
        raise EcodecError(f"{args.output}: a case is an .xlsx workbook; give a name ending in .xlsx")
    if args.seed < 0:
        raise EcodecError(f"--seed {args.seed}: expected an integer >= 0")
    if args.family == "delta":
        from ecodec.io.delta import delta_tables

        if args.n < 2:
            raise EcodecError(f"--n {args.n}: expected a number of agents >= 2")
        write_case_workbook(args.output, delta_tables(args.n, args.seed))
        print(f"wrote {args.output}: {args.n} agents with quadratic-plus-exponential costs (seed {args.seed})")
        return EXIT_OK
    if args.n < 1:
        raise EcodecError(f"--n {args.n}: expected a number of vehicles >= 1")
    if not args.pmax_per_vehicle_kw > 0:
        raise EcodecError(f"--pmax-per-vehicle {args.pmax_per_vehicle_kw:g}: expected a power > 0 kW")
    if not 0 <= args.budget_share <= 1:
        raise EcodecError(f"--budget-share {args.budget_share:g}: expected a share from 0 to 1")
    tables = pev_tables(args.n, args.seed, args.variant, args.pmax_per_vehicle_kw, args.coupling, args.budget_share)
    need, available = energy_shortfall_kwh(tables)
    hours = T_SLOTS * STEP_H
    if args.coupling == "budget":
        write_case_workbook(args.output, tables)
        print(f"wrote {args.output}: {args.n} vehicles ({args.variant}), {T_SLOTS} slots of {STEP_H * 60:g} min, "
              f"total-energy budget {available:,.1f} kWh; the targets need {need:,.1f} kWh of it")
        return EXIT_OK
    if need > available:
        raise EcodecError(
            f"the fleet drawn with seed {args.seed} cannot be charged: its {args.n} vehicles must draw {need:,.1f} kWh "
            f"from the shared connection, which delivers {available:,.1f} kWh ({args.pmax_per_vehicle_kw:g} kW per "
            f"vehicle over {hours:g} h); use --pmax-per-vehicle {math.ceil(need / (args.n * hours) * 100) / 100:g} "
            "or more (nothing was written)")
    write_case_workbook(args.output, tables)
    print(f"wrote {args.output}: {args.n} vehicles ({args.variant}), {T_SLOTS} slots of {STEP_H * 60:g} min, "
          f"connection limit {args.pmax_per_vehicle_kw * args.n:g} kW; the fleet needs {need:,.1f} of the "
          f"{available:,.1f} kWh it can deliver ({need / available:.0%})")
    return EXIT_OK


def _methods(args) -> int:
    from ecodec.decomposition import methods_help

    print(methods_help())
    return EXIT_OK


def _schema_docs(args) -> int:
    from ecodec.io.template import schema_markdown

    text = schema_markdown()
    if args.output is None:
        print(text)
    else:
        from ecodec.files import atomic_write

        atomic_write(args.output, lambda tmp: tmp.write_text(text + "\n"))
        print(f"wrote {args.output}")
    return EXIT_OK
