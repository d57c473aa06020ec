"""The PDF layer of the report: fonts, styles, page template, table of contents, page numbers (ReportLab).

:class:`ReportDocument` is a ReportLab ``BaseDocTemplate`` on A4 whose headings feed a table of contents and
the PDF outline (bookmarks); every page after the title page carries the case name in its header and
"page n of N" in its footer.  The text font is DejaVu Sans, the font matplotlib draws the figures with, embedded
from matplotlib's own data files so that symbols such as <=, rho or the euro sign print everywhere (Helvetica
when those files are missing).  The building blocks below (:func:`heading`, :func:`paragraph`, :func:`table`,
:func:`figure`) are all the document module uses.
"""

from __future__ import annotations

import io
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
from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, Image, PageTemplate, Paragraph,
                                Spacer, Table, TableStyle)
from reportlab.platypus.tableofcontents import TableOfContents

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
FIGURE_DPI = 200
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
        return "EcodecSans", "EcodecSans-Bold"
    except Exception:  # noqa: BLE001 - any failure to load the TTF files falls back to the built-in font
        return "Helvetica", "Helvetica-Bold"


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


def figure(fig, caption: str) -> list[Flowable]:
    """A matplotlib Figure rendered to PNG at :data:`FIGURE_DPI`, scaled to the frame width, and its caption,
    kept on one page (and with a heading just before them)."""
    from PIL import Image as PILImage  # matplotlib's own dependency

    rgba = io.BytesIO()
    fig.savefig(rgba, format="png", dpi=FIGURE_DPI, facecolor="white")
    rgba.seek(0)
    buffer = io.BytesIO()
    PILImage.open(rgba).convert("RGB").save(buffer, format="PNG", optimize=True)  # opaque: no soft mask in the PDF
    width_in, height_in = fig.get_size_inches()
    buffer.seek(0)
    width = min(FRAME_WIDTH, width_in * 72)
    image = Image(buffer, width=width, height=width * height_in / width_in)
    image.keepWithNext = 1
    return [image, paragraph(caption, "caption")]


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
        canvas_type = type("ReportCanvas", (_NumberedCanvas,), {"header": self._header})
        self.multiBuild(story, canvasmaker=canvas_type)
