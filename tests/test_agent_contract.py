"""The agent contract, for every registered agent kind: separable terms, declared parameters checked in Python with
the workbook's words, and the workbook sheet, template and docs generated from the declarations."""

from __future__ import annotations

import copy
import dataclasses
import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.core.expr.visitor import identify_variables

import ecodec.models.parameters
from ecodec.carriers import CARRIER_UNITS
from ecodec.declarations import CHOICE, INTEGER, NUMBER
from ecodec.errors import AgentError, CaseError
from ecodec.io.schema import ACTIVE, agent_sheets, sheets
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.models import (AggregativeAgent, Buyer, DeploymentAgent, ElectricVehicle, Grid, Seller, SharingAgent,
                           Storage, TimeGrid, agent_classes)
from ecodec.problem import DeploymentProblem, TargetComponent, Workspace
from ecodec.models.parameters import DECLARED, NAME, parameter
from ecodec.models.registry import register_agent_kind
from ecodec.problem import AggregativeProblem, CoupledProblem

ROOT = Path(__file__).resolve().parents[1]
CLASSES = agent_classes()
KIND_IDS = [cls.kind for cls in CLASSES]
HORIZON = TimeGrid(4, 0.25)  # the example case's horizon (meta T, step_h)

#: Values breaking a rule of each kind that has rules, on the example row
RULE_BREAKS = {
    "microturbine": [{"p_min_kw": 80.0}, {"beta_sm3_per_kwh": 1.0}],
    "renewable": [{"carrier": "thermal"}],
    "storage": [{"e_init_kwh": 60.0}, {"p_min_kw": 5.0, "p_max_kw": -5.0}, {"e_final_min_kwh": 55.0}],
    "grid": [{"p_min_kw": 300.0}, {"q_min_kvar": 200.0}],
    "ev": [{"e_target_kwh": 50.0}, {"mode": "v2g"}, {"e_min_kwh": 20.0}],
    "buyer": [{"grid_export_price_per_kwh": 0.3}],
    "building": [{"t_min_c": 30.0}],
    "cold_storage": [{"e_init_kwh": 500.0}, {"e_final_min_kwh": 500.0}],
}


def _params(cls) -> dict:
    known = {p.name for p in cls.parameters()}
    return {k: v for k, v in cls.example.items() if k in known}


def _invalid_values(cls) -> list[dict]:
    """Out of range, a boolean for a number, a text for a number, an unknown choice, then the rule breaks."""
    params = cls.parameters()
    found = [{p.name: p.lower - 1.0} for p in params if p.lower is not None][:1]
    found += [{p.name: True} for p in params if p.dtype == NUMBER][:1]
    found += [{p.name: "abc"} for p in params if p.dtype in (NUMBER, INTEGER) and not p.profile][:1]
    found += [{p.name: "neither"} for p in params if p.dtype == CHOICE][:1]
    return found + RULE_BREAKS.get(cls.kind, [])


INVALID = [(cls, bad) for cls in CLASSES for bad in _invalid_values(cls)]


def _workbook_messages(tmp_path: Path, cls, bad: dict, meta: dict | None = None) -> list[str]:
    """The workbook's messages about the example row of ``cls`` with ``bad`` written into it, without the cell
    coordinates (file, sheet, row)."""
    tables = copy.deepcopy(example_tables())
    tables[cls.sheet][0].update(bad)
    tables["meta"][0].update(meta or {})
    path = write_case_workbook(tmp_path / f"{cls.kind}.xlsx", tables)
    with pytest.raises(CaseError) as refused:
        read_case(path)
    where = f"{path.name}: sheet '{cls.sheet}', row 2, "
    return [m[len(where):] for m in refused.value.messages() if m.startswith(where)]


def _owned_by(var, block) -> bool:
    parent = var.parent_block()
    while parent is not None:
        if parent is block:
            return True
        parent = parent.parent_block()
    return False


