"""The PDF layer of the report: fonts, styles, page template, table of contents, page numbers (ReportLab).

:class:`ReportDocument` is a ReportLab ``BaseDocTemplate`` on A4 whose headings feed a table of contents and
the PDF outline (bookmarks); every page after the title page carries the case name in its header and
"page n of N" in its footer.  The text font is DejaVu Sans, the font matplotlib draws the figures with, embedded
from matplotlib's own data files so that symbols such as <=, rho or the euro sign print everywhere (Helvetica
when those files are missing).  The building blocks below (:func:`heading`, :func:`paragraph`, :func:`table`,
:func:`figure`, :func:`section_break`) are all the document module uses.

Figures are vector drawings: :class:`FigureFlowable` saves the matplotlib Figure as SVG with its text kept as
text (``svg.fonttype`` 'none'), svglib turns the SVG into a ReportLab Drawing whose font 'DejaVu Sans' is mapped
to the embedded EcodecSans, so figure labels are sharp at any zoom, searchable and copyable.  The flowable keeps
the Figure and its caption (:func:`ecodec.report.export.export_figures` writes the same figures as files).

Layout rules, so that pages are filled: a section starts on the current page when at least
:data:`SECTION_ROOM` of the frame is left (:func:`section_break`), else on a new one; a heading stays with the
start of what follows it (a figure at its smallest allowed size, or the first rows of a table; tables split
across pages with their header repeated); a figure that does not fit in the space left is drawn smaller, down to
:data:`MIN_FIGURE_SCALE` of its size, before it is moved to the next page.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Flowable, Frame, Image, KeepTogether, PageTemplate,
                                Paragraph, Spacer, Table, TableStyle)
from reportlab.platypus.flowables import _listWrapOn
from reportlab.platypus.tableofcontents import TableOfContents

log = logging.getLogger(__name__)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
FRAME_PADDING = 6  # ReportLab's default padding inside a frame [pt]
INNER_HEIGHT = PAGE_HEIGHT - 2 * MARGIN - 2 * FRAME_PADDING  # the height flowables get on an empty page
FIGURE_DPI = 200  # only when a figure cannot be converted to a drawing (then embedded as PNG)
#: a figure is drawn down to this fraction of its size to fit the space left on a page before it moves on
MIN_FIGURE_SCALE = 0.72
#: a section starts on the current page when at least this fraction of the frame is left
SECTION_ROOM = 0.3
#: a heading followed by a table stays with at least this many of its rows
TABLE_ROWS_KEPT = 4
HEADER_GREY = colors.HexColor("#e8ecf2")
RULE_GREY = colors.HexColor("#9aa5b1")


def _fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans from matplotlib's data when present, else Helvetica."""
    try:
        import matplotlib

        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        if "EcodecSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("EcodecSans", str(ttf / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont("EcodecSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
            pdfmetrics.registerFontFamily("EcodecSans", normal="EcodecSans", bold="EcodecSans-Bold",
                                          italic="EcodecSans", boldItalic="EcodecSans-Bold")
            _map_svg_fonts(ttf)
        return "EcodecSans", "EcodecSans-Bold"
    except Exception:  # noqa: BLE001 - any failure to load the TTF files falls back to the built-in font
        return "Helvetica", "Helvetica-Bold"


def _map_svg_fonts(ttf: Path) -> None:
    """Make svglib draw matplotlib's 'DejaVu Sans' (the figures' text) in the fonts registered above, and its
    oblique faces (mathtext variables) in DejaVu's own oblique files.  matplotlib writes weights as numbers
    (bold: 700) and svglib matches them literally: each is mapped, 600 and above to the bold face.  Each file is
    read once; the further (weight, family) pairs are entries of svglib's font map."""
    from svglib.fonts import FontMap, get_global_font_map

    fonts = get_global_font_map()
    for bold, italic, name, file in ((False, False, "EcodecSans", "DejaVuSans.ttf"),
                                     (True, False, "EcodecSans-Bold", "DejaVuSans-Bold.ttf"),
                                     (False, True, "EcodecSans-Oblique", "DejaVuSans-Oblique.ttf"),
                                     (True, True, "EcodecSans-BoldOblique", "DejaVuSans-BoldOblique.ttf")):
        style = "italic" if italic else "normal"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(ttf / file)))
        weights = ("bold", "600", "700", "800", "900") if bold else ("normal", "100", "200", "300", "400", "500")
        for family in ("DejaVu Sans", "sans-serif"):
            for weight in weights:
                fonts._map[FontMap.build_internal_name(family, weight, style)] = {  # svglib 2.3's map entry
                    "svg_family": family, "svg_weight": weight, "svg_style": style, "rlgFont": name, "exact": True}
            fonts._family_index.setdefault(family.lower(), family)


