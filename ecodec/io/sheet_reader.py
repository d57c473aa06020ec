"""Cells and rows of a table sheet, parsed and checked against their declarations, every problem collected.

:class:`SheetReader` is the part of the workbook reader (:mod:`ecodec.io.workbook`) that knows no particular
sheet: it maps a header to the declared columns (reporting missing, unknown and repeated ones), parses each cell
with :meth:`Declared.parse <ecodec.declarations.Declared.parse>` (a profile cell may also name a ``timeseries``
column), checks it against its bounds and checks each row's rules with :func:`ecodec.declarations.check_rules`.
Every problem becomes an :class:`~ecodec.errors.InputIssue` with its sheet, Excel row (the header is row 1),
column and value.
"""

from __future__ import annotations

import difflib
import math
from datetime import date, datetime, time

import numpy as np

from ecodec.declarations import INTEGER, NUMBER, Declared, check_rules, parse_number
from ecodec.errors import NO_VALUE, InputIssue
from ecodec.io.schema import SheetSpec

#: A cell that is absent (its column is missing) or invalid (already reported)
MISSING = object()


class SheetReader:
    """Parses the raw rows of a workbook's sheets (``tables``: sheet name -> rows of cell values), collecting
    issues; ``T``, ``step_h`` and ``profiles`` are filled in by the reader as it learns them."""

    def __init__(self, tables: dict[str, list[tuple]]):
        self.tables = tables
        self.issues: list[InputIssue] = []
        self.T: int | None = None
        self.step_h: float | None = None
        self.profiles: dict[str, np.ndarray] = {}

    def issue(self, sheet, row, column, value, expected) -> None:
        self.issues.append(InputIssue(sheet, row, column, value, expected))

    # -- table sheets ------------------------------------------------------------------------------------
    def _header(self, spec: SheetSpec) -> dict[str, int] | None:
        """Map column name -> index for a table sheet, reporting missing and unknown columns."""
        rows = self.tables.get(spec.name)
        if rows is None:
            return None
        header = rows[0] if rows else ()
        index: dict[str, int] = {}
        for i, name in enumerate(header):
            if name is None:
                continue
            name = str(name)
            if name in index:
                self.issue(spec.name, 1, name, name, "each column header once")
            elif name not in spec.column_names:
                close = difflib.get_close_matches(name, spec.column_names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.issue(spec.name, 1, name, name, "one of the columns " + ", ".join(spec.column_names) + hint)
            else:
                index[name] = i
        for col in spec.columns:
            if col.required and col.default is None and col.name not in index:
                self.issue(spec.name, 1, col.name, NO_VALUE, f"a column '{col.name}' ({col.description})")
        return index

    def records(self, spec: SheetSpec):
        """Yield (excel_row, {column: raw value or MISSING}) for the non-empty data rows of a table sheet."""
        index = self._header(spec)
        if index is None:
            return
        for offset, row in enumerate(self.tables[spec.name][1:], start=2):
            if all(v is None for v in row):
                continue
            record = {}
            for col in spec.columns:
                i = index.get(col.name)
                record[col.name] = MISSING if i is None else (row[i] if i < len(row) else None)
            yield offset, record

    def row_values(self, spec: SheetSpec, row: int, record: dict) -> dict | None:
        """The parsed values of one row, or None when a cell or a rule of the row was reported."""
        values = {c.name: self.cell(spec.name, row, c, record[c.name]) for c in spec.columns}
        horizon = {"T": self.T or 1, "step_h": self.step_h or 1.0}  # rules may read the case's horizon
        invalid = {name for name, value in values.items() if value is MISSING}
        for column, value, expected in check_rules(spec.rules, values, horizon, invalid):
            self.issue(spec.name, row, column, record[column] if isinstance(value, np.ndarray) else value, expected)
            values[column] = MISSING
        return None if any(v is MISSING for v in values.values()) else values

    # -- cells -------------------------------------------------------------------------------------------
    def cell(self, sheet: str, row: int, col: Declared, raw, label: str | None = None):
        """Parse one cell; report it (under ``label``, default the column name) and return MISSING if invalid."""
        label = label or col.name
        if raw is MISSING:
            return MISSING if (col.required and col.default is None) else col.default
        if (isinstance(raw, float) and math.isnan(raw)) or _is_error_text(raw):
            self.issue(sheet, row, label, "NaN" if isinstance(raw, float) else raw, col.expected())
            return MISSING
        if raw is None:
            if col.required and col.default is None:
                self.issue(sheet, row, label, None, col.expected())
                return MISSING
            return col.default
        value = self._convert(col, raw)
        if value is MISSING:
            self.issue(sheet, row, label, raw, col.expected() + self._profile_hint(col, raw))
            return MISSING
        if col.dtype in (NUMBER, INTEGER) and not col.in_range(value):
            shown = raw if not isinstance(value, np.ndarray) else f"{raw} (values from {np.min(value):g} " \
                                                                  f"to {np.max(value):g})"
            self.issue(sheet, row, label, shown, col.expected())
            return MISSING
        return value

    def _convert(self, col: Declared, raw):
        if isinstance(raw, (datetime, date, time)) and not (col.dates and isinstance(raw, date)):
            return MISSING  # Excel's reading of text such as 2-1; reported with how to keep the text
        try:
            return col.parse(raw)
        except ValueError:
            if col.profile and isinstance(raw, str) and raw in self.profiles:
                return self.profiles[raw].copy()
            return MISSING

    def _profile_hint(self, col: Declared, raw) -> str:
        if col.profile and isinstance(raw, str) and parse_number(raw) is None:
            names = sorted(self.profiles)
            close = difflib.get_close_matches(raw, names, n=1)
            known = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none defined"
            return (f" (no 'timeseries' column is named '{raw}'"
                    + (f"; did you mean '{close[0]}'?" if close else f"; known profiles: {known}") + ")")
        return ""

    def per_step(self, value) -> np.ndarray:
        """A profile as it is, a number as a profile of T equal values."""
        if isinstance(value, np.ndarray):
            return value
        return np.full(self.T or 1, float(value))


def _is_error_text(raw) -> bool:
    """NaN written as text, or an Excel error value such as #N/A, #DIV/0!, #VALUE!."""
    return isinstance(raw, str) and (raw.lower() == "nan" or (raw.startswith("#") and (raw.endswith(("!", "?"))
                                                                                          or raw == "#N/A")))
