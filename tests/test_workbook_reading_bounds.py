"""Reading untrusted workbooks (issue 20, items 1, 2, 13 and 14): bounded by what a sheet holds, never by what it
declares; no row lost to a stale ``<dimension>``; Excel's dates and NaN cells located; macros found by content
type and relationship; an encrypted workbook named as such.

The hostile sheets are written as XML straight into a workbook the template wrote (openpyxl writes sane files
only), at sizes that show each bound in a fraction of a second; the full-size bombs are measured by
``benchmarks/reading_bounds.py``.  Memory is the peak traced by tracemalloc while the workbook is read.
"""

from __future__ import annotations

import datetime
import io
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, unescape

import openpyxl
import pytest

import ecodec.io.untrusted as untrusted
import ecodec.io.workbook as workbook
from ecodec.cli import main
from ecodec.errors import CaseError, WorkbookRejected
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case

ROOT = Path(__file__).resolve().parents[1]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
#: far above what reading a small refused sheet needs, far below what padding to the declared size takes
PEAK_BYTES = 30 * 2**20


# -- building hostile packages ---------------------------------------------------------------------------------
def _sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its part in the package (from the workbook part and its relationships)."""
    with zipfile.ZipFile(path) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target").lstrip("/") for r in rels}
    targets = {k: v if v.startswith("xl/") else "xl/" + v for k, v in targets.items()}
    return {s.get("name"): targets[s.get(f"{{{REL}}}id")] for s in book.iter(f"{{{MAIN}}}sheet")}


def _rewrite(source: Path, target: Path, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> Path:
    """A copy of the package ``source`` with some parts replaced and others added."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, replace.get(item.filename, src.read(item.filename)),
                         compress_type=zipfile.ZIP_DEFLATED)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return target


def _sheet(rows: bytes | str, dimension: str | None = None) -> bytes:
    rows = rows.encode() if isinstance(rows, str) else rows
    dim = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="' + MAIN.encode() + b'">'
            + dim + b"<sheetData>" + rows + b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    return write_case_workbook(tmp_path_factory.mktemp("example") / "example.xlsx", example_tables())


def _hostile(example: Path, tmp_path: Path, sheets: dict[str, bytes], name: str = "hostile.xlsx") -> Path:
    parts = _sheet_parts(example)
    return _rewrite(example, tmp_path / name, {parts[s]: xml for s, xml in sheets.items()})


def _refusal_and_peak(path: Path) -> tuple[list[str], int]:
    """The messages read_case refuses ``path`` with, and the peak memory traced while it read."""
    tracemalloc.start()
    try:
        with pytest.raises(CaseError) as err:
            read_case(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return err.value.messages(), peak


# -- item 1: bounded reading -----------------------------------------------------------------------------------
def test_a_declared_dimension_is_never_padded(example, tmp_path, monkeypatch):
    """A sheet declaring A1:XFD1048576 with one cell in its last row: refused at that row when it is met, naming
    the sheet and the limit, with no empty row or cell built.  (Before: every row up to the limit padded to the
    declared 16384 columns and kept 2000 wide, 3.1 GB at the default limit; here the limit is 20 000 rows so the
    old reader fails this test in seconds.)"""
    monkeypatch.setattr(workbook, "MAX_ROWS_PER_SHEET", 20_000)
    bomb = _sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>from</t></is></c></row>'
                  '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>', dimension="A1:XFD1048576")
    messages, peak = _refusal_and_peak(_hostile(example, tmp_path, {"network": bomb, "drivers": bomb}))
    assert messages == ["hostile.xlsx: sheet 'network', row 1048576: expected at most 20000 rows per sheet"]
    assert peak < PEAK_BYTES, f"{peak / 2**20:.0f} MiB traced"


def test_one_row_of_many_cells_is_refused_at_the_column_limit(example, tmp_path):
    """One row of 300 000 cells (no references, as a writer may omit them): refused at the first value right of
    the column limit.  (Before: the whole row was collected as a list of cell dicts, then silently cut to 2000
    columns.)"""
    row = b'<row r="1">' + b"<c><v>1</v></c>" * 300_000 + b"</row>"
    messages, peak = _refusal_and_peak(_hostile(example, tmp_path, {"network": _sheet(row)}))
    assert messages == ["hostile.xlsx: sheet 'network', row 1, column 'BXY': expected at most 2000 columns per "
                        "sheet (up to column BXX)"]
    assert peak < PEAK_BYTES, f"{peak / 2**20:.0f} MiB traced"


