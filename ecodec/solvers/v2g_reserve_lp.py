"""One vehicle's day-ahead energy-and-reserve linear program under random reserve activation, on HiGHS.

Design [D] (ecodec's own; the framework of Bianchi, Falsone, Vignali, IFAC 2023, arXiv 2309.11118, was not
available beyond its abstract).  A vehicle plugged in over the slots W = {k_a, ..., k_d} (step Delta h) buys energy
at pi_k and may sell a symmetric reserve band r_k (kW) at the capacity price pi^r (per kW and hour).  The TSO
activates the band at random: per slot, independently, upward (a = +1: the vehicle must draw alpha r_k less, down
to discharging) with probability rho_up, downward (a = -1: draw alpha r_k more) with probability rho_dn, else not
(a = 0); alpha is the activated fraction of the band.  Activated energy is settled at the energy price: the
vehicle's bill is sum_k pi_k Delta x_k over the power x_k it actually draws.  S activation scenarios a_{s,k}
(:class:`ActivationModel`) give the sample average.

Symbols: p0 (baseline power, kW, >= 0 unless ``baseline_discharge``), r (band, kW), P_ch / P_dis (charge /
discharge power limits), eta_ch / eta_dis (efficiencies), e (stored energy, kWh) from E_0 at arrival, bounds
[e_min, e_max], departure requirement E_ref, abar_k = (1/S) sum_s a_{s,k}.  The battery gains f(x) Delta from
net power x, with f(x) = min(eta_ch x, x / eta_dis) (concave: eta_ch x for charging, x / eta_dis for discharging).

Policy 'robust' (non-anticipative: schedule and band are fixed day-ahead)::

    max  pi^r Delta sum_k r_k  -  Delta sum_k pi_k (p0_k - alpha abar_k r_k)
    s.t. p0_k + r_k <= P_ch,   p0_k - r_k >= -P_dis                        (the whole band is deliverable)
         e^up_k  = E_0 + Delta sum_{j<=k} g_j,  g_j <= eta_ch x^up_j,  g_j <= x^up_j / eta_dis,  x^up = p0 - alpha r
         e^dn_k  = E_0 + Delta sum_{j<=k} eta_ch x^dn_j,                                          x^dn = p0 + alpha r
         e^up_k >= e_min,  e^up_{k_d} >= E_ref,  e^dn_k <= e_max

Energy is increasing in power, so every activation sequence leaves the battery between the all-up and the
all-down trajectories: the departure energy and the bounds then hold in *every* activation sequence, a fortiori
in every sampled one.  (With losses eta_ch x over-estimates the energy of a discharging slot, which keeps the upper
bound safe; it is exact while x^dn >= 0, always so without baseline discharge.)

Policy 'recourse' (a two-stage stochastic program): the band r is the first stage; in each scenario s the
vehicle re-plans its own schedule q_s knowing that day's activations (second stage; anticipative within the
day, so an optimistic bound on what a causal controller earns)::

    max  pi^r Delta sum_k r_k  -  (1/S) sum_s Delta sum_k pi_k x_{s,k},     x_{s,k} = q_{s,k} - alpha a_{s,k} r_k
    s.t. q_{s,k} + r_k <= P_ch,  q_{s,k} - r_k >= -P_dis,  e_{s,k} as e^up above with x_{s,k} (>= e_min, >= E_ref
         at departure),  E_0 + Delta sum_{j<=k} eta_ch x_{s,j} <= e_max          for every sampled scenario s

With the band fixed to 0 both are the charge-only problem (the cheapest schedule meeting E_ref), which
:meth:`ReserveLP.solve` solves with ``reserve=False``.  Each program is built once as a
:class:`ecodec.solvers.matrix.MatrixProblem` and re-solved, warm-started, with only the band's cost changed per
reserve price.

>>> import numpy as np
>>> car = VehicleSession("ev", 0, 2, p_charge_kw=4, p_discharge_kw=4, e_min_kwh=0, e_max_kwh=20, e_init_kwh=10,
...                      e_target_kwh=12)
>>> lp = ReserveLP(car, np.array([0.1, 0.2]), 1.0, np.zeros((2, 2)), activation_fraction=0.5)
>>> round(lp.solve(0.0, reserve=False).profit_eur, 6)   # 2 kWh at 0.1
-0.2
>>> round(lp.solve(0.2).profit_eur, 6)   # 4 kW of band in slot 2 earns 0.8; backing it costs 2 kWh more at 0.1
0.4
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.errors import EcodecError, SolveError
from ecodec.solvers.matrix import MatrixProblem
from ecodec.vocabulary import OPTIMAL

POLICIES = ("robust", "recourse")


@dataclass(frozen=True)
class VehicleSession:
    """One plugged-in session: slots ``start`` (0-based, included) to ``stop`` (excluded) of the case's grid."""

    name: str
    start: int
    stop: int
    p_charge_kw: float
    p_discharge_kw: float
    e_min_kwh: float
    e_max_kwh: float
    e_init_kwh: float
    e_target_kwh: float
    eta_charge: float = 1.0
    eta_discharge: float = 1.0

    def __post_init__(self):
        problems = []
        if not 0 <= self.start < self.stop:
            problems.append(f"slots {self.start}..{self.stop}: expected 0 <= start < stop")
        if not self.p_charge_kw > 0 or self.p_discharge_kw < 0:
            problems.append(f"p_charge_kw {self.p_charge_kw:g}, p_discharge_kw {self.p_discharge_kw:g}: expected "
                            "a charging power > 0 kW and a discharging power >= 0 kW")
        for name in ("eta_charge", "eta_discharge"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"{name} {getattr(self, name):g}: expected an efficiency in (0, 1]")
        if not self.e_min_kwh <= self.e_init_kwh <= self.e_max_kwh or self.e_target_kwh > self.e_max_kwh:
            problems.append(f"energies min {self.e_min_kwh:g}, arrival {self.e_init_kwh:g}, target "
                            f"{self.e_target_kwh:g}, max {self.e_max_kwh:g} kWh: expected min <= arrival <= max "
                            "and target <= max")
        if problems:
            raise EcodecError(f"vehicle '{self.name}': " + "; ".join(problems))

    @property
    def slots(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class ActivationModel:
    """Random reserve activation [D]: per slot, independently, up with ``up_probability``, down with
    ``down_probability``; ``activation_fraction`` alpha of the band is called.

    >>> ActivationModel(0.25, 0.25, 1.0).sample(4, 3, seed=1, antithetic=True).sum(axis=0).tolist()
    [0, 0, 0]
    """

    up_probability: float = 0.2
    down_probability: float = 0.2
    activation_fraction: float = 0.5

    def __post_init__(self):
        for name in ("up_probability", "down_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise EcodecError(f"{name.replace('_', ' ')} {getattr(self, name):g}: expected a probability in "
                                  "[0, 1]")
        if self.up_probability + self.down_probability > 1:
            raise EcodecError(f"up probability {self.up_probability:g} + down probability "
                              f"{self.down_probability:g}: expected a sum <= 1")
        if not 0 < self.activation_fraction <= 1:
            raise EcodecError(f"activation fraction {self.activation_fraction:g}: expected a fraction in (0, 1]")

    @property
    def symmetric(self) -> bool:
        return self.up_probability == self.down_probability

    def sample(self, n_scenarios: int, T: int, seed: int, antithetic: bool = False) -> np.ndarray:
        """Activations a_{s,k} in {-1, 0, 1}, shape (S, T), from ``numpy.random.default_rng(seed)``.  With
        ``antithetic`` (symmetric activation only, S even) the second half mirrors the first (a -> -a), so that
        the sample mean of every slot is exactly 0, as its expectation."""
        if n_scenarios < 1:
            raise EcodecError(f"scenarios {n_scenarios}: expected at least 1")
        if antithetic and (not self.symmetric or n_scenarios % 2):
            raise EcodecError(f"antithetic sampling with {n_scenarios} scenarios and up/down probabilities "
                              f"{self.up_probability:g}/{self.down_probability:g}: expected an even number of "
                              "scenarios and equal probabilities")
        drawn = n_scenarios // 2 if antithetic else n_scenarios
        u = np.random.default_rng(seed).random((drawn, T))
        a = np.where(u < self.up_probability, 1, np.where(u < self.up_probability + self.down_probability, -1, 0))
        return np.vstack([a, -a]).astype(np.int8) if antithetic else a.astype(np.int8)


@dataclass(frozen=True)
class ReserveSolution:
    """Expected profit (reserve revenue - expected energy cost), both parts, the band energy, the band and the
    schedule around which it is offered (policy 'recourse': the mean of the scenarios' schedules), per slot of
    the vehicle's window."""

    profit_eur: float
    reserve_revenue_eur: float
    energy_cost_eur: float
    band_kwh: float
    band_kw: np.ndarray
    schedule_kw: np.ndarray


class ReserveLP:
    """The program of the module docstring for one vehicle; ``price_eur_per_kwh`` and ``activations`` span the
    case's whole grid (length T and shape (S, T)); only the vehicle's window is used."""

    def __init__(self, session: VehicleSession, price_eur_per_kwh: np.ndarray, step_h: float,
                 activations: np.ndarray, *, activation_fraction: float, policy: str = "robust",
                 baseline_discharge: bool = False):
        if policy not in POLICIES:
            raise EcodecError(f"policy {policy!r}: expected one of {', '.join(POLICIES)}")
        window = slice(session.start, session.stop)
        self.session, self.step_h, self.policy = session, float(step_h), policy
        self.price = np.asarray(price_eur_per_kwh, dtype=float)[window]
        self.activations = np.asarray(activations, dtype=float)[:, window]
        if self.price.size != session.slots or self.activations.shape[1] != session.slots:
            raise EcodecError(f"vehicle '{session.name}': its slots {session.start + 1}..{session.stop} lie beyond "
                              f"the {np.asarray(price_eur_per_kwh).size} slots of the price profile")
        self.alpha = float(activation_fraction)
        self.baseline_low = -session.p_discharge_kw if baseline_discharge else 0.0
        self._band = np.arange(session.slots)
        self._build(list(self.activations) if policy == "recourse" else [None])

    # -- building ----------------------------------------------------------------------------------------
    def _build(self, scenarios: list) -> None:
        s, n, dt, alpha = self.session, self.session.slots, self.step_h, self.alpha
        eye = sp.identity(n, format="csr")
        step = sp.eye(n, format="csr") - sp.eye(n, k=-1, format="csr")  # e_k - e_{k-1}
        first = np.zeros(n)
        first[0] = s.e_init_kwh
        blocks, lower, upper = [], [], []
        cost = [np.zeros(n)]  # the band's cost is set per reserve price
        col_lo, col_hi = [np.zeros(n)], [np.full(n, s.p_charge_kw + s.p_discharge_kw)]
        e_lo = np.full(n, float(s.e_min_kwh))
        e_lo[-1] = max(s.e_min_kwh, s.e_target_kwh)
        weight = 1.0 / len(scenarios)
        for index, a in enumerate(scenarios):
            # columns of this block: q (or p0), g, e^up, e^dn
            up = -alpha * (np.ones(n) if a is None else a)  # x^up = q + up * r
            dn = alpha * np.ones(n) if a is None else -alpha * a  # the energy-ceiling trajectory
            zero = sp.csr_matrix((n, n))
            rows = [
                ([eye, eye, zero, zero, zero], -np.inf, s.p_charge_kw),  # q + r <= P_ch
                ([eye, -eye, zero, zero, zero], -np.inf, s.p_discharge_kw),  # r - q <= P_dis
                ([-s.eta_charge * sp.diags(up), -s.eta_charge * eye, eye, zero, zero], -np.inf, 0.0),  # g <= eta x
                ([-sp.diags(up) / s.eta_discharge, -eye / s.eta_discharge, eye, zero, zero], -np.inf, 0.0),
                ([zero, zero, -dt * eye, step, zero], first, first),  # e^up dynamics
                ([-dt * s.eta_charge * sp.diags(dn), -dt * s.eta_charge * eye, zero, zero, step], first, first),
            ]
            for parts, lo, hi in rows:
                line = [parts[0]] + [None] * (4 * len(scenarios))
                line[1 + 4 * index: 5 + 4 * index] = parts[1:]
                blocks.append(line)
                lower.append(np.broadcast_to(lo, n))
                upper.append(np.broadcast_to(hi, n))
            cost += [weight * dt * self.price, np.zeros(n), np.zeros(n), np.zeros(n)]
            col_lo += [np.full(n, self.baseline_low), np.full(n, -np.inf), e_lo, np.full(n, -np.inf)]
            col_hi += [np.full(n, s.p_charge_kw), np.full(n, np.inf), np.full(n, np.inf), np.full(n, s.e_max_kwh)]
        self._settlement = self.alpha * self.activations.mean(axis=0) * self.price * dt  # credit per kW of band
        self._problem = MatrixProblem(np.concatenate(cost), np.concatenate(col_lo), np.concatenate(col_hi),
                                      sp.bmat(blocks, format="csc"), np.concatenate(lower), np.concatenate(upper),
                                      name=f"reserve LP of '{s.name}'")
        self._band_upper = col_hi[0]

    # -- solving -----------------------------------------------------------------------------------------
    def solve(self, reserve_price_eur_per_kw_h: float, reserve: bool = True) -> ReserveSolution:
        """The best expected profit at this reserve price; ``reserve=False``: the charge-only schedule (band 0)."""
        problem, dt = self._problem, self.step_h
        problem.set_column_bounds(self._band, 0.0, self._band_upper if reserve else 0.0)
        revenue_per_kw = reserve_price_eur_per_kw_h * dt + self._settlement
        problem.set_costs(self._band, -revenue_per_kw)
        solution = problem.solve()
        if solution.status != OPTIMAL or solution.x is None:
            raise SolveError(f"vehicle '{self.session.name}': the {'reserve' if reserve else 'charge-only'} "
                             f"program ended '{solution.status}' (its departure energy may be out of reach)")
        band = np.clip(solution.x[self._band], 0.0, None)
        revenue = float(reserve_price_eur_per_kw_h * dt * band.sum())
        profit = -float(solution.objective)
        n = self.session.slots
        schedules = solution.x[n:].reshape(-1, 4, n)[:, 0, :]
        return ReserveSolution(profit_eur=profit, reserve_revenue_eur=revenue, energy_cost_eur=revenue - profit,
                               band_kwh=float(band.sum() * dt), band_kw=band, schedule_kw=schedules.mean(axis=0))


__all__ = ["POLICIES", "ActivationModel", "ReserveLP", "ReserveSolution", "VehicleSession"]
