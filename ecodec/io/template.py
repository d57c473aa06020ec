"""Write case workbooks from the schema: the blank template, the example, and any case built in code.

:func:`write_case_workbook` is the one writer of case workbooks: ``ecodec template`` calls it with no rows
(or with the schema's example rows), and ``scripts/build_cases.py`` with the shipped cases' rows.  Every
workbook gets a README sheet documenting each sheet and column (type, unit, required, default, allowed
values, description, example) generated from :func:`ecodec.io.schema.sheets`; :func:`schema_markdown` renders the
same declaration as the docs page ``docs/workbook.md``.
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ecodec.io import schema
from ecodec.io.schema import README_SHEET, Column, SheetSpec, sheets
from ecodec.files import atomic_write

README_HEADER = ("sheet", "column", "type", "unit", "required", "default", "allowed", "description", "example")
EXAMPLES_TITLE = "Example rows of sheet"


def write_case_workbook(path: str | Path, tables: dict[str, list[dict]] | None = None) -> Path:
    """Write a case workbook: a README sheet, then every sheet of the schema with the rows given.

    ``tables`` maps a sheet name to a list of rows (dicts by column name; for ``meta`` one dict of key ->
    value; for ``timeseries`` dicts with 't' and profile names).  Sheets without rows get their header only.
    The file appears whole or not at all.
    """
    tables = tables or {}
    specs = sheets()
    unknown = set(tables) - {s.name for s in specs}
    if unknown:
        raise ValueError(f"unknown sheets {sorted(unknown)}")

    def write(tmp: Path) -> None:
        wb = Workbook()
        readme = wb.active
        readme.title = README_SHEET
        _write_readme(readme)
        for spec in specs:
            _write_sheet(wb.create_sheet(spec.name), spec, tables.get(spec.name, []))
        buffer = io.BytesIO()  # the package built in memory, written in one call (see results/workbook.py)
        wb.save(buffer)
        tmp.write_bytes(buffer.getvalue())

    return atomic_write(path, write)


def example_tables() -> dict[str, list[dict]]:
    """The schema's documented example rows, sheet by sheet (a small valid case)."""
    return {spec.name: [dict(row) for row in spec.examples] for spec in sheets()}


def _write_sheet(ws, spec: SheetSpec, rows: list[dict]) -> None:
    bold = Font(bold=True)
    if spec.layout == "keyvalue":
        _append(ws, ["key", "value", "unit", "description"])
        values = rows[0] if rows else {}
        for col in spec.columns:
            _append(ws, [col.name, _cell(values.get(col.name)), col.unit, col.description])
    else:
        names = list(spec.column_names)
        if spec.layout == "timeseries":
            for row in rows:
                names += [k for k in row if k not in names]
        _append(ws, names)
        for row in rows:
            _append(ws, [_cell(row.get(name)) for name in names])
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    for i in range(1, ws.max_column + 1):
        ws.column_dimensions[get_column_letter(i)].width = 16


def _write_readme(ws) -> None:
    bold = Font(bold=True)
    _append(ws, ["ecodec case workbook"])
    ws["A1"].font = Font(bold=True, size=14)
    _append(ws, ["One sheet per part of the case. Units live in column names; prices are in the currency of "
               "meta 'currency'. A cell marked 'profile' may hold a number or the name of a 'timeseries' column. "
               "Check a filled workbook with: ecodec validate CASE.xlsx"])
    _append(ws, [])
    _append(ws, list(README_HEADER))
    for cell in ws[ws.max_row]:
        cell.font = bold
    specs = sheets()
    for spec in specs:
        for layout in (spec, spec.alternative) if spec.alternative else (spec,):
            _append(ws, [spec.name, "", "sheet" if layout is spec else f"layout '{layout.columns[0].name}'", "",
                         "yes" if spec.required else "no", "", "", layout.description, ""])
            for col in layout.columns:
                _append(ws, [spec.name, *_readme_cells(col, layout)])
    for spec in specs:
        if not spec.examples:
            continue
        _append(ws, [])
        _append(ws, [f"{EXAMPLES_TITLE} '{spec.name}'"])
        ws[ws.max_row][0].font = bold
        if spec.layout == "keyvalue":
            _append(ws, ["key", "value"])
            for key, value in spec.examples[0].items():
                _append(ws, [key, _cell(value)])
        else:
            names = list(dict.fromkeys(k for row in spec.examples for k in row))
            _append(ws, names)
            for row in spec.examples:
                _append(ws, [_cell(row.get(n)) for n in names])
    for letter, width in zip("ABCDEFGHI", (14, 28, 10, 14, 9, 10, 34, 70, 14)):
        ws.column_dimensions[letter].width = width


def _readme_cells(col: Column, spec: SheetSpec) -> list:
    allowed = col.range_text() if col.dtype in ("number", "integer") else (
        ", ".join(col.choices) if col.choices else "")
    if col.aliases:
        allowed += " (also " + ", ".join(f"{a} for {b}" for a, b in col.aliases) + ")"
    if col.profile:
        allowed = (allowed + "; " if allowed else "") + "number or profile"
    example = spec.examples[0].get(col.name) if spec.examples else None
    return [col.name, col.dtype, col.unit, "yes" if col.required and col.default is None else "no",
            _cell(col.default), allowed, col.description, _cell(example)]