FONT, BOLD = _fonts()


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=FONT, fontSize=9.5, leading=13, spaceAfter=5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10.5),
        "caption": ParagraphStyle("caption", parent=body, fontSize=8, leading=10.5, textColor=colors.HexColor(
            "#444444"), spaceBefore=2, spaceAfter=10),
        "note": ParagraphStyle("note", parent=body, backColor=colors.HexColor("#fff4e0"), borderColor=colors.HexColor(
            "#e0a030"), borderWidth=0.6, borderPadding=5, spaceBefore=6, spaceAfter=10),
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=24, leading=30, alignment=TA_CENTER,
                                spaceAfter=12),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=13, leading=18, alignment=TA_CENTER,
                                   spaceAfter=18),
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=15, leading=19, spaceBefore=4, spaceAfter=8,
                             keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=8,
                             spaceAfter=5, keepWithNext=1),
        "toc1": ParagraphStyle("toc1", parent=body, fontSize=10.5, leading=15, leftIndent=6 * mm, firstLineIndent=0),
        "toc2": ParagraphStyle("toc2", parent=body, fontSize=9, leading=12, leftIndent=12 * mm, firstLineIndent=0),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9, spaceAfter=0),
    }


STYLES = _styles()


class _Heading(Paragraph):
    """A section heading: registered in the table of contents and the PDF outline at ``level`` (0 or 1)."""

    def __init__(self, text: str, level: int):
        super().__init__(escape(text), STYLES["h1" if level == 0 else "h2"])
        self.toc_text, self.toc_level = text, level


def heading(text: str, level: int = 0) -> _Heading:
    return _Heading(text, level)


def paragraph(text: str, style: str = "body", markup: bool = False) -> Paragraph:
    """A paragraph of plain ``text`` (escaped), or of ReportLab mini-markup (<b>, <i>, <br/>) when ``markup``."""
    return Paragraph(text if markup else escape(text), STYLES[style])


def table(rows: list[list[str]], column_widths: list[float] | None = None, align_right_from: int = 1,
          wrap: bool = False, header: bool = True) -> Table:
    """A ruled table whose first row is the header (unless ``header`` is False: a list of facts); columns from
    ``align_right_from`` on are right-aligned (numbers).  ``wrap`` turns the cells into paragraphs that break
    inside their column (long text)."""
    data = [[Paragraph(escape(c), STYLES["cell"]) for c in row] for row in rows] if wrap else rows
    first = 1 if header else 0
    style = [("FONT", (0, 0), (-1, -1), FONT, 7.5), ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE_GREY),
             ("ALIGN", (align_right_from, first), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
             ("ROWBACKGROUNDS", (0, first), (-1, -1), [colors.white, colors.HexColor("#f6f8fa")])]
    if header:
        style += [("FONT", (0, 0), (-1, 0), BOLD, 7.5), ("BACKGROUND", (0, 0), (-1, 0), HEADER_GREY),
                  ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE_GREY)]
    else:
        style.append(("LINEABOVE", (0, 0), (-1, 0), 0.6, RULE_GREY))
    out = Table(data, colWidths=column_widths, repeatRows=first, hAlign="LEFT")
    out.setStyle(TableStyle(style))
    return out


def figure(fig, caption: str, name: str = "") -> list[Flowable]:
    """A matplotlib Figure as a vector drawing scaled to the frame width, with its caption below it (one
    flowable: they stay on one page).  ``name``: what the figure shows, for the file name when figures are
    exported (the section and sub-heading come first; see :mod:`ecodec.report.export`)."""
    return [FigureFlowable(fig, caption, name)]


