"""``ecodec run/compare ... --ranks R``: start the same command on R MPI ranks and watch over them.

The launcher runs ``mpiexec -n R python -m ecodec <the same arguments>`` (the ``mpiexec`` beside this Python, as
installed by ``pip install 'ecodec[mpi]'``, else the first on PATH) with a fresh status board
(:mod:`ecodec.runtime.status`; every rank enters it as soon as it starts), then:

* forwards the ranks' output, leaving out the launcher banners mpiexec prints when a process fails (and
  mpiexec's complaints while the launcher takes a job down);
* **dead ranks**: waits on every rank's process (a pidfd each, :class:`~ecodec.runtime.processes.DeathWatch`);
  when one ends before finishing (killed, crashed) it stops the job, naming the rank that ended *first* (mpiexec
  kills the others some milliseconds later);
* **hung ranks**: a watchdog (:mod:`ecodec.runtime.watchdog`) stops the job when a rank makes no progress for
  the watchdog limit: ``ECODEC_MPI_WATCHDOG_S`` seconds when set (0: off), else ``max(30 s, 10 x the slowest
  iteration so far)``, and before the first iteration has completed ``max(30 s, the set-up time)``.  Only the
  driver loop is timed (and, in any phase, a rank whose process is stopped): reading the case, the centralized
  reference solve and writing results may take any time;
* on a failure stops every rank (SIGKILL to the local rank processes, which also ends a stopped one; SIGTERM to
  mpiexec, SIGKILL after a grace period), prints one message naming the rank, its agents, the iteration and the
  agent it was working on (for a hang also how long it was silent and how to raise the limit), and returns
  :data:`EXIT_RANK_FAILURE`;
* **SIGINT or SIGTERM to the launcher** (its pid, or a terminal's Ctrl-C to the whole process group): asks every
  rank to stop after the same iteration (SIGUSR1 to mpiexec, which forwards it to every rank, and to the local
  rank processes directly; the ranks treat it as their Ctrl-C flag), waits for rank 0 to write what was computed
  (status ``interrupted``, with its whole history) and returns 128 + the signal: 130 after SIGINT, 143 after
  SIGTERM.  The request is sent once every rank has entered the board (a rank that has not yet installed its
  handler would be killed by SIGUSR1), or :data:`LISTEN_S` into the job for ranks the board cannot show; a rank
  busy in the centralized reference solve stops at its first iteration.  SIGUSR1 rather than SIGINT: hydra turns
  a second SIGINT into SIGKILL and a rank escalates on a second SIGINT, so the terminal's Ctrl-C (which reaches
  mpiexec too) plus the launcher's own request would stop the ranks at once.  A second SIGINT or SIGTERM to the
  launcher stops every rank at once; nothing more is written;
* **a launcher killed by SIGKILL** takes mpiexec with it (Linux's parent-death signal, armed in mpiexec), and
  mpiexec's proxies kill the ranks; the ranks also check every second that their launcher is alive and end at
  once, writing nothing, when it is gone.  A command that was killed never writes results later.

Exit codes: the command's own (0, 1 no solution, 2 bad input) when every rank ended normally;
:data:`EXIT_RANK_FAILURE` (3) when a rank failed, died or hung; 128 + the signal after SIGINT/SIGTERM.

A job spread over several hosts is watched only in part: ranks on other hosts cannot be seen by process id or
state (there mpiexec's own failure detection applies), and the watchdog's silence rule needs every rank on the
board, so it applies only when the board directory (``ECODEC_MPI_STATUS_DIR``) is shared.
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
from dataclasses import dataclass, field
from pathlib import Path

from ecodec.errors import EcodecError
from ecodec.runtime import processes
from ecodec.runtime.status import LAUNCHED_ENV, STATUS_DIR_ENV, RankStatus, read_board
from ecodec.runtime.watchdog import Stall, Watchdog, configured_limit

EXIT_RANK_FAILURE = 3
POLL_S, GRACE_S = 0.2, 10.0
#: After this long a rank listens for SIGUSR1 even if the launcher cannot see it on the board (another host without
#: a shared board): a rank installs its handler before it even reads the case
LISTEN_S = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_BANNER = re.compile(r"^(=+|=  .*|YOUR APPLICATION TERMINATED.*|This typically refers.*|Please see the FAQ.*|"
                     r"application called MPI_Abort.*|Abort\(\d+\) on node .*|\[unset\]:.*|\s*)$")
_TEARDOWN = re.compile(r"^\[(mpiexec|proxy)[:@]")  # hydra's complaints while its job is taken down
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


@dataclass
class _Outcome:
    """How the watch ended: a rank that died first (and the pids seen dead in the same instant), a hang, or an
    interrupt of the launcher (``signum``; ``hard``: a second one, every rank stopped at once)."""

    culprit: RankStatus | None = None
    tied: set[int] = field(default_factory=set)
    stall: Stall | None = None
    signum: int | None = None
    hard: bool = False


def without_ranks(argv: list[str]) -> list[str]:
    """The command line without its --ranks option (the ranks run the same command in one process each)."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--ranks":
            skip = True
        elif not token.startswith("--ranks="):
            out.append(token)
    return out


