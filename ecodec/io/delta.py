"""The DELTA experiment's agents drawn with a seed, as case-workbook tables (ALGORITHMS_WAVE2.md section 2).

Source: Brumali, Carnevale, Notarstefano, "Data-Driven Distributed Optimization via Aggregative Tracking and
Deep-Learning" (arXiv 2503.04668): N = 20 agents with quadratic-plus-exponential costs
(:class:`~ecodec.models.QuadraticExponential`).  The report does not show the distributions; ecodec's choices
``[D]``, drawn from one seeded generator in agent order:

==========  ===================================  ==========================================
quantity    distribution                          columns (sheet quadratic_exponential)
==========  ===================================  ==========================================
P_i         Q'Q / 4 + I,  Q ~ N(0, 1)^(4 x 4)     p_11 .. p_44
v_i         N(0, I_4)                             v_1 .. v_4
a_i         U[0.1, 1]                             a
b_i         N(0, 0.1^2 I_4)                       b_1 .. b_4
c_i         U[-1, 0]                              c
q_i         U[0, 1]                               q
x_i(0)      U[-3, 3]^2                            x1_start, x2_start
box         [-5, 5]^2                             x_min, x_max
==========  ===================================  ==========================================

The communication graph is the first connected Erdos-Renyi draw with edge probability 0.2 from the seed on
(Metropolis-Hastings weights, as every ecodec consensus); T = 1.  :func:`delta_tables` with the same arguments gives
the same tables; the mid-run change of the experiment redraws the costs (not the graph or the starts) with
``cost_seed``.
"""

from __future__ import annotations

import numpy as np

from ecodec.models.base import TimeGrid
from ecodec.models.quadratic_exponential import P_ENTRIES, QuadraticExponential
from ecodec.network import CommunicationNetwork
from ecodec.problem.aggregative import AggregativeProblem

EDGE_PROBABILITY = 0.2
BOX = (-5.0, 5.0)
START_RANGE = 3.0
#: Options the generated workbook sets (measured on the 20-agent draw, docs/delta.md): aggregative tracking with the
#: exact gradients converges with a step 10 times DELTA's default
DRIVER_OPTIONS = (("aggregative-tracking", "step_size", 0.05), ("delta", "step_size", 0.005))
MAX_ITERATIONS = 10_000


def draw_costs(n: int, cost_seed: int) -> list[dict[str, float]]:
    """The cost parameters of ``n`` agents (one dict per agent, workbook column names), from ``cost_seed``.

    >>> costs = draw_costs(3, 0)
    >>> len(costs), sorted(costs[0])[:3], all(c["a"] >= 0.1 for c in costs)
    (3, ['a', 'b_1', 'b_2'], True)
    """
    rng = np.random.default_rng(cost_seed)
    rows = []
    for _ in range(n):
        q_matrix = rng.normal(size=(4, 4))
        p = q_matrix.T @ q_matrix / 4.0 + np.eye(4)
        v = rng.normal(size=4)
        a = rng.uniform(0.1, 1.0)
        b = rng.normal(0.0, 0.1, size=4)
        c = rng.uniform(-1.0, 0.0)
        q = rng.uniform(0.0, 1.0)
        row = {name: round(float(p[int(name[2]) - 1, int(name[3]) - 1]), 10) for name in P_ENTRIES}
        row.update({f"v_{k + 1}": round(float(v[k]), 10) for k in range(4)})
        row.update({f"b_{k + 1}": round(float(b[k]), 10) for k in range(4)})
        row.update({"a": round(float(a), 10), "c": round(float(c), 10), "q": round(float(q), 10)})
        rows.append(row)
    return rows


def delta_tables(n: int, seed: int, cost_seed: int | None = None) -> dict[str, list[dict]]:
    """The workbook tables of ``n`` agents drawn from ``seed`` (costs from ``cost_seed``, by default ``seed``)."""
    if n < 2:
        raise ValueError("the DELTA experiment needs n >= 2 agents")
    cost_seed = seed if cost_seed is None else cost_seed
    starts = np.random.default_rng([seed, 1]).uniform(-START_RANGE, START_RANGE, size=(n, 2))
    names = [f"agent{i + 1}" for i in range(n)]
    rows = []
    for i, costs in enumerate(draw_costs(n, cost_seed)):
        rows.append({"name": names[i], "active": True, **costs, "x_min": BOX[0], "x_max": BOX[1],
                     "x1_start": round(float(starts[i, 0]), 10), "x2_start": round(float(starts[i, 1]), 10)})
    network, graph_seed = CommunicationNetwork.first_connected_erdos_renyi(names, EDGE_PROBABILITY, seed)
    return {
        "meta": [{"name": f"delta_{n}", "T": 1, "step_h": 1.0, "currency": "EUR", "topology": "complete",
                  "description": (f"DELTA experiment: {n} agents with quadratic-plus-exponential costs drawn with "
                                  f"seed {cost_seed}, starts with seed {seed}; communication graph erdos_renyi "
                                  f"p={EDGE_PROBABILITY:g} seed {graph_seed}")}],
        "timeseries": [{"t": 1}],
        QuadraticExponential.sheet: rows,
        "network": [{"from": a, "to": b} for a, b in network.edges],
        "drivers": [*({"driver": d, "option": k, "value": v} for d, k, v in DRIVER_OPTIONS),
                    {"driver": "stopping", "option": "max_iterations", "value": MAX_ITERATIONS}],
    }


def delta_problem(n: int, seed: int, cost_seed: int | None = None):
    """The problem and communication network of :func:`delta_tables`, built in Python (no workbook).

    >>> problem, network = delta_problem(5, 0)
    >>> problem.n_agents, problem.aggregates, network.n_agents
    (5, ('mean_x1', 'mean_x2'), 5)
    """
    tables = delta_tables(n, seed, cost_seed)
    agents = [QuadraticExponential(**{k: v for k, v in row.items() if k != "active"})
              for row in tables[QuadraticExponential.sheet]]
    names = [a.name for a in agents]
    network = CommunicationNetwork(tuple(names), tuple((e["from"], e["to"]) for e in tables["network"]),
                                   "erdos_renyi")
    return AggregativeProblem(agents, TimeGrid(1, 1.0), name=tables["meta"][0]["name"]), network


__all__ = ["delta_problem", "delta_tables", "draw_costs"]
