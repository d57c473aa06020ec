"""Resuming a run from its checkpoint (issue 20, item 15), and one run at a time per output directory.

The reference of every resume test is the same run never stopped: a run interrupted at a seeded random iteration
k and resumed must give the same history (every column but the wall times iteration_time_s and elapsed_s), the
same decisions, cost and message counts, compared exactly (np.array_equal): the checkpoint keeps every value
bit for bit and each local solve depends only on its model and starting basis (ecodec/solvers/matrix.py), so
nothing is allowed to differ.  In one process the run is stopped by a hook raising KeyboardInterrupt after
iteration k (what Ctrl-C does, without depending on how the test runner handles signals; a real SIGINT is
tested once apart); on 2 MPI ranks by an iteration limit k followed by a resume to N, the same state a
finished run leaves (and what "continue a finished run for more iterations" uses).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_method_contract import INSTANCES

from ecodec.cli import main
from ecodec.decomposition import REGISTRY, Hook
from ecodec.decomposition.checkpoint import load_saved, state_path
from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.primal_agent import LocalAgent
from ecodec.decomposition.primal_decomposition import PrimalDecomposition
from ecodec.errors import EcodecError
from ecodec.output_lock import LOCK_NAME, OutputLock
from ecodec.results import load_runs
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.study import load, run_case
from ecodec.study.resume import case_fingerprint

MPIEXEC = Path(sys.executable).with_name("mpiexec")
HANG_GUARD_S = 300  # only keeps a broken run from blocking the suite; nothing asserts a speed
TIMING = {"iteration_time_s", "elapsed_s"}
MICROGRID = "cases/microgrid_8.xlsx"
# the acceptance runs: method -> (case, options, iterations N, with the centralized reference)
RUNS = {"primal-decomposition": (MICROGRID, {}, 40, True),
        "tracking-admm": ("{fleet}", {"graph": "random", "recovery_iteration": "6"}, 12, True),
        "dualbi": ("{budget}", {}, 15, False)}


class StopAfter(Hook):
    """Ctrl-C after iteration ``k``, as the loop sees it (KeyboardInterrupt between two iterations)."""

    def __init__(self, k: int):
        self.k = k

    def on_iteration(self, record: dict) -> None:
        if record["iteration"] == self.k:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def fleets(tmp_path_factory):
    """The 24 on/off vehicles of tests/test_mpi.py under a feeder limit, and the same fleet under an energy budget."""
    path = tmp_path_factory.mktemp("fleet") / "pev_24.xlsx"
    budget = path.with_name("pev_24_budget.xlsx")
    assert main(["generate", "pev", "--n", "24", "--seed", "1", "-o", str(path)]) == 0
    assert main(["generate", "pev", "--n", "24", "--seed", "1", "--coupling", "budget", "-o", str(budget)]) == 0
    return {"fleet": str(path), "budget": str(budget)}


def assert_same_run(result, reference) -> None:
    """Same history (but the wall times), decisions, cost, status and message counts, bit for bit."""
    columns = [c for c in reference.history.columns if c not in TIMING]
    assert [c for c in result.history.columns if c not in TIMING] == columns
    assert len(result.history) == len(reference.history)
    assert np.array_equal(result.history[columns].to_numpy(float), reference.history[columns].to_numpy(float),
                          equal_nan=True)
    assert (result.dispatch[["t", "agent", "quantity"]].to_numpy() ==
            reference.dispatch[["t", "agent", "quantity"]].to_numpy()).all()
    assert np.array_equal(result.dispatch["value"].to_numpy(float), reference.dispatch["value"].to_numpy(float))
    assert result.objective == reference.objective and result.status == reference.status
    assert (result.info["messages"], result.info["floats_sent"]) == (reference.info["messages"],
                                                                     reference.info["floats_sent"])


def interruption(method: str, iterations: int) -> int:
    """The iteration after which the run is stopped: a seeded random choice in 1 .. iterations - 1."""
    return random.Random(f"resume {method}").randint(1, iterations - 1)


@pytest.mark.slow
@pytest.mark.parametrize("method", list(RUNS))
def test_a_run_interrupted_at_a_random_iteration_resumes_to_the_uninterrupted_run(fleets, tmp_path, method):
    template, options, n, reference = RUNS[method]
    case = template.format(**fleets)
    given = {"options": {method: options}, "stopping": {"max_iterations": n}, "reference": reference}
    whole = run_case(case, method, output=tmp_path / "whole", **given).run(method)
    k = interruption(method, len(whole.history))
    stopped = run_case(case, method, output=tmp_path / "resumed", hooks=[StopAfter(k)], **given).run(method)
    assert stopped.status == "interrupted" and len(stopped.history) == k
    assert len(load_saved(state_path(tmp_path / "resumed", method))["history"]) == k
    resumed = run_case(case, method, output=tmp_path / "resumed", resume=True, **given).run(method)
    assert resumed.info["resumed_after_iteration"] == k
    assert_same_run(resumed, whole)
    assert_same_run(load_runs(tmp_path / "resumed")[-1], whole)  # and so are the saved files
    history_csv = (tmp_path / "resumed" / "checkpoints" / f"{method}_history.csv").read_text().splitlines()
    assert len(history_csv) == 1 + len(whole.history)  # the history checkpoint holds both parts


RESUMABLE = [(name, kind) for name, spec in REGISTRY.items()
             if spec.is_distributed and spec.driver.resumable() and not spec.preset for kind in spec.kinds]


@pytest.mark.parametrize(("method", "kind"), RESUMABLE)
def test_every_method_that_declares_its_state_resumes_exactly_on_a_tiny_instance(tmp_path, method, kind):
    problem, network, _ = INSTANCES[kind]()
    given = {"network": network, "stopping": {"max_iterations": 10}}
    whole = run_case(problem, method, output=tmp_path / "whole", **given).run(method)
    k = min(4, len(whole.history) - 1)
    stopped = run_case(problem, method, output=tmp_path / "part", hooks=[StopAfter(k)], **given).run(method)
    assert len(stopped.history) == k
    assert_same_run(run_case(problem, method, output=tmp_path / "part", resume=True, **given).run(method), whole)


#: Not compared by the test below: the graph schedule, a function of (seed, k) whose window cache is rebuilt, and
#: primal decomposition's bound buffer, whose changing part every use writes first
NOT_STATE = {"schedule", "_free"}
SIMPLE = (np.ndarray, np.generic, int, float, bool, str, type(None))


def data_of(obj: object, nested: bool = True) -> dict[str, object]:
    """The data attributes of ``obj`` (arrays, numbers, text, lists of those, dicts of arrays), and those of the
    objects it holds one level down (a certificate, an agent's priced program), by dotted name."""
    out = {}
    for name, value in vars(obj).items():
        if name in NOT_STATE:
            continue
        simple_list = isinstance(value, (list, tuple)) and all(isinstance(v, SIMPLE) for v in value)
        if isinstance(value, SIMPLE) or simple_list:
            out[name] = value
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            out.update({f"{name}[{key}]": v for key, v in value.items()})
        elif nested and hasattr(value, "__dict__") and not isinstance(value, type):
            out.update({f"{name}.{key}": v for key, v in data_of(value, nested=False).items()})
    return out


def assert_same_data(mine: dict, theirs: dict, where: str) -> None:
    assert mine.keys() == theirs.keys(), where
    for name, value in theirs.items():
        a, b = np.asarray(mine[name]), np.asarray(value)
        same = a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == b.dtype.kind == "f")
        assert same, f"{where}: '{name}' is not restored (declare it in state_attributes)"


