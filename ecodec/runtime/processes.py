"""The processes of an MPI job as seen from one host: alive or not, stopped, which ended first, dying together.

The launcher (:mod:`ecodec.runtime.launcher`) is not the parent of the rank processes (mpiexec starts a proxy that
starts them), so it cannot wait for them; it reads ``/proc`` and uses pidfds instead:

* :class:`DeathWatch` waits on a pidfd per rank process (Linux >= 5.3), so the launcher wakes within microseconds
  of the first death and can tell which rank died first: mpiexec kills the survivors some 20 ms later, which a
  0.2 s poll could not separate (the launcher used to name a survivor).  Without pidfds it falls back to polling.
* :func:`stopped` reads the process state: a rank stopped by SIGSTOP (or a debugger) cannot be told from a slow
  one by its progress alone, but its state says so.
* :func:`die_with_this_process` arms Linux's parent-death signal in mpiexec, so a launcher killed by SIGKILL
  takes mpiexec with it (hydra's proxies then kill the ranks); :func:`follow_launcher` is the ranks' own check,
  for launchers where that signal is not available or an mpiexec that does not take its ranks down.

A pid is only meaningful on its host: callers pass pids of this host only.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PR_SET_PDEATHSIG = 1
FOLLOW_PERIOD_S = 1.0
EXIT_LAUNCHER_GONE = 1


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3, the state, first); None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process of this host (a zombie has ended for our purpose)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _has_proc():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    return True


def stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, SIGTSTP, a debugger): it makes no progress until continued."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] in ("T", "t")


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot): with the pid it names one process, even after pid reuse."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None and fields[0] not in ("Z", "X") else None


def send(pid: int, signum: int) -> None:
    """Send ``signum`` to ``pid`` if it still exists."""
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class DeathWatch:
    """Tells which of the tracked processes ended, batch by batch, the first batch first (see the module
    docstring).  ``wait`` returns the pids found ended in one wake-up: more than one only when they ended within
    the same instant (or the fallback's poll interval)."""

    def __init__(self):
        self._fds: dict[int, int] = {}  # pidfd -> pid
        self._pids: set[int] = set()
        self._ended: set[int] = set()
        self._pending: set[int] = set()  # ended before they could be watched
        self._poller = select.poll() if hasattr(os, "pidfd_open") and hasattr(select, "poll") else None

    def track(self, pids: Iterable[int]) -> None:
        """Watch these pids too (those already watched or ended are left as they are)."""
        for pid in set(pids) - self._pids:
            self._pids.add(pid)
            if self._poller is None:
                continue
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                self._pending.add(pid)
                continue
            except OSError:  # pidfds not supported here (old kernel, seccomp): poll instead
                self._poller = None
                continue
            self._fds[fd] = pid
            self._poller.register(fd, select.POLLIN)

    def wait(self, timeout_s: float) -> set[int]:
        """Wait up to ``timeout_s`` for a tracked process to end; the pids that ended since the last call."""
        if self._pending:
            batch, self._pending = self._pending, set()
        elif self._poller is not None and self._fds:
            batch = {self._fds[fd] for fd, _ in self._poller.poll(timeout_s * 1000)}
        else:
            time.sleep(timeout_s)
            batch = {pid for pid in self._pids - self._ended if not alive(pid)}
        for fd in [fd for fd, pid in self._fds.items() if pid in batch]:
            self._release(fd)
        self._ended |= batch
        return batch

    def close(self) -> None:
        for fd in list(self._fds):
            self._release(fd)

    def _release(self, fd: int) -> None:
        if self._poller is not None:
            self._poller.unregister(fd)
        os.close(fd)
        del self._fds[fd]


def die_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child gets SIGKILL when this process dies (Linux's
    PR_SET_PDEATHSIG, kept across exec); None where that is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child must not load anything
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(EXIT_LAUNCHER_GONE)

    return arm


def identity() -> str:
    """This process as ``pid@host``, for :func:`follow_launcher` in the processes it starts."""
    return f"{os.getpid()}@{socket.gethostname()}"


def follow_launcher(launcher: str | None) -> bool:
    """End this process at once (exit code 1, nothing written) when the process ``launcher`` (``pid@host``, from
    :func:`identity`) ends; checked every second by a daemon thread.  A command that was killed must not write
    results later.  Returns whether the launcher is followed (not when it runs on another host, or the value does
    not name a process)."""
    pid, _, host = (launcher or "").partition("@")
    if not pid.isdigit() or host != socket.gethostname():
        return False
    pid_ = int(pid)
    known = start_time(pid_) if _has_proc() else None

    def same() -> bool:
        return start_time(pid_) == known if known is not None else alive(pid_)

    if not same():
        os._exit(EXIT_LAUNCHER_GONE)

    def follow() -> None:
        while True:
            time.sleep(FOLLOW_PERIOD_S)
            if not same():
                os._exit(EXIT_LAUNCHER_GONE)

    threading.Thread(target=follow, name="ecodec-follow-launcher", daemon=True).start()
    return True
