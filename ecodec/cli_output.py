"""What ``ecodec run`` and ``ecodec compare`` print once their runs are done, and the exit code that follows.

The comparison table is compact unless ``--wide`` is given (columns 0 or n/a in every run left out and named,
:meth:`ecodec.results.comparison.Comparison.format_table`); ``--json`` prints every KPI whatever the width.
"""

from __future__ import annotations

import json

from ecodec.vocabulary import INTERRUPTED

EXIT_OK, EXIT_NO_SOLUTION = 0, 1
EXIT_INTERRUPTED = 130  # the shell's convention for a command stopped by Ctrl-C (128 + SIGINT)


def print_run(args, study) -> None:
    """The result of ``ecodec run``: the comparison with the reference (JSON or table), or the run's status and
    cost when it ran without a reference; then the files written."""
    result, comparison = study.runs[-1], study.comparison
    if args.json:
        print(json.dumps(comparison.to_json_dict() if comparison is not None else {result.method: result.summary()},
                         indent=2, default=str))
        return
    if comparison is not None:
        print(comparison.format_table(wide=args.wide))
    else:
        print(f"{result.method}: {result.status}: {result.info.get('message', '')}; total cost "
              f"{result.objective:,.2f} {result.currency}" if result.has_solution else
              f"{result.method}: {result.status}: {result.info.get('message', '')}")
    print_written(study)


def print_compare(args, study) -> None:
    """The result of ``ecodec compare``: the comparison (and the over-seeds table of an online case), JSON or text;
    then the files written."""
    if args.json:
        summary = study.comparison.to_json_dict()
        if study.seeds is not None:
            summary["over_seeds"] = study.seeds.to_json_dict()
        print(json.dumps(summary, indent=2, default=str))
        return
    print(study.comparison.format_table(wide=args.wide))
    if study.seeds is not None:
        print(study.seeds.format_table())
    print_written(study)


def exit_code(study) -> int:
    """130 when a run was interrupted (what it computed is printed and saved), 1 when one has no solution, else 0."""
    if any(r.status == INTERRUPTED for r in study.runs):
        return EXIT_INTERRUPTED
    return EXIT_OK if all(r.has_solution for r in study.runs) else EXIT_NO_SOLUTION


def print_written(study) -> None:
    if "runs" in study.written:
        print(f"results written to {study.written['runs']}")
    if "report" in study.written:
        print(f"report written to {study.written['report']}")
