"""District cooling (ALGORITHMS_WAVE2.md section 5.2, ecodec's design): buildings with an RC zone and their own
chiller, a shared cold storage, a district chiller, and the grid's demand-dependent (convex) buy price.

Every expected number comes from a hand derivation, a closed form, a continuous-time solution or an independent
LP written here for highspy (no ecodec model code, a different formulation: the zone temperatures and the stored
cold are eliminated, each comfort and capacity limit becomes a row over the cooling decisions).
"""

from __future__ import annotations

import math

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from conftest import make_problem, series
from scipy.integrate import solve_ivp

from ecodec.case import AgentSpec, Case, ResourceSpec
from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import AgentError, ProblemError
from ecodec.io.workbook import read_case
from ecodec.models import Building, Chiller, ColdStorage, Grid, TimeGrid
from ecodec.problem import CoupledProblem
from ecodec.problem.from_case import problem_from_case
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.solvers.highs import solve_with_highs
from ecodec.study import run_case


# -- (a) one building, two steps, by hand -------------------------------------------------------------------------
def test_one_building_two_steps_matches_the_hand_derived_optimum():
    """One building (C = 4 kWh/K, R = 1 K/kW, Delta = 1 h, so a = exp(-1/4)), T_out = 35 degC, internal gains
    4 kW, T_0 = 24 degC, comfort band [22, 25] degC, its chiller up to 30 kW at COP 4 (no slope); a 5 kW
    electric load; the grid sells at 0.10 then 0.30 per kWh.

    Without cooling the zone heads for T_out + R Q_gain = 39 degC.  With u = 39:
        T_1 = a 24 + (1 - a)(u - Q_1),   T_2 = a T_1 + (1 - a)(u - Q_2)
    T_2 <= 25 needs Q_2 >= u - (25 - a T_1)/(1 - a); one more kW at step 1 lowers T_1 by (1 - a) and so the least
    Q_2 by a = 0.78.  It costs 0.10/4 per kW at step 1 and saves 0.30 a / 4 = 0.058 at step 2, so the building
    pre-cools until T_1 reaches t_min = 22:
        Q_1 = u - (22 - 24 a)/(1 - a) = 24.0416 kW  (<= 30: the chiller can),
        Q_2 = u - (25 - 22 a)/(1 - a) =  3.4376 kW  (> 0, so T_2 = 25 binds),
        cost = 0.10 (5 + Q_1/4) + 0.30 (5 + Q_2/4) = 2.858858.
    """
    a, u = math.exp(-0.25), 39.0
    q1 = u - (22.0 - 24.0 * a) / (1.0 - a)
    q2 = u - (25.0 - 22.0 * a) / (1.0 - a)
    cost = 0.10 * (5.0 + q1 / 4.0) + 0.30 * (5.0 + q2 / 4.0)
    building = Building("b1", c_kwh_per_k=4.0, r_k_per_kw=1.0, t_out_c=35.0, q_internal_kw=4.0, t_init_c=24.0,
                        t_min_c=22.0, t_max_c=25.0, q_chiller_max_kw=30.0, cop=4.0)
    grid = Grid("grid", p_min_kw=0.0, p_max_kw=100.0, buy_price_per_kwh=np.array([0.10, 0.30]),
                sell_price_per_kwh=0.0)
    result = solve_centralized(make_problem([building, grid], 1.0, active_power=[5.0, 5.0], reactive_power=[0, 0]))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(cost, abs=1e-9)
    assert series(result, "b1", "q_chiller") == pytest.approx([q1, q2], abs=1e-9)
    assert series(result, "b1", "t_zone") == pytest.approx([22.0, 25.0], abs=1e-9)
    assert series(result, "b1", "p_el") == pytest.approx([q1 / 4.0, q2 / 4.0], abs=1e-9)
    assert series(result, "grid", "p") == pytest.approx([5.0 + q1 / 4.0, 5.0 + q2 / 4.0], abs=1e-9)


