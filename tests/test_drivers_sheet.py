"""The ``drivers`` sheet is validated like every other sheet (issue 20, item 9): a misspelt method or option, a
value of the wrong type or out of range, and a variant's fixed option are each reported at their row before
anything is solved; a valid sheet's options reach the method."""

from __future__ import annotations

import copy

import pytest

from ecodec.cli import main
from ecodec.errors import CaseError
from ecodec.io.template import example_tables, write_case_workbook
from ecodec.study import load, run_case, validate_case


def _with_drivers(tmp_path, rows: list[dict], name="drivers.xlsx"):
    tables = copy.deepcopy(example_tables())
    tables["drivers"] = rows
    return write_case_workbook(tmp_path / name, tables)


def test_every_bad_drivers_row_is_reported_at_its_row(tmp_path, capsys):
    path = _with_drivers(tmp_path, [
        {"driver": "centralized", "option": "mip_rel_gap", "value": 1e-4},            # row 2: valid
        {"driver": "primal-decompositon", "option": "step_size", "value": 0.5},       # row 3: misspelt method
        {"driver": "tracking-admm", "option": "penalti", "value": 2.0},               # row 4: misspelt option
        {"driver": "proximal-dual", "option": "step_size", "value": "fast"},          # row 5: not a number
        {"driver": "stopping", "option": "max_iterations", "value": -5},              # row 6: out of range
        {"driver": "tightening-constant", "option": "tightening", "value": "adaptive"},  # row 7: preset
    ])
    with pytest.raises(CaseError) as err:
        validate_case(path)
    messages = err.value.messages()
    assert len(messages) == 5, messages
    assert messages[0] == ("drivers.xlsx: sheet 'drivers', row 3, column 'driver': got 'primal-decompositon'; "
                           "expected the name of a method or 'stopping' (did you mean 'primal-decomposition'?)")
    assert messages[1].startswith("drivers.xlsx: sheet 'drivers', row 4, column 'option': got 'penalti'; "
                                  "expected an option of 'tracking-admm' (did you mean 'penalty'?)")
    assert messages[2].startswith("drivers.xlsx: sheet 'drivers', row 5, column 'value': got 'fast'; expected a "
                                  "number")
    assert "for option step_size of 'proximal-dual'" in messages[2]
    assert messages[3].startswith("drivers.xlsx: sheet 'drivers', row 6, column 'value': got -5; expected a "
                                  "whole number >= 1")
    assert "for option max_iterations of 'stopping'" in messages[3]
    assert messages[4].startswith("drivers.xlsx: sheet 'drivers', row 7, column 'value': got 'adaptive'; "
                                  "expected 'constant': method 'tightening-constant' fixes tightening")
    # the command line says the same, with exit code 2 and no traceback
    assert main(["validate", str(path)]) == 2
    err_text = capsys.readouterr().err
    assert "row 3, column 'driver'" in err_text and "Traceback" not in err_text


def test_a_check_across_options_is_reported_at_its_row(tmp_path):
    """proximal-dual's doubling average needs a first window of at least one iteration: average_from = 0 passes
    its own bounds (>= 0) but not the check across options."""
    path = _with_drivers(tmp_path, [{"driver": "proximal-dual", "option": "average_from", "value": 0}])
    with pytest.raises(CaseError) as err:
        load(path)
    assert err.value.messages() == [
        "drivers.xlsx: sheet 'drivers', row 2, column 'value': got 0; expected a whole number >= 1 (the first window "
        "of the doubling average) when average is 'doubling' for option average_from of 'proximal-dual'"]


def test_valid_drivers_rows_reach_the_method(tmp_path):
    path = _with_drivers(tmp_path, [{"driver": "stopping", "option": "max_iterations", "value": 3},
                                    {"driver": "proximal-dual", "option": "step_size", "value": "0.25"}])
    study = run_case(path, "proximal-dual")
    run = study.run("proximal-dual")
    assert run.info["iterations"] == 3
    assert run.info["options"]["step_size"] == 0.25
