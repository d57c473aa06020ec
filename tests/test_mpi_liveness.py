"""Liveness of runs on MPI ranks (issue 20, items 5 and 6): a hung rank stops the job, signals to the launcher stop
every rank and keep the history, and nothing outlives a killed launcher.

The watchdog and the death watch are tested as objects first (a made-up clock, no MPI); then whole runs started as a
user starts them (`ecodec run ... --ranks 2`).  The subprocess timeouts only keep a broken run from blocking the
suite; nothing asserts a speed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ecodec.errors import EcodecError
from ecodec.results import load_runs
from ecodec.runtime.processes import DeathWatch, identity
from ecodec.runtime.status import FINISHING, ITERATING, SETUP, RankStatus, read_board
from ecodec.runtime.watchdog import FLOOR_S, Watchdog, configured_limit
from test_mpi import _running  # noqa: E402 - the tests' own check of a process, shared

MPIEXEC = Path(sys.executable).with_name("mpiexec")
HANG_GUARD_S = 300
RUN = [sys.executable, "-m", "ecodec", "run", "cases/microgrid_8.xlsx", "--max-iterations", "100000", "--ranks", "2"]


def rank(r: int, *, iteration: int = -1, agent: str | None = None, beat: int = 0, phase: int = ITERATING,
         waiting: bool = False, done: bool = False) -> RankStatus:
    return RankStatus(rank=r, pid=1000 + r, host="here", agents=[f"a{r}", f"b{r}"], done=done, error=None,
                      lost_peer=None, iteration=iteration, agent=agent, beat=beat, phase=phase, waiting=waiting)


# -- the watchdog as an object --------------------------------------------------------------------------------------
def poll(dog: Watchdog, start: float, end: float, board: dict, stopped: set[int] = frozenset()):
    """Feed ``board`` to ``dog`` as the launcher does, every 0.2 s from ``start`` to ``end``; the first stall."""
    for k in range(round((end - start) / 0.2) + 1):
        stall = dog.observe(start + 0.2 * k, board, set(stopped))
        if stall is not None:
            return start + 0.2 * k, stall
    return None


def test_silence_in_the_driver_loop_stops_the_job_naming_the_rank_that_holds_the_others_up():
    dog = Watchdog(2, 5.0, now=0.0)
    # rank 1 computes agent b1 at iteration 8 (index 7) and never comes back; rank 0 waits for it in an exchange
    board = {0: rank(0, iteration=7, waiting=True, beat=40), 1: rank(1, iteration=7, agent="b1", beat=41)}
    when, stall = poll(dog, 0.0, 60.0, board)
    assert when == pytest.approx(5.0)  # the limit, not before
    assert stall.status.rank == 1 and not stall.stopped
    message = stall.describe(2)
    assert message.startswith("rank 1 of 2 (process 1001 on here, agents a1, b1) made no progress for 5.0 s at "
                              "iteration 8 while working on agent 'b1'; every rank was stopped")
    assert "ECODEC_MPI_WATCHDOG_S=SECONDS" in message


def test_any_change_on_any_rank_is_progress():
    dog = Watchdog(2, 5.0, now=0.0)
    waiting = rank(0, iteration=3, waiting=True, beat=10)
    for t, beat in ((0.0, 1), (4.0, 2), (8.0, 3), (12.0, 4)):  # rank 1 starts one slow agent after another
        assert poll(dog, t, t + 3.8, {0: waiting, 1: rank(1, iteration=3, agent="a1", beat=beat)}) is None


def test_set_up_and_writing_are_not_timed_but_a_stopped_process_is():
    dog = Watchdog(2, 5.0, now=0.0)
    # rank 0 solves the centralized reference (set-up), rank 1 waits for it
    assert poll(dog, 0.0, 600.0, {0: rank(0, phase=SETUP), 1: rank(1, phase=SETUP, waiting=True)}) is None
    # rank 0 writes results (after the totals) while rank 1 has finished
    board = {0: rank(0, iteration=99, phase=FINISHING, beat=7), 1: rank(1, iteration=99, done=True)}
    assert poll(dog, 600.2, 1200.0, board) is None
    # rank 0 is stopped while it writes: that is a hang in any phase, once it lasts the limit
    when, stall = poll(dog, 1200.2, 1300.0, board, {0})
    assert when == pytest.approx(1205.2)
    assert stall.status.rank == 0 and stall.stopped and "(its process is stopped)" in stall.describe(2)


def test_a_rank_still_setting_up_excuses_the_ranks_waiting_in_the_first_iteration():
    dog = Watchdog(2, 5.0, now=0.0)
    board = {0: rank(0, iteration=0, waiting=True), 1: rank(1, phase=SETUP, agent="b1")}  # rank 1 compiles b1
    assert poll(dog, 0.0, 120.0, board) is None


def test_the_automatic_limit_follows_the_set_up_then_the_slowest_iteration():
    dog = Watchdog(1, None, now=0.0)
    assert dog.limit() == FLOOR_S
    poll(dog, 0.0, 99.8, {0: rank(0, phase=SETUP)})
    poll(dog, 100.0, 103.8, {0: rank(0, iteration=0)})  # the set-up took 100 s
    assert dog.limit() == pytest.approx(100.0)
    poll(dog, 104.0, 104.8, {0: rank(0, iteration=1)})  # the first iteration took 4 s
    poll(dog, 105.0, 105.0, {0: rank(0, iteration=5)})  # then 0.25 s each
    assert dog.slowest_s == pytest.approx(4.0) and dog.limit() == pytest.approx(40.0)
    when, stall = poll(dog, 105.2, 200.0, {0: rank(0, iteration=5)})
    assert when == pytest.approx(145.0)
    assert "40 s: 10 x the slowest iteration so far (4.0 s), at least 30 s" in stall.limit_text


def test_time_the_launcher_was_away_is_not_counted():
    dog = Watchdog(1, 5.0, now=0.0)
    board = {0: rank(0, iteration=3)}
    assert poll(dog, 0.0, 2.0, board) is None
    assert poll(dog, 600.0, 602.8, board) is None  # the launcher itself was suspended (Ctrl-Z) for 10 minutes
    when, _ = poll(dog, 603.0, 700.0, board)
    assert when == pytest.approx(603.0)  # 2 s before and 3 s after the absence


def test_the_watchdog_limit_from_the_environment():
    assert configured_limit({}) is None
    assert configured_limit({"ECODEC_MPI_WATCHDOG_S": " 2.5 "}) == 2.5
    assert configured_limit({"ECODEC_MPI_WATCHDOG_S": "0"}) == 0
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(EcodecError, match="ECODEC_MPI_WATCHDOG_S"):
            configured_limit({"ECODEC_MPI_WATCHDOG_S": bad})
    off = Watchdog(1, 0.0, now=0.0)
    assert off.observe(0.0, {0: rank(0, iteration=1)}, {0}) is None
    assert off.observe(1e6, {0: rank(0, iteration=1)}, {0}) is None


# -- processes ------------------------------------------------------------------------------------------------------
def test_the_death_watch_reports_processes_in_the_order_they_end():
    first, second = (subprocess.Popen(["sleep", "600"]) for _ in range(2))
    watch = DeathWatch()
    try:
        watch.track([second.pid, first.pid])
        assert watch.wait(0.05) == set()
        second.kill()
        ended = set()
        while not ended:
            ended = watch.wait(1.0)
        assert ended == {second.pid}
        first.kill()
        ended = set()
        while not ended:
            ended = watch.wait(1.0)
        assert ended == {first.pid}
    finally:
        watch.close()
        for p in (first, second):
            p.kill()
            p.wait()


def test_a_rank_ends_at_once_when_its_launcher_is_gone(tmp_path):
    launcher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    marker = tmp_path / "written"
    follower = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from ecodec.runtime.processes import follow_launcher
        assert follow_launcher("{launcher.pid}@{identity().split('@', 1)[1]}")
        Path({str(marker)!r}).with_suffix(".following").touch()
        time.sleep(600)
        Path({str(marker)!r}).touch()
    """)])
    try:
        while not marker.with_suffix(".following").exists():
            assert follower.poll() is None
            time.sleep(0.05)
        launcher.kill()  # a zombie until waited for: it must count as gone
        assert follower.wait(timeout=HANG_GUARD_S) == 1
        assert not marker.exists()
    finally:
        for p in (launcher, follower):
            p.kill()
            p.wait()