def test_the_cop_falls_with_the_outside_temperature_down_to_the_floor():
    """COP_t = max(4 - 0.1 max(T_out - 25, 0), 1): 4 at 20 degC, 3.5 at 30, the floor 1 at 70 (4 - 4.5 < 1)."""
    chiller = Chiller("c1", q_max_kw=10.0, cop=4.0, cop_temp_slope_per_k=0.1, cop_t_ref_c=25.0,
                      t_out_c=np.array([20.0, 30.0, 70.0]))
    grid = Grid("grid", p_min_kw=0.0, p_max_kw=100.0, buy_price_per_kwh=0.2, sell_price_per_kwh=0.0)
    result = solve_centralized(make_problem([chiller, grid], 1.0, active_power=[0, 0, 0], reactive_power=[0, 0, 0],
                                            cooling=[7.0, 7.0, 7.0]))
    assert series(result, "c1", "p_el") == pytest.approx([7.0 / 4.0, 7.0 / 3.5, 7.0 / 1.0], abs=1e-9)


# -- (b) the RC model: closed form and continuous time -------------------------------------------------------------
STEPS = 6
T_OUT = np.array([28.0, 31.0, 34.0, 35.0, 33.0, 30.0])
IRR = np.array([0.1, 0.4, 0.8, 0.9, 0.5, 0.2])
Q_INT = np.array([3.0, 6.0, 6.0, 5.0, 4.0, 2.0])
SCHEDULE = np.array([5.0, 12.0, 20.0, 25.0, 10.0, 0.0])
ZONE = dict(c_kwh_per_k=6.0, r_k_per_kw=1.5, t_init_c=24.0, solar_aperture_m2=10.0)


def _simulated_zone(discretisation: str, step_h: float) -> np.ndarray:
    """The zone temperatures ecodec's model gives for the cooling SCHEDULE: the chiller fixed at it, solved."""
    building = Building("b", t_out_c=T_OUT, q_internal_kw=Q_INT, irradiance_kw_per_m2=IRR, t_min_c=-100.0,
                        t_max_c=100.0, q_chiller_max_kw=50.0, cop=3.0, discretisation=discretisation, **ZONE)
    m = pyo.ConcreteModel()
    m.b = pyo.Block()
    building.build(m.b, TimeGrid(STEPS, step_h))
    for k in range(STEPS):
        m.b.q_chiller[k].fix(SCHEDULE[k])
    m.objective = pyo.Objective(expr=0.0)
    assert solve_with_highs(m).status == "optimal"
    return np.array([pyo.value(m.b.t_zone[k]) for k in range(STEPS)])


@pytest.mark.parametrize("discretisation, step_h", [("zoh", 1.0), ("zoh", 0.25), ("euler", 1.0)])
def test_zone_temperatures_follow_the_closed_form_of_the_discretised_rc_model(discretisation, step_h):
    """T_k = a^k T_0 + sum_{j<k} a^(k-1-j) (1 - a) (T_out,j + R (Q_gain,j - Q_cool,j)), with
    a = exp(-Delta/(RC)) (zoh) or 1 - Delta/(RC) (euler) and Q_gain = q_internal + aperture x irradiance."""
    r, c = ZONE["r_k_per_kw"], ZONE["c_kwh_per_k"]
    a = math.exp(-step_h / (r * c)) if discretisation == "zoh" else 1.0 - step_h / (r * c)
    u = T_OUT + r * (Q_INT + ZONE["solar_aperture_m2"] * IRR - SCHEDULE)
    expected = [a ** k * ZONE["t_init_c"] + sum(a ** (k - 1 - j) * (1 - a) * u[j] for j in range(k))
                for k in range(1, STEPS + 1)]
    assert _simulated_zone(discretisation, step_h) == pytest.approx(expected, abs=1e-9)