# -- (a) separability ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=KIND_IDS)
def test_cost_and_contributions_use_only_the_agents_own_variables(cls):
    """Built from its example row next to a copy of itself, an agent's cost and contributions (shares for an
    aggregative agent) reference its own block's variables only (the cost of an aggregative agent also the
    aggregates it is given)."""
    m = pyo.ConcreteModel()
    m.own, m.other = pyo.Block(), pyo.Block()
    if issubclass(cls, AggregativeAgent):
        m.sigma = pyo.Var(cls.aggregates, HORIZON.steps, initialize=1.0)
        sigma = {k: [m.sigma[k, t] for t in HORIZON.steps] for k in cls.aggregates}
        terms = cls.example_agent().build(m.own, HORIZON, sigma)
        cls.example_agent("other").build(m.other, HORIZON, sigma)
        parts, allowed = terms.shares, set(cls.aggregates)
        given = {id(v) for v in m.sigma.values()}
    elif issubclass(cls, DeploymentAgent):  # no cost of its own: its kernel over the cells, from its position
        problem = DeploymentProblem([cls.example_agent()], Workspace(0, 100, 0, 100, 3, 3),
                                    [TargetComponent(50.0, 50.0, 10.0, 1.0)])
        block = problem.local_model(cls.example_agent()).model.agent
        for expr in block.kernel.values():
            assert all(_owned_by(v, block) for v in identify_variables(expr, include_fixed=True))
        return
    elif issubclass(cls, SharingAgent):  # what it sends to each node of its neighbourhood, itself included
        profile = np.full(HORIZON.T, 2.0)
        terms = cls.example_agent().build(m.own, HORIZON, (cls.example["name"], "other"), profile, profile)
        cls.example_agent("other").build(m.other, HORIZON, (cls.example["name"], "other"), profile, profile)
        parts, allowed, given = terms.sent, {cls.example["name"], "other"}, set()
    else:
        terms = cls.example_agent().build(m.own, HORIZON)
        cls.example_agent("other").build(m.other, HORIZON)
        parts, allowed, given = terms.contributions, set(CARRIER_UNITS), set()
    assert parts and set(parts) <= allowed
    for v in identify_variables(terms.cost, include_fixed=True):
        assert _owned_by(v, m.own) or id(v) in given, f"{cls.kind} cost uses {v.name}"
    for key, expressions in parts.items():
        assert len(expressions) == HORIZON.T
        for expr in expressions:
            names = [v.name for v in identify_variables(expr, include_fixed=True) if not _owned_by(v, m.own)]
            assert not names, f"{cls.kind} {key} uses {names}"


# -- (b) validation in Python with the workbook's words ----------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=KIND_IDS)
def test_each_example_row_is_a_valid_agent(cls):
    agent = cls.example_agent()
    assert agent.name == cls.example["name"] and agent.parameter_values() == {
        p.name: cls.example.get(p.name, p.default) for p in cls.parameters()}
    agent.validate(HORIZON)


@pytest.mark.parametrize("cls, bad", INVALID, ids=[f"{c.kind}-{'-'.join(b)}={list(b.values())[0]}" for c, b in INVALID])
def test_an_invalid_value_is_refused_in_the_workbooks_words(tmp_path, cls, bad):
    name = cls.example["name"]
    with pytest.raises(AgentError) as refused:
        cls(name, **{**_params(cls), **bad})
    expected = _workbook_messages(tmp_path, cls, bad)
    assert expected, "the workbook accepted the row"
    assert refused.value.messages() == [f"agent '{name}' ({cls.kind}): {m}" for m in expected]
    assert str(refused.value) == "\n".join(refused.value.messages())


def test_the_storage_of_the_issue_is_refused_with_every_problem():
    with pytest.raises(AgentError) as refused:
        Storage(name="b", p_min_kw=5, p_max_kw=-5, e_init_kwh=3, e_min_kwh=0, e_max_kwh=1)
    assert refused.value.messages() == [
        "agent 'b' (storage): column 'p_min_kw': got 5; expected p_min_kw <= p_max_kw at every step",
        "agent 'b' (storage): column 'e_init_kwh': got 3; expected e_init_kwh within [e_min_kwh, e_max_kwh] of the "
        "first step"]
    assert refused.value.agent == "b" and refused.value.kind == "storage"


def test_rules_on_the_horizon_are_checked_when_the_problem_is_built(tmp_path):
    """An EV leaving after the last step is a valid agent until it meets a horizon: the problem refuses it with
    the workbook's message; a profile of the wrong length is refused there too."""
    params = {**_params(ElectricVehicle), "departure_step": 5}
    ev = ElectricVehicle("ev1", **params)
    with pytest.raises(AgentError) as refused:
        CoupledProblem([ev], [], HORIZON)
    expected = _workbook_messages(tmp_path, ElectricVehicle, {"departure_step": 5})
    assert refused.value.messages() == [f"agent 'ev1' (ev): {m}" for m in expected]
    assert expected == ["column 'departure_step': got 5; expected a step from arrival_step to T (the number of steps)"]

    short = Buyer("b", demand_kwh=np.array([1.0, 2.0, 3.0]), grid_export_price_per_kwh=0.1,
                  grid_import_price_per_kwh=0.3)
    with pytest.raises(AgentError, match=r"column 'demand_kwh': got a profile with values from 1 to 3; expected .*"
                                         r", one value per step \(T = 4\), not 3"):
        AggregativeProblem([short, Seller.example_agent()], HORIZON)