def _append(ws, values: list) -> None:
    """Append a row; text starting with '=' (a sense such as '==') is stored as text, not as a formula."""
    ws.append(values)
    formula_like = [i for i, v in enumerate(values) if isinstance(v, str) and v.startswith("=")]
    if formula_like:  # looked up only then: openpyxl's max_row scans every cell of the sheet
        row = ws[ws.max_row]
        for i in formula_like:
            row[i].data_type = "s"


def _cell(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def schema_markdown() -> str:
    """The docs page describing every sheet and column (``docs/workbook.md``)."""
    lines = ["# The case workbook", "",
             "Generated from `ecodec/io/schema.py` and the agent classes in `ecodec/models/` by `ecodec schema-docs`; "
             "do not edit by hand.", "",
             "A case is one `.xlsx` workbook. `ecodec template OUT.xlsx` writes a blank one with a README sheet "
             "holding this page; `ecodec template OUT.xlsx --example` writes a small valid case; "
             "`ecodec validate CASE.xlsx` lists every problem with its sheet, row, column and value.", "",
             "Cells marked *profile* hold a number or the name of a column of the `timeseries` sheet.", ""]
    for spec in sheets():
        lines += [f"## `{spec.name}`{'' if spec.required else ' (optional)'}", "", spec.description, "",
                  "| column | type | unit | required | default | allowed | description |",
                  "|---|---|---|---|---|---|---|"]
        for col in spec.columns:
            cells = _readme_cells(col, spec)[:-1]
            lines.append("| " + " | ".join("" if c is None else str(c).replace("|", "\\|") for c in cells) + " |")
        for rule in spec.rules:
            lines.append(f"\nRule: {rule.expected} (reported at column `{rule.columns[0]}`).")
        lines.append("")
        if spec.alternative is not None:
            lines += _alternative_markdown(spec.alternative)
    return "\n".join(lines + _limits_markdown())


def _alternative_markdown(spec: SheetSpec) -> list[str]:
    """Another layout of a sheet (the timeseries sheet naming files): its description, columns and example rows."""
    lines = [f"### `{spec.name}` naming files", "", spec.description, "",
             "| column | type | unit | required | default | allowed | description |", "|---|---|---|---|---|---|---|"]
    for col in spec.columns:
        cells = _readme_cells(col, spec)[:-1]
        lines.append("| " + " | ".join("" if c is None else str(c).replace("|", "\\|") for c in cells) + " |")
    names = list(spec.column_names)
    lines += ["", "For example:", "", "| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(str(row.get(n, "")) for n in names) + " |" for row in spec.examples]
    return lines + [""]


def _limits_markdown() -> list[str]:
    """What ecodec refuses to read, with the limits of :mod:`ecodec.io.schema` (the same numbers the checks use)."""
    mib = 2**20
    return ["## Reading limits", "",
            "A workbook is untrusted input: ecodec reads it within fixed limits, so that what reading costs follows "
            "what the workbook holds, never what it declares (a sheet's `<dimension>` is ignored: a stale one loses "
            "no row, an inflated one costs nothing). Past a limit the workbook is refused with the sheet named:", "",
            f"- at most {schema.MAX_FILE_BYTES // mib} MiB on disk, {schema.MAX_UNCOMPRESSED_BYTES // mib} MiB "
            f"unpacked and {schema.MAX_PACKAGE_PARTS} parts in the package;",
            f"- a value at most in row {schema.MAX_ROWS_PER_SHEET} and column {schema.MAX_COLUMNS_PER_SHEET} of a "
            "sheet;",
            f"- at most {schema.MAX_CELLS_PER_WORKBOOK} cells in the workbook, each row counted up to its last "
            f"non-empty cell, {schema.MAX_TEXT_CHARACTERS} characters of text and {schema.MAX_XML_ELEMENTS} XML "
            "elements (cells, rows, formatting) over all sheets;",
            f"- a time-series file the `timeseries` sheet names: at most {schema.MAX_FILE_BYTES // mib} MiB on disk "
            f"(a Parquet file: at most {schema.MAX_UNCOMPRESSED_BYTES // mib} MiB unpacked), rows and columns "
            "within the limits of a sheet, its cells counted with the workbook's; a CSV file is read row by row and "
            "reading stops at a limit, a Parquet file's counts are checked from its metadata before its data is "
            "read.", "",
            "Formulas are not evaluated: the values Excel saved with them are read. A date typed in meta `start` is "
            "read as its text (2019-04-17 00:00). Refused outright: a workbook with macros (a VBA project or macro "
            "sheet, found by its content type or relationship whatever its part is named; save as 'Excel Workbook', "
            "not 'Excel Macro-Enabled Workbook'), an encrypted (password-protected) workbook (save it without a "
            "password), a legacy .xls renamed .xlsx, and XML declaring entities.", ""]
