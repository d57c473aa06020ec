"""Replicated problems: ``k`` copies of every agent sharing ``k`` times the coupling right-hand sides.

``replicate_problem(P, k)`` has the agents  a_1, ..., a_k  for every agent a of P (copies made with
:func:`dataclasses.replace`, so each keeps all its parameters; profiles are shared, not copied) and every
resource's right-hand side(s) multiplied by k, on the same time grid:

    min  sum_{c=1..k} sum_i f_i(x_i,c)   s.t.   x_i,c in X_i,   sum_{c=1..k} sum_i h_i(x_i,c)  (sense)  k b

Its optimum f*_k is exactly k f*, the optimum of P, when P is convex (convex costs f_i, convex sets X_i, affine
contributions h_i; every LP case):

* f*_k <= k f*: k copies of an optimal point of P are feasible and cost k f*;
* f*_k >= k f*: the average over the copies  xbar_i = (1/k) sum_c x_i,c  of any feasible point stays in X_i
  (convexity), meets  sum_i h_i(xbar_i) (sense) b  (h_i affine, the right-hand side divided by k), so it is
  feasible for P and  k f* <= k sum_i f_i(xbar_i) <= sum_c sum_i f_i(x_i,c)  (Jensen).

For a mixed-integer P the average need not be integer, and f*_k may be below k f*.  Copy c of agent ``name`` is
named :func:`replica_name` ``(name, c)`` = ``name_c``; since c has no underscore, distinct (name, c) pairs give
distinct names.  Agents are ordered copy by copy (all agents of copy 1 in P's order, then copy 2, ...).

The benchmarks use it to study how the distributed methods scale with the number of agents while the exact
optimum stays known.
"""

from __future__ import annotations

import dataclasses
import logging

from ecodec.errors import ProblemError
from ecodec.problem.coupled import CoupledProblem

log = logging.getLogger(__name__)


def replica_name(name: str, copy: int) -> str:
    """The name of copy ``copy`` (1-based) of agent ``name``: ``name_copy``."""
    return f"{name}_{copy}"


def replicate_problem(problem: CoupledProblem, copies: int) -> CoupledProblem:
    """``copies`` copies of every agent of ``problem``, coupled through ``copies`` times its right-hand sides.

    See the module docstring for the naming, the order and why the optimum is ``copies`` times the original
    one for convex problems.  Agents must be dataclasses (every ecodec agent is).  Raises ProblemError when
    ``copies`` is not an integer >= 1.
    """
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ProblemError(f"the number of copies must be an integer >= 1, got {copies!r}")
    agents = [dataclasses.replace(agent, name=replica_name(agent.name, c))
              for c in range(1, copies + 1) for agent in problem.agents]
    resources = [dataclasses.replace(r, rhs=r.rhs * copies,
                                     rhs_upper=None if r.rhs_upper is None else r.rhs_upper * copies)
                 for r in problem.resources]
    log.debug("replicated '%s' %d times: %d agents", problem.name, copies, len(agents))
    return CoupledProblem(agents, resources, problem.grid, name=f"{problem.name}_x{copies}",
                          currency=problem.currency)
