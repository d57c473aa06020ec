"""Progress people expect (issue 21, item 2): a live bar with rate and ETA on a terminal, plain lines with elapsed
time, rate and ETA anywhere else, a stage line for a step that takes over a second, and, before a long run, how
long it will take at the measured rate."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from types import SimpleNamespace

import pytest

import ecodec.progress
from ecodec.decomposition import StoppingRules
from ecodec.decomposition.hooks import ProgressHook
from ecodec.progress import format_duration, is_terminal, stage
from ecodec.study import report_saved_runs, run_case

ROOT = Path(__file__).resolve().parents[1]
CASE = str(ROOT / "cases" / "microgrid_8.xlsx")
COMMAND = [sys.executable, "-m", "ecodec", "run", CASE, "--method", "proximal-dual", "--max-iterations", "300"]
PLAIN_LINE = re.compile(r"^  proximal-dual: iteration +(\d+)/300, cost \S+, violation \S+, gap \S+, "
                        r"(\S+) it/s, elapsed \d+:\d\d(, ETA \d+:\d\d)?$")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _record(k: int) -> dict:
    return {"iteration": k, "objective": 10.0 + 1 / k, "rel_violation": 1 / k, "cost_gap": float("nan")}


def _finished(message: str = "stopped at the iteration limit") -> SimpleNamespace:
    return SimpleNamespace(info={"message": message}, status="iteration_limit")


def _read_all(fd: int) -> bytes:
    """Everything written to the pseudo-terminal whose master end is ``fd``, until every writer has closed it."""
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the slave end is closed (the process ended)
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_a_terminal_gets_a_live_bar_with_rate_and_eta():
    """The acceptance: under a pseudo-terminal the progress is tqdm's bar, redrawn with carriage returns, showing
    iterations out of the limit, elapsed<remaining time, the rate and the method's columns."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))  # 40 rows, 140 columns
    try:
        proc = subprocess.Popen(COMMAND, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT)
    finally:
        os.close(slave)
    try:
        out = _read_all(master).decode("utf-8", errors="replace")
    finally:
        os.close(master)
    assert proc.wait() == 0, out
    bars = [part for part in out.split("\r") if "proximal-dual:" in part and "|" in part]
    assert len(bars) >= 2, out  # drawn, then redrawn in place
    final = [b for b in bars if "300/300" in b]
    assert final, out
    assert re.search(r"300/300 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+it/s, cost \S+, violation \S+, gap \S+\]", final[-1])
    assert "Traceback" not in out
    assert "proximal-dual: stopped at the iteration limit (300)" in out


def test_without_a_terminal_the_lines_are_plain_with_elapsed_rate_and_eta():
    done = subprocess.run(COMMAND, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("  proximal-dual: iteration")]
    assert len(lines) >= 2, done.stderr
    matches = [PLAIN_LINE.match(line) for line in lines]
    assert all(matches), done.stderr
    assert all(m.group(3) for m in matches[:-1])  # every line while running has an ETA; the last says how long
    assert matches[0].group(1) == "1" and matches[-1].group(1) == "300" and matches[-1].group(3) is None
    assert done.stderr.splitlines()[-1] == "proximal-dual: stopped at the iteration limit (300)"


