"""What the online energy-sharing methods share (``drs``, ``ma-nsdrs``, ``bansap`` and their ``-na`` variants): one
round of the network, the bandit geometry, the evaluation against the comparator and the per-node results.

Problem: :class:`~ecodec.problem.OnlineSharingProblem` (losses, constraint and environment are defined there).
Round t (iteration k = t - 1 of the shared loop), every node i:

1. *acts*: its method gives the played allocation x_i,t in the box X_i = [0, xbar_i]^{n_i}; with ``adjustment``
   on it executes instead (11)

       xt_i,t = x_i,t d_i,t / sum_j x_ij,t   if sum_j x_ij,t > d_i,t,   else x_i,t

   (proportional rescaling: the unique rule whose l1 move ||x - xt||_1 equals the violation [g_i,t]_+, as the
   paper's regret argument needs; ALGORITHMS_WAVE2.md 1.3, a reconstruction), and sends each neighbour j what it
   sends it (message 1: its executed allocation);
2. *receives*: E_i,t = sum_{k in N_i+} xt_ki,t, its satisfaction u_i,t = min(E_i,t / l_i,t, 1), which it sends to
   its neighbours (message 2: one number);
3. *learns*: its loss f_i,t = sum_{j in N_i+} (1 - u_j,t) (bandit feedback: one function value) and its constraint
   value g_i,t, which it knows exactly; its method updates.

The messages are the physical exchange and the feedback the paper describes; the first carries the sender's
whole executed allocation (n_i numbers, of which the recipient reads its own), the second one number.

Geometry (ALGORITHMS_WAVE2.md 1.2): X_i contains the ball around c_i = (xbar_i / 2) 1 of radius r_i = xbar_i / 2 and
lies in the ball of radius R_i = sqrt(n_i) xbar_i / 2; the shrunk box (1 - xi) X_i = c + (1 - xi)(X_i - c).  A
point y in (1 - xi) X_i played as y + delta u with ||u|| = 1 and delta = xi r_i stays in X_i
(:func:`shrunk_box_projection`, :func:`unit_sphere`).  The one-point gradient estimate (Flaxman, Kalai, McMahan)

       ghat = (n / delta) f(y + delta u) u,     u uniform on the unit sphere of R^n,

is an unbiased gradient of the smoothed loss fhat(y) = E_{v in unit ball} f(y + delta v)
(:func:`one_point_gradient`).  The loss bound is C_i = n_i (each of the n_i terms is in [0, 1]).

The smoothing radius of every method is delta_0 sqrt(n_i) R_i tau^-1/4 capped at r_i / 2 (PyNOL's form), with
``smoothing`` = delta_0 = 0.2 by default, not PyNOL's 1: on the shipped cases (n_i = 3-13, T = 720) the factor 1
keeps delta at its cap r_i / 2 in every round, so xi = 1/2 and every played allocation stays at least xbar_i / 4
away from the box's faces: a node could never keep or send less than a quarter of its capacity on any arc, at
night included.  Measured on cases/der_sharing_6.xlsx (5 seeds, docs/online_sharing.md) the factor 0.2 cuts the
cumulative violation of the variants without adjustment by 2.4-2.8 times.

Evaluation per round (the paper's metrics): the round's total loss sum_i f_i,t, the comparator's (best allocation
of the round in hindsight: :mod:`ecodec.solvers.sharing_comparator`), their cumulative sums, the dynamic regret
(their difference) and the hard-constraint violation sum_i [g_i,t]_+ with its cumulative sum.  Randomness: the
environment from ``seed`` (every method sees the same draws for one seed), node i's own draws from (seed, i), so
the iterates do not depend on where the nodes run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ecodec.decomposition.driver import Driver
from ecodec.decomposition.options import MethodOptions, OptionError, option
from ecodec.decomposition.registry import Column
from ecodec.results.run_result import AgentOutcome
from ecodec.solvers.sharing_comparator import comparator_sequence

_ROUNDING = 1e-12

#: The per-node quantities of an online run, per round (the dispatch table of its result)
OUTPUT_LABELS = [("generation", "kW"), ("demand", "kW"), ("kept", "kW"), ("sent", "kW"), ("received", "kW"),
                 ("shortfall", "kW"), ("loss", "-"), ("violation", "kW")]

#: The history columns every online method records besides the loop's
ONLINE_COLUMNS = (
    Column("comparator_loss", "the round's least total loss in hindsight (the comparator)"),
    Column("cumulative_loss", "sum over rounds so far of the total loss sum_i f_i,t", label="loss"),
    Column("cumulative_comparator_loss", "sum over rounds so far of the comparator's loss"),
    Column("dynamic_regret", "cumulative_loss - cumulative_comparator_loss", label="regret"),
    Column("regret_per_round", "dynamic_regret / t"),
    Column("violation", "sum_i [g_i,t]_+: what the nodes sent beyond their generation this round (kW)"),
    Column("cumulative_violation", "sum over rounds so far of violation (kW)", label="violation"),
    Column("mean_dual", "mean over the nodes of the dual variable lambda_i"),
)
ONLINE_PROGRESS = ("cumulative_loss", "dynamic_regret", "cumulative_violation")


def unit_sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    """A direction drawn uniformly on the unit sphere of R^n (a normalised standard normal vector)."""
    z = rng.standard_normal(n)
    return z / np.linalg.norm(z)


def shrunk_box_projection(z: np.ndarray, cap: float, xi: float) -> np.ndarray:
    """The projection of z on (1 - xi) [0, cap]^n = c + (1 - xi)([0, cap]^n - c), c = cap / 2.

    >>> shrunk_box_projection(np.array([-1.0, 0.5, 3.0]), 2.0, 0.5).tolist()
    [0.5, 0.5, 1.5]
    """
    half = (1.0 - xi) * cap / 2.0
    return np.clip(z, cap / 2.0 - half, cap / 2.0 + half)


def proportional_adjustment(x: np.ndarray, generation: float) -> np.ndarray:
    """(11): x scaled down to send exactly ``generation`` when it sends more, else x itself.

    >>> proportional_adjustment(np.array([2.0, 2.0]), 3.0).tolist(), proportional_adjustment(np.array([1.0]), 3.0)
    ([1.5, 1.5], array([1.]))
    """
    total = float(np.sum(x))
    if total <= generation:
        return x
    return x * (max(generation, 0.0) / total)


def one_point_gradient(loss: float, u: np.ndarray, delta: float) -> np.ndarray:
    """(n / delta) f(y + delta u) u: the one-point estimate of the smoothed loss's gradient at y."""
    return (u.size / delta) * loss * u


