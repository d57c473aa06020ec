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
left half-written.

**Large runs.**  A sheet holds at most 1,048,576 rows and 16,384 columns (Excel's limits).  A table longer than
that continues on sheets named after it with ``_2``, ``_3``, ... (``dispatch_long_2`` holds the next rows, with the
same names and units rows), and a wide dispatch of more agent quantities than a sheet has columns continues on
``dispatch_2``, ... (each with the key columns ``t`` and ``time`` again).  The rows are streamed to disk by
XlsxWriter (its constant-memory mode, strings inline), a block of 65,536 rows turned into cell values at a time,
so memory does not grow with the table; it writes a cell in less time than openpyxl's write-only mode did.  Still,
a fleet of 10,000 vehicles makes some 10 million cells: for such runs the CSV tables, or Parquet
(``--results-format parquet``), are written in a small fraction of that time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from ecodec.files import atomic_write
from ecodec.results.run_result import RunResult
from ecodec.results.tables import column_units, with_time

#: The most characters an Excel cell holds
CELL_LIMIT = 32767
#: The most rows and columns a sheet holds
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384
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
_BLOCK = 65_536  # rows turned into cell values at a time
_EXCEL_EPOCH = np.datetime64("1899-12-30")  # day 0 of Excel's 1900 date system (from 1 March 1900 on)


def write_results_workbook(result: RunResult, path: str | Path) -> Path:
    """Write the results workbook of ``result`` to ``path`` (see the module docstring); returns ``path``.

    >>> import pathlib, tempfile, openpyxl
    >>> from ecodec.study import solve_case
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "results.xlsx"
    >>> path = write_results_workbook(solve_case("cases/household_3.xlsx"), target)
    >>> openpyxl.load_workbook(path, read_only=True).sheetnames
    ['summary', 'dispatch', 'coupling', 'costs', 'dispatch_long']
    """
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
        with _book(tmp) as book:
            _write_sheet(book, "summary", summary, None, ("key",), result.currency)
            for title, frame, units in sheets:
                for part, (chunk, chunk_units) in enumerate(_parts(frame, units, _KEYS[title]), start=1):
                    name = title if part == 1 else f"{title}_{part}"
                    _write_sheet(book, name, chunk, chunk_units, _KEYS[title], result.currency)

    return atomic_write(path, write)


@contextlib.contextmanager
def _book(path: Path):
    """An XlsxWriter workbook at ``path`` (closed, i.e. written, when the block ends), streaming each sheet through
    a temporary file in a folder of its own that is removed afterwards, whatever happened.  Text never becomes a
    formula, number or link.  A write the system refuses is an OSError (which
    :func:`~ecodec.files.atomic_write` reports as such), and after any failure every stream is closed here."""
    folder = tempfile.mkdtemp(prefix="ecodec-xlsx-")
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": folder, "strings_to_formulas": False,
                                           "strings_to_numbers": False, "strings_to_urls": False})
    try:
        yield book
        try:
            book.close()
        except FileCreateError as exc:  # XlsxWriter's wrapper of the system's refusal
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
            raise (cause or OSError(errno.EIO, str(exc))) from None
    except BaseException:
        for ws in book.worksheets():
            handle = getattr(ws, "row_data_fh", None)
            with contextlib.suppress(Exception):
                handle.close()
        book.fileclosed = True  # nothing more to write (XlsxWriter would warn when it is collected)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parts(frame: pd.DataFrame, units: dict[str, str] | None, keys: tuple[str, ...]):
    """``frame`` (and its units) cut into pieces that fit a sheet: rows beyond a sheet's last row go to the next
    piece; columns beyond its last column to the next piece, each with the key columns again."""
    head = 2 if units is not None else 1
    columns = [str(c) for c in frame.columns]
    key_count = 0
    while key_count < len(columns) and columns[key_count] in keys:
        key_count += 1
    per_sheet = MAX_COLUMNS - key_count
    column_groups = [list(range(key_count)) + list(range(start, min(start + per_sheet, len(columns))))
                     for start in range(key_count, len(columns), per_sheet)] or [list(range(len(columns)))]
    rows_per_sheet = MAX_ROWS - head
    for group in column_groups:
        piece = frame.iloc[:, group] if len(column_groups) > 1 else frame
        piece_units = None if units is None else {str(c): units.get(str(c), "") for c in piece.columns}
        if len(piece) <= rows_per_sheet:
            yield piece, piece_units
            continue
        for start in range(0, len(piece), rows_per_sheet):
            yield piece.iloc[start:start + rows_per_sheet], piece_units


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


