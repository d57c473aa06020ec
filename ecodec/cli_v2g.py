"""``ecodec v2g-profitability CASE``: is V2G with a reserve band more profitable than charging alone?

One call into :func:`ecodec.study.v2g_profitability.v2g_profitability_case`; prints the grid (or ``--json``),
saves the result with ``--output DIR`` and writes the PDF with ``--report FILE.pdf``.  Bad input raises
EcodecError, which the ``ecodec`` command turns into exit code 2.

>>> reserve_prices("0:0.02:3"), reserve_prices("0.01, 0.03")
([0.0, 0.01, 0.02], [0.01, 0.03])
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ecodec.errors import EcodecError


def reserve_prices(text: str) -> list[float]:
    """``a:b:n`` (n evenly spaced prices from a to b) or a comma-separated list, in currency per kW and hour."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 1:
                raise ValueError
            return [float(v) for v in np.linspace(float(start), float(stop), int(count))]
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise EcodecError(f"--prices {text!r}: expected a:b:n (n >= 1 prices from a to b) or a comma-separated "
                          "list of prices per kW and hour") from None


def add_parser(sub) -> None:
    p = sub.add_parser("v2g-profitability", help="expected profit of V2G with a reserve band against charge-only "
                       "operation, over a grid of reserve prices, with the closed-form boundary")
    p.add_argument("case", type=Path, help="a fleet workbook (sheet 'evs'), e.g. from 'ecodec generate pev'")
    p.add_argument("--prices", help="reserve prices per kW and hour: a:b:n or a list (default: 21 prices from 0 to 3 "
                   "times the closed-form boundary)")
    p.add_argument("--scenarios", type=int, help="sampled activation scenarios S (default 1000 with the robust "
                   "policy, 20 with recourse)")
    p.add_argument("--seed", type=int, default=0, help="seed of the activation draw (default 0)")
    p.add_argument("--policy", choices=["robust", "recourse"], default="robust",
                   help="robust: schedule and band fixed day-ahead, departure energy met whatever the activation "
                        "(default); recourse: two-stage, the schedule re-planned in each scenario")
    p.add_argument("--up-probability", type=float, default=0.2, help="probability of an upward activation per "
                   "slot (default 0.2)")
    p.add_argument("--down-probability", type=float, default=0.2, help="probability of a downward activation per "
                   "slot (default 0.2)")
    p.add_argument("--activation-fraction", type=float, default=0.5, help="share of the band an activation calls "
                   "(default 0.5)")
    p.add_argument("--antithetic", action="store_true", help="mirror every drawn scenario (symmetric activation)")
    p.add_argument("--vehicles", type=int, help="study only the first N vehicles")
    p.add_argument("--output", "-o", type=Path, metavar="DIR", help="folder for the result (JSON and CSV)")
    p.add_argument("--report", type=Path, metavar="FILE.pdf", help="write the PDF report")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ecodec.study.v2g_profitability import V2GOptions, v2g_profitability_case

    from ecodec.files import check_writable

    if args.report is not None and args.report.suffix.lower() != ".pdf":
        raise EcodecError(f"--report {args.report}: a report is a PDF file; give a name ending in .pdf")
    if args.output is not None:  # every output checked before anything is solved
        check_writable(args.output, directory=True, what="the V2G result")
    if args.report is not None:
        check_writable(args.report, directory=False, what="the report")
    options = V2GOptions(scenarios=args.scenarios, seed=args.seed, policy=args.policy,
                         up_probability=args.up_probability, down_probability=args.down_probability,
                         activation_fraction=args.activation_fraction, antithetic=args.antithetic,
                         max_vehicles=args.vehicles)
    prices = reserve_prices(args.prices) if args.prices is not None else None
    result = v2g_profitability_case(args.case, prices, options)
    written = []
    if args.output is not None:
        written.append(str(result.save(args.output)))
    if args.report is not None:
        from ecodec.report.v2g_section import write_v2g_report

        written.append(str(write_v2g_report(result, args.report)))
    if args.json:
        summary = result.summary()
        summary["written"] = written
        print(json.dumps(summary, indent=2, default=str))
        return 0
    from ecodec.report.v2g_section import grid_rows

    rows = grid_rows(result)  # the report's table, so both show the same digits
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    print(f"{result.case}: expected fleet profit ({result.currency}) against the reserve price "
          f"({result.currency}/(kW h))")
    for row in rows:
        print("  " + "  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
    print(f"boundary reserve price: closed form {result.boundary_closed_form:.6g}, optimization "
          f"{result.boundary_optimization:.6g} {result.currency}/(kW h); verdicts agree at {result.agreement:.0%} "
          f"of {len(result.reserve_prices)} prices ({result.vehicles} vehicles, {result.runtime_s:.1f} s)")
    for path in written:
        print(f"wrote {path}")
    return 0
