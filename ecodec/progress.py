"""What a long step tells the person waiting: stage lines and durations.

:func:`stage` wraps a step (building and solving the centralized model, saving the runs, rendering the report)
and prints ``name ... done in X.X s`` on the progress stream once it ends, when it took over a second; a fast
step prints nothing.  :func:`is_terminal` says whether a stream is a terminal a live progress bar may redraw (not
a file, a pipe or CI).  The iteration progress itself is :class:`~ecodec.decomposition.hooks.ProgressHook` (which
also keeps to plain lines on the processes of an MPI job, whose output the launcher forwards line by line).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

#: A step that takes longer than this (seconds) gets a stage line
STAGE_THRESHOLD_S = 1.0
#: The clock :func:`stage` reads unless given one (looked up at each call: tests put a fake one here)
CLOCK: Callable[[], float] = time.perf_counter


def format_duration(seconds: float, hours: bool = False) -> str:
    """``M:SS`` (``H:MM:SS`` from an hour on, or always with ``hours``), in whole seconds (as a clock shows them)."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-"
    whole = max(0, int(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h or hours else f"{m}:{s:02d}"


def is_terminal(stream: TextIO | None) -> bool:
    """True when ``stream`` is a terminal: a bar redrawn in place (carriage returns) reads well there and nowhere
    else."""
    if stream is None:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


@contextmanager
def stage(stream: TextIO | None, name: str, threshold_s: float = STAGE_THRESHOLD_S,
          clock: Callable[[], float] | None = None) -> Iterator[None]:
    """Time the step in the ``with`` block; when it ends after more than ``threshold_s`` seconds print
    ``name ... done in X.X s`` on ``stream`` (nothing when ``stream`` is None, the step was fast, or it raised:
    the error says what happened); ``clock`` defaults to :data:`CLOCK`."""
    clock = clock or CLOCK
    started = clock()
    yield
    took = clock() - started
    if stream is not None and took > threshold_s:
        stream.write(f"{name} ... done in {took:.1f} s\n")
        stream.flush()


__all__ = ["CLOCK", "STAGE_THRESHOLD_S", "format_duration", "is_terminal", "stage"]
