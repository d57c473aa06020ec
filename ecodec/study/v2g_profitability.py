"""Is vehicle-to-grid with a reserve band more profitable than charging alone?  A fleet study [D].

Bianchi, Falsone, Vignali, "Vehicle-to-Grid and ancillary services: a profitability analysis under uncertainty"
(IFAC 2023, arXiv 2309.11118) derive necessary and sufficient conditions for profitability in a simplified case and
check them by simulation in the general case.  Only the paper's abstract was available, so ecodec builds its own
design of that analysis (every modelling choice below is [D]) and says so in docs/v2g_profitability.md:

* the model: one linear program per vehicle (:mod:`ecodec.solvers.v2g_reserve_lp`): buy energy at pi_k, sell a
  symmetric band r_k at the reserve price pi^r (currency per kW and hour, the same in every slot), random
  activation (up with rho_up, down with rho_dn, a fraction alpha of the band, independent per slot, common to the
  fleet, drawn from ``default_rng(seed)``), activated energy settled at pi_k, the departure energy met in every
  activation sequence (policy 'robust', the default: non-anticipative) or re-planned per sampled scenario
  (policy 'recourse': a two-stage stochastic program, optimistic because each scenario's schedule knows that
  day's activations);
* the reference: charge-only operation, the cheapest schedule meeting the departure energy with no band;
* the closed form of the simplified case (:mod:`ecodec.solvers.v2g_closed_form`): profitable iff
  pi^r > alpha lambda+ (lambda+ the marginal price of the departure energy), with the profit V(pi^r) itself; with
  asymmetric activation its extension (step 5) settles the expected activation rho_up - rho_dn;
* the check: the sampled optimization on a grid of reserve prices against the closed form (verdict per price,
  profit), and the optimization's own boundary price (bisection on the fleet's gain) against the closed form's.

Vehicles are independent (the shared connection limit of a fleet workbook is not imposed: a band is offered
per vehicle and the fleet's profit is the sum).  Vehicles without discharge power (a charge-only workbook such as
the Dundee sessions) are given a bidirectional charger, P_dis = P_ch and eta_dis = eta_ch, unless
``bidirectional`` is False (then their band only moves their charging).  Power is continuous: an on/off
('binary', 'v2g') workbook vehicle may use any power up to its limit.

>>> from ecodec.solvers.v2g_reserve_lp import VehicleSession
>>> car = VehicleSession("ev", 0, 2, p_charge_kw=4, p_discharge_kw=4, e_min_kwh=0, e_max_kwh=20, e_init_kwh=10,
...                      e_target_kwh=12)
>>> study = v2g_profitability([(car, [0.1, 0.2])], 1.0, [0.0, 0.2], V2GOptions(scenarios=4, antithetic=True))
>>> [round(g, 6) for g in study.gain_eur], study.boundary_closed_form, round(study.boundary_optimization, 6)
([0.0, 0.6], 0.05, 0.05)
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ecodec.case import Case
from ecodec.errors import EcodecError
from ecodec.results.v2g_profitability import PROFIT_TOLERANCE_EUR, V2GProfitabilityResult
from ecodec.solvers.v2g_closed_form import (boundary_reserve_price, closed_form_profit, last_energy_price,
                                            marginal_energy_price)
from ecodec.solvers.v2g_reserve_lp import POLICIES, ActivationModel, ReserveLP, VehicleSession

log = logging.getLogger(__name__)
BISECTION_STEPS = 30  # halvings of the bracket of the optimization's boundary price
DEFAULT_GRID_POINTS = 21
DEFAULT_SCENARIOS = {"robust": 1000, "recourse": 20}


@dataclass(frozen=True)
class V2GOptions:
    """Options of the study (all [D]); invalid values raise EcodecError."""

    #: S, sampled activation scenarios; None: 1000 for 'robust' (its program does not grow with S: the sample only
    #: sets the expected settlement) and 20 for 'recourse' (one copy of the schedule per scenario)
    scenarios: int | None = None
    seed: int = 0  #: seed of ``numpy.random.default_rng`` for the activations
    policy: str = "robust"  #: 'robust' (non-anticipative) or 'recourse' (two-stage, re-planned per scenario)
    up_probability: float = 0.2  #: rho_up, per slot
    down_probability: float = 0.2  #: rho_dn, per slot
    activation_fraction: float = 0.5  #: alpha, the share of the band an activation calls
    antithetic: bool = False  #: mirror each drawn scenario (symmetric activation only): sample mean exactly 0
    baseline_discharge: bool = False  #: let the schedule itself discharge (energy arbitrage) besides the band
    bidirectional: bool = True  #: give vehicles without discharge power a bidirectional charger
    max_vehicles: int | None = None  #: study only the first vehicles of a workbook

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise EcodecError(f"policy {self.policy!r}: expected one of {', '.join(POLICIES)}")
        if self.scenarios is None:
            object.__setattr__(self, "scenarios", DEFAULT_SCENARIOS[self.policy])
        if self.scenarios < 1:
            raise EcodecError(f"scenarios {self.scenarios}: expected at least 1")
        if self.seed < 0:
            raise EcodecError(f"seed {self.seed}: expected an integer >= 0")
        if self.max_vehicles is not None and self.max_vehicles < 1:
            raise EcodecError(f"vehicles {self.max_vehicles}: expected at least 1")
        self.activation()  # validates the probabilities and the fraction

    def activation(self) -> ActivationModel:
        return ActivationModel(self.up_probability, self.down_probability, self.activation_fraction)


def fleet_from_case(case: Case, options: V2GOptions) -> list[tuple[VehicleSession, np.ndarray]]:
    """The workbook's vehicles (sheet 'evs') as sessions, each with its energy price per slot."""
    specs = case.agents_of_kind("ev")
    if not specs:
        raise EcodecError(f"case '{case.name}': no vehicles (sheet 'evs'); expected a fleet workbook such as one "
                          "written by 'ecodec generate pev --variant v2g'")
    fleet = []
    for spec in specs[:options.max_vehicles]:
        p = spec.params
        p_dis, eta_dis = float(p.get("p_discharge_kw") or 0.0), float(p.get("eta_discharge", 1.0))
        if p_dis == 0.0 and options.bidirectional:
            p_dis, eta_dis = float(p["p_charge_kw"]), float(p.get("eta_charge", 1.0))
        start = int(p.get("arrival_step", 1)) - 1
        stop = int(p["departure_step"]) if p.get("departure_step") is not None else case.T
        session = VehicleSession(spec.name, start, stop, float(p["p_charge_kw"]), p_dis, float(p.get("e_min_kwh", 0)),
                                 float(p["e_max_kwh"]), float(p["e_init_kwh"]), float(p["e_target_kwh"]),
                                 float(p.get("eta_charge", 1.0)), eta_dis)
        fleet.append((session, np.broadcast_to(np.asarray(p["price_per_kwh"], dtype=float), (case.T,)).copy()))
    return fleet