# -- whole runs -----------------------------------------------------------------------------------------------------
@pytest.fixture
def start(tmp_path):
    """Start `ecodec run ... --ranks 2 --output RUNS` with a board in tmp_path: (process, board, runs); whatever a
    failing test leaves running (the launcher, a stopped rank) is killed at the end."""
    started: list[subprocess.Popen] = []

    def run(*options: str, env: dict | None = None) -> tuple[subprocess.Popen, Path, Path]:
        board, runs = tmp_path / "board", tmp_path / "runs"
        started.append(subprocess.Popen([*RUN, *options, "--output", str(runs)], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "ECODEC_MPI_STATUS_DIR": str(board), **(env or {})}))
        return started[-1], board, runs

    yield run
    for process in started:
        statuses = read_board(tmp_path / "board").values()
        process.kill()
        process.communicate()
        for status in statuses:
            _kill(status.pid)


def _wait_for_iteration(board: Path, r: int, iteration: int, process: subprocess.Popen) -> RankStatus:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        status = read_board(board).get(r)
        if status is not None and status.iteration >= iteration:
            return status
        time.sleep(0.05)
    raise AssertionError(f"rank {r} never reached iteration {iteration}")


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _pending(pid: int) -> int:
    """The signals pending for ``pid`` (thread and process), as a bit mask."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)


def mpi_run(test):
    """The marks of a test that starts ranks (as in tests/test_mpi.py)."""
    for mark in (pytest.mark.skipif(not MPIEXEC.exists(), reason="ecodec[mpi] not installed: run 'make setup'"),
                 pytest.mark.xdist_group("mpi"), pytest.mark.mpi):
        test = mark(test)
    return test


def _kill(pid: int) -> None:
    """End a rank a failing test left behind (a stopped one, say), if ``pid`` still is an ecodec process."""
    try:
        if b"ecodec" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError):
        pass


@mpi_run
def test_a_stopped_rank_is_found_by_the_watchdog_and_every_rank_is_stopped_with_one_message(start):
    process, board, _ = start("-q", env={"ECODEC_MPI_WATCHDOG_S": "3"})
    victim = _wait_for_iteration(board, 1, 20, process)
    survivor = read_board(board)[0]
    os.kill(victim.pid, signal.SIGSTOP)
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: rank 1 of 2 (process {victim.pid} on {victim.host}, agents "
                               f"{', '.join(victim.agents)}) made no progress for "), lines[0]
    assert " at iteration " in lines[0] and "(its process is stopped); every rank was stopped" in lines[0]
    assert "watchdog limit 3.0 s, from ECODEC_MPI_WATCHDOG_S; set ECODEC_MPI_WATCHDOG_S=SECONDS" in lines[0]
    assert "Traceback" not in out + err and "BAD TERMINATION" not in out + err
    assert not _running(victim.pid) and not _running(survivor.pid)


@mpi_run
def test_a_rank_looping_in_its_work_is_found_by_the_watchdog(start, tmp_path):
    """Rank 1 loops for ever at the start of iteration 21 (as inside a solver that never returns): it is not
    stopped, it uses a whole core, only its silence on the board gives it away."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent("""
        import os
        if os.environ.get("PMI_RANK") == "1":
            from ecodec.runtime.mpi import MPIRuntime
            checkpoint = MPIRuntime.checkpoint

            def looping(self, k):
                stop = checkpoint(self, k)
                while k == 20:
                    pass
                return stop

            MPIRuntime.checkpoint = looping
    """))
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    process, board, _ = start("-q", env={"ECODEC_MPI_WATCHDOG_S": "3", "PYTHONPATH": path})
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    looping = read_board(board)[1]
    expected = (rf"error: {re.escape(looping.named(2))} made no progress for \d\.\d s at iteration 21; every rank "
                r"was stopped \(watchdog limit 3\.0 s, from ECODEC_MPI_WATCHDOG_S; .+\)")
    assert re.fullmatch(expected, lines[0]), lines[0]
    assert looping.agents and not any(_running(s.pid) for s in read_board(board).values())


@mpi_run
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_launcher_stops_every_rank_after_the_same_iteration_and_keeps_the_history(start, signum,
                                                                                                   code):
    process, board, runs = start("-q")
    _wait_for_iteration(board, 0, 30, process)
    pids = [s.pid for s in read_board(board).values()]
    os.kill(process.pid, signum)  # the launcher's pid alone, as `kill` does: not the terminal's process group
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == code, err
    result = load_runs(runs)[-1]
    assert result.status == "interrupted"
    iterations = result.info["iterations"]
    assert iterations >= 30 and list(result.history["iteration"]) == list(range(1, iterations + 1))
    assert f"interrupted by the user after {iterations} iterations" in out
    assert "Traceback" not in out + err and "error:" not in err
    assert not any(_running(pid) for pid in pids)


@mpi_run
def test_a_second_interrupt_stops_every_rank_at_once_without_saving(start):
    process, board, runs = start("-q", env={"ECODEC_MPI_WATCHDOG_S": "0"})
    victim = _wait_for_iteration(board, 1, 20, process)
    survivor = read_board(board)[0]
    os.kill(victim.pid, signal.SIGSTOP)  # the ranks cannot reach the next iteration: only the second signal ends it
    os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + HANG_GUARD_S
    while not _pending(victim.pid) & (1 << (signal.SIGUSR1 - 1)):  # the launcher has asked the ranks to stop
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 130
    lines = [line for line in err.splitlines() if line.strip()]
    # rank 0 may or may not have logged the first request before the second signal ends it: that line is allowed
    asked = "WARNING ecodec.runtime.mpi: interrupt received; every rank stops after the current iteration"
    assert [line for line in lines if line != asked] == [
        "error: SIGINT received while the ranks were stopping: every rank was stopped at once, and "
        "the run was not saved"], err
    assert lines[-1].startswith("error: "), err
    assert not _running(victim.pid) and not _running(survivor.pid)
    assert not (runs / "runs.json").exists()


@mpi_run
def test_a_launcher_killed_by_sigkill_takes_mpiexec_and_every_rank_with_it(start):
    process, board, runs = start("-q")
    _wait_for_iteration(board, 0, 30, process)
    job = [s.pid for s in read_board(board).values()] + _children(process.pid)  # the ranks and mpiexec
    assert len(job) == 3
    process.kill()
    process.communicate(timeout=HANG_GUARD_S)
    deadline = time.monotonic() + HANG_GUARD_S
    while any(_running(pid) for pid in job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in job)  # so nothing can write into --output any more
    assert not (runs / "runs.json").exists() and not (runs / "primal-decomposition").exists()
