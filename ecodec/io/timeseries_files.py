"""Time-series profiles read from CSV or Parquet files that the workbook's ``timeseries`` sheet names.

The sheet's layout (declared in :data:`ecodec.io.schema.TIMESERIES_FILES`): ``file`` in A1 and optionally
``profiles`` in B1, then one row per file: its name relative to the workbook's folder and the comma-separated
columns to take from it (empty: all of them).  A file holds the inline sheet's table: a first column ``t``
numbering the steps 1..T in order, or ``time`` holding each step's start time (meta ``start`` + (t - 1) x
``step_h``, :func:`ecodec.time_steps.step_starts`), then one column per profile of T finite numbers.  A CSV file
is UTF-8 (a BOM is allowed), separated by ',' or ';' (whichever the header holds more of), decimal point '.'; it
is read with the :mod:`csv` module as text, so each problem names the file, the CSV line (the header is row 1)
and the column's header with the text found.  A Parquet file holds numeric columns (the times may be its
DatetimeIndex); its rows are numbered the same way (the first data row is row 2).

A file is untrusted input like the workbook: it must lie inside the workbook's folder (no absolute path, no
'..', no link leading out), end in .csv or .parquet, and it is read within the limits of a sheet
(:mod:`ecodec.io.schema`): a CSV is read row by row and reading stops at a limit; a Parquet file's row and
column counts and uncompressed size are checked from its metadata before any data is read.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd

from ecodec.errors import NO_VALUE, InputIssue, did_you_mean
from ecodec.io.schema import (
    MAX_CELLS_PER_WORKBOOK,
    MAX_COLUMNS_PER_SHEET,
    MAX_FILE_BYTES,
    MAX_ROWS_PER_SHEET,
    MAX_UNCOMPRESSED_BYTES,
    TIMESERIES_FILES,
)
from ecodec.time_steps import START_EXAMPLE, step_starts

SUFFIXES = (".csv", ".parquet")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FINITE = "a finite number (decimal point '.')"
_LIMITS = "(a file is read within the limits of a sheet)"


@dataclass
class ProfileFile:
    """What one file holds: its column headers after 't'/'time', the valid profiles among the columns read, the
    problems found (each naming the file) and how many cells were read."""

    columns: list[str] = field(default_factory=list)
    profiles: dict[str, np.ndarray] = field(default_factory=dict)
    issues: list[InputIssue] = field(default_factory=list)
    cells: int = 0


def locate(folder: str | Path, name: str) -> Path:
    """The file that ``name`` (a cell of the sheet) names inside ``folder``, resolved; ValueError saying what is
    expected when it is not a file ecodec reads.

    >>> locate("/data", "../x.csv")
    Traceback (most recent call last):
    ValueError: a file name inside the workbook's folder, without '..'
    >>> locate("/data", "/etc/x.csv")
    Traceback (most recent call last):
    ValueError: a file name relative to the workbook's folder, not an absolute path
    """
    text = str(name).strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or PureWindowsPath(text).drive:
        raise ValueError("a file name relative to the workbook's folder, not an absolute path")
    if ".." in pure.parts:
        raise ValueError("a file name inside the workbook's folder, without '..'")
    if pure.suffix.lower() not in SUFFIXES:
        raise ValueError("the name of a .csv or .parquet file")
    root = Path(folder).resolve()
    tried = root / pure
    resolved = tried.resolve()
    if not resolved.is_relative_to(root):
        raise ValueError(f"a file inside the workbook's folder ({tried} is a link to {resolved})")
    if not resolved.is_file():
        raise ValueError(f"an existing file (tried {tried})")
    return resolved


def read_profile_file(path: str | Path, T: int | None = None, start: object = "", step_h: float | None = None,
                      columns: list[str] | None = None, label: str | None = None,
                      max_cells: int = MAX_CELLS_PER_WORKBOOK) -> ProfileFile:
    """Read the profiles of one CSV or Parquet file (layout in the module docstring), checking every cell.

    ``T`` (None: unknown) is the number of steps, ``start`` and ``step_h`` give the step start times a 'time'
    column must hold (``start`` None: unknown, not checked); ``columns`` picks the profiles to read (None: all);
    ``label`` names the file in issues (default: its name).

    >>> import pathlib, tempfile
    >>> pv = pathlib.Path(tempfile.mkdtemp()) / "pv.csv"
    >>> _ = pv.write_text("t;pv_kw\\n1;0.5\\n2;abc\\n")
    >>> print(read_profile_file(pv, T=2).issues[0].message())
    file 'pv.csv', row 3, column 'pv_kw': got 'abc'; expected a finite number (decimal point '.')
    >>> _ = pv.write_text("time,pv_kw\\n2019-04-17 00:00,0.5\\n2019-04-17 00:15,1e-1\\n")
    >>> read_profile_file(pv, T=2, start="2019-04-17 00:00", step_h=0.25).profiles
    {'pv_kw': array([0.5, 0.1])}
    """
    path = Path(path)
    out = ProfileFile()
    label = label or path.name

    def issue(row, column, value, expected) -> None:
        out.issues.append(InputIssue(None, row, column, value, expected, file=label))

    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        issue(None, None, f"{size} bytes", f"at most {MAX_FILE_BYTES} bytes {_LIMITS}")
        return out
    reader = _read_csv if path.suffix.lower() == ".csv" else _read_parquet
    table = reader(path, issue, max_cells)
    if table is None:
        return out
    header, rows, numbers = table
    out.cells = sum(len(cells) for _, cells in rows) + len(header)
    _check_table(out, issue, header, rows, numbers, T, start, step_h, columns)
    return out


def _check_table(out, issue, header, rows, numbers, T, start, step_h, columns) -> None:
    """Check the key column and the profile columns of a table read from a file."""
    key = header[0] if header else None
    if key not in ("t", "time"):
        issue(1, header[0] if header else "A", key, "the header 't' (step numbers) or 'time' (step start "
              "times) in the first column")
        return
    if T is not None and len(rows) != T:
        issue(None, key, f"{len(rows)} rows", f"T = {T} rows of steps (meta 'T')")
    if key == "t":
        _check_steps(issue, rows)
    elif start is not None and T is not None and step_h is not None:
        _check_times(issue, rows, start, step_h, T)
    seen: set[str] = set()
    for c, name in enumerate(header[1:], start=1):
        values = [cells[c] if len(cells) > c else None for _, cells in rows]
        if name is None or name == "":
            if any(v not in (None, "") for v in values):
                issue(1, f"column {c + 1}", None, "a profile name above the values")
            continue
        if name in seen or _NUMBER.fullmatch(name.strip()) or name in ("t", "time"):
            issue(1, name, name, "a unique profile name that is not a number, 't' or 'time'")
            continue
        seen.add(name)
        out.columns.append(name)
        if columns is not None and name not in columns:
            continue
        parsed = [_number(v, numbers) for v in values]
        bad = [(row, v) for (row, _), v, p in zip(rows, values, parsed) if p is None]
        if bad:
            n = len(bad) - 1
            more = f"; {n} more cell{'s' * (n > 1)} of this column {'are' if n > 1 else 'is'} not one either" \
                if n else ""
            row, v = bad[0]
            shown = "NaN" if isinstance(v, float) and math.isnan(v) else (None if v == "" else v)
            issue(row, name, shown, _FINITE + more)
        elif T is None or len(parsed) == T:
            out.profiles[name] = np.asarray(parsed, dtype=float)


def _check_steps(issue, rows) -> None:
    for step, (row, cells) in enumerate(rows, start=1):
        raw = cells[0] if cells else None
        value = _number(raw, True)
        if value != step:
            issue(row, "t", None if raw == "" else raw, f"step number {step} (1..T in order)")
            return


def _check_times(issue, rows, start, step_h, T) -> None:
    starts = step_starts(start, step_h, T)
    if starts is None:
        issue(1, "time", "time", f"a column 't' numbering the steps: a column 'time' needs meta 'start' (the "
              f"start time of step 1, such as {START_EXAMPLE})")
        return
    for step, ((row, cells), expected) in enumerate(zip(rows, starts), start=1):
        raw = cells[0] if cells else None
        stamp = _timestamp(raw)
        if stamp is None or stamp != expected:
            issue(row, "time", None if raw == "" else (str(raw) if isinstance(raw, date) else raw),
                  f"the start time of step {step}, {expected:%Y-%m-%d %H:%M:%S} (meta 'start' + (t - 1) x step_h; "
                  "local time without a zone)")
            return


def _timestamp(raw) -> pd.Timestamp | None:
    try:
        if isinstance(raw, str):
            stamp = pd.Timestamp(datetime.fromisoformat(raw.strip()))
        elif isinstance(raw, (datetime, date)):
            stamp = pd.Timestamp(raw)
        else:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    return stamp if stamp.tzinfo is None else None


def _number(raw, numbers: bool) -> float | None:
    """The finite number a cell holds: CSV text matching a decimal number, or a Parquet number."""
    if isinstance(raw, str):
        value = float(raw) if _NUMBER.fullmatch(raw.strip()) else None
    elif numbers and isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, bool):
        value = float(raw)
    else:
        return None
    return value if value is not None and math.isfinite(value) else None


def _read_csv(path: Path, issue, max_cells: int):
    """(header, [(line, cells)], False) read row by row within the limits, or None after reporting why not."""
    rows: list[tuple[int, list[str]]] = []
    cells = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline(MAX_FILE_BYTES)
            delimiter = ";" if first.count(";") > first.count(",") else ","
            reader = csv.reader(itertools.chain([first], f), delimiter=delimiter)
            header = next(reader, [])
            if len(header) > MAX_COLUMNS_PER_SHEET:
                issue(1, None, f"{len(header)} columns", f"at most {MAX_COLUMNS_PER_SHEET} columns {_LIMITS}")
                return None
            for record in reader:
                if len(rows) + 2 > MAX_ROWS_PER_SHEET:
                    issue(reader.line_num, None, NO_VALUE, f"at most {MAX_ROWS_PER_SHEET} rows {_LIMITS}")
                    return None
                if len(record) > len(header) and any(v.strip() for v in record[len(header):]):
                    issue(reader.line_num, None, f"{len(record)} values",
                          f"at most {len(header)} values, one per column of the header")
                    return None
                cells += len(record)
                if cells > max_cells:
                    issue(reader.line_num, None, NO_VALUE, f"at most {MAX_CELLS_PER_WORKBOOK} cells in the workbook "
                          f"and its files together {_LIMITS}")
                    return None
                rows.append((reader.line_num, record))
    except UnicodeDecodeError as exc:
        issue(None, None, NO_VALUE, f"a UTF-8 text file (byte {exc.start} of a line is not UTF-8)")
        return None
    except csv.Error as exc:
        issue(None, None, NO_VALUE, f"a CSV file ({exc})")
        return None
    while rows and not any(v.strip() for v in rows[-1][1]):
        rows.pop()
    return [h.strip() for h in header], rows, False


def _read_parquet(path: Path, issue, max_cells: int):
    """(header, [(row, cells)], True) with the row and column counts checked from the metadata first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
        n_rows, n_columns = meta.metadata.num_rows, meta.metadata.num_columns
        unpacked = sum(meta.metadata.row_group(i).total_byte_size for i in range(meta.metadata.num_row_groups))
        schema = meta.schema_arrow
    except Exception as exc:  # noqa: BLE001  not a Parquet file, or a damaged one
        issue(None, None, NO_VALUE, f"a Parquet file (pyarrow cannot read it: {exc})")
        return None
    for count, limit, what in ((n_rows + 1, MAX_ROWS_PER_SHEET, "rows"), (n_columns, MAX_COLUMNS_PER_SHEET,
                               "columns"), (n_rows * n_columns, max_cells, "cells"),
                               (unpacked, MAX_UNCOMPRESSED_BYTES, "bytes unpacked")):
        if count > limit:
            issue(None, None, f"{count} {what}", f"at most {limit} {what} {_LIMITS}")
            return None
    wrong = [f for f in schema if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
                                       or pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
                                       or pa.types.is_string(f.type) or pa.types.is_null(f.type))]
    if wrong:
        issue(1, wrong[0].name, NO_VALUE, f"a column of numbers (or times), not of Parquet type {wrong[0].type}")
        return None
    try:
        frame = meta.read().to_pandas()
    except Exception as exc:  # noqa: BLE001
        issue(None, None, NO_VALUE, f"a Parquet file (pyarrow cannot read it: {exc})")
        return None
    header = [str(c) for c in frame.columns]
    data = [frame.iloc[:, i].tolist() for i in range(frame.shape[1])]
    if isinstance(frame.index, pd.DatetimeIndex) or frame.index.name in ("t", "time"):
        header.insert(0, "time" if isinstance(frame.index, pd.DatetimeIndex) else frame.index.name)
        data.insert(0, list(frame.index))
    rows = [(r, [column[r - 2] for column in data]) for r in range(2, len(frame) + 2)]
    return header, rows, True