def test_an_agent_error_survives_pickling():
    import pickle

    with pytest.raises(AgentError) as refused:
        Grid("g", p_min_kw=1.0, p_max_kw=0.0, buy_price_per_kwh=0.2, sell_price_per_kwh=0.1)
    again = pickle.loads(pickle.dumps(refused.value))
    assert again.messages() == refused.value.messages()


def test_the_parameters_module_examples_run():
    assert doctest.testmod(ecodec.models.parameters).failed == 0


# -- registration ---------------------------------------------------------------------------------------------
def test_registration_refuses_an_undeclared_parameter_and_a_taken_kind():
    with pytest.raises(TypeError, match="parameters size_kw are not declared"):
        @register_agent_kind
        @dataclasses.dataclass(eq=False, kw_only=True)
        class Loose(Grid):
            size_kw: float = 1.0
            kind, sheet = "loose", "looses"

    with pytest.raises(ValueError, match="kind 'grid' or sheet 'grids' is taken by Grid"):
        @register_agent_kind
        @dataclasses.dataclass(eq=False, kw_only=True)
        class Twin(Grid):
            size_kw: float = parameter(NUMBER, "kW", "Size.", default=1.0)
            sheet = "grids"
    assert [cls.kind for cls in agent_classes()] == KIND_IDS


# -- (d) the workbook is the declarations ----------------------------------------------------------------------
def test_the_agent_sheets_are_the_declarations():
    specs = agent_sheets()
    assert [s.name for s in specs] == ["microturbines", "renewables", "storages", "grid", "boilers", "chillers",
                                       "buildings", "cold_storages", "evs", "buyers", "sellers",
                                       "quadratic_exponential", "prosumers", "sensors"]
    assert [s.agent_kind for s in specs] == KIND_IDS
    for cls, spec in zip(CLASSES, specs):
        assert spec in sheets() and spec.description == cls.sheet_description and not spec.required
        assert spec.columns[:2] == (NAME, ACTIVE)
        fields = {f.name: f for f in dataclasses.fields(cls) if DECLARED in f.metadata}
        assert spec.column_names[2:] == tuple(fields)
        for column in spec.columns[2:]:
            field = fields[column.name]
            declared = field.metadata[DECLARED]
            assert (column.dtype, column.unit, column.lower, column.upper, column.lower_open, column.upper_open,
                    column.profile, column.choices, column.description) == (
                declared.dtype, declared.unit, declared.lower, declared.upper, declared.lower_open,
                declared.upper_open, declared.profile, declared.choices, declared.description)
            has_default = field.default is not dataclasses.MISSING
            assert column.required == (not has_default)
            assert column.default == (field.default if has_default else None)
        assert spec.rules == cls.rules
        assert spec.examples == ({c: cls.example[c] for c in spec.column_names if c in cls.example},)


def _symbol_tables(doc: str) -> list[str]:
    """The 'workbook column' cells of the RST symbol tables of a docstring (a cell overflowing its column fails)."""
    lines, cells = doc.splitlines(), []
    rulers = [i for i, line in enumerate(lines) if line.strip() and set(line.strip()) <= {"=", " "}]
    for top, head, bottom in zip(rulers, rulers[1:], rulers[2:]):
        if head != top + 2 or "workbook column" not in lines[top + 1]:
            continue
        spans = [m.span() for m in re.finditer(r"=+", lines[top])]
        col = next(k for k, (a, b) in enumerate(spans) if lines[top + 1][a:b].startswith("workbook column"))
        start, end = spans[col][0], spans[col + 1][0]
        for line in lines[head + 1:bottom]:
            assert line[start - 2:start].strip() == "" and line[end - 2:end].strip() == "", f"overflow: {line}"
            cells.append(line[start:end])
    return cells


@pytest.mark.parametrize("module", sorted({cls.__module__ for cls in CLASSES}))
def test_the_docstring_symbol_tables_name_the_declared_parameters(module):
    """Every parameter of the module's agents is in its docstring's symbol table, and every parameter-like name
    there (lower case with an underscore, not a symbol such as w_j) is a declared parameter."""
    params = {p.name for cls in CLASSES if cls.__module__ == module for p in cls.parameters()}
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(_symbol_tables(sys.modules[module].__doc__))))
    assert params <= tokens, sorted(params - tokens)
    named = {t for t in tokens if t == t.lower() and "_" in t and not re.fullmatch(r"[a-z]+_[a-z]", t)}
    assert named <= params, sorted(named - params)


def test_the_howto_example_runs():
    """docs/howto_add_agent.md: its Python blocks, run in order in a fresh interpreter, do what the page says."""
    text = (ROOT / "docs" / "howto_add_agent.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    for line in re.findall(r"```text\n(.*?)```", text, flags=re.S):
        assert line.strip() in done.stdout, (line, done.stdout)