def launch(arguments: list[str], ranks: int) -> int:
    """Run ``ecodec <arguments>`` on ``ranks`` MPI ranks; returns the exit code (see the module docstring)."""
    if ranks < 1:
        raise EcodecError(f"--ranks {ranks}: expected an integer >= 1")
    mpiexec = find_mpiexec()
    try:
        import mpi4py  # noqa: F401 - the ranks need it; say so here rather than R times
    except ImportError:
        raise EcodecError("--ranks needs mpi4py: pip install 'ecodec[mpi]'") from None
    limit = configured_limit()
    given = os.environ.get(STATUS_DIR_ENV)
    board = Path(given) if given else Path(tempfile.mkdtemp(prefix="ecodec-ranks-"))
    for stale in (*board.glob("rank-*.json"), *board.glob("rank-*.progress")):  # a reused board: this job's only
        stale.unlink(missing_ok=True)
    env = {**os.environ, STATUS_DIR_ENV: str(board), LAUNCHED_ENV: processes.identity()}
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "ecodec", *arguments]
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))  # handled by the watch
                for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}  # ignored: a shell's choice
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   bufsize=1, preexec_fn=processes.die_with_this_process())
        banner: list[str] = []
        teardown = threading.Event()
        readers = [threading.Thread(target=_forward, args=(stream, target, banner, teardown), daemon=True)
                   for stream, target in ((process.stdout, sys.stdout), (process.stderr, sys.stderr))]
        for reader in readers:
            reader.start()
        outcome = _Watch(process, board, ranks, Watchdog(ranks, limit, time.monotonic()), received, teardown).run()
        for reader in readers:
            reader.join(timeout=GRACE_S)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
    code = process.returncode
    statuses = read_board(board).values()
    if outcome.hard:
        _stop_local_ranks(statuses)
        name = signal.Signals(outcome.signum).name
        print(f"error: {name} received while the ranks were stopping: every rank was stopped at once, and the run "
              "was not saved", file=sys.stderr)
        return 128 + outcome.signum
    failed = (outcome.culprit is not None or outcome.stall is not None or any(s.error for s in statuses)
              or not all(s.done for s in statuses))
    if not failed:  # every rank ended normally (a non-zero code is the command's own: no solution, bad input)
        if not given:
            shutil.rmtree(board, ignore_errors=True)
        return 128 + outcome.signum if outcome.signum is not None else code
    _stop_local_ranks(statuses)
    print(f"error: {_failure_message(statuses, outcome, ranks, code, banner)}", file=sys.stderr)
    return EXIT_RANK_FAILURE


def _forward(stream, target, banner: list[str], teardown: threading.Event) -> None:
    """Copy the ranks' output to ours, keeping mpiexec's failure banner (and the blank line before it) aside, and
    mpiexec's own lines once the job is being taken down."""
    in_banner, blank = False, None
    for line in stream:
        text = line.rstrip("\n")
        if text.startswith("====="):
            in_banner, blank = True, None
        if in_banner or (text and _BANNER.match(text)) or (teardown.is_set() and _TEARDOWN.match(text)):
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


