"""The MPI runtime: the same iterates as one process for 1, 2 and 4 ranks, and no run that hangs.

Runs start as a user starts them (`ecodec run ... --ranks R`, or mpiexec directly) in subprocesses; the
in-process run of the same command is the reference.  On CI's 2-core machine 4 ranks oversubscribe the cores.
The timeouts below only keep a broken run from blocking the suite; nothing asserts a speed.
"""

from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ecodec.cli import main
from ecodec.results import load_runs
from ecodec.runtime.mpi import partition
from ecodec.runtime.status import read_board

MPIEXEC = Path(sys.executable).with_name("mpiexec")
pytestmark = pytest.mark.skipif(not MPIEXEC.exists(), reason="ecodec[mpi] not installed: run 'make setup'")
HANG_GUARD_S = 300
TIMING = {"iteration_time_s", "elapsed_s"}
CASES = {"lp": ("cases/microgrid_8.xlsx", ["--max-iterations", "100"]),
         "milp": ("cases/microgrid_8_milp.xlsx", ["--max-iterations", "120", "-O", "recovery_iteration=60"])}


def ecodec(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecodec", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, env={**os.environ, **(env or {})}, **kwargs)


def test_partition_cuts_contiguous_blocks_of_equal_weight():
    # weights 5, 1, 1, 1, 1 (total 9) on 2 ranks: cumulative starts 0, 5, 6, 7, 8; rank = floor(2 start / 9)
    assert partition(("a", "b", "c", "d", "e"), 2, {"a": 5, "b": 1, "c": 1, "d": 1, "e": 1}) == {
        "a": 0, "b": 1, "c": 1, "d": 1, "e": 1}
    # 8 agents by count on 3 ranks: floor(3 k / 8) for k = 0..7
    assert list(partition(tuple("abcdefgh"), 3).values()) == [0, 0, 0, 1, 1, 1, 2, 2]
    # more ranks than agents: some ranks host none
    assert partition(("a", "b"), 4) == {"a": 0, "b": 2}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """The in-process runs of both cases, saved and read back like the MPI ones."""
    out = {}
    for name, (case, options) in CASES.items():
        directory = tmp_path_factory.mktemp(f"inprocess_{name}")
        assert main(["run", case, *options, "-q", "--output", str(directory)]) == 0
        out[name] = load_runs(directory)[-1]
    return out


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))) if a.size else 0.0


@pytest.mark.parametrize("ranks", [1, 2, 4])
@pytest.mark.parametrize("name", list(CASES))
def test_mpi_run_has_the_iterates_of_the_in_process_run(in_process, tmp_path, name, ranks):
    case, options = CASES[name]
    done = ecodec("run", case, *options, "-q", "--output", str(tmp_path), "--ranks", str(ranks))
    assert done.returncode == 0, done.stderr
    result, reference = load_runs(tmp_path)[-1], in_process[name]
    assert result.info["runtime"] == f"mpi ({ranks} rank{'s' if ranks > 1 else ''})"
    columns = [c for c in reference.history.columns if c not in TIMING]
    assert [c for c in result.history.columns if c not in TIMING] == columns
    assert len(result.history) == len(reference.history)
    assert _relative_difference(reference.history[columns].to_numpy(float),
                                result.history[columns].to_numpy(float)) <= 1e-9
    assert (result.dispatch[["t", "agent", "quantity"]].to_numpy() ==
            reference.dispatch[["t", "agent", "quantity"]].to_numpy()).all()
    assert _relative_difference(reference.dispatch["value"].to_numpy(float),
                                result.dispatch["value"].to_numpy(float)) <= 1e-9
    assert result.objective == pytest.approx(reference.objective, rel=1e-9)
    assert (result.info["messages"], result.info["floats_sent"]) == (reference.info["messages"],
                                                                     reference.info["floats_sent"])


