"""Write a RunResult to a results workbook for people.

Sheets: ``summary`` (key, value, unit: status, objective, KPIs, sizes, timings, solver and versions),
``dispatch`` (one row per step, one column per agent quantity, headers ``agent quantity [unit]``),
``coupling`` (one row per resource and step: lhs, lower, upper, residual, dual price), ``costs`` (per agent),
``dispatch_long`` (the same dispatch as tidy rows, for pivot tables) and, for a distributed run, ``history`` (one
row per iteration).  A summary value longer than an Excel cell holds (a deployment's target and snapshots) is
replaced by a note saying where the whole value is, never cut silently.  Text is always stored as text, never as
a formula (an agent named ``=HYPERLINK(...)`` stays a name).  The file appears whole or not at all, so an earlier
results workbook is never left half-written.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ecodec.files import atomic_write
from ecodec.results.run_result import RunResult

#: The most characters an Excel cell holds
CELL_LIMIT = 32767
_UNITS = {"objective": "currency", "wall_time_s": "s", "build_time_s": "s", "solve_time_s": "s",
          "objective_bound": "currency"}


def write_results_workbook(result: RunResult, path: str | Path) -> Path:
    summary = result.summary()
    rows = []
    for key, value in summary.items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, default=str)
        if isinstance(value, str) and len(value) > CELL_LIMIT:  # Excel would cut it: say so instead
            value = (f"{len(value)} characters, more than a cell holds: see summary.json beside this workbook "
                     f"(ecodec run/compare --output) or RunResult.info['{key}']")
        unit = _UNITS.get(key, "")
        rows.append((key, value, result.currency if unit == "currency" else unit))
    summary_df = pd.DataFrame(rows, columns=["key", "value", "unit"])
    wide = _wide_dispatch(result.dispatch)

    def write(tmp: Path) -> None:
        # built in memory and written in one call: a write the disk refuses then fails in that one call, instead of
        # inside a half-written zip package whose clean-up fails again (and is reported as 'Exception ignored')
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as xl:
            summary_df.to_excel(xl, sheet_name="summary", index=False)
            wide.to_excel(xl, sheet_name="dispatch", index=False)
            result.coupling.to_excel(xl, sheet_name="coupling", index=False)
            result.agent_costs.assign(currency=result.currency).to_excel(xl, sheet_name="costs", index=False)
            result.dispatch.to_excel(xl, sheet_name="dispatch_long", index=False)
            if not result.history.empty:
                result.history.to_excel(xl, sheet_name="history", index=False)
            for ws in xl.book.worksheets:
                _as_text(ws, header_only=ws.title in ("dispatch", "history"))
                ws.freeze_panes = "B2"
                for column in ws.columns:
                    ws.column_dimensions[column[0].column_letter].width = max(
                        10, min(40, len(str(column[0].value or "")) + 2))
        tmp.write_bytes(buffer.getvalue())

    return atomic_write(path, write)


def _as_text(ws, header_only: bool) -> None:
    """Every cell openpyxl took for a formula (text starting with ``=``: an agent or resource name from a workbook)
    stored as the text it is, so that opening results.xlsx never runs it.  ecodec writes no formulas; the numeric
    sheets have text in their header row only."""
    for row in ws.iter_rows(max_row=1 if header_only else None):
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _wide_dispatch(dispatch: pd.DataFrame) -> pd.DataFrame:
    if dispatch.empty:
        return pd.DataFrame({"t": []})
    labels = dispatch["agent"] + " " + dispatch["quantity"] + " [" + dispatch["unit"] + "]"
    order = list(dict.fromkeys(labels))
    wide = dispatch.assign(column=labels).pivot(index="t", columns="column", values="value")[order]
    wide = wide.round(9) + 0.0  # + 0.0 turns -0.0 into 0.0
    wide = wide.reset_index()
    wide.columns.name = None
    return wide
