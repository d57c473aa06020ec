"""Results of large fleets: the column-wise tables, the streamed results workbook and the packed checkpoint.

References: the tidy tables are rebuilt in this file row by row, agent by agent (the plain definition of each
table); the workbook is read back with openpyxl and compared with the CSV tables of the same save (a cell holds
a float to 16 significant digits, so it must equal ``float(f"{v:.16g}")`` exactly); the checkpoint must give back
every array of every agent with the same dtype, shape and bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ecodec.decomposition import state
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case
from ecodec.results import save_run, workbook
from ecodec.results.run_result import AgentOutcome, RunResult, contribution_table, dispatch_table

CASES = Path(__file__).resolve().parents[1] / "cases"


def _outcomes(problem, seed: int) -> dict[str, AgentOutcome]:
    """Random decisions of every agent: some contribution rows all zero (left out of the table), some -0.0."""
    rng = np.random.default_rng(seed)
    T, R = problem.grid.T, len(problem.resources)
    out = {}
    for agent in reversed(problem.agents):  # any order: the result follows the problem's
        labels = [(o.quantity, o.unit) for o in type(agent).outputs]
        values = rng.normal(size=(len(labels), T))
        values[:, rng.random(T) < 0.2] = -0.0
        contribution = rng.normal(size=(R, T)) * (rng.random((R, 1)) < 0.6)
        contribution[:, :2] = -0.0
        out[agent.name] = AgentOutcome(kind=agent.kind, labels=labels, values=values, cost=float(rng.normal()),
                                       contribution=contribution)
    return out


def _straightforward(problem, outcomes: dict[str, AgentOutcome]) -> dict[str, pd.DataFrame]:
    """The tables by their definition: a row per agent, quantity (resource) and step, in the problem's order."""
    dispatch, contributions, costs = [], [], []
    lhs = np.zeros((len(problem.resources), problem.grid.T))
    for agent in problem.agents:
        o = outcomes[agent.name]
        costs.append({"agent": agent.name, "kind": o.kind, "cost": o.cost})
        for (quantity, unit), row in zip(o.labels, o.values):
            for t, value in enumerate(row, start=1):
                dispatch.append({"t": t, "agent": agent.name, "kind": o.kind, "quantity": quantity,
                                 "value": 0.0 if value == 0 else float(value), "unit": unit})
        for k, resource in enumerate(problem.resources):
            lhs[k] = lhs[k] + o.contribution[k]
            if any(v != 0 for v in o.contribution[k]):
                for t, value in enumerate(o.contribution[k], start=1):
                    contributions.append({"t": t, "agent": agent.name, "kind": o.kind, "resource": resource.name,
                                          "unit": resource.unit, "value": 0.0 if value == 0 else float(value)})
    return {"dispatch": pd.DataFrame(dispatch), "contributions": pd.DataFrame(contributions),
            "agent_costs": pd.DataFrame(costs), "lhs": lhs}


@pytest.fixture(scope="module")
def microgrid():
    return problem_from_case(read_case(CASES / "microgrid_8.xlsx"))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A fleet of 200 electric vehicles (a generated case) with random decisions, as a distributed run's result."""
    path = write_case_workbook(tmp_path_factory.mktemp("fleet") / "fleet.xlsx", pev_tables(200, 3, "lp", 1.0))
    problem = problem_from_case(read_case(path))
    history = pd.DataFrame({"iteration": [1, 2], "objective": [1.5, 1.25], "max_violation": [0.5, np.inf]})
    return RunResult.from_agent_outcomes("primal-decomposition", problem, "iteration_limit", {"n_agents": 200},
                                         history, _outcomes(problem, 11))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_tables_equal_their_row_by_row_definition(microgrid, seed):
    outcomes = _outcomes(microgrid, seed)
    result = RunResult.from_agent_outcomes("primal-decomposition", microgrid, "iteration_limit", {}, pd.DataFrame(),
                                           outcomes)
    expected = _straightforward(microgrid, outcomes)
    for name in ("dispatch", "contributions", "agent_costs"):
        got = getattr(result, name)
        pd.testing.assert_frame_equal(got, expected[name], check_exact=True, check_dtype=False)
        assert all(pd.api.types.is_string_dtype(got[c]) for c in ("agent", "kind"))
    assert np.array_equal(result.coupling["lhs"].to_numpy(), expected["lhs"].ravel())  # summed in agent order
    assert result.objective == sum(outcomes[a.name].cost for a in microgrid.agents)
    for table in (result.dispatch, result.contributions):
        assert table["t"].dtype == np.int64 and not np.signbit(table["value"][table["value"] == 0]).any()