def test_cells_kept_are_counted_up_to_each_rows_last_value(example, tmp_path, monkeypatch):
    """Sparse rows cost what is kept: each row up to its last value.  Ten rows with one value in column 1500 are
    15 000 cells, over a limit of 10 000 although they hold ten values."""
    monkeypatch.setattr(workbook, "MAX_CELLS_PER_WORKBOOK", 10_000)
    rows = "".join(f'<row r="{r}"><c r="BEP{r}"><v>{r}</v></c></row>' for r in range(1, 11))
    messages, _ = _refusal_and_peak(_hostile(example, tmp_path, {"network": _sheet(rows)}))
    assert messages == ["hostile.xlsx: sheet 'network', row 7: expected at most 10000 cells in the workbook, each "
                        "row counted up to its last non-empty cell"]


def test_empty_cells_and_text_are_bounded_too(example, tmp_path, monkeypatch):
    """Empty (styled) cells are never kept but are parsed: XML elements are counted over every part.  Text kept
    is counted in characters."""
    monkeypatch.setattr(workbook, "MAX_XML_ELEMENTS", 50_000)
    empty = _sheet(b'<row r="1">' + b"".join(b'<c r="A1" s="1"/>' for _ in range(60_000)) + b"</row>")
    messages, _ = _refusal_and_peak(_hostile(example, tmp_path, {"network": empty}))
    assert len(messages) == 1 and messages[0].startswith("hostile.xlsx: sheet 'network': expected at most 50000 "
                                                         "XML elements in the workbook's parts")
    monkeypatch.setattr(workbook, "MAX_TEXT_CHARACTERS", 100_000)
    long_text = _sheet(f'<row r="2"><c r="A2" t="inlineStr"><is><t>{"x" * 200_000}</t></is></c></row>')
    messages, _ = _refusal_and_peak(_hostile(example, tmp_path, {"drivers": long_text}, "text.xlsx"))
    assert messages == ["text.xlsx: sheet 'drivers': expected at most 100000 characters of text in the workbook's "
                        "cells and shared strings"]


def test_a_token_expat_would_buffer_whole_is_bounded(example, tmp_path, monkeypatch):
    """A comment (or a tag's attributes) cannot be parsed before its end: it may not exceed the token limit."""
    monkeypatch.setattr(workbook, "MAX_XML_TOKEN_BYTES", 2**20)
    sheet = _sheet(b"<!--" + b"x" * (3 * 2**20) + b"-->")
    messages, peak = _refusal_and_peak(_hostile(example, tmp_path, {"meta": sheet}))
    assert messages == ["hostile.xlsx: sheet 'meta': expected no XML tag, comment or declaration longer than 1 MiB "
                        "(part xl/worksheets/sheet2.xml holds a longer one)"]
    assert peak < PEAK_BYTES


def test_attribute_defaults_declared_in_a_dtd_are_refused(example, tmp_path):
    """``<!ATTLIST c ...>`` would have expat add its defaults to every cell: a few bytes of DTD multiplying the
    work per cell (defusedxml allows it by default, so openpyxl read this sheet)."""
    part = _sheet_parts(example)["network"]
    with zipfile.ZipFile(example) as z:
        xml = z.read(part)
    dtd = b'<!DOCTYPE worksheet [<!ATTLIST c a1 CDATA "x" a2 CDATA "x">]>'
    hostile = _rewrite(example, tmp_path / "attlist.xlsx", {part: dtd + xml[xml.index(b"<worksheet"):]})
    with pytest.raises(WorkbookRejected, match=r"attlist.xlsx: cannot be read as an Excel workbook \(DTDForbidden: "
                                               r".*ATTLIST c a1"):
        read_case(hostile)


def test_a_package_listing_too_many_parts_is_refused_before_its_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(untrusted, "MAX_PACKAGE_PARTS", 100)
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(150):
            z.writestr(f"xl/media/{i}.bin", b"")
    with pytest.raises(WorkbookRejected, match="lists 151 parts .* ecodec accepts at most 100"):
        read_case(path)