def _write_sheet(book, title: str, frame: pd.DataFrame, units: dict[str, str] | None, keys: tuple[str, ...],
                 currency: str) -> None:
    """One table: names, units (when given), the data; frozen panes, autofilter, widths, number formats."""
    ws = book.add_worksheet(title)
    columns = [str(c) for c in frame.columns]
    head = 2 if units is not None else 1
    unit_of = units or {}
    frozen = 0
    while frozen < len(columns) and columns[frozen] in keys:
        frozen += 1
    ws.freeze_panes(head, frozen)
    kinds = [frame.dtypes.iloc[k].kind for k in range(len(columns))]
    series_of = [frame.iloc[:, k] for k in range(len(columns))]
    first = [_cell_values(series.iloc[:_BLOCK]) for series in series_of]  # also what sizes the columns
    formats = {}
    writers = []
    for k, column in enumerate(columns):
        number_format = _number_format(column, unit_of.get(column, ""), kinds[k], currency)
        if number_format is not None and number_format not in formats:
            formats[number_format] = book.add_format({"num_format": number_format})
        cell_format = formats.get(number_format)
        series = series_of[k]
        ws.set_column(k, k, _width(column, unit_of.get(column, ""), kinds[k], first[k]))
        if kinds[k] in "iuM" or (kinds[k] == "f" and not np.isinf(series.to_numpy()).any()):
            write = ws.write_number
        elif isinstance(series.dtype, pd.StringDtype):
            write = ws.write_string  # text or missing only: no test per cell
        else:
            write = _writer(ws)
        writers.append((k, write, cell_format))
    bold, italic = book.add_format({"bold": True}), book.add_format({"italic": True})
    for k, column in enumerate(columns):  # row by row: a streamed row is final once the next one starts
        ws.write_string(0, k, column, bold)
    for k, column in enumerate(columns if units is not None else []):
        if unit_of.get(column):
            ws.write_string(1, k, unit_of[column], italic)
    for start in range(0, len(frame), _BLOCK):  # a block of rows at a time as Python values: memory stays flat
        values = first if start == 0 else [_cell_values(series.iloc[start:start + _BLOCK]) for series in series_of]
        for r, row in enumerate(zip(*values), start=head + start):
            for (k, write, cell_format), value in zip(writers, row):
                if value is not None:
                    write(r, k, value, cell_format)
    ws.autofilter(head - 1, 0, head - 1 + len(frame), max(len(columns), 1) - 1)


def _writer(ws):
    """Writes one cell of a column of mixed values: numbers as numbers, flags as flags, anything else as text."""
    def write(row: int, column: int, value, cell_format) -> None:
        if isinstance(value, bool):
            ws.write_boolean(row, column, value, cell_format)
        elif isinstance(value, (int, float)):
            ws.write_number(row, column, value, cell_format)
        else:
            ws.write_string(row, column, str(value), cell_format)
    return write


def _cell_values(series: pd.Series) -> list:
    """The values of ``series`` as cells take them: NaN and None empty, infinities as text, times as Excel's day
    numbers (shown as dates by the column's format), numpy scalars as Python ones."""
    kind = series.dtype.kind
    if kind == "M":
        days = (series.to_numpy(dtype="datetime64[ns]") - _EXCEL_EPOCH) / np.timedelta64(1, "D")
        days = np.where(days > 60, days, days - 1)  # Excel counts a 29 February 1900 that never was
        return [None if v != v else v for v in days.tolist()]
    if kind in "iub":
        return series.tolist()
    if kind == "f":
        array = series.to_numpy()
        values = array.tolist()
        bad = np.flatnonzero(~np.isfinite(array))
        for i in bad.tolist():
            v = values[i]
            values[i] = None if v != v else ("inf" if v > 0 else "-inf")
        return values
    out = []
    for v in series.tolist():
        if isinstance(v, (float, np.floating)) and not math.isfinite(v):
            v = None if v != v else ("inf" if v > 0 else "-inf")
        elif v is pd.NA or v is pd.NaT:
            v = None
        elif isinstance(v, np.generic):
            v = v.item()
        out.append(v)
    return out


def _width(column: str, unit: str, kind: str, values: list) -> float:
    if kind == "M":
        longest = 16
    elif kind in "iufb":
        longest = 12 if kind == "f" else 6
    else:
        longest = max((len(str(v)) for v in values[:_SAMPLE] if v is not None), default=0)
    return float(max(8, min(40, max(len(column), len(unit), longest) + 2)))
