"""Write a RunResult to a results workbook for people.

Sheets: ``summary`` (key, value, unit: status, objective, KPIs, sizes, timings, solver and versions),
``dispatch`` (one row per step, one column per agent quantity, headers ``agent quantity [unit]``),
``coupling`` (one row per resource and step: lhs, lower, upper, residual, dual price), ``costs`` (per agent),
``dispatch_long`` (the same dispatch as tidy rows, for pivot tables) and, for a distributed run, ``history`` (one
row per iteration).

Every table sheet has its column names in row 1 and their units in row 2 (``kW``, ``EUR``, ``s``; ``see unit``
where a tidy column's unit changes from row to row and stands in the column ``unit`` of the same row; empty for
step numbers, times and names: :func:`ecodec.results.tables.column_units`), the data from row 3, both rows and
the key columns (``t`` and ``time``, the agent, the iteration) frozen, and an autofilter over the units row and
the data (so sorting never moves the units into the data).  Steps have their number ``t`` and, when the case has
a start time, their clock time ``time`` (a date-time cell shown ``yyyy-mm-dd hh:mm``).  Cells hold the values
to 16 significant digits (the CSV tables hold all 17); their number formats only choose what is shown:
``#,##0.00`` for power, energy and money, ``#,##0.0000`` for prices (a unit with ``/``), ``0.00E+00`` for
residuals, violations, gaps and distances, ``0.000`` for seconds, ``0`` for whole numbers (``t``, ``iteration``,
messages), Excel's General for the rest (a method's step sizes).  NaN is an empty cell and an infinite value the
text ``inf`` or ``-inf``.

A summary value longer than an Excel cell holds (a deployment's target and snapshots) is replaced by a note saying
where the whole value is, never cut silently.  Text is always stored as text, never as a formula (an agent named
``=HYPERLINK(...)`` stays a name).  The file appears whole or not at all, so an earlier results workbook is never
left half-written.  The rows are streamed (openpyxl's write-only mode), which keeps large runs quick to write.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ecodec.files import atomic_write
from ecodec.results.run_result import RunResult
from ecodec.results.tables import column_units, with_time

#: The most characters an Excel cell holds
CELL_LIMIT = 32767
AMOUNT, PRICE, SMALL, SECONDS, WHOLE, TIME = "#,##0.00", "#,##0.0000", "0.00E+00", "0.000", "0", "yyyy-mm-dd hh:mm"
#: Columns shown in scientific notation: they matter by their order of magnitude
SCIENTIFIC = {"residual", "max_violation", "rel_violation", "cost_gap", "distance", "certified_gap", "violation",
              "average_rel_violation", "last_rel_violation", "consensus_error", "stationarity"}
_AMOUNT_UNITS = {"W", "kW", "MW", "Wh", "kWh", "MWh", "var", "kvar", "kvarh", "kWth", "kWhth"}
_UNITS = {"objective": "currency", "wall_time_s": "s", "build_time_s": "s", "solve_time_s": "s",
          "objective_bound": "currency"}
_KEYS = {"dispatch": ("t", "time"), "coupling": ("t", "time"), "costs": ("agent",), "dispatch_long": ("t", "time"),
         "history": ("iteration",)}
_SAMPLE = 2000  # rows looked at to size a text column
_HEADER, _UNIT = Font(bold=True), Font(italic=True)


def write_results_workbook(result: RunResult, path: str | Path) -> Path:
    rows = []
    for key, value in result.summary().items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, default=str)
        if isinstance(value, str) and len(value) > CELL_LIMIT:  # Excel would cut it: say so instead
            value = (f"{len(value)} characters, more than a cell holds: see summary.json beside this workbook "
                     f"(ecodec run/compare --output) or RunResult.info['{key}']")
        unit = _UNITS.get(key, "")
        rows.append((key, value, result.currency if unit == "currency" else unit))
    summary = pd.DataFrame(rows, columns=["key", "value", "unit"])
    wide, wide_units = _wide_dispatch(result)
    costs = result.agent_costs.assign(currency=result.currency)
    sheets = [("dispatch", wide, wide_units),
              ("coupling", *_with_units(result, "coupling", result.coupling)),
              ("costs", costs, {**_units_row(result, "agent_costs", costs), "currency": ""}),
              ("dispatch_long", *_with_units(result, "dispatch", result.dispatch))]
    if not result.history.empty:
        sheets.append(("history", *_with_units(result, "history", result.history)))

    def write(tmp: Path) -> None:
        # built in memory and written in one call: a write the disk refuses then fails in that one call, instead of
        # inside a half-written zip package whose clean-up fails again (and is reported as 'Exception ignored')
        book = Workbook(write_only=True)
        buffer = io.BytesIO()
        with _system_errors(book):
            _write_sheet(book, "summary", summary, None, ("key",), result.currency)
            for title, frame, units in sheets:
                _write_sheet(book, title, frame, units, _KEYS[title], result.currency)
            book.save(buffer)
        tmp.write_bytes(buffer.getvalue())

    return atomic_write(path, write)


@contextlib.contextmanager
def _system_errors(book: Workbook):
    """A write the system refuses as an OSError (which :func:`~ecodec.files.atomic_write` reports as such): openpyxl
    streams each sheet through a temporary file, and lxml reports a refused write there as a SerialisationError
    named after the errno ('IO_EFBIG', 'IO_ENOSPC').  After any failure the sheets' streams are closed and their
    temporary files removed here, not left to the garbage collector (which would print 'Exception ignored')."""
    try:
        yield
    except Exception as exc:
        for ws in book.worksheets:
            writer = getattr(ws, "_writer", None)
            with contextlib.suppress(Exception):
                writer.xf.close()
            with contextlib.suppress(Exception):
                writer.cleanup()
        code = getattr(errno, str(exc).removeprefix("IO_"), None) if type(exc).__name__ == "SerialisationError" \
            else None
        if not isinstance(code, int):
            raise
        raise OSError(code, os.strerror(code)) from None


def _with_units(result: RunResult, name: str, table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    timed = with_time(result, table)
    return timed, _units_row(result, name, timed)


def _units_row(result: RunResult, name: str, table: pd.DataFrame) -> dict[str, str]:
    return {column: unit or (f"see {where}" if where else "")
            for column, (unit, where) in column_units(result, name, table).items()}


def _wide_dispatch(result: RunResult) -> tuple[pd.DataFrame, dict[str, str]]:
    dispatch = result.dispatch
    if dispatch.empty:
        frame = with_time(result, pd.DataFrame({"t": pd.Series([], dtype="int64")}))
        return frame, {c: "" for c in frame.columns}
    labels = dispatch["agent"] + " " + dispatch["quantity"] + " [" + dispatch["unit"] + "]"
    order = list(dict.fromkeys(labels))
    wide = dispatch.assign(column=labels).pivot(index="t", columns="column", values="value")[order]
    wide = wide.round(9) + 0.0  # + 0.0 turns -0.0 into 0.0
    wide = wide.reset_index()
    wide.columns.name = None
    units = dict(zip(labels, dispatch["unit"]))
    wide = with_time(result, wide)
    return wide, {c: units.get(c, "") for c in wide.columns}


def _number_format(column: str, unit: str, kind: str, currency: str) -> str | None:
    """The number format of a column of dtype kind ``kind`` (see the module docstring); None: Excel's General."""
    if kind == "M":
        return TIME
    if kind in "iu":
        return WHOLE
    if kind != "f":
        return None
    if column in SCIENTIFIC:
        return SMALL
    if unit == "s":
        return SECONDS
    if "/" in unit or column == "price":
        return PRICE
    if unit in _AMOUNT_UNITS or (currency and unit == currency) or unit.startswith("see "):
        return AMOUNT
    return None