def test_the_cli_refuses_a_bomb_with_exit_code_2(example, tmp_path, capsys):
    bomb = _sheet('<row r="1048576"><c r="A1048576"><v>1</v></c></row>', dimension="A1:XFD1048576")
    path = _hostile(example, tmp_path, {"resources": bomb})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sheet 'resources', row 1048576: expected at most 200000 rows per sheet" in err
    assert "Traceback" not in err


# -- item 2: a stale dimension loses nothing --------------------------------------------------------------------
def _with_dimension(source: Path, tmp_path: Path, sheet: str, ref: str) -> Path:
    part = _sheet_parts(source)[sheet]
    with zipfile.ZipFile(source) as z:
        xml = z.read(part).decode()
    start = xml.index("<dimension ref=")
    stale = xml[:start] + f'<dimension ref="{ref}" />' + xml[xml.index(">", start) + 1:]
    assert stale != xml
    return _rewrite(source, tmp_path / f"stale_{sheet}.xlsx", {part: stale.encode()})


def test_a_stale_dimension_loses_no_buyer(tmp_path):
    """community_market has 4 buyers (rows 2-5); its buyers sheet declaring A1:G2 still gives the 4."""
    source = ROOT / "cases" / "community_market.xlsx"
    buyers = [a.name for a in read_case(source).agents if a.kind == "buyer"]
    assert buyers == ["buyer_1", "buyer_2", "buyer_3", "buyer_4"]
    stale = read_case(_with_dimension(source, tmp_path, "buyers", "A1:G2"))
    assert [a.name for a in stale.agents if a.kind == "buyer"] == buyers


def test_a_stale_dimension_loses_no_edge(tmp_path):
    source = ROOT / "cases" / "microgrid_8.xlsx"
    edges = read_case(source).edges
    assert len(edges) == 10
    assert read_case(_with_dimension(source, tmp_path, "network", "A1:B3")).edges == edges


# -- item 13: an Excel date in meta 'start', a NaN number cell ----------------------------------------------------
def test_a_date_typed_in_meta_start_is_read_as_its_text(example, tmp_path):
    """Typing the documented 2019-04-17 00:00 into Excel makes a date cell: read as the text form is read."""
    assert read_case(example).start == "2019-04-17 00:00"  # the text form
    wb = openpyxl.load_workbook(example)
    row = next(r for r in wb["meta"].iter_rows(min_row=2) if r[0].value == "start")
    row[1].value = datetime.datetime(2019, 4, 17, 0, 0)
    row[1].number_format = "yyyy-mm-dd hh:mm"
    wb.save(tmp_path / "date.xlsx")
    assert read_case(tmp_path / "date.xlsx").start == "2019-04-17 00:00"


def test_a_nan_number_cell_is_reported_at_its_cell(example, tmp_path):
    """``<v>NaN</v>`` in a number cell (what some writers store for a missing value): one located message.
    (Before: 'cannot be read as an Excel workbook (ValueError: invalid literal for int()...)'.)"""
    part = _sheet_parts(example)["storages"]
    with zipfile.ZipFile(example) as z:
        xml = z.read(part).decode()
    cell = xml.index('<c r="D2"')
    nan = xml[:cell] + '<c r="D2"><v>NaN</v></c>' + xml[xml.index("</c>", cell) + 4:]
    with pytest.raises(CaseError) as err:
        read_case(_rewrite(example, tmp_path / "nan.xlsx", {part: nan.encode()}))
    assert err.value.messages() == ["nan.xlsx: sheet 'storages', row 2, column 'p_max_kw': got 'NaN'; expected a "
                                    "number or the name of a 'timeseries' column whose values are all numbers"]


# -- item 14: macros by content type and relationship, encrypted workbooks ----------------------------------------
def _content_types_with(example: Path, entry: str) -> bytes:
    with zipfile.ZipFile(example) as z:
        return z.read("[Content_Types].xml").replace(b"</Types>", entry.encode() + b"</Types>")


