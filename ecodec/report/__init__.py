"""The PDF report of a comparison: :func:`write_report` (see :mod:`ecodec.report.document` for its sections) and
:func:`export_figures`, every figure of the same report as its own PDF, SVG or PNG file
(:mod:`ecodec.report.export`)."""

from ecodec.report.document import SECTION_TITLES, write_report
from ecodec.report.export import export_figures

__all__ = ["SECTION_TITLES", "export_figures", "write_report"]
