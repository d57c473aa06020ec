"""The cell values of a checked .xlsx package, sheet by sheet, read within a :class:`~ecodec.io.xml_parts.Budget`.

:func:`read_tables` gives what the workbook reader validates: for each sheet, its rows as tuples of cell values
(text stripped, an empty text read as an empty cell), a row ending at its last non-empty cell and the sheet at its
last non-empty row.  Values are what openpyxl's read-only reader gives with cached values (``data_only``):
formulas are never evaluated, a number in a date format is a datetime, a boolean a bool, an error ``#N/A`` text.
Three differences, all deliberate: a sheet's declared ``<dimension>`` is ignored (a stale one cut rows off), a
value right of the column limit is refused instead of cut off, and a number cell holding NaN or infinity is read as
that float, so the reader reports it at its cell instead of the package being "unreadable".

Why not openpyxl's read-only reader, which ecodec used before: it trusts the declared ``<dimension>``, padding
every gap up to it (a 25 KB sheet declaring A1:XFD1048576 took 3.1 GB before any limit could be checked) and
stopping at its last row (a stale one silently dropped agents and edges), and it materialises every empty cell of
a row.  openpyxl's number formats and Excel date conversion are still used here, so values read the same.

Only the sheets the caller asks for are parsed; the others (README, unknown sheets, reported by name) cost
nothing.  Every limit is checked when a value is met: a value below row ``Budget.rows`` or right of column
``Budget.columns`` is refused at once, whatever the sheet declares, and empty cells and rows are never
materialised beyond a row's last value.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, from_ISO8601

from ecodec.errors import NO_VALUE
from ecodec.io.xml_parts import (
    MAIN_NAMESPACES,
    RELATIONSHIP_NAMESPACES,
    Budget,
    PartHandler,
    attribute,
    elements_named,
    parse_part,
    refuse,
    relationships,
)

WORKBOOK_PART = "xl/workbook.xml"
_BOOLEANS = {"1": True, "0": False, "true": True, "false": False}


def _letters(index: int) -> str:
    """Column letters of a 1-based column index (1 -> A, 27 -> AA)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + letters
    return letters


#: column letters -> 1-based index and back, A..XFD (the columns Excel has): one dict look-up per cell reference
COLUMN_LETTERS = {i: _letters(i) for i in range(1, 16385)}
COLUMN_INDEX = {s: i for i, s in COLUMN_LETTERS.items()}


def _tags(*locals_: str) -> dict[str, str]:
    return {f"{ns} {local}": local for ns in MAIN_NAMESPACES for local in locals_}


def read_tables(path: Path, wanted: set[str], budget: Budget) -> dict[str, list[tuple]]:
    """Rows of cell values of each sheet in workbook order; a sheet whose name is not in ``wanted`` (or that is
    not a worksheet) is listed with no rows.  Raises CaseError when a limit is crossed or a cell cannot be read."""
    with zipfile.ZipFile(path) as archive:
        found = elements_named(archive, WORKBOOK_PART, ("sheet", "workbookPr"), budget)
        sheets, properties = found["sheet"], found["workbookPr"]
        epoch = MAC_EPOCH if properties and properties[0].get("date1904") in ("1", "true") else WINDOWS_EPOCH
        rels = {r["Id"]: r for r in relationships(archive, WORKBOOK_PART, budget)}
        parts = {r["Type"].rsplit("/", 1)[-1]: r["Target"] for r in rels.values()}
        strings = _shared_strings(archive, parts.get("sharedStrings"), budget)
        date_styles = _date_styles(archive, parts.get("styles"), budget)
        tables: dict[str, list[tuple]] = {}
        for sheet in sheets:
            name = sheet.get("name", "")
            rel = rels.get(attribute(sheet, "id", RELATIONSHIP_NAMESPACES))
            if rel is None or rel["Target"] not in archive.NameToInfo:
                continue  # a sheet without its part: openpyxl leaves it out too
            if name not in wanted or not rel["Type"].endswith("/worksheet"):
                tables[name] = []
                continue
            handler = _Sheet(name, budget, strings, date_styles, epoch)
            parse_part(archive, rel["Target"], handler, budget, namespaces=False)
            tables[name] = handler.table()
    return tables


