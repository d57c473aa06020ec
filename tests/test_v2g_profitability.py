"""V2G profitability under random reserve activation: the sampled programs against hand derivations, the closed
form, an independent LP of charge-only operation and a simulation of fresh activations; seeds; CLI; report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from ecodec.cli import main
from ecodec.errors import EcodecError
from ecodec.io.workbook import read_case
from ecodec.report.v2g_section import grid_rows, verdict_text, write_v2g_report
from ecodec.results.v2g_profitability import V2GProfitabilityResult
from ecodec.solvers.v2g_closed_form import boundary_reserve_price, closed_form_profit
from ecodec.solvers.v2g_reserve_lp import ActivationModel, ReserveLP, VehicleSession
from ecodec.study.v2g_profitability import V2GOptions, fleet_from_case, v2g_profitability

ROOT = Path(__file__).resolve().parents[1]
PEV, DUNDEE = ROOT / "cases" / "pev_100.xlsx", ROOT / "cases" / "ev_dundee_100.xlsx"


def one_slot_car(**changes) -> VehicleSession:
    values = dict(name="car", start=0, stop=1, p_charge_kw=4.0, p_discharge_kw=4.0, e_min_kwh=0.0, e_max_kwh=20.0,
                  e_init_kwh=10.0, e_target_kwh=11.0)
    values.update(changes)
    return VehicleSession(**values)


def test_one_slot_robust_profit_by_hand():
    """One 1-h slot at 0.1 EUR/kWh, need 1 kWh, P = 4 kW, alpha = 0.5, activations +1, -1, 0, +1 (mean 1/4).
    Robust: p + r <= 4 and p - r/2 >= 1 give p = 1 + r/2, r <= 2; profit = -0.1 + r (pi_r - 0.05 + 0.5 * 0.25 * 0.1)
    = -0.1 + r (pi_r - 0.0375): charge-only -0.1, boundary 0.0375, at pi_r = 0.1 profit -0.1 + 2 * 0.0625."""
    lp = ReserveLP(one_slot_car(), np.array([0.1]), 1.0, np.array([[1], [-1], [0], [1]]), activation_fraction=0.5)
    assert lp.solve(0.0, reserve=False).profit_eur == pytest.approx(-0.1, abs=1e-10)
    high = lp.solve(0.1)
    assert high.profit_eur == pytest.approx(0.025, abs=1e-10)
    assert high.band_kw[0] == pytest.approx(2.0, abs=1e-9)
    assert high.reserve_revenue_eur == pytest.approx(0.2, abs=1e-10)
    assert lp.solve(0.0375 - 1e-4).profit_eur == pytest.approx(-0.1, abs=1e-10)
    assert lp.solve(0.0375 + 1e-3).profit_eur == pytest.approx(-0.1 + 2e-3, abs=1e-10)


def test_one_slot_recourse_profit_by_hand():
    """Recourse, scenarios up and down: each re-plans q_s so that x_s = q_s - a_s r / 2 = 1 exactly (cost 0.1);
    the up scenario needs q_1 = 1 + r/2 <= 4 - r, so r <= 2: profit 2 pi_r - 0.1, profitable at any pi_r > 0."""
    lp = ReserveLP(one_slot_car(), np.array([0.1]), 1.0, np.array([[1], [-1]]), activation_fraction=0.5,
                   policy="recourse")
    assert lp.solve(0.0, reserve=False).profit_eur == pytest.approx(-0.1, abs=1e-10)
    for price in (0.001, 0.05, 0.3):
        assert lp.solve(price).profit_eur == pytest.approx(2 * price - 0.1, abs=1e-10)


def simplified_fleet(rng: np.random.Generator, n_vehicles: int, slots: int, step_h: float, least_need_kwh=0.2):
    """Lossless vehicles with wide energy bounds (the simplified case), needs up to most of the room."""
    fleet = []
    for i in range(n_vehicles):
        p_kw = rng.uniform(2.0, 6.0)
        need = rng.uniform(least_need_kwh, 0.8 * slots * p_kw * step_h)
        fleet.append((VehicleSession(f"v{i}", 0, slots, p_kw, p_kw, 0.0, 500.0, 200.0, 200.0 + need),
                      rng.uniform(0.02, 0.05, slots)))
    return fleet


def test_closed_form_matches_sampled_optimization_on_a_grid():
    """Simplified case, antithetic sampling (sample mean activation exactly 0): at 25 reserve prices from 0 to
    3 times the boundary the verdict is the same and the profits agree to LP round-off."""
    step_h, alpha = 0.5, 0.6
    for seed in range(3):
        fleet = simplified_fleet(np.random.default_rng(seed), 4, 8, step_h)
        boundary = min(boundary_reserve_price(p, s.e_target_kwh - s.e_init_kwh, s.p_charge_kw, step_h, alpha)
                       for s, p in fleet)
        prices = np.linspace(0.0, 3.0 * boundary, 25)
        result = v2g_profitability(fleet, step_h, prices, V2GOptions(scenarios=10, seed=seed, antithetic=True,
                                                                    activation_fraction=alpha))
        assert result.simplified_case
        assert result.optimization_profitable == [p > boundary for p in prices]
        assert result.agreement == 1.0
        assert np.allclose(result.v2g_profit_eur, result.closed_form_profit_eur, atol=1e-7)
        # the bisection finds the price where the fleet's gain passes 1e-6 EUR: by the closed form, the gain there
        assert boundary <= result.boundary_optimization <= boundary * (1 + 1e-3)
        def closed_gain(price):
            return sum(closed_form_profit(p, s.e_target_kwh - s.e_init_kwh, s.p_charge_kw, step_h, alpha, price)
                       - closed_form_profit(p, s.e_target_kwh - s.e_init_kwh, s.p_charge_kw, step_h, alpha, 0.0)
                       for s, p in fleet)

        assert closed_gain(result.boundary_optimization) == pytest.approx(1e-6, rel=0.2)
        assert 0 < boundary < 0.05


def test_energy_to_spare_backs_the_band_for_free():
    """A vehicle arriving above its target (need < 0): the boundary is 0 and any positive price pays."""
    fleet = simplified_fleet(np.random.default_rng(5), 1, 6, 0.5, least_need_kwh=-1.0)
    fleet = [(VehicleSession("spare", 0, 6, 3.0, 3.0, 0.0, 500.0, 200.0, 199.5), fleet[0][1])]
    result = v2g_profitability(fleet, 0.5, np.linspace(0.0, 0.02, 21), V2GOptions(scenarios=4, antithetic=True))
    assert result.boundary_closed_form == 0.0
    assert result.optimization_profitable == [p > 0 for p in result.reserve_prices]
    assert np.allclose(result.v2g_profit_eur, result.closed_form_profit_eur, atol=1e-9)


def test_closed_form_within_the_stated_sampling_tolerance():
    """Plain sampling: the programs differ from the closed form only in the band's cost, by alpha Delta pi_k
    abar_k per kW, so |V_sampled - V_closed| <= sum_k alpha Delta pi_k |abar_k| (P_ch + P_dis) (the stated
    tolerance; E|abar_k| <= sqrt(2 rho / S)); checked over 5 seeds and 20 prices."""
    step_h, alpha, slots = 0.5, 0.5, 6
    car, price = simplified_fleet(np.random.default_rng(7), 1, slots, step_h)[0]
    need = car.e_target_kwh - car.e_init_kwh
    for seed in range(5):
        a = ActivationModel(0.2, 0.2, alpha).sample(40, slots, seed)
        tolerance = float(np.sum(alpha * step_h * price * np.abs(a.mean(axis=0)))) * 2 * car.p_charge_kw
        lp = ReserveLP(car, price, step_h, a, activation_fraction=alpha)
        for reserve_price in np.linspace(0.0, 0.05, 20):
            difference = lp.solve(reserve_price).profit_eur - closed_form_profit(price, need, car.p_charge_kw,
                                                                                 step_h, alpha, reserve_price)
            assert abs(difference) <= tolerance + 1e-9


def independent_charge_only_cost(session: VehicleSession, price: np.ndarray, step_h: float) -> float:
    """min sum_k pi_k p_k Delta over 0 <= p <= P with E_0 + eta Delta sum_{j<=k} p_j within [e_min, e_max] and the
    departure energy >= E_ref, written as cumulative-sum rows for scipy's linprog (no state variables)."""
    n = session.slots
    cumulative = np.tril(np.ones((n, n))) * session.eta_charge * step_h
    upper = session.e_max_kwh - session.e_init_kwh
    floor = np.full(n, session.e_min_kwh - session.e_init_kwh)
    floor[-1] = max(floor[-1], session.e_target_kwh - session.e_init_kwh)
    result = linprog(price[session.start:session.stop] * step_h, A_ub=np.vstack([cumulative, -cumulative]),
                     b_ub=np.concatenate([np.full(n, upper), -floor]), bounds=[(0, session.p_charge_kw)] * n,
                     method="highs")
    assert result.status == 0
    return float(result.fun)


