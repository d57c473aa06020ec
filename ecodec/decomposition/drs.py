"""DRS: distributed resource sharing under bandit feedback (Cheng, Tsetis, Maghsudi, arXiv 2405.19015, Algorithm 1),
and ``drs-na``, the same without the adjustment (11).

The paper's formulas were stripped from the available text; what follows is ecodec's labelled reconstruction
(ALGORITHMS_WAVE2.md section 1.3), built as written, every unverified choice an option.  The round, the messages,
the geometry and the estimator are those of :mod:`ecodec.decomposition.bandit_sharing`.  Node i keeps a point y_i
and a dual variable lambda_i >= 0 of its hard constraint g_i(x) = sum_j x_ij - d_i <= 0; on the regularized
Lagrangian (12)  L_t(y, lambda) = f_t(y) + lambda g_t(y) - (theta_t / 2) lambda^2, per round t:

    (9)   u_t uniform on the unit sphere of R^{n_i};   x_t = y_t + delta_t u_t             (played; in X_i)
          execute x_t, or xt_t of (11) with ``adjustment``; observe f_t from the neighbours' satisfactions
    (17)  ghat_t = (n_i / delta_t) f_t u_t
    (18)  grad_t = ghat_t + lambda_t 1                                                       (grad g = 1)
    (8)   y_t+1 = P_{(1 - xi_t) X_i}( y_t - alpha_t grad_t ),   xi_t = delta_t / r_i
    (10)  lambda_t+1 = [ lambda_t + beta_t ( g_t(y_t) - theta_t lambda_t ) ]_+             (exact constraint value)

The adjustment changes only what is executed: y is not moved by it.  Initialisation: y_1 uniform in
(1 - xi_1) X_i; lambda_1 = 0, or uniform in [0, lambda_bar] (the paper draws both "randomly").

Steps (``[D]``: the paper's exponents were not visible; the standard one-point scaling under which bandit
gradient descent has O(T^3/4) rates), with tau = t (``schedule = anytime``) or T (``horizon``), and node i's scales
(R_i = sqrt(n_i) xbar_i / 2, r_i = xbar_i / 2, C_i = n_i, the loss bound):

=============  =======================  ===========================================================================
symbol         option                   value
=============  =======================  ===========================================================================
alpha_t        ``step_size``            alpha_0 R_i^2 / (sqrt(n_i) C_i) tau^-``step_decay``  (kW^2 per unit of loss)
delta_t        ``smoothing``            min(r_i / 2, delta_0 sqrt(n_i) R_i tau^-``smoothing_decay``)  (kW)
beta_t         ``dual_step``            beta_0 C_i / xbar_i^2 tau^-``dual_decay``  (loss per kW^2)
theta_t        ``regularizer``          theta_0 xbar_i^2 / C_i tau^-``regularizer_decay``  (kW^2 per unit of loss)
lambda_bar     ``initial_dual``         lambda_1 uniform in [0, initial_dual C_i / xbar_i] (0: lambda_1 = 0)
g in (10)      ``dual_constraint_at``   'point': g_t(y_t), as the text reads (10); 'played': g_t(x_t)
=============  =======================  ===========================================================================

Storage and work per round are those of y and lambda alone (the paper's Remark 3): O(n_i).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.bandit_sharing import (ONLINE_COLUMNS, ONLINE_PROGRESS, BanditNode, BanditSharingDriver,
                                                 OnlineOptions, shrunk_box_projection)
from ecodec.decomposition.options import option
from ecodec.decomposition.registry import Column, MethodSpec, register
from ecodec.decomposition.stopping import Horizon

METHOD = "drs"
SCHEDULES = ("anytime", "horizon")


@dataclass(frozen=True)
class DRSOptions(OnlineOptions):
    """DRS's options (module docstring), besides ``seed``, ``adjustment`` and ``gradient``."""

    method = METHOD
    step_size: float = option(1.0, "-", "alpha_0 of the primal step alpha_t (relative to node i's R_i^2 / (sqrt(n_i) "
                              "C_i))", lower=0.0, lower_open=True)
    step_decay: float = option(0.75, "-", "exponent of tau in alpha_t", lower=0.0, upper=1.0)
    smoothing: float = option(0.2, "-", "delta_0 of the smoothing radius delta_t (relative to sqrt(n_i) R_i; "
                              "capped at r_i / 2)", lower=0.0, lower_open=True)
    smoothing_decay: float = option(0.25, "-", "exponent of tau in delta_t", lower=0.0, upper=1.0)
    dual_step: float = option(1.0, "-", "beta_0 of the dual step beta_t (relative to C_i / xbar_i^2)", lower=0.0,
                              lower_open=True)
    dual_decay: float = option(0.25, "-", "exponent of tau in beta_t", lower=0.0, upper=1.0)
    regularizer: float = option(1.0, "-", "theta_0 of the dual regularizer theta_t (relative to xbar_i^2 / C_i)",
                                lower=0.0)
    regularizer_decay: float = option(0.25, "-", "exponent of tau in theta_t", lower=0.0, upper=1.0)
    schedule: str = option("anytime", "-", "anytime: tau = t (the round); horizon: tau = T (constant steps fitted "
                           "to the case's horizon)", choices=SCHEDULES)
    initial_dual: float = option(0.0, "-", "lambda_1 is drawn uniformly in [0, initial_dual C_i / xbar_i] (0: "
                                 "lambda_1 = 0)", lower=0.0)
    dual_constraint_at: str = option("point", "-", "where (10) evaluates the constraint: 'point' g(y_t) or "
                                     "'played' g(x_t)", choices=("point", "played"))


