"""The workbook's ``drivers`` sheet checked against the methods' declarations, every problem at its row.

The reader (:mod:`ecodec.io.workbook`) keeps the sheet's rows as typed, with the row of each option
(:attr:`~ecodec.case.Case.driver_rows`): the methods live in a higher layer than the reader, so their names and
option declarations are checked here, where a case meets the methods, before anything is solved.  Each row is
checked as the sheet's other cells are: the method name (one of the registered methods, or ``stopping`` for the
stopping rules), the option name (declared by that method), the value (parsed and checked against the option's
type and bounds), a variant's fixed options, and the checks across options (``MethodOptions.rules``).  A misspelt
name gets a "did you mean".

>>> from ecodec.case import Case
>>> case = Case("demo", T=1, step_h=1.0, driver_options={"primal-decompositon": {"step_size": 0.5}},
...             driver_rows={("primal-decompositon", "step_size"): 2})
>>> for issue in drivers_issues(case):
...     print(issue.message())
sheet 'drivers', row 2, column 'driver': got 'primal-decompositon'; expected the name of a method or 'stopping' \
(did you mean 'primal-decomposition'?)
"""

from __future__ import annotations

import difflib

import numpy as np

from ecodec.case import Case
from ecodec.decomposition import REGISTRY, StoppingRules
from ecodec.errors import InputIssue
from ecodec.io.schema import DRIVERS

#: The driver name of the stopping rules' rows
STOPPING = "stopping"


def drivers_issues(case: Case) -> list[InputIssue]:
    """Every problem of ``case``'s driver options, located at their rows of the ``drivers`` sheet."""
    issues: list[InputIssue] = []
    for driver, values in case.driver_options.items():
        rows = {option: case.driver_rows.get((driver, option)) for option in values}
        first_row = min((r for r in rows.values() if r is not None), default=None)
        if driver == STOPPING:
            options, preset = StoppingRules, {}
        elif driver in REGISTRY:
            options, preset = REGISTRY[driver].options, REGISTRY[driver].preset
        else:
            known = [*REGISTRY, STOPPING]
            issues.append(InputIssue(DRIVERS.name, first_row, "driver", driver,
                                     f"the name of a method or '{STOPPING}'" + _did_you_mean(driver, known,
                                                                                            ", ".join(known))))
            continue
        issues += _option_issues(driver, options, preset, values, rows)
    return issues


def _option_issues(driver: str, options, preset, values: dict, rows: dict) -> list[InputIssue]:
    declared = options.declarations()
    issues, parsed = [], {}
    for option, raw in values.items():
        row = rows[option]
        if option not in declared:
            issues.append(InputIssue(DRIVERS.name, row, "option", option, f"an option of '{driver}'" + _did_you_mean(
                option, list(declared), ", ".join(declared))))
            continue
        if option in preset and str(raw) != str(preset[option]):
            issues.append(InputIssue(DRIVERS.name, row, "value", raw,
                                     f"{preset[option]!r}: method '{driver}' fixes {option}"))
            continue
        declaration = declared[option]
        try:
            value = declaration.parse(raw.item() if isinstance(raw, np.generic) else raw)
        except ValueError:
            value = None
            problem = declaration.expected()
        else:
            problem = declaration.problem(value)
        if problem is not None:
            issues.append(InputIssue(DRIVERS.name, row, "value", raw,
                                     f"{problem} for option {option} of '{driver}' ({declaration.description})"))
            continue
        parsed[option] = value
    if not issues:  # the checks across options, on the values given over the defaults
        merged = {name: d.default for name, d in declared.items()} | parsed
        for rule in options.rules:
            if not rule.check(merged):
                named = next((n for n in rule.names if n in values), rule.names[0])
                issues.append(InputIssue(DRIVERS.name, rows.get(named), "value", values.get(named),
                                         f"{rule.expected} for option {named} of '{driver}'"))
    return issues


def _did_you_mean(name: object, known: list[str], listing: str) -> str:
    close = difflib.get_close_matches(str(name), known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (one of {listing})"
