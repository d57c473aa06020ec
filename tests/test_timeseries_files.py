"""Time series read from CSV or Parquet files named on the 'timeseries' sheet: the same profiles and the same
solution as the inline sheet, and every problem located by file, row and column (or by the sheet row naming it)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import case_issues, one_message

from ecodec.cli import main
from ecodec.decomposition.centralized import solve_centralized
from ecodec.io.workbook import read_case
from ecodec.problem.from_case import problem_from_case
from ecodec.time_steps import step_starts

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "microgrid_8.xlsx"


@pytest.fixture(scope="module")
def original():
    """The shipped case with inline profiles, its timeseries rows, and its centralized solution."""
    case = read_case(CASE)
    rows = list(openpyxl.load_workbook(CASE, read_only=True)["timeseries"].iter_rows(values_only=True))
    return case, rows, solve_centralized(problem_from_case(case))


def _name_files(tmp_path: Path, *rows: tuple) -> Path:
    """A copy of the shipped case whose timeseries sheet names files: rows of (file, profiles)."""
    wb = openpyxl.load_workbook(CASE)
    ws = wb["timeseries"]
    ws.delete_rows(1, ws.max_row)
    ws.append(["file", "profiles"])
    for row in rows:
        ws.append(list(row))
    path = tmp_path / "case.xlsx"
    wb.save(path)
    return path


def _write_csv(path: Path, rows, delimiter: str = ",", bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([list(r) for r in rows[1:]], columns=list(rows[0]))


def _same_solution(case, original) -> None:
    ref_case, _, ref = original
    assert set(case.profiles) == set(ref_case.profiles)
    for name, values in ref_case.profiles.items():
        np.testing.assert_array_equal(case.profiles[name], values)  # exactly the workbook's numbers
    result = solve_centralized(problem_from_case(case))
    assert result.objective == pytest.approx(ref.objective, rel=1e-9)
    pd.testing.assert_frame_equal(result.dispatch, ref.dispatch, rtol=1e-9, atol=1e-9)


def test_csv_with_step_numbers_gives_the_same_profiles_and_solution(tmp_path, original):
    _, rows, _ = original
    _write_csv(tmp_path / "profiles.csv", rows, delimiter=";", bom=True)
    case = read_case(_name_files(tmp_path, ("profiles.csv", None)))
    assert case.input_files == [(tmp_path / "case.xlsx").resolve(), (tmp_path / "profiles.csv").resolve()]
    _same_solution(case, original)


def test_csv_with_time_stamps_split_over_two_files_gives_the_same_solution(tmp_path, original):
    ref_case, rows, _ = original
    times = step_starts(ref_case.start, ref_case.step_h, ref_case.T).strftime("%Y-%m-%d %H:%M")
    stamped = [("time", *rows[0][1:])] + [(t, *r[1:]) for t, r in zip(times, rows[1:])]
    (tmp_path / "data").mkdir()
    _write_csv(tmp_path / "data" / "a.csv", [r[:4] for r in stamped])
    _write_csv(tmp_path / "data" / "b.csv", [r[:1] + r[4:] for r in stamped])
    case = read_case(_name_files(tmp_path, ("data/a.csv", None), ("data\\b.csv", "")))
    assert [p.name for p in case.input_files] == ["case.xlsx", "a.csv", "b.csv"]
    _same_solution(case, original)


def test_parquet_with_a_datetime_index_or_step_numbers_gives_the_same_solution(tmp_path, original):
    ref_case, rows, _ = original
    frame = _frame(rows)
    frame.to_parquet(tmp_path / "steps.parquet", index=False)
    case = read_case(_name_files(tmp_path, ("steps.parquet", None)))
    _same_solution(case, original)
    indexed = frame.drop(columns="t").set_index(step_starts(ref_case.start, ref_case.step_h, ref_case.T))
    indexed.to_parquet(tmp_path / "steps.parquet")
    _same_solution(read_case(_name_files(tmp_path, ("steps.parquet", None))), original)


def test_profiles_cell_picks_columns_and_unknown_names_get_a_hint(tmp_path, original):
    _, rows, _ = original
    _write_csv(tmp_path / "p.csv", rows)
    names = ", ".join(rows[0][1:])
    case = read_case(_name_files(tmp_path, ("p.csv", names)))
    assert list(case.profiles) == list(rows[0][1:])
    messages = case_issues(_name_files(tmp_path, ("p.csv", names.replace("pv_pu", "pv_p"))))
    one_message(messages, "sheet 'timeseries', row 2, column 'profiles'", "got 'pv_p'", "a column of file 'p.csv'",
         "did you mean 'pv_pu'?")


def test_a_bad_number_is_located_by_file_row_and_column(tmp_path, original):
    _, rows, _ = original
    bad = [list(r) for r in rows]
    bad[4][3] = "abc"  # line 5 of the file, column load_p_kw
    bad[7][1] = "0,5"  # a decimal comma
    _write_csv(tmp_path / "p.csv", bad)
    messages = case_issues(_name_files(tmp_path, ("p.csv", None)))
    message = one_message(messages, "file 'p.csv', row 5, column 'load_p_kw'")
    assert "got 'abc'" in message and "expected a finite number" in message
    one_message(messages, "file 'p.csv', row 8, column 'pv_pu'", "got '0,5'", "decimal point '.'")


def test_wrong_step_number_and_time_off_by_one_step(tmp_path, original):
    ref_case, rows, _ = original
    bad = [list(r) for r in rows]
    bad[10][0] = 11  # step 10 numbered 11
    _write_csv(tmp_path / "steps.csv", bad)
    one_message(case_issues(_name_files(tmp_path, ("steps.csv", None))), "file 'steps.csv', row 11, column 't'", "got '11'",
         "step number 10")

    times = step_starts(ref_case.start, ref_case.step_h, ref_case.T + 1)[1:]  # every stamp one step late
    stamped = [("time", *rows[0][1:])] + [(f"{t:%Y-%m-%d %H:%M}", *r[1:]) for t, r in zip(times, rows[1:])]
    _write_csv(tmp_path / "times.csv", stamped)
    message = one_message(case_issues(_name_files(tmp_path, ("times.csv", None))), "file 'times.csv', row 2, column 'time'")
    assert "got '2019-04-17 00:15'" in message and "start time of step 1, 2019-04-17 00:00:00" in message


def test_time_column_needs_meta_start(tmp_path, original):
    ref_case, rows, _ = original
    times = step_starts(ref_case.start, ref_case.step_h, ref_case.T)
    _write_csv(tmp_path / "times.csv", [("time", *rows[0][1:])] + [(str(t), *r[1:]) for t, r in zip(times, rows[1:])])
    path = _name_files(tmp_path, ("times.csv", None))
    wb = openpyxl.load_workbook(path)
    for row in wb["meta"].iter_rows():
        if row[0].value == "start":
            row[1].value = None
    wb.save(path)
    one_message(case_issues(path), "file 'times.csv', row 1, column 'time'", "needs meta 'start'")


def test_missing_and_escaping_files_are_refused_at_the_sheet_row(tmp_path, original):
    _, rows, _ = original
    outside = _write_csv(tmp_path / "outside.csv", rows)
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "link.csv").symlink_to(outside)
    path = _name_files(tmp_path, ("missing.csv", None), ("../outside.csv", None), (str(outside), None),
                       ("link.csv", None), ("p.xlsx", None))
    shutil.move(path, folder / "case.xlsx")
    messages = case_issues(folder / "case.xlsx")
    one_message(messages, "sheet 'timeseries', row 2, column 'file'", "got 'missing.csv'", "an existing file",
         str(folder.resolve() / "missing.csv"))
    one_message(messages, "row 3, column 'file'", "got '../outside.csv'", "without '..'")
    one_message(messages, "row 4, column 'file'", "not an absolute path")
    one_message(messages, "row 5, column 'file'", "got 'link.csv'", "inside the workbook's folder")
    one_message(messages, "row 6, column 'file'", ".csv or .parquet")


def test_duplicate_profile_names_name_both_places(tmp_path, original):
    _, rows, _ = original
    _write_csv(tmp_path / "a.csv", rows)
    _write_csv(tmp_path / "b.csv", [r[:2] for r in rows])
    message = one_message(case_issues(_name_files(tmp_path, ("a.csv", None), ("b.csv", None))), "file 'b.csv', row 1, "
                   "column 'pv_pu'")
    assert "file 'a.csv' (sheet 'timeseries', row 2) has it too" in message


def test_wrong_row_count_and_validate_reports_file_errors(tmp_path, original, capsys):
    _, rows, _ = original
    _write_csv(tmp_path / "short.csv", rows[:-1])
    path = _name_files(tmp_path, ("short.csv", None))
    one_message(case_issues(path), "file 'short.csv', column 't'", "got '95 rows'", "T = 96 rows")
    assert main(["validate", str(path)]) == 2
    assert "file 'short.csv', column 't'" in capsys.readouterr().err


def test_csv_and_parquet_limits_are_checked_while_reading(tmp_path, original, monkeypatch):
    import ecodec.io.timeseries_files as files

    _, rows, _ = original
    _write_csv(tmp_path / "p.csv", rows)
    _frame(rows).to_parquet(tmp_path / "p.parquet", index=False)
    monkeypatch.setattr(files, "MAX_ROWS_PER_SHEET", 50)
    one_message(case_issues(_name_files(tmp_path, ("p.csv", None))), "file 'p.csv', row 51", "at most 50 rows")
    one_message(case_issues(_name_files(tmp_path, ("p.parquet", None))), "file 'p.parquet'", "got '97 rows'", "at most 50 rows")
    monkeypatch.setattr(files, "MAX_COLUMNS_PER_SHEET", 4)
    monkeypatch.setattr(files, "MAX_ROWS_PER_SHEET", 500)
    one_message(case_issues(_name_files(tmp_path, ("p.csv", None))), "file 'p.csv', row 1", "at most 4 columns")


def test_parquet_errors_name_file_row_and_column(tmp_path, original):
    _, rows, _ = original
    frame = _frame(rows)
    frame.loc[3, "wind_pu"] = float("nan")  # data row 4: row 5 as in a sheet
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    one_message(case_issues(_name_files(tmp_path, ("p.parquet", None))), "file 'p.parquet', row 5, column 'wind_pu'",
         "got 'NaN'", "a finite number")
    frame = _frame(rows).astype({"pv_pu": bool})
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    one_message(case_issues(_name_files(tmp_path, ("p.parquet", None))), "file 'p.parquet', row 1, column 'pv_pu'",
         "a column of numbers")
    (tmp_path / "p.parquet").write_bytes(b"not parquet at all")
    one_message(case_issues(_name_files(tmp_path, ("p.parquet", None))), "file 'p.parquet'", "a Parquet file")
