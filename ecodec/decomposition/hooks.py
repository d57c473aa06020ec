"""Hooks the iteration loop calls: progress display, logging, checkpoint.

A hook sees the start of a run, every iteration record (a dict of the history row) and the final
:class:`~ecodec.results.RunResult`.  The loop knows nothing of what hooks do; the CLI picks them.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pandas as pd

from ecodec.decomposition.registry import REGISTRY
from ecodec.files import OutputError, atomic_write
from ecodec.progress import STAGE_THRESHOLD_S, format_duration, is_terminal
from ecodec.runtime.mpi_process import mpi_launched

log = logging.getLogger(__name__)


class Hook:
    """Base hook: does nothing; override what you need."""

    def on_start(self, method: str, problem, stopping) -> None:
        pass

    def on_resume(self, history: list[dict]) -> None:
        """A resumed run: ``history`` is what the run it continues had done (called after ``on_start``)."""

    def on_iteration(self, record: dict) -> None:
        pass

    def on_finish(self, result) -> None:
        pass


#: What a progress line shows of a method that declares nothing (a driver of one's own, not registered)
DEFAULT_PROGRESS = {"rel_violation": "violation", "cost_gap": "gap"}


def progress_labels(method: str) -> dict[str, str]:
    """The history columns the progress line of ``method`` shows, with their labels, as the method declares them
    (:attr:`~ecodec.decomposition.registry.MethodSpec.progress`)."""
    spec = REGISTRY.get(method)
    return spec.progress_labels() if spec is not None else dict(DEFAULT_PROGRESS)


def _describe(record: dict, labels: dict[str, str], limit: int | None = None) -> str:
    """The progress line: iteration (out of ``limit`` when given), cost, and the declared columns the record
    holds (a cost gap only with a reference)."""
    parts = [f"iteration {record['iteration']:>5}" + (f"/{limit}" if limit is not None else ""),
             f"cost {record['objective']:.6g}"]
    parts += [f"{label} {record[name]:.2e}" if record[name] == record[name] else f"{label} -"  # NaN: none yet
              for name, label in labels.items() if name in record]
    return ", ".join(parts)


def iteration_limit(method: str, problem, stopping) -> int:
    """The most iterations a run of ``method`` can make: the least of ``stopping.max_iterations`` and the limits
    the method's stopping rules declare for ``problem``."""
    spec = REGISTRY.get(method)
    limits = [rule.limit(problem) for rule in (spec.stopping if spec is not None else ())]
    return min([stopping.max_iterations, *(n for n in limits if n is not None)])