class FigureFlowable(Flowable):
    """A figure and its caption.  The drawing is made when first laid out (an export needs none) and kept for
    the further passes of the build; ``wrap`` shrinks it, down to :data:`MIN_FIGURE_SCALE`, to fit the space
    left (to any size on an empty page when it is taller than the frame)."""

    def __init__(self, fig, caption: str, name: str = ""):
        super().__init__()
        self.fig, self.caption, self.name = fig, caption, name
        self._caption = paragraph(caption, "caption")
        self._drawing = None
        self.scale = 1.0

    def drawing(self):
        if self._drawing is None:
            self._drawing = _vector_drawing(self.fig) or _raster_image(self.fig)
        return self._drawing

    def _sizes(self, width: float) -> tuple[float, float, float]:
        """(full scale, drawing height at it, caption height) for a frame ``width`` wide."""
        drawing = self.drawing()
        full = min(1.0, width / drawing.width)
        style = self._caption.style
        caption = self._caption.wrap(width, INNER_HEIGHT)[1] + style.spaceBefore
        return full, drawing.height * full, caption

    def min_height(self, width: float) -> float:
        """The height at the smallest scale allowed (what a heading before it needs to be kept with)."""
        _, height, caption = self._sizes(width)
        return height * MIN_FIGURE_SCALE + caption

    def wrap(self, availWidth, availHeight):  # noqa: N803 - ReportLab's names
        full, height, caption = self._sizes(availWidth)
        room = (availHeight - caption) / height  # the share of the figure's height that fits
        if room >= 1.0:
            shrink = 1.0
        elif room >= MIN_FIGURE_SCALE or availHeight >= INNER_HEIGHT - 1:  # a small loss, or taller than a page
            shrink = max(room, 0.05)
        else:
            shrink = 1.0  # too tall for the space left: the frame moves it to the next page
        self.scale = full * shrink
        self._width, self._caption_height = availWidth, caption
        self.height = self.drawing().height * self.scale + caption
        self.width = availWidth
        return self.width, self.height

    def getSpaceAfter(self):  # noqa: N802 - ReportLab's name
        return self._caption.style.spaceAfter

    def draw(self):
        drawing, canvas = self.drawing(), self.canv
        left = (self._width - drawing.width * self.scale) / 2
        if isinstance(drawing, Image):
            drawing.drawWidth, drawing.drawHeight = drawing.width * self.scale, drawing.height * self.scale
            drawing.drawOn(canvas, left, self._caption_height)
        else:
            from reportlab.graphics import renderPDF

            canvas.saveState()
            canvas.translate(left, self._caption_height)
            canvas.scale(self.scale, self.scale)
            renderPDF.draw(drawing, canvas, 0, 0)
            canvas.restoreState()
        self._caption.wrap(self._width, self._caption_height)
        self._caption.drawOn(canvas, 0, 0)


def _vector_drawing(fig):
    """The figure as a ReportLab Drawing (through SVG, text kept as text), or None when svglib fails on it."""
    import matplotlib
    from svglib.svglib import svg2rlg

    buffer = io.BytesIO()
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ecodec"}):
            fig.savefig(buffer, format="svg", facecolor="white")
        buffer.seek(0)
        drawing = svg2rlg(buffer)
    except Exception as exc:  # noqa: BLE001 - any failure of the conversion falls back to a bitmap
        log.warning("a figure could not be converted to a vector drawing (%s); it is embedded as PNG", exc)
        return None
    return drawing


def _raster_image(fig) -> Image:
    """The figure as an opaque PNG at :data:`FIGURE_DPI` (the fallback of :func:`_vector_drawing`)."""
    from PIL import Image as PILImage  # matplotlib's own dependency

    rgba = io.BytesIO()
    fig.savefig(rgba, format="png", dpi=FIGURE_DPI, facecolor="white")
    rgba.seek(0)
    buffer = io.BytesIO()
    PILImage.open(rgba).convert("RGB").save(buffer, format="PNG", optimize=True)  # opaque: no soft mask in the PDF
    width_in, height_in = fig.get_size_inches()
    buffer.seek(0)
    image = Image(buffer, width=width_in * 72, height=height_in * 72)
    image.width, image.height = width_in * 72, height_in * 72
    return image


def section_break() -> CondPageBreak:
    """Before a section: a new page only when less than :data:`SECTION_ROOM` of the frame is left."""
    return CondPageBreak(SECTION_ROOM * INNER_HEIGHT)


