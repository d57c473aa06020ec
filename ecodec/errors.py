"""Errors ecodec reports to its users.

Every problem found in user input is an :class:`InputIssue` with coordinates (file, sheet, Excel row, column),
the offending value and what was expected.  A :class:`CaseError` carries all issues of one workbook so that
a user fixes everything in one pass.  The CLI prints these errors and exits non-zero; it never shows a traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import datetime

import numpy as np


class EcodecError(Exception):
    """Base class of every error ecodec reports to its users as a plain message."""


def did_you_mean(name: object, known) -> str:
    """" (did you mean 'x'?)" with x the known name closest to a misspelt ``name`` (difflib), or "" when none is
    close: the hint every "unknown ..." message carries."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class InputIssue:
    """One problem in a case workbook, located as precisely as the problem allows."""

    sheet: str | None
    row: int | None
    column: str | None
    value: object
    expected: str
    file: str | None = None  # a file the workbook names (a time-series CSV or Parquet file), as the sheet names it

    def location(self) -> str:
        parts = [f"file '{self.file}'"] if self.file is not None else []
        if self.sheet is not None:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts) if parts else "workbook"

    def message(self, source: str | Path | None = None) -> str:
        prefix = f"{Path(source).name}: " if source is not None else ""
        shown = _show(self.value)
        got = f"got {shown}; " if shown is not None else ""
        return f"{prefix}{self.location()}: {got}expected {self.expected}"


def _show(value: object) -> str | None:
    if value is NO_VALUE:
        return None
    if value is None:
        return "an empty cell"
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size and np.issubdtype(value.dtype, np.number):
        return f"a profile with values from {np.min(value):g} to {np.max(value):g}"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, (datetime.date, datetime.time)):  # Excel stores text such as 2-1 as a date
        shown = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
        return (f"the date or time {shown.removesuffix(' 00:00:00')} (Excel's reading of text such as 2-1; to keep "
                "text, type it with a leading apostrophe)")
    return repr(value) if not isinstance(value, float) else f"{value:g}"


class _Nothing:
    """Marker for issues that concern no single cell value (a missing sheet or column)."""

    def __repr__(self) -> str:
        return "<nothing>"


NO_VALUE: object = _Nothing()


class CaseError(EcodecError):
    """All problems found in one case workbook, reported together."""

    def __init__(self, source: str | Path | None, issues: list[InputIssue]):
        self.source = source
        self.issues = list(issues)
        count = len(self.issues)
        head = f"{Path(source).name if source else 'case'}: {count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + "\n" + "\n".join("  - " + i.message() for i in self.issues))

    def messages(self) -> list[str]:
        return [issue.message(self.source) for issue in self.issues]


class AgentError(EcodecError):
    """An agent's parameters are invalid: every problem, each worded as the workbook words it without the cell
    (``agent 'b' (storage): column 'p_min_kw': got 5; expected p_min_kw <= p_max_kw at every step``)."""

    def __init__(self, agent: str, kind: str, issues: list[InputIssue]):
        self.agent = agent
        self.kind = kind
        self.issues = list(issues)
        super().__init__("\n".join(self.messages()))

    def messages(self) -> list[str]:
        return [f"agent '{self.agent}' ({self.kind}): {issue.message()}" for issue in self.issues]

    def __reduce__(self):
        return type(self), (self.agent, self.kind, self.issues)


class WorkbookRejected(EcodecError):
    """The file is not something ecodec will open (not xlsx, too large, unsafe)."""


class ProblemError(EcodecError):
    """A coupled problem is inconsistent (a contribution to an undeclared resource, a resource nobody feeds)."""


class NetworkError(EcodecError):
    """A communication graph cannot be built: unknown agents, self loops, or agents in separate groups."""


class SolveError(EcodecError):
    """A solve ended without a usable solution (infeasible, unbounded, solver failure)."""
