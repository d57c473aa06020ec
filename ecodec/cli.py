"""The ``ecodec`` command: a thin layer over the library, one call per command.

Every error ecodec knows about is printed as a plain message with a non-zero exit code (2 for bad input,
1 when a solve has no solution, 3 when a rank of an MPI run failed); no traceback reaches the user.  Under MPI
every rank runs the same command; rank 0 alone prints and writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path

from ecodec import __version__
from ecodec.errors import CaseError, EcodecError

EXIT_OK, EXIT_NO_SOLUTION, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    from ecodec.runtime import mpi_launched

    if getattr(args, "ranks", None) is not None and not mpi_launched():
        from ecodec.runtime.launcher import launch

        return _guarded(lambda: launch(_without_ranks(argv), args.ranks))
    rank = _mpi_rank() if mpi_launched() else None
    if rank is not None:
        from ecodec.runtime.mpi import catch_interrupts

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
        return 130
    except Exception as exc:
        if rank is None:
            raise
        from mpi4py import MPI

        from ecodec.runtime.mpi import abort_job

        if isinstance(exc, MPI.Exception):  # a peer died in the middle of a message: the launcher names it
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            abort_job(MPI.COMM_WORLD, f"rank {rank} lost contact with another rank ({first})", lost_peer=True)
        else:
            abort_job(MPI.COMM_WORLD, f"rank {rank} failed: {type(exc).__name__}: {exc}")
        raise


def _mpi_rank() -> int:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


def _without_ranks(argv: list[str]) -> list[str]:
    """The command line without its --ranks option (the ranks run the same command in one process each)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--ranks":
            skip = True
        elif not token.startswith("--ranks="):
            out.append(token)
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecodec", description="Energy communities and microgrids, solved "
                                     "centrally and with distributed algorithms.")
    parser.add_argument("--version", action="version", version=f"ecodec {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and solver details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.add_argument("--output", "-o", type=Path, help="results workbook to write (.xlsx)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text summary")
    p.add_argument("--time-limit", type=float, dest="time_limit_s", help="HiGHS time limit in seconds")
    p.add_argument("--mip-gap", type=float, dest="mip_rel_gap", help="relative MIP gap (default 1e-4)")
    p.add_argument("--solver", choices=["auto", "highs", "ipopt"],
                   help="auto (the default: HiGHS, or Ipopt from several starts for a market case), highs (LP, "
                        "MILP) or ipopt (continuous problems, exact derivatives)")
    p.set_defaults(handler=_solve)

    for name, text in (("run", "solve a case with one method (distributed or centralized) and show how it went"),
                       ("compare", "solve a case with several methods and compare them with the centralized optimum")):
        p = sub.add_parser(name, help=text)
        p.add_argument("case", type=Path)
        if name == "run":
            p.add_argument("--method", "-m",
                           help="method to run (default: primal-decomposition, or aggregative-tracking for a market "
                                "case); see 'ecodec methods'")
            p.add_argument("--no-reference", action="store_true",
                           help="skip the centralized reference solve (no cost gap in the progress and history)")
        else:
            p.add_argument("--methods",
                           help="comma-separated methods (default: centralized and primal-decomposition, or "
                                "aggregative-tracking for a market case)")
        p.add_argument("--option", "-O", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                       help="a method option, e.g. step_size=500 or primal-decomposition.penalty=2 (repeatable); "
                            "overrides the workbook's 'drivers' sheet")
        p.add_argument("--max-iterations", type=int, help="iteration limit of distributed methods")
        p.add_argument("--tol", type=float, help="relative violation and cost-gap tolerance (default 1e-3)")
        p.add_argument("--output", "-o", type=Path, help="directory for the results (one folder per method)")
        p.add_argument("--report", type=Path, metavar="PDF",
                       help="also write the PDF report comparing the runs, e.g. reports/NAME.pdf")
        p.add_argument("--json", action="store_true", help="print the KPIs per method as JSON")
        p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
        p.add_argument("--ranks", type=int, metavar="R",
                       help="run the distributed methods on R MPI ranks (starts mpiexec; needs ecodec[mpi])")
        p.set_defaults(handler=_run if name == "run" else _compare)

    p = sub.add_parser("report", help="write the PDF report of runs saved with --output, without solving again")
    p.add_argument("runs", type=Path, metavar="RUN_DIR", help="directory written by 'ecodec compare/run --output'")
    p.add_argument("--output", "-o", type=Path, metavar="PDF",
                   help="report to write (default reports/<case>.pdf)")
    p.set_defaults(handler=_report)

    p = sub.add_parser("generate", help="write a generated case workbook (benchmark fleets)")
    p.add_argument("family", choices=["pev"], help="pev: plug-in EV fleet from the published benchmark distributions")
    p.add_argument("--n", type=int, required=True, help="number of vehicles")
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
    return parser


def _validate(args) -> int:
    from ecodec.io.workbook import read_case
    from ecodec.problem import problem_from_case

    case = read_case(args.case)
    problem = problem_from_case(case)
    problem.centralized_model()  # checks that contributions and resources match
    kinds = {}
    for spec in case.agents:
        kinds[spec.kind] = kinds.get(spec.kind, 0) + 1
    resources = [r.name + (" (over the horizon)" if r.scope == "horizon" else "") for r in case.resources]
    coupling = (f"resources: {', '.join(resources)}" if resources else
                f"a market coupled through the aggregates {', '.join(getattr(problem, 'aggregates', ()))}")
    print(f"{args.case.name}: valid. Case '{case.name}', T = {case.T} steps of {case.step_h:g} h, "
          f"{len(case.agents)} agents ({', '.join(f'{n} {k}' for k, n in kinds.items())}), {coupling}.")
    return EXIT_OK


def _template(args) -> int:
    from ecodec.io.template import example_tables, write_case_workbook

    if args.output.suffix.lower() != ".xlsx":
        raise EcodecError(f"{args.output}: the template is an .xlsx workbook; give a name ending in .xlsx")
    write_case_workbook(args.output, example_tables() if args.example else None)
    print(f"wrote {args.output}" + (" (example case)" if args.example else " (blank; see its README sheet)"))
    return EXIT_OK


def _solve(args) -> int:
    from ecodec.decomposition.centralized import CentralizedOptions, solve_centralized
    from ecodec.results.workbook import write_results_workbook
    from ecodec.io.workbook import read_case
    from ecodec.problem import problem_from_case

    if args.output is not None and args.output.suffix.lower() != ".xlsx":
        raise EcodecError(f"{args.output}: results are written as an .xlsx workbook; give a name ending in .xlsx")
    case = read_case(args.case)
    values = dict(case.driver_options.get("centralized", {}))
    values.update({k: v for k in ("time_limit_s", "mip_rel_gap", "solver") if (v := getattr(args, k)) is not None})
    result = solve_centralized(problem_from_case(case), CentralizedOptions.from_mapping(values))
    if result.has_solution and args.output is not None:
        write_results_workbook(result, args.output)
    if args.json:
        summary = result.summary()
        if args.output is not None and result.has_solution:
            summary["results_workbook"] = str(args.output)
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(_text_summary(result, args.output))
    return EXIT_OK if result.has_solution else EXIT_NO_SOLUTION


def _text_summary(result, output: Path | None) -> str:
    from ecodec.results import kpi

    info = result.info
    lines = [f"case {result.case_name}: {info['n_agents']} agents, {info['problem_class']} with "
             f"{info['n_variables']} variables ({info['n_integer_variables']} integer) and "
             f"{info['n_constraints']} constraints; {info['solver']}"]
    if not result.has_solution:
        lines.append(f"status: {result.status}: {info['message']}")
        return "\n".join(lines)
    lines.append(f"status: {result.status} ({info['message']}), solved in {info['wall_time_s']:.2f} s")
    lines.append(f"total cost: {result.objective:,.2f} {result.currency}")
    lines.append("cost per agent:")
    for row in result.agent_costs.itertuples():
        lines.append(f"  {row.agent:<16} {row.kind:<13} {row.cost:>12,.2f} {result.currency}")
    market = kpi.market_summary(result.dispatch)
    if not market.empty:
        lines.append(f"market (per agent: bid [{result.currency}/kWh], energy received, shortfall [kWh], payment "
                     f"[{result.currency}] | fraction sold, energy sold [kWh], revenue [{result.currency}]):")
        for row in market.itertuples():
            shown = (f"{row.bid:.4f}  {row.energy_received:9.3f}  {row.shortfall:9.3f}  {row.payment:9.3f}"
                     if row.kind == "buyer" else
                     f"{row.fraction_sold:.4f}  {row.energy_sold:9.3f}  {row.revenue:9.3f}")
            lines.append(f"  {row.agent:<16} {row.kind:<8} {shown}")
    if result.coupling.empty:
        return "\n".join(lines + ([f"results written to {output}"] if output is not None else []))
    lines.append("coupling resources (max |residual|, mean dual price):")
    prices = result.coupling.groupby("resource", sort=False)["price"].mean()
    units = result.coupling.groupby("resource", sort=False)["price_unit"].first()
    for name, worst in kpi.max_violation_by_resource(result.coupling).items():
        price = prices[name]
        shown = f"{price:.4f} {units[name]}" if price == price else "n/a (MILP)"
        lines.append(f"  {name:<16} {worst:.2e}   {shown}")
    if output is not None:
        lines.append(f"results written to {output}")
    return "\n".join(lines)


def _method_options(case, method: str, given: list[str], methods: list[str]):
    """Options of ``method``: the workbook's 'drivers' rows, then ``--option`` values.

    METHOD.KEY=VALUE applies to that method; KEY=VALUE to every distributed method run (or to the centralized
    solve when it is the only method)."""
    from ecodec.decomposition import options_for

    values = dict(case.driver_options.get(method, {}))
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise EcodecError(f"--option {text!r}: expected KEY=VALUE or METHOD.KEY=VALUE")
        target, dot, name = key.strip().rpartition(".")
        if dot and target not in methods:
            raise EcodecError(f"--option {text!r}: '{target}' is not one of the methods run ({', '.join(methods)})")
        applies = target == method if dot else (method != "centralized" or methods == ["centralized"])
        if applies:
            values[name] = value.strip()
    return options_for(method, values)


def _stopping(args, case):
    """The stopping rules: the workbook's 'drivers' rows of driver 'stopping', then --max-iterations and --tol."""
    from ecodec.decomposition import StoppingRules

    values = dict(case.driver_options.get("stopping", {}))
    if args.max_iterations is not None:
        values["max_iterations"] = args.max_iterations
    if args.tol is not None:
        values.update(violation_tol=args.tol, cost_gap_tol=args.tol)
    return StoppingRules.from_mapping(values)


def _solve_methods(args, methods: list[str]):
    """Read the case, solve the reference and every method; returns (runs, comparison or None)."""
    from ecodec.decomposition import (CENTRALIZED, METHODS, CheckpointHook, ProgressHook, check_method_fits,
                                      default_method, run)
    from ecodec.io.workbook import read_case
    from ecodec.network import network_from_case
    from ecodec.problem import problem_from_case
    from ecodec.results import compare
    from ecodec.runtime import is_root_process

    if args.report is not None and args.report.suffix.lower() != ".pdf":
        raise EcodecError(f"{args.report}: a report is a PDF file; give a name ending in .pdf")
    if args.report is not None and getattr(args, "no_reference", False):
        raise EcodecError("--report compares against the centralized reference; drop --no-reference")
    unknown = [m for m in methods if m is not None and m not in METHODS]
    if unknown:
        raise EcodecError(f"unknown method(s) {', '.join(unknown)}; ecodec knows: {', '.join(METHODS)}")
    case = read_case(args.case)
    problem = problem_from_case(case)
    network = network_from_case(case)
    methods = [default_method(problem) if m is None else m for m in methods]  # None: the case's usual method
    for method in methods:
        check_method_fits(method, problem)  # before any solve
    options = {m: _method_options(case, m, args.option, methods) for m in methods}
    stopping = _stopping(args, case)
    reference = None
    if CENTRALIZED in methods or not getattr(args, "no_reference", False):
        reference = run(problem, network, CENTRALIZED, options.get(CENTRALIZED) or _method_options(
            case, CENTRALIZED, [], [CENTRALIZED]))
        if not reference.has_solution:
            print(f"centralized reference: {reference.info['message']}", file=sys.stderr)
            reference = None if CENTRALIZED not in methods else reference
    runs = [reference] if CENTRALIZED in methods and reference is not None else []
    root = is_root_process()  # under MPI every rank runs the methods; rank 0 reports and writes
    for method in methods:
        if method == CENTRALIZED:
            continue
        hooks = [] if args.quiet or not root else [ProgressHook(sys.stderr)]
        if args.output is not None and root:
            hooks.append(CheckpointHook(args.output / "checkpoints" / f"{method}_history.csv"))
        runs.append(run(problem, network, method, options[method], stopping, hooks,
                        reference if reference is not None and reference.has_solution else None))
    if not root:
        return None, None
    comparison = compare(runs, reference) if reference is not None and reference.has_solution else None
    from ecodec.results import case_summary

    summary = case_summary(problem, network)
    if args.output is not None:
        from ecodec.results import save_runs

        save_runs(runs, args.output, comparison, summary=summary)
    if args.report is not None:
        if comparison is None:
            raise EcodecError(f"{args.report}: no report written: the centralized reference has no solution, so "
                              "there is nothing to compare against")
        from ecodec.report import write_report

        write_report(args.report, runs, comparison, summary)
    return runs, comparison


def _run(args) -> int:
    from ecodec.decomposition import CENTRALIZED

    methods = [args.method] if args.method == CENTRALIZED else (
        [args.method] if args.no_reference else [CENTRALIZED, args.method])
    runs, comparison = _solve_methods(args, methods)
    if runs is None:  # an MPI rank other than 0
        return EXIT_OK
    result = runs[-1]
    if args.json:
        print(json.dumps(comparison.to_json_dict() if comparison is not None else {result.method: result.summary()},
                         indent=2, default=str))
    else:
        if comparison is not None:
            print(comparison.format_table())
        else:
            print(f"{result.method}: {result.status}: {result.info.get('message', '')}; total cost "
                  f"{result.objective:,.2f} {result.currency}" if result.has_solution else
                  f"{result.method}: {result.status}: {result.info.get('message', '')}")
        if args.output is not None:
            print(f"results written to {args.output}")
        if args.report is not None:
            print(f"report written to {args.report}")
    return EXIT_OK if result.has_solution else EXIT_NO_SOLUTION


def _compare(args) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else [None]
    if "centralized" not in methods:
        methods.insert(0, "centralized")
    runs, comparison = _solve_methods(args, methods)
    if runs is None:  # an MPI rank other than 0
        return EXIT_OK
    if comparison is None:
        raise EcodecError("the centralized reference has no solution, so there is nothing to compare against")
    if args.json:
        print(json.dumps(comparison.to_json_dict(), indent=2, default=str))
    else:
        print(comparison.format_table())
        if args.output is not None:
            print(f"results written to {args.output}")
        if args.report is not None:
            print(f"report written to {args.report}")
    return EXIT_OK if all(r.has_solution for r in runs) else EXIT_NO_SOLUTION


def _report(args) -> int:
    from ecodec.decomposition import CENTRALIZED
    from ecodec.report import write_report
    from ecodec.results import compare, load_case_summary, load_runs

    if not args.runs.is_dir():
        raise EcodecError(f"{args.runs}: not a directory; give the directory written by 'ecodec compare --output'")
    runs = load_runs(args.runs)
    if runs[0].method != CENTRALIZED:
        raise EcodecError(f"{args.runs}: holds no centralized run, the reference a report compares against; save "
                          "the runs with 'ecodec compare --output'")
    comparison = compare(runs, runs[0])
    output = args.output or Path("reports") / f"{comparison.case_name}.pdf"
    write_report(output, runs, comparison, load_case_summary(args.runs))
    print(f"wrote {output}")
    return EXIT_OK


def _generate(args) -> int:
    from ecodec.io.pev import T_SLOTS, STEP_H, energy_shortfall_kwh, pev_tables
    from ecodec.io.template import write_case_workbook

    if args.output.suffix.lower() != ".xlsx":
        raise EcodecError(f"{args.output}: a case is an .xlsx workbook; give a name ending in .xlsx")
    if args.n < 1:
        raise EcodecError(f"--n {args.n}: expected a number of vehicles >= 1")
    if args.seed < 0:
        raise EcodecError(f"--seed {args.seed}: expected an integer >= 0")
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
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
        print(f"wrote {args.output}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