class _KeepWithNext(KeepTogether):
    """ReportLab's group of a heading (keepWithNext) and what follows, asking only for the room the start of the
    last flowable needs: a figure at its smallest scale, the first :data:`TABLE_ROWS_KEPT` rows of a table
    (which splits), else all of it.  Without this a heading before a long table or a tall figure went to the
    next page with it, leaving the rest of the page empty."""

    def wrap(self, aW, aH):  # noqa: N803 - ReportLab's names
        width, _ = super().wrap(aW, aH)
        *leading, last = self._content
        if leading and (isinstance(last, FigureFlowable) or isinstance(last, Table)):
            height = _listWrapOn(leading, aW, self.canv)[1] + leading[-1].getSpaceAfter() + last.getSpaceBefore()
            if isinstance(last, FigureFlowable):
                height += last.min_height(aW)
            else:
                last.wrapOn(self.canv, aW, aH)
                height += sum(last._rowHeights[:TABLE_ROWS_KEPT])
            self._H = min(self._H, height)
        return width, 0xFFFFFF  # as KeepTogether: force a split, which moves on to the next page only when needed


def spacer(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


def table_of_contents() -> TableOfContents:
    toc = TableOfContents()
    toc.levelStyles = [STYLES["toc1"], STYLES["toc2"]]
    toc.dotsMinLevel = 0
    return toc


class _NumberedCanvas(pdfcanvas.Canvas):
    """A canvas that holds its pages until the end, then writes 'page n of N' on each (but the title page)."""

    header = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            if number > 1:
                self.setFont(FONT, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawRightString(PAGE_WIDTH - MARGIN, MARGIN / 2, f"page {number} of {total}")
                self.drawString(MARGIN, PAGE_HEIGHT - MARGIN / 2, self.header)
                self.setStrokeColor(RULE_GREY)
                self.setLineWidth(0.4)
                self.line(MARGIN, PAGE_HEIGHT - MARGIN / 2 - 3, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - MARGIN / 2 - 3)
            super().showPage()
        super().save()


class ReportDocument(BaseDocTemplate):
    """A4 document with one frame per page; headings go to the table of contents and the outline."""

    def __init__(self, target, title: str, subject: str, header: str):
        super().__init__(target, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                         bottomMargin=MARGIN, title=title, subject=subject, author="ecodec", creator="ecodec")
        frame = Frame(MARGIN, MARGIN, FRAME_WIDTH, PAGE_HEIGHT - 2 * MARGIN, id="body")
        self.addPageTemplates([PageTemplate(id="page", frames=[frame])])
        self.keepTogetherClass = _KeepWithNext
        self._header = header
        self._heading_count = 0

    def afterFlowable(self, flowable: Flowable):  # noqa: N802 - ReportLab's name
        if isinstance(flowable, _Heading):
            self._heading_count += 1
            key = f"h{self._heading_count}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.toc_text, key, level=flowable.toc_level, closed=False)
            self.notify("TOCEntry", (flowable.toc_level, escape(flowable.toc_text), self.page, key))

    def beforeDocument(self):  # noqa: N802 - ReportLab's name; multiBuild runs the story until the contents settle
        self._heading_count = 0

    def build_story(self, story: list) -> None:
        for before, after in zip(story, story[1:]):  # a paragraph introducing a figure stays with it
            if isinstance(after, FigureFlowable) and type(before) is Paragraph and before.style.name == "body":
                before.keepWithNext = 1
        canvas_type = type("ReportCanvas", (_NumberedCanvas,), {"header": self._header})
        self.multiBuild(story, canvasmaker=canvas_type)


def write_pdf(path: str | Path, story: list, title: str, subject: str, header: str) -> Path:
    """Lay ``story`` out as an ecodec A4 document and write it to ``path`` (.pdf) atomically: an existing file is
    replaced only by a whole document.  Raises EcodecError for a name not ending in .pdf or a path that cannot be
    written.  Every ecodec PDF (the comparison report, the analysis tools' reports) is written here."""
    from ecodec.errors import EcodecError
    from ecodec.files import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise EcodecError(f"{path}: a report is a PDF file; give a name ending in .pdf")
    buffer = io.BytesIO()
    ReportDocument(buffer, title=title, subject=subject, header=header).build_story(story)
    try:
        atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    except OSError as exc:
        raise EcodecError(f"{path}: the report cannot be written ({exc.strerror or exc})") from None
    return path
