"""``ecodec sensitivity``: how likely a new agent is to change the others' shares of a resource-sharing LP.

CASE is an EV fleet workbook of continuous-charging vehicles (``ecodec generate pev --n 30 --variant lp``; new
vehicles come from that generator's population) or the word ``cargo`` for the built-in cargo-loading example
(:func:`ecodec.study.sensitivity.cargo_sensitivity`).  One call into :func:`ecodec.study.sensitivity.sensitivity_study`;
bad input exits with code 2 and a message; a Ctrl-C during the Monte-Carlo check keeps (prints, saves)
the draws judged so far and exits with 130.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ecodec.cli_output import EXIT_INTERRUPTED, EXIT_OK


def add_parser(sub) -> None:
    """Add the ``sensitivity`` command to the ``ecodec`` sub-commands."""
    p = sub.add_parser("sensitivity", help="bound and Monte-Carlo check of the chance that a new agent changes the "
                                           "others' shares of a resource-sharing LP (EV fleet or 'cargo')")
    p.add_argument("case", help="EV fleet workbook (.xlsx, variant lp), or 'cargo' for the built-in example")
    p.add_argument("--beta", type=float, default=1e-3, help="confidence parameter: the bound holds with "
                   "confidence 1 - beta (default 1e-3)")
    p.add_argument("--draws", type=int, default=1000, help="new agents drawn for the Monte-Carlo check "
                   "(default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the new agents' draws (default 0)")
    p.add_argument("--items", type=int, default=40, help="with 'cargo': the number of items loaded (default 40)")
    p.add_argument("--output", "-o", type=Path, help="directory to save the result in (JSON and CSV)")
    p.add_argument("--report", type=Path, help="PDF report to write")
    p.add_argument("--json", action="store_true", help="print the result's summary as JSON")
    p.set_defaults(handler=_sensitivity)


def _sensitivity(args) -> int:
    from ecodec.report.sensitivity_section import fact_rows
    from ecodec.study.sensitivity import sensitivity_study

    result, written = sensitivity_study(args.case, beta=args.beta, draws=args.draws, seed=args.seed,
                                        n_items=args.items, output=args.output, report=args.report,
                                        progress=sys.stderr)
    code = EXIT_INTERRUPTED if result.interrupted else EXIT_OK
    if args.json:
        print(json.dumps(result.summary(), indent=2, default=float))
        return code
    width = max(len(label) for label, _ in fact_rows(result))
    print(f"{result.case}: sensitivity to a new agent" + (" (interrupted: the draws judged so far)"
                                                           if result.interrupted else ""))
    for label, value in fact_rows(result):
        print(f"  {label:<{width}}  {value}")
    if "result" in written:
        print(f"result written to {written['result']}")
    if "report" in written:
        print(f"report written to {written['report']}")
    return code