def simplified_case_holds(session: VehicleSession, step_h: float, options: V2GOptions) -> bool:
    """The assumptions of the closed form (:mod:`ecodec.solvers.v2g_closed_form`, with step 5 for asymmetric
    activation) hold for this vehicle: lossless, robust policy, no baseline discharge, P_dis >= P_ch, energy bounds
    that cannot bind."""
    reach = session.slots * session.p_charge_kw * step_h
    return (session.eta_charge == session.eta_discharge == 1.0 and options.policy == "robust" and not options.baseline_discharge
            and session.p_discharge_kw >= session.p_charge_kw
            and session.e_init_kwh - options.activation_fraction * reach >= session.e_min_kwh
            and session.e_init_kwh + reach <= session.e_max_kwh)


def closed_form_boundary(session: VehicleSession, price: np.ndarray, step_h: float, options: V2GOptions) -> float:
    """The simplified case's boundary reserve price of one vehicle, applied to its own data (need E_ref - E_0,
    P_ch, prices of its window): alpha lambda+ for the robust policy; for the recourse policy the first-order
    cost of symmetric activation, rho alpha (lambda+ - lambda-) with rho the mean of the two probabilities (exact
    when it is 0, lambda+ = lambda-, the generic case; an upper bound otherwise)."""
    window, need = price[session.start:session.stop], session.e_target_kwh - session.e_init_kwh
    alpha = options.activation_fraction
    if options.policy == "robust":
        return boundary_reserve_price(window, need, session.p_charge_kw, step_h, alpha, _delta(options))
    rho = 0.5 * (options.up_probability + options.down_probability)
    spread = (marginal_energy_price(window, need, session.p_charge_kw, step_h)
              - last_energy_price(window, need, session.p_charge_kw, step_h))
    return math.inf if spread == math.inf else rho * alpha * spread


def _delta(options: V2GOptions) -> float:
    """E[a_k] = rho_up - rho_dn, the expected activation the closed form settles (step 5 of its derivation)."""
    return options.up_probability - options.down_probability


def default_reserve_prices(boundary: float, prices: list[np.ndarray], alpha: float) -> list[float]:
    """21 prices from 0 to 3 times the closed-form boundary (to 2 alpha times the highest energy price when the
    boundary is 0 or infinite)."""
    top = 3.0 * boundary if 0 < boundary < math.inf else 2.0 * alpha * max(float(np.max(p)) for p in prices)
    return [float(v) for v in np.linspace(0.0, top, DEFAULT_GRID_POINTS)]


