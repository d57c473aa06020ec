"""DELTA, data-driven aggregative tracking (Brumali, Carnevale, Notarstefano, "Data-Driven Distributed Optimization
via Aggregative Tracking and Deep-Learning", arXiv 2503.04668, IEEE TCNS 2026; the updates as the ECODREAM report
prints them, ALGORITHMS_WAVE2.md section 2).

Problem: :class:`~ecodec.problem.AggregativeProblem`, min_x sum_i f_i(x_i, sigma(x)), sigma(x) = (1/N) sum_i
phi_i(x_i), where agent i does **not** know f_i: it can only sample it, at one point per iteration (a user's or a
sensor's feedback).  It trains a surrogate f_hat_i(x, s; theta_i) (:mod:`ecodec.solvers.surrogates`: a neural
network by default) on its samples and uses the surrogate's input gradients where aggregative tracking uses the
true ones; the aggregate and the mean gradient are tracked by consensus exactly as in aggregative tracking.
phi_i and its Jacobian are known (they say what the agent contributes).

Per iteration k, agent i with s_i^k = w_i^k + phi_i(x_i^k) its estimate of sigma and y_i^k = z_i^k +
grad_2 f_hat_i(x_i^k, s_i^k; theta_i^k) its estimate of the mean aggregate gradient (the report's w, z in shifted
coordinates; w_i^0 = z_i^0 = 0), weights a_ij(k) doubly stochastic (Metropolis-Hastings):

    sample          d^k = (d_x, d_s),  xd = P_X(x_i^k + d_x),  measured  y_i^k = f_i(xd, s_meas + d_s)
                    s_meas = sigma(x^k) (``sample_aggregate = 'true'``: the system's response) or s_i^k ('estimate')
    learning        theta_i^k+1 = theta_i^k - gamma_theta grad_theta 1/2 ((y_i^k - f_hat_i(xd, s_i^k + d_s; theta))
                                  / cost_scale)^2                                       (sgd; adam: its moments)
    optimization    x_i^k+1 = P_X[ x_i^k - gamma_x ( grad_1 f_hat_i(x_i^k, s_i^k; theta_i^k)
                                                    + grad phi_i(x_i^k)' y_i^k ) ]
    tracking        s_i^k+1 = sum_j a_ij s_j^k + phi_i(x_i^k+1) - phi_i(x_i^k)        (one message: s, y)
                    y_i^k+1 = sum_j a_ij y_j^k + grad_2 f_hat_i(x_i^k+1, s_i^k+1; theta_i^k+1)
                                               - grad_2 f_hat_i(x_i^k, s_i^k; theta_i^k)

(the report's z-update is the last line with z = y - grad_2 f_hat).  Hence sum_i w_i^k = 0 and sum_i z_i^k = 0 at
every k (the tracking invariants, tested to 1e-10): (1/N) sum_i s_i^k = sigma(x^k) and (1/N) sum_i y_i^k is the mean
surrogate gradient.  With an exact surrogate (f_hat_i = f_i) these are the updates of aggregative tracking with
damping 1 (:mod:`ecodec.decomposition.aggregative_tracking`), iterate for iterate; the tests check it with a quadratic
surrogate fitted on exact samples of quadratic costs.  The projection P_X on the box of x is ecodec's (the report's
problem is unconstrained; the market's decisions are bounded).  The report proves linear convergence to a
neighbourhood of x* for strongly convex problems, its radius set by the surrogates' accuracy.

Choices the report does not show ``[U]``, each an option (ecodec's defaults ``[D]``): the perturbation's distribution
(``perturbation``: normal or uniform in a ball) and scale (``perturbation_scale``, relative to the half-width of each
input's box: the box of x, and for s the box the shares' bounds give sigma), the aggregate at which the sample is
measured (``sample_aggregate``), the learning and optimisation rates (``learning_rate`` gamma_theta,
``step_size`` gamma_x; the slides show one gamma), the network (``layers`` x ``width``, ``activation``), the
optimizer (``optimizer``), and ``cost_scale``.  ecodec's additions ``[D]``: ``pretrain_samples`` samples around the
start fitted before the first iteration (0: none, as in the report), and the same ``consensus_rounds`` of averaging
on s before the first step as aggregative tracking (a seller's estimate of the total bid is 0 otherwise), with its
``start_averaging`` choice (``ring-exact``: exact finite-time averaging on a ring network,
:mod:`ecodec.network.ring_averaging`).

Stopping: the :class:`~ecodec.decomposition.stopping.Tracking` rule of aggregative tracking (``step_tol``); with a
learned gradient the iterates settle in a neighbourhood and a run usually ends at its iteration limit.

History per iteration: aggregative tracking's columns, and ``consensus_error`` max_i ||s_i - sigma(x^k)||,
``learning_error`` ||grad f_hat - grad f|| / ||grad f|| over every agent at (x_i^k, s_i^k) (the true gradients are
computed for this monitoring only: the method never uses them), ``training_loss`` (the mean sample loss before the
learning step) and ``samples`` (cost evaluations so far, pre-training included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.aggregative_tracking import (HISTORY_COLUMNS, START_RULE, AggregativeTracking,
                                                       _TrackingAgent, start_averaging_option)
from ecodec.decomposition.options import TimeVaryingGraphOptions, option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Tracking
from ecodec.declarations import INTEGER, NUMBER
from ecodec.solvers.aggregative_functions import CompiledAggregativeAgent
from ecodec.solvers.surrogates import ACTIVATIONS, OPTIMIZERS, SURROGATES, Surrogate, SurrogateSpec, require_jax

METHOD = "delta"
PERTURBATIONS = ("normal", "ball")
SAMPLE_AGGREGATES = ("true", "estimate")


@dataclass(frozen=True)
class DeltaOptions(TimeVaryingGraphOptions):
    """DELTA's options (the module docstring gives each symbol)."""

    method = METHOD
    rules = (START_RULE,)
    step_size: float = option(5e-3, "x per unit of gradient", "gamma_x, the step of the optimisation update",
                              lower=0.0, lower_open=True)
    learning_rate: float = option(3e-3, "-", "gamma_theta, the step of the learning update (0 freezes the "
                                  "surrogates)", lower=0.0)
    learning_rate_decay: float | None = option(500.0, "iterations", "K of the decay gamma_theta / sqrt(1 + k / K) "
                                               "of the learning rate (none: constant)", lower=0.0, lower_open=True,
                                               optional=True, dtype=NUMBER)
    optimizer: str = option("adam", "-", "optimizer of the learning update", choices=OPTIMIZERS)
    surrogate: str = option("mlp", "-", "the surrogate: a neural network (mlp) or a quadratic in (x, s)",
                            choices=SURROGATES)
    layers: int = option(2, "layers", "hidden layers of the network", lower=1, upper=8)
    width: int = option(300, "neurons", "neurons per hidden layer", lower=1, upper=4096)
    activation: str = option("gelu", "-", "activation of the hidden layers", choices=ACTIVATIONS)
    perturbation: str = option("normal", "-", "distribution of the sample's perturbation d: normal N(0, r^2 I) or "
                               "uniform in the ball of radius r", choices=PERTURBATIONS)
    perturbation_scale: float = option(0.1, "share of each input's half-width", "r, the perturbation's scale",
                                       lower=0.0)
    sample_aggregate: str = option("true", "-", "the aggregate at which a sample is measured: the true sigma(x^k) "
                                   "(the system's response) or the agent's estimate", choices=SAMPLE_AGGREGATES)
    cost_scale: float | None = option(None, "currency", "the cost unit of the surrogate's output (none: |f_i| at the "
                                      "start, at least 1)", lower=0.0, lower_open=True, optional=True, dtype=NUMBER)
    replay: int = option(64, "samples", "the learning step trains on the last this many samples (1: the new one "
                         "only, as printed)", lower=1, upper=4096)
    pretrain_samples: int = option(0, "samples", "samples around the start fitted before the first iteration",
                                   lower=0, upper=100_000)
    pretrain_steps: int = option(500, "steps", "full-batch optimizer steps of that fit (mlp; the quadratic is "
                                 "fitted exactly)", lower=0)
    consensus_rounds: int | None = option(None, "rounds", "averaging rounds on s before the first step (none: the "
                                          "graph's diameter)", lower=0, optional=True, dtype=INTEGER)
    start_averaging: str = start_averaging_option()
    seed: int = option(0, "-", "seed of the networks' weights and of the perturbations", lower=0)
    step_tol: float = option(1e-10, "-", "stop when the relative step and both tracking errors are at most this",
                             lower=0.0, upper=1.0, lower_open=True, upper_open=True)

    def surrogate_spec(self) -> SurrogateSpec:
        return SurrogateSpec(self.surrogate, self.layers, self.width, self.activation, self.optimizer,
                             self.learning_rate, self.learning_rate_decay)


