"""A multi-agent case checked against the same LP written independently as a matrix model for highspy.

The independent model uses no Pyomo and no ecodec model code.  It is formulated differently from ecodec:

* the microturbine is its electrical output x_t alone, at a per-kWh cost computed here by hand from the
  fuel-tax split (fuel, primary energy and the split variables are eliminated);
* the boiler is its heat output alone, at E + C / eta per kWh of heat (primary energy eliminated);
* the grid and storage power-range rows are dropped: with p_min <= 0 <= p_max they are implied by the bounds
  0 <= p_in <= p_max, 0 <= p_out <= -p_min (same for charge/discharge);
* the final-energy floor is a lower bound on e_T instead of a row;
* the reactive-power rows are left out: every reactive range and rhs is 0, so they only fix q = 0.

Microturbine cost per kWh_el (eta_el = 0.30, lhv = 9.5 kWh/Sm3, beta = 0.25 Sm3/kWh, ff = 0.4,
K_utx = 0.45, K_tx = 0.65, C = 0.02 per kWh_pe):
    fuel        1 / (0.30 * 9.5)        = 0.350877 Sm3
    untaxed     (1 - 0.4) * 0.25        = 0.15 Sm3
    taxed       0.350877 - 0.15         = 0.200877 Sm3
    emission    0.02 / 0.30             = 0.066667
    c_mt = 0.15 * 0.45 + 0.200877 * 0.65 + 0.066667 = 0.0675 + 0.130570 + 0.066667 = 0.264737
Boiler cost per kWh_th: 0.005 + 0.08 / 0.9 = 0.093889.

Sign convention of the prices: for a minimization HiGHS reports row_dual = d(objective) / d(row bound) (one
more kW of load on an active-power row raises the cost by row_dual); ecodec's price is that derivative divided
by Delta.  The test confirms the convention, and that each compared price is unique, by re-solving the
independent model with the load (or heat lower end) moved by +-h: both one-sided slopes equal row_dual / Delta
(an LP price is unique exactly when the left and right derivatives agree).
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from conftest import make_problem, prices

from ecodec.decomposition.centralized import solve_centralized
from ecodec.models import Boiler, Grid, Microturbine, Renewable, Storage

T, DELTA = 4, 0.5
LOAD = np.array([20.0, 30.0, 40.0, 25.0])
HEAT_LO = np.array([30.0, 20.0, 10.0, 40.0])
HEAT_HI = HEAT_LO + 30.0
PV_CAP, PV_AVAIL = 30.0, np.array([0.2, 0.8, 1.0, 0.1])
BUY = np.array([0.12, 0.30, 0.35, 0.18])
SELL = np.array([0.04, 0.08, 0.10, 0.05])
GRID_IMPORT_MAX, GRID_EXPORT_MAX = 25.0, 20.0
MT_MAX, MU = 15.0, 1.6
MT = dict(eta_el=0.30, lhv=9.5, beta=0.25, ff=0.4, k_utx=0.45, k_tx=0.65, c=0.02)
BOILER_MAX, BOILER_ETA, BOILER_FUEL, BOILER_OM = 60.0, 0.9, 0.08, 0.005
ST = dict(e_init=10.0, e_min=5.0, e_max=40.0, p_ch=12.0, p_dis=12.0, eta_ch=0.95, eta_dis=0.92, a=0.99, e_final=10.0)

# Hand-derived per-kWh costs (module docstring).
MT_FUEL = 1.0 / (MT["eta_el"] * MT["lhv"])
MT_UNTAXED = (1.0 - MT["ff"]) * MT["beta"]
C_MT = MT_UNTAXED * MT["k_utx"] + (MT_FUEL - MT_UNTAXED) * MT["k_tx"] + MT["c"] / MT["eta_el"]
C_BOILER = BOILER_OM + BOILER_FUEL / BOILER_ETA


def ecodec_problem():
    agents = [
        Microturbine("mt", p_min_kw=0.0, p_max_kw=MT_MAX, eta_el=MT["eta_el"], heat_to_power_ratio=MU,
                     lhv_kwh_per_sm3=MT["lhv"], beta_sm3_per_kwh=MT["beta"], ff=MT["ff"],
                     fuel_price_untaxed_per_sm3=MT["k_utx"], fuel_price_taxed_per_sm3=MT["k_tx"],
                     emission_cost_per_kwh_pe=MT["c"]),
        Renewable("pv", carrier="electric", capacity_kw=PV_CAP, availability_pu=PV_AVAIL),
        Storage("bat", p_min_kw=-ST["p_dis"], p_max_kw=ST["p_ch"], e_min_kwh=ST["e_min"], e_max_kwh=ST["e_max"],
                e_init_kwh=ST["e_init"], e_final_min_kwh=ST["e_final"], decay_per_step=ST["a"],
                eta_charge=ST["eta_ch"], eta_discharge=ST["eta_dis"]),
        Grid("grid", p_min_kw=-GRID_EXPORT_MAX, p_max_kw=GRID_IMPORT_MAX, buy_price_per_kwh=BUY,
             sell_price_per_kwh=SELL),
        Boiler("boiler", p_th_max_kw=BOILER_MAX, eta=BOILER_ETA, fuel_cost_per_kwh_pe=BOILER_FUEL,
               om_cost_per_kwh_th=BOILER_OM),
    ]
    return make_problem(agents, DELTA, active_power=LOAD, reactive_power=np.zeros(T), heat=(HEAT_LO, HEAT_HI))


# Columns per step: x (turbine kW_el), pv, ch, dis, e (energy at the end of the step), g_in, g_out, b (boiler kW_th).
COLS = ("x", "pv", "ch", "dis", "e", "g_in", "g_out", "b")


def col(name, t):
    return t * len(COLS) + COLS.index(name)


def solve_independent(load=LOAD, heat_lo=HEAT_LO):
    """The LP as matrices: returns (objective, active-power row duals, heat row duals), duals unscaled."""
    n = len(COLS) * T
    lower, upper, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    for t in range(T):
        bounds = {
            "x": (0.0, MT_MAX, DELTA * C_MT),
            "pv": (0.0, PV_CAP * PV_AVAIL[t], 0.0),
            "ch": (0.0, ST["p_ch"], 0.0),
            "dis": (0.0, ST["p_dis"], 0.0),
            "e": (max(ST["e_min"], ST["e_final"]) if t == T - 1 else ST["e_min"], ST["e_max"], 0.0),
            "g_in": (0.0, GRID_IMPORT_MAX, DELTA * BUY[t]),
            "g_out": (0.0, GRID_EXPORT_MAX, -DELTA * SELL[t]),
            "b": (0.0, BOILER_MAX, DELTA * C_BOILER),
        }
        for name, (lo, hi, c) in bounds.items():
            lower[col(name, t)], upper[col(name, t)], cost[col(name, t)] = lo, hi, c

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.addVars(n, lower, upper)
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)

    def add_row(lo, hi, entries):
        idx = np.array([i for i, _ in entries], dtype=np.int32)
        val = np.array([v for _, v in entries], dtype=float)
        h.addRow(lo, hi, len(entries), idx, val)

    for t in range(T):  # rows 0..T-1: x + pv - ch + dis + g_in - g_out = load
        add_row(load[t], load[t], [(col("x", t), 1.0), (col("pv", t), 1.0), (col("ch", t), -1.0),
                                   (col("dis", t), 1.0), (col("g_in", t), 1.0), (col("g_out", t), -1.0)])
    for t in range(T):  # rows T..2T-1: heat_lo <= mu x + b <= heat_hi
        add_row(heat_lo[t], HEAT_HI[t], [(col("x", t), MU), (col("b", t), 1.0)])
    for t in range(T):  # e_t - a e_{t-1} - Delta eta_ch ch_t + Delta / eta_dis dis_t = (a e_init if t == 0)
        entries = [(col("e", t), 1.0), (col("ch", t), -DELTA * ST["eta_ch"]), (col("dis", t), DELTA / ST["eta_dis"])]
        rhs = ST["a"] * ST["e_init"] if t == 0 else 0.0
        if t > 0:
            entries.append((col("e", t - 1), -ST["a"]))
        add_row(rhs, rhs, entries)

    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    duals = np.array(h.getSolution().row_dual)
    return h.getInfo().objective_function_value, duals[:T], duals[T:2 * T]


def test_hand_costs():
    """The per-kWh costs in the module docstring, to the digits shown there."""
    assert C_MT == pytest.approx(0.264737, abs=1e-6)
    assert C_BOILER == pytest.approx(0.093889, abs=1e-6)


def test_objective_matches_independent_formulation():
    ref_objective, _, _ = solve_independent()
    result = solve_centralized(ecodec_problem())
    assert result.status == "optimal", result.info.get("message")
    assert result.info["problem_class"] == "LP"
    assert result.objective == pytest.approx(ref_objective, rel=1e-6)
    assert result.agent_costs["cost"].sum() == pytest.approx(ref_objective, rel=1e-6)


def test_prices_match_independent_formulation():
    """Active-power and heat prices: ecodec's dual / Delta against highspy's row_dual / Delta.

    Each compared price is first shown to be unique (and the sign convention right) in the independent model:
    moving the load (heat lower end) at step t by +-h changes the objective by h * row_dual on both sides.
    The heat lower end binds at every step of this case (checked: the cost rises when it is raised).
    """
    ref_objective, active_duals, heat_duals = solve_independent()
    h = 1e-3
    for t in range(T):
        for base, duals, kw in ((LOAD, active_duals, "load"), (HEAT_LO, heat_duals, "heat_lo")):
            up, down = base.copy(), base.copy()
            up[t] += h
            down[t] -= h
            slope_up = (solve_independent(**{kw: up})[0] - ref_objective) / h
            slope_down = (ref_objective - solve_independent(**{kw: down})[0]) / h
            assert slope_up == pytest.approx(duals[t], abs=1e-6), (kw, t)
            assert slope_down == pytest.approx(duals[t], abs=1e-6), (kw, t)
            if kw == "heat_lo":
                assert duals[t] > 1e-3  # the lower end binds

    result = solve_centralized(ecodec_problem())
    assert result.status == "optimal", result.info.get("message")
    np.testing.assert_allclose(prices(result, "active_power"), active_duals / DELTA, rtol=0, atol=1e-6)
    np.testing.assert_allclose(prices(result, "heat"), heat_duals / DELTA, rtol=0, atol=1e-6)
    # Not all prices are the grid's buy price: the turbine and storage set some of them.
    assert not np.allclose(active_duals / DELTA, BUY)
