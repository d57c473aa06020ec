"""Closed form of the V2G reserve program in the simplified case, and its profitability condition [D].

Simplified case (S): lossless (eta_ch = eta_dis = 1), symmetric activation (rho_up = rho_dn, so E[a_k] = 0),
P_dis >= P_ch, no baseline discharge, a constant reserve price pi^r, and energy bounds that never bind
(E_0 - alpha n P_ch Delta >= e_min and E_0 + n P_ch Delta <= e_max, n the vehicle's slots).  The robust program of
:mod:`ecodec.solvers.v2g_reserve_lp` then reads, with the need N = E_ref - E_0 (kWh) and P = P_ch::

    V(pi^r) = max  Delta sum_k (pi^r r_k - pi_k p_k)
              s.t. Delta sum_k (p_k - alpha r_k) >= N,   p_k + r_k <= P,   p_k, r_k >= 0          (E[a] = 0)

(the discharge headroom p_k - r_k >= -P_dis holds since r_k <= P - p_k <= P_dis; the all-up trajectory's lowest
point is its departure, so the target is the only energy row left).

Derivation.
1. Dualise the target with lambda >= 0.  Per slot the Lagrangian Delta [(lambda - pi_k) p_k + (pi^r - alpha
   lambda) r_k] over p_k + r_k <= P is maximised by giving the slot's whole power to the better of charging,
   band, or nothing, so (LP duality)
   ``V(pi^r) = min_{lambda >= 0} phi(lambda)``,
   ``phi(lambda) = -lambda N + P Delta sum_k max(0, lambda - pi_k, pi^r - alpha lambda)``.
   phi is convex and piecewise linear: its minimum is at 0 or at a kink, lambda in {pi_k, pi^r / alpha,
   (pi^r + pi_k) / (1 + alpha)}, which :func:`closed_form_profit` evaluates (a closed form: a minimum over
   3n + 2 numbers).  With pi^r = 0 the band term is never positive and V(0) = V_0, the charge-only optimum.
2. The marginal price lambda+ of the departure energy: with the window's prices sorted, pi_(1) <= ... <= pi_(n),
   and j = floor(N / (P Delta)) + 1 the first slot the cheapest charge-only schedule leaves with spare power,
   lambda+ = pi_(j); lambda+ = 0 when N < 0 (the target is already met with energy to spare) and +inf when
   N = n P Delta (no spare power at all).  lambda+ minimises the charge-only dual phi_0 (its right slope
   -N + P Delta #{pi_k <= lambda+} >= 0 and its left slope -N + P Delta #{pi_k < lambda+} <= 0).
3. Sufficiency: if pi^r > alpha lambda+, add a band eps in slot (j) and charge alpha eps more there (it has spare
   power): the profit changes by Delta eps (pi^r - alpha lambda+) > 0.  (With N < 0 the spare energy backs the
   band for free.)
4. Necessity: if pi^r <= alpha lambda+, take lambda = lambda+ in step 1: every band term pi^r - alpha lambda+ <= 0
   drops out, so V(pi^r) <= phi_0(lambda+) = V_0.

5. Asymmetric activation (an extension [D]): with E[a_k] = delta_k (rho_up - rho_dn, or a sample's mean) the
   expected settlement credits alpha delta_k pi_k per kW of band and hour, so the band's value in slot k is
   pi^r + alpha delta_k pi_k: phi's band term becomes max(..., pi^r + alpha delta_k pi_k - alpha lambda), its kinks
   move to (pi^r + alpha delta_k pi_k) / alpha and (pi^r + alpha delta_k pi_k + pi_k) / (1 + alpha), and steps 3-4
   give the boundary min_k [h_k + alpha (lambda+ - delta_k pi_k)], h_k = lambda+ - pi_k for the slots the
   charge-only schedule fills (their band displaces charging), 0 for the others.  With delta = 0 it is
   alpha lambda+.

**Condition.**  V2G with reserve is strictly more profitable than charge-only operation if and only if
``pi^r > alpha lambda+``: each kW of band held for an hour must be backed by alpha kWh of stored energy (the TSO
may call the whole band upward), bought at the marginal price of the departure energy, while under symmetric
activation the settled activations cost nothing in expectation.  A fleet (vehicles independent) is profitable
iff some vehicle is: pi^r > alpha min_i lambda+_i.

>>> import numpy as np
>>> prices = np.array([0.1, 0.2])
>>> marginal_energy_price(prices, need_kwh=2.0, p_charge_kw=4.0, step_h=1.0)
0.1
>>> [round(closed_form_profit(prices, 2.0, 4.0, 1.0, 0.5, pr), 6) for pr in (0.0, 0.05, 0.2)]
[-0.2, -0.2, 0.4]
"""