class _DeltaAgent(_TrackingAgent):
    """Agent i: x_i, s_i, y_i as in aggregative tracking, its surrogate and the surrogate's gradient at (x_i, s_i)."""

    method = METHOD

    def __init__(self, functions: CompiledAggregativeAgent, index: int, options: DeltaOptions):
        super().__init__(functions)
        self.options, self.index = options, index
        self.rng = np.random.default_rng([options.seed, index, 1])
        self.samples = 0

    def start(self, sigma_box: tuple[np.ndarray, np.ndarray]) -> None:
        """The surrogate (scaled on the boxes of x and sigma), its pre-training, y_i^0 = grad_2 f_hat_i(x^0, s^0)."""
        f, o = self.f, self.options
        low, high = np.concatenate([f.lower, sigma_box[0]]), np.concatenate([f.upper, sigma_box[1]])
        center, half = 0.5 * (low + high), 0.5 * (high - low)
        half = np.where(half > 0, half, np.maximum(np.abs(center), 1.0))
        self.half_width = half
        scale = o.cost_scale
        if scale is None:
            scale = max(abs(self._checked(lambda: f.cost(self.x, self.s), 0)), 1.0)
            self.samples += 1
        self.surrogate = Surrogate(o.surrogate_spec(), center=center, half_width=half, cost_scale=scale,
                                   seed=int(np.random.SeedSequence([o.seed, self.index]).generate_state(1)[0]))
        if o.pretrain_samples:
            points, values = [], []
            for _ in range(o.pretrain_samples):
                x, s_net, s_meas = self._perturbed(self.x, self.s, self.s)
                values.append(self._checked(lambda: f.cost(x, s_meas), 0))
                points.append(np.concatenate([x, s_net]))
            self.samples += o.pretrain_samples
            self.surrogate.fit(np.array(points), values, steps=o.pretrain_steps)
        m = self.half_width.size
        self.buffer_u, self.buffer_y = np.zeros((o.replay, m)), np.zeros(o.replay)
        self.buffer_w = np.zeros(o.replay)
        self.grad = self.surrogate.gradient(np.concatenate([self.x, self.s]))
        self.y = self.grad[f.n:].copy()

    def _perturbed(self, x, s, s_measured):
        """(P_X(x + d_x), s + d_s, s_measured + d_s) for one draw d of the perturbation."""
        o, m = self.options, self.half_width.size
        if o.perturbation == "normal":
            d = self.rng.normal(0.0, o.perturbation_scale, m)
        else:
            direction = self.rng.normal(size=m)
            d = direction / max(np.linalg.norm(direction), 1e-300) * o.perturbation_scale * self.rng.random() ** (1 / m)
        d = d * self.half_width
        n = self.f.n
        return self.f.project(x + d[:n]), s + d[n:], s_measured + d[n:]

    def delta_step(self, mixed: np.ndarray, gamma: float, sigma: np.ndarray | None, k: int) -> np.ndarray:
        """One iteration of the module docstring (``mixed``: the neighbours' weighted messages, own included);
        returns [||x^k+1 - x^k||^2, ||x^k+1||^2, sample loss, ||grad f_hat - grad f||^2, ||grad f||^2] for the
        monitoring."""
        f, n, p = self.f, self.f.n, self.s.size
        xd, s_net, s_meas = self._perturbed(self.x, self.s, self.s if sigma is None else sigma)
        measured = self._checked(lambda: f.cost(xd, s_meas), k)
        self.samples += 1
        x = f.project(self.x - gamma * (self.grad[:n] + f.shares_transpose_times(self.x, self.y)))
        phi = f.shares(x)
        s = mixed[:p] + phi - self.phi
        slot = k % self.buffer_y.size  # the replay buffer keeps the samples of the last iterations
        self.buffer_u[slot], self.buffer_y[slot], self.buffer_w[slot] = np.concatenate([xd, s_net]), measured, 1.0
        loss, grad = self.surrogate.learn_then_gradient(self.buffer_u, self.buffer_y, self.buffer_w,
                                                        np.concatenate([x, s]))
        self.y = mixed[p:] + grad[n:] - self.grad[n:]
        change = x - self.x
        self.x, self.s, self.phi, self.grad = x, s, phi, grad
        true = np.concatenate(self._checked(lambda: f.gradients(x, s), k + 1))
        return np.array([change @ change, x @ x, loss, np.sum((grad - true) ** 2), true @ true])