@pytest.mark.parametrize("path", [PEV, DUNDEE])
def test_charge_only_matches_an_independent_lp(path):
    case = read_case(path)
    fleet = fleet_from_case(case, V2GOptions(max_vehicles=12))
    scenarios = np.zeros((1, case.T))
    for session, price in fleet:
        lp = ReserveLP(session, price, case.step_h, scenarios, activation_fraction=0.5)
        assert -lp.solve(0.0, reserve=False).profit_eur == pytest.approx(
            independent_charge_only_cost(session, price, case.step_h), abs=1e-8)


def energy_path(session: VehicleSession, power_kw: np.ndarray, step_h: float) -> np.ndarray:
    """Stored energy after each slot from the net power drawn: eta_ch x charging, x / eta_dis discharging."""
    gain = np.where(power_kw >= 0, session.eta_charge * power_kw, power_kw / session.eta_discharge)
    return session.e_init_kwh + step_h * np.cumsum(gain)


def test_robust_schedule_survives_fresh_activations():
    """The robust schedule with losses, its band at a profitable price, simulated under 500 activation sequences
    drawn independently of the program's sample (plus all-up and all-down): energy bounds and the departure energy
    hold in every one."""
    case = read_case(PEV)
    session, price = fleet_from_case(case, V2GOptions(max_vehicles=1))[0]
    sample = ActivationModel(0.3, 0.1, 0.8).sample(20, case.T, seed=1)
    lp = ReserveLP(session, price, case.step_h, sample, activation_fraction=0.8)
    solution = lp.solve(0.03)
    baseline = solution.schedule_kw
    assert solution.band_kwh > 1.0
    fresh = ActivationModel(0.3, 0.1, 0.8).sample(500, case.T, seed=99)
    for a in np.vstack([fresh, np.ones(case.T), -np.ones(case.T)]):
        e = energy_path(session, baseline - 0.8 * a * solution.band_kw, case.step_h)
        assert e.min() >= session.e_min_kwh - 1e-7
        assert e.max() <= session.e_max_kwh + 1e-7
        assert e[-1] >= session.e_target_kwh - 1e-7