def read_files_sheet(reader, rows: list[tuple], folder: Path, start: object, cells_used: int = 0) -> list[Path]:
    """Read every file a 'timeseries' sheet of the files layout names into ``reader.profiles`` (a
    :class:`~ecodec.io.sheet_reader.SheetReader`, which collects the issues); return the files read, in order.

    ``start`` is meta 'start' (None when meta 'start' is invalid: times are then not checked); ``cells_used``
    counts the workbook's cells against :data:`~ecodec.io.schema.MAX_CELLS_PER_WORKBOOK`."""
    sheet = TIMESERIES_FILES.name
    read: list[Path] = []
    owner: dict[str, tuple[str, int]] = {}  # profile -> (file named, its sheet row)
    for row, record in reader.records(TIMESERIES_FILES):
        values = reader.row_values(TIMESERIES_FILES, row, record)
        if values is None:
            continue
        name = str(values["file"]).strip()
        try:
            path = locate(folder, name)
        except ValueError as exc:
            reader.issue(sheet, row, "file", values["file"], str(exc))
            continue
        wanted = [p.strip() for p in str(values["profiles"] or "").split(",") if p.strip()] or None
        found = read_profile_file(path, reader.T, start, reader.step_h, wanted, label=name,
                                  max_cells=MAX_CELLS_PER_WORKBOOK - cells_used)
        cells_used += found.cells
        if path not in read:
            read.append(path)
        reader.issues += found.issues
        if found.issues and not found.columns:
            continue
        for profile in wanted or []:
            if profile not in found.columns:
                reader.issue(sheet, row, "profiles", profile, f"a column of file '{name}' (it has "
                             f"{', '.join(found.columns) or 'none'}){did_you_mean(profile, found.columns)}")
        for profile in wanted or found.columns:
            if profile not in found.columns:
                continue
            if profile in owner:
                first, at = owner[profile]
                reader.issues.append(InputIssue(None, 1, profile, profile, f"a profile name used once over all "
                                                f"files; file '{first}' (sheet '{sheet}', row {at}) has it too",
                                                file=name))
                continue
            owner[profile] = (name, row)
            if profile in found.profiles:
                reader.profiles[profile] = found.profiles[profile]
    return read
