"""OnlineSharingProblem: prosumer nodes that share fluctuating generation with their neighbours, round after round.

ecodec's labelled reconstruction (ALGORITHMS_WAVE2.md section 1.2) of the setting of Cheng, Tsetis, Maghsudi,
"Distributed Management of Fluctuating Energy Resources in Dynamic Networked Systems" (arXiv 2405.19015), whose
formulas were stripped from the available text.  N nodes on an undirected energy-exchange graph, which is also the
communication graph; N_i+ = the neighbours of i and i itself (in agent order).  Round t = 1..T:

* the *environment* draws each node's generation d_i,t around its profile mu_i,t, independently across nodes and
  rounds (:meth:`OnlineSharingProblem.environment`, seeded; ecodec's random model, ``[D]``):

      d_i,t = min(xbar_i, mu_i,t max(0, 1 + sigma_i eps_i,t)),     eps_i,t ~ N(0, 1)

  and the demand l_i,t is the node's ``demand_kw`` or, when empty, the *balanced share*: the round's drawn
  generation of the nodes without a demand, shared equally among them (with no node giving one: total demand =
  total generation, split equally, as the paper does);
* every node plays its allocation x_i,t = (x_ij,t)_{j in N_i+} in [0, xbar_i]^{n_i} (x_ii: what it keeps);
* the energy at j is E_j,t = sum_{k in N_j+} x_kj,t; its satisfaction u_j,t = min(E_j,t / l_j,t, 1) (1 when
  l_j,t = 0);
* node i's loss (3) is the shortfall of its neighbourhood  f_i,t(x_i,t) = sum_{j in N_i+} (1 - u_j,t), which it
  learns from its neighbours' satisfactions alone (bandit feedback: never their demand or generation); from its
  view the other nodes' allocations are part of the environment, so f_i,t is convex and piecewise linear in x_i,t
  with slope at most 1 / l_j,t in x_ij,t;
* the hard constraint (2): g_i,t(x_i,t) = sum_j x_ij,t - d_i,t <= 0 (a node cannot send more than it generates);
  node i knows d_i,t, hence g_i,t exactly.

Metrics (the paper's (6) and (7)): dynamic regret against the comparator sequence omega_t (the best allocation of
each round in hindsight, :mod:`ecodec.solvers.sharing_comparator`), Reg_T = sum_t sum_i f_i,t(x_i,t) -
sum_t sum_i f_i,t(omega_i,t); its path length P_T = sum_t ||omega_t - omega_t-1|| (per node and in total); the
cumulative hard-constraint violation V_T = sum_t sum_i [g_i,t(x_i,t)]_+.

The centralized view (:meth:`OnlineSharingProblem.centralized_model`) is that comparator over every round of one
environment as one Pyomo LP built from each node's own ``build`` (the rounds are independent, so it is the sum of
the per-round LPs); the fast per-round re-solve compiles the same LP once as matrices.

>>> import numpy as np
>>> from ecodec.models import Prosumer, TimeGrid
>>> from ecodec.network import CommunicationNetwork
>>> nodes = [Prosumer("a", generation_kw=4.0, generation_noise=0.0), Prosumer("b", generation_kw=0.0,
...          capacity_kw=4.0, generation_noise=0.0)]
>>> problem = OnlineSharingProblem(nodes, CommunicationNetwork.from_edges(["a", "b"], [("a", "b")]), TimeGrid(2, 1.0))
>>> env = problem.environment(seed=0)
>>> env.demand_kw.tolist()          # balanced: the 4 kW of generation split equally
[[2.0, 2.0], [2.0, 2.0]]
>>> x = np.array([2.0, 2.0, 0.0, 0.0])   # arcs a->a, a->b, b->a, b->b: a keeps 2 kW and sends 2 kW
>>> problem.node_losses(x, env, 0).tolist(), problem.violations(x, env, 0).tolist()
([0.0, 0.0], [0.0, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from ecodec.errors import ProblemError
from ecodec.models.base import SharingAgent, TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.problem.coupled import BuiltModel, check_unique_names
from ecodec.vocabulary import KindWords


#: The unit of an online sharing case's objective and costs (results label them with it): the loss (3) counts the
#: unserved shares of demand a node observes, a number without money in it
LOSS_UNIT = "loss"


@dataclass(frozen=True)
class Environment:
    """One draw of the environment: every node's generation and demand per round, shape (N, T), in kW."""

    seed: int
    generation_kw: np.ndarray
    demand_kw: np.ndarray


