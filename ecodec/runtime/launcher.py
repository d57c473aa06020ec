"""``ecodec run/compare ... --ranks R``: start the same command on R MPI ranks and watch over them.

The launcher runs ``mpiexec -n R python -m ecodec <the same arguments>`` (the ``mpiexec`` beside this Python, as
installed by ``pip install 'ecodec[mpi]'``, else the first on PATH) with a fresh status board
(:mod:`ecodec.runtime.status`), then:

* forwards the ranks' output, leaving out the launcher banners mpiexec prints when a process fails;
* checks every 0.2 s that each rank's process is alive; when one is gone before finishing (killed, crashed),
  it stops the job (SIGTERM to mpiexec, SIGKILL after a grace period), so no run hangs on a dead peer;
* on failure prints one message naming the rank, its agents, the iteration and the agent it was working on,
  and returns :data:`EXIT_RANK_FAILURE`;
* on Ctrl-C does nothing itself: the ranks receive the interrupt, stop after the same iteration and the root
  writes what was computed.

Rank processes on other hosts cannot be watched by process id; there mpiexec's own failure detection applies.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ecodec.errors import EcodecError
from ecodec.runtime.status import LAUNCHED_ENV, STATUS_DIR_ENV, RankStatus, read_board

EXIT_RANK_FAILURE = 3
POLL_S, GRACE_S = 0.2, 10.0
_BANNER = re.compile(r"^(=+|=  .*|YOUR APPLICATION TERMINATED.*|This typically refers.*|Please see the FAQ.*|"
                     r"application called MPI_Abort.*|Abort\(\d+\) on node .*|\[unset\]:.*|\s*)$")
_SIGNAL = re.compile(r"(\w+) \(signal (\d+)\)")
_BANNER_PID = re.compile(r"PID (\d+) RUNNING AT")


def find_mpiexec() -> str:
    """The mpiexec of this installation (beside the Python executable), else one on PATH."""
    beside = Path(sys.executable).with_name("mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise EcodecError("--ranks needs MPI: install ecodec's MPI extra (pip install 'ecodec[mpi]', which brings "
                          "mpi4py and an mpiexec), or start ecodec under your own mpiexec")
    return found


def launch(arguments: list[str], ranks: int) -> int:
    """Run ``ecodec <arguments>`` on ``ranks`` MPI ranks; returns the exit code (see the module docstring)."""
    if ranks < 1:
        raise EcodecError(f"--ranks {ranks}: expected an integer >= 1")
    mpiexec = find_mpiexec()
    try:
        import mpi4py  # noqa: F401 - the ranks need it; say so here rather than R times
    except ImportError:
        raise EcodecError("--ranks needs mpi4py: pip install 'ecodec[mpi]'") from None
    given = os.environ.get(STATUS_DIR_ENV)
    board = Path(given) if given else Path(tempfile.mkdtemp(prefix="ecodec-ranks-"))
    env = {**os.environ, STATUS_DIR_ENV: str(board), LAUNCHED_ENV: "1"}
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "ecodec", *arguments]
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))  # the ranks handle Ctrl-C
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   bufsize=1)
        banner: list[str] = []
        readers = [threading.Thread(target=_forward, args=(stream, target, banner), daemon=True)
                   for stream, target in ((process.stdout, sys.stdout), (process.stderr, sys.stderr))]
        for reader in readers:
            reader.start()
        culprit = _watch(process, board)
        for reader in readers:
            reader.join(timeout=GRACE_S)
    finally:
        signal.signal(signal.SIGINT, previous)
    code = process.returncode
    statuses = read_board(board).values()
    failed = culprit is not None or any(s.error for s in statuses) or not all(s.done for s in statuses)
    if not failed:  # every rank ended normally (a non-zero code is the command's own: no solution, bad input)
        if not given:
            shutil.rmtree(board, ignore_errors=True)
        return code
    _stop_local_ranks(statuses)
    print(f"error: {_failure_message(board, culprit, ranks, code, banner)}", file=sys.stderr)
    return EXIT_RANK_FAILURE


def _forward(stream, target, banner: list[str]) -> None:
    """Copy the ranks' output to ours, keeping mpiexec's failure banner (and the blank line before it) aside."""
    in_banner, blank = False, None
    for line in stream:
        text = line.rstrip("\n")
        if text.startswith("====="):
            in_banner, blank = True, None
        if in_banner or (text and _BANNER.match(text)):
            banner.append(line)
            continue
        if not text.strip():
            if blank is not None:
                target.write(blank)
            blank = line
            continue
        if blank is not None:
            target.write(blank)
            blank = None
        target.write(line)
        target.flush()
    if blank is not None and not in_banner:
        target.write(blank)
        target.flush()


def _watch(process: subprocess.Popen, board: Path) -> RankStatus | None:
    """Wait for mpiexec; if a local rank's process disappears before finishing, stop the job and return it."""
    culprit = None
    while process.poll() is None:
        time.sleep(POLL_S)
        for status in read_board(board).values():
            if not status.done and status.error is None and status.lost_peer is None and not _alive(status.pid):
                culprit = status
                break
        if culprit is not None:
            process.terminate()
            try:
                process.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            break
    return culprit


def _stop_local_ranks(statuses) -> None:
    """Make sure no rank process of this host outlives a failed job.

    mpiexec usually takes its ranks down with it, but a rank busy in a solve can outlive it for a moment (it is
    then no longer our descendant, so it cannot be waited for): wait up to the grace period, then kill it.
    """
    here = socket.gethostname()
    local = [s.pid for s in statuses if s.host == here and s.pid != os.getpid()]
    deadline = time.monotonic() + GRACE_S
    while any(_alive(pid) for pid in local) and time.monotonic() < deadline:
        time.sleep(POLL_S / 4)
    for pid in local:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + GRACE_S
    while any(_alive(pid) for pid in local) and time.monotonic() < deadline:
        time.sleep(POLL_S / 4)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if Path(f"/proc/{pid}/stat").exists():  # a zombie is gone for our purpose
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False
    return True


def _failure_message(board: Path, culprit: RankStatus | None, ranks: int, code: int, banner: list[str]) -> str:
    statuses = read_board(board)
    errors = [s for s in statuses.values() if s.error]
    if errors:
        return f"{errors[0].error}; every rank was stopped"
    text = "".join(banner)
    named = _BANNER_PID.search(text)  # mpiexec names the process that failed first
    if named:
        culprit = next((s for s in statuses.values() if s.pid == int(named.group(1))), culprit)
    if culprit is None:
        unfinished = [s for s in statuses.values() if not s.done and s.lost_peer is None]
        culprit = unfinished[0] if unfinished else None
    signal_name = _SIGNAL.search(text)
    cause = f" ({signal_name.group(1).lower()} by signal {signal_name.group(2)})" if signal_name else ""
    if culprit is None:
        lost = [s.lost_peer for s in statuses.values() if s.lost_peer]
        if lost:
            return f"{lost[0]}; every rank was stopped"
        return f"the run on {ranks} ranks failed before any rank started (mpiexec exit code {code}){cause}"
    agents = ", ".join(culprit.agents[:6]) + (" ..." if len(culprit.agents) > 6 else "")
    return (f"rank {culprit.rank} of {ranks} (process {culprit.pid} on {culprit.host}, agents {agents}) ended "
            f"unexpectedly{cause} {culprit.where()}; every rank was stopped")