@pytest.mark.parametrize("how", ["relationship", "content type", "macro-enabled workbook"])
def test_macros_are_found_by_what_the_package_declares(example, tmp_path, how):
    """A VBA project renamed xl/media/image1.bin keeps its relationship type and content type; a workbook
    declared macro-enabled is one too.  Part names alone let all three through."""
    vba = {"xl/media/image1.bin": b"\xd0\xcf\x11\xe0VBA project"}
    if how == "relationship":
        with zipfile.ZipFile(example) as z:
            rels = z.read("xl/_rels/workbook.xml.rels")
        rel = ('<Relationship Id="rId99" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
               'Target="media/image1.bin"/>')
        replace = {"xl/_rels/workbook.xml.rels": rels.replace(b"</Relationships>", rel.encode() + b"</Relationships>")}
    elif how == "content type":
        replace = {"[Content_Types].xml": _content_types_with(
            example, '<Override PartName="/xl/media/image1.bin" ContentType="application/vnd.ms-office.vbaProject"/>')}
    else:
        with zipfile.ZipFile(example) as z:
            types = z.read("[Content_Types].xml")
        main_type = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
        assert main_type in types
        replace = {"[Content_Types].xml": types.replace(main_type,
                                                        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")}
        vba = {}
    path = _rewrite(example, tmp_path / "renamed.xlsx", replace, vba)
    with pytest.raises(WorkbookRejected, match=r"renamed.xlsx: the workbook contains macros \(.*(image1.bin|"
                                               r"macroEnabled).*\); save it as a macro-free .xlsx"):
        read_case(path)


def _ole2(*streams: str) -> bytes:
    """What Excel writes for a password-protected workbook, reduced to what identifies it: the OLE2 compound-file
    signature and header, then directory entries naming the streams in UTF-16LE (a real file holds
    EncryptionInfo and EncryptedPackage streams, sectors and a FAT; ecodec reads none of them)."""
    header = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16) + bytes.fromhex("3E000300FEFF0900") + bytes(512 - 32)
    entries = b"".join(name.encode("utf-16-le").ljust(64, b"\0") + bytes(64) for name in streams)
    return header + entries


def test_an_encrypted_workbook_is_named_encrypted(tmp_path):
    path = tmp_path / "secret.xlsx"
    path.write_bytes(_ole2("Root Entry", "EncryptionInfo", "EncryptedPackage"))
    with pytest.raises(WorkbookRejected, match=r"secret.xlsx: the workbook is encrypted \(password-protected\).* "
                                               "save it without a password"):
        read_case(path)
    legacy = tmp_path / "legacy.xlsx"
    legacy.write_bytes(_ole2("Root Entry", "Workbook"))  # an .xls workbook renamed .xlsx
    with pytest.raises(WorkbookRejected, match="legacy.xlsx: not an .xlsx workbook but an OLE2 compound file"):
        read_case(legacy)


# -- the reader's values are openpyxl's ---------------------------------------------------------------------------
def test_shared_strings_as_excel_writes_them_are_read_like_inline_strings(example, tmp_path):
    """The template writes inline strings; Excel writes a shared-string table, with rich-text runs and phonetic
    guides (left out of the value).  The same case either way."""
    parts = _sheet_parts(example)
    strings: list[str] = []
    replace = {}
    with zipfile.ZipFile(example) as z:
        for part in parts.values():
            xml = z.read(part).decode()
            out, pos = io.StringIO(), 0
            while (start := xml.find('t="inlineStr"><is><t>', pos)) >= 0:
                text_start = start + len('t="inlineStr"><is><t>')
                end = xml.index("</t></is>", text_start)
                strings.append(xml[text_start:end])
                out.write(xml[pos:start] + f't="s"><v>{len(strings) - 1}</v>')
                pos = end + len("</t></is>")
            replace[part] = (out.getvalue() + xml[pos:]).encode()
        types = z.read("[Content_Types].xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    assert 'storages' in parts and "bat1" in strings
    runs = [(escape(unescape(s)[:2]), escape(unescape(s)[2:])) for s in strings]  # split text, not an &entity;
    items = [f'<si><r><t>{a}</t></r><r><t>{b}</t></r><rPh sb="0" eb="1"><t>phonetic</t></rPh></si>' for a, b in runs]
    replace["[Content_Types].xml"] = types.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                                   b'ContentType="application/vnd.openxmlformats-officedocument.'
                                                   b'spreadsheetml.sharedStrings+xml"/></Types>')
    replace["xl/_rels/workbook.xml.rels"] = rels.replace(
        b"</Relationships>", b'<Relationship Id="rId90" Type="' + REL.encode() + b'/sharedStrings" '
                             b'Target="sharedStrings.xml"/></Relationships>')
    table = f'<sst xmlns="{MAIN}" count="{len(items)}">{"".join(items)}</sst>'.encode()
    shared = _rewrite(example, tmp_path / "shared.xlsx", replace, {"xl/sharedStrings.xml": table})
    original, excel = read_case(example), read_case(shared)
    assert excel.agent_names() == original.agent_names() == ["mt1", "pv1", "bat1", "grid", "boiler1"]
    assert excel.edges == original.edges and excel.description == original.description == "template example"
    assert [(a.kind, a.params) for a in excel.agents] == [(a.kind, a.params) for a in original.agents]
    with zipfile.ZipFile(shared) as z:
        assert b"<is>" not in b"".join(z.read(p) for p in parts.values())  # every text now a shared string


def test_cell_values_are_the_ones_openpyxl_reads(example, tmp_path):
    """A sheet as other writers make it (a namespace prefix, cells and rows without references, rich text with a
    phonetic guide, booleans, an error, a formula's cached text, dates by style and by type): the streaming reader
    gives the values openpyxl's read-only reader gives with cached values."""
    from ecodec.io.schema import MAX_XML_TOKEN_BYTES
    from ecodec.io.xlsx_cells import read_tables
    from ecodec.io.xml_parts import Budget

    wb = openpyxl.load_workbook(example)
    wb["meta"]["B7"].value = datetime.datetime(2019, 4, 17)  # gives the package a date style
    wb.save(tmp_path / "dated.xlsx")
    parts = _sheet_parts(tmp_path / "dated.xlsx")
    with zipfile.ZipFile(tmp_path / "dated.xlsx") as z:
        meta = z.read(parts["meta"]).decode()
    cell = meta.index('<c r="B7"')
    date_style = meta[cell:meta.index(">", cell)].split(' s="')[1].split('"')[0]
    rows = ('<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>from</x:t></x:is></x:c><x:c t="inlineStr"><x:is>'
            '<x:r><x:t>t</x:t></x:r><x:r><x:t>o</x:t></x:r><x:rPh sb="0" eb="1"><x:t>ph</x:t></x:rPh></x:is></x:c>'
            '</x:row><x:row><x:c t="b"><x:v>1</x:v></x:c><x:c t="e"><x:v>#N/A</x:v></x:c><x:c t="str"><x:f>A1</x:f>'
            f'<x:v> text </x:v></x:c></x:row><x:row r="5"><x:c r="C5" s="{date_style}"><x:v>43572.5</x:v></x:c>'
            '<x:c><x:v>1e3</x:v></x:c><x:c r="F5" t="d"><x:v>2019-04-17T10:00:00</x:v></x:c></x:row>'
            '<x:row r="6"><x:c r="B6" t="n"><x:v>7</x:v></x:c><x:c r="D6"/><x:c><x:v>-2.5</x:v></x:c><x:c t="b">'
            '<x:v>0</x:v></x:c></x:row><x:row r="7"><x:c r="A7" t="inlineStr"><x:is><x:t xml:space="preserve">  '
            '</x:t></x:is></x:c></x:row>')
    xml = (f'<x:worksheet xmlns:x="{MAIN}"><x:dimension ref="A1:F7"/><x:sheetData>{rows}</x:sheetData>'
           '</x:worksheet>').encode()
    path = _rewrite(tmp_path / "dated.xlsx", tmp_path / "crafted.xlsx", {parts["network"]: xml})
    ours = read_tables(path, {"network", "meta"}, Budget(rows=100, columns=100, cells=10_000, elements=100_000,
                                                        text=100_000, token_bytes=MAX_XML_TOKEN_BYTES))
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for name in ("network", "meta"):
        theirs = [tuple(v.strip() or None if isinstance(v, str) else v for v in row)
                  for row in book[name].iter_rows(values_only=True)]
        theirs = [row[:max((i + 1 for i, v in enumerate(row) if v is not None), default=0)] for row in theirs]
        while theirs and not theirs[-1]:
            theirs.pop()
        assert ours[name] == theirs
    assert ours["network"][4][2] == datetime.datetime(2019, 4, 17, 12) and ours["network"][0] == ("from", "to")
    assert ours["network"][5] == (None, 7, None, None, -2.5, False)
    book.close()
