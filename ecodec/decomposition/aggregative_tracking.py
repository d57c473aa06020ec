"""Projected aggregative tracking (Carnevale, Camisa, Notarstefano; ECODREAM final report; ALGORITHMS.md section 7):
fully distributed gradient method for aggregative problems (:class:`~ecodec.problem.AggregativeProblem`).

    min_x  sum_i f_i(x_i, sigma(x))   s.t.  x_i in X_i (a box),     sigma(x) = (1/N) sum_i phi_i(x_i)

The gradient of the total cost in x_i is  grad_1 f_i(x_i, sigma) + grad phi_i(x_i)' (1/N) sum_j grad_2 f_j(x_j, sigma):
agent i needs sigma and the mean aggregate gradient, which it does not know; it tracks them with s_i and y_i
(dynamic average consensus).  Per iteration k, agent i, with the consensus weights a_ij(k) (Metropolis-Hastings
over the graph active at k, self included; doubly stochastic):

    xt_i     = P_Xi[ x_i^k - gamma ( grad_1 f_i(x_i^k, s_i^k) + grad phi_i(x_i^k)' y_i^k ) ]
    x_i^k+1  = x_i^k + delta (xt_i - x_i^k)
    s_i^k+1  = sum_j a_ij(k) s_j^k + phi_i(x_i^k+1) - phi_i(x_i^k)                         (one message: s, y)
    y_i^k+1  = sum_j a_ij(k) y_j^k + grad_2 f_i(x_i^k+1, s_i^k+1) - grad_2 f_i(x_i^k, s_i^k)

Because the weights are doubly stochastic, (1/N) sum_i s_i^k = sigma(x^k) and (1/N) sum_i y_i^k =
(1/N) sum_i grad_2 f_i(x_i^k, s_i^k) at every k (the tracking invariants, checked by the tests); at a fixed point
every s_i equals sigma, every y_i the mean gradient, and x is a stationary point of the problem.

Initialisation: x_i^0 the agent's own start (the model's initial values: the middle of a buyer's bid range, half a
seller's excess), s_i^0 = phi_i(x_i^0), y_i^0 = grad_2 f_i(x_i^0, s_i^0) as in the reference, **after**
``consensus_rounds`` rounds of pure averaging of s over every edge of the network (s_i <- sum_j a_ij s_j, which
keeps the mean, so the invariants hold).  Why: a seller's share of the total bid is zero, so with s_i^0 = phi_i
its estimate of the total bid is 0 and the sharing rule, which divides by it, is undefined at the start.  After
as many rounds as the graph's diameter (the default) every estimate mixes every agent's share with a positive
weight (the weights keep a positive self weight).  An estimate where a cost is undefined later on (too large a
step) stops the run with a message naming the agent and the iteration.

On a ring network ``start_averaging = 'ring-exact'`` replaces those rounds by finite-time exact averaging
(:mod:`ecodec.network.ring_averaging`, arc-sum gossip, a schedule designed for ecodec [D]): each round one matching
of ring edges talks, one scalar per coordinate of s per direction, and after n rounds (m = 2n agents; measured
floor(3n/2) + 1 for m = 2n + 1 >= 5) every s_i^0 equals sigma(x^0) exactly, so the tracking errors start at rounding
level.  On a network that is not one cycle through every agent this choice is refused.

Stopping: the iteration is a fixed-point method whose answer is a stationary point, not a cost level, so it declares
its own rule (:class:`~ecodec.decomposition.stopping.Tracking`) instead of the cost gap of the shared loop: it
stops when the relative change of the decisions  ||x^k+1 - x^k|| / ||x^k||, the relative tracking error of the
aggregates  max_i ||s_i - sigma|| / ||sigma||  and that of their gradient  max_i ||y_i - mean y|| / ||mean y||  are
all at or below ``step_tol``.
(With a linear rate rho the distance to the fixed point is about step / (1 - rho); the default 1e-10 leaves room
for rho up to 0.999 at 1e-7.)  All three are needed: a too large step was measured to park every seller at w = 0
with the estimates s agreeing, the decisions still, and only y, the gradient estimate, still wrong.

=========  ======================  ==================================================================================
symbol     option                  meaning
=========  ======================  ==================================================================================
gamma      ``step_size``           step of the projected gradient (> 0), in the units of x per unit of gradient
delta      ``damping``             share of the step taken, in (0, 1]
           ``start_averaging``     ``mixing`` (the rounds above) or ``ring-exact`` (exact in finite time, rings)
           ``consensus_rounds``    averaging rounds on s before the first step (None: the graph's diameter)
           ``step_tol``            the stopping rule above
a_ij(k)    ``graph`` and options   fixed, random or periodic graphs (:mod:`ecodec.network.time_varying`)
=========  ======================  ==================================================================================

The step that converges depends on the case: the sharing rule makes grad_2 f stiff in the total bid, and a step
that is stable with exact aggregates can make the tracked estimates oscillate (docs/market.md gives the
measurements on the shipped market cases and the step each of them uses).

History per iteration: ``rel_step`` (the relative change above), ``tracking_error_sigma`` and
``tracking_error_gradient`` (max_i ||y_i - mean y|| / max(||mean y||, 1e-12)), and, when the case is small enough
(at most ``HISTORY_COLUMNS`` values), each decision ``x:<agent>:<t>`` and each aggregate ``sigma:<name>:<t>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.neighbour_driver import NeighbourDriver
from ecodec.decomposition.options import OptionError, TimeVaryingGraphOptions, option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Tracking
from ecodec.declarations import INTEGER, Rule
from ecodec.errors import NetworkError, SolveError
from ecodec.network.ring_averaging import RingAveraging
from ecodec.results import kpi
from ecodec.results.run_result import AgentOutcome
from ecodec.solvers.aggregative_functions import CompiledAggregativeAgent

METHOD = "aggregative-tracking"
#: Decisions and aggregates are recorded per iteration when there are at most this many of them
HISTORY_COLUMNS = 200
START_AVERAGING = ("mixing", "ring-exact")
#: consensus_rounds counts the rounds of 'mixing'; the ring fixes those of 'ring-exact'
START_RULE = Rule(("consensus_rounds", "start_averaging"),
                  lambda v: v["start_averaging"] == "mixing" or v["consensus_rounds"] is None,
                  "none with start_averaging 'ring-exact' (the ring fixes its rounds)")


def start_averaging_option():
    """The ``start_averaging`` option: how s is averaged before the first step (module docstring)."""
    return option("mixing", "-", "averaging of s before the first step: consensus_rounds rounds of mixing over "
                  "every edge, or exact finite-time averaging on a ring network", choices=START_AVERAGING)


@dataclass(frozen=True)
class AggregativeTrackingOptions(TimeVaryingGraphOptions):
    """Projected aggregative tracking: ``step_size`` gamma (> 0), ``damping`` delta in (0, 1],
    ``start_averaging``, ``consensus_rounds`` (None: the graph's diameter), ``step_tol`` (stopping), and the graph
    options."""

    method = METHOD
    rules = (START_RULE,)
    step_size: float = option(1e-3, "x per unit of gradient", "gamma, the step of the projected gradient",
                              lower=0.0, lower_open=True)
    damping: float = option(1.0, "-", "delta, the share of the step taken", lower=0.0, upper=1.0, lower_open=True)
    consensus_rounds: int | None = option(None, "rounds", "averaging rounds on s before the first step (none: the "
                                          "graph's diameter)", lower=0, optional=True, dtype=INTEGER)
    start_averaging: str = start_averaging_option()
    step_tol: float = option(1e-10, "-", "stop when the relative step and both tracking errors are at most this",
                             lower=0.0, upper=1.0, lower_open=True, upper_open=True)


class _TrackingAgent:
    """Agent i: its compiled functions and its state x_i, s_i, y_i, with its share phi_i(x_i) and both gradients of
    f_i at (x_i, s_i) kept from the iteration that computed them (each is evaluated once per iteration)."""

    state_attributes = ("x", "phi", "s", "y", "grad_1", "grad_2")  # what a checkpoint keeps

    def __init__(self, functions: CompiledAggregativeAgent):
        self.f = functions
        self.x = functions.x0.copy()
        self.phi = functions.shares(self.x)
        self.s = self.phi.copy()
        self.y = np.zeros_like(self.s)

    def start_gradient(self) -> None:
        """y_i^0 = grad_2 f_i(x_i^0, s_i^0), once s has been averaged."""
        self.grad_1, self.grad_2 = self._checked(lambda: self.f.gradients(self.x, self.s), 0)
        self.y = self.grad_2.copy()

    def message(self) -> np.ndarray:
        return np.concatenate([self.s, self.y])

    def step(self, mixed: np.ndarray, gamma: float, delta: float, k: int) -> np.ndarray:
        """One iteration of the module docstring (``mixed``: the neighbours' weighted messages, own included);
        returns the change of x."""
        f, p = self.f, self.s.size
        target = f.project(self.x - gamma * (self.grad_1 + f.shares_transpose_times(self.x, self.y)))
        x = self.x + delta * (target - self.x)
        phi = f.shares(x)
        s = mixed[:p] + phi - self.phi
        grad_1, grad_2 = self._checked(lambda: f.gradients(x, s), k + 1)
        self.y = mixed[p:] + grad_2 - self.grad_2
        change = x - self.x
        self.x, self.s, self.phi, self.grad_1, self.grad_2 = x, s, phi, grad_1, grad_2
        return change

    def _checked(self, evaluate, k: int):
        try:
            with np.errstate(all="raise"):
                value = evaluate()
        except (ZeroDivisionError, ValueError, OverflowError, FloatingPointError):
            value = None
        if value is None or not np.all(np.isfinite(np.concatenate([np.atleast_1d(v) for v in value])
                                                   if isinstance(value, tuple) else value)):
            raise SolveError(f"{self.method}: agent '{self.f.agent_name}' ({self.f.kind}) cannot evaluate its "
                             f"cost at its estimate of the aggregates at iteration {k} (s = "
                             f"{np.array2string(self.s, precision=4)}); a smaller step_size keeps the estimates closer "
                             f"to the aggregates")
        return value


@register(MethodSpec(
    METHOD, "projected aggregative tracking: a fully distributed gradient method for markets, each agent tracking "
    "the aggregates and their gradient by consensus", kinds=("aggregative",), default_for=("aggregative",),
    options=AggregativeTrackingOptions, stopping=(Tracking(),), progress=("tracking_error_sigma", "cost_gap", "distance"),
    columns=(
        Column("step_size", "gamma, the step of the projected gradient"),
        Column("active_edges", "edges of the graph active at this iteration"),
        Column("rel_step", "relative change of the decisions ||x^k+1 - x^k|| / ||x^k||"),
        Column("tracking_error_sigma", "max_i ||s_i - sigma|| / ||sigma||", label="tracking error"),
        Column("tracking_error_gradient", "max_i ||y_i - mean y|| / ||mean y||"),
        Column("x:<agent>:<t>", "each decision", when=f"at most {HISTORY_COLUMNS} values"),
        Column("sigma:<aggregate>:<t>", "each aggregate", when=f"at most {HISTORY_COLUMNS} values"))))
class AggregativeTracking(NeighbourDriver):
    """Projected aggregative tracking; the math is in the module docstring."""

    state_attributes = ("broken_windows",)

    def setup(self) -> None:
        self.start_agents(_TrackingAgent)
        self.runtime.each(lambda name: self.local[name].start_gradient())

    def start_agents(self, make_agent) -> None:
        """Compile every agent's functions, make its state with ``make_agent(functions)``, and average the
        estimates s as ``start_averaging`` says (the start of the module docstring)."""
        self.start_schedule()
        self.local = {}

        def compile_one(name):
            functions = CompiledAggregativeAgent(self.problem, name)
            self.subproblems[name] = functions
            self.local[name] = make_agent(functions)

        self.runtime.each(compile_one)
        n = len(self.problem.agents)
        network = self.runtime.network
        if self.options.start_averaging == "ring-exact":
            rounds = self.ring_exact_start()
        else:
            rounds = network.diameter if self.options.consensus_rounds is None else self.options.consensus_rounds
            every_edge = self.schedule.base
            for _ in range(rounds):
                mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].s), every_edge)
                for name, s in mixed.items():
                    self.local[name].s = s
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        self.rounds = rounds
        self.record_values = n * self.problem.grid.T + len(self.problem.keys()) <= HISTORY_COLUMNS

    def ring_exact_start(self) -> int:
        """Replace every s_i by the exact mean by ring averaging, its rounds' matchings sent through the runtime;
        returns the number of rounds."""
        try:
            ring = RingAveraging.from_network(self.runtime.network)
        except NetworkError as exc:
            raise OptionError(f"{self.options.method} option start_averaging 'ring-exact' needs a ring network: "
                              f"{exc}; use start_averaging 'mixing'") from None
        states = self.runtime.each(lambda name: ring.start(self.local[name].s))
        for r in range(ring.n_rounds):
            graph = ring.active_graph(r)
            inbox = self.runtime.exchange(self.runtime.each(lambda name: ring.message(r, name, states[name])), graph)
            self.runtime.each(lambda name: ring.receive(r, name, states[name], inbox[name]))
        for name, state in states.items():
            self.local[name].s = ring.result(state)
        return ring.n_rounds

    def make_evaluator(self, reference):
        return _AggregativeEvaluator(self.problem, self.runtime, reference)

    def prices(self):
        return None

    def iterate(self, k: int) -> dict[str, float]:
        graph = self.active_graph(k)
        gamma, delta = self.options.step_size, self.options.damping
        mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].message()), graph)
        changes = self.runtime.each(lambda name: self.local[name].step(mixed[name], gamma, delta, k))
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        n, p = len(self.problem.agents), len(self.problem.keys())
        totals = self.runtime.sum(self.runtime.each(lambda name: np.concatenate([
            [np.sum(changes[name] ** 2), np.sum(self.local[name].x ** 2)], self.local[name].s, self.local[name].y])))
        sigma, mean_y = totals[2: 2 + p] / n, totals[2 + p:] / n
        return self.tracking_record(graph, gamma, totals[0], totals[1], sigma, mean_y)[0]

    def tracking_record(self, graph, gamma: float, change_sq: float, x_sq: float, sigma: np.ndarray,
                        mean_y: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """The history record of the module docstring from ||x^k+1 - x^k||^2, ||x^k+1||^2, sigma and the mean of y;
        also returns [max_i ||s_i - sigma||, max_i ||y_i - mean y||]."""
        errors = self.runtime.maximum(self.runtime.each(lambda name: np.array([
            np.linalg.norm(self.local[name].s - sigma), np.linalg.norm(self.local[name].y - mean_y)])))
        record = {"step_size": gamma, "active_edges": float(graph.n_edges),
                  "rel_step": float(np.sqrt(change_sq / max(x_sq, 1e-300))),
                  "tracking_error_sigma": float(errors[0] / max(np.linalg.norm(sigma), 1e-12)),
                  "tracking_error_gradient": float(errors[1] / max(np.linalg.norm(mean_y), 1e-12))}
        if self.record_values:
            decisions = self.runtime.gather(self.runtime.each(lambda name: self.local[name].x))
            for name, x in decisions.items():
                record.update({f"x:{name}:{j + 1}": float(v) for j, v in enumerate(x)})
            record.update({f"sigma:{key}:{t + 1}": float(v) for (key, t), v in zip(self.problem.keys(), sigma)})
        return record, errors

    def finish(self) -> dict[str, object]:
        n = len(self.problem.agents)
        self.sigma = self.runtime.sum(self.runtime.each(lambda name: self.subproblems[name].shares(
            self.local[name].x))) / n
        named = self.runtime.gather(self.runtime.each(lambda name: self.subproblems[name].decision_quantities))
        decisions = sorted({q for quantities in named.values() for q in quantities})
        return {"consensus_rounds": self.rounds, "decision_quantities": decisions, **self.graph_facts()}

    def outcome(self, name: str) -> AgentOutcome:
        """Agent ``name``'s reported quantities and cost at the true aggregates sigma(x)."""
        f, x = self.subproblems[name], self.local[name].x
        return AgentOutcome(kind=f.kind, labels=f.labels, values=f.output_values(x, self.sigma),
                            cost=f.cost(x, self.sigma), contribution=np.zeros((0, f.T)))


class _AggregativeEvaluator:
    """Total cost sum_i f_i(x_i, sigma(x)) at the true aggregates, and the relative distance of the decisions to
    the reference's; there is no coupling row, so the violation is zero."""

    def __init__(self, problem, runtime, reference):
        self.problem, self.runtime, self.reference = problem, runtime, reference
        self.reference_objective = reference.objective if reference is not None and reference.has_solution else None
        self._reference: dict[str, np.ndarray] = {}

    def _reference_decisions(self, f: CompiledAggregativeAgent) -> np.ndarray:
        if f.agent_name not in self._reference:
            self._reference[f.agent_name] = kpi.agent_output_matrix(self.reference.dispatch, f.agent_name,
                                                                    f.decision_quantities, f.T)
        return self._reference[f.agent_name]

    def evaluate(self, subproblems: dict[str, CompiledAggregativeAgent], decisions: dict[str, np.ndarray]) -> dict:
        n = len(self.problem.agents)
        sigma = self.runtime.sum(self.runtime.each(lambda name: subproblems[name].shares(decisions[name]))) / n

        def local(name):
            f, x = subproblems[name], decisions[name]
            dist = (0.0, 0.0)
            if self.reference_objective is not None:
                ref = self._reference_decisions(f)
                dist = (float(np.sum((f.decision_values(x) - ref) ** 2)), float(np.sum(ref ** 2)))
            return np.array([f.cost(x, sigma), *dist])

        total = self.runtime.sum(self.runtime.each(local))
        record = {"objective": float(total[0]), "max_violation": 0.0, "rel_violation": 0.0}
        if self.reference_objective is not None:
            record["cost_gap"] = kpi.relative_cost_gap(record["objective"], self.reference_objective)
            record["distance"] = float(np.sqrt(total[1] / total[2])) if total[2] > 0 else float(np.sqrt(total[1]))
        return record


__all__ = ["AggregativeTracking", "AggregativeTrackingOptions"]