def test_the_exact_discretisation_is_the_continuous_solution_with_inputs_held_over_each_step():
    """C dT/dt = (T_out - T)/R + Q_gain - Q_cool integrated step by step (inputs constant over each step) by
    scipy to 1e-12 gives the zoh temperatures; forward Euler with the same step is visibly off."""
    r, c, step_h = ZONE["r_k_per_kw"], ZONE["c_kwh_per_k"], 1.0
    gain = Q_INT + ZONE["solar_aperture_m2"] * IRR
    temps, t = [], ZONE["t_init_c"]
    for k in range(STEPS):
        rhs = lambda _, x, k=k: [((T_OUT[k] - x[0]) / r + gain[k] - SCHEDULE[k]) / c]  # noqa: E731
        t = solve_ivp(rhs, (0.0, step_h), [t], rtol=1e-12, atol=1e-12, method="DOP853").y[0, -1]
        temps.append(t)
    assert _simulated_zone("zoh", step_h) == pytest.approx(temps, abs=1e-8)
    assert np.max(np.abs(_simulated_zone("euler", step_h) - temps)) > 1e-2


# -- (c) an independent LP for a district ---------------------------------------------------------------------------
#: Documented defaults of the parameters a Case may leave out (docs/workbook.md), per kind
DEFAULTS = {
    "building": {"q_internal_kw": 0.0, "solar_aperture_m2": 0.0, "irradiance_kw_per_m2": 0.0,
                 "cop_temp_slope_per_k": 0.0, "cop_t_ref_c": 25.0, "q_exchange_max_kw": 0.0, "discretisation": "zoh"},
    "cold_storage": {"e_final_min_kwh": 0.0, "loss_per_h": 0.0, "eta_charge": 1.0, "eta_discharge": 1.0},
    "chiller": {"cop_temp_slope_per_k": 0.0, "cop_t_ref_c": 25.0, "om_cost_per_kwh_th": 0.0},
    "grid": {"q_min_kvar": 0.0, "q_max_kvar": 0.0, "buy_price_slope_per_kw2h": 0.0, "price_segments": 0},
}


class _MatrixLP:
    """Columns with bounds and costs, rows as {column: coefficient} with bounds; solved by highspy."""

    def __init__(self):
        self.lower, self.upper, self.cost, self.rows = [], [], [], []

    def columns(self, lower, upper, cost=0.0) -> np.ndarray:
        lower, upper, cost = np.broadcast_arrays(np.asarray(lower, float), np.asarray(upper, float),
                                                 np.asarray(cost, float))
        first = len(self.lower)
        self.lower += list(lower)
        self.upper += list(upper)
        self.cost += list(cost)
        return np.arange(first, first + len(lower))

    def row(self, coefs: dict, lower: float, upper: float) -> None:
        self.rows.append((coefs, lower, upper))

    def solve(self) -> float:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        n = len(self.lower)
        h.addVars(n, np.array(self.lower), np.array(self.upper))
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost))
        for coefs, lower, upper in self.rows:
            idx = np.array(list(coefs), dtype=np.int32)
            h.addRow(lower, upper, len(idx), idx, np.array([coefs[i] for i in idx], dtype=float))
        h.run()
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return h.getInfo().objective_function_value


def _add(terms: dict, column: int, coef: float) -> None:
    terms[int(column)] = terms.get(int(column), 0.0) + coef