class _SharedStrings(PartHandler):
    """``<si>`` items: the text of their ``<t>`` runs, phonetic guides (``<rPh>``) left out, as openpyxl reads them."""

    TAGS = _tags("si", "t", "rPh")

    def __init__(self, budget: Budget):
        super().__init__()
        self.budget = budget
        self.strings: list[str] = []
        self.runs: list[str] = []
        self.text: list[str] | None = None
        self.phonetic = 0

    def start(self, name, attrs):
        self.count += 1
        tag = self.TAGS.get(name)
        if tag == "t" and not self.phonetic:
            self.text = []
        elif tag == "si":
            self.runs = []
        elif tag == "rPh":
            self.phonetic += 1

    def end(self, name):
        tag = self.TAGS.get(name)
        if tag == "t" and self.text is not None:
            self.runs.append("".join(self.text))
            self.text = None
        elif tag == "si":
            self.strings.append("".join(self.runs).replace("x005F_", ""))
        elif tag == "rPh":
            self.phonetic -= 1

    def data(self, text):
        if self.text is not None:
            self.budget.text_used += len(text)
            if self.budget.text_used > self.budget.text:
                raise _text_refused(None, self.budget)
            self.text.append(text)


def _shared_strings(archive: zipfile.ZipFile, part: str | None, budget: Budget) -> list[str]:
    if part is None or part not in archive.NameToInfo:
        return []
    handler = _SharedStrings(budget)
    parse_part(archive, part, handler, budget)
    return handler.strings


