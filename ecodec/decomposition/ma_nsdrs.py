"""MA-NSDRS: DRS with a meta-learner over a pool of step sizes, for non-stationary environments (Cheng, Tsetis,
Maghsudi, arXiv 2405.19015, Algorithm 2), and ``ma-nsdrs-na``, the same without the adjustment (11).

The best primal step of DRS depends on the comparator's path length P_T, which no node knows.  MA-NSDRS runs one
expert per candidate step and combines them with Hedge; ALGORITHMS_WAVE2.md section 1.4 gives the pieces, taken
from the unconstrained parameter-free bandit gradient descent (PBGD) of Zhao et al. as published in PyNOL
(``[V: PyNOL]``), grafted onto DRS's dual step (a reconstruction, ``[R]``).  Node i, horizon T, its scales
R_i = sqrt(n_i) xbar_i / 2, r_i = xbar_i / 2, C_i = n_i (the loss bound):

    delta = min(r_i / 2, delta_0 sqrt(n_i) R_i T^-1/4),  xi = delta / r_i,  G = n_i C_i / delta,  D = 2 R_i
    eta_min = R_i sqrt(7 R_i^2) / (sqrt(n_i) C_i T^3/4)
    eta_max = R_i sqrt(7 R_i^2 + 2 R_i^2 T) / (sqrt(n_i) C_i T^3/4)
    pool    eta_k = 2^(k-1) eta_min,  k = 1..K,  K = floor(log2 sqrt(1 + 2T/7)) + 2       (doubling grid (25))
    prior   w_1,k = (K + 1) / (K k (k + 1))                                                 (non-uniform, sums to 1)

Per round t:

    y_t = sum_k w_t,k y_t^k;   u_t uniform on the unit sphere;   x_t = y_t + delta u_t     (played; in X_i)
    execute x_t, or xt_t of (11) with ``adjustment``; observe f_t
    ghat_t = (n_i / delta) f_t u_t;     grad_t = ghat_t + lambda_t 1                      (dual term: [R])
    meta loss of expert k:   l_t,k = <s_t, y_t^k - y_t>,   s_t = grad_t (``meta_surrogate = lagrangian``)
                                                           or ghat_t (``loss``, PyNOL's unconstrained form)
    w_t+1,k proportional to w_t,k exp(-eps_t l_t,k),   eps_t = 2 / (G D sqrt(t))             (Hedge)
    y_t+1^k = P_{(1 - xi) X_i}( y_t^k - eta_k grad_t )                                       (every expert)
    lambda_t+1 = [ lambda_t + beta_t ( g_t(y_t) - theta_t lambda_t ) ]_+                    (DRS's (10), at y_t)

One function value per round serves every expert (they are never evaluated separately); the meta-learner only
changes the primal step (the paper's Corollary 4), so the dual step and its options are DRS's
(:mod:`ecodec.decomposition.drs`).  Storage and work per round grow with K (the paper's Remark 3): K n_i numbers.
The experts start at one point y_1 drawn uniformly in (1 - xi) X_i.

=============  ======================  =======================================================================
symbol         option                  meaning
=============  ======================  =======================================================================
delta_0        ``smoothing``           the smoothing radius's factor (default 0.2; 1: PyNOL's)
eta scale      ``step_scale``          every eta_k multiplied by this (1: PyNOL's pool)
s_t            ``meta_surrogate``      'lagrangian' (grad_t) or 'loss' (ghat_t) in the experts' meta losses
beta, theta    ``dual_step`` ...       as in DRS: beta_0 C_i / xbar_i^2 tau^-dual_decay, theta_0 xbar_i^2 / C_i
                                       tau^-regularizer_decay, tau = t
=============  ======================  =======================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.bandit_sharing import (ONLINE_COLUMNS, ONLINE_PROGRESS, BanditNode, BanditSharingDriver,
                                                 OnlineOptions, shrunk_box_projection)
from ecodec.decomposition.options import option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Horizon

METHOD = "ma-nsdrs"


def pool_size(horizon: int) -> int:
    """K = floor(log2 sqrt(1 + 2T/7)) + 2, the number of step sizes of the pool.

    >>> pool_size(1000), pool_size(8760)
    (6, 7)
    """
    return int(math.floor(math.log2(math.sqrt(1.0 + 2.0 * horizon / 7.0)))) + 2


def nonuniform_prior(k: int) -> np.ndarray:
    """w_1,k = (K + 1) / (K k (k + 1)), k = 1..K.

    >>> nonuniform_prior(3).round(4).tolist(), float(nonuniform_prior(7).sum())
    ([0.6667, 0.2222, 0.1111], 1.0)
    """
    ks = np.arange(1, k + 1)
    return (k + 1) / (k * ks * (ks + 1))


def hedge_update(weights: np.ndarray, losses: np.ndarray, rate: float) -> np.ndarray:
    """w_k exp(-rate l_k), normalised (computed from the smallest loss, so it cannot overflow).

    >>> hedge_update(np.array([0.5, 0.5]), np.array([0.0, np.log(3.0)]), 1.0).round(4).tolist()
    [0.75, 0.25]
    """
    scaled = weights * np.exp(-rate * (losses - np.min(losses)))
    return scaled / scaled.sum()


@dataclass(frozen=True)
class MaNsdrsOptions(OnlineOptions):
    """MA-NSDRS's options (module docstring), besides ``seed``, ``adjustment`` and ``gradient``."""

    method = METHOD
    smoothing: float = option(0.2, "-", "delta_0 of the smoothing radius delta = min(r_i / 2, delta_0 sqrt(n_i) R_i "
                              "T^-1/4) (1: PyNOL's)", lower=0.0, lower_open=True)
    step_scale: float = option(1.0, "-", "every step of the pool multiplied by this (1: PyNOL's pool)", lower=0.0,
                               lower_open=True)
    meta_surrogate: str = option("lagrangian", "-", "the gradient in the experts' linear meta losses: 'lagrangian' "
                                 "(the estimate plus lambda) or 'loss' (the estimate alone)",
                                 choices=("lagrangian", "loss"))
    dual_step: float = option(1.0, "-", "beta_0 of the dual step, as in DRS", lower=0.0, lower_open=True)
    dual_decay: float = option(0.25, "-", "exponent of t in beta_t", lower=0.0, upper=1.0)
    regularizer: float = option(1.0, "-", "theta_0 of the dual regularizer, as in DRS", lower=0.0)
    regularizer_decay: float = option(0.25, "-", "exponent of t in theta_t", lower=0.0, upper=1.0)