def independent_district_objective(case: Case) -> float:
    """The optimal cost of a district-cooling Case (buildings, cold storages, chillers, grids; resource rows of
    scope 'step'), from the case's numbers alone, as a condensed LP on highspy:

    * building: columns Q_chil, Q_in, Q_out; with u_j = T_out,j + R Q_gain,j and a per the discretisation,
      T_{k+1} = a^(k+1) T_0 + sum_{j<=k} a^(k-j) (1 - a) (u_j - R (Q_chil + Q_in - Q_out)_j) must lie in the comfort
      band: one row per step over the cooling columns; Q_chil + Q_in - Q_out >= 0; electricity Q_chil / COP_t;
    * cold storage: columns q_ch, q_dis; E_{k+1} = g^(k+1) E_0 + sum_{j<=k} g^(k-j) Delta (eta_c q_ch - q_dis/eta_d)
      with g = (1 - loss)^Delta in [0, capacity], and >= e_final_min at the end;
    * chiller: column q, electricity q / COP_t, cost Delta om q;
    * grid: p_in, p_out, q; cost Delta (B p_in - S p_out) (+ Delta w with the tangent rows when price_segments >= 1).
    """
    T, dt = case.T, case.step_h
    lp, terms = _MatrixLP(), {r.name: [dict() for _ in range(T)] for r in case.resources}
    steps = np.arange(T)

    def prof(value) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, float), (T,)).copy()

    def cop(p) -> np.ndarray:
        return np.maximum(p["cop"] - p["cop_temp_slope_per_k"] * np.maximum(prof(p["t_out_c"]) - p["cop_t_ref_c"], 0),
                          min(p["cop"], 1.0))

    def contribute(resource: str, t: int, column: int, coef: float) -> None:
        if resource in terms:
            _add(terms[resource][t], column, coef)

    for spec in case.agents:
        p = {**DEFAULTS.get(spec.kind, {}), **spec.params}
        if spec.kind == "building":
            r, ratio = p["r_k_per_kw"], dt / (p["r_k_per_kw"] * p["c_kwh_per_k"])
            a = math.exp(-ratio) if p["discretisation"] == "zoh" else 1.0 - ratio
            qc = lp.columns(np.zeros(T), p["q_chiller_max_kw"])
            qi = lp.columns(np.zeros(T), p["q_exchange_max_kw"])
            qo = lp.columns(np.zeros(T), p["q_exchange_max_kw"])
            u = prof(p["t_out_c"]) + r * (prof(p["q_internal_kw"]) + p["solar_aperture_m2"]
                                          * prof(p["irradiance_kw_per_m2"]))
            lo, hi, c = prof(p["t_min_c"]), prof(p["t_max_c"]), cop(p)
            for k in steps:
                free = a ** (k + 1) * p["t_init_c"] + sum(a ** (k - j) * (1 - a) * u[j] for j in range(k + 1))
                row = {}
                for j in range(k + 1):
                    w = -a ** (k - j) * (1 - a) * r
                    _add(row, qc[j], w), _add(row, qi[j], w), _add(row, qo[j], -w)
                lp.row(row, lo[k] - free, hi[k] - free)
                lp.row({qc[k]: 1.0, qi[k]: 1.0, qo[k]: -1.0}, 0.0, np.inf)
                contribute("active_power", k, qc[k], -1.0 / c[k])
                contribute("cooling", k, qo[k], 1.0), contribute("cooling", k, qi[k], -1.0)
        elif spec.kind == "cold_storage":
            g = (1.0 - p["loss_per_h"]) ** dt
            ch, dis = lp.columns(np.zeros(T), p["q_charge_max_kw"]), lp.columns(np.zeros(T), p["q_discharge_max_kw"])
            for k in steps:
                row = {}
                for j in range(k + 1):
                    _add(row, ch[j], g ** (k - j) * dt * p["eta_charge"])
                    _add(row, dis[j], -g ** (k - j) * dt / p["eta_discharge"])
                free = g ** (k + 1) * p["e_init_kwh"]
                floor = p["e_final_min_kwh"] if k == T - 1 else 0.0
                lp.row(row, floor - free, p["capacity_kwh"] - free)
                contribute("cooling", k, dis[k], 1.0), contribute("cooling", k, ch[k], -1.0)
        elif spec.kind == "chiller":
            q, c = lp.columns(np.zeros(T), prof(p["q_max_kw"]), dt * prof(p["om_cost_per_kwh_th"])), cop(p)
            for k in steps:
                contribute("cooling", k, q[k], 1.0), contribute("active_power", k, q[k], -1.0 / c[k])
        elif spec.kind == "grid":
            buy, sell = prof(p["buy_price_per_kwh"]), prof(p["sell_price_per_kwh"])
            assert np.all(sell <= buy), "this LP has no buy-or-sell binaries"
            pmin, pmax = prof(p["p_min_kw"]), prof(p["p_max_kw"])
            p_in = lp.columns(np.zeros(T), np.maximum(pmax, 0), dt * buy)
            p_out = lp.columns(np.zeros(T), np.maximum(-pmin, 0), -dt * sell)
            q = lp.columns(prof(p["q_min_kvar"]), prof(p["q_max_kvar"]))
            beta, n = p["buy_price_slope_per_kw2h"], p["price_segments"]
            assert beta == 0 or n >= 1, "the exact quadratic price is a QP"
            if beta > 0:
                w = lp.columns(np.zeros(T), np.inf, dt)
                for k in steps:
                    for x in (np.arange(n) + 0.5) * max(pmax[k], 0) / n:
                        lp.row({w[k]: 1.0, p_in[k]: -2.0 * beta * x}, -beta * x * x, np.inf)
            for k in steps:
                lp.row({p_in[k]: 1.0, p_out[k]: -1.0}, pmin[k], pmax[k])
                contribute("active_power", k, p_in[k], 1.0), contribute("active_power", k, p_out[k], -1.0)
                contribute("reactive_power", k, q[k], 1.0)
        else:
            raise NotImplementedError(spec.kind)
    for res in case.resources:
        assert res.scope == "step"
        rhs = prof(res.rhs)
        upper = prof(res.rhs_upper) if res.rhs_upper is not None else None
        for k in steps:
            lower, high = {"==": (rhs[k], rhs[k]), "<=": (-np.inf, rhs[k]), ">=": (rhs[k], np.inf),
                           "band": (rhs[k], None if upper is None else upper[k])}[res.sense]
            lp.row(terms[res.name][k], lower, high)
    return lp.solve()