class DRSNode(BanditNode):
    """Node i of DRS: y_i, lambda_i and the steps of the module docstring."""

    def __init__(self, name, problem, env, options: DRSOptions):
        super().__init__(name, problem, env, options)
        xi = self.delta(0) / self.r if options.gradient == "bandit" else 0.0
        box = self.rng.uniform(0.0, self.cap, self.n)
        self.y = self.cap / 2.0 + (1.0 - xi) * (box - self.cap / 2.0)
        top = options.initial_dual * self.C / self.cap
        self.lam = float(self.rng.uniform(0.0, top)) if options.initial_dual else 0.0
        self.u, self.delta_t, self._steps = None, 0.0, (0.0, 0.0)

    def tau(self, t: int) -> float:
        return float(self.horizon if self.options.schedule == "horizon" else t + 1)

    def delta(self, t: int) -> float:
        o = self.options
        return min(self.r / 2.0, o.smoothing * np.sqrt(self.n) * self.R * self.tau(t) ** -o.smoothing_decay)

    def decide(self, t: int) -> np.ndarray:
        self.delta_t = self.delta(t) if self.oracle is None else 0.0
        return self.perturbed(self.y, self.delta_t)

    def update(self, t: int, loss: float, g_played: float) -> None:
        o, tau = self.options, self.tau(t)
        alpha = o.step_size * self.R ** 2 / (np.sqrt(self.n) * self.C) * tau ** -o.step_decay
        beta = o.dual_step * self.C / self.cap ** 2 * tau ** -o.dual_decay
        theta = o.regularizer * self.cap ** 2 / self.C * tau ** -o.regularizer_decay
        grad = self.gradient_estimate(loss, self.u, self.delta_t, t) + self.lam
        g = g_played if o.dual_constraint_at == "played" else float(np.sum(self.y)) - float(self.generation[t])
        self.y = shrunk_box_projection(self.y - alpha * grad, self.cap, self.delta_t / self.r)
        self.lam = max(0.0, self.lam + beta * (g - theta * self.lam))
        self._steps = (alpha, self.delta_t)

    step_names = ("alpha", "delta")

    def step_sizes(self) -> tuple[float, ...]:
        return self._steps


@register(MethodSpec(
    METHOD, "distributed resource sharing under bandit feedback: each node learns how much to keep and send from "
    "its neighbours' satisfaction alone, with a dual step on its hard constraint and the adjustment (11)",
    kinds=("online-sharing",), default_for=("online-sharing",), options=DRSOptions, stopping=(Horizon(),),
    progress=ONLINE_PROGRESS,
    columns=(*ONLINE_COLUMNS, Column("mean_alpha", "mean over the nodes of the primal step alpha_t"),
             Column("mean_delta", "mean over the nodes of the smoothing radius delta_t (kW)"))))
class DRS(BanditSharingDriver):
    """DRS; the math is in the module docstring."""

    node_class = DRSNode


register(DRS.spec.variant("drs-na", "drs without the adjustment (11): the played allocation is executed",
                          adjustment=False))

__all__ = ["DRS", "DRSNode", "DRSOptions"]
