"""Results with real time stamps (issue 21, item 3): wide frames indexed by time, a ``time`` column in the CSV,
Excel and Parquet outputs, the results workbook's formats, units row, panes and filters, and Parquet results.

Runs: the shipped 3-agent household (24 hourly steps from 2019-04-17 00:00) solved centrally and by 3 iterations
of proximal-dual, and a generated 4-vehicle fleet, a case without a start time.  Expected values come from the
case's own start and step and from the tidy tables, never from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ecodec.cli import main
from ecodec.decomposition import StoppingRules, run
from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import EcodecError
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.from_case import problem_from_case
from ecodec.results import load_run, save_run

ROOT = Path(__file__).resolve().parents[1]
HOUSEHOLD = ROOT / "cases" / "household_3.xlsx"
TABLES = ("dispatch", "coupling", "agent_costs", "history", "contributions")


@pytest.fixture(scope="module")
def household():
    case = read_case(HOUSEHOLD)
    problem = problem_from_case(case)
    reference = solve_centralized(problem)
    distributed = run(problem, network_from_case(case), "proximal-dual", stopping=StoppingRules(max_iterations=3),
                      reference=reference)
    return reference, distributed


@pytest.fixture(scope="module")
def undated(tmp_path_factory):
    """A small generated fleet: its workbook has no start time."""
    path = tmp_path_factory.mktemp("fleet") / "pev_4.xlsx"
    assert main(["generate", "pev", "--n", "4", "--seed", "1", "--variant", "lp", "-o", str(path)]) == 0
    return solve_centralized(problem_from_case(read_case(path)))


def expected_times(steps) -> pd.DatetimeIndex:
    """Step t of the household starts at 2019-04-17 00:00 + (t - 1) hours (its meta sheet: start, step_h = 1)."""
    return pd.DatetimeIndex([pd.Timestamp("2019-04-17 00:00") + pd.Timedelta(hours=int(t) - 1) for t in steps])


def test_time_stamps_are_the_start_of_each_step(household):
    reference, _ = household
    assert reference.start == "2019-04-17 00:00" and reference.step_h == 1.0
    steps = np.arange(1, 25)
    assert list(reference.times(steps)) == list(expected_times(steps))
    frame = reference.dispatch_frame()
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "time"
    assert list(frame.index) == list(expected_times(steps))
    assert frame.index[-1] == pd.Timestamp("2019-04-17 23:00")


def test_wide_frames_hold_the_tidy_values(household):
    reference, _ = household
    dispatch = reference.dispatch
    frame = reference.dispatch_frame()
    assert frame.columns.names == ["agent", "quantity"]
    assert list(frame.columns) == list(dict.fromkeys(zip(dispatch["agent"], dispatch["quantity"])))  # case order
    long = frame.stack(["agent", "quantity"], future_stack=True)
    for row in dispatch.itertuples():
        assert long[(expected_times([row.t])[0], row.agent, row.quantity)] == row.value
    assert frame.attrs["units"][("battery", "e_end")] == "kWh"
    power = reference.dispatch_frame("p")
    assert list(power.columns) == list(dict.fromkeys(dispatch.query("quantity == 'p'")["agent"]))
    assert power.attrs["units"]["grid"] == "kW"
    with pytest.raises(EcodecError, match="no quantity 'watts'"):
        reference.dispatch_frame("watts")

    coupling = reference.coupling
    wide = reference.coupling_frame()
    assert wide.columns.names == ["resource", "field"]
    for row in coupling.itertuples():
        when = expected_times([row.t])[0]
        for field in ("lhs", "lower", "upper", "residual", "price"):
            assert wide.loc[when, (row.resource, field)] == getattr(row, field)
    assert wide.attrs["units"][("active_power", "price")] == "EUR/kWh"
    prices = reference.coupling_frame("price")
    assert list(prices.columns) == list(dict.fromkeys(coupling["resource"]))
    # the agents' terms add up to each coupling row's left-hand side
    terms = reference.contributions_frame("active_power")
    assert np.allclose(terms.sum(axis=1).to_numpy(), wide[("active_power", "lhs")].to_numpy(), atol=1e-9)
    assert reference.contributions_frame().columns.names == ["agent", "resource"]


def test_saved_tables_have_a_time_column_and_load_back_exactly(household, tmp_path):
    reference, distributed = household
    directory = save_run(distributed, tmp_path / "run", "both")
    for name in ("dispatch", "coupling", "contributions"):
        csv = pd.read_csv(directory / f"{name}.csv", parse_dates=["time"])
        assert list(csv.columns[:2]) == ["t", "time"]
        assert list(csv["time"]) == list(expected_times(csv["t"]))
    assert "time" not in pd.read_csv(directory / "agent_costs.csv").columns
    assert "time" not in distributed.dispatch.columns  # the tables in memory keep t only
    loaded = load_run(directory)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(distributed, name), check_exact=True)
    assert loaded.start == distributed.start
    assert list(loaded.dispatch_frame().index) == list(expected_times(range(1, 25)))


def test_the_results_workbook_has_formats_units_panes_and_filters(household, tmp_path):
    reference, distributed = household
    save_run(distributed, tmp_path / "run")
    book = openpyxl.load_workbook(tmp_path / "run" / "results.xlsx")
    assert book.sheetnames == ["summary", "dispatch", "coupling", "costs", "dispatch_long", "history"]
    for ws in book.worksheets[1:]:
        head = [c.value for c in ws[1]]
        assert ws.auto_filter.ref == f"A2:{openpyxl.utils.get_column_letter(len(head))}{ws.max_row}"
        assert ws.max_row == 2 + {"dispatch": 24, "coupling": len(distributed.coupling),
                                  "costs": len(distributed.agent_costs), "dispatch_long": len(distributed.dispatch),
                                  "history": 3}[ws.title]
        assert all(ws.column_dimensions[openpyxl.utils.get_column_letter(k + 1)].width >= 8
                   for k in range(len(head)))
    assert book["summary"].auto_filter.ref == f"A1:C{book['summary'].max_row}"

    ws = book["dispatch"]
    head, units = [c.value for c in ws[1]], [c.value for c in ws[2]]
    assert head[:2] == ["t", "time"] and ws.freeze_panes == "C3"
    assert units[head.index("battery e_end [kWh]")] == "kWh" and units[head.index("pv q [kvar]")] == "kvar"
    assert [ws.cell(row, 2).value for row in range(3, 27)] == list(expected_times(range(1, 25)))
    assert [ws.cell(row, 1).value for row in range(3, 27)] == list(range(1, 25))
    assert ws.cell(3, 1).number_format == "0" and ws.cell(3, 2).number_format == "yyyy-mm-dd hh:mm"
    grid = head.index("grid p [kW]") + 1
    assert ws.cell(3, grid).number_format == "#,##0.00"
    expected = distributed.dispatch_frame()[("grid", "p")].round(9).to_numpy()
    assert np.array_equal([ws.cell(row, grid).value for row in range(3, 27)], expected)

    ws = book["coupling"]
    head, units = [c.value for c in ws[1]], [c.value for c in ws[2]]
    assert units[head.index("lhs")] == "see unit" and units[head.index("price")] == "see price_unit"
    assert ws.cell(3, head.index("residual") + 1).number_format == "0.00E+00"
    assert ws.cell(3, head.index("price") + 1).number_format == "#,##0.0000"
    assert ws.freeze_panes == "C3"

    ws = book["costs"]
    head, units = [c.value for c in ws[1]], [c.value for c in ws[2]]
    assert units[head.index("cost")] == "EUR" and ws.freeze_panes == "B3"
    costs = [ws.cell(row, head.index("cost") + 1).value for row in range(3, ws.max_row + 1)]
    assert sum(costs) == pytest.approx(distributed.objective)
    assert ws.cell(3, head.index("cost") + 1).number_format == "#,##0.00"

    ws = book["dispatch_long"]
    head = [c.value for c in ws[1]]
    assert head[:2] == ["t", "time"]
    values = [ws.cell(row, head.index("value") + 1).value for row in range(3, ws.max_row + 1)]
    assert np.allclose(values, distributed.dispatch["value"].to_numpy(), rtol=1e-15, atol=0)  # 16 digits in a cell

    ws = book["history"]
    head, units = [c.value for c in ws[1]], [c.value for c in ws[2]]
    assert units[head.index("objective")] == "EUR" and units[head.index("elapsed_s")] == "s"
    assert ws.cell(3, head.index("iteration") + 1).number_format == "0"
    assert ws.cell(3, head.index("max_violation") + 1).number_format == "0.00E+00"
    assert ws.freeze_panes == "B3"


def test_parquet_results_hold_the_numbers_of_the_csv_tables(household, tmp_path):
    _, distributed = household
    directory = save_run(distributed, tmp_path / "run", "parquet")
    assert not (directory / "results.xlsx").exists()
    loaded = load_run(directory)  # from the CSV tables
    for name in TABLES:
        frame = pd.read_parquet(directory / f"{name}.parquet")
        if name in ("dispatch", "coupling", "contributions"):
            assert frame["time"].dtype.kind == "M"
            assert list(frame["time"]) == list(expected_times(frame["t"]))
            frame = frame.drop(columns="time")
        pd.testing.assert_frame_equal(frame, getattr(loaded, name), check_exact=True, check_dtype=False)
        for column in frame.select_dtypes("number").columns:
            assert frame[column].dtype == getattr(loaded, name)[column].dtype
    schema = pq.read_schema(directory / "dispatch.parquet")
    assert schema.field("value").metadata == {b"unit_column": b"unit"}
    assert pq.read_schema(directory / "coupling.parquet").field("price").metadata == {b"unit_column": b"price_unit"}
    assert pq.read_schema(directory / "agent_costs.parquet").field("cost").metadata == {b"unit": b"EUR"}
    assert pq.read_schema(directory / "history.parquet").field("objective").metadata == {b"unit": b"EUR"}
    about = json.loads(schema.metadata[b"ecodec"])
    assert about["start"] == "2019-04-17 00:00" and about["method"] == "proximal-dual"

    save_run(distributed, directory)  # back to the default: the stale Parquet files go
    assert not list(directory.glob("*.parquet")) and (directory / "results.xlsx").is_file()


def test_a_case_without_a_start_time_is_indexed_by_step(undated, tmp_path):
    assert undated.start == "" and undated.times([1, 2]) is None
    frame = undated.dispatch_frame()
    assert frame.index.name == "t" and list(frame.index) == list(range(1, 25))
    assert undated.coupling_frame("lhs").index.name == "t"
    directory = save_run(undated, tmp_path / "run", "both")
    assert "time" not in pd.read_csv(directory / "dispatch.csv").columns
    assert "time" not in pd.read_parquet(directory / "coupling.parquet").columns
    ws = openpyxl.load_workbook(directory / "results.xlsx")["dispatch"]
    assert [c.value for c in ws[1]][0] == "t" and "time" not in [c.value for c in ws[1]]
    assert ws.freeze_panes == "B3"
    loaded = load_run(directory)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(undated, name), check_exact=True)


def test_the_command_line_writes_the_chosen_results_format(tmp_path, capsys):
    out = tmp_path / "solved"
    assert main(["solve", str(HOUSEHOLD), "-o", str(out), "--results-format", "parquet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == str(out)
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(f"{name}.parquet" for name in TABLES)
    assert not (out / "results.xlsx").exists()
    assert load_run(out).objective == pytest.approx(solve_centralized(problem_from_case(read_case(HOUSEHOLD)))
                                                   .objective)
    assert main(["solve", str(HOUSEHOLD), "-o", str(tmp_path / "r.xlsx"), "--results-format", "both"]) == 2
    assert "give a directory name" in capsys.readouterr().err
    assert not (tmp_path / "r.xlsx").exists()