HOURS = np.arange(24)
DAY_T_OUT = 27.0 + 6.0 * np.sin((HOURS - 9.0) * np.pi / 12.0)  # 21 degC at 3h, 33 degC at 15h
DAY_IRR = np.clip(0.9 * np.sin((HOURS - 6.0) * np.pi / 12.0), 0.0, None)
DAY_BUY = np.where((HOURS >= 8) & (HOURS < 20), 0.32, 0.11)  # day and night tariff
DAY_LOAD = 40.0 + 15.0 * ((HOURS >= 8) & (HOURS < 20))


def district_case(storage: bool = True, chiller: bool = False, grid: dict | None = None) -> Case:
    """Four buildings of different sizes (the largest with the most efficient chiller and a port to the network),
    a shared cold storage, optionally a district chiller, and a grid with a day/night tariff, over 24 h."""
    sizes = [  # C kWh/K, R K/kW, aperture m2, internal kW, chiller kW, COP, port kW
        (120.0, 0.08, 60.0, 25.0, 160.0, 4.8, 80.0),
        (60.0, 0.15, 30.0, 12.0, 80.0, 3.6, 40.0),
        (30.0, 0.30, 15.0, 6.0, 40.0, 3.0, 20.0),
        (15.0, 0.60, 8.0, 3.0, 20.0, 2.6, 10.0),
    ]
    agents = [AgentSpec("building", f"b{i + 1}", {
        "c_kwh_per_k": c, "r_k_per_kw": r, "t_out_c": DAY_T_OUT, "q_internal_kw": q_int, "solar_aperture_m2": ap,
        "irradiance_kw_per_m2": DAY_IRR, "t_init_c": 24.0, "t_min_c": 21.0, "t_max_c": 25.0,
        "q_chiller_max_kw": chil, "cop": cop, "cop_temp_slope_per_k": 0.04, "cop_t_ref_c": 25.0,
        "q_exchange_max_kw": port}) for i, (c, r, ap, q_int, chil, cop, port) in enumerate(sizes)]
    if storage:
        agents.append(AgentSpec("cold_storage", "tank", {
            "capacity_kwh": 600.0, "e_init_kwh": 100.0, "e_final_min_kwh": 100.0, "loss_per_h": 0.01,
            "eta_charge": 0.95, "eta_discharge": 0.95, "q_charge_max_kw": 80.0, "q_discharge_max_kw": 80.0}))
    if chiller:
        agents.append(AgentSpec("chiller", "plant", {
            "q_max_kw": 120.0, "cop": 5.5, "cop_temp_slope_per_k": 0.06, "cop_t_ref_c": 24.0, "t_out_c": DAY_T_OUT,
            "om_cost_per_kwh_th": 0.004}))
    agents.append(AgentSpec("grid", "grid", {"p_min_kw": 0.0, "p_max_kw": 400.0, "buy_price_per_kwh": DAY_BUY,
                                             "sell_price_per_kwh": 0.0, **(grid or {})}))
    resources = [ResourceSpec("active_power", "==", DAY_LOAD, None, "kW"),
                 ResourceSpec("reactive_power", "==", np.zeros(24), None, "kvar"),
                 ResourceSpec("cooling", "==", np.zeros(24), None, "kW")]
    return Case("cooling_district_test", 24, 1.0, agents=agents, resources=resources)


