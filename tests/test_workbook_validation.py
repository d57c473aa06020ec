"""Workbook validation: every problem reported at once, each with sheet, Excel row, column, value, expectation."""

from __future__ import annotations

import copy
import zipfile

import numpy as np
import openpyxl
import pytest
from conftest import case_issues, one_message

from ecodec.errors import WorkbookRejected
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.io.workbook import read_case


def test_example_tables_form_a_valid_case(tmp_path):
    """The schema's example rows are a complete, valid case (the README sheet documents the same rows)."""
    path = write_case_workbook(tmp_path / "ok.xlsx", example_tables())
    case = read_case(path)
    assert case.agent_names() == ["mt1", "pv1", "bat1", "grid", "boiler1"]
    assert case.T == 4 and case.step_h == 0.25
    np.testing.assert_allclose(case.resources[0].rhs, [40.0, 55.0, 60.0, 45.0])
    assert case.edges == [("mt1", "pv1"), ("pv1", "bat1"), ("bat1", "grid"), ("grid", "boiler1")]


def test_seeded_errors_are_all_reported_with_coordinates(tmp_path):
    """Twelve distinct errors seeded in one workbook yield twelve messages in one run (new agents pv2, bat2, mt2
    have no edges, so the network is disconnected too)."""
    tables = copy.deepcopy(example_tables())
    tables["microturbines"][0].update(p_min_kw=80.0)                       # p_min > p_max (65)
    tables["renewables"][0].update(availability_pu="pv_profil")            # unknown profile name
    tables["storages"][0].update(e_init_kwh=60.0)                          # outside [5, 50]
    tables["boilers"][0].update(eta=1.5)                                   # efficiency outside (0, 1]
    tables["grid"][0].update(buy_price_per_kwh="cheap")                    # wrong type
    tables["boilers"].append(dict(tables["boilers"][0], name="mt1", eta=0.9))  # duplicate agent name
    tables["renewables"].append(dict(tables["renewables"][0], name="pv2", capacity_kw=-5.0,
                                     availability_pu=0.5))                 # negative capacity
    tables["storages"].append(dict(tables["storages"][0], name="bat2", e_init_kwh=None))  # empty cell
    tables["network"].append({"from": "grid", "to": "chp9"})              # unknown agent
    tables["timeseries"] = [dict(t=t, load_kw=v, short_kw=1.0 if t < 4 else None)
                            for t, v in zip(range(1, 5), (40.0, 55.0, 60.0, 45.0))]  # profile length 3, not 4
    tables["microturbines"].append(dict(example_tables()["microturbines"][0], name="mt2", eta_el="NaN"))  # NaN
    path = write_case_workbook(tmp_path / "bad.xlsx", tables)

    messages = case_issues(path)
    assert all(m.startswith("bad.xlsx: ") for m in messages)
    one_message(messages, "sheet 'microturbines', row 2, column 'p_min_kw'", "got 80", "p_min_kw <= p_max_kw")
    one_message(messages, "sheet 'renewables', row 2, column 'availability_pu'", "'pv_profil'",
         "no 'timeseries' column is named 'pv_profil'")
    one_message(messages, "sheet 'storages', row 2, column 'e_init_kwh'", "got 60", "within [e_min_kwh, e_max_kwh]")
    one_message(messages, "sheet 'boilers', row 2, column 'eta'", "got 1.5", "in (0, 1]")
    one_message(messages, "sheet 'grid', row 2, column 'buy_price_per_kwh'", "'cheap'")
    one_message(messages, "sheet 'boilers', row 3, column 'name'", "'mt1'", "already on sheet 'microturbines', row 2")
    one_message(messages, "sheet 'renewables', row 3, column 'capacity_kw'", "got -5", ">= 0")
    one_message(messages, "sheet 'storages', row 3, column 'e_init_kwh'", "an empty cell")
    one_message(messages, "sheet 'network', row 6, column 'to'", "'chp9'", "the name of an agent")
    one_message(messages, "sheet 'timeseries'", "column 'short_kw'", "3 values", "T = 4 values")
    one_message(messages, "sheet 'microturbines', row 3, column 'eta_el'", "NaN")
    one_message(messages, "sheet 'network'", "separate groups", "{bat2}", "{mt2}", "{pv2}", "a connected graph")
    assert len(messages) == 12, "\n".join(messages)