@pytest.mark.parametrize(("method", "case", "options", "k"), [(m, kind, {}, 3) for m, kind in RESUMABLE] + [
    ("primal-decomposition", MICROGRID, {}, 7),
    ("primal-decomposition", "cases/microgrid_8_milp.xlsx", {"recovery_iteration": 6}, 9),  # after the recovery
    ("tracking-admm", "{fleet}", {"recovery_iteration": 3}, 5)])
def test_a_restored_method_holds_every_value_of_the_run_it_continues(fleets, tmp_path, method, case, options, k):
    """Not only the iterates that a short run exercises: after the restore, every data attribute of the driver
    and of each agent equals the stopped run's at the same iteration (a value a method forgot to declare would
    keep its value from set-up)."""
    from ecodec.decomposition import StateCheckpoint, StoppingRules, options_for
    from ecodec.decomposition.driver import run_driver
    from ecodec.runtime import InProcessRuntime

    if case in INSTANCES:
        problem, network, _ = INSTANCES[case]()
    else:
        prepared = load(case.format(**fleets))
        problem, network = prepared.problem, prepared.network
    seen = {}

    class Keep(Hook):
        def __init__(self, driver, k=None):
            self.driver, self.k = driver, k

        def keep(self):
            seen[len(seen)] = {"driver": data_of(self.driver),
                               **{name: data_of(agent) for name, agent in self.driver.local.items()}}

        def on_iteration(self, record):
            if record["iteration"] == self.k:
                self.keep()
                raise KeyboardInterrupt

        def on_resume(self, history):
            self.keep()

    path = tmp_path / "state.npz"
    first = REGISTRY[method].driver(problem, InProcessRuntime(network), options_for(method, options))
    run_driver(first, StoppingRules(max_iterations=20), [Keep(first, k)], checkpoint=StateCheckpoint(path, {}))
    second = REGISTRY[method].driver(problem, InProcessRuntime(network), options_for(method, options))
    run_driver(second, StoppingRules(max_iterations=k), [Keep(second)], checkpoint=StateCheckpoint(
        None, {}, load_saved(path)))
    for name in seen[0]:
        assert_same_data(seen[1][name], seen[0][name], f"{method}, {name}")