def _centralized(case: Case):
    result = solve_centralized(problem_from_case(case))
    assert result.status == "optimal", result.info.get("message")
    return result


@pytest.mark.parametrize("chiller", [False, True], ids=["four-buildings-storage-grid", "with-district-chiller"])
def test_the_district_optimum_equals_an_independent_condensed_lp(chiller):
    case = district_case(chiller=chiller)
    result = _centralized(case)
    assert result.objective == pytest.approx(independent_district_objective(case), rel=1e-6)


@pytest.mark.parametrize("name", ["cooling_district_4", "cooling_district_4_demand_price"])
def test_the_shipped_district_optimum_equals_the_independent_lp(name):
    """The acceptance check of the shipped cases built from real data (scripts/build_cooling_cases.py): ecodec's
    centralized optimum against the condensed highspy LP written from the same workbook numbers."""
    case = read_case(f"cases/{name}.xlsx")
    assert _centralized(case).objective == pytest.approx(independent_district_objective(case), rel=1e-6)


def test_the_shared_storage_lowers_the_cost_when_prices_vary_over_the_day():
    """Without the tank the cold for the day must be made at day prices (or pre-cooled within the comfort band);
    with it, night cold is stored: the cost falls strictly (by more than 1 %), and the tank is used."""
    with_tank, without = _centralized(district_case()), _centralized(district_case(storage=False))
    assert without.objective == pytest.approx(independent_district_objective(district_case(storage=False)), rel=1e-6)
    assert with_tank.objective < 0.99 * without.objective
    assert series(with_tank, "tank", "q_discharge")[(HOURS >= 8) & (HOURS < 20)].sum() > 1.0


# -- (e) the demand-dependent price --------------------------------------------------------------------------------
BETA = 2e-3  # currency/kWh per kW imported (HiGHS 1.16's QP stalls on this district at 2e-4: docs/district_cooling.md)


def test_the_tangent_approximation_brackets_the_quadratic_price_and_tightens_with_n():
    """Exact (QP) cost C*, N-segment cost C_N: C_N <= C* (the tangents underestimate beta p^2 at every p) and
    C* - C_N <= Delta sum_t beta (P/2N)^2 (the tangents' largest error, at the optimum of C_N).  For N = 1, 3, 9, 27
    each N's tangent points are among the next one's (odd multiples), so C_N rises with N."""
    exact_problem = problem_from_case(district_case(grid={"buy_price_slope_per_kw2h": BETA}))
    assert exact_problem.problem_class == "QP"
    exact = solve_centralized(exact_problem)
    assert exact.status == "optimal"
    approx = []
    for n in (1, 3, 9, 27):
        case = district_case(grid={"buy_price_slope_per_kw2h": BETA, "price_segments": n})
        result = _centralized(case)
        assert result.objective == pytest.approx(independent_district_objective(case), rel=1e-6)
        assert result.objective <= exact.objective * (1 + 1e-7)
        assert exact.objective - result.objective <= 24 * BETA * (400.0 / (2 * n)) ** 2 + 1e-6
        approx.append(result.objective)
    assert approx == sorted(approx) and approx[0] < approx[-1]
    assert exact.objective - approx[-1] < 0.01 * (exact.objective - approx[0])
    linear = _centralized(district_case())
    assert exact.objective > linear.objective  # the price rise costs something


