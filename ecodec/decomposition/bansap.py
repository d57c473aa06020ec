"""BanSaP: bandit online saddle-point method with constant parameters (Chen & Giannakis, "Bandit convex optimization
for scalable and dynamic IoT management", arXiv 1707.09060), the baseline of the online sharing comparison.

The paper the comparison comes from used "an adapted version" whose equations it does not print; the update below
is the online saddle-point step with a one-point bandit gradient as ALGORITHMS_WAVE2.md section 1.7 recalls it
(``[U]``: unverified, built as written and labelled so in docs/online_sharing.md).  Node i, horizon T, with the
geometry and the round of :mod:`ecodec.decomposition.bandit_sharing`; every parameter is constant:

    x_t played as x_t + delta u_t  (u_t uniform on the unit sphere);  ghat_t = (n_i / delta) f_t u_t
    x_t+1 = P_{(1 - xi) X_i}[ x_t - alpha ( ghat_t + lambda_t 1 ) ]
    lambda_t+1 = [ lambda_t + mu g_t(x_t) ]_+                      (no regularizer, no adjustment, no meta-learner)

=========  ====================  ==================================================================================
symbol     option                value
=========  ====================  ==================================================================================
alpha      ``step_size``         alpha_0 R_i^2 / (sqrt(n_i) C_i) T^-3/4   (kW^2 per unit of loss)
mu         ``dual_step``         mu_0 C_i / xbar_i^2 T^-3/4                (loss per kW^2)
delta      ``smoothing``         min(r_i / 2, delta_0 sqrt(n_i) R_i T^-1/4), xi = delta / r_i   (kW)
=========  ====================  ==================================================================================

(R_i = sqrt(n_i) xbar_i / 2, r_i = xbar_i / 2, C_i = n_i.)  The constants scale with the horizon as the one-point
analysis suggests (alpha = mu proportional to T^-3/4, delta to T^-1/4); the point starts uniformly in (1 - xi) X_i
and lambda at 0.  ``adjustment`` is off: BanSaP asks the constraint to hold in the long run only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecodec.decomposition.bandit_sharing import (ONLINE_COLUMNS, ONLINE_PROGRESS, BanditNode, BanditSharingDriver,
                                                 OnlineOptions, shrunk_box_projection)
from ecodec.decomposition.options import option
from ecodec.decomposition.registry import MethodSpec, register
from ecodec.decomposition.stopping import Horizon

METHOD = "bansap"


@dataclass(frozen=True)
class BansapOptions(OnlineOptions):
    """BanSaP's constant parameters (module docstring), besides ``seed`` and ``gradient``."""

    method = METHOD
    adjustment: bool = option(False, "-", "execute the proportionally rescaled allocation (11) when a node sends "
                              "more than it generates (off: BanSaP's long-term constraint)")
    step_size: float = option(1.0, "-", "alpha_0 of the constant primal step (relative to R_i^2 / (sqrt(n_i) C_i) "
                              "T^-3/4)", lower=0.0, lower_open=True)
    dual_step: float = option(1.0, "-", "mu_0 of the constant dual step (relative to C_i / xbar_i^2 T^-3/4)",
                              lower=0.0, lower_open=True)
    smoothing: float = option(0.2, "-", "delta_0 of the constant smoothing radius (relative to sqrt(n_i) R_i "
                              "T^-1/4, capped at r_i / 2)", lower=0.0, lower_open=True)


class BansapNode(BanditNode):
    """Node i of BanSaP: its point x_i and lambda_i."""

    def __init__(self, name, problem, env, options: BansapOptions):
        super().__init__(name, problem, env, options)
        T, n = self.horizon, self.n
        self.alpha = options.step_size * self.R ** 2 / (math.sqrt(n) * self.C) * T ** -0.75
        self.mu = options.dual_step * self.C / self.cap ** 2 * T ** -0.75
        bandit = options.gradient == "bandit"
        self.delta = min(self.r / 2.0, options.smoothing * math.sqrt(n) * self.R * T ** -0.25) if bandit else 0.0
        self.xi = self.delta / self.r
        self.x = self.cap / 2.0 + (1.0 - self.xi) * (self.rng.uniform(0.0, self.cap, n) - self.cap / 2.0)
        self.u = None

    def decide(self, t: int) -> np.ndarray:
        return self.perturbed(self.x, self.delta)

    def update(self, t: int, loss: float, g_played: float) -> None:
        grad = self.gradient_estimate(loss, self.u, self.delta, t) + self.lam
        g = float(np.sum(self.x)) - float(self.generation[t])
        self.x = shrunk_box_projection(self.x - self.alpha * grad, self.cap, self.xi)
        self.lam = max(0.0, self.lam + self.mu * g)


@register(MethodSpec(
    METHOD, "bandit online saddle point with constant parameters (Chen & Giannakis): the baseline of online energy "
    "sharing", kinds=("online-sharing",), options=BansapOptions, stopping=(Horizon(),), progress=ONLINE_PROGRESS,
    columns=ONLINE_COLUMNS))
class Bansap(BanditSharingDriver):
    """BanSaP; the math is in the module docstring."""

    node_class = BansapNode


__all__ = ["Bansap", "BansapNode", "BansapOptions"]
