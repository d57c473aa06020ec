"""The wait-and-judge violation level eps(k) of scenario optimization.

Source: M. C. Campi and S. Garatti, "Wait-and-judge scenario optimization", Mathematical Programming 167
(2018) 155-189, doi 10.1007/s10107-016-1056-9, the function of its MATLAB appendix; the same equation is eq. (3)
of Campi and Garatti, SYSID 2021.  A convex scenario program with N independent scenarios is solved; then its
support constraints are counted (s*), and its violation V (the probability that a new scenario is violated by the
solution, i.e. would change it) is judged after the fact::

    P^N { V(x*_N) > eps(s*) } <= beta

for non-degenerate convex problems, whatever the distribution of the scenarios.  eps(k) = 1 - t(k), t(k) the
unique root in (0, 1) of the polynomial equation

    C(N, k) t^(N-k)  -  (beta / N) sum_{i=k}^{N-1} C(i, k) t^(i-k)  =  0,        k = 0, 1, ..., N - 1

and eps(N) = 1: for k = N the sum is empty, the equation reads 1 = 0 and has no root, and the guarantee says
nothing (every scenario is a support one).  Symbols:

=========  =================  ====================================================================
symbol     argument           meaning
=========  =================  ====================================================================
N          ``n_scenarios``    number of scenarios (agents) the program was solved with
k          ``k``              number of support scenarios counted on the solution (s*)
beta       ``beta``           confidence parameter: the bound holds with probability >= 1 - beta
t(k)                          root of the equation above; eps(k) = 1 - t(k)
C(n, k)                       binomial coefficient
=========  =================  ====================================================================

How it is solved.  Dividing the equation by C(N, k) t^(N-k) gives

    g(t) = 1 - (beta / N) C(N, k)^(-1) sum_{i=k}^{N-1} C(i, k) t^(i-N)

which increases strictly on (0, 1] (every power i - N is negative), tends to -inf at 0 and equals
1 - beta (N - k) / (N (k + 1)) > 0 at t = 1 (hockey-stick identity), so the root is unique.  g(t) > 0 means the
root lies below t.  The sign test is evaluated in logarithms (``scipy.special.gammaln`` for the binomials,
``scipy.special.logsumexp`` for the sum) and the root found by bisection on log t, so N in the thousands neither
overflows nor loses the root; eps = -expm1(log t) keeps its digits when eps is small.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import gammaln, logsumexp

from ecodec.errors import EcodecError

_BISECTION_STEPS = 200
_CHUNK_ENTRIES = 2_000_000  # entries of the (k, i) array evaluated at once by eps_all


def check_scenario_inputs(n_scenarios, beta) -> int:
    """N as an int after checking N (an integer >= 1) and beta (in (0, 1)); EcodecError otherwise."""
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, numbers.Integral) or n_scenarios < 1:
        raise EcodecError(f"number of scenarios: got {n_scenarios!r}; expected an integer >= 1")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 < float(beta) < 1.0:
        raise EcodecError(f"confidence parameter beta: got {beta!r}; expected a number in the open interval (0, 1)")
    return int(n_scenarios)


def _log_binomial(n, k):
    return gammaln(np.asarray(n, dtype=float) + 1) - gammaln(np.asarray(k, dtype=float) + 1) \
        - gammaln(np.asarray(n, dtype=float) - np.asarray(k, dtype=float) + 1)


def _log_t_roots(ks: np.ndarray, n: int, beta: float) -> np.ndarray:
    """log t(k) for every k in ``ks`` (all < n), by simultaneous bisection on log t."""
    i = np.arange(n, dtype=float)[None, :]                       # i = 0 .. N-1
    k = ks.astype(float)[:, None]
    valid = i >= k                                               # the sum runs over i = k .. N-1
    log_c_ik = np.where(valid, _log_binomial(np.maximum(i, k), k), -np.inf)
    constant = np.log(beta / n) - _log_binomial(n, ks.astype(float))

    def positive(log_t: np.ndarray) -> np.ndarray:               # g(t) > 0, evaluated in logs
        terms = log_c_ik + (i - n) * log_t[:, None]
        return constant + logsumexp(terms, axis=1) < 0.0

    high = np.zeros(ks.size)
    low = -np.ones(ks.size)
    while True:                                                  # widen until g(exp(low)) <= 0 everywhere
        widen = positive(low)
        if not widen.any():
            break
        low = np.where(widen, 2.0 * low, low)
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        above = positive(middle)                                 # the root lies below middle
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
        if np.all(high - low <= 1e-15 * np.maximum(-low, 1e-300)):  # log t to 1e-15 relative
            break
    return 0.5 * (low + high)


def wait_and_judge_epsilon(k: int, n_scenarios: int, beta: float) -> float:
    """eps(k) of the module docstring: with confidence 1 - beta, a solution with k support scenarios out of N is
    violated by (changed by) a new scenario with probability at most eps(k); eps(N) = 1.

    >>> round(wait_and_judge_epsilon(7, 900, 1e-3), 6)
    0.026092
    >>> wait_and_judge_epsilon(900, 900, 1e-3)
    1.0
    """
    n = check_scenario_inputs(n_scenarios, beta)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise EcodecError(f"number of support scenarios k: got {k!r}; expected an integer from 0 to {n}")
    if k == n:
        return 1.0
    return float(-np.expm1(_log_t_roots(np.array([int(k)]), n, float(beta))[0]))


def eps_all(n_scenarios: int, beta: float) -> np.ndarray:
    """eps(k) for every k = 0 .. N (length N + 1, eps(N) = 1), computed together (vectorized bisection).

    >>> values = eps_all(900, 1e-3)
    >>> bool(np.all(np.diff(values) > 0)), round(float(values[7]), 6)
    (True, 0.026092)
    """
    n = check_scenario_inputs(n_scenarios, beta)
    out = np.ones(n + 1)
    ks = np.arange(n)
    chunk = max(1, _CHUNK_ENTRIES // n)
    for start in range(0, n, chunk):
        part = ks[start:start + chunk]
        out[part] = -np.expm1(_log_t_roots(part, n, float(beta)))
    return out