def test_activation_frequencies_over_seeds():
    """Per-slot frequencies of up and down activations: mean over 5 seeds of 2000 x 24 draws within 0.005 of
    (0.3, 0.1) (standard error about 0.0015)."""
    model = ActivationModel(0.3, 0.1, 0.5)
    for seed in range(5):
        a = model.sample(2000, 24, seed)
        assert abs((a == 1).mean() - 0.3) < 0.005
        assert abs((a == -1).mean() - 0.1) < 0.005


def test_seeded_determinism():
    case = read_case(PEV)
    fleet = fleet_from_case(case, V2GOptions(max_vehicles=4))
    prices = [0.0, 0.01, 0.02]
    options = V2GOptions(scenarios=6, seed=3, up_probability=0.3, down_probability=0.1)
    first, again = (v2g_profitability(fleet, case.step_h, prices, options) for _ in range(2))
    assert first.v2g_profit_eur == again.v2g_profit_eur and first.band_kwh == again.band_kwh
    other = v2g_profitability(fleet, case.step_h, prices, V2GOptions(scenarios=6, seed=4, up_probability=0.3,
                                                                     down_probability=0.1))
    assert other.v2g_profit_eur != first.v2g_profit_eur  # a different draw settles other activations


def test_options_refuse_bad_values():
    for bad in (dict(scenarios=0), dict(policy="greedy"), dict(up_probability=0.7, down_probability=0.5),
                dict(activation_fraction=0.0), dict(seed=-1)):
        with pytest.raises(EcodecError):
            V2GOptions(**bad)
    with pytest.raises(EcodecError, match="antithetic"):
        ActivationModel(0.3, 0.1, 0.5).sample(4, 3, 0, antithetic=True)