class OnlineSharingProblem:
    """Prosumer nodes sharing energy over a graph, round after round (see the module docstring)."""

    kind = "online-sharing"
    report_sections = ("glance", "case", "online", "details")
    words = KindWords("online energy-sharing cases (prosumer nodes)",
                      "prosumer nodes that share their generation with their neighbours round after round")
    problem_class = "LP"

    def __init__(self, agents: list[SharingAgent], network: CommunicationNetwork, grid: TimeGrid, *,
                 name: str = "case"):
        self.agents = list(agents)
        self.grid = grid
        self.name = name
        self.currency = LOSS_UNIT  # what results call the objective's unit: the loss is a count, no money
        self.resources: list = []
        if len(self.agents) < 2:
            raise ProblemError("an online sharing problem needs at least two prosumer nodes")
        check_unique_names(self.agents)
        for agent in self.agents:
            agent.validate(grid)
        names = tuple(a.name for a in self.agents)
        if tuple(network.agents) != names:
            raise ProblemError(f"the energy-exchange network must join the nodes in their order ({', '.join(names)}); "
                               f"it joins {', '.join(network.agents)}")
        self.network = network
        self.index = {n: i for i, n in enumerate(names)}
        #: N_i+ for every node: its neighbours and itself, in agent order
        self.neighbourhoods = {n: tuple(sorted((n, *network.neighbours(n)), key=self.index.__getitem__))
                               for n in names}
        arcs = [(i, j) for i in names for j in self.neighbourhoods[i]]
        self.arc_sender = np.array([self.index[i] for i, _ in arcs])
        self.arc_recipient = np.array([self.index[j] for _, j in arcs])
        #: where node i's allocation vector starts in the vector of every arc (arcs ordered by sender)
        self.arc_start = np.concatenate([[0], np.cumsum([len(self.neighbourhoods[n]) for n in names])])
        self.capacity_kw = np.array([a.capacity() for a in self.agents])
        self._mean = np.stack([np.broadcast_to(np.asarray(a.generation_kw, dtype=float), (grid.T,))
                               for a in self.agents])
        self._noise = np.array([a.generation_noise for a in self.agents])
        self._demand = [None if a.demand_kw is None else np.broadcast_to(np.asarray(a.demand_kw, dtype=float),
                                                                          (grid.T,)) for a in self.agents]

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_arcs(self) -> int:
        return int(self.arc_sender.size)

    def agent(self, name: str) -> SharingAgent:
        return self.agents[self.index[name]]

    def is_mixed_integer(self) -> bool:
        return False

    def coupling_description(self) -> str:
        return (f"{self.n_agents} prosumer nodes sharing energy over {self.network.n_edges} edges, "
                f"{self.grid.T} rounds")

    # -- the environment -----------------------------------------------------------------------------------
    def environment(self, seed: int = 0) -> Environment:
        """The generation and demand of every round, drawn from ``seed`` (see the module docstring)."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
        eps = rng.standard_normal(self._mean.shape)
        factor = np.maximum(0.0, 1.0 + self._noise[:, None] * eps)
        generation = np.minimum(self.capacity_kw[:, None], self._mean * factor)
        demand = np.empty_like(generation)
        balanced = [i for i, d in enumerate(self._demand) if d is None]
        for i, d in enumerate(self._demand):
            if d is not None:
                demand[i] = d
        if balanced:
            given = sum((demand[i] for i, d in enumerate(self._demand) if d is not None), np.zeros(self.grid.T))
            share = np.maximum(0.0, generation[balanced].sum(axis=0) - given) / len(balanced)
            demand[balanced] = share
        return Environment(seed, generation, demand)

    # -- losses and constraints (the whole network at once: for evaluation and the comparator) -------------
    def received(self, x: np.ndarray) -> np.ndarray:
        """E_j for every node from the allocations of every arc (a vector over arcs)."""
        return np.bincount(self.arc_recipient, weights=x, minlength=self.n_agents)

    @staticmethod
    def satisfaction(received: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """u_j = min(E_j / l_j, 1), and 1 where l_j = 0."""
        safe = np.where(demand > 0, demand, 1.0)
        return np.where(demand > 0, np.minimum(received / safe, 1.0), 1.0)

    def node_losses(self, x: np.ndarray, env: Environment, t: int) -> np.ndarray:
        """f_i,t for every node i at the allocations ``x`` of every arc."""
        u = self.satisfaction(self.received(x), env.demand_kw[:, t])
        return np.bincount(self.arc_sender, weights=1.0 - u[self.arc_recipient], minlength=self.n_agents)

    def violations(self, x: np.ndarray, env: Environment, t: int) -> np.ndarray:
        """[g_i,t]_+ for every node: what it sends beyond its generation (kW)."""
        sent = np.bincount(self.arc_sender, weights=x, minlength=self.n_agents)
        return np.maximum(0.0, sent - env.generation_kw[:, t])

    def observers(self) -> np.ndarray:
        """|N_j+| for every node: how many nodes count its shortfall in their loss."""
        return np.diff(self.arc_start)

    # -- views ---------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Build the centralized model once: it checks what each agent's build returns against the problem."""
        self.centralized_model()

    def centralized_model(self, environment: Environment | None = None) -> BuiltModel:
        """The comparator over every round of ``environment`` (seed 0 by default) as one Pyomo LP (see
        :mod:`ecodec.models.prosumer` for the rows); each node's block gets ``received`` (E_j,t)."""
        env = environment if environment is not None else self.environment(0)
        m = pyo.ConcreteModel(name=self.name)
        m.agents = pyo.Block([a.name for a in self.agents])
        T = self.grid.steps
        terms = {a.name: a.build(m.agents[a.name], self.grid, self.neighbourhoods[a.name], env.generation_kw[i],
                                 env.demand_kw[i]) for i, a in enumerate(self.agents)}
        for j, senders in self.neighbourhoods.items():  # undirected: every k in N_j+ sends to j
            m.agents[j].received = pyo.Expression(T, rule=lambda _, t, j=j, senders=senders: sum(
                terms[k].sent[j][t] for k in senders))
        m.receive = pyo.Constraint(list(self.index), list(T), rule=lambda m, j, t: (
            m.agents[j].received[t] + terms[j].shortfall[t] >= float(env.demand_kw[self.index[j], t])))
        m.objective = pyo.Objective(expr=sum(terms[a.name].cost for a in self.agents), sense=pyo.minimize)
        return BuiltModel(m, terms)

    def local_model(self, agent: SharingAgent, environment: Environment | None = None) -> BuiltModel:
        """The node alone with no energy from its neighbours: its allocations, its hard constraint, and as
        objective its loss when it serves itself (what it faces before any sharing)."""
        env = environment if environment is not None else self.environment(0)
        i = self.index[agent.name]
        m = pyo.ConcreteModel(name=f"{self.name}:{agent.name}")
        m.agent = pyo.Block()
        terms = agent.build(m.agent, self.grid, self.neighbourhoods[agent.name], env.generation_kw[i],
                            env.demand_kw[i])
        m.agent.received = pyo.Expression(self.grid.steps, rule=lambda b, t: b.sent[agent.name, t])
        m.receive = pyo.Constraint(self.grid.steps, rule=lambda m, t: (
            m.agent.received[t] + terms.shortfall[t] >= float(env.demand_kw[i, t])))
        m.objective = pyo.Objective(expr=terms.cost, sense=pyo.minimize)
        return BuiltModel(m, {agent.name: terms})


__all__ = ["Environment", "OnlineSharingProblem"]