def test_missing_sheet_missing_column_and_disconnected_network(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["network"] = [{"from": "mt1", "to": "pv1"}, {"from": "bat1", "to": "grid"}]  # boiler1 isolated too
    path = write_case_workbook(tmp_path / "holes.xlsx", tables)
    wb = openpyxl.load_workbook(path)
    del wb["resources"]
    ws = wb["storages"]
    ws.delete_cols(list(c.value for c in ws[1]).index("e_max_kwh") + 1)
    wb.save(path)

    messages = case_issues(path)
    one_message(messages, "sheet 'resources'", "a sheet named 'resources'")
    one_message(messages, "sheet 'storages', row 1, column 'e_max_kwh'", "a column 'e_max_kwh'")
    one_message(messages, "sheet 'network'", "3 separate groups", "{mt1, pv1}", "{bat1, grid}", "{boiler1}",
         "a connected graph")


def test_meta_errors_and_unknown_sheet(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["meta"][0].update(T=2.5, step_h=0)
    path = write_case_workbook(tmp_path / "meta.xlsx", tables)
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("storage")  # typo of 'storages'
    wb.save(path)
    messages = case_issues(path)
    one_message(messages, "sheet 'meta', row 3, column 'value (key 'T')'", "got 2.5", "a whole number")
    one_message(messages, "sheet 'meta', row 4, column 'value (key 'step_h')'", "got 0", "in (0, 24]")
    one_message(messages, "sheet 'storage'", "did you mean 'storages'?")


def test_a_start_time_that_is_not_a_date_is_refused_and_a_valid_one_labels_the_steps(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["meta"][0].update(start="17th of April")
    messages = case_issues(write_case_workbook(tmp_path / "start.xlsx", tables))
    one_message(messages, "sheet 'meta'", "column 'value (key 'start')'", "17th of April", "a local date and time such as")
    tables["meta"][0].update(start="2019-04-17 23:30")
    case = read_case(write_case_workbook(tmp_path / "late.xlsx", tables))
    from ecodec.problem.from_case import problem_from_case
    from ecodec.results.run_result import RunResult

    run = RunResult.empty("centralized", problem_from_case(case), "infeasible", {})
    assert case.step_h == 0.25 and list(run.times([1, 3, 4]).strftime("%d %H:%M")) == ["17 23:30", "18 00:00",
                                                                                         "18 00:15"]


def test_band_needs_upper_and_units_match_carrier(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["resources"][2].update(rhs_upper=None)
    tables["resources"][1].update(unit="kW")
    path = write_case_workbook(tmp_path / "res.xlsx", tables)
    messages = case_issues(path)
    one_message(messages, "sheet 'resources', row 4, column 'rhs_upper'", "an empty cell", "sense is 'band'")
    one_message(messages, "sheet 'resources', row 3, column 'unit'", "'kW'", "reactive_power: kvar")


def test_profile_cells_resolve_to_arrays_and_inactive_agents_are_left_out(tmp_path):
    tables = copy.deepcopy(example_tables())
    tables["timeseries"] = [dict(t=t, load_kw=v, pv_pu=a) for t, v, a in
                            zip(range(1, 5), (40.0, 55.0, 60.0, 45.0), (0.0, 0.5, 1.0, 0.25))]
    tables["renewables"][0].update(availability_pu="pv_pu")
    tables["renewables"].append(dict(tables["renewables"][0], name="pv_off", active=False))
    path = write_case_workbook(tmp_path / "profiles.xlsx", tables)
    case = read_case(path)
    pv = case.agents_of_kind("renewable")
    assert [a.name for a in pv] == ["pv1"]
    np.testing.assert_allclose(pv[0].params["availability_pu"], [0.0, 0.5, 1.0, 0.25])


def test_sense_aliases_and_formula_like_text(tmp_path):
    """'==' written as text is read back as '=='; 'eq' is accepted for users whose Excel turns '==' into a formula."""
    tables = copy.deepcopy(example_tables())
    tables["resources"][1].update(sense="eq")
    case = read_case(write_case_workbook(tmp_path / "alias.xlsx", tables))
    assert [r.sense for r in case.resources] == ["==", "==", "band"]


@pytest.mark.parametrize("name, content, expected", [
    ("case.xls", b"\xd0\xcf\x11\xe0 old excel", "reads .xlsx workbooks only"),
    ("case.csv", b"a,b\n1,2\n", "reads .xlsx workbooks only"),
    ("case.xlsx", b"this is not a zip", "not a zip package"),
])
def test_non_xlsx_files_are_rejected(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WorkbookRejected, match=expected):
        read_case(path)


def test_zip_bomb_and_macros_are_rejected(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (600 * 2**20))
    assert bomb.stat().st_size < 5 * 2**20
    with pytest.raises(WorkbookRejected, match="unpacks to 600 MiB"):
        read_case(bomb)
    macro = tmp_path / "macro.xlsx"
    with zipfile.ZipFile(macro, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/vbaProject.bin", b"code")
    with pytest.raises(WorkbookRejected, match="contains macros"):
        read_case(macro)


def test_xml_entity_expansion_is_refused(tmp_path):
    """A worksheet declaring XML entities ('billion laughs') is refused by defusedxml instead of being expanded."""
    path = write_case_workbook(tmp_path / "laughs.xlsx", example_tables())
    dtd = b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                data = data.replace(b"?>", b"?>" + dtd, 1) if data.startswith(b"<?xml") else dtd + data
            dst.writestr(item, data)
    with pytest.raises(WorkbookRejected, match="cannot be read as an Excel workbook.*Entit"):
        read_case(patched)


def test_sheet_over_the_row_limit_is_refused_with_the_file_named(tmp_path, monkeypatch):
    """The row limit (absurd sizes) is checked while reading; the message names the file and the sheet."""
    import ecodec.io.workbook as workbook

    monkeypatch.setattr(workbook, "MAX_ROWS_PER_SHEET", 4)  # the example 'meta' sheet has 8 rows (header + 7 keys)
    messages = case_issues(write_case_workbook(tmp_path / "long.xlsx", example_tables()))
    one_message(messages, "long.xlsx: sheet 'meta'", "at most 4 rows per sheet")
