"""The MPI runtime's buffer path (`ecodec/runtime/mpi.py`): same inboxes, sums and maxima as in one process, its
traffic counters against a hand count, and the warning about too many ranks.

Each test starts a small script under ``mpiexec -n R`` (as `tests/test_mpi.py` does); every rank compares what the
MPI runtime returns for its agents with :class:`~ecodec.runtime.inprocess.InProcessRuntime` on the same inputs (the
reference: every agent in one process) and rank 0 prints one JSON line with the findings of every rank.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

MPIEXEC = Path(sys.executable).with_name("mpiexec")
HANG_GUARD_S = 120  # only keeps a broken runtime from blocking the suite
pytestmark = [pytest.mark.mpi, pytest.mark.skipif(not MPIEXEC.exists(), reason="MPI not installed")]

COMMON = """
import json, logging, sys
import numpy as np
from ecodec.network import ActiveGraph, CommunicationNetwork
from ecodec.runtime.inprocess import InProcessRuntime
from ecodec.runtime.mpi import MPIRuntime

def same(a, b):
    # the very same values, shape and dtype, bit for bit
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()

def report(runtime, findings):
    everything = runtime.comm.gather(findings, root=0)
    if runtime.is_root:
        print(json.dumps(everything))
"""


def run_ranks(ranks: int, body: str, tmp_path: Path) -> tuple[list, str]:
    script = tmp_path / "script.py"
    script.write_text(COMMON + textwrap.dedent(body))
    done = subprocess.run([str(MPIEXEC), "-n", str(ranks), sys.executable, str(script)], capture_output=True,
                          text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


EXCHANGE = """
n = 9
agents = [f"a{i}" for i in range(n)]
rng = np.random.default_rng(7)  # the same draws on every rank
edges = [(agents[i], agents[i + 1]) for i in range(n - 1)]  # a path: a0's only neighbour a1 is on its own rank
edges += [(agents[i], agents[j]) for i, j in rng.choice(np.arange(2, n), size=(8, 2)) if i != j]
network = CommunicationNetwork.from_edges(agents, edges)
mpi, reference = MPIRuntime(network), InProcessRuntime(network)
findings = {"inboxes": 0, "wrong": [], "crossing": 0}
choices = [(), (3,), (2, 4), (1,)]
for k in range(8):
    mpi.checkpoint(k)
    shapes = {a: choices[rng.integers(len(choices))] for a in agents} if k in (0, 3, 5) else shapes
    outgoing = {a: rng.standard_normal(shapes[a]) for a in agents}
    graph = None
    if k % 2:  # a time-varying graph: a random subset of the edges
        keep = rng.random(network.n_edges) < 0.6
        graph = ActiveGraph(network.agents, tuple(e for e, kept in zip(network.edges, keep) if kept))
    got = mpi.exchange(mpi.each(lambda a: outgoing[a]), graph)
    want = reference.exchange(outgoing, graph)
    for a in mpi.local_agents:
        findings["inboxes"] += 1
        findings["crossing"] += sum(mpi.owner[j] != mpi.rank for j in got[a])
        if list(got[a]) != list(want[a]) or not all(same(got[a][j], want[a][j]) for j in want[a]):
            findings["wrong"].append([k, a])
# values that are not float64 arrays go by the pickled path, unchanged
odd = {a: (float(i) if i % 2 else np.arange(i)) for i, a in enumerate(agents)}
got = mpi.exchange(mpi.each(lambda a: odd[a]))
want = reference.exchange(odd)
findings["odd_ok"] = all(type(got[a][j]) is type(want[a][j]) and same(got[a][j], want[a][j])
                         for a in mpi.local_agents for j in want[a])
findings["a0_alone"] = {j: mpi.owner[j] == mpi.owner["a0"] for j in network.neighbours("a0")}
report(mpi, findings)
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_buffer_exchange_delivers_the_in_process_inboxes(tmp_path, ranks):
    findings, _ = run_ranks(ranks, EXCHANGE, tmp_path)
    assert sum(f["inboxes"] for f in findings) == 8 * 9  # every agent's inbox, every iteration, on some rank
    assert sum(f["crossing"] for f in findings) > 0  # arrays did cross ranks
    assert [f["wrong"] for f in findings] == [[]] * ranks
    assert all(f["odd_ok"] for f in findings)
    assert findings[0]["a0_alone"] == {"a1": True}  # an agent with no neighbour on another rank


