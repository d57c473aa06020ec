"""Benchmark (c): primal decomposition on MPI ranks, run under mpiexec (one JSON line from rank 0 on stdout).

    mpiexec -n R python benchmarks/mpi_ranks.py [--copies 50] [--iterations 20]

The shipped microgrid replicated ``copies`` times (50 copies: 400 agents; the graph of benchmark (b)), primal
decomposition with the default options for a fixed number of iterations on :class:`ecodec.runtime.mpi.MPIRuntime`.
Rank 0 prints: ranks, agents, setup time (compiling the local subproblems and the initial split), the median wall
time of a whole iteration of the loop (the method's step with its neighbour messages, plus the loop's evaluation
of cost and coupling, which on MPI includes the ordered reductions), and the history's objective column, so the
caller can check that every number of ranks computed the same iterates.  ``benchmarks/run.py`` runs it with 1 and
2 ranks and reports the ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path

from scaling import replicated_network

from ecodec.decomposition import placement_weights
from ecodec.decomposition.driver import StoppingRules, run_driver
from ecodec.decomposition.primal_decomposition import PrimalDecomposition, PrimalDecompositionOptions
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.problem.replicate import replicate_problem
from ecodec.runtime.mpi import MPIRuntime

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--case", type=Path, default=ROOT / "cases" / "microgrid_8.xlsx")
    args = parser.parse_args()
    logging.getLogger("ecodec").setLevel(logging.ERROR)  # fixed iteration count: convergence warnings expected
    case = read_case(args.case)
    problem = replicate_problem(problem_from_case(case), args.copies)
    network = replicated_network(case, problem, args.copies)
    runtime = MPIRuntime(network, weights=placement_weights(problem))
    driver = PrimalDecomposition(problem, runtime, PrimalDecompositionOptions())
    result = run_driver(driver, StoppingRules(max_iterations=args.iterations))
    if result is None:  # not rank 0
        return 0
    elapsed = list(result.history["elapsed_s"])
    iteration_s = [b - a for a, b in zip(elapsed, elapsed[1:])]
    print(json.dumps({"ranks": runtime.size, "agents": len(problem.agents), "edges": network.n_edges,
                      "setup_s": result.info["setup_time_s"], "iterations": len(result.history),
                      "ms_per_iteration": statistics.median(iteration_s) * 1e3,
                      "objective_history": [float(v) for v in result.history["objective"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