@dataclass(frozen=True)
class OnlineOptions(MethodOptions):
    """What every online sharing method takes: ``seed`` (environment and the nodes' draws), ``adjustment`` and
    ``gradient`` (the bandit estimate, or the true subgradient as an oracle for experiments)."""

    seed: int = option(0, "-", "seed of the environment's generation and of every node's random directions", lower=0)
    adjustment: bool = option(True, "-", "execute the proportionally rescaled allocation (11) when a node sends "
                              "more than it generates, so the hard constraint holds in every round")
    gradient: str = option("bandit", "-", "bandit: the one-point estimate from the observed loss (the method); "
                           "full: the true subgradient of the loss at the played point, an oracle no node has "
                           "(played without perturbation; for experiments and tests)", choices=("bandit", "full"))


class BanditNode:
    """Node i's side of every online method: its geometry, its random stream and its per-round record.  A method's
    node subclasses it with ``decide(t)`` (the played allocation) and ``update(t, loss, g_played)``."""

    def __init__(self, name: str, problem, env, options: OnlineOptions):
        self.name, self.options = name, options
        self.i = problem.index[name]
        self.neighbourhood = problem.neighbourhoods[name]
        self.n = len(self.neighbourhood)
        self.own = self.neighbourhood.index(name)
        #: where this node's entry sits in each neighbour's allocation vector
        self.position_in = {j: problem.neighbourhoods[j].index(name) for j in self.neighbourhood if j != name}
        self.cap = float(problem.capacity_kw[self.i])
        self.r, self.R, self.C = self.cap / 2.0, np.sqrt(self.n) * self.cap / 2.0, float(self.n)
        self.generation, self.demand = env.generation_kw[self.i], env.demand_kw[self.i]
        self.horizon = problem.grid.T
        self.rng = np.random.default_rng(np.random.SeedSequence(options.seed, spawn_key=(1, self.i)))
        self.lam = 0.0
        self.record = np.full((len(OUTPUT_LABELS), self.horizon), np.nan)
        self.played = np.zeros(self.n)
        self.executed = np.zeros(self.n)
        self.oracle = None  # set by the driver when gradient = 'full'

    # -- what a method implements ----------------------------------------------------------------------------
    def decide(self, t: int) -> np.ndarray:
        raise NotImplementedError

    def update(self, t: int, loss: float, g_played: float) -> None:
        raise NotImplementedError

    #: The names of the step sizes :meth:`step_sizes` returns (history columns ``mean_<name>``)
    step_names: ClassVar[tuple[str, ...]] = ()

    def step_sizes(self) -> tuple[float, ...]:
        """The step sizes of the last update, in the order of ``step_names`` (averaged over the nodes)."""
        return ()

    # -- the round (module docstring) ------------------------------------------------------------------------
    def act(self, t: int) -> np.ndarray:
        self.played = self.decide(t)
        d = float(self.generation[t])
        self.executed = proportional_adjustment(self.played, d) if self.options.adjustment else self.played
        return self.executed

    def receive(self, t: int, inbox: dict[str, np.ndarray]) -> np.ndarray:
        received = self.executed[self.own] + sum(inbox[j][self.position_in[j]] for j in self.position_in)
        demand = float(self.demand[t])
        self.received = float(received)
        self.satisfaction = min(received / demand, 1.0) if demand > 0 else 1.0
        return np.array([self.satisfaction])

    def learn(self, t: int, inbox: dict[str, np.ndarray]) -> None:
        loss = (1.0 - self.satisfaction) + sum(1.0 - float(inbox[j][0]) for j in self.position_in)
        d = float(self.generation[t])
        g_played = float(np.sum(self.played)) - d
        excess = float(np.sum(self.executed)) - d
        violation = excess if excess > _ROUNDING * (1.0 + d) else 0.0  # the adjustment's rounding is no violation
        kept = self.executed[self.own]
        self.record[:, t] = [d, self.demand[t], kept, np.sum(self.executed) - kept, self.received,
                             max(0.0, self.demand[t] - self.received), loss, violation]
        self.update(t, loss, g_played)

    def perturbed(self, point: np.ndarray, delta: float) -> np.ndarray:
        """The point played around ``point``: point + delta u with a fresh direction u (kept for the estimate), or
        the point itself when an oracle gives the gradient."""
        if self.oracle is not None:
            self.u = None
            return point.copy()
        self.u = unit_sphere(self.rng, self.n)
        return point + delta * self.u

    def gradient_estimate(self, loss: float, u: np.ndarray | None, delta: float, t: int) -> np.ndarray:
        """The bandit estimate, or the oracle's subgradient (option ``gradient``)."""
        if self.oracle is not None:
            return self.oracle(self, t)
        return one_point_gradient(loss, u, delta)