from __future__ import annotations

import math

import numpy as np

from ecodec.errors import EcodecError

_SLOT_TOLERANCE = 1e-9  # a need within this share of a slot's energy of a whole number of slots fills them


def _check(prices, need_kwh: float, p_charge_kw: float, step_h: float) -> np.ndarray:
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1 or prices.size == 0 or not p_charge_kw > 0 or not step_h > 0:
        raise EcodecError(f"closed form: got {prices.size} prices, p_charge_kw {p_charge_kw:g}, step_h {step_h:g}; "
                          "expected at least one price, a power > 0 kW and a step > 0 h")
    if need_kwh > prices.size * p_charge_kw * step_h * (1 + _SLOT_TOLERANCE):
        raise EcodecError(f"closed form: a need of {need_kwh:g} kWh is more than {prices.size} slots of "
                          f"{p_charge_kw:g} kW deliver; expected a reachable target")
    return prices


def marginal_energy_price(prices, need_kwh: float, p_charge_kw: float, step_h: float) -> float:
    """lambda+ of step 2 of the module docstring (currency per kWh; 0 with energy to spare, inf with no room)."""
    prices = np.sort(_check(prices, need_kwh, p_charge_kw, step_h))
    if need_kwh < 0:
        return 0.0
    full = math.floor(need_kwh / (p_charge_kw * step_h) + _SLOT_TOLERANCE)
    return float(prices[full]) if full < prices.size else math.inf


def last_energy_price(prices, need_kwh: float, p_charge_kw: float, step_h: float) -> float:
    """lambda-, the price of the last kWh the charge-only schedule buys (0 when it buys none): the recourse
    policy's first-order cost of symmetric activation is rho alpha (lambda+ - lambda-), 0 when both are equal
    (the marginal slot is only partly used, the generic case)."""
    prices = np.sort(_check(prices, need_kwh, p_charge_kw, step_h))
    slots = need_kwh / (p_charge_kw * step_h)
    if slots <= _SLOT_TOLERANCE:
        return 0.0
    return float(prices[min(prices.size, math.ceil(slots - _SLOT_TOLERANCE)) - 1])


def boundary_reserve_price(prices, need_kwh: float, p_charge_kw: float, step_h: float,
                           activation_fraction: float, expected_activation=0.0) -> float:
    """The reserve price (currency per kW and hour) above which, and only above which, V2G with reserve beats
    charge-only operation in the simplified case: alpha lambda+ (step 5 with ``expected_activation`` delta).

    >>> boundary_reserve_price([0.3, 0.1, 0.2], need_kwh=3.0, p_charge_kw=2.0, step_h=1.0, activation_fraction=0.5)
    0.1
    """
    prices = _check(prices, need_kwh, p_charge_kw, step_h)
    lam = marginal_energy_price(prices, need_kwh, p_charge_kw, step_h)
    if lam == math.inf:
        return math.inf
    delta = np.broadcast_to(np.asarray(expected_activation, dtype=float), prices.shape)
    full = np.zeros(prices.size, dtype=bool)
    if need_kwh >= 0:
        full[np.argsort(prices, kind="stable")[:math.floor(need_kwh / (p_charge_kw * step_h) + _SLOT_TOLERANCE)]] = True
    alpha = float(activation_fraction)
    return float(np.min(np.where(full, lam - prices, 0.0) + alpha * (lam - delta * prices)))


def closed_form_profit(prices, need_kwh: float, p_charge_kw: float, step_h: float, activation_fraction: float,
                       reserve_price: float, expected_activation=0.0) -> float:
    """V(pi^r) of step 1 (step 5 with ``expected_activation`` delta, a number or one per slot): the best expected
    profit (reserve revenue - energy cost) in the simplified case."""
    prices = _check(prices, need_kwh, p_charge_kw, step_h)
    alpha = float(activation_fraction)
    value = float(reserve_price) + alpha * np.broadcast_to(np.asarray(expected_activation, dtype=float),
                                                            prices.shape) * prices  # the band's value per slot
    candidates = np.concatenate([[0.0], value / alpha, prices, (value + prices) / (1 + alpha)])
    lam = np.clip(candidates, 0.0, None)[:, None]
    terms = np.maximum(0.0, np.maximum(lam - prices[None, :], value[None, :] - alpha * lam))
    phi = -lam[:, 0] * need_kwh + p_charge_kw * step_h * terms.sum(axis=1)
    return float(phi.min())


__all__ = ["boundary_reserve_price", "closed_form_profit", "last_energy_price", "marginal_energy_price"]
