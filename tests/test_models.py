"""Agent models solved centrally on tiny cases whose optimum is derived by hand in each docstring.

Conventions used in the derivations: every coupling row reads "sum of injections = rhs" (the load), the grid
injects its import p = p_in - p_out, a storage injects -p (p > 0 charging); costs are Delta * sum_t (...)
with Delta = step_h.  A price is the dual of a coupling row divided by Delta, i.e. d(total cost)/d(load
energy) in currency/kWh.  A price is asserted only where it is unique: some variable that enters the row
with a known marginal cost is strictly between its bounds, so its reduced cost is zero in every optimal dual
(complementary slackness with the unique primal optimum), or the one-sided marginal costs are shown equal.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import agent_cost, make_problem, prices, quantities, series
from pyomo.core.expr.visitor import identify_variables

from ecodec.decomposition.centralized import solve_centralized
from ecodec.models import Boiler, Grid, Microturbine, Renewable, Storage

ATOL = 1e-6


def close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=0, atol=atol)


def solve_ok(problem):
    result = solve_centralized(problem)
    assert result.status == "optimal", result.info.get("message")
    return result


# --------------------------------------------------------------------------------------------------------------
# 1. Storage
# --------------------------------------------------------------------------------------------------------------

def storage_with_grid(storage, grid_p_max, load, step_h=1.0, buy=(0.10, 0.30, 0.20)):
    grid = Grid("grid", p_min_kw=-20.0, p_max_kw=grid_p_max, buy_price_per_kwh=np.array(buy),
                sell_price_per_kwh=0.0)
    T = len(load)
    return make_problem([storage, grid], step_h, active_power=load, reactive_power=np.zeros(T))


def test_storage_arbitrage_energy_and_power_limits():
    """Storage arbitrage; the energy limit binds when charging, the power limit when discharging.

    Data: Delta = 1 h, load 10 kW at each step, buy B = [0.10, 0.30, 0.20], sell 0, grid p in [-20, 20].
    Storage: e_init = 0, e in [0, 7.2] kWh, charge <= 10 kW, discharge <= 5 kW, eta_ch = 0.9, eta_dis = 0.8.

    Value of a stored kWh: 0.8 * 0.30 = 0.24 at t2, 0.8 * 0.20 = 0.16 at t3; it costs 0.10 / 0.9 = 0.111
    charged at t1 (0.30 / 0.9 and 0.20 / 0.9 at t2, t3: too dear).  So charge at t1 until e_max:
    p_ch1 * 0.9 = 7.2  ->  p_ch1 = 8 kW (below its 10 kW limit).
    Discharge first at t2 (0.24 > 0.16) up to the 5 kW power limit: drains 5 / 0.8 = 6.25 kWh, e2 = 0.95.
    The rest at t3: 0.95 * 0.8 = 0.76 kW, e3 = 0.
    Grid: [10 + 8, 10 - 5, 10 - 0.76] = [18, 5, 9.24] kW.
    Cost: 18 * 0.10 + 5 * 0.30 + 9.24 * 0.20 = 1.8 + 1.5 + 1.848 = 5.148
    (no storage: 10 * 0.6 = 6.0; saving 5 * 0.30 + 0.76 * 0.20 - 8 * 0.10 = 0.852 = 6.0 - 5.148).

    Prices: the grid import is strictly inside (0, 20) at every step, so its reduced cost B_t - lambda_t is 0:
    lambda = [0.10, 0.30, 0.20].
    """
    bat = Storage("bat", p_min_kw=-5.0, p_max_kw=10.0, e_min_kwh=0.0, e_max_kwh=7.2, e_init_kwh=0.0,
                  eta_charge=0.9, eta_discharge=0.8)
    r = solve_ok(storage_with_grid(bat, grid_p_max=20.0, load=[10.0, 10.0, 10.0]))
    close(series(r, "bat", "p_charge"), [8.0, 0.0, 0.0])
    close(series(r, "bat", "p_discharge"), [0.0, 5.0, 0.76])
    close(series(r, "bat", "p"), [8.0, -5.0, -0.76])
    close(series(r, "bat", "e_end"), [7.2, 0.95, 0.0])
    close(series(r, "grid", "p"), [18.0, 5.0, 9.24])
    assert r.objective == pytest.approx(5.148, abs=ATOL)
    assert agent_cost(r, "bat") == pytest.approx(0.0, abs=ATOL)
    close(prices(r, "active_power"), [0.10, 0.30, 0.20])


def test_storage_sets_the_price_when_the_grid_is_saturated():
    """Same storage and prices, but the grid import is capped at 15 kW: the storage sets the price at t1.

    t1: grid at its cap 15 kW, so p_ch1 = 15 - 10 = 5 kW, stored 0.9 * 5 = 4.5 kWh (< 7.2).
    t2: discharge all of it (0.30 beats 0.20): 4.5 * 0.8 = 3.6 kW (< 5 kW), e2 = 0; grid 6.4 kW.
    t3: storage empty, grid 10 kW.
    Cost: 15 * 0.10 + 6.4 * 0.30 + 10 * 0.20 = 1.5 + 1.92 + 2.0 = 5.42.

    Price at t1 (grid at its bound, so not the grid's 0.10): one more kWh of load at t1 means one kWh less
    charged, 0.9 kWh less stored, 0.9 * 0.8 = 0.72 kWh less delivered at t2, bought instead at 0.30:
    lambda_1 = 0.72 * 0.30 = 0.216.  One kWh less load lets the storage charge 1 kWh more (room: 5 + 1 <= 10 kW,
    4.5 + 0.9 <= 7.2 kWh, 3.6 + 0.72 <= 5 kW at t2) and saves the same 0.216 (better than importing 1 kWh
    less at 0.10), so the price is unique.  t2, t3: grid strictly inside (0, 15): 0.30, 0.20.
    """
    bat = Storage("bat", p_min_kw=-5.0, p_max_kw=10.0, e_min_kwh=0.0, e_max_kwh=7.2, e_init_kwh=0.0,
                  eta_charge=0.9, eta_discharge=0.8)
    r = solve_ok(storage_with_grid(bat, grid_p_max=15.0, load=[10.0, 10.0, 10.0]))
    close(series(r, "bat", "p"), [5.0, -3.6, 0.0])
    close(series(r, "bat", "e_end"), [4.5, 0.0, 0.0])
    close(series(r, "grid", "p_import"), [15.0, 6.4, 10.0])
    assert r.objective == pytest.approx(5.42, abs=ATOL)
    close(prices(r, "active_power"), [0.216, 0.30, 0.20])


def test_storage_decay_and_final_energy_floor():
    """Decay a = 0.9 per step and a final floor e_T >= 9 kWh force charging; Delta = 0.5 h.

    No load and no export (grid p in [0, 20]), so the storage can only charge, from the grid:
    B = [0.10, 0.12, 0.20].  Storage: e_init = 10, e in [0, 20], |p| <= 4 kW, eta_ch = 0.8.
    Left alone: e = 10 * 0.9^3 = 7.29 at the end; missing 9 - 7.29 = 1.71 kWh.
    End energy per kW charged at step k (stored 0.8 * 0.5 = 0.4 kWh, then decayed):
      t1: 0.4 * 0.81 = 0.324 kWh for 0.5 * 0.10 = 0.05  -> 0.1543 per end kWh
      t2: 0.4 * 0.9  = 0.36  kWh for 0.5 * 0.12 = 0.06  -> 0.1667
      t3: 0.4        = 0.4   kWh for 0.5 * 0.20 = 0.10  -> 0.25
    t1 first, at its 4 kW limit (1.71 / 0.324 = 5.28 > 4): 4 * 0.324 = 1.296 kWh;
    the remaining 1.71 - 1.296 = 0.414 kWh at t2: 0.414 / 0.36 = 1.15 kW.
    e1 = 0.9 * 10 + 0.4 * 4 = 10.6;  e2 = 0.9 * 10.6 + 0.4 * 1.15 = 9.54 + 0.46 = 10.0;  e3 = 0.9 * 10 = 9.0.
    Cost = 0.5 * (0.10 * 4 + 0.12 * 1.15) = 0.5 * 0.538 = 0.269.

    Prices at t1, t2: grid import strictly inside (0, 20): 0.10 and 0.12.  (t3 is not asserted: the grid sits
    at 0 and the storage at the kink between charging and discharging, so the dual is not unique.)
    """
    bat = Storage("bat", p_min_kw=-4.0, p_max_kw=4.0, e_min_kwh=0.0, e_max_kwh=20.0, e_init_kwh=10.0,
                  e_final_min_kwh=9.0, decay_per_step=0.9, eta_charge=0.8, eta_discharge=1.0)
    grid = Grid("grid", p_min_kw=0.0, p_max_kw=20.0, buy_price_per_kwh=np.array([0.10, 0.12, 0.20]),
                sell_price_per_kwh=0.0)
    r = solve_ok(make_problem([bat, grid], 0.5, active_power=np.zeros(3), reactive_power=np.zeros(3)))
    close(series(r, "bat", "p_charge"), [4.0, 1.15, 0.0])
    close(series(r, "bat", "p_discharge"), [0.0, 0.0, 0.0])
    close(series(r, "bat", "e_end"), [10.6, 10.0, 9.0])
    assert r.objective == pytest.approx(0.269, abs=ATOL)
    close(prices(r, "active_power")[:2], [0.10, 0.12])


# --------------------------------------------------------------------------------------------------------------
# 2-4. Microturbine
# --------------------------------------------------------------------------------------------------------------

def microturbine(name="mt", *, ff=0.5, p_min=0.0, p_max=10.0, mu=2.0, k_utx=0.5, k_tx=0.8, c=0.01,
                 commitment=False, **extra):
    """eta_el = 0.25, lhv = 10 kWh/Sm3, beta = 0.2 Sm3/kWh: fuel 1 / (0.25 * 10) = 0.4 Sm3 and p_pe = 4 kWh
    per kWh of electricity."""
    return Microturbine(name, p_min_kw=p_min, p_max_kw=p_max, eta_el=0.25, heat_to_power_ratio=mu,
                        lhv_kwh_per_sm3=10.0, beta_sm3_per_kwh=0.2, ff=ff, fuel_price_untaxed_per_sm3=k_utx,
                        fuel_price_taxed_per_sm3=k_tx, emission_cost_per_kwh_pe=c, commitment=commitment,
                        **extra)


def test_microturbine_boiler_heat_split():
    """A CHP microturbine against a boiler and the grid; Delta = 1 h, T = 2.

    Microturbine per kWh_el (ff = 0.5): untaxed fuel (1 - 0.5) * 0.2 = 0.1 Sm3, taxed 0.4 - 0.1 = 0.3 Sm3,
    primary energy 1 / 0.25 = 4 kWh:  0.1 * 0.5 + 0.3 * 0.8 + 4 * 0.01 = 0.05 + 0.24 + 0.04 = 0.33,
    and it gives mu = 2 kWh of heat.  Boiler per kWh_th: 0.01 + 0.09 / 0.9 = 0.11.  Grid: 0.25 (sell 0).
    One more kWh_el from the turbine: saves the grid (0.25, while it covers the load) and two boiler kWh
    (0.22, while heat is below its lower end): 0.47 > 0.33; either saving alone (0.25 or 0.22) < 0.33.
    So the turbine runs at min(load, heat_lower / 2):
      t1: load 8, heat in [10, 30]: x = min(8, 5) = 5; heat 10, boiler 0, grid 3.
      t2: load 4, heat in [20, 40]: x = min(4, 10) = 4; heat 8, boiler 12, grid 0.
    Cost: t1 5 * 0.33 + 3 * 0.25 = 2.40;  t2 4 * 0.33 + 12 * 0.11 = 2.64;  total 5.04
    (turbine 2.97, boiler 1.32, grid 0.75).

    Prices.  t1: grid import 3 inside (0, 50): electricity 0.25; turbine inside (0, 10), so
    0.33 = 0.25 + 2 * heat price: heat 0.04 (one more kWh of heat: 0.5 kWh_el more from the turbine, 0.5
    less from the grid: 0.5 * (0.33 - 0.25) = 0.04; the boiler's 0.11 is dearer).
    t2: boiler 12 inside (0, 50): heat 0.11; turbine inside (0, 10): electricity 0.33 - 2 * 0.11 = 0.11.
    """
    mt = microturbine()
    boiler = Boiler("boiler", p_th_max_kw=50.0, eta=0.9, fuel_cost_per_kwh_pe=0.09, om_cost_per_kwh_th=0.01)
    grid = Grid("grid", p_min_kw=-50.0, p_max_kw=50.0, buy_price_per_kwh=0.25, sell_price_per_kwh=0.0)
    r = solve_ok(make_problem([mt, boiler, grid], 1.0, active_power=[8.0, 4.0], reactive_power=[0.0, 0.0],
                              heat=([10.0, 20.0], [30.0, 40.0])))
    close(series(r, "mt", "p_el"), [5.0, 4.0])
    close(series(r, "mt", "p_th"), [10.0, 8.0])
    close(series(r, "mt", "p_pe"), [20.0, 16.0])
    close(series(r, "mt", "fuel_untaxed"), [0.5, 0.4])
    close(series(r, "mt", "fuel_taxed"), [1.5, 1.2])
    close(series(r, "boiler", "p_th"), [0.0, 12.0])
    close(series(r, "grid", "p"), [3.0, 0.0])
    assert r.objective == pytest.approx(5.04, abs=ATOL)
    assert agent_cost(r, "mt") == pytest.approx(2.97, abs=ATOL)
    assert agent_cost(r, "boiler") == pytest.approx(1.32, abs=ATOL)
    assert agent_cost(r, "grid") == pytest.approx(0.75, abs=ATOL)
    close(prices(r, "active_power"), [0.25, 0.11])
    close(prices(r, "heat"), [0.04, 0.11])


@pytest.mark.parametrize("ff, fuel_untaxed, fuel_taxed, cost, price", [
    (0.0, [2.0, 1.2], [2.0, 1.2], 2.40, 0.30),
    (1.0, [0.0, 0.0], [4.0, 2.4], 2.88, 0.36),
])
def test_fuel_tax_split_ff0_vs_ff1(ff, fuel_untaxed, fuel_taxed, cost, price):
    """The turbine alone serves 10 kW then 6 kW, Delta = 0.5 h: energy E = (10 + 6) * 0.5 = 8 kWh_el.

    Fuel per kWh_el: 0.4 Sm3 in total; eligible for the untaxed rate beta = 0.2, of which ff is taxed anyway.
      ff = 0: untaxed 0.2, taxed 0.2 Sm3/kWh -> per-step Sm3/h: untaxed = taxed = [2.0, 1.2];
              per kWh 0.2 * 0.5 + 0.2 * 0.8 + 4 * 0.01 = 0.30;  cost 8 * 0.30 = 2.40.
      ff = 1: untaxed 0,   taxed 0.4 Sm3/kWh -> untaxed [0, 0], taxed [4.0, 2.4];
              per kWh 0.4 * 0.8 + 0.04 = 0.36;  cost 8 * 0.36 = 2.88.
    Difference 2.88 - 2.40 = beta * (K_tx - K_utx) * E = 0.2 * (0.8 - 0.5) * 8 = 0.48
    (asserted in test_fuel_tax_split_cost_difference).
    The turbine is the only electricity source and strictly inside (0, 20), the heat band [0, 100] is slack
    (heat 20 and 12), so the electricity price is the turbine's per-kWh cost: 0.30 or 0.36.
    """
    mt = microturbine(ff=ff, p_max=20.0)
    r = solve_ok(make_problem([mt], 0.5, active_power=[10.0, 6.0], heat=([0.0, 0.0], [100.0, 100.0])))
    close(series(r, "mt", "fuel_untaxed"), fuel_untaxed)
    close(series(r, "mt", "fuel_taxed"), fuel_taxed)
    units = set(r.dispatch.loc[r.dispatch["quantity"].isin(["fuel_untaxed", "fuel_taxed"]), "unit"])
    assert units == {"Sm3/h"}
    assert r.objective == pytest.approx(cost, abs=ATOL)
    close(prices(r, "active_power"), [price, price])
    close(prices(r, "heat"), [0.0, 0.0])


def test_fuel_tax_split_cost_difference():
    """ff = 1 costs beta * (K_tx - K_utx) * E = 0.2 * (0.8 - 0.5) * 8 = 0.48 more than ff = 0 (see above)."""
    def total(ff):
        mt = microturbine(ff=ff, p_max=20.0)
        return solve_ok(make_problem([mt], 0.5, active_power=[10.0, 6.0],
                                     heat=([0.0, 0.0], [100.0, 100.0]))).objective
    assert total(1.0) - total(0.0) == pytest.approx(0.48, abs=ATOL)


def commitment_case(commitment, **extra):
    """Turbine in [4, 10] kW at 0.4 Sm3 * 0.5 (ff = 1: all taxed, no emission cost) = 0.20 per kWh_el, heat
    free (band [0, 100]); grid buy 0.25, sell 0, |p| <= 50; load [6, 2, 8] kW; Delta = 1 h."""
    mt = microturbine(ff=1.0, p_min=4.0, p_max=10.0, mu=1.0, k_utx=0.3, k_tx=0.5, c=0.0, commitment=commitment,
                      **extra)
    grid = Grid("grid", p_min_kw=-50.0, p_max_kw=50.0, buy_price_per_kwh=0.25, sell_price_per_kwh=0.0)
    return make_problem([mt, grid], 1.0, active_power=[6.0, 2.0, 8.0], reactive_power=np.zeros(3),
                        heat=(np.zeros(3), np.full(3, 100.0)))


def test_microturbine_commitment_switches_off_below_p_min():
    """With commitment the turbine may be off (0) or within [4, 10].

    t1 (load 6): on at 6 costs 6 * 0.20 = 1.2 < grid 6 * 0.25 = 1.5 -> on.
    t2 (load 2 < p_min): on means at least 4 kW, the 2 kW surplus exported for nothing: 4 * 0.20 = 0.80 >
        grid 2 * 0.25 = 0.50 -> off, grid 2.
    t3 (load 8): on at 8: 1.6 < 2.0 -> on.
    Cost 1.2 + 0.5 + 1.6 = 3.3 (turbine 2.8, grid 0.5).  A MILP with 3 binaries; no duals, so prices are NaN.
    """
    r = solve_ok(commitment_case(True))
    assert r.info["problem_class"] == "MILP"
    assert r.info["n_integer_variables"] == 3
    close(series(r, "mt", "on"), [1.0, 0.0, 1.0])
    close(series(r, "mt", "p_el"), [6.0, 0.0, 8.0])
    close(series(r, "grid", "p"), [0.0, 2.0, 0.0])
    assert r.objective == pytest.approx(3.3, abs=ATOL)
    assert agent_cost(r, "mt") == pytest.approx(2.8, abs=ATOL)
    assert np.all(np.isnan(prices(r, "active_power")))


@pytest.mark.parametrize("startup_cost, on, start, cost", [
    (0.35, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 3.6),
    (0.25, [1.0, 0.0, 1.0], [0.0, 0.0, 1.0], 3.55),
])
def test_microturbine_startup_cost_can_keep_it_on_at_p_min(startup_cost, on, start, cost):
    """The commitment case, the turbine initially on, with a cost per start.

    Schedules (energy cost + starts; the turbine was on before t1, so only a later start is charged):
      on, on, on   (t2 at p_min 4, 2 kW exported for nothing)  1.2 + 0.8 + 1.6 = 3.6, no start
      on, off, on  1.2 + 0.5 + 1.6 = 3.3 + one start at t3
      on, off, off 1.2 + 0.5 + 2.0 = 3.7;   all off  1.5 + 0.5 + 2.0 = 4.0
      off, *, on   at least 1.5 + 0.5 + 1.6 = 3.6 + one start
    Staying on at t2 costs 0.8 - 0.5 = 0.30 more than switching off, so with a start cost of 0.35 the turbine
    stays on (3.6 < 3.65), with 0.25 it switches off and restarts (3.55 < 3.6).
    """
    r = solve_ok(commitment_case(True, startup_cost=startup_cost, initially_on=True))
    close(series(r, "mt", "on"), on)
    close(series(r, "mt", "start"), start)
    assert r.objective == pytest.approx(cost, abs=ATOL)


def test_microturbine_start_output_counts_starts_without_startup_cost():
    """The reported 'start' must be the starts implied by 'on', also when starts cost nothing.

    The commitment case (start cost 0, initially off) has on = [1, 0, 1] (derived above), so the turbine starts
    at t1 (off before -> on) and t3 (off at t2 -> on), not at t2: start = [1, 0, 1].
    """
    r = solve_ok(commitment_case(True))
    close(series(r, "mt", "on"), [1.0, 0.0, 1.0])
    close(series(r, "mt", "start"), [1.0, 0.0, 1.0])


def test_microturbine_without_commitment_p_min_is_a_hard_floor():
    """Same case without commitment: p_el >= 4 always, so at t2 the turbine makes 4 and exports 2 at 0.

    Cost 6 * 0.20 + 4 * 0.20 + 8 * 0.20 = 3.6.  An LP, no 'on' output.
    Prices: t1, t3 the turbine is inside (4, 10): 0.20; t2 the export 2 is inside (0, 50): the sell price 0.
    """
    r = solve_ok(commitment_case(False))
    assert r.info["problem_class"] == "LP"
    assert r.info["n_integer_variables"] == 0
    assert "on" not in quantities(r, "mt")
    close(series(r, "mt", "p_el"), [6.0, 4.0, 8.0])
    close(series(r, "grid", "p_export"), [0.0, 2.0, 0.0])
    assert r.objective == pytest.approx(3.6, abs=ATOL)
    close(prices(r, "active_power"), [0.20, 0.0, 0.20])


# --------------------------------------------------------------------------------------------------------------
# 5. Renewable
# --------------------------------------------------------------------------------------------------------------

def test_renewable_electric_curtailment_and_reactive_range():
    """PV 20 kW x availability [0.5, 1.0] = [10, 20] kW available; load [8, 5]; Delta = 0.5 h.

    Grid: buy 0.20, sell 0.05 > 0 (so exporting beats curtailing), export limited to 6 kW (p_min = -6).
      t1: PV 10, export 2, nothing curtailed.
      t2: export at its 6 kW limit: PV = 5 + 6 = 11, curtailed 20 - 11 = 9.
    Cost = 0.5 * (-0.05 * 2 - 0.05 * 6) = -0.2.
    Prices: t1 export 2 inside (0, 6): the sell price 0.05; t2 the free PV is inside (0, 20): 0.

    Reactive: PV q in [-3, 3], grid q in [-1, 1], reactive rhs [4, -4]: only the extremes fit, so
    PV q = [3, -3], grid q = [1, -1].
    """
    pv = Renewable("pv", carrier="electric", capacity_kw=20.0, availability_pu=np.array([0.5, 1.0]),
                   q_min_kvar=-3.0, q_max_kvar=3.0)
    grid = Grid("grid", p_min_kw=-6.0, p_max_kw=20.0, buy_price_per_kwh=0.20, sell_price_per_kwh=0.05,
                q_min_kvar=-1.0, q_max_kvar=1.0)
    r = solve_ok(make_problem([pv, grid], 0.5, active_power=[8.0, 5.0], reactive_power=[4.0, -4.0]))
    close(series(r, "pv", "p_available"), [10.0, 20.0])
    close(series(r, "pv", "p"), [10.0, 11.0])
    close(series(r, "pv", "p_available") - series(r, "pv", "p"), [0.0, 9.0])
    close(series(r, "grid", "p_export"), [2.0, 6.0])
    assert r.objective == pytest.approx(-0.2, abs=ATOL)
    close(prices(r, "active_power"), [0.05, 0.0])
    close(series(r, "pv", "q"), [3.0, -3.0])
    close(series(r, "grid", "q"), [1.0, -1.0])


def test_renewable_reactive_range_too_small_is_infeasible():
    """Reactive rhs 5 > PV 3 + grid 1 = 4 kvar: no dispatch meets the reactive balance."""
    pv = Renewable("pv", carrier="electric", capacity_kw=20.0, availability_pu=1.0, q_min_kvar=-3.0, q_max_kvar=3.0)
    grid = Grid("grid", p_min_kw=-6.0, p_max_kw=20.0, buy_price_per_kwh=0.20, sell_price_per_kwh=0.05,
                q_min_kvar=-1.0, q_max_kvar=1.0)
    r = solve_centralized(make_problem([pv, grid], 1.0, active_power=[5.0], reactive_power=[5.0]))
    assert r.status == "infeasible"
    assert "'reactive_power'" in r.info["message"]


@pytest.mark.parametrize("solar_cost, solar_kw, boiler_kw, solar_cost_total, total", [
    (0.0, [8.0, 8.0], [2.0, 2.0], 0.0, 0.4),
    (np.array([0.05, 0.15]), [8.0, 0.0], [2.0, 10.0], 0.4, 1.6),
])
def test_solar_thermal_displaces_boiler_and_its_cost_changes_merit_order(solar_cost, solar_kw, boiler_kw,
                                                                        solar_cost_total, total):
    """Solar thermal (8 kW available) and a boiler (0.09 / 0.9 = 0.10 per kWh_th) meet heat in [10, 30].

    Free solar: all 8 kW used, boiler 2 kW; cost 2 * 2 * 0.10 = 0.4.
    Solar at [0.05, 0.15] per kWh: cheaper than the boiler at t1 (8 solar + 2 boiler), dearer at t2
    (boiler 10): cost 8 * 0.05 + 2 * 0.10 + 10 * 0.10 = 0.4 + 0.2 + 1.0 = 1.6 (solar 0.4).
    The boiler is inside (0, 20) everywhere: heat price 0.10.  A thermal source has no reactive output.
    """
    solar = Renewable("solar_th", carrier="thermal", capacity_kw=8.0, availability_pu=1.0, cost_per_kwh=solar_cost)
    b = Boiler("boiler", p_th_max_kw=20.0, eta=0.9, fuel_cost_per_kwh_pe=0.09)
    r = solve_ok(make_problem([solar, b], 1.0, heat=([10.0, 10.0], [30.0, 30.0])))
    close(series(r, "solar_th", "p"), solar_kw)
    close(series(r, "boiler", "p_th"), boiler_kw)
    assert agent_cost(r, "solar_th") == pytest.approx(solar_cost_total, abs=ATOL)
    assert r.objective == pytest.approx(total, abs=ATOL)
    close(prices(r, "heat"), [0.10, 0.10])
    assert "q" not in quantities(r, "solar_th")


# --------------------------------------------------------------------------------------------------------------
# 6. Grid
# --------------------------------------------------------------------------------------------------------------

def pv_grid_case(sell):
    """PV 12 kW x availability [1/3, 1] = [4, 12] kW, load 6 kW, grid |p| <= 10, buy 0.20; Delta = 0.5 h."""
    pv = Renewable("pv", carrier="electric", capacity_kw=12.0, availability_pu=np.array([1.0 / 3.0, 1.0]))
    grid = Grid("grid", p_min_kw=-10.0, p_max_kw=10.0, buy_price_per_kwh=0.20, sell_price_per_kwh=np.array(sell))
    return make_problem([pv, grid], 0.5, active_power=[6.0, 6.0], reactive_power=[0.0, 0.0])


def test_grid_buy_sell_split_and_export_price():
    """Sell 0.05 < buy 0.20: an LP.  t1 PV 4: import 2; t2 PV 12: export 6.

    Cost 0.5 * (0.20 * 2 - 0.05 * 6) = 0.5 * 0.1 = 0.05.
    Prices: t1 import 2 inside (0, 10): 0.20; t2 export 6 inside (0, 10): the sell price 0.05.
    """
    r = solve_ok(pv_grid_case([0.05, 0.05]))
    assert r.info["problem_class"] == "LP"
    close(series(r, "grid", "p_import"), [2.0, 0.0])
    close(series(r, "grid", "p_export"), [0.0, 6.0])
    close(series(r, "grid", "p"), [2.0, -6.0])
    assert r.objective == pytest.approx(0.05, abs=ATOL)
    close(prices(r, "active_power"), [0.20, 0.05])


def test_grid_binary_when_sell_price_exceeds_buy_price():
    """Sell [0.05, 0.30], buy 0.20: at t2 selling pays more than buying costs.

    Without a binary the LP would buy 4 and sell 10 at t2 (p = 4 - 10 = -6): 0.5 * (0.20 * 4 - 0.30 * 10)
    = -1.1.  With it (only at t2, where S > B: one binary): sell only, p_export = 12 - 6 = 6:
    0.5 * (-0.30 * 6) = -0.9 (buying only would at best curtail PV to 6 and pay 0).
    t1 as before: import 2, 0.5 * 0.20 * 2 = 0.2.  Total 0.2 - 0.9 = -0.7.
    """
    r = solve_ok(pv_grid_case([0.05, 0.30]))
    assert r.info["problem_class"] == "MILP"
    assert r.info["n_integer_variables"] == 1
    p_in, p_out = series(r, "grid", "p_import"), series(r, "grid", "p_export")
    assert p_in[1] * p_out[1] == pytest.approx(0.0, abs=ATOL)
    close(p_in, [2.0, 0.0])
    close(p_out, [0.0, 6.0])
    assert r.objective == pytest.approx(-0.7, abs=ATOL)


# --------------------------------------------------------------------------------------------------------------
# 7. Boiler
# --------------------------------------------------------------------------------------------------------------

def test_boiler_efficiency_and_cost():
    """Boiler eta = 0.8, E = 0.02 per kWh_th, C = [0.06, 0.08] per kWh_pe, heat == [5, 8] kW, Delta = 0.5 h.

    p_pe = p_th / 0.8 = [6.25, 10].
    Cost = 0.5 * ((0.02 * 5 + 0.06 * 6.25) + (0.02 * 8 + 0.08 * 10)) = 0.5 * (0.475 + 0.96) = 0.7175.
    Heat price (boiler inside (0, 20), the only source): E + C / eta = [0.02 + 0.075, 0.02 + 0.10] = [0.095, 0.12].
    """
    b = Boiler("boiler", p_th_max_kw=20.0, eta=0.8, fuel_cost_per_kwh_pe=np.array([0.06, 0.08]),
               om_cost_per_kwh_th=0.02)
    r = solve_ok(make_problem([b], 0.5, heat=[5.0, 8.0]))
    close(series(r, "boiler", "p_th"), [5.0, 8.0])
    close(series(r, "boiler", "p_pe"), [6.25, 10.0])
    assert r.objective == pytest.approx(0.7175, abs=ATOL)
    assert agent_cost(r, "boiler") == pytest.approx(0.7175, abs=ATOL)
    close(prices(r, "heat"), [0.095, 0.12])


# --------------------------------------------------------------------------------------------------------------
# 8. Locality of every agent's terms
# --------------------------------------------------------------------------------------------------------------

def _is_within(block, ancestor) -> bool:
    while block is not None:
        if block is ancestor:
            return True
        block = block.parent_block()
    return False


def test_agent_terms_use_only_own_variables():
    """Each agent's cost and contributions may only involve variables declared on its own block.

    Every kind is present (two storages and two renewables, so a mix-up between agents of the same kind would
    show), with the optional parts switched on: commitment binaries and start costs, the grid's exclusive-step
    binary (sell > buy at t2), a final-energy floor.  Every contribution must also contain at least one variable.
    """
    T = 3
    agents = [
        microturbine("mt", p_min=2.0, commitment=True, startup_cost=0.1),
        Renewable("pv", carrier="electric", capacity_kw=10.0, availability_pu=np.array([0.2, 0.5, 0.9]),
                  q_min_kvar=-1.0, q_max_kvar=1.0),
        Renewable("solar_th", carrier="thermal", capacity_kw=5.0, availability_pu=0.7, cost_per_kwh=0.01),
        Storage("bat1", p_min_kw=-5.0, p_max_kw=5.0, e_min_kwh=0.0, e_max_kwh=10.0, e_init_kwh=5.0,
                e_final_min_kwh=5.0, decay_per_step=0.99, eta_charge=0.9, eta_discharge=0.9),
        Storage("bat2", p_min_kw=-3.0, p_max_kw=3.0, e_min_kwh=0.0, e_max_kwh=6.0, e_init_kwh=1.0),
        Grid("grid", p_min_kw=-20.0, p_max_kw=20.0, buy_price_per_kwh=np.array([0.2, 0.2, 0.2]),
             sell_price_per_kwh=np.array([0.1, 0.3, 0.1]), q_min_kvar=-5.0, q_max_kvar=5.0),
        Boiler("boiler", p_th_max_kw=30.0, eta=0.9, fuel_cost_per_kwh_pe=0.08, om_cost_per_kwh_th=0.01),
    ]
    problem = make_problem(agents, 1.0, active_power=np.full(T, 5.0), reactive_power=np.zeros(T),
                           heat=(np.full(T, 5.0), np.full(T, 20.0)))
    built = problem.centralized_model()
    all_blocks = {a.name: built.block(a.name) for a in agents}
    for agent in agents:
        block = all_blocks[agent.name]
        terms = built.terms[agent.name]
        cost_vars = list(identify_variables(terms.cost, include_fixed=True))
        for v in cost_vars:
            assert _is_within(v.parent_block(), block), f"{agent.name} cost uses {v.name}"
        for resource, exprs in terms.contributions.items():
            assert len(exprs) == T
            for t, expr in enumerate(exprs):
                used = list(identify_variables(expr, include_fixed=True))
                assert used, f"{agent.name} contribution to {resource} at t={t} has no variable"
                for v in used:
                    assert _is_within(v.parent_block(), block), (
                        f"{agent.name} contribution to {resource} uses {v.name}")
    # Sanity of the check itself: a costly agent's cost does reference its variables.
    assert list(identify_variables(built.terms["grid"].cost))


# --------------------------------------------------------------------------------------------------------------
# 9. Infeasibility messages
# --------------------------------------------------------------------------------------------------------------

def test_infeasible_balance_names_resource_and_step():
    """Load [5, 30, 5] kW against PV 10 kW + grid import <= 10 kW: at most 20 kW, so step 2 is short by
    30 - 20 = 10 kW (a shortfall below the row's lower end); steps 1 and 3 are fine, and every agent is
    feasible alone."""
    pv = Renewable("pv", carrier="electric", capacity_kw=10.0, availability_pu=1.0)
    grid = Grid("grid", p_min_kw=0.0, p_max_kw=10.0, buy_price_per_kwh=0.2, sell_price_per_kwh=0.0)
    r = solve_centralized(make_problem([pv, grid], 1.0, active_power=[5.0, 30.0, 5.0], reactive_power=np.zeros(3)))
    assert r.status == "infeasible"
    assert r.objective is None
    message = r.info["message"]
    assert "'active_power'" in message
    assert "'reactive_power'" not in message
    assert "short" in message and "above" not in message  # a shortfall, not a surplus
    step_lists = re.findall(r"\bsteps? ([0-9][0-9, \-]*)", message)
    assert step_lists and all(s.strip(" ,") == "2" for s in step_lists), message
    assert re.search(r"\b10 kW\b", message), message


def test_unreachable_final_energy_names_the_storage():
    """Storage e_init = 0, charge <= 2 kW, Delta = 1 h, T = 2: at most 4 kWh at the end, floor 5 kWh."""
    bat = Storage("bat", p_min_kw=-2.0, p_max_kw=2.0, e_min_kwh=0.0, e_max_kwh=10.0, e_init_kwh=0.0,
                  e_final_min_kwh=5.0)
    grid = Grid("grid", p_min_kw=-10.0, p_max_kw=10.0, buy_price_per_kwh=0.2, sell_price_per_kwh=0.0)
    r = solve_centralized(make_problem([bat, grid], 1.0, active_power=[1.0, 1.0], reactive_power=[0.0, 0.0]))
    assert r.status == "infeasible"
    message = r.info["message"]
    assert "'bat'" in message
    assert "'grid'" not in message
