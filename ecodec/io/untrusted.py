"""Opening workbooks that come from outside: checks before any XML is parsed.

Case workbooks are untrusted input.  Before openpyxl sees a file ecodec checks that it is an .xlsx (a zip
package with a workbook part and no macros), that its size and its unpacked size are sane (no zip bombs), and
that openpyxl parses XML through defusedxml (no entity expansion, no external entities).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl

from ecodec.errors import WorkbookRejected
from ecodec.io.schema import MAX_FILE_BYTES, MAX_UNCOMPRESSED_BYTES


def check_untrusted_xlsx(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is safe to hand to openpyxl, else raise WorkbookRejected with the reason."""
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
    if not zipfile.is_zipfile(path):
        raise WorkbookRejected(f"{path.name}: not an .xlsx workbook (the file is not a zip package; was it renamed "
                               "from another format?)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookRejected(f"{path.name}: damaged .xlsx package ({exc})") from None
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise WorkbookRejected(f"{path.name}: not an .xlsx workbook (no xl/workbook.xml part)")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise WorkbookRejected(f"{path.name}: the workbook contains macros; save it as a macro-free .xlsx")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookRejected(f"{path.name}: unpacks to {unpacked / 2**20:.0f} MiB, more than the "
                               f"{MAX_UNCOMPRESSED_BYTES // 2**20} MiB ecodec accepts")
    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise WorkbookRejected("ecodec parses workbooks through defusedxml, which is not installed: "
                               "run 'pip install defusedxml'")
    return path


def open_untrusted_xlsx(path: str | Path) -> openpyxl.Workbook:
    """Open a checked workbook read-only with cached values (formulas are not evaluated)."""
    path = check_untrusted_xlsx(path)
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on malformed packages
        raise unreadable(path, exc) from None


def unreadable(path: Path, exc: BaseException) -> WorkbookRejected:
    """The error for a package whose XML cannot be parsed; names the root cause (e.g. EntitiesForbidden)."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__
    cause = f"{type(root).__name__}: {root}".splitlines()[0]
    return WorkbookRejected(f"{Path(path).name}: cannot be read as an Excel workbook ({cause})")
