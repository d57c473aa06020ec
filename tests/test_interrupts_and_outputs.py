"""Outputs that cannot be written are refused before anything is solved, a write the system refuses is one line,
a Ctrl-C never leaves half-saved results and ends with exit code 130, and a killed writer's temporary files do not
stay for ever (issue 20, items 7, 12 and 14)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ecodec.cli import main
from ecodec.files import atomic_write, interrupts_deferred
from ecodec.results import load_runs
from ecodec.study import compare_case

CASE = str(Path(__file__).resolve().parents[1] / "cases" / "microgrid_8.xlsx")


def _refused(capsys, argv: list[str]) -> str:
    """Run the command; it must exit 2 with one error line, no traceback and no progress (nothing was solved)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "iteration" not in err and "Traceback" not in err
    return lines[0]


def test_an_existing_file_as_the_results_directory_is_refused_before_the_solve(tmp_path, capsys):
    taken = tmp_path / "runs"
    taken.write_text("not a folder")
    line = _refused(capsys, ["run", CASE, "--method", "primal-decomposition", "--output", str(taken)])
    assert line == f"error: {taken}: is a file; the results directory is a folder (give a new or existing folder)"
    assert taken.read_text() == "not a folder"


def test_a_folder_as_the_results_workbook_and_a_file_as_a_parent_are_refused(tmp_path, capsys):
    folder = tmp_path / "results.xlsx"
    folder.mkdir()
    line = _refused(capsys, ["solve", CASE, "--output", str(folder)])
    assert line == f"error: {folder}: is a folder; the results workbook is a file (give a file name)"
    parent = tmp_path / "notes.txt"
    parent.write_text("")
    line = _refused(capsys, ["compare", CASE, "--output", str(parent / "deeper" / "runs")])
    assert line == f"error: {parent / 'deeper' / 'runs'}: cannot be created: {parent} is a file, not a folder"
    line = _refused(capsys, ["compare", CASE, "--report", str(parent / "report.pdf")])
    assert "cannot be created" in line and str(parent) in line


def test_a_read_only_folder_is_refused_before_the_solve(tmp_path, capsys, monkeypatch):
    """A folder where no file can be created.  Permission bits do not bind the superuser (CI may run as root), so
    there the refusal the system would give is imitated at the one call the check makes."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own keyword
            if dir is not None and Path(dir) == folder:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        line = _refused(capsys, ["run", CASE, "--method", "proximal-dual", "--output", str(folder / "runs")])
    finally:
        folder.chmod(0o755)
    assert line == (f"error: {folder / 'runs'}: the results directory cannot be written: {folder}: "
                    "Permission denied")
    assert list(folder.iterdir()) == []  # the check left nothing behind


def test_a_write_the_system_refuses_is_one_line_and_keeps_the_earlier_file(tmp_path):
    """A full disk, imitated by a file-size limit (writes past it fail with EFBIG, like ENOSPC on a full disk)."""
    out = tmp_path / "results.xlsx"
    out.write_bytes(b"the earlier results")

    # the limit is set in the child itself (no preexec_fn: a fork of this multithreaded test process is unsafe);
    # SIGXFSZ ignored, so a write past the limit fails instead of killing the process
    limited = ("import resource, runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048)); "
               f"sys.argv = ['ecodec', 'solve', {CASE!r}, '--output', {str(out)!r}]; "
               "runpy.run_module('ecodec', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", limited], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (f"error: {out}: cannot be written: File too large; free some "
                                                    "space (any earlier file of that name is kept)")
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == b"the earlier results"
    assert [p.name for p in tmp_path.iterdir()] == ["results.xlsx"]  # no temporary left behind


def test_an_interrupt_during_the_save_waits_for_the_save(tmp_path, monkeypatch):
    """Ctrl-C arriving while the results workbook of the first run is written: every file is still written
    (runs.json last), and the interrupt is raised afterwards."""
    import ecodec.results.store as store

    real = store.write_results_workbook
    calls = []

    def interrupted_write(result, path):
        calls.append(path)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(result, path)

    monkeypatch.setattr(store, "write_results_workbook", interrupted_write)
    out = tmp_path / "runs"
    with pytest.raises(KeyboardInterrupt):
        compare_case(CASE, ["centralized", "proximal-dual"], stopping={"max_iterations": 3}, output=out)
    assert len(calls) == 2
    runs = load_runs(out)  # complete and hash-checked
    assert [r.method for r in runs] == ["centralized", "proximal-dual"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C behaves as before afterwards


def test_interrupts_deferred_passes_the_interrupt_to_a_flag_handler():
    """Under MPI Ctrl-C only raises a flag; a deferred interrupt reaches that handler instead of raising."""
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            assert seen == []
        assert seen == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupted_run_is_saved_as_interrupted_and_exits_130(tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "ecodec", "compare", CASE, "--methods",
                             "centralized,primal-decomposition,tracking-admm", "--max-iterations", "1000000",
                             "--tol", "1e-12", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the first progress line of the distributed method: it is iterating
        if "primal-decomposition: iteration" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "tracking-admm" not in stdout  # the study stopped with the interrupted method
    runs = load_runs(out)
    assert [r.method for r in runs] == ["centralized", "primal-decomposition"]
    assert runs[1].status == "interrupted" and runs[1].info["iterations"] >= 1
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    stale = tmp_path / f".results.ecodec-tmp-{dead_pid}-x1y2z3.xlsx"
    live = tmp_path / f".results.ecodec-tmp-{os.getpid()}-a1b2c3.xlsx"  # a writer still at work
    stale.write_bytes(b"half a workbook")
    live.write_bytes(b"being written")
    atomic_write(tmp_path / "results.xlsx", lambda tmp: tmp.write_bytes(b"done"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "results.xlsx"])


def test_a_checkpoint_the_system_refuses_is_logged_and_the_run_goes_on(tmp_path, monkeypatch, caplog):
    """A full disk while the history or the state checkpoint is written: a warning each, the run completes and
    its results are saved at the end."""
    import ecodec.decomposition.checkpoint as checkpoint
    import ecodec.decomposition.hooks as hooks
    from ecodec.files import OutputError

    def full_disk(path, write):
        raise OutputError(f"{path}: cannot be written: No space left on device")

    monkeypatch.setattr(checkpoint, "atomic_write", full_disk)
    monkeypatch.setattr(hooks, "atomic_write", full_disk)
    out = tmp_path / "runs"
    study = compare_case(CASE, ["centralized", "proximal-dual"], stopping={"max_iterations": 30}, output=out)
    assert study.run("proximal-dual").status == "iteration_limit"
    assert load_runs(out)[1].info["iterations"] == 30
    assert "the state checkpoint could not be written" in caplog.text
    assert "the history checkpoint could not be written" in caplog.text
