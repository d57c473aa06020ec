"""The blank template, its README sheet, the docs page, and the CLI commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from ecodec.cli import main
from ecodec.io.schema import sheets
from ecodec.io.template import EXAMPLES_TITLE, README_HEADER, schema_markdown, write_case_workbook
from ecodec.io.workbook import read_case

ROOT = Path(__file__).resolve().parents[1]


def _readme_examples(path: Path) -> dict[str, list[dict]]:
    """Parse the 'Example rows of sheet' blocks of a template's README sheet back into rows."""
    rows = list(openpyxl.load_workbook(path, read_only=True)["README"].iter_rows(values_only=True))
    tables: dict[str, list[dict]] = {}
    i = 0
    while i < len(rows):
        first = rows[i][0] if rows[i] else None
        if isinstance(first, str) and first.startswith(EXAMPLES_TITLE):
            sheet = first.split("'")[1]
            header = [h for h in rows[i + 1] if h is not None]
            body = []
            i += 2
            while i < len(rows) and rows[i] and rows[i][0] is not None:
                body.append(dict(zip(header, rows[i])))
                i += 1
            tables[sheet] = [{r["key"]: r["value"] for r in body}] if header == ["key", "value"] else body
        i += 1
    return tables


def test_blank_template_filled_with_documented_examples_validates(tmp_path, capsys):
    """`ecodec template` writes a blank workbook; filled with the README sheet's examples it validates."""
    blank = tmp_path / "blank.xlsx"
    assert main(["template", str(blank)]) == 0
    assert main(["validate", str(blank)]) == 2  # blank: required meta values and agents missing
    err = capsys.readouterr().err
    assert "key 'T'" in err and "at least one active agent" in err

    wb = openpyxl.load_workbook(blank, read_only=True)
    assert wb.sheetnames == ["README"] + [s.name for s in sheets()]
    readme = list(wb["README"].iter_rows(values_only=True))
    assert tuple(readme[3][:len(README_HEADER)]) == README_HEADER
    documented = {(r[0], r[1]) for r in readme[4:] if r and r[1]}
    for spec in sheets():  # every column of every sheet is documented with its unit and description
        for col in spec.columns:
            assert (spec.name, col.name) in documented

    examples = _readme_examples(blank)
    assert set(examples) == {s.name for s in sheets()}
    filled = write_case_workbook(tmp_path / "filled.xlsx", examples)
    assert main(["validate", str(filled)]) == 0
    assert "valid" in capsys.readouterr().out
    assert read_case(filled).agent_names() == ["mt1", "pv1", "bat1", "grid", "boiler1"]


def test_docs_page_is_generated_from_the_schema():
    """docs/workbook.md is the schema rendered; regenerate it with `ecodec schema-docs -o docs/workbook.md`."""
    assert (ROOT / "docs" / "workbook.md").read_text() == schema_markdown() + "\n"


def test_solve_json_prints_the_documented_fields(tmp_path, capsys):
    case = tmp_path / "example.xlsx"
    assert main(["template", str(case), "--example"]) == 0
    out = tmp_path / "results.xlsx"
    capsys.readouterr()
    assert main(["solve", str(case), "--json", "--output", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    for field in ("status", "objective", "wall_time_s", "max_coupling_violation", "n_agents", "n_variables",
                  "n_constraints"):
        assert field in summary
    assert summary["status"] == "optimal" and summary["n_agents"] == 5
    assert summary["max_coupling_violation"] < 1e-6
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["summary", "dispatch", "coupling", "costs", "dispatch_long"]
    summary_sheet = {r[0]: r[1] for r in wb["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary_sheet["objective"] == pytest.approx(summary["objective"])
    costs = [r[2] for r in wb["costs"].iter_rows(min_row=3, values_only=True)]  # row 2: the units
    assert sum(costs) == pytest.approx(summary["objective"])
    header = next(wb["dispatch"].iter_rows(values_only=True))
    assert "bat1 e_end [kWh]" in header and "grid p [kW]" in header


def test_bad_input_exits_nonzero_without_traceback_and_keeps_old_results(tmp_path):
    """A bad workbook: exit code 2, messages with coordinates, no traceback, earlier results untouched."""
    bad = tmp_path / "bad.xlsx"
    assert main(["template", str(bad)]) == 0
    old = tmp_path / "results.xlsx"
    old.write_bytes(b"earlier results")
    proc = subprocess.run([sys.executable, "-m", "ecodec", "solve", str(bad), "--output", str(old)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad.xlsx: sheet 'meta', row 3, column 'value (key 'T')'" in proc.stderr
    assert old.read_bytes() == b"earlier results"
    assert set(tmp_path.iterdir()) == {bad, old}  # no temporary file left behind

    proc = subprocess.run([sys.executable, "-m", "ecodec", "validate", str(tmp_path / "missing.xlsx")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_infeasible_case_exits_one_with_explanation(tmp_path, capsys):
    from ecodec.io.template import example_tables

    tables = example_tables()
    tables["resources"][0].update(rhs=5000.0)  # far above what grid (200 kW) + mt + pv + battery can supply
    case = write_case_workbook(tmp_path / "short.xlsx", tables)
    assert main(["solve", str(case)]) == 1
    out = capsys.readouterr().out
    assert "infeasible" in out and "resource 'active_power' stays short of its lower end at steps 1-4" in out


def test_resource_without_rows_or_contributors_is_reported(tmp_path, capsys):
    """Agents feeding an undeclared carrier, or a declared carrier nobody feeds, are input errors (exit 2)."""
    from ecodec.io.template import example_tables

    tables = example_tables()
    tables["resources"] = [r for r in tables["resources"] if r["name"] != "heat"]
    assert main(["validate", str(write_case_workbook(tmp_path / "noheat.xlsx", tables))]) == 2
    err = capsys.readouterr().err
    assert "agent 'mt1' contributes to 'heat'" in err and "agent 'boiler1' contributes to 'heat'" in err
    assert "add a 'heat' row to the 'resources' sheet" in err and "Traceback" not in err

    tables = example_tables()
    tables["boilers"], tables["microturbines"] = [], []
    tables["network"] = [{"from": "pv1", "to": "bat1"}, {"from": "bat1", "to": "grid"}]
    assert main(["validate", str(write_case_workbook(tmp_path / "nofeed.xlsx", tables))]) == 2
    assert "resource 'heat' has no contributing agent" in capsys.readouterr().err