class _Watch:
    """The launcher's loop while mpiexec runs: deaths, hangs and the launcher's own signals (module docstring)."""

    def __init__(self, process: subprocess.Popen, board: Path, ranks: int, watchdog: Watchdog,
                 received: list[int], teardown: threading.Event):
        self.process, self.board, self.ranks, self.watchdog = process, board, ranks, watchdog
        self.received, self.teardown = received, teardown
        self.here = socket.gethostname()
        self.outcome = _Outcome()
        self.forwarded = False
        self.started = time.monotonic()

    def run(self) -> _Outcome:
        deaths = processes.DeathWatch()
        try:
            while not self._step(deaths):
                pass
        finally:
            deaths.close()
        return self.outcome

    def _step(self, deaths: processes.DeathWatch) -> bool:
        """One poll; True when the watch is over (mpiexec ended, or the job was stopped)."""
        ended = deaths.wait(POLL_S)
        statuses = read_board(self.board)
        local = {r: s for r, s in statuses.items() if s.host == self.here}
        deaths.track(s.pid for s in local.values())
        if self._on_signals(statuses, local):
            return True
        dead = [s for s in local.values() if s.pid in ended and _unfinished(s)]
        if dead:
            self.outcome.culprit = dead[0]
            self.outcome.tied = {s.pid for s in dead} if len(dead) > 1 else set()
            self._stop_job(local)
            return True
        stopped = {r for r, s in local.items() if _unfinished(s) and processes.stopped(s.pid)}
        stall = self.watchdog.observe(time.monotonic(), statuses, stopped)
        if stall is not None:
            self.outcome.stall = stall
            self._stop_job(local)
            return True
        return self.process.poll() is not None

    def _on_signals(self, statuses: dict[int, RankStatus], local: dict[int, RankStatus]) -> bool:
        """Pass the launcher's SIGINT/SIGTERM on to the ranks (once all listen); stop at once on a second one."""
        if not self.received:
            return False
        self.outcome.signum = self.received[0]
        if len(self.received) > 1:  # the second signal names the exit code
            self.outcome.signum, self.outcome.hard = self.received[1], True
            self._stop_job(local)
            return True
        listening = len(statuses) >= self.ranks or time.monotonic() - self.started >= LISTEN_S
        if not self.forwarded and listening:
            self.forwarded = True
            self.process.send_signal(signal.SIGUSR1)  # mpiexec forwards it to every rank, on every host
            for s in local.values():
                if _unfinished(s):
                    processes.send(s.pid, signal.SIGUSR1)  # and directly, should mpiexec not forward it
        return False

    def _stop_job(self, local: dict[int, RankStatus]) -> None:
        """Take the whole job down now: the local ranks by SIGKILL (a stopped process ignores anything else),
        mpiexec by SIGTERM, then SIGKILL after the grace period."""
        self.teardown.set()
        for s in local.values():
            if _unfinished(s):
                processes.send(s.pid, signal.SIGKILL)
        self.process.terminate()
        try:
            self.process.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _unfinished(status: RankStatus) -> bool:
    """A rank that has neither finished nor reported its own failure (or a lost peer) on the board."""
    return not status.done and status.error is None and status.lost_peer is None


def _stop_local_ranks(statuses) -> None:
    """Make sure no rank process of this host outlives a failed job.

    mpiexec usually takes its ranks down with it, but a rank busy in a solve can outlive it for a moment (it is
    then no longer our descendant, so it cannot be waited for): wait up to the grace period, then kill it.
    """
    here = socket.gethostname()
    local = [s.pid for s in statuses if s.host == here and s.pid != os.getpid()]
    deadline = time.monotonic() + GRACE_S
    while any(processes.alive(pid) for pid in local) and time.monotonic() < deadline:
        time.sleep(POLL_S / 4)
    for pid in local:
        if processes.alive(pid):
            processes.send(pid, signal.SIGKILL)
    deadline = time.monotonic() + GRACE_S
    while any(processes.alive(pid) for pid in local) and time.monotonic() < deadline:
        time.sleep(POLL_S / 4)


def _failure_message(statuses, outcome: _Outcome, ranks: int, code: int, banner: list[str]) -> str:
    """One line: a rank's own error first, then a hang, then the rank that ended first."""
    statuses = list(statuses)
    errors = [s for s in statuses if s.error]
    if errors:
        return f"{errors[0].error}; every rank was stopped"
    if outcome.stall is not None:
        return outcome.stall.describe(ranks)
    text = "".join(banner)
    named = _BANNER_PID.search(text)  # mpiexec names the process whose end it noticed first
    named_pid = int(named.group(1)) if named else None
    culprit = outcome.culprit
    if culprit is not None and named_pid in outcome.tied:  # only to break a tie: the watch saw them end at once
        culprit = next(s for s in statuses if s.pid == named_pid)
    if culprit is None:  # mpiexec ended before the watch saw any rank end
        unfinished = [s for s in statuses if _unfinished(s)]
        culprit = next((s for s in unfinished if s.pid == named_pid), unfinished[0] if unfinished else None)
    signal_name = _SIGNAL.search(text)
    cause = (f" ({signal_name.group(1).lower()} by signal {signal_name.group(2)})"
             if signal_name and culprit is not None and named_pid == culprit.pid else "")
    if culprit is None:
        lost = [s.lost_peer for s in statuses if s.lost_peer]
        if lost:
            return f"{lost[0]}; every rank was stopped"
        return f"the run on {ranks} ranks failed before any rank started (mpiexec exit code {code})"
    return f"{culprit.named(ranks)} ended unexpectedly{cause} {culprit.where()}; every rank was stopped"