@register(MethodSpec(
    METHOD, "DELTA: aggregative tracking with learned gradients, each agent training a neural network on samples "
    "of its unknown cost", kinds=("aggregative",), options=DeltaOptions, stopping=(Tracking(),),
    progress=("learning_error", "consensus_error", "distance"),
    columns=(
        Column("step_size", "gamma_x, the step of the optimisation update"),
        Column("active_edges", "edges of the graph active at this iteration"),
        Column("rel_step", "relative change of the decisions ||x^k+1 - x^k|| / ||x^k||"),
        Column("tracking_error_sigma", "max_i ||s_i - sigma|| / ||sigma||"),
        Column("tracking_error_gradient", "max_i ||y_i - mean y|| / ||mean y||"),
        Column("consensus_error", "max_i ||s_i - sigma(x^k)||", label="consensus error"),
        Column("learning_error", "||grad f_hat - grad f|| / ||grad f|| over all agents", label="learning error"),
        Column("training_loss", "mean over the agents of the sample's loss before the learning step"),
        Column("samples", "cost evaluations so far, pre-training included"),
        Column("x:<agent>:<t>", "each decision", when=f"at most {HISTORY_COLUMNS} values"),
        Column("sigma:<aggregate>:<t>", "each aggregate", when=f"at most {HISTORY_COLUMNS} values"))))