def v2g_profitability(fleet, step_h: float, reserve_prices=None, options: V2GOptions | None = None, *,
                      case_name: str = "fleet", currency: str = "EUR") -> V2GProfitabilityResult:
    """The study of the module docstring on ``fleet`` (pairs of a VehicleSession and its price per slot, all
    over one grid of slots of ``step_h`` hours) at ``reserve_prices`` (default :func:`default_reserve_prices`)."""
    options = options or V2GOptions()
    started = time.perf_counter()
    fleet = [(s, np.asarray(p, dtype=float)) for s, p in fleet]
    if not fleet:
        raise EcodecError("the fleet is empty: expected at least one vehicle")
    T = max(p.size for _, p in fleet)
    activation = options.activation()
    scenarios = activation.sample(options.scenarios, T, options.seed, options.antithetic)
    alpha = activation.activation_fraction
    boundary_cf = min(closed_form_boundary(s, p, step_h, options) for s, p in fleet)
    prices = (default_reserve_prices(boundary_cf, [p for _, p in fleet], alpha) if reserve_prices is None
              else [float(v) for v in reserve_prices])
    if not prices or any(not math.isfinite(v) or v < 0 for v in prices):
        raise EcodecError(f"reserve prices {prices}: expected at least one finite price >= 0 (per kW and hour)")
    prices = sorted(prices)
    programs = [ReserveLP(s, p, step_h, scenarios, activation_fraction=alpha, policy=options.policy,
                          baseline_discharge=options.baseline_discharge) for s, p in fleet]
    charge_only = sum(lp.solve(0.0, reserve=False).profit_eur for lp in programs)
    rows = []
    for price in prices:
        solutions = [lp.solve(price) for lp in programs]
        rows.append([sum(getattr(x, k) for x in solutions)
                     for k in ("profit_eur", "reserve_revenue_eur", "energy_cost_eur", "band_kwh")])
        log.info("reserve price %g: fleet gain %.6g", price, rows[-1][0] - charge_only)
    profit, revenue, cost, band = (list(c) for c in zip(*rows))
    closed = [sum(closed_form_profit(p[s.start:s.stop], s.e_target_kwh - s.e_init_kwh, s.p_charge_kw, step_h, alpha,
                                     price, _delta(options)) for s, p in fleet) if options.policy == "robust" else None
              for price in prices]
    boundary_opt = _optimization_boundary(programs, charge_only, prices, profit)
    simplified = all(simplified_case_holds(s, step_h, options) for s, _ in fleet)
    notes = [] if simplified else ["the simplified case's assumptions do not all hold: the closed form is used as a "
                                   "prediction (lossless, energy bounds ignored)"]
    return V2GProfitabilityResult(
        case=case_name, vehicles=len(fleet), options=asdict(options), reserve_prices=prices, v2g_profit_eur=profit,
        reserve_revenue_eur=revenue, energy_cost_eur=cost, band_kwh=band, closed_form_profit_eur=closed,
        charge_only_profit_eur=charge_only, boundary_closed_form=boundary_cf, boundary_optimization=boundary_opt,
        simplified_case=simplified, runtime_s=time.perf_counter() - started, currency=currency, notes=notes)


def _optimization_boundary(programs, charge_only: float, prices: list[float], profit: list[float]) -> float:
    """The lowest reserve price at which the fleet's gain exceeds the tolerance, by bisection between the grid's
    last unprofitable and first profitable price (the gain does not decrease with the price); inf when even 8
    doublings past the grid's top are not profitable."""
    def gain(price: float) -> float:
        return sum(lp.solve(price).profit_eur for lp in programs) - charge_only

    above = [p for p, v in zip(prices, profit) if v - charge_only > PROFIT_TOLERANCE_EUR]
    low = max([p for p in prices if not above or p < above[0]] or [0.0])
    high = above[0] if above else None
    if high is not None and high == 0.0:
        return 0.0
    if high is None:
        high = max(prices[-1], 1e-6)
        for _ in range(8):
            high *= 2.0
            if gain(high) > PROFIT_TOLERANCE_EUR:
                break
        else:
            return math.inf
    if low == 0.0 and gain(0.0) > PROFIT_TOLERANCE_EUR:  # profitable at every price >= 0
        return 0.0
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if gain(middle) > PROFIT_TOLERANCE_EUR else (middle, high)
        if high - low <= 1e-7 * max(high, 1e-9):
            break
    return high


def v2g_profitability_case(path: str | Path, reserve_prices=None, options: V2GOptions | None = None
                           ) -> V2GProfitabilityResult:
    """:func:`v2g_profitability` on a fleet workbook (sheet 'evs')."""
    from ecodec.io.workbook import read_case

    options = options or V2GOptions()
    case = read_case(path)
    return v2g_profitability(fleet_from_case(case, options), case.step_h, reserve_prices, options,
                             case_name=case.name, currency=case.currency)


__all__ = ["V2GOptions", "closed_form_boundary", "default_reserve_prices", "fleet_from_case", "simplified_case_holds", "v2g_profitability",
           "v2g_profitability_case"]