class _Styles(PartHandler):
    """The number format of each cell style (``cellXfs``) and the custom formats: which styles show dates."""

    TAGS = _tags("numFmt", "cellXfs", "xf")

    def __init__(self):
        super().__init__()
        self.custom: dict[int, str] = {}
        self.formats: list[int] = []
        self.in_cell_xfs = False

    def start(self, name, attrs):
        self.count += 1
        tag = self.TAGS.get(name)
        if tag == "xf" and self.in_cell_xfs:
            self.formats.append(_int(attrs.get("numFmtId", "0")))
        elif tag == "numFmt":
            self.custom[_int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            self.in_cell_xfs = True

    def end(self, name):
        if self.TAGS.get(name) == "cellXfs":
            self.in_cell_xfs = False
            self.done = True


def _date_styles(archive: zipfile.ZipFile, part: str | None, budget: Budget) -> dict[int, bool]:
    """Style index -> whether it shows a duration, for the styles whose number format shows a date or time."""
    if part is None or part not in archive.NameToInfo:
        return {}
    handler = _Styles()
    parse_part(archive, part, handler, budget)
    found = {}
    for index, format_id in enumerate(handler.formats):
        code = handler.custom.get(format_id, BUILTIN_FORMATS.get(format_id))
        if code is not None and is_date_format(code):
            found[index] = is_timedelta_format(code)
    return found


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _text_refused(sheet: str | None, budget: Budget):
    return refuse(sheet, None, None, NO_VALUE, f"at most {budget.text} characters of text in the workbook's cells "
                  "and shared strings")


class _Sheet(PartHandler):
    """One worksheet's cells: rows of values, kept up to each row's last non-empty cell.

    Only start tags and text are handled (one Python call less per element: this is the hot path, a cell a
    microsecond or two): a cell is complete when the next cell or row starts, or the part ends, and any start
    tag ends the text being collected.  Whitespace a writer puts between ``</v>`` and ``</c>`` joins the value
    and is stripped with it.  The sheet's XML is parsed without namespace processing (``x:c`` is a ``c``).
    """

    __slots__ = ("where", "budget", "strings", "date_styles", "epoch", "rows", "row", "values", "column", "ref",
                 "cell", "raw", "inline", "text", "phonetic")

    def __init__(self, title: str, budget: Budget, strings: list[str], date_styles: dict[int, bool], epoch):
        super().__init__()
        self.where = title
        self.budget = budget
        self.strings = strings
        self.date_styles = date_styles
        self.epoch = epoch
        self.rows: dict[int, list] = {}
        self.row = 0            # index of the current row
        self.values: list = []  # its values so far
        self.column = 0         # column of the current cell; -1: that of ``ref``, not looked up yet
        self.ref = ""
        self.cell: dict | None = None         # the attributes of the cell holding a value not stored yet
        self.raw: list[str] | None = None     # its <v> text
        self.inline: list[list[str]] | None = None  # its inline string runs
        self.text: list[str] | None = None    # where text goes now (a <v>, or a <t> of an inline string)
        self.phonetic = False

    def start(self, name, attrs):
        self.count += 1
        if name == "c":
            if self.raw is not None or self.inline is not None:
                self._store()
            self.cell = attrs
            self.text = None
            ref = attrs.get("r")
            if ref is None:
                if self.column < 0:
                    self.column = self._resolve()
                self.column += 1
            else:
                self.ref, self.column = ref, -1
        elif name == "v":
            self.text = self.raw = []
        elif name == "row":
            self._end_row()
            ref = attrs.get("r")
            try:
                self.row = int(ref) if ref is not None else self.row + 1
            except ValueError:
                self.row = 0
            if self.row < 1:
                raise refuse(self.where, None, None, ref, "a row number >= 1 (the sheet's XML is damaged)")
            self.values = self.rows.pop(self.row, [])  # a row listed twice: its cells are merged, the last wins
            self.column = 0
        elif name == "is":
            self.inline, self.text = [], None
        elif name == "t" and self.inline is not None and not self.phonetic:
            self.text = []
            self.inline.append(self.text)
        elif name == "rPh":
            self.phonetic, self.text = True, None  # phonetic guides follow the runs (CT_Rst) and are left out
        elif ":" in name:
            self.count -= 1
            self.start(name.rpartition(":")[2], attrs)
        else:
            self.text = None

    def data(self, text):
        if self.text is not None:
            budget = self.budget
            budget.text_used += len(text)
            if budget.text_used > budget.text:
                raise _text_refused(self.where, budget)
            self.text.append(text)

    def finish(self) -> None:
        self._end_row()

    def _end_row(self) -> None:
        if self.raw is not None or self.inline is not None:
            self._store()
        if self.values:
            self.rows[self.row] = self.values
            self.values = []

    def _resolve(self) -> int:
        """The column of the last cell reference seen."""
        ref = self.ref
        letters = ref.rstrip("0123456789")
        column = COLUMN_INDEX.get(letters) or COLUMN_INDEX.get(letters.replace("$", "").upper(), 0)
        if not column:
            raise refuse(self.where, self.row, ref, NO_VALUE,
                         f"a cell reference such as B2 within column {COLUMN_LETTERS[self.budget.columns]}")
        return column

    def _store(self) -> None:
        """Keep the value of the cell just read, checking the limits first."""
        value = self._value()
        self.raw = self.inline = self.text = None
        self.phonetic = False
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return
        if self.column < 0:
            self.column = self._resolve()
        budget, column = self.budget, self.column
        if self.row > budget.rows:
            raise refuse(self.where, self.row, None, NO_VALUE, f"at most {budget.rows} rows per sheet")
        if column > budget.columns:
            raise refuse(self.where, self.row, COLUMN_LETTERS.get(column), NO_VALUE,
                         f"at most {budget.columns} columns per sheet (up to column "
                         f"{COLUMN_LETTERS[budget.columns]})")
        values = self.values
        width = len(values)
        if column > width:
            budget.cells_used += column - width
            if budget.cells_used > budget.cells:
                raise refuse(self.where, self.row, None, NO_VALUE,
                             f"at most {budget.cells} cells in the workbook, each row counted up to its last "
                             "non-empty cell")
            values.extend([None] * (column - width))
        values[column - 1] = value

    def _value(self):
        """The cell's value as openpyxl reads it with cached values; text and numbers that cannot be read stay text."""
        kind = self.cell.get("t", "n")
        if kind == "inlineStr":
            return "".join("".join(run) for run in self.inline) if self.inline is not None else None
        raw = "".join(self.raw).strip() if self.raw else None
        if not raw:
            return None
        if kind == "n":
            value = _number(raw)
            style = self.cell.get("s")
            if style is not None and self.date_styles and isinstance(value, (int, float)):
                duration = self.date_styles.get(_int(style))
                if duration is not None:
                    try:
                        return from_excel(value, self.epoch, timedelta=duration)
                    except (OverflowError, ValueError):
                        return "#VALUE!"  # as openpyxl: a serial outside the dates is an error cell
            return value
        if kind == "s":
            try:
                return self.strings[int(raw)]
            except (ValueError, IndexError):
                column = self._resolve() if self.column < 0 else self.column
                raise refuse(self.where, self.row, COLUMN_LETTERS.get(column), raw,
                             f"a shared string index from 0 to {len(self.strings) - 1} (the package is damaged)") \
                    from None
        if kind == "b":
            return _BOOLEANS.get(raw, raw)
        if kind == "d":
            try:
                return from_ISO8601(raw)
            except ValueError:
                return raw
        return raw  # 'str' (a formula's text result), 'e' (an error such as #N/A)

    def table(self) -> list[tuple]:
        """The rows 1..last non-empty, a row absent from the XML as an empty tuple."""
        last = max(self.rows, default=0)
        return [tuple(self.rows[i]) if i in self.rows else () for i in range(1, last + 1)]


def _number(raw: str):
    """A number cell's text as openpyxl casts it (an int unless it has a '.' or an exponent); NaN and infinities
    as floats, for the reader to report at their cell; text that is no number stays text."""
    try:
        return float(raw) if ("." in raw or "e" in raw or "E" in raw) else int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw
