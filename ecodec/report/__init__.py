"""The PDF report of a comparison: :func:`write_report` (see :mod:`ecodec.report.document` for its sections)."""

from ecodec.report.document import SECTION_TITLES, write_report

__all__ = ["SECTION_TITLES", "write_report"]
