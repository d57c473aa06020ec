"""The shipped cooling-district cases (scripts/build_cooling_cases.py): they validate, the 4-building case solves
with every zone in its comfort band, the shared tank is used and saves money, and the script rebuilds the
workbooks cell for cell."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from ecodec.decomposition.centralized import solve_centralized
from ecodec.io.schema import README_SHEET
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
NAMES = ("cooling_district_4", "cooling_district_4_demand_price", "cooling_district_20")
TOL = 1e-6  # degC, kW: solver tolerance on bounds


def _script():
    spec = importlib.util.spec_from_file_location("build_cooling_cases", ROOT / "scripts" / "build_cooling_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _series(result, agent: str, quantity: str) -> np.ndarray:
    d = result.dispatch
    rows = d[(d["agent"] == agent) & (d["quantity"] == quantity)]
    assert len(rows), f"no '{quantity}' rows for agent '{agent}'"
    return rows.sort_values("t")["value"].to_numpy(dtype=float)


@pytest.fixture(scope="module")
def district_4():
    case = read_case(CASES / "cooling_district_4.xlsx")
    return case, solve_centralized(problem_from_case(case))


@pytest.mark.parametrize("name", NAMES)
def test_shipped_cooling_case_validates(name):
    case = read_case(CASES / f"{name}.xlsx")
    assert case.T == 96 and case.step_h == 0.25
    kinds = [a.kind for a in case.agents]
    n = 20 if name.endswith("_20") else 4
    assert kinds.count("building") == n and kinds.count("cold_storage") == 1 and kinds.count("grid") == 1
    assert {r.name for r in case.resources} >= {"active_power", "cooling"}


def test_four_buildings_solve_within_comfort_and_use_the_tank(district_4):
    case, result = district_4
    assert result.status == "optimal", result.status
    for spec in case.agents_of_kind("building"):
        t_zone = _series(result, spec.name, "t_zone")
        low = np.broadcast_to(np.asarray(spec.params["t_min_c"], float), t_zone.shape)
        high = np.broadcast_to(np.asarray(spec.params["t_max_c"], float), t_zone.shape)
        assert (t_zone >= low - TOL).all() and (t_zone <= high + TOL).all(), (
            f"{spec.name}: zone temperature {t_zone.min():.2f}-{t_zone.max():.2f} degC outside its band")
    charge, discharge = _series(result, "tank", "q_charge"), _series(result, "tank", "q_discharge")
    assert charge.sum() * case.step_h > 100.0 and discharge.sum() * case.step_h > 100.0, (
        f"tank charged {charge.sum() * case.step_h:.0f} kWh, discharged {discharge.sum() * case.step_h:.0f} kWh")


def test_the_tank_saves_money(district_4, tmp_path):
    """The same case without the tank (its 'active' set False) is feasible (the chillers alone hold comfort) and
    costs more."""
    _, with_tank = district_4
    tables = _script().all_tables()["cooling_district_4"]
    tables["cold_storages"][0]["active"] = False
    path = tmp_path / "no_tank.xlsx"
    write_case_workbook(path, tables)
    without = solve_centralized(problem_from_case(read_case(path)))
    assert without.status == "optimal", without.status
    saving = without.objective - with_tank.objective
    assert saving > 0.01 * without.objective, (
        f"the tank saves {saving:.2f} EUR ({saving / without.objective:.1%}): {with_tank.objective:.2f} EUR with it, "
        f"{without.objective:.2f} EUR without")


def test_demand_dependent_price_solves_and_lowers_the_peak(district_4):
    _, flat = district_4
    case = read_case(CASES / "cooling_district_4_demand_price.xlsx")
    (grid,) = case.agents_of_kind("grid")
    assert grid.params["buy_price_slope_per_kw2h"] > 0
    result = solve_centralized(problem_from_case(case))
    assert result.status == "optimal", result.status
    peak_flat, peak_sloped = _series(flat, "grid", "p").max(), _series(result, "grid", "p").max()
    assert peak_sloped <= peak_flat + TOL, f"peak {peak_sloped:.1f} kW with the sloped price, {peak_flat:.1f} flat"


def test_script_rebuilds_the_shipped_workbooks_cell_for_cell(tmp_path):
    _script().main(tmp_path)
    for name in NAMES:
        shipped, rebuilt = (load_workbook(p, read_only=True) for p in (CASES / f"{name}.xlsx",
                                                                       tmp_path / f"{name}.xlsx"))
        assert shipped.sheetnames == rebuilt.sheetnames, name
        for sheet in shipped.sheetnames:
            if sheet == README_SHEET:  # the schema's documentation, not the case: it follows ecodec's declarations
                continue
            a = list(shipped[sheet].iter_rows(values_only=True))
            b = list(rebuilt[sheet].iter_rows(values_only=True))
            assert a == b, f"{name}: sheet '{sheet}' differs from the rebuilt one"


def test_twenty_buildings_solve_centrally():
    case = read_case(CASES / "cooling_district_20.xlsx")
    result = solve_centralized(problem_from_case(case))
    assert result.status == "optimal", result.status
    discharge = _series(result, "tank", "q_discharge")
    assert discharge.sum() * case.step_h > 100.0, f"tank discharged {discharge.sum() * case.step_h:.0f} kWh"
