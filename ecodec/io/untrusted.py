"""Checks on a workbook that comes from outside, before any of its cells is parsed.

Case workbooks are untrusted input.  Before :mod:`ecodec.io.xlsx_cells` reads a cell, ecodec checks that the file
is an .xlsx (a zip package with a workbook part), that its size, its unpacked size and its number of parts are
sane (no zip bombs; reading a package's directory costs memory per part), and that it carries no macros.

Macros are found by what the package declares, not by part names, which anyone may change: a content type of VBA
or of a macro-enabled workbook or macro sheet in ``[Content_Types].xml``, or a relationship of a VBA-project or
macro-sheet type in any ``.rels`` part (a ``vbaProject.bin`` renamed ``xl/media/image1.bin`` keeps both).  These
small parts are parsed with the defused, bounded parser of :mod:`ecodec.io.xml_parts`.

A password-protected workbook is not a zip package at all: Excel wraps it in an OLE2 compound file (magic
D0 CF 11 E0 A1 B1 1A E1) holding ``EncryptionInfo`` and ``EncryptedPackage`` streams.  It is named as such,
so the user saves it without a password instead of wondering which format it was renamed from.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ecodec.errors import CaseError, WorkbookRejected
from ecodec.io.schema import (
    MAX_FILE_BYTES,
    MAX_PACKAGE_PARTS,
    MAX_PACKAGE_XML_BYTES,
    MAX_UNCOMPRESSED_BYTES,
    MAX_XML_TOKEN_BYTES,
)
from ecodec.io.xml_parts import Budget, elements_named

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # a directory entry name of an encrypted workbook
MACRO_CONTENT_TYPES = (
    "application/vnd.ms-office.vbaproject",                      # the VBA project
    "application/vnd.ms-excel.sheet.macroenabled.main+xml",      # a macro-enabled workbook (.xlsm)
    "application/vnd.ms-excel.template.macroenabled.main+xml",   # .xltm
    "application/vnd.ms-excel.addin.macroenabled.main+xml",      # .xlam
    "application/vnd.ms-excel.macrosheet+xml",                   # an Excel 4.0 macro sheet
    "application/vnd.ms-excel.intlmacrosheet+xml",
)
MACRO_RELATIONSHIP_TYPES = ("/vbaproject", "/xlmacrosheet", "/xlintlmacrosheet")


def check_untrusted_xlsx(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is safe to read its cells, else raise WorkbookRejected with the reason."""
    path = Path(path)
    if not path.exists():
        raise WorkbookRejected(f"{path}: no such file")
    if not path.is_file():
        raise WorkbookRejected(f"{path}: not a file")
    if path.suffix.lower() != ".xlsx":
        hint = " (save it from Excel or LibreOffice as 'Excel Workbook (.xlsx)')" if path.suffix.lower() in {
            ".xls", ".xlsm", ".xlsb", ".ods", ".csv"} else ""
        raise WorkbookRejected(f"{path.name}: ecodec reads .xlsx workbooks only, got '{path.suffix or 'no extension'}'"
                               f"{hint}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WorkbookRejected(f"{path.name}: {size / 2**20:.1f} MiB is larger than the {MAX_FILE_BYTES // 2**20} MiB "
                               "ecodec accepts for a case workbook")
    with path.open("rb") as stream:
        if stream.read(len(OLE2_MAGIC)) == OLE2_MAGIC:
            raise WorkbookRejected(_ole2_reason(path))
    if not zipfile.is_zipfile(path):
        raise WorkbookRejected(f"{path.name}: not an .xlsx workbook (the file is not a zip package; was it renamed "
                               "from another format?)")
    _check_directory(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {m.filename for m in members}
            if "xl/workbook.xml" not in names:
                raise WorkbookRejected(f"{path.name}: not an .xlsx workbook (no xl/workbook.xml part)")
            unpacked = sum(m.file_size for m in members)
            if unpacked > MAX_UNCOMPRESSED_BYTES:
                raise WorkbookRejected(f"{path.name}: unpacks to {unpacked / 2**20:.0f} MiB, more than the "
                                       f"{MAX_UNCOMPRESSED_BYTES // 2**20} MiB ecodec accepts")
            macros = _macro_parts(path, archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookRejected(f"{path.name}: damaged .xlsx package ({exc})") from None
    if macros:
        raise WorkbookRejected(f"{path.name}: the workbook contains macros ({macros}); save it as a macro-free "
                               ".xlsx ('Excel Workbook', not 'Excel Macro-Enabled Workbook')")
    return path


def _ole2_reason(path: Path) -> str:
    """What an OLE2 compound file named .xlsx is: an encrypted workbook when it holds an EncryptedPackage stream,
    else a legacy .xls (or another Office file) renamed."""
    if _holds(path, ENCRYPTED_STREAM):
        return (f"{path.name}: the workbook is encrypted (password-protected); ecodec cannot read it: open it in "
                "Excel and save it without a password (File > Info > Protect Workbook > Encrypt with Password, "
                "clear the password)")
    return (f"{path.name}: not an .xlsx workbook but an OLE2 compound file (a legacy .xls workbook renamed, or an "
            "encrypted workbook); save it from Excel as 'Excel Workbook (.xlsx)' without a password")


def _holds(path: Path, needle: bytes, chunk_bytes: int = 1 << 20) -> bool:
    """Whether the file holds ``needle``, read in chunks (the file may be up to MAX_FILE_BYTES)."""
    tail = b""
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_bytes):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) + 1:]
    return False


