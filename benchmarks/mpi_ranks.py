"""Benchmark (c): a distributed method on MPI ranks, run under mpiexec (one JSON line from rank 0 on stdout).

    mpiexec -n R python benchmarks/mpi_ranks.py [--copies 50] [--iterations 20] [--method primal-decomposition]
                                                [--case cases/microgrid_8.xlsx]

The case (default the shipped microgrid) replicated ``copies`` times (a market or sharing case runs as it is,
``--copies 1``) (50 copies: 400 agents; the graph of
benchmark (b)), the method (default primal decomposition; any registered distributed method, e.g.
``tracking-admm``) with its default options for a fixed number of iterations on
:class:`ecodec.runtime.mpi.MPIRuntime`.  Rank 0 prints: ranks, agents, setup time (compiling the local subproblems
and the initial split), the median wall time of a whole iteration of the loop (the method's step with its neighbour
messages, plus the loop's evaluation of cost and coupling, which on MPI includes the ordered reductions), the
history's objective column, so the caller can check that every number of ranks computed the same iterates, and
the MPI traffic per iteration of every rank (:meth:`~ecodec.runtime.mpi.MPIRuntime.mpi_traffic` of the loop
divided by the number of iterations: point-to-point messages and bytes sent, collective calls and the bytes this
rank put into them).  ``benchmarks/run.py`` runs it with 1 and 2 ranks and reports the ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path

from scaling import TIMED_OPTIONS, replicated_network

from ecodec.decomposition import placement_weights, spec_of
from ecodec.decomposition.driver import StoppingRules, run_driver
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.coupled import CoupledProblem
from ecodec.problem.from_case import problem_from_case
from ecodec.problem.replicate import replicate_problem
from ecodec.runtime.mpi import MPIRuntime

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--method", default="primal-decomposition")
    parser.add_argument("--case", type=Path, default=ROOT / "cases" / "microgrid_8.xlsx")
    args = parser.parse_args()
    logging.getLogger("ecodec").setLevel(logging.ERROR)  # fixed iteration count: convergence warnings expected
    spec = spec_of(args.method)
    case = read_case(args.case)
    problem = problem_from_case(case)
    if isinstance(problem, CoupledProblem):
        problem = replicate_problem(problem, args.copies)
        network = replicated_network(case, problem, args.copies)
    elif args.copies == 1:  # a market or sharing case: as the workbook defines it
        network = network_from_case(case)
    else:
        parser.error(f"--copies {args.copies}: only a case of agents coupled through resources can be replicated")
    runtime = MPIRuntime(network, weights=placement_weights(problem))
    driver = spec.driver(problem, runtime, spec.make_options(TIMED_OPTIONS.get(spec.name, {})))
    result = run_driver(driver, StoppingRules(max_iterations=args.iterations))
    traffic = runtime.comm.gather(runtime.mpi_traffic() if hasattr(runtime, "mpi_traffic") else None, root=0)
    if result is None:  # not rank 0
        return 0
    elapsed = list(result.history["elapsed_s"])
    iteration_s = [b - a for a, b in zip(elapsed, elapsed[1:])]
    iterations = len(result.history)
    per_iteration = [None if t is None else {key: round(value / iterations, 2) for key, value in t["loop"].items()}
                     for t in traffic]
    print(json.dumps({"method": spec.name, "ranks": runtime.size, "agents": len(problem.agents),
                      "edges": network.n_edges, "setup_s": result.info["setup_time_s"], "iterations": iterations,
                      "ms_per_iteration": statistics.median(iteration_s) * 1e3,
                      "traffic_per_iteration": per_iteration,
                      "objective_history": [float(v) for v in result.history["objective"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