def test_a_run_started_by_mpiexec_itself_equals_the_in_process_run(in_process, tmp_path):
    """`mpiexec -n 2 ecodec run ...`, as on a cluster, without the launcher."""
    case, options = CASES["lp"]
    done = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "ecodec", "run", case, *options, "-q",
                           "--output", str(tmp_path)], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("how each run ended") == 1  # rank 0 alone prints
    result, reference = load_runs(tmp_path)[-1], in_process["lp"]
    assert result.info["runtime"] == "mpi (2 ranks)"
    assert _relative_difference(reference.dispatch["value"].to_numpy(float),
                                result.dispatch["value"].to_numpy(float)) <= 1e-9
    assert list(result.history["objective"]) == list(reference.history["objective"])


def _wait_for_iteration(board: Path, rank: int, iteration: int, process: subprocess.Popen) -> dict:
    """The board entry of ``rank`` once it has reached ``iteration`` (0-based)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        status = read_board(board).get(rank)
        if status is not None and status.iteration >= iteration:
            return json.loads((board / f"rank-{rank}.json").read_text())
        time.sleep(0.1)
    raise AssertionError(f"rank {rank} never reached iteration {iteration}")


def test_a_killed_rank_stops_the_run_with_one_message(tmp_path):
    board = tmp_path / "board"
    process = subprocess.Popen([sys.executable, "-m", "ecodec", "run", "cases/microgrid_8.xlsx", "-q",
                                "--max-iterations", "100000", "--output", str(tmp_path / "runs"), "--ranks", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ECODEC_MPI_STATUS_DIR": str(board)})
    victim = _wait_for_iteration(board, 1, 20, process)
    survivor = json.loads((board / "rank-0.json").read_text())
    os.kill(victim["pid"], signal.SIGKILL)
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: rank 1 of 2 (process {victim['pid']} on ")
    assert re.search(rf"agents {re.escape(', '.join(victim['agents']))}\) ended unexpectedly( \(killed by signal 9\))? "
                     r"at iteration \d+", lines[0]), lines[0]
    assert lines[0].endswith("every rank was stopped")
    assert "BAD TERMINATION" not in out + err and "Traceback" not in out + err
    with pytest.raises(ProcessLookupError):  # the surviving rank was stopped too
        os.kill(survivor["pid"], 0)


def test_an_error_on_one_rank_stops_every_rank_naming_rank_agent_and_iteration(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        from ecodec.network import CommunicationNetwork
        from ecodec.runtime.mpi import MPIRuntime

        network = CommunicationNetwork.from_edges(list("abcd"), [("a", "b"), ("b", "c"), ("c", "d")])
        runtime = MPIRuntime(network)

        def work(agent, k):
            if agent == "c" and k == 3:
                raise RuntimeError("the local solver failed")
            return np.ones(2)

        for k in range(1000):
            runtime.checkpoint(k)
            runtime.sum(runtime.each(lambda agent: work(agent, k)))
    """))
    done = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, str(script)], capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    assert done.returncode != 0
    assert ("error: rank 1 of 2 failed at iteration 4 while working on agent 'c': RuntimeError: the local solver "
            "failed; every rank is stopped") in done.stderr


def test_ctrl_c_stops_every_rank_after_the_same_iteration_and_keeps_the_history(tmp_path):
    board = tmp_path / "board"
    process = subprocess.Popen([sys.executable, "-m", "ecodec", "run", "cases/microgrid_8.xlsx", "-q",
                                "--max-iterations", "100000", "--output", str(tmp_path / "runs"), "--ranks", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "ECODEC_MPI_STATUS_DIR": str(board)})
    _wait_for_iteration(board, 0, 30, process)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
    out, err = process.communicate(timeout=HANG_GUARD_S)
    assert process.returncode == 0, err
    result = load_runs(tmp_path / "runs")[-1]
    assert result.status == "interrupted"
    iterations = result.info["iterations"]
    assert iterations >= 30 and list(result.history["iteration"]) == list(range(1, iterations + 1))
    assert f"interrupted by the user after {iterations} iterations" in out