def _check_directory(path: Path) -> None:
    """Refuse a package listing more parts than a workbook has before its directory is read into memory (a 50 MiB
    zip of empty members lists 600 000 of them: 5 s and 600 MB just to open it)."""
    try:
        with path.open("rb") as stream:
            end = zipfile._EndRecData(stream)  # the end-of-directory record zipfile itself reads first
    except (OSError, AttributeError):
        return  # zipfile opens the package (or says why it cannot) below
    if end is None:
        return
    parts, directory_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if parts > MAX_PACKAGE_PARTS or directory_bytes > MAX_PACKAGE_PARTS * 300:  # ~80 bytes a part in practice
        raise WorkbookRejected(f"{path.name}: the package lists {parts} parts ({directory_bytes / 2**20:.1f} MiB of "
                               f"directory); a workbook has a few dozen, ecodec accepts at most {MAX_PACKAGE_PARTS}")


def _macro_parts(path: Path, archive: zipfile.ZipFile) -> str:
    """A description of the macro parts the package declares, '' when it declares none."""
    declaring = [m for m in archive.infolist() if m.filename == "[Content_Types].xml" or m.filename.endswith(".rels")]
    if sum(m.file_size for m in declaring) > MAX_PACKAGE_XML_BYTES:
        raise WorkbookRejected(f"{path.name}: its content-type and relationship parts unpack to more than "
                               f"{MAX_PACKAGE_XML_BYTES // 2**20} MiB; a workbook's take a few KiB")
    budget = Budget(rows=0, columns=0, cells=0, elements=MAX_PACKAGE_XML_BYTES // 8, text=0,
                    token_bytes=MAX_XML_TOKEN_BYTES)
    found = [m.filename for m in archive.infolist() if m.filename.lower().endswith("vbaproject.bin")]
    for member in declaring:
        try:
            if member.filename == "[Content_Types].xml":
                entries = elements_named(archive, member.filename, ("Default", "Override"), budget)
                for entry in entries["Default"] + entries["Override"]:
                    if entry.get("ContentType", "").strip().lower() in MACRO_CONTENT_TYPES:
                        found.append(f"{entry.get('PartName') or '*.' + entry.get('Extension', '')} of type "
                                     f"{entry['ContentType'].strip()}")
            else:
                for rel in elements_named(archive, member.filename, ("Relationship",), budget)["Relationship"]:
                    if rel.get("Type", "").strip().lower().endswith(MACRO_RELATIONSHIP_TYPES):
                        found.append(f"{rel.get('Target', '?')} related as {rel['Type'].strip().rsplit('/', 1)[-1]} "
                                     f"in {member.filename}")
        except CaseError as exc:  # a limit of the bounded parser
            raise WorkbookRejected(f"{path.name}: {exc.issues[0].expected}") from None
        except Exception as exc:  # noqa: BLE001  malformed or hostile XML (entities are refused)
            raise unreadable(path, exc) from None
    found = list(dict.fromkeys(found))
    return ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")


def unreadable(path: Path, exc: BaseException) -> WorkbookRejected:
    """The error for a package whose XML cannot be parsed; names the root cause (e.g. EntitiesForbidden)."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__
    cause = f"{type(root).__name__}: {root}".splitlines()[0]
    return WorkbookRejected(f"{Path(path).name}: cannot be read as an Excel workbook ({cause})")
