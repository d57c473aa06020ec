"""Electric vehicles: tiny fleets whose optimum, schedule and feeder price follow by hand.

Every case has slots of 1 h, so kW and kWh coincide; the feeder limit is the coupling row
sum_i (-p_i) >= -Pmax on active power (charging draws power).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import series

from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.errors import CaseError
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.models import ElectricVehicle
from ecodec.models.base import TimeGrid
from ecodec.network import CommunicationNetwork
from ecodec.problem import CoupledProblem, CouplingResource

PRICES = np.array([3.0, 1.0, 2.0])  # EUR/kWh in slots 1, 2, 3


def fleet(vehicles, feeder_kw: float, T: int = 3):
    resources = [CouplingResource("active_power", ">=", np.full(T, -feeder_kw), unit="kW")]
    problem = CoupledProblem(vehicles, resources, TimeGrid(T, 1.0), name="fleet")
    names = [v.name for v in vehicles]
    return problem, CommunicationNetwork.from_edges(names, list(zip(names, names[1:])))


def ev(name, mode="continuous", **kw):
    values = dict(p_charge_kw=4.0, e_max_kwh=10.0, e_init_kwh=0.0, e_target_kwh=4.0, price_per_kwh=PRICES)
    values.update(kw)
    return ElectricVehicle(name=name, mode=mode, **values)


def test_continuous_fleet_fills_the_cheap_slot_up_to_the_feeder_and_prices_it():
    """8 kWh to charge, 5 kW feeder: 5 kWh in the 1-EUR slot, 3 kWh in the 2-EUR slot = 11 EUR.  One more kW of
    feeder in slot 2 moves 1 kWh from slot 3 to slot 2: the feeder's price there is 2 - 1 = 1 EUR/kWh."""
    problem, network = fleet([ev("a"), ev("b")], feeder_kw=5.0)
    result = run(problem, network, "centralized")
    assert result.status == "optimal" and result.objective == pytest.approx(11.0)
    total = series(result, "a", "p") + series(result, "b", "p")
    np.testing.assert_allclose(total, [0.0, 5.0, 3.0], atol=1e-9)
    price = result.coupling.sort_values("t")["price"].to_numpy()
    np.testing.assert_allclose(price, [0.0, 1.0, 0.0], atol=1e-9)
    for name in ("a", "b"):
        assert series(result, name, "e_end")[-1] == pytest.approx(4.0)


def test_binary_fleet_charges_one_vehicle_per_slot_at_full_power():
    """On/off at 4 kW with a 5 kW feeder: one vehicle per slot; the cheap slots 2 and 3 cost 4 + 8 = 12 EUR."""
    problem, network = fleet([ev("a", "binary"), ev("b", "binary")], feeder_kw=5.0)
    assert problem.is_mixed_integer()
    result = run(problem, network, "centralized")
    assert result.status == "optimal" and result.objective == pytest.approx(12.0)
    u = np.stack([series(result, n, "u") for n in ("a", "b")])
    assert set(np.round(u, 9).ravel()) <= {0.0, 1.0}
    np.testing.assert_allclose(u.sum(axis=0), [0.0, 1.0, 1.0], atol=1e-9)


def test_vehicle_to_grid_buys_low_sells_high_and_never_does_both():
    """4 kWh on board, 8 kWh capacity, 4 kWh needed at the end; prices 1, 3, 1.5.  Buying 4 kWh at 1 and
    selling them at 3 leaves the 4 kWh needed: 4 - 12 = -8 EUR.  Selling first and buying back at 1.5 gives -6,
    buying a third time only adds cost, so the schedule is unique."""
    vehicle = ev("a", "v2g", p_discharge_kw=4.0, e_init_kwh=4.0, e_max_kwh=8.0, price_per_kwh=np.array([1.0, 3.0, 1.5]))
    problem, network = fleet([vehicle], feeder_kw=10.0)
    result = run(problem, network, "centralized")
    assert result.objective == pytest.approx(-8.0)
    np.testing.assert_allclose(series(result, "a", "p"), [4.0, -4.0, 0.0], atol=1e-9)
    assert np.all(series(result, "a", "u") + series(result, "a", "v") <= 1 + 1e-9)


def test_a_vehicle_charges_only_while_plugged_in():
    """Plugged in for slot 3 only: it must take its 4 kWh there, at 2 EUR/kWh, whatever the cheaper slot 2."""
    problem, network = fleet([ev("a", arrival_step=3, departure_step=3)], feeder_kw=10.0)
    result = run(problem, network, "centralized")
    assert result.objective == pytest.approx(8.0)
    np.testing.assert_allclose(series(result, "a", "p"), [0.0, 0.0, 4.0], atol=1e-9)


def test_primal_decomposition_reaches_the_continuous_fleet_optimum():
    """The feeder's price is up to 2 EUR/kWh here: the default penalty reads it from the price scale, no option."""
    problem, network = fleet([ev("a"), ev("b"), ev("c", e_target_kwh=2.0)], feeder_kw=6.0)
    reference = run(problem, network, "centralized")
    result = run(problem, network, "primal-decomposition", stopping=StoppingRules(max_iterations=5000),
                 reference=reference)
    assert result.status == "converged", result.info["message"]
    assert abs(result.objective - reference.objective) <= 1e-3 * abs(reference.objective)


@pytest.mark.parametrize(("change", "column", "fragment"), [
    ({"e_target_kwh": 30.0}, "e_target_kwh", "a target the vehicle can reach"),
    ({"departure_step": 9}, "departure_step", "a step from arrival_step to T"),
    ({"mode": "v2g", "p_discharge_kw": 0.0}, "p_discharge_kw", "a power > 0 with mode 'v2g'"),
])
def test_bad_vehicle_rows_are_named_with_sheet_row_and_column(tmp_path, change, column, fragment):
    tables = copy.deepcopy(example_tables())
    tables["evs"][0].update(active=True, **change)
    tables["network"].append({"from": "grid", "to": "ev1"})
    with pytest.raises(CaseError) as error:
        read_case(write_case_workbook(tmp_path / "ev.xlsx", tables))
    messages = error.value.messages()
    assert any(f"sheet 'evs', row 2, column '{column}'" in m and fragment in m for m in messages), messages