MIX = """
n = 11
agents = [f"a{i}" for i in range(n)]
rng = np.random.default_rng(5)  # the same draws on every rank
edges = [(agents[i], agents[i + 1]) for i in range(n - 1)]
edges += [(agents[i], agents[j]) for i, j in rng.choice(np.arange(n), size=(12, 2)) if i != j]
network = CommunicationNetwork.from_edges(agents, edges)
mpi, reference = MPIRuntime(network), InProcessRuntime(network)
findings = {"rows": 0, "wrong": [], "crossing": 0}
for k in range(8):
    mpi.checkpoint(k)
    shape = [(), (3,), (2, 4), (6,)][k % 4]
    outgoing = {a: rng.choice([1e16, -1e16, 1.0, 3.0], size=shape) * rng.random(shape) for a in agents}
    graph = None
    if k % 2:  # a time-varying graph: a random subset of the edges
        keep = rng.random(network.n_edges) < 0.6
        graph = ActiveGraph(network.agents, tuple(e for e, kept in zip(network.edges, keep) if kept))
    weights = "adjacency" if k % 3 == 2 else "metropolis"
    got = mpi.mix(mpi.each(lambda a: outgoing[a]), graph, weights)
    want = reference.mix(outgoing, graph, weights)
    findings["crossing"] += sum(mpi.owner[j] != mpi.rank for a in mpi.local_agents
                                for j in (graph or network).neighbours(a))
    for a in mpi.local_agents:
        findings["rows"] += 1
        if not same(got[a], want[a]):
            findings["wrong"].append([k, a])
    if list(got) != list(mpi.local_agents):
        findings["wrong"].append(f"agents {k}")
findings["messages"] = [mpi.messages, reference.messages]
findings["floats"] = [mpi.totals()[1], reference.totals()[1]]
report(mpi, findings)
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_mix_is_bit_for_bit_the_in_process_mix(tmp_path, ranks):
    findings, _ = run_ranks(ranks, MIX, tmp_path)
    assert sum(f["rows"] for f in findings) == 8 * 11  # every agent's sum, every iteration, on some rank
    assert sum(f["crossing"] for f in findings) > 0  # terms came from other ranks
    assert [f["wrong"] for f in findings] == [[]] * ranks
    assert all(f["messages"][0] == f["messages"][1] and f["floats"][0] == f["floats"][1] for f in findings)


SUMS = """
agents = [f"a{i}" for i in range(7)]
network = CommunicationNetwork.from_edges(agents, [(a, b) for a, b in zip(agents, agents[1:])])
mpi, reference = MPIRuntime(network), InProcessRuntime(network)
rng = np.random.default_rng(3)
findings = {"sums": 0, "wrong": [], "order_matters": 0}
for k in range(12):
    mpi.checkpoint(k)
    shape = [(), (5,), (2, 3)][k % 3] if k < 9 else (4,)
    big = rng.choice([1e16, 1.0, -1e16, 3.0, -1.0], size=(len(agents),) + shape)
    values = {a: big[i] for i, a in enumerate(agents)}
    if shape == ():
        values = {a: float(v) for a, v in values.items()}  # python floats, as drivers pass scalars
    want = reference.sum(values)
    got = mpi.sum(mpi.each(lambda a: values[a]))
    findings["sums"] += 1
    if not same(got, want) or type(got) is not type(want):
        findings["wrong"].append(k)
    findings["order_matters"] += not same(want, sum(values[a] for a in reversed(agents)))
    peaks = {a: rng.standard_normal(shape) for a in agents}
    if not same(mpi.maximum(mpi.each(lambda a: peaks[a])), reference.maximum(peaks)):
        findings["wrong"].append(f"max {k}")
report(mpi, findings)
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_sum_is_bit_for_bit_the_in_process_sum(tmp_path, ranks):
    findings, _ = run_ranks(ranks, SUMS, tmp_path)
    assert [f["wrong"] for f in findings] == [[]] * ranks
    assert findings[0]["sums"] == 12
    assert findings[0]["order_matters"] >= 3  # the values make addition order visible