def _write_sheet(book: Workbook, title: str, frame: pd.DataFrame, units: dict[str, str] | None,
                 keys: tuple[str, ...], currency: str) -> None:
    """One table: names, units (when given), the data; frozen panes, autofilter, widths, number formats."""
    ws = book.create_sheet(title)
    columns = [str(c) for c in frame.columns]
    head = 2 if units is not None else 1
    unit_of = units or {}
    frozen = 0
    while frozen < len(columns) and columns[frozen] in keys:
        frozen += 1
    ws.freeze_panes = f"{get_column_letter(frozen + 1)}{head + 1}"  # set before the first row: streamed
    values = [_cell_values(frame.iloc[:, k]) for k in range(len(columns))]
    for k, column in enumerate(columns):
        ws.column_dimensions[get_column_letter(k + 1)].width = _width(column, unit_of.get(column, ""),
                                                                      frame.dtypes.iloc[k].kind, values[k])
    cells = []
    for k, column in enumerate(columns):
        cell = WriteOnlyCell(ws)
        number_format = _number_format(column, unit_of.get(column, ""), frame.dtypes.iloc[k].kind, currency)
        if number_format is not None:
            cell.number_format = number_format
        cells.append((cell, number_format is not None))
    ws.append([_text(ws, c, _HEADER) for c in columns])
    if units is not None:
        ws.append([_text(ws, unit_of.get(c, ""), _UNIT) if unit_of.get(c) else None for c in columns])
    for row in zip(*values):
        out = []
        for (cell, styled), value in zip(cells, row):
            if styled:
                cell.value = value
                if cell.data_type == "f":
                    cell.data_type = "s"
                out.append(cell)
            elif isinstance(value, str) and value.startswith("="):
                out.append(_text(ws, value))
            else:
                out.append(value)
        ws.append(out)
    last = f"{get_column_letter(max(len(columns), 1))}{head + len(frame)}"
    ws.auto_filter.ref = f"A{head}:{last}"


def _cell_values(series: pd.Series) -> list:
    """The values of ``series`` as cells take them: NaN and None empty, infinities as text, times as datetimes."""
    kind = series.dtype.kind
    if kind == "M":
        return [None if pd.isna(v) else v for v in series.dt.to_pydatetime()]
    if kind in "iub":
        return series.tolist()
    values = series.tolist()
    if kind == "f":
        return [v if math.isfinite(v) else (None if v != v else ("inf" if v > 0 else "-inf")) for v in values]
    out = []
    for v in values:
        if isinstance(v, (float, np.floating)) and not math.isfinite(v):
            v = None if v != v else ("inf" if v > 0 else "-inf")
        elif v is pd.NA or v is pd.NaT:
            v = None
        elif isinstance(v, np.generic):
            v = v.item()
        out.append(v)
    return out


def _text(ws, value: str, font: Font | None = None) -> WriteOnlyCell:
    """A cell holding ``value`` as text, even when it starts with '=' (openpyxl would store a formula)."""
    cell = WriteOnlyCell(ws, value)
    if font is not None:
        cell.font = font
    if cell.data_type == "f":
        cell.data_type = "s"
    return cell


def _width(column: str, unit: str, kind: str, values: list) -> float:
    if kind == "M":
        longest = 16
    elif kind in "iufb":
        longest = 12 if kind == "f" else 6
    else:
        longest = max((len(str(v)) for v in values[:_SAMPLE] if v is not None), default=0)
    return float(max(8, min(40, max(len(column), len(unit), longest) + 2)))