class Delta(AggregativeTracking):
    """DELTA; the math is in the module docstring."""

    #: Not resumable yet: each agent's surrogate (network weights, optimiser state) and replay buffers would have to
    #: be declared, with its random generator
    state_attributes = None

    def setup(self) -> None:
        require_jax()
        index = {a.name: i for i, a in enumerate(self.problem.agents)}
        self.start_agents(lambda functions: _DeltaAgent(functions, index[functions.agent_name], self.options))
        n = len(self.problem.agents)
        bounds = self.runtime.sum(self.runtime.each(lambda name: np.concatenate(
            [self.local[name].f.share_lower, self.local[name].f.share_upper]))) / n
        p = len(self.problem.keys())
        self.runtime.each(lambda name: self.local[name].start((bounds[:p], bounds[p:])))
        #: sigma(x^k), the aggregate the system answers a sample at ('true'); each iteration's monitoring sum
        #: gives the next one
        self.sigma = self.runtime.sum(self.runtime.each(lambda name: self.local[name].phi)) / n

    def change_costs(self, problem) -> None:
        """The costs the agents sample become those of ``problem`` (the same agents and aggregates): each agent
        keeps its decisions, estimates and network.  The experiment of docs/delta.md changes the costs mid-run."""
        if [a.name for a in problem.agents] != [a.name for a in self.problem.agents]:
            raise ValueError("change_costs needs a problem with the same agents in the same order")

        def swap(name):
            functions = CompiledAggregativeAgent(problem, name)
            self.subproblems[name] = functions
            self.local[name].f = functions

        self.runtime.each(swap)
        self.problem = problem

    def iterate(self, k: int) -> dict[str, float]:
        graph = self.active_graph(k)
        gamma, n, p = self.options.step_size, len(self.problem.agents), len(self.problem.keys())
        sigma = self.sigma if self.options.sample_aggregate == "true" else None
        mixed = self.runtime.mix(self.runtime.each(lambda name: self.local[name].message()), graph)
        stats = self.runtime.each(lambda name: self.local[name].delta_step(mixed[name], gamma, sigma, k))
        self.decisions = {name: agent.x for name, agent in self.local.items()}
        totals = self.runtime.sum(self.runtime.each(lambda name: np.concatenate([
            stats[name], self.local[name].phi, self.local[name].y, [self.local[name].samples]])))
        self.sigma, mean_y = totals[5: 5 + p] / n, totals[5 + p: 5 + 2 * p] / n
        record, errors = self.tracking_record(graph, gamma, totals[0], totals[1], self.sigma, mean_y)
        record.update({"consensus_error": float(errors[0]),
                       "learning_error": float(np.sqrt(totals[3] / max(totals[4], 1e-300))),
                       "training_loss": float(totals[2] / n), "samples": float(totals[-1])})
        return record


__all__ = ["Delta", "DeltaOptions"]