def test_tables_of_agents_without_steps_or_terms_are_empty():
    assert dispatch_table({"a": ("pv", [("p", "kW")], np.zeros((1, 0)))}).empty
    blocks = dispatch_table({"a": ("pv", [("p", "kW"), ("q", "kvar")], np.ones((2, 2))),
                             "b": ("grid", [("p", "kW")], np.full((1, 3), 2.0))})
    assert list(blocks["t"]) == [1, 2, 1, 2, 1, 2, 3] and list(blocks["quantity"]) == ["p", "p", "q", "q"] + ["p"] * 3

    class Grid:
        T = 2

    class Problem:
        grid, resources = Grid, []

    assert contribution_table(Problem, {"a": ("pv", np.zeros((0, 2)))}).empty


@pytest.mark.slow  # about 15 s on an idle core: 170,000 cells written and read back
def test_the_workbook_of_a_fleet_holds_the_csv_tables(fleet, tmp_path):
    directory = save_run(fleet, tmp_path / "run", "xlsx")
    book = openpyxl.load_workbook(directory / "results.xlsx", read_only=True)
    assert book.sheetnames == ["summary", "dispatch", "coupling", "costs", "dispatch_long", "history"]

    def sheet(name):
        rows = list(book[name].iter_rows(values_only=True))
        return rows[0], rows[1], rows[2:]

    def cell(value):  # what a cell holds of a float: 16 significant digits
        return float(f"{value:.16g}")

    dispatch = pd.read_csv(directory / "dispatch.csv", keep_default_na=False)
    head, units, rows = sheet("dispatch_long")
    assert list(head) == list(dispatch.columns) == ["t", "agent", "kind", "quantity", "value", "unit"]
    assert units == (None, None, None, None, "see unit", None)
    quantities = len(fleet.dispatch[["agent", "quantity"]].drop_duplicates())  # 6 per vehicle
    assert len(rows) == len(dispatch) == quantities * 24 and quantities >= 200 * 5
    assert [r[:4] + r[5:] for r in rows] == list(dispatch.drop(columns="value").itertuples(index=False, name=None))
    assert [r[4] for r in rows] == [cell(v) for v in dispatch["value"]]

    head, units, rows = sheet("dispatch")
    wide = dispatch.assign(column=dispatch["agent"] + " " + dispatch["quantity"] + " [" + dispatch["unit"] + "]")
    for k in (1, 2, 777, len(head) - 1):
        column = wide[wide["column"] == head[k]]
        assert units[k] == column["unit"].iloc[0]
        assert [r[k] for r in rows] == [cell(np.round(v, 9) + 0.0) for v in column["value"]]
    assert len(head) == 1 + quantities and [r[0] for r in rows] == list(range(1, 25))

    costs = pd.read_csv(directory / "agent_costs.csv", keep_default_na=False)
    head, units, rows = sheet("costs")
    assert [(r[0], r[1], r[2]) for r in rows] == [(a, k, cell(c)) for a, k, c in costs.itertuples(index=False)]
    assert units[2] == "EUR" and {r[3] for r in rows} == {"EUR"}

    coupling = pd.read_csv(directory / "coupling.csv", keep_default_na=False, na_values={"price": [""]})
    head, units, rows = sheet("coupling")
    for k, column in enumerate(head):
        if coupling[column].dtype.kind == "f":
            assert [r[k] for r in rows] == [None if v != v else cell(v) if np.isfinite(v) else
                                            ("inf" if v > 0 else "-inf") for v in coupling[column]]
        else:
            assert [r[k] for r in rows] == list(coupling[column])
    head, units, rows = sheet("history")
    assert rows == [(1, 1.5, 0.5), (2, 1.25, "inf")] and units[1] == "EUR"

    summary = {r[0]: r[1] for r in book["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["objective"] == cell(fleet.objective) and summary["n_agents"] == 200
    first = next(book["dispatch_long"].iter_rows(min_row=1, max_row=3))  # the header and units rows' fonts
    assert first[0].font.b
    data = next(book["dispatch_long"].iter_rows(min_row=3, max_row=3))
    assert data[4].number_format == "#,##0.00" and data[0].number_format == "0"
    book.close()


def test_a_table_larger_than_a_sheet_continues_on_numbered_sheets(microgrid, tmp_path, monkeypatch):
    result = RunResult.from_agent_outcomes("primal-decomposition", microgrid, "iteration_limit", {}, pd.DataFrame(),
                                           _outcomes(microgrid, 5))
    monkeypatch.setattr(workbook, "MAX_ROWS", 1000)
    monkeypatch.setattr(workbook, "MAX_COLUMNS", 12)
    monkeypatch.setattr(workbook, "_BLOCK", 333)  # rows turned into cells a block at a time
    path = workbook.write_results_workbook(result, tmp_path / "results.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    quantities = len(result.dispatch[["agent", "quantity"]].drop_duplicates())
    parts = -(-quantities // 10)  # 10 agent quantities beside t and time on each dispatch sheet
    longs = -(-len(result.dispatch) // 998)
    names = (["dispatch"] + [f"dispatch_{k}" for k in range(2, parts + 1)],
             ["dispatch_long"] + [f"dispatch_long_{k}" for k in range(2, longs + 1)])
    assert parts > 2 and longs > 2 and book.sheetnames == ["summary", *names[0], "coupling", "costs", *names[1]]
    heads, values = [], []
    for name in names[0]:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0][:2] == ("t", "time") and len(rows[0]) <= 12 and [r[0] for r in rows[2:]] == list(range(1, 97))
        heads += rows[0][2:]
        values.append(np.array([r[2:] for r in rows[2:]], dtype=float))
    expected = result.dispatch_frame().round(9) + 0.0
    assert heads == [f"{a} {q} [{expected.attrs['units'][(a, q)]}]" for a, q in expected.columns]
    assert np.array_equal(np.hstack(values), expected.to_numpy())
    long_values = []
    for name in names[1]:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0] == ("t", "time", "agent", "kind", "quantity", "value", "unit") and len(rows) <= 1000
        long_values += [r[5] for r in rows[2:]]
    assert long_values == [float(f"{v:.16g}") for v in result.dispatch["value"]]
    book.close()


def _states(seed: int, n: int) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    agents = {}
    for k in range(n):
        matrix = rng.normal(size=(4, 6))
        agents[f"ev{k}"] = {
            "attributes": {"y": rng.normal(size=24), "mu": float(rng.normal()), "streak": int(k),
                           "side": np.asfortranarray(matrix), "every_other": matrix[:, ::2], "scalar": np.array(2.5),
                           "empty": np.zeros((0, 3)), "pair": (np.arange(k % 5), None), "flags": [True, "x"],
                           "rng": np.random.default_rng(k)},
            "decision": rng.normal(size=73) if k % 7 else None,
            "program": {"col_status": rng.integers(-1, 3, size=73).astype(np.int8),
                        "basis_valid": bool(k % 2), "mask": rng.random(49) < 0.5}}
    return agents


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == np.ascontiguousarray(b).tobytes())
    if isinstance(a, np.random.Generator):
        return b == a.bit_generator.state
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("seed", [0, 1])
def test_a_checkpoint_gives_back_every_agents_state(tmp_path, seed):
    agents = _states(seed, 400)
    history = [{"iteration": k, "objective": 1.0 / k} for k in range(1, 4)]
    path = tmp_path / "state.npz"
    state.write_state(path, {"iteration": 3}, {"price": np.arange(3.0), "warnings": []}, agents, history)
    back = state.read_state(path)
    assert list(back["agents"]) == list(agents)
    assert all(_same(agents[name], back["agents"][name]) for name in agents)
    assert _same(np.arange(3.0), back["shared"]["price"]) and back["history"] == history
    with np.load(path) as archive:  # the arrays are packed: a few entries, not one per array
        assert len(archive.files) < 12


def test_a_checkpoint_of_the_earlier_format_is_still_read(tmp_path):
    """Format 1: one archive entry per array, referred to by name."""
    document = {"format": 1, "iteration": 2, "history_columns": ["iteration"], "history_rows": 1, "shared": {},
                "agents": ["a", "b"], "agent_state": [{"x": {"__array__": "array1"}}, {"x": {"__array__": "array2"}}]}
    path = tmp_path / "old.npz"
    np.savez(path, **{"history0": np.array([1]), "array1": np.arange(3.0), "array2": np.eye(2, dtype=np.int8),
                      state.META: np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)})
    back = state.read_state(path)
    assert _same(back["agents"], {"a": {"x": np.arange(3.0)}, "b": {"x": np.eye(2, dtype=np.int8)}})
    assert back["history"] == [{"iteration": 1}]