class ProgressHook(Hook):
    """The progress of a run on ``stream``, as people expect it of a long computation.

    On a terminal (:func:`ecodec.progress.is_terminal`, in a process not started by mpiexec) a live bar redrawn in place: the
    iteration out of the iteration limit, elapsed time, rate, the time left (ETA), and the method's declared
    columns (cost, violation, gap) as its postfix.  The bar is tqdm's: a well-kept library without dependencies of
    its own that already does what a hand-made bar gets wrong (a smoothed rate and ETA, the terminal's width,
    redrawing with carriage returns, messages and log records printed above the bar without breaking it, and a
    stream that is not a terminal).  Anywhere else (a file, a pipe, CI, the ranks
    of an MPI job) plain lines, one per ``every_s`` seconds and the first and last iteration:
    ``  <method>: iteration N/limit, cost ..., <columns>, R it/s, elapsed M:SS, ETA M:SS`` (the prefix up to
    "iteration" is kept for those who parse it).

    Once the rate is measured (``measure_s`` seconds and ``measure_iterations`` iterations into the run: the first
    iterations of a fast method are slower than the rest, and a run over in two seconds needs no forecast) and
    reaching the iteration limit would take over ``long_s`` seconds, one line says how long at that rate.  Given
    ``since`` (a ``clock`` reading taken before the run), ``on_start`` prints a stage line for the set-up
    (subproblems built and compiled) when it took over a second.  ``live`` forces the bar (True) or plain lines
    (False); ``clock`` is the time source (tests give a fake one)."""

    def __init__(self, stream: TextIO, every_s: float = 1.0, *, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, since: float | None = None,
                 measure_s: float = 2.0, measure_iterations: int = 3, long_s: float = 60.0):
        self.stream = stream
        self.every_s = every_s
        self.live = is_terminal(stream) and not mpi_launched() if live is None else live
        self.clock = clock
        self.measure_s = measure_s
        self.measure_iterations = measure_iterations
        self.long_s = long_s
        self._since = since
        self._last = -math.inf
        self._method = ""
        self._labels = dict(DEFAULT_PROGRESS)
        self._record: dict | None = None
        self._limit: int | None = None
        self._t0 = 0.0  # clock at the first iteration of this process (after set-up, after a resume)
        self._k0 = 0  # iterations done before (a resumed run)
        self._projected = False
        self._bar = None
        self._redirect = None

    def on_start(self, method: str, problem, stopping) -> None:
        self._method = method
        self._labels = progress_labels(method)
        self._limit = iteration_limit(method, problem, stopping)
        self._t0 = self.clock()
        if self._since is not None and self._t0 - self._since > STAGE_THRESHOLD_S:
            self.stream.write(f"{method}: building and compiling the subproblems ... done in "
                              f"{self._t0 - self._since:.1f} s\n")
        self.stream.write(f"{method}: {len(problem.agents)} agents, at most {self._limit} iterations "
                          f"(Ctrl-C stops and keeps the result so far)\n")
        self.stream.flush()

    def on_resume(self, history: list[dict]) -> None:
        self._k0 = len(history)
        self._t0 = self.clock()
        self._write(f"{self._method}: resumed after iteration {len(history)}")

    def on_iteration(self, record: dict) -> None:
        self._record = record
        now = self.clock()
        if self.live and self._bar is None:  # made at the first iteration: after a resume, it starts from there
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect = logging_redirect_tqdm()  # a warning logged meanwhile goes above the bar, not into it
            self._redirect.__enter__()
            sized = _terminal_width(self.stream) > 0  # else a terminal that does not say: 120 x 24
            self._bar = tqdm(total=self._limit, initial=self._k0, desc=f"  {self._method}", unit="it",
                             file=self.stream, leave=True, dynamic_ncols=sized, ncols=None if sized else 120,
                             nrows=None if sized else 24, mininterval=0.2)
        if self._bar is not None:
            self._bar.set_postfix_str(_columns(record, self._labels), refresh=False)
            self._bar.update(record["iteration"] - self._bar.n)
        elif record["iteration"] == self._k0 + 1 or now - self._last >= self.every_s:
            self._last = now
            self._write(f"  {self._method}: {_describe(record, self._labels, self._limit)}, "
                        f"{self._timing(record, now, eta=True)}")
        if not self._projected:
            self._project(record, now)

    def on_finish(self, result) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._redirect.__exit__(None, None, None)
        if self._record is not None:
            self._write(f"  {self._method}: {_describe(self._record, self._labels, self._limit)}, "
                        f"{self._timing(self._record, self.clock(), eta=False)}")
        self._write(f"{self._method}: {result.info.get('message', result.status)}")

    def _rate(self, record: dict, now: float) -> float:
        """Iterations per second since the first iteration of this process (NaN before any time has passed)."""
        done, took = record["iteration"] - self._k0, now - self._t0
        return done / took if took > 0 and done > 0 else math.nan

    def _timing(self, record: dict, now: float, eta: bool) -> str:
        rate = self._rate(record, now)
        text = (f"{rate:.3g} it/s" if rate == rate else "- it/s") + f", elapsed {format_duration(now - self._t0)}"
        if eta:
            left = (self._limit - record["iteration"]) / rate if rate == rate and self._limit is not None else math.nan
            text += f", ETA {format_duration(left)}"
        return text

    def _project(self, record: dict, now: float) -> None:
        """Once the rate is measured: say how long the run takes to its iteration limit when that is long."""
        if now - self._t0 < self.measure_s or record["iteration"] - self._k0 < self.measure_iterations:
            return
        self._projected = True
        rate = self._rate(record, now)
        if rate != rate or self._limit is None:
            return
        left = (self._limit - record["iteration"]) / rate
        if left > self.long_s:
            self._write(f"{self._method}: at the measured rate ({rate:.3g} it/s) the iteration limit of "
                        f"{self._limit} is reached in about {format_duration(left, hours=True)} (sooner if the "
                        f"run converges; Ctrl-C stops it and keeps the result so far)")

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)  # above the bar, which is redrawn below it
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _terminal_width(stream: TextIO) -> int:
    """The columns of the terminal ``stream`` writes to; 0 when it does not say (a pseudo-terminal never sized)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def _columns(record: dict, labels: dict[str, str]) -> str:
    """The bar's postfix: cost and the declared columns (see :func:`_describe`), short enough for a terminal."""
    parts = [f"cost {record['objective']:.5g}"]
    parts += [f"{label} {record[name]:.1e}" if record[name] == record[name] else f"{label} -"
              for name, label in labels.items() if name in record]
    return ", ".join(parts)


class LoggingHook(Hook):
    """Every iteration record at DEBUG level on the ``ecodec.decomposition.hooks`` logger."""

    def __init__(self):
        self._labels = dict(DEFAULT_PROGRESS)

    def on_start(self, method: str, problem, stopping) -> None:
        self._labels = progress_labels(method)

    def on_iteration(self, record: dict) -> None:
        log.debug(_describe(record, self._labels))


class CheckpointHook(Hook):
    """Writes the history so far to ``path`` (CSV, atomically) every ``every`` iterations, but not sooner than
    ``min_interval_s`` after the previous write, and at the end, so a run that is killed keeps its history up to
    the last checkpoint (a write the system refuses is logged and the run goes on).  The interval keeps long runs linear: each write rewrites the whole history, and writing
    it every 25 of 14000 iterations was measured to make a 12 s run take 145 s."""

    def __init__(self, path: Path, every: int = 25, min_interval_s: float = 2.0):
        self.path = Path(path)
        self.every = every
        self.min_interval_s = min_interval_s
        self._rows: list[dict] = []
        self._last_write = -math.inf

    def on_resume(self, history: list[dict]) -> None:
        self._rows = [dict(record) for record in history]

    def on_iteration(self, record: dict) -> None:
        self._rows.append(dict(record))
        if len(self._rows) % self.every == 0 and time.monotonic() - self._last_write >= self.min_interval_s:
            self._write()

    def on_finish(self, result) -> None:
        if self._rows:
            self._write()

    def _write(self) -> None:
        self._last_write = time.monotonic()
        frame = pd.DataFrame(self._rows)
        try:
            atomic_write(self.path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.17g"))
        except OutputError as exc:  # like the state checkpoint: it serves a later look, the run itself goes on
            log.warning("the history checkpoint could not be written (%s); the run goes on", exc)