def test_cli_json_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["v2g-profitability", str(PEV), "--vehicles", "3", "--scenarios", "4", "--prices", "0:0.03:4",
                 "--output", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    saved = V2GProfitabilityResult.load(out)
    assert [row["gain"] for row in summary["grid"]] == pytest.approx(saved.gain_eur)
    assert summary["vehicles"] == 3 and len(summary["grid"]) == 4
    for bad in (["--prices", "cheap"], ["--scenarios", "0"], ["--up-probability", "1.5"], ["--report", "r.txt"]):
        assert main(["v2g-profitability", str(PEV), "--vehicles", "2", *bad]) == 2
    assert main(["v2g-profitability", str(ROOT / "cases" / "household_3.xlsx")]) == 2
    assert "error:" in capsys.readouterr().err


def test_report_numbers_are_the_results(tmp_path):
    case = read_case(PEV)
    fleet = fleet_from_case(case, V2GOptions(max_vehicles=3))
    result = v2g_profitability(fleet, case.step_h, [0.0, 0.01, 0.02, 0.03], V2GOptions(scenarios=4))
    rows = grid_rows(result)
    assert len(rows) == 1 + len(result.reserve_prices)
    for row, price, profit, gain, verdict in zip(rows[1:], result.reserve_prices, result.v2g_profit_eur,
                                                 result.gain_eur, result.optimization_profitable):
        assert float(row[0]) == pytest.approx(price, rel=1e-5)
        assert float(row[1]) == pytest.approx(profit, rel=1e-5)
        assert float(row[2]) == pytest.approx(gain, rel=1e-5, abs=1e-12)
        assert row[5] == ("yes" if verdict else "no")
    text = verdict_text(result)
    assert f"{result.boundary_closed_form:.6g}" in text and f"{result.agreement:.0%}" in text
    pdf = write_v2g_report(V2GProfitabilityResult.load(result.save(tmp_path)), tmp_path / "v2g.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and math.isfinite(result.boundary_optimization)


def test_asymmetric_extension_matches_the_sampled_program():
    """Step 5 (asymmetric activation, lossless): given the sample's own mean activation per slot, the closed
    form's boundary and profit equal the robust program's at 21 prices, over 3 seeds."""
    step_h, alpha = 0.5, 0.5
    for seed in range(3):
        car, price = simplified_fleet(np.random.default_rng(10 + seed), 1, 8, step_h)[0]
        need = car.e_target_kwh - car.e_init_kwh
        a = ActivationModel(0.35, 0.1, alpha).sample(30, 8, seed)
        delta = a.mean(axis=0)
        lp = ReserveLP(car, price, step_h, a, activation_fraction=alpha)
        boundary = boundary_reserve_price(price, need, car.p_charge_kw, step_h, alpha, delta)
        charge_only = lp.solve(0.0, reserve=False).profit_eur
        for reserve_price in np.linspace(0.0, 0.04, 21):
            profit = lp.solve(reserve_price).profit_eur
            assert profit == pytest.approx(closed_form_profit(price, need, car.p_charge_kw, step_h, alpha,
                                                              reserve_price, delta), abs=1e-9)
            if abs(reserve_price - boundary) > 1e-9:
                assert (profit - charge_only > 1e-9) == (reserve_price > boundary)
