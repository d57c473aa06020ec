"""Learned surrogates f_hat(u; theta) of an unknown cost, with their input gradients, on JAX (DELTA's networks).

A surrogate maps an input u in R^m (for DELTA: an agent's decisions and its estimate of the aggregates, u = (x, s))
to a cost.  Inputs are scaled to about [-1, 1] by a fixed box (``center``, ``half_width``) and the output by a
fixed ``cost_scale``, so that one learning rate and one initialisation fit every case:

    f_hat(u; theta) = cost_scale * g((u - center) / half_width; theta)

with g one of

* ``mlp``: a multilayer perceptron, ``layers`` hidden layers of ``width`` neurons with the activation
  ``activation`` and a linear output; weights drawn with LeCun-normal scaling, biases zero (seeded);
* ``quadratic``: g(v) = sum_{a <= b} A_ab v_a v_b + b'v + c, linear in theta; it represents a quadratic cost
  exactly, which is how the tests check DELTA against aggregative tracking.

One learning step on samples (u_k, y_k), k in a batch B (one sample, or the last few kept in a replay buffer),
descends the mean squared error

    l(theta) = 1/(2 |B|) sum_{k in B} ((y_k - f_hat(u_k; theta)) / cost_scale)^2

with the optimizer ``sgd`` or ``adam`` (optax) at ``learning_rate``, constant or decaying as
gamma_theta / sqrt(1 + k / K) over the learning steps k (``decay_steps`` K).  Input gradients (grad_u f_hat) and parameter
gradients (grad_theta l) come from JAX's automatic differentiation, compiled once (``jax.jit``) per input size and
shared by every agent of that size.  Computations run in float64 (the tests check invariants to 1e-10):
ecodec turns JAX's ``jax_enable_x64`` on when it first loads JAX.

JAX and optax are ecodec's optional extra ``learning``; :func:`require_jax` refuses, naming the extra, when they are
missing (``make setup`` installs them).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ecodec.errors import EcodecError

#: The optional extra that installs JAX and optax
EXTRA = "learning"
ACTIVATIONS = ("tanh", "softplus", "gelu", "sigmoid")
OPTIMIZERS = ("adam", "sgd")
SURROGATES = ("mlp", "quadratic")


class MissingExtraError(EcodecError):
    """An optional dependency of ecodec is not installed."""


def require_jax(what: str = "method 'delta'"):
    """JAX and optax, imported, with float64 on; refuses with the extra to install when either is missing.

    >>> jax, optax = require_jax()
    >>> jax.numpy.zeros(1).dtype
    dtype('float64')
    """
    try:
        jax = importlib.import_module("jax")
        optax = importlib.import_module("optax")
    except ImportError as error:
        raise MissingExtraError(
            f"{what} trains neural networks with JAX and optax, which are not installed ({error.name} is missing): "
            f"install ecodec's optional extra '{EXTRA}' with  pip install 'ecodec[{EXTRA}]'  (make setup installs "
            "it)") from None
    jax.config.update("jax_enable_x64", True)
    return jax, optax


@dataclass(frozen=True)
class SurrogateSpec:
    """What a surrogate is: its kind (``mlp`` or ``quadratic``), the network's shape and activation, the optimizer
    and its learning rate."""

    kind: str = "mlp"
    layers: int = 2
    width: int = 300
    activation: str = "tanh"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    #: K of the decay gamma_theta / sqrt(1 + k / K) over the learning steps k (None: constant)
    decay_steps: float | None = None


class _Compiled:
    """The jitted functions of one (spec, input size): evaluation, input gradient, one learning step, and their
    fused form used per iteration.  Built once and shared by every surrogate of that shape."""

    _cache: dict = {}

    @classmethod
    def of(cls, spec: SurrogateSpec, m: int) -> "_Compiled":
        key = (spec, m)
        if key not in cls._cache:
            cls._cache[key] = cls(spec, m)
        return cls._cache[key]

    def __init__(self, spec: SurrogateSpec, m: int):
        jax, optax = require_jax()
        jnp = jax.numpy
        self.spec, self.m = spec, m
        act = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "gelu": jax.nn.gelu,
               "sigmoid": jax.nn.sigmoid}[spec.activation]
        upper = np.triu_indices(m)

        if spec.kind == "mlp":
            def g(theta, v):
                h = v
                for w, b in theta[:-1]:
                    h = act(h @ w + b)
                w, b = theta[-1]
                return (h @ w + b)[0]
        else:
            def g(theta, v):
                return jnp.dot(theta["a"], jnp.outer(v, v)[upper]) + jnp.dot(theta["b"], v) + theta["c"]

        def f_hat(theta, u, center, half_width, scale):
            return scale * g(theta, (u - center) / half_width)

        def batch_loss(theta, us, ys, weights, center, half_width, scale):
            predicted = jax.vmap(lambda u: f_hat(theta, u, center, half_width, scale))(us)
            return 0.5 * jnp.sum(weights * ((ys - predicted) / scale) ** 2) / jnp.sum(weights)

        rate = spec.learning_rate
        if spec.decay_steps is not None:
            rate = lambda count: spec.learning_rate / jnp.sqrt(1.0 + count / spec.decay_steps)  # noqa: E731
        self.optimizer = (optax.adam if spec.optimizer == "adam" else optax.sgd)(rate)
        optimizer = self.optimizer

        def batch_learn(theta, state, us, ys, weights, center, half_width, scale):
            value, grads = jax.value_and_grad(batch_loss)(theta, us, ys, weights, center, half_width, scale)
            updates, state = optimizer.update(grads, state, theta)
            return optax.apply_updates(theta, updates), state, value

        def learn_then_gradient(theta, state, us, ys, weights, u_next, center, half_width, scale):
            theta, state, value = batch_learn(theta, state, us, ys, weights, center, half_width, scale)
            return theta, state, value, jax.grad(f_hat, argnums=1)(theta, u_next, center, half_width, scale)

        self.gradient = jax.jit(jax.grad(f_hat, argnums=1))
        self.learn_then_gradient = jax.jit(learn_then_gradient)
        self.batch_learn = jax.jit(batch_learn)
        self.jnp = jnp
        self.upper = upper


class Surrogate:
    """One agent's f_hat(u; theta) and its optimizer state (see the module docstring).

    ``seed`` draws the initial weights (``mlp``); the quadratic starts at zero.

    >>> s = Surrogate(SurrogateSpec("quadratic", learning_rate=0.0), center=np.zeros(2), half_width=np.ones(2),
    ...               cost_scale=1.0, seed=0)
    >>> u = np.array([[0.5, -1.0], [1.0, 2.0], [0.0, 0.3], [-1.0, 0.2], [0.4, 0.4], [2.0, -1.0], [0.1, 0.9]])
    >>> s.fit(u, [a * a + 3 * a * b + b - 2 for a, b in u])       # a quadratic is represented exactly
    >>> np.round(s.gradient(np.array([1.0, 1.0])), 10)            # (2a + 3b, 3a + 1) at (1, 1)
    array([5., 4.])
    """

    def __init__(self, spec: SurrogateSpec, *, center: np.ndarray, half_width: np.ndarray, cost_scale: float,
                 seed: int):
        self.spec, self.m = spec, int(center.size)
        self.code = _Compiled.of(spec, self.m)
        jnp = self.code.jnp
        self.center, self.half_width = jnp.asarray(center, dtype=float), jnp.asarray(half_width, dtype=float)
        self.cost_scale = float(cost_scale)
        self.theta = self._initial(seed)
        self.state = self.code.optimizer.init(self.theta)

    def _initial(self, seed: int):
        jnp, m, spec = self.code.jnp, self.m, self.spec
        if spec.kind == "quadratic":
            return {"a": jnp.zeros(m * (m + 1) // 2), "b": jnp.zeros(m), "c": jnp.zeros(())}
        rng = np.random.default_rng(seed)
        sizes = [m] + [spec.width] * spec.layers + [1]
        return [(jnp.asarray(rng.normal(0.0, 1.0 / np.sqrt(a), size=(a, b))), jnp.zeros(b))
                for a, b in zip(sizes[:-1], sizes[1:])]

    def _scaling(self):
        return self.center, self.half_width, self.cost_scale

    def gradient(self, u: np.ndarray) -> np.ndarray:
        """grad_u f_hat(u; theta)."""
        return np.asarray(self.code.gradient(self.theta, u, *self._scaling()))

    def learn_then_gradient(self, us: np.ndarray, ys: np.ndarray, weights: np.ndarray,
                            u_next: np.ndarray) -> tuple[float, np.ndarray]:
        """One learning step on the samples (us[k], ys[k]) weighted by ``weights`` (0: an empty slot of a replay
        buffer), then grad_u f_hat(u_next) with the new weights; returns the weighted mean loss before the step and
        that gradient."""
        self.theta, self.state, loss, grad = self.code.learn_then_gradient(
            self.theta, self.state, us, ys, weights, u_next, *self._scaling())
        return float(loss), np.asarray(grad)

    def fit(self, us: np.ndarray, ys, steps: int = 500) -> None:
        """Fit theta to the samples (us[k], ys[k]): exact least squares for ``quadratic``, ``steps`` full-batch
        optimizer steps for ``mlp`` (the optimizer state is restarted afterwards)."""
        us, ys = np.asarray(us, dtype=float), np.asarray(ys, dtype=float)
        jnp = self.code.jnp
        if self.spec.kind == "quadratic":
            v = (us - np.asarray(self.center)) / np.asarray(self.half_width)
            quad = np.einsum("ka,kb->kab", v, v)[:, self.code.upper[0], self.code.upper[1]]
            features = np.hstack([quad, v, np.ones((len(v), 1))])
            coef, *_ = np.linalg.lstsq(features, ys / self.cost_scale, rcond=None)
            n_a = quad.shape[1]
            self.theta = {"a": jnp.asarray(coef[:n_a]), "b": jnp.asarray(coef[n_a:n_a + self.m]),
                          "c": jnp.asarray(coef[-1])}
        else:
            for _ in range(steps):
                self.theta, self.state, _ = self.code.batch_learn(self.theta, self.state, us, ys, np.ones(len(ys)),
                                                                  *self._scaling())
        self.state = self.code.optimizer.init(self.theta)


__all__ = ["ACTIVATIONS", "EXTRA", "MissingExtraError", "OPTIMIZERS", "SURROGATES", "Surrogate", "SurrogateSpec",
           "require_jax"]