class BanditSharingDriver(Driver):
    """The round of the module docstring over every node; a method sets ``node_class``."""

    node_class: type[BanditNode] = BanditNode

    def setup(self) -> None:
        if self.options.gradient == "full" and len(self.runtime.local_agents) < len(self.problem.agents):
            raise OptionError(f"{self.spec.name} option gradient 'full' is an oracle that reads every node's "
                              "allocation, so it runs in one process; use gradient 'bandit' on MPI ranks")
        self.env = self.problem.environment(self.options.seed)
        self.local: dict[str, BanditNode] = {}

        def make(name):
            node = self.node_class(name, self.problem, self.env, self.options)
            if self.options.gradient == "full":
                node.oracle = self._oracle
            self.local[name] = node

        self.runtime.each(make)

    def _oracle(self, node: BanditNode, t: int) -> np.ndarray:
        """The true subgradient of f_i,t at node i's played point, the other nodes' executed allocations held:
        -1 / l_j,t on x_ij where j's energy falls short, else 0 (reads every node: an oracle)."""
        problem, x = self.problem, np.zeros(self.problem.n_arcs)
        for name, other in self.local.items():
            a = problem.arc_start[problem.index[name]]
            x[a: a + other.n] = node.played if other is node else other.executed
        received = problem.received(x)
        demand = self.env.demand_kw[:, t]
        js = [problem.index[j] for j in node.neighbourhood]
        return np.array([-1.0 / demand[j] if demand[j] > 0 and received[j] < demand[j] else 0.0 for j in js])

    def iterate(self, k: int) -> dict[str, float]:
        executed = self.runtime.each(lambda name: self.local[name].act(k))
        inbox = self.runtime.exchange(executed)
        satisfaction = self.runtime.each(lambda name: self.local[name].receive(k, inbox[name]))
        feedback = self.runtime.exchange(satisfaction)
        self.runtime.each(lambda name: self.local[name].learn(k, feedback[name]))
        self.decisions = executed
        steps = self.runtime.each(lambda name: np.array([self.local[name].lam, *self.local[name].step_sizes()]))
        mean = self.runtime.sum(steps) / len(self.problem.agents)
        return {"mean_dual": float(mean[0]),
                **{f"mean_{n}": float(v) for n, v in zip(self.node_class.step_names, mean[1:])}}

    def make_evaluator(self, reference):
        return _SharingEvaluator(self, reference)

    def prices(self):
        return None

    def finish(self) -> dict[str, object]:
        """The environment's seed, the comparator's facts, the decisions (for the distance to the comparator) and
        the hard-constraint violation over every round played (kW, and relative to each node's capacity): a
        sharing problem has no coupling rows, so this is what its runs violate."""
        worst = self.runtime.maximum(self.runtime.each(lambda name: np.array([
            np.nanmax(self.local[name].record[7]), np.nanmax(self.local[name].record[7]) / self.local[name].cap])))
        squares = self.runtime.sum(self.runtime.each(lambda name: np.array([
            np.nansum(self.local[name].record[7] ** 2), np.sum(np.isfinite(self.local[name].record[7]))])))
        return {"environment_seed": self.options.seed, **self.evaluator_facts,
                "decision_quantities": ["kept", "sent"],
                "violation_kpis": {"max_violation": float(worst[0]), "rel_violation": float(worst[1]),
                                   "rms_violation": float(np.sqrt(squares[0] / max(squares[1], 1.0)))}}

    def outcome(self, name: str) -> AgentOutcome:
        node = self.local[name]
        played = np.nan_to_num(node.record, nan=0.0)
        return AgentOutcome(kind=self.problem.agent(name).kind, labels=list(OUTPUT_LABELS), values=node.record,
                            cost=float(played[6].sum()), contribution=np.zeros((0, node.horizon)))