def test_the_distributed_path_refuses_the_quadratic_price_and_takes_the_segments():
    problem = problem_from_case(district_case(grid={"buy_price_slope_per_kw2h": BETA}))
    with pytest.raises(ProblemError, match=r"agent 'grid' \(grid\) has a quadratic cost.*price_segments >= 1"):
        CompiledSubproblem(problem, "grid")
    case = district_case(grid={"buy_price_slope_per_kw2h": BETA})
    case.topology = "complete"
    with pytest.raises(ProblemError, match=r"agent 'grid' \(grid\) has a quadratic cost"):
        run_case(case, "proximal-dual", stopping={"max_iterations": 1})
    segmented = problem_from_case(district_case(grid={"buy_price_slope_per_kw2h": BETA, "price_segments": 4}))
    assert segmented.problem_class == "LP"
    assert CompiledSubproblem(segmented, "grid").agent_name == "grid"


# -- (f) parameter validation --------------------------------------------------------------------------------------
def _building(**changes) -> dict:
    return {**{k: v for k, v in Building.example.items() if k not in ("name", "active")}, **changes}


@pytest.mark.parametrize("make, message", [
    (lambda: Building("b", **_building(t_min_c=27.0)),
     "agent 'b' (building): column 't_min_c': got 27; expected t_min_c <= t_max_c at every step"),
    (lambda: Building("b", **_building(c_kwh_per_k=0.0)),
     "agent 'b' (building): column 'c_kwh_per_k': got 0; expected a number > 0"),
    (lambda: ColdStorage("s", capacity_kwh=100.0, e_init_kwh=150.0, q_charge_max_kw=10.0, q_discharge_max_kw=10.0),
     "agent 's' (cold_storage): column 'e_init_kwh': got 150; expected e_init_kwh <= capacity_kwh at every step"),
    (lambda: Chiller("c", q_max_kw=10.0, cop=0.0, t_out_c=30.0),
     "agent 'c' (chiller): column 'cop': got 0; expected a number > 0"),
    (lambda: Grid("g", p_min_kw=-10.0, p_max_kw=10.0, buy_price_per_kwh=0.1, sell_price_per_kwh=0.2,
                  buy_price_slope_per_kw2h=0.01),
     "agent 'g' (grid): column 'price_segments': got 0; expected a number >= 1 when buy_price_slope_per_kw2h > 0"),
])
def test_invalid_parameters_are_refused_naming_the_agent_the_parameter_and_the_value(make, message):
    with pytest.raises(AgentError) as refused:
        make()
    assert refused.value.messages()[0].startswith(message)


def test_an_unstable_euler_step_is_refused_when_the_horizon_is_known():
    """Forward Euler needs Delta <= R C (else a < 0): R C = 0.5 h, so 1 h steps are refused, 0.25 h accepted."""
    building = Building("b", **_building(c_kwh_per_k=1.0, r_k_per_kw=0.5, discretisation="euler"))
    with pytest.raises(AgentError, match=r"agent 'b' \(building\): column 'discretisation': got 'euler'; expected 'zoh', "
                                         r"or 'euler' with step_h <= r_k_per_kw x c_kwh_per_k"):
        CoupledProblem([building], [], TimeGrid(4, 1.0))
    building.validate(TimeGrid(4, 0.25))


def test_graph_methods_scale_their_steps_when_every_right_hand_side_is_zero():
    """The district's balances (electricity, cooling network) all have right-hand side 0, so 'the largest |b|'
    gives the graph methods no scale for their steps: proximal dual decomposition took steps 1e9 times too large,
    its prices reached 3e10 EUR/kWh by iteration 20 and a building's LP failed in HiGHS.  The rows' scale is then
    the largest contribution an agent's bounds allow (neighbour_driver.contribution_reach): the prices stay of the
    size of the centralized duals."""
    study = run_case("cases/cooling_district_4.xlsx", "proximal-dual", stopping={"max_iterations": 60})
    reference, run = study.runs
    assert run.status == "iteration_limit"
    for resource in ("active_power", "cooling"):
        dual = reference.coupling.loc[reference.coupling["resource"] == resource, "price"].abs().max()
        estimate = run.coupling.loc[run.coupling["resource"] == resource, "price"].abs().max()
        assert 0.0 < estimate < 2.0 * dual, (resource, estimate, dual)