def test_quiet_prints_nothing_and_json_stays_on_stdout():
    done = subprocess.run([*COMMAND, "-q", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.lstrip().startswith(("{", "["))


def test_plain_lines_give_rate_elapsed_and_eta_from_the_clock():
    clock, stream = FakeClock(), io.StringIO()
    hook = ProgressHook(stream, live=False, clock=clock)
    hook.on_start("my-method", SimpleNamespace(agents=[1, 2]), StoppingRules(max_iterations=1000))
    for k in range(1, 101):
        clock.now += 0.5  # 2 iterations per second
        hook.on_iteration(_record(k))
    hook.on_finish(_finished())
    lines = stream.getvalue().splitlines()
    assert lines[0] == "my-method: 2 agents, at most 1000 iterations (Ctrl-C stops and keeps the result so far)"
    assert lines[1] == ("  my-method: iteration     1/1000, cost 11, violation 1.00e+00, gap -, 2 it/s, elapsed 0:00, "
                        "ETA 8:19")
    assert lines[-2] == "  my-method: iteration   100/1000, cost 10.01, violation 1.00e-02, gap -, 2 it/s, elapsed 0:50"
    assert lines[-1] == "my-method: stopped at the iteration limit"
    iterating = [line for line in lines if line.startswith("  my-method: iteration")]
    assert len(iterating) == 51  # the first iteration, then one a second (every second iteration), and the last
    assert ("  my-method: iteration    51/1000, cost 10.0196, violation 1.96e-02, gap -, 2 it/s, elapsed 0:25, "
            "ETA 7:54") in lines


def test_a_long_run_says_up_front_how_long_it_takes_at_the_measured_rate():
    clock, stream = FakeClock(), io.StringIO()
    hook = ProgressHook(stream, live=False, clock=clock)
    hook.on_start("my-method", SimpleNamespace(agents=[1]), StoppingRules(max_iterations=10000))
    for k in range(1, 41):
        clock.now += 0.125  # 8 iterations per second: 10000 iterations take about 21 minutes
        hook.on_iteration(_record(k))
    said = [line for line in stream.getvalue().splitlines() if "at the measured rate" in line]
    assert said == ["my-method: at the measured rate (8 it/s) the iteration limit of 10000 is reached in about "
                    "0:20:48 (sooner if the run converges; Ctrl-C stops it and keeps the result so far)"]


def test_a_short_run_says_nothing_of_its_duration():
    clock, stream = FakeClock(), io.StringIO()
    hook = ProgressHook(stream, live=False, clock=clock)
    hook.on_start("my-method", SimpleNamespace(agents=[1]), StoppingRules(max_iterations=300))
    for k in range(1, 301):
        clock.now += 0.1  # 30 s in all
        hook.on_iteration(_record(k))
    assert "at the measured rate" not in stream.getvalue()


def test_the_bar_is_drawn_when_asked_and_a_long_set_up_gets_a_stage_line():
    clock, stream = FakeClock(), io.StringIO()
    hook = ProgressHook(stream, live=True, clock=clock, since=clock.now - 3.0)  # set-up took 3 s
    hook.on_start("my-method", SimpleNamespace(agents=[1]), StoppingRules(max_iterations=10000))
    for k in range(1, 51):
        clock.now += 0.5
        hook.on_iteration(_record(k))
    hook.on_finish(_finished())
    text = stream.getvalue()
    assert text.startswith("my-method: building and compiling the subproblems ... done in 3.0 s\n")
    assert "\r" in text and "50/10000 [" in text and "it/s, cost 10.02, violation 2.0e-02, gap -]" in text
    # written above the bar, which is drawn again below it
    assert re.search(r"\rmy-method: at the measured rate \(2 it/s\) .* about 1:23:18 .*\n\r  my-method: ", text)
    assert text.endswith("my-method: stopped at the iteration limit\n")


def test_a_fast_set_up_gets_no_stage_line():
    clock, stream = FakeClock(), io.StringIO()
    hook = ProgressHook(stream, live=False, clock=clock, since=clock.now - 0.2)
    hook.on_start("my-method", SimpleNamespace(agents=[1]), StoppingRules(max_iterations=50))
    assert "done in" not in stream.getvalue()


def test_a_stage_line_only_for_a_step_over_a_second():
    clock, stream = FakeClock(), io.StringIO()
    with stage(stream, "building the model", clock=clock):
        clock.now += 0.9
    assert stream.getvalue() == ""
    with stage(stream, "building the model", clock=clock):
        clock.now += 1.25
    assert stream.getvalue() == "building the model ... done in 1.2 s\n"
    with stage(None, "nowhere to say it", clock=clock):
        clock.now += 5


def test_the_study_prints_a_stage_line_for_a_slow_report_and_none_for_a_fast_solve(tmp_path, monkeypatch):
    """The report rendering is made to take 2 s on a fake clock (the solves take none on it): only it gets a stage
    line, and ``ecodec report`` (report_saved_runs) says the same."""
    clock = FakeClock()
    monkeypatch.setattr(ecodec.progress, "CLOCK", clock)

    def slow_report(path, *args, **kwargs):
        clock.now += 2.0
        Path(path).write_bytes(b"%PDF-1.4\n")

    monkeypatch.setattr("ecodec.report.write_report", slow_report)
    stream = io.StringIO()
    report = tmp_path / "report.pdf"
    run_case(CASE, "primal-decomposition", stopping={"max_iterations": 3}, progress=stream, output=tmp_path / "runs",
             report=report)
    text = stream.getvalue()
    assert f"rendering the report {report} ... done in 2.0 s\n" in text
    assert "centralized: building and solving the model" not in text and "saving the runs" not in text
    again = io.StringIO()
    report_saved_runs(tmp_path / "runs", tmp_path / "again.pdf", progress=again)
    assert again.getvalue() == f"rendering the report {tmp_path / 'again.pdf'} ... done in 2.0 s\n"


def test_only_a_terminal_outside_an_mpi_job_gets_the_bar(monkeypatch):
    assert not is_terminal(io.StringIO()) and not is_terminal(None)
    assert not ProgressHook(io.StringIO()).live
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert is_terminal(terminal) and ProgressHook(terminal).live
        monkeypatch.setenv("PMI_RANK", "0")  # a process of an MPI job: plain lines, whatever its stderr is
        assert not ProgressHook(terminal).live
    os.close(master)


@pytest.mark.parametrize(("seconds", "hours", "text"), [(34.9, False, "0:34"), (250, False, "4:10"),
                                                        (3725, False, "1:02:05"), (998, True, "0:16:38"),
                                                        (float("nan"), False, "-")])
def test_durations_read_as_clock_times(seconds, hours, text):
    assert format_duration(seconds, hours) == text
