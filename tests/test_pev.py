"""EV fleet cases: the benchmark generator (published distributions, seeded, refusing fleets that cannot be
charged) and the shipped real-data fleet."""

from __future__ import annotations

import numpy as np
import pytest

from ecodec.cli import main
from ecodec.decomposition import run
from ecodec.io.pev import energy_shortfall_kwh, pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case


def test_same_seed_same_fleet_other_seed_other_fleet():
    assert pev_tables(30, 3, "milp", 1.0) == pev_tables(30, 3, "milp", 1.0)
    assert pev_tables(30, 3, "milp", 1.0)["evs"] != pev_tables(30, 4, "milp", 1.0)["evs"]


def test_draws_follow_the_published_distributions():
    """2000 vehicles: every parameter within its published range, the means of the uniform draws close to theirs,
    and the mean energy a vehicle draws from the connection close to the 4.09 kWh ALGORITHMS.md quotes."""
    tables = pev_tables(2000, 11, "v2g", 1.0)
    evs = tables["evs"]
    p = np.array([v["p_charge_kw"] for v in evs])
    e_max = np.array([v["e_max_kwh"] for v in evs])
    init = np.array([v["e_init_kwh"] for v in evs]) / e_max
    target = np.array([v["e_target_kwh"] for v in evs]) / e_max
    eta = np.array([v["eta_charge"] for v in evs])
    price = np.array([row["price_eur_per_kwh"] for row in tables["timeseries"]])
    for values, low, high in ((p, 3, 5), (e_max, 8, 16), (init, 0.2, 0.5), (target, 0.55, 0.8),
                              (1 - eta, 0.015, 0.075)):
        assert low - 1e-6 <= values.min() and values.max() <= high + 1e-6
        assert values.mean() == pytest.approx((low + high) / 2, abs=0.03 * (high - low))
    assert 0.019 <= price.min() and price.max() <= 0.035 and len(price) == 24
    assert all(v["mode"] == "v2g" and v["p_discharge_kw"] == v["p_charge_kw"] for v in evs)
    need, available = energy_shortfall_kwh(tables)
    assert need / len(evs) == pytest.approx(4.09, abs=0.1)
    assert available == pytest.approx(1.0 * 2000 * 8.0)


def test_the_energy_check_is_exact_for_a_continuous_fleet(tmp_path):
    """Just above the energy the fleet needs the LP is feasible; just below, the generator refuses the fleet."""
    need, _ = energy_shortfall_kwh(pev_tables(20, 5, "lp", 1.0))
    enough = need / (20 * 8.0) * 1.001
    path = write_case_workbook(tmp_path / "fleet.xlsx", pev_tables(20, 5, "lp", enough))
    case = read_case(path)
    result = run(problem_from_case(case), network_from_case(case), "centralized")
    assert result.status == "optimal"
    assert result.coupling["price"].max() > 0  # the connection limit binds somewhere
    short = tmp_path / "short.xlsx"
    assert main(["generate", "pev", "--n", "20", "--seed", "5", "--variant", "lp", "--pmax-per-vehicle",
                 f"{need / (20 * 8.0) * 0.999:.6f}", "-o", str(short)]) == 2
    assert not short.exists()


def test_generate_writes_a_valid_binary_fleet_and_refuses_an_impossible_one(tmp_path, capsys):
    path = tmp_path / "pev.xlsx"
    assert main(["generate", "pev", "--n", "12", "--seed", "2", "-o", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    case = read_case(path)
    assert len(case.agents) == 12 and all(a.params["mode"] == "binary" for a in case.agents)
    assert case.driver_options["centralized"] == {"mip_rel_gap": 0.001, "time_limit_s": 120}
    result = run(problem_from_case(case), network_from_case(case), "centralized")
    assert result.status == "optimal"
    u = result.dispatch.loc[result.dispatch["quantity"] == "u", "value"].to_numpy()
    assert np.all(np.isclose(u, 0) | np.isclose(u, 1))
    assert main(["generate", "pev", "--n", "100", "--pmax-per-vehicle", "0.45", "-o", str(tmp_path / "x.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "cannot be charged" in err and "use --pmax-per-vehicle 0.57 or more" in err and "Traceback" not in err
    assert not (tmp_path / "x.xlsx").exists()


def test_the_dundee_fleet_is_real_feasible_and_its_connection_limit_binds():
    case = read_case("cases/ev_dundee_100.xlsx")
    assert len(case.agents) == 100 and case.T == 96 and case.step_h == 0.25
    powers = {a.params["p_charge_kw"] for a in case.agents}
    assert powers <= {7.0, 22.0, 43.0}
    for agent in case.agents:
        assert 1 <= agent.params["arrival_step"] <= agent.params["departure_step"] <= 96
    result = run(problem_from_case(case), network_from_case(case), "centralized")
    assert result.status == "optimal"
    binding = result.coupling[np.isclose(result.coupling["lhs"], result.coupling["lower"])]
    assert len(binding) and binding["price"].max() > 0