def comparator_of(result, problem) -> tuple[np.ndarray, np.ndarray] | None:
    """The comparator's loss per round (T,) and the energy each node receives (N, T), read from a centralized
    result of an online case (its dispatch: the loss is every node's shortfall over its demand, counted by its
    observers), or None."""
    if result is None or not result.has_solution:
        return None
    table = result.dispatch
    names = [a.name for a in problem.agents]

    def matrix(quantity):
        return table[table.quantity == quantity].pivot(index="agent", columns="t", values="value").loc[names].to_numpy()

    short, demand = matrix("shortfall"), matrix("demand")
    safe = np.where(demand > 0, demand, 1.0)
    losses = (problem.observers()[:, None] * np.where(demand > 0, short / safe, 0.0)).sum(axis=0)
    return losses, matrix("received")


class _SharingEvaluator:
    """The per-round metrics of the module docstring, summed over the nodes; ``cost_gap`` is the relative dynamic
    regret |sum_t loss - sum_t comparator| / sum_t comparator so far (undefined, NaN, while the comparator has lost
    nothing: at night every allocation is as good as any), ``distance`` the relative distance
    ||E_t - E*_t|| / ||E*_t|| of the energy the nodes receive to the comparator's in the round (0 when both are 0)."""

    def __init__(self, driver: BanditSharingDriver, reference):
        self.driver = driver
        problem = driver.problem
        same = reference is not None and reference.info.get("environment_seed") == driver.options.seed
        read = comparator_of(reference, problem) if same else None
        if read is None:
            sequence = comparator_sequence(problem, driver.env)
            self.comparator = sequence.losses
            self.received = np.stack([problem.received(x) for x in sequence.allocations], axis=1)
            driver.evaluator_facts = {"comparator_path_length": sequence.path_length,
                                      "comparator_solve_time_s": sequence.solve_time_s}
        else:
            self.comparator, self.received = read
            driver.evaluator_facts = {"comparator_path_length": reference.info.get("path_length")}
        self.reference_objective = float(self.comparator.sum())
        self.t = 0
        self.cumulative = np.zeros(3)

    def evaluate(self, subproblems, decisions) -> dict:
        t, runtime, local = self.t, self.driver.runtime, self.driver.local
        self.t += 1
        totals = runtime.sum(runtime.each(lambda name: np.array([
            *local[name].record[[6, 7], t],
            (local[name].record[4, t] - self.received[local[name].i, t]) ** 2, self.received[local[name].i, t] ** 2])))
        worst = runtime.maximum(runtime.each(lambda name: np.array([
            local[name].record[7, t], local[name].record[7, t] / local[name].cap])))
        self.cumulative += [totals[0], self.comparator[t], totals[1]]
        regret = self.cumulative[0] - self.cumulative[1]
        return {"objective": float(totals[0]), "max_violation": float(worst[0]), "rel_violation": float(worst[1]),
                "cost_gap": float(abs(regret) / self.cumulative[1]) if self.cumulative[1] > 0 else float("nan"),
                "distance": float(np.sqrt(totals[2] / totals[3])) if totals[3] > 0 else float(np.sqrt(totals[2])),
                "comparator_loss": float(self.comparator[t]), "cumulative_loss": float(self.cumulative[0]),
                "cumulative_comparator_loss": float(self.cumulative[1]), "dynamic_regret": float(regret),
                "regret_per_round": float(regret / (t + 1)), "violation": float(totals[1]),
                "cumulative_violation": float(self.cumulative[2])}


__all__ = ["ONLINE_COLUMNS", "ONLINE_PROGRESS", "OUTPUT_LABELS", "BanditNode", "BanditSharingDriver",
           "OnlineOptions", "comparator_of", "one_point_gradient", "proportional_adjustment",
           "shrunk_box_projection", "unit_sphere"]
