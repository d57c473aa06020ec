"""Issue 21 item 5, CLI habits: -v after the command, "did you mean", the compact comparison table (--wide),
iterations to 1% as "stays within from" beside the first crossing, and at most 20 per-agent cost lines."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecodec.cli import _parser, main
from ecodec.cli_output import print_compare
from ecodec.decomposition import OptionError, options_for, spec_of
from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import EcodecError
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.results import RunResult, compare, kpi
from ecodec.results.comparison import COLUMNS, Comparison
from ecodec.results.text import MAX_AGENT_LINES, text_summary
from ecodec.study import run_case

ROOT = Path(__file__).resolve().parents[1]
HOUSEHOLD = ROOT / "cases" / "household_3.xlsx"


@pytest.fixture(scope="module")
def reference() -> RunResult:
    return solve_centralized(problem_from_case(read_case(HOUSEHOLD)))


# -- (a) global flags after the command ---------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "verbose"), [
    (["run", "c.xlsx", "-v"], True), (["-v", "run", "c.xlsx"], True), (["run", "c.xlsx"], False),
    (["compare", "c.xlsx", "--verbose"], True), (["solve", "c.xlsx", "-v"], True), (["methods"], False),
])
def test_verbose_is_accepted_before_and_after_the_command(argv, verbose):
    assert _parser().parse_args(argv).verbose is verbose


def test_verbose_after_the_command_turns_on_logging(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.update(kw))
    assert main(["schema-docs", "--output", str(tmp_path / "s.md"), "-v"]) == 0
    assert seen["level"] == logging.DEBUG
    assert main(["schema-docs", "--output", str(tmp_path / "s.md")]) == 0
    assert seen["level"] == logging.WARNING


# -- (b) did you mean -----------------------------------------------------------------------------------------
def test_unknown_method_and_option_suggest_the_close_name():
    with pytest.raises(OptionError, match=r"unknown method 'centralised' \(did you mean 'centralized'\?\)"):
        spec_of("centralised")
    with pytest.raises(OptionError) as error:
        options_for("primal-decomposition", {"step_sise": 0.3})
    assert "unknown primal-decomposition option step_sise (did you mean 'step_size'?)" in str(error.value)
    with pytest.raises(OptionError) as error:  # nothing close: no suggestion, the known names listed
        options_for("primal-decomposition", {"zzz": 1})
    assert "did you mean" not in str(error.value) and "known: " in str(error.value)


def test_the_study_and_the_cli_suggest_a_method(capsys):
    with pytest.raises(EcodecError, match=r"unknown method 'tracking_admm' \(did you mean 'tracking-admm'\?\)"):
        run_case(HOUSEHOLD, "tracking_admm", progress=None)
    assert main(["run", str(HOUSEHOLD), "--method", "centralised", "-q"]) == 2
    assert "unknown method 'centralised' (did you mean 'centralized'?)" in capsys.readouterr().err
    assert main(["run", str(HOUSEHOLD), "-O", "step_sise=0.3", "-q"]) == 2
    assert "option step_sise (did you mean 'step_size'?)" in capsys.readouterr().err


def test_an_unknown_command_suggests_the_close_one(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["comapre", "case.xlsx"])
    assert stop.value.code == 2
    assert "unknown command 'comapre' (did you mean 'compare'?)" in capsys.readouterr().err


# -- (c) compact comparison table -----------------------------------------------------------------------------
def _row(method: str, **values) -> dict[str, object]:
    row = dict.fromkeys(COLUMNS)
    row.update(method=method, status="converged", objective=10.0, cost_gap=0.0, max_violation=0.0,
               rms_violation=0.0, rel_violation=0.0, distance=0.0, iterations=1, iterations_to_1pct=1,
               first_to_1pct=1, wall_time_s=0.5, messages=0, message="done")
    row["iterations_to_0.1pct"] = row["first_to_0.1pct"] = 1
    row.update(values)
    return row


def _comparison() -> Comparison:
    rows = [_row("centralized"),
            _row("admm", cost_gap=2e-3, distance=0.3, iterations=50, iterations_to_1pct=30, first_to_1pct=12,
                 messages=400, **{"iterations_to_0.1pct": None, "first_to_0.1pct": None})]
    return Comparison(case_name="toy", reference="centralized", currency="EUR", rows=rows)


def test_the_compact_table_leaves_out_columns_zero_or_missing_in_every_run():
    comparison = _comparison()
    compact, wide = comparison.format_table(), comparison.format_table(wide=True)
    header = compact.splitlines()[1]
    for dropped in ("max viol.", "rms viol.", "rel. viol.", "bound [EUR]", "gap to bound", "first 0.1%"):
        assert dropped not in header and dropped in wide.splitlines()[1]
    for kept in ("cost gap", "distance", "to 1%", "to 0.1%", "first 1%", "messages", "time [s]"):
        assert kept in header
    assert ("not shown: bound [EUR], gap to bound, max viol., rms viol., rel. viol. (0 or n/a in every run); "
            "first 0.1% (the same as 'to 0.1%' in every run); --wide shows every column") in compact
    assert "not shown" not in wide
    admm = next(line for line in compact.splitlines() if line.startswith("admm"))
    assert admm.split() == ["admm", "converged", "10.00", "2.00e-03", "3.00e-01", "50", "30", ">", "50", "12",
                            "0.50", "400"]
    assert len(header) < len(wide.splitlines()[1])
    data = comparison.to_json_dict()  # JSON keeps every column
    assert data["admm"]["max_violation"] == 0.0 and data["admm"]["first_to_0.1pct"] is None
    assert set(data["admm"]) == set(COLUMNS) - {"method"}


def test_one_nonzero_value_keeps_a_column():
    comparison = _comparison()
    comparison.rows[1]["max_violation"] = 1e-9
    assert "max viol." in comparison.format_table().splitlines()[1]


def test_wide_reaches_the_table_from_the_command_line(capsys):
    args = _parser().parse_args(["compare", "c.xlsx", "--wide"])
    assert args.wide is True and _parser().parse_args(["compare", "c.xlsx"]).wide is False
    study = SimpleNamespace(comparison=_comparison(), seeds=None, written={})
    print_compare(args, study)
    assert "max viol." in capsys.readouterr().out
    print_compare(_parser().parse_args(["compare", "c.xlsx"]), study)
    assert "max viol." not in capsys.readouterr().out.splitlines()[1]
    print_compare(_parser().parse_args(["compare", "c.xlsx", "--json"]), study)
    assert "max_violation" in json.loads(capsys.readouterr().out)["admm"]


# -- (d) iterations to 1%: stays within, and the first crossing ---------------------------------------------
# 1% first crossed at 2, above again at 3 (cost gap) and 5 (violation), within from 6 on; 0.1% only at 4
GAPS = [0.5, 0.008, 0.02, 0.0009, 0.005, 0.009, 0.004, 0.003]
VIOLATIONS = [0.2, 0.001, 0.001, 0.0005, 0.03, 0.002, 0.001, 0.001]


def _history(objective: float, gaps=GAPS, violations=VIOLATIONS) -> pd.DataFrame:
    return pd.DataFrame({"iteration": range(1, len(gaps) + 1), "objective": [objective * (1 + g) for g in gaps],
                         "rel_violation": violations, "cost_gap": gaps})


def test_iterations_to_counts_from_the_last_crossing_and_first_to_from_the_first():
    h = _history(1.0)
    assert kpi.first_iteration_to(h, 1e-2) == 2
    assert kpi.iterations_to(h, 1e-2) == 6
    assert kpi.first_iteration_to(h, 1e-3) == 4
    assert kpi.iterations_to(h, 1e-3) is None  # went back above 0.1% and never returned
    assert kpi.iterations_to(h, 1.0) == 1  # within from the start
    assert kpi.iterations_to(h.assign(cost_gap=h["cost_gap"].where(h["iteration"] != 7)), 1e-2) == 8  # NaN: out
    assert kpi.iterations_to(h.drop(columns="cost_gap"), 1e-2) is None
    assert kpi.first_iteration_to(h.drop(columns="cost_gap"), 1e-2) is None


def test_the_comparison_reports_both_numbers(reference):
    run = copy.deepcopy(reference)
    run.method, run.status = "admm", "converged"
    run.history = _history(reference.objective)
    run.info = {"iterations": len(GAPS), "wall_time_s": 1.0, "messages": 8, "message": "converged: test"}
    row = compare([run], reference).table().set_index("method").loc["admm"]
    assert (row["iterations_to_1pct"], row["first_to_1pct"], row["first_to_0.1pct"]) == (6, 2, 4)
    assert pd.isna(row["iterations_to_0.1pct"])
    # without a reference in the history the gaps come from its objective column: the same numbers
    run.history = run.history.drop(columns="cost_gap")
    again = compare([run], reference).table().set_index("method").loc["admm"]
    assert (again["iterations_to_1pct"], again["first_to_1pct"]) == (6, 2)
    text = compare([run], reference).format_table()
    admm = next(line for line in text.splitlines() if line.startswith("admm")).split()
    assert "> 8" in " ".join(admm) and "first 1%" in text.splitlines()[1]


# -- (e) at most 20 per-agent cost lines ----------------------------------------------------------------------
def _with_costs(reference: RunResult, costs: list[float]) -> RunResult:
    run = copy.deepcopy(reference)
    run.agent_costs = pd.DataFrame({"agent": [f"ev{i}" for i in range(len(costs))], "kind": "ev", "cost": costs})
    run.info["n_agents"] = len(costs)
    return run


def test_solve_prints_the_largest_costs_and_sums_the_rest(reference):
    costs = list(np.linspace(0.1, 2.5, 25))
    costs[3] = -7.0  # the largest by absolute value, though negative
    lines = text_summary(_with_costs(reference, costs)).splitlines()
    agent_lines = [line for line in lines if line.startswith("  ev")]
    assert len(agent_lines) == MAX_AGENT_LINES == 20
    assert agent_lines[0].split()[0] == "ev3" and agent_lines[1].split()[0] == "ev24"
    shown = {line.split()[0] for line in agent_lines}
    rest = [c for i, c in enumerate(costs) if f"ev{i}" not in shown]
    assert sorted(rest) == sorted(costs[i] for i in (0, 1, 2, 4, 5))  # the five smallest |cost|
    summary = next(line for line in lines if line.strip().startswith("..."))
    assert summary.startswith(f"  ... and 5 more (total {sum(rest):,.2f} EUR")
    assert "the 20 largest by absolute value of 25 agents" in "\n".join(lines)


def test_solve_keeps_every_line_and_the_case_order_up_to_20_agents(reference):
    costs = [float(c) for c in range(20, 0, -1)][::-1]  # increasing: case order is not cost order
    lines = text_summary(_with_costs(reference, costs)).splitlines()
    agent_lines = [line.split()[0] for line in lines if line.startswith("  ev")]
    assert agent_lines == [f"ev{i}" for i in range(20)]
    assert not any("more (total" in line for line in lines)