EMPTY = """
network = CommunicationNetwork.from_edges(["a", "b"], [("a", "b")])
mpi, reference = MPIRuntime(network), InProcessRuntime(network)
findings = {"local": list(mpi.local_agents), "wrong": []}
for k in range(3):
    mpi.checkpoint(k)
    outgoing = {"a": np.array([1.0, 2.0]) * k, "b": np.array(float(k))}
    got, want = mpi.exchange(mpi.each(lambda a: outgoing[a])), reference.exchange(outgoing)
    if any(not same(got[a][j], want[a][j]) for a in mpi.local_agents for j in want[a]):
        findings["wrong"].append(f"exchange {k}")
    same_shape = {"a": np.array([1.0, 2.0]) * k, "b": np.array([3.0, float(k)])}
    mixed = mpi.mix(mpi.each(lambda a: same_shape[a]))
    if list(mixed) != list(mpi.local_agents) or any(not same(mixed[a], reference.mix(same_shape)[a])
                                                    for a in mpi.local_agents):
        findings["wrong"].append(f"mix {k}")
    values = {"a": 1e16, "b": float(k) + 1.0}
    if not same(mpi.sum(mpi.each(lambda a: values[a])), reference.sum(values)):
        findings["wrong"].append(f"sum {k}")
    if not same(mpi.maximum(mpi.each(lambda a: values[a])), reference.maximum(values)):
        findings["wrong"].append(f"maximum {k}")
report(mpi, findings)
"""


def test_a_rank_without_agents_takes_part_in_every_call(tmp_path):
    findings, stderr = run_ranks(3, EMPTY, tmp_path)
    assert [f["local"] for f in findings] == [["a"], ["b"], []]
    assert [f["wrong"] for f in findings] == [[]] * 3
    assert "ecodec: 3 ranks for 2 agents (0.7 agents per rank, fewer than 4" in stderr
    assert stderr.count("ecodec: 3 ranks") == 1  # rank 0 alone, once


RING = """
logging.basicConfig(level=logging.WARNING)
agents = [f"a{i}" for i in range(8)]
network = CommunicationNetwork.from_edges(agents, [(a, b) for a, b in zip(agents, agents[1:] + agents[:1])])
mpi = MPIRuntime(network)
for k in range(5):
    if k == 2:
        before = mpi.mpi_traffic()["total"]
    mpi.checkpoint(k)
    mpi.exchange(mpi.each(lambda a: np.full(3, float(k))))
    mpi.sum(mpi.each(lambda a: np.ones(3)))
    mpi.maximum(mpi.each(lambda a: np.ones(3)))
after = mpi.mpi_traffic()
report(mpi, {key: (after["total"][key] - before[key]) / 3 for key in before} | {"loop": after["loop"]})
"""


def test_the_traffic_counters_equal_a_hand_count_on_a_ring(tmp_path):
    findings, stderr = run_ranks(2, RING, tmp_path)
    # ranks 0 (a0..a3) and 1 (a4..a7) meet on the edges a3-a4 and a7-a0: per iteration each rank sends one exchange
    # message of 1 flag + 2 x 3 floats (56 bytes); rank 0 passes its partial sum on (1 + 3 floats, 32 bytes);
    # collectives: the checkpoint (one int32, 4 bytes), the sum's broadcast (32 bytes), the maximum (32 bytes)
    rank0 = {"p2p_messages": 2, "p2p_bytes": 56 + 32, "pickled_messages": 0, "collectives": 3,
             "collective_bytes": 4 + 32 + 32}
    rank1 = {**rank0, "p2p_messages": 1, "p2p_bytes": 56}
    assert [{k: v for k, v in f.items() if k != "loop"} for f in findings] == [rank0, rank1]
    # the first iteration also sends the shapes once (flag, pickled shapes, data) for the exchange and the sum
    loop = findings[0]["loop"]
    assert loop["p2p_messages"] == 5 * 2 + 2 + 2 and loop["pickled_messages"] == 2
    assert "ecodec:" not in stderr  # 2 ranks for 8 agents on 2 cores: no warning
