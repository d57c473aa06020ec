"""Every figure of the report as its own file, for a paper or a slide: :func:`export_figures`.

The figures are those of the document, taken from the same story (:func:`~ecodec.report.document.report_story`):
each :class:`~ecodec.report.pdf.FigureFlowable` holds its matplotlib Figure and caption, and its place gives the
name: the section's number and title, the sub-heading it stands under (e.g. a coupling resource) and what it
shows when a section has several, e.g. ``03_convergence.pdf``, ``04_dispatch_active_power.svg``,
``02_case_communication_network.png``.  A name that would repeat gets ``_2``, ``_3``, ...

Formats: ``pdf`` (vector, fonts embedded as TrueType: no Type 3 fonts, as journals ask), ``svg`` (vector, text
as paths: it looks the same without DejaVu Sans installed) and ``png`` (:data:`PNG_DPI` dpi).  Each file is
written atomically (a temporary file moved into place).

>>> figure_file_stem("4  Dispatch", "active_power", "")
'04_dispatch_active_power'
>>> figure_file_stem("2  The case", "Communication network", "")
'02_case_communication_network'
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ecodec.errors import EcodecError
from ecodec.files import atomic_write, check_writable
from ecodec.report.document import report_story
from ecodec.report.pdf import FigureFlowable, _Heading
from ecodec.results.case_summary import CaseSummary
from ecodec.results.comparison import Comparison
from ecodec.results.online_seeds import SeedRuns
from ecodec.results.run_result import RunResult

log = logging.getLogger(__name__)

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300
_RC = {"pdf": {"pdf.fonttype": 42}, "svg": {"svg.fonttype": "path", "svg.hashsalt": "ecodec"}, "png": {}}


@dataclass
class ReportFigure:
    """One figure of the report: its file stem, the matplotlib Figure and its caption in the document."""

    name: str
    figure: object
    caption: str


def report_figures(story: list) -> list[ReportFigure]:
    """The figures of a report story in document order, named by section, sub-heading and content."""
    out: list[ReportFigure] = []
    section, sub, seen = "", "", set()
    for flowable in _flat(story):
        if isinstance(flowable, _Heading):
            if flowable.toc_level == 0:
                section, sub = flowable.toc_text, ""
            else:
                sub = flowable.toc_text
        elif isinstance(flowable, FigureFlowable):
            stem = figure_file_stem(section, sub, flowable.name)
            name, k = stem, 1
            while name in seen:
                k += 1
                name = f"{stem}_{k}"
            seen.add(name)
            out.append(ReportFigure(name, flowable.fig, flowable.caption))
    return out


def figure_file_stem(section: str, sub: str, name: str) -> str:
    """'NN_section[_sub][_name]' from a numbered section heading ('3  Convergence'), lower case, words joined
    by '_', a leading 'the' dropped."""
    number, _, title = section.strip().partition(" ")
    parts = [f"{int(number):02d}" if number.isdigit() else "00"]
    for text in (title, sub, name):
        slug = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
        slug = re.sub(r"^the_", "", slug)
        if slug:
            parts.append(slug)
    return "_".join(parts)[:120]


def export_figures(directory: str | Path, runs: list[RunResult], comparison: Comparison,
                   summary: CaseSummary | None = None, seeds: SeedRuns | None = None,
                   fmt: str = "pdf") -> list[Path]:
    """Write every figure of the report of ``runs`` (the arguments of :func:`~ecodec.report.write_report`) to
    ``directory`` as its own ``fmt`` file (pdf, svg or png); returns the paths written, in document order.

    Raises EcodecError for an unknown format or a directory that cannot be written."""
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise EcodecError(f"figure format '{fmt}': choose one of {', '.join(FORMATS)}")
    directory = Path(directory)
    check_writable(directory, directory=True, what="the figures directory")
    written = []
    for item in report_figures(report_story(runs, comparison, summary, seeds)):
        written.append(save_figure(item.figure, directory / f"{item.name}.{fmt}", fmt))
    log.info("wrote %d figures of case %s to %s", len(written), comparison.case_name, directory)
    return written


def save_figure(fig, path: Path, fmt: str) -> Path:
    """``fig`` saved to ``path`` in ``fmt`` atomically (white background, metadata without a date)."""
    import matplotlib

    def write(tmp: Path) -> None:
        with matplotlib.rc_context(_RC[fmt]):
            fig.savefig(tmp, format=fmt, facecolor="white", dpi=PNG_DPI if fmt == "png" else "figure",
                        metadata={"Creator": "ecodec"} if fmt != "png" else None)

    return atomic_write(path, write)


def _flat(flowables):
    """The flowables of a story, those inside containers (KeepTogether and the like) included, in order."""
    for flowable in flowables:
        inner = getattr(flowable, "_content", None)
        if isinstance(inner, list):
            yield from _flat(inner)
        else:
            yield flowable