def test_the_resumable_methods_are_those_the_docs_list():
    listed = {name for name, spec in REGISTRY.items() if spec.is_distributed and spec.driver.resumable()}
    assert {"primal-decomposition", "tracking-admm", "dualbi", "proximal-dual", "dual-subgradient",
            "aggregative-tracking"} <= listed
    docs = Path("docs/decomposition.md").read_text()
    section = docs[docs.index("## Resuming a run"):]
    for name in sorted(listed - {n for n, s in REGISTRY.items() if s.preset}):
        assert f"`{name}`" in section.split("\n## ")[0], f"docs/decomposition.md does not list {name} as resumable"


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="SIGINT is handled by the test runner here")
def test_ctrl_c_in_one_process_finishes_the_iteration_under_way_and_resumes_exactly(tmp_path, monkeypatch):
    problem, network, _ = INSTANCES["coupled"]()
    given = {"network": network, "stopping": {"max_iterations": 9}}
    whole = run_case(problem, "primal-decomposition", output=tmp_path / "whole", **given).runs[-1]
    iterate = PrimalDecomposition.iterate

    def interrupted_iterate(self, k):
        if k == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it, at the start of the 4th iteration
        return iterate(self, k)

    monkeypatch.setattr(PrimalDecomposition, "iterate", interrupted_iterate)
    stopped = run_case(problem, "primal-decomposition", output=tmp_path / "part", **given).runs[-1]
    assert stopped.status == "interrupted" and len(stopped.history) == 4  # the iteration under way was finished
    monkeypatch.setattr(PrimalDecomposition, "iterate", iterate)
    assert_same_run(run_case(problem, "primal-decomposition", output=tmp_path / "part", resume=True,
                             **given).runs[-1], whole)


def test_a_finished_run_continues_for_more_iterations_from_the_command_line(tmp_path, capsys):
    base = ["run", MICROGRID, "--output"]
    assert main([*base, str(tmp_path / "whole"), "-q", "--max-iterations", "9"]) == 0
    assert main([*base, str(tmp_path / "part"), "-q", "--max-iterations", "5"]) == 0
    capsys.readouterr()
    assert main([*base, str(tmp_path / "part"), "--max-iterations", "9", "--resume"]) == 0
    assert "primal-decomposition: resumed after iteration 5" in capsys.readouterr().err
    assert_same_run(load_runs(tmp_path / "part")[-1], load_runs(tmp_path / "whole")[-1])
    # --resume DIR without --output writes into DIR too; with --output the results go there, DIR is only read
    assert main([*base, str(tmp_path / "more"), "-q", "--max-iterations", "9", "--resume", str(tmp_path / "part")]) == 0
    assert_same_run(load_runs(tmp_path / "more")[-1], load_runs(tmp_path / "whole")[-1])


@pytest.fixture(scope="module")
def five_iterations(tmp_path_factory):
    """A primal decomposition checkpoint of the microgrid after 5 iterations (with the reference)."""
    directory = tmp_path_factory.mktemp("five")
    assert main(["run", MICROGRID, "-q", "--max-iterations", "5", "--output", str(directory)]) == 0
    return directory


