"""Streaming, bounded XML parsing of the parts of an untrusted .xlsx package.

Why not openpyxl's read-only reader: it trusts what a sheet declares.  It pads every gap up to the sheet's
``<dimension>`` (a 25 KB sheet declaring ``A1:XFD1048576`` with one cell in its last row made ``ecodec validate``
build a million empty rows of 16384 cells: 27 s and 3.1 GB), it collects a whole row before yielding it (one row of
10 million cells ended in MemoryError) and it stops at the declared last row (a stale ``<dimension>`` silently
dropped agents).  Here expat is fed the part in chunks and a handler sees each element as it comes, so what
reading costs follows what the part really holds, and every limit of a :class:`Budget` is checked as soon as it
is crossed, before anything is padded or kept.

Defused as defusedxml defuses expat: entity declarations and external references are refused (a 'billion
laughs' sheet raises :class:`~defusedxml.EntitiesForbidden`), and so are attribute declarations (``<!ATTLIST``):
expat would add their defaults to every element, a few bytes of DTD multiplying the work of each cell.  A token expat must buffer whole (a tag with its
attributes, a comment, a DTD) may not grow past ``Budget.token_bytes``: the parser's position after each chunk
shows how much it holds unparsed.
"""

from __future__ import annotations

import posixpath
import pyexpat
import zipfile
from dataclasses import dataclass

from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from ecodec.errors import NO_VALUE, CaseError, InputIssue

CHUNK_BYTES = 1 << 16
MAIN_NAMESPACES = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                   "http://purl.oclc.org/ooxml/spreadsheetml/main")
RELATIONSHIP_NAMESPACES = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                           "http://purl.oclc.org/ooxml/officeDocument/relationships")


@dataclass
class Budget:
    """The limits of reading one workbook and what its parts used so far (every part draws on the same budget).

    ``rows`` and ``columns``: the last row and column of a sheet that may hold a value.  ``cells``: cells in the
    workbook, each row counted up to its last non-empty cell (what the reader keeps, empty cells between
    included).  ``elements``: XML elements parsed, over every part.  ``text``: characters of text kept (cell
    values, shared strings).  ``token_bytes``: the most expat may buffer for one token.
    """

    rows: int
    columns: int
    cells: int
    elements: int
    text: int
    token_bytes: int
    cells_used: int = 0
    elements_used: int = 0
    text_used: int = 0


class PartHandler:
    """Receives one part's elements; subclasses count every start tag in ``count`` and set ``done`` to stop early.

    Tag names arrive as 'namespace local-name' (expat's namespace processing; no prefix games), attributes as a
    dict whose namespaced keys are spelled the same way.
    """

    __slots__ = ("count", "done")
    where: str | None = None  # the sheet named in a refusal, None for a package part
    end = None  # or a method(name): handlers that need no end tags spare expat a Python call per element

    def __init__(self):
        self.count = 0
        self.done = False

    def start(self, name: str, attrs: dict) -> None:
        self.count += 1

    def data(self, text: str) -> None:
        pass

    def finish(self) -> None:
        """Called when the part is parsed (not when a limit stopped it)."""


def refuse(sheet: str | None, row: int | None, column: str | None, value, expected: str) -> CaseError:
    """The error for a limit crossed or a value that cannot be read (the reader adds the file's name)."""
    return CaseError(None, [InputIssue(sheet, row, column, value, expected)])


def parse_part(archive: zipfile.ZipFile, name: str, handler: PartHandler, budget: Budget,
               namespaces: bool = True) -> None:
    """Feed the part ``name`` of ``archive`` to ``handler`` chunk by chunk, within ``budget`` (its ``elements`` are
    drawn on); stops when the handler is done or a limit is crossed (CaseError).  ``namespaces=False``: names
    arrive as written (``c``, ``x:c``), which spares expat building 'namespace name' strings."""
    parser = pyexpat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    if handler.end is not None:
        parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.data
    parser.EntityDeclHandler = _entity_declared
    parser.UnparsedEntityDeclHandler = _unparsed_entity_declared
    parser.ExternalEntityRefHandler = _external_reference
    parser.AttlistDeclHandler = _attributes_declared
    fed = 0
    with archive.open(name) as stream:
        while not handler.done:
            chunk = stream.read(CHUNK_BYTES)
            parser.Parse(chunk, not chunk)
            if not chunk:
                break
            fed += len(chunk)
            if budget.elements_used + handler.count > budget.elements:
                raise refuse(handler.where, None, None, NO_VALUE,
                             f"at most {budget.elements} XML elements in the workbook's parts (cells, rows, "
                             f"formatting; part {name} reaches the limit)")
            if fed - parser.CurrentByteIndex > budget.token_bytes:
                raise refuse(handler.where, None, None, NO_VALUE,
                             f"no XML tag, comment or declaration longer than {budget.token_bytes // 2**20} MiB "
                             f"(part {name} holds a longer one)")
    budget.elements_used += handler.count
    handler.finish()


def _entity_declared(name, is_parameter_entity, value, base, sysid, pubid, notation_name):
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _unparsed_entity_declared(name, base, sysid, pubid, notation_name):
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _attributes_declared(element, attribute, kind, default, required):
    raise DTDForbidden(f"<!ATTLIST {element} {attribute}>", None, None)


def _external_reference(context, base, sysid, pubid):
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


class _Flat(PartHandler):
    """The attributes of every element with one of some local names (Relationship, Override, sheet, ...)."""

    def __init__(self, names: tuple[str, ...]):
        super().__init__()
        self.found: dict[str, list[dict]] = {name: [] for name in names}

    def start(self, name, attrs):
        self.count += 1
        found = self.found.get(name.rpartition(" ")[2])
        if found is not None:
            found.append(attrs)


def elements_named(archive: zipfile.ZipFile, part: str, names: tuple[str, ...], budget: Budget
                   ) -> dict[str, list[dict]]:
    """Local name -> the attribute dicts of the elements of ``part`` so named, for each of ``names`` (in a small
    package part: relationships, content types, the workbook's sheet list)."""
    handler = _Flat(names)
    parse_part(archive, part, handler, budget)
    return handler.found


def relationships(archive: zipfile.ZipFile, source: str, budget: Budget) -> list[dict]:
    """The relationships of the part ``source`` (``Type``, ``Target`` resolved to a part name, ``Id``);
    external targets are left out."""
    folder, base = posixpath.split(source)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in archive.NameToInfo:
        return []
    found = []
    for rel in elements_named(archive, rels, ("Relationship",), budget)["Relationship"]:
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        found.append({"Id": rel.get("Id"), "Type": rel.get("Type", ""), "Target": target})
    return found


def attribute(attrs: dict, local: str, namespaces: tuple[str, ...]) -> str | None:
    """An attribute in one of ``namespaces`` (e.g. ``r:id``), whatever prefix the part gave it."""
    for namespace in namespaces:
        value = attrs.get(f"{namespace} {local}")
        if value is not None:
            return value
    return None
