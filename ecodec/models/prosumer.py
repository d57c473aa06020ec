"""Prosumer node of an online energy-sharing network (bandit feedback; ALGORITHMS_WAVE2.md section 1).

Source: Cheng, Tsetis, Maghsudi, "Distributed Management of Fluctuating Energy Resources in Dynamic Networked
Systems" (arXiv 2405.19015).  The paper's formulas were not available; the model below is ecodec's labelled
reconstruction (section 1.2 of ALGORITHMS_WAVE2.md), which satisfies every sentence of the paper's text.

Node i has a photovoltaic generation d_i,t drawn each round around its profile mu_i,t (the random model is the
problem's, :mod:`ecodec.problem.online_sharing`), a demand l_i,t, and the neighbourhood N_i+ (its neighbours on
the energy-exchange graph and itself).  Each round it decides how much to send to each j in N_i+ (x_ii is what it
keeps); the main grid covers what is left unserved and is not modelled.  For a given round, the best allocation
in hindsight (the comparator) is the LP

    min  sum_j |N_j+| q_j,t / l_j,t
    s.t. sum_{k in N_j+} x_kj,t + q_j,t >= l_j,t,   q_j,t >= 0          (received energy and shortfall)
         sum_{j in N_i+} x_ij,t <= d_i,t                                  (2) hard constraint
         0 <= x_ij,t <= xbar_i

whose objective is sum_i f_i,t with f_i,t = sum_{j in N_i+} [1 - E_j,t / l_j,t]_+ , the loss (3): each node's
shortfall counts once for every node that observes it.  A node builds its own columns (x_i., q_i), its hard
constraint and its loss term; the problem writes the received-energy rows.

=========  ===============  ==============================  ======
symbol     Pyomo            workbook column (prosumers)     unit
=========  ===============  ==============================  ======
mu_i,t                      generation_kw                   kW
sigma_i                     generation_noise                -
xbar_i                      capacity_kw                     kW
l_i,t                       demand_kw (empty: balanced)     kW
x_ij,t     ``sent``         (decision)                      kW
q_i,t      ``shortfall``    (decision)                      kW
E_i,t      ``received``     (what N_i+ sends to i)          kW
=========  ===============  ==============================  ======
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.declarations import NUMBER
from ecodec.models.base import Output, Param, SharingAgent, SharingTerms, TimeGrid
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Prosumer(SharingAgent):
    generation_kw: Param = parameter(NUMBER, "kW", "Mean generation mu_i,t per round (the profile the drawn "
                                     "generation fluctuates around).", lower=0.0, profile=True)
    generation_noise: float = parameter(NUMBER, "-", "Relative standard deviation sigma_i of the drawn generation: "
                                        "d = min(capacity, mu max(0, 1 + sigma eps)), eps standard normal.",
                                        default=0.1, lower=0.0, upper=1.0)
    capacity_kw: float | None = parameter(NUMBER, "kW", "xbar_i: the most the node sends to one neighbour or "
                                          "keeps in a round, and the cap of its drawn generation (empty: the "
                                          "largest value of generation_kw).", default=None, lower=0.0,
                                          lower_open=True)
    demand_kw: Param | None = parameter(NUMBER, "kW", "Demand l_i,t per round (empty: the balanced share, the "
                                        "round's drawn generation of the nodes without a demand shared equally "
                                        "among them).", default=None, lower=0.0, profile=True)

    kind = "prosumer"
    sheet = "prosumers"
    sheet_description = (
        "Prosumer nodes of an online energy-sharing network (docs/online_sharing.md): each generates around its "
        "profile, keeps part of its energy and sends the rest to its neighbours on the 'network' sheet, round "
        "after round. A case holds either prosumers or other agents. (The example row is inactive.)")
    example = {"name": "node1", "active": False, "generation_kw": 5.0, "generation_noise": 0.1,
               "capacity_kw": 8.0, "demand_kw": None}
    outputs = (
        Output("generation", "generation", "kW", "generation"),
        Output("demand", "demand", "kW", "demand"),
        Output("kept", "kept", "kW", "energy kept"),
        Output("sent", "sent_out", "kW", "energy sent"),
        Output("received", "received", "kW", "energy received"),
        Output("shortfall", "shortfall", "kW", "unserved demand"),
    )

    def capacity(self) -> float:
        """xbar_i: ``capacity_kw``, or the largest value of the generation profile (at least 1e-9 kW)."""
        if self.capacity_kw is not None:
            return float(self.capacity_kw)
        return max(float(np.max(self.generation_kw)), 1e-9)

    def build(self, b: pyo.Block, grid: TimeGrid, neighbourhood: tuple[str, ...], generation_kw: np.ndarray,
              demand_kw: np.ndarray) -> SharingTerms:
        T = grid.steps
        cap = self.capacity()
        b.sent = pyo.Var(neighbourhood, T, bounds=(0.0, cap))
        b.shortfall = pyo.Var(T, bounds=(0.0, None))
        b.hard = pyo.Constraint(T, rule=lambda b, t: (
            sum(b.sent[j, t] for j in neighbourhood) <= float(generation_kw[t])))
        b.generation = pyo.Expression(T, rule=lambda _, t: float(generation_kw[t]))
        b.demand = pyo.Expression(T, rule=lambda _, t: float(demand_kw[t]))
        b.kept = pyo.Expression(T, rule=lambda b, t: b.sent[self.name, t])
        b.sent_out = pyo.Expression(T, rule=lambda b, t: sum(b.sent[j, t] for j in neighbourhood if j != self.name))
        observers = len(neighbourhood)
        b.loss = pyo.Expression(expr=sum(observers * b.shortfall[t] / float(demand_kw[t])
                                         for t in T if demand_kw[t] > 0))
        return SharingTerms(sent={j: [b.sent[j, t] for t in T] for j in neighbourhood},
                            shortfall=[b.shortfall[t] for t in T], cost=b.loss)