@pytest.mark.parametrize(("arguments", "message"), [
    (["-O", "step_size=0.2"], "was made with other primal-decomposition options (step_size = 0.1 there, 0.2 here)"),
    (["--no-reference"], "was made with the centralized reference (its history has cost gap columns only then); "
                         "resume without --no-reference"),
    (["--max-iterations", "3"], "is at iteration 5, beyond the iteration limit 3; give --max-iterations 5 or more"),
    (["--method", "tracking-admm"], "holds no checkpoint of method 'tracking-admm' (it holds primal-decomposition)"),
    (["--method", "tightening"], "--resume: method 'tightening' declares no checkpoint state, so it cannot resume"),
    (["--method", "centralized"], "--resume: the centralized solve is a single solve with nothing to resume"),
])
def test_a_resume_that_is_not_the_checkpointed_run_is_refused_before_any_solve(five_iterations, capsys, arguments,
                                                                               message):
    before = sorted(p.name for p in five_iterations.rglob("*"))
    assert main(["run", MICROGRID, "-q", "--output", str(five_iterations), "--resume", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in five_iterations.rglob("*")) == before  # nothing solved, nothing written


def test_a_checkpoint_of_another_case_or_none_at_all_is_refused(five_iterations, tmp_path, capsys):
    assert main(["run", "cases/microgrid_8_milp.xlsx", "-q", "--output", str(tmp_path), "--resume",
                 str(five_iterations)]) == 2
    err = capsys.readouterr().err
    assert "was written for another case ('microgrid_8', fingerprint " in err
    assert "than this one ('microgrid_8_milp', " in err and "resume with the case as it was" in err
    assert main(["run", MICROGRID, "-q", "--output", str(tmp_path / "empty"), "--resume"]) == 2
    assert "primal-decomposition_state.npz: missing" in capsys.readouterr().err
    assert main(["run", MICROGRID, "-q", "--resume"]) == 2
    assert "--resume without a directory resumes the run of --output" in capsys.readouterr().err


def test_the_case_fingerprint_changes_with_any_number_of_the_case_and_with_the_network():
    problem, network, _ = INSTANCES["coupled"]()
    same, _, _ = INSTANCES["coupled"]()
    assert case_fingerprint(problem, network) == case_fingerprint(same, network)
    same.agents[0].departure_value_per_kwh = 0.36
    assert case_fingerprint(problem, network) != case_fingerprint(same, network)
    prepared = load(MICROGRID)
    ring = prepared.network.__class__.named("ring", list(prepared.network.agents))
    assert case_fingerprint(prepared.problem, prepared.network) != case_fingerprint(prepared.problem, ring)


def test_a_state_file_is_read_without_unpickling_and_a_bad_one_is_refused(five_iterations, tmp_path):
    path = state_path(five_iterations, "primal-decomposition")
    saved = load_saved(path)
    assert saved["iteration"] == 5 and len(saved["history"]) == 5 and len(saved["agents"]) == 8
    hostile = tmp_path / "hostile.npz"
    np.savez(hostile, **{"meta.json": np.array([{"format": 1}], dtype=object)})  # would need pickle to load
    with pytest.raises(EcodecError, match="not a checkpoint ecodec can resume from"):
        load_saved(hostile)
    hostile.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(EcodecError, match="not a checkpoint ecodec can resume from"):
        load_saved(hostile)


def test_a_program_restored_into_a_new_solver_instance_solves_on_bit_for_bit():
    """The foundation: snapshot after 30 solves, restore into a newly compiled program, the next 20 solves equal."""
    prepared = load(MICROGRID)
    rows = CouplingRows.from_problem(prepared.problem)

    def compiled():
        agent = LocalAgent(CompiledSubproblem(prepared.problem, "battery"), rows, True, 2)
        agent.set_penalty(0.06)
        return agent

    lo, hi = rows.local_range(CompiledSubproblem(prepared.problem, "battery"))
    draws = np.random.default_rng(1).random((50, lo.size))
    first, solutions = compiled(), []
    for k, u in enumerate(draws):
        first.set_allocation(lo + u * (hi - lo))
        solutions.append(first.sub.program.solve())
        if k == 29:
            saved = first.sub.program.snapshot()
    second = compiled()
    second.sub.program.restore(saved)
    for k in range(30, 50):
        second.set_allocation(lo + draws[k] * (hi - lo))
        again = second.sub.program.solve()
        assert np.array_equal(again.x, solutions[k].x) and np.array_equal(again.row_dual, solutions[k].row_dual)


# -- one run per output directory ------------------------------------------------------------------------------
def test_a_second_run_into_a_directory_in_use_is_refused_with_one_line(tmp_path, capsys):
    held = OutputLock.acquire(tmp_path)
    try:
        for command in ("run", "compare"):
            assert main([command, MICROGRID, "-q", "--max-iterations", "2", "--output", str(tmp_path)]) == 2
            err = capsys.readouterr().err.strip()
            assert err == (f"error: {tmp_path}: another ecodec run is writing into this directory (process "
                           f"{os.getpid()} on {os.uname().nodename}); wait for it to end or give another --output")
    finally:
        held.release()
    assert main(["run", MICROGRID, "-q", "--max-iterations", "2", "--output", str(tmp_path)]) == 0  # free again
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_lock_of_a_run_that_died_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text("999999999 elsewhere\n")  # left by a killed run: no process holds it
    assert main(["run", MICROGRID, "-q", "--max-iterations", "2", "--output", str(tmp_path)]) == 0
    assert load_runs(tmp_path)[-1].info["iterations"] == 2 and not (tmp_path / LOCK_NAME).exists()


def test_a_refused_run_leaves_no_directory_behind(tmp_path):
    assert main(["run", MICROGRID, "-q", "--method", "no-such-method", "--output", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()


def test_two_processes_never_write_into_one_directory_at_once(tmp_path, capsys):
    first = subprocess.Popen([sys.executable, "-m", "ecodec", "run", MICROGRID, "-q", "--no-reference",
                              "--max-iterations", "100000", "--output", str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while not (tmp_path / "checkpoints").exists():  # it holds the lock from before its first iteration
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        assert main(["run", MICROGRID, "-q", "--max-iterations", "2", "--output", str(tmp_path)]) == 2
        assert f"another ecodec run is writing into this directory (process {first.pid} on" in capsys.readouterr().err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=HANG_GUARD_S)
    assert load_runs(tmp_path)[-1].status == "interrupted"  # the first run's results, not the refused one's


# -- on 2 MPI ranks ----------------------------------------------------------------------------------------------
def ecodec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecodec", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S)


def command(method: str, fleets: dict, n: int) -> list[str]:
    template, options, _, reference = RUNS[method]
    given = [item for key, value in options.items() for item in ("-O", f"{key}={value}")]
    return ["run", template.format(**fleets), "--method", method, "-q", "--max-iterations", str(n), *given,
            *([] if reference else ["--no-reference"])]


@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.skipif(not MPIEXEC.exists(), reason="ecodec[mpi] not installed: run 'make setup'")
@pytest.mark.parametrize("method", list(RUNS))
def test_a_run_on_two_ranks_resumes_on_two_ranks_to_the_uninterrupted_run(fleets, tmp_path, method):
    n = RUNS[method][2]
    done = ecodec(*command(method, fleets, n), "--output", str(tmp_path / "whole"), "--ranks", "2")
    assert done.returncode in (0, 1), done.stderr
    whole = load_runs(tmp_path / "whole")[-1]
    assert whole.info["runtime"] == "mpi (2 ranks)"
    k = interruption(method, len(whole.history))
    part = ecodec(*command(method, fleets, k), "--output", str(tmp_path / "part"), "--ranks", "2")
    assert part.returncode in (0, 1), part.stderr
    shutil.copytree(tmp_path / "part", tmp_path / "part_copy")
    resumed = ecodec(*command(method, fleets, n), "--output", str(tmp_path / "part"), "--resume", "--ranks", "2")
    assert resumed.returncode in (0, 1), resumed.stderr
    result = load_runs(tmp_path / "part")[-1]
    assert result.info["resumed_after_iteration"] == k and result.info["runtime"] == "mpi (2 ranks)"
    assert_same_run(result, whole)
    if method == "primal-decomposition":  # the state is kept per agent, not per rank: one process resumes it too
        assert main(command(method, fleets, n) + ["--output", str(tmp_path / "one"), "--resume",
                                                  str(tmp_path / "part_copy")]) == 0
        assert_same_run(load_runs(tmp_path / "one")[-1], whole)