class MaNsdrsNode(BanditNode):
    """Node i of MA-NSDRS: K experts y^k, their Hedge weights, lambda_i."""

    def __init__(self, name, problem, env, options: MaNsdrsOptions):
        super().__init__(name, problem, env, options)
        T, n, R, C = self.horizon, self.n, self.R, self.C
        bandit = options.gradient == "bandit"
        self.delta = min(self.r / 2.0, options.smoothing * math.sqrt(n) * R * T ** -0.25) if bandit else 0.0
        self.xi = self.delta / self.r
        self.G = n * C / self.delta if self.delta > 0 else n * C / self.r
        self.D = 2.0 * R
        eta_min = R * math.sqrt(7.0 * R ** 2) / (math.sqrt(n) * C * T ** 0.75)
        self.K = pool_size(T)
        self.etas = options.step_scale * eta_min * 2.0 ** np.arange(self.K)
        self.weights = nonuniform_prior(self.K)
        start = self.cap / 2.0 + (1.0 - self.xi) * (self.rng.uniform(0.0, self.cap, n) - self.cap / 2.0)
        self.experts = np.tile(start, (self.K, 1))
        self.u, self.y = None, start.copy()

    def decide(self, t: int) -> np.ndarray:
        self.y = self.weights @ self.experts
        return self.perturbed(self.y, self.delta)

    def update(self, t: int, loss: float, g_played: float) -> None:
        o = self.options
        estimate = self.gradient_estimate(loss, self.u, self.delta, t)
        grad = estimate + self.lam
        surrogate = grad if o.meta_surrogate == "lagrangian" else estimate
        meta_losses = (self.experts - self.y) @ surrogate
        self.weights = hedge_update(self.weights, meta_losses, 2.0 / (self.G * self.D * math.sqrt(t + 1)))
        self.experts = shrunk_box_projection(self.experts - self.etas[:, None] * grad, self.cap, self.xi)
        beta = o.dual_step * self.C / self.cap ** 2 * (t + 1) ** -o.dual_decay
        theta = o.regularizer * self.cap ** 2 / self.C * (t + 1) ** -o.regularizer_decay
        g = float(np.sum(self.y)) - float(self.generation[t])
        self.lam = max(0.0, self.lam + beta * (g - theta * self.lam))

    step_names = ("step",)

    def step_sizes(self) -> tuple[float, ...]:
        return (float(self.weights @ self.etas),)


@register(MethodSpec(
    METHOD, "DRS with a Hedge meta-learner over a doubling pool of step sizes (experts), for environments whose best "
    "allocation drifts; with the adjustment (11)", kinds=("online-sharing",), options=MaNsdrsOptions,
    stopping=(Horizon(),), progress=ONLINE_PROGRESS,
    columns=(*ONLINE_COLUMNS, Column("mean_step", "mean over the nodes of the Hedge-weighted step sum_k w_k eta_k"))))
class MaNsdrs(BanditSharingDriver):
    """MA-NSDRS; the math is in the module docstring."""

    node_class = MaNsdrsNode


register(MaNsdrs.spec.variant("ma-nsdrs-na", "ma-nsdrs without the adjustment (11): the played allocation is "
                              "executed", adjustment=False))

__all__ = ["MaNsdrs", "MaNsdrsNode", "MaNsdrsOptions", "hedge_update", "nonuniform_prior", "pool_size"]
