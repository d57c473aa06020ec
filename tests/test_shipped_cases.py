"""The shipped cases: rebuilt from data/ by the script, valid, solved, and priced consistently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecodec.decomposition.centralized import solve_centralized
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def lp_result():
    return solve_centralized(problem_from_case(read_case(CASES / "microgrid_8.xlsx")))


@pytest.mark.slow
def test_script_rebuilds_the_shipped_workbooks_from_data(tmp_path):
    """scripts/build_cases.py (with build_ev_cases.py and build_market_cases.py) reproduces the committed cases
    exactly (same parameters, profiles, graph)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_cases.py"), str(tmp_path)], check=True,
                   capture_output=True)
    for name in ("microgrid_8.xlsx", "microgrid_8_milp.xlsx", "pev_100.xlsx", "pev_100_budget.xlsx",
                 "ev_dundee_100.xlsx", "community_market.xlsx", "community_market_demand.xlsx",
                 "community_market_storage.xlsx", "household_3.xlsx"):
        shipped, rebuilt = read_case(CASES / name), read_case(tmp_path / name)
        assert [(r.name, r.sense, r.scope, r.unit) for r in shipped.resources] == [
            (r.name, r.sense, r.scope, r.unit) for r in rebuilt.resources]
        for a, b in zip(shipped.resources, rebuilt.resources):
            np.testing.assert_array_equal(a.rhs, b.rhs)
        assert [(a.kind, a.name) for a in shipped.agents] == [(a.kind, a.name) for a in rebuilt.agents]
        for a, b in zip(shipped.agents, rebuilt.agents):
            assert a.params.keys() == b.params.keys()
            for key in a.params:
                np.testing.assert_array_equal(a.params[key], b.params[key], err_msg=f"{a.name}.{key}")
        assert shipped.profiles.keys() == rebuilt.profiles.keys()
        for key in shipped.profiles:
            np.testing.assert_array_equal(shipped.profiles[key], rebuilt.profiles[key])
        assert shipped.edges == rebuilt.edges and shipped.driver_options == rebuilt.driver_options


def test_reference_setup_shape():
    """The reference setup: 2 microturbines, 3 renewables, 1 storage, the grid, 1 boiler; T = 96 x 0.25 h."""
    for name, commitment in (("microgrid_8.xlsx", False), ("microgrid_8_milp.xlsx", True)):
        case = read_case(CASES / name)
        kinds = [a.kind for a in case.agents]
        assert [kinds.count(k) for k in ("microturbine", "renewable", "storage", "grid", "boiler")] == [2, 3, 1, 1, 1]
        assert (case.T, case.step_h) == (96, 0.25)
        assert [r.name for r in case.resources] == ["active_power", "reactive_power", "heat"]
        assert all(a.params["commitment"] is commitment for a in case.agents_of_kind("microturbine"))


def test_lp_optimum_meets_every_coupling_row(lp_result):
    assert lp_result.status == "optimal"
    summary = lp_result.summary()
    assert summary["problem_class"] == "LP" and summary["max_coupling_violation"] < 1e-6
    assert lp_result.agent_costs["cost"].sum() == pytest.approx(lp_result.objective, rel=1e-9)


def test_active_power_price_is_the_grid_price_at_the_margin(lp_result):
    """Where the grid imports strictly inside its limits, one more kW of load is one more kW imported, so the
    active-power price equals that step's buy price; where it exports strictly inside its limits it equals
    the sell price (one kW less exported).  Prices come from HiGHS's duals, the prices from the workbook."""
    case = read_case(CASES / "microgrid_8.xlsx")
    grid = case.agents_of_kind("grid")[0].params
    d = lp_result.dispatch
    imp = d[(d.agent == "grid") & (d.quantity == "p_import")]["value"].to_numpy()
    exp = d[(d.agent == "grid") & (d.quantity == "p_export")]["value"].to_numpy()
    c = lp_result.coupling
    price = c[c.resource == "active_power"]["price"].to_numpy()
    importing = (imp > 1e-6) & (imp < grid["p_max_kw"] - 1e-6)
    exporting = (exp > 1e-6) & (exp < -grid["p_min_kw"] - 1e-6)
    assert importing.sum() > 20
    np.testing.assert_allclose(price[importing], np.broadcast_to(grid["buy_price_per_kwh"], (96,))[importing],
                               rtol=1e-7)
    np.testing.assert_allclose(price[exporting], np.broadcast_to(grid["sell_price_per_kwh"], (96,))[exporting],
                               rtol=1e-7)


def test_milp_costs_at_least_the_lp_relaxation_plus_starts(lp_result):
    """The MILP case only restricts the LP case (output 0 or in [20, 65] kW instead of [0, 65]) and adds a start
    cost, so its optimum cannot be cheaper than the LP optimum; each turbine must start at least once if it
    runs at all (both are off before the day), so the gap is at least 5 EUR per turbine that runs."""
    milp = solve_centralized(problem_from_case(read_case(CASES / "microgrid_8_milp.xlsx")))
    assert milp.status == "optimal" and milp.info["problem_class"] == "MILP"
    assert milp.summary()["max_coupling_violation"] < 1e-6
    d = milp.dispatch
    starts = d[d.quantity == "start"]["value"].sum()
    runs = d[(d.quantity == "on")].groupby("agent")["value"].max()
    assert starts >= (runs > 0.5).sum() - 1e-9
    assert milp.objective >= lp_result.objective + 5.0 * (runs > 0.5).sum() - 1e-6
    on = d[d.quantity == "on"]["value"].to_numpy()
    assert np.all(np.minimum(np.abs(on), np.abs(on - 1)) < 1e-6)
    p = d[d.quantity == "p_el"]["value"].to_numpy()
    assert np.all((p < 1e-6) | (p > 20.0 - 1e-6))


def test_household_prices_are_the_feed_in_tariff_and_its_value_through_the_battery():
    """cases/household_3.xlsx, by hand: the PV covers the day with a surplus the grid buys at the feed-in tariff
    c = 0.1231 EUR/kWh, so where the grid exports strictly inside its limit one more kWh of load costs c (one
    kWh less exported).  At night the battery serves the load alone (the grid neither buys nor sells): one more
    kWh discharged is 1 / eta_d more taken from storage, charged as 1 / (eta_c eta_d) kWh of surplus PV that is
    no longer exported, so the price there is c / (0.95 x 0.95) = 0.13640 EUR/kWh, far below the retail buy
    price (0.28-0.30 EUR/kWh), which no hour pays."""
    result = solve_centralized(problem_from_case(read_case(CASES / "household_3.xlsx")))
    assert result.status == "optimal"
    value = result.dispatch.pivot_table(index="t", columns=["agent", "quantity"], values="value")
    price = result.coupling.query("resource == 'active_power'").set_index("t")["price"]
    exporting = (value["grid", "p_export"] > 1e-6) & (value["grid", "p_export"] < 5.0 - 1e-6)
    night = ((value["battery", "p_discharge"] > 1e-6) & (value["battery", "p_discharge"] < 3.0 - 1e-6)
             & (value["grid", "p_import"] < 1e-9) & (value["grid", "p_export"] < 1e-9))
    assert exporting.sum() >= 6 and night.sum() >= 10
    np.testing.assert_allclose(price[exporting], 0.1231, rtol=1e-9)
    np.testing.assert_allclose(price[night], 0.1231 / 0.95**2, rtol=1e-9)
    assert (value["grid", "p_import"] < 1e-9).all()
