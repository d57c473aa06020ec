"""The tables of a :class:`~ecodec.results.RunResult` as people and other tools read them: wide frames indexed by
time, the ``time`` column of exported tables, and the unit of every column.

**Wide frames** (:meth:`RunResult.dispatch_frame`, :meth:`RunResult.coupling_frame`,
:meth:`RunResult.contributions_frame`) have one row per step.  Their index is a ``DatetimeIndex`` named ``time``
(when each step starts, :meth:`RunResult.times`) when the case has a start time, else the step number ``t``
(1..T) of a case without one.  Their columns are a two-level ``MultiIndex``, (agent, quantity), (resource, field)
or (agent, resource), in the case's order, so ``frame["bat1"]`` is one agent and
``frame.xs("p", axis=1, level="quantity")`` one quantity of every agent; asked for one quantity (field, resource)
the columns are the plain names of the agents (resources), like a PyPSA ``generators_t.p`` table.  The units are
in ``frame.attrs["units"]``: a column label -> unit mapping.

**Exported tables** (CSV, Excel, Parquet) keep the tidy tables' step number ``t`` and, when the case has a start
time, get a ``time`` column right after it (:func:`with_time`); the tables in memory keep ``t`` only, so that a
run compares, pivots and saves the same with or without a start time.

**Units** (:func:`column_units`): a column has one unit (``cost`` in the currency, ``wall_time_s`` in s), or its
unit changes from row to row and is written in another column of the same table (``value`` in ``unit``,
``price`` in ``price_unit``), or none (``t``, names).
"""

from __future__ import annotations

import pandas as pd

from ecodec.errors import EcodecError

#: The numeric fields of a coupling row, in the order of the coupling table
COUPLING_FIELDS = ("lhs", "lower", "upper", "residual", "price")
#: The columns of each tidy table whose unit is given per row by another column of the same table
UNIT_COLUMNS = {"dispatch": {"value": "unit"}, "contributions": {"value": "unit"},
                "coupling": {"lhs": "unit", "lower": "unit", "upper": "unit", "residual": "unit",
                             "price": "price_unit"}}
#: History columns measured in the currency, and in the coupling resources' units
_MONEY_HISTORY = {"objective", "lower_bound", "upper_bound", "average_objective", "last_objective"}
_RESOURCE_UNIT_HISTORY = {"max_violation"}


def step_index(run, steps) -> pd.Index:
    """The index of a wide frame over ``steps`` (numbers 1..T): their start times (DatetimeIndex 'time'), or the
    step numbers (Index 't') when the case has no start time."""
    times = run.times(steps)
    return times if times is not None else pd.Index(steps, name="t", dtype="int64")


def dispatch_frame(run, quantity: str | None = None) -> pd.DataFrame:
    """Every reported quantity of every agent, one row per step (see the module docstring)."""
    return _wide(run, run.dispatch, ["agent", "quantity"], "value", "unit", quantity, "quantity")


def contributions_frame(run, resource: str | None = None) -> pd.DataFrame:
    """Each agent's term in each coupling row (injection positive), one row per step."""
    return _wide(run, run.contributions, ["agent", "resource"], "value", "unit", resource, "resource")


def coupling_frame(run, field: str | None = None) -> pd.DataFrame:
    """Each coupling row's lhs, lower, upper, residual and price, one row per step."""
    if field is not None and field not in COUPLING_FIELDS:
        raise EcodecError(f"coupling field {field!r} is not one of {', '.join(COUPLING_FIELDS)}")
    table = run.coupling
    fields = [field] if field is not None else list(COUPLING_FIELDS)
    resources = list(dict.fromkeys(table["resource"]))
    first = table.drop_duplicates("resource").set_index("resource")
    units = {(r, f): first.at[r, "price_unit" if f == "price" else "unit"] for r in resources for f in fields}
    if field is not None:
        frame = table.pivot(index="t", columns="resource", values=field)[resources] if len(table) else \
            pd.DataFrame(columns=pd.Index([], name="resource"))
        units = {r: u for (r, _), u in units.items()}
    else:
        columns = pd.MultiIndex.from_tuples(list(units), names=["resource", "field"])
        frame = table.pivot(index="t", columns="resource", values=fields) if len(table) else pd.DataFrame()
        frame = frame.swaplevel(axis=1).reindex(columns=columns) if len(table) else pd.DataFrame(columns=columns)
    frame = frame.astype(float)
    frame.index = step_index(run, frame.index.to_numpy(dtype="int64"))
    frame.attrs["units"] = units
    return frame


def _wide(run, table: pd.DataFrame, keys: list[str], values: str, unit: str, chosen: str | None,
          level: str) -> pd.DataFrame:
    if chosen is not None:
        known = list(dict.fromkeys(table[level])) if not table.empty else []
        if chosen not in known:
            raise EcodecError(f"no {level} {chosen!r} in this run; it has {', '.join(map(str, known)) or 'none'}")
        table = table[table[level] == chosen]
        keys = [k for k in keys if k != level]
    labels = list(zip(*(table[k] for k in keys))) if keys else []
    order = list(dict.fromkeys(labels))
    units = dict(zip(labels, table[unit])) if len(table) else {}
    if table.empty:
        columns = (pd.MultiIndex.from_tuples([], names=keys) if len(keys) > 1 else pd.Index([], name=keys[0]))
        frame = pd.DataFrame(index=step_index(run, []), columns=columns, dtype=float)
    else:
        frame = table.pivot(index="t", columns=keys if len(keys) > 1 else keys[0], values=values)
        frame = frame[order if len(keys) > 1 else [label[0] for label in order]].astype(float)
        frame.index = step_index(run, frame.index.to_numpy())
    if len(keys) == 1:
        units = {label[0]: u for label, u in units.items()}
    frame.attrs["units"] = units
    return frame


def with_time(run, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``time`` column (when each step starts) right after its step number ``t``; ``table`` itself
    when it has no ``t``, already has a ``time``, or the case has no start time."""
    if "t" not in table.columns or "time" in table.columns or not run.start:
        return table
    out = table.copy()
    out.insert(list(table.columns).index("t") + 1, "time", run.times(table["t"].to_numpy()).to_numpy())
    return out


def column_units(run, name: str, table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Per column of table ``name`` of ``run``: (its unit, "") or ("", the column holding its unit per row);
    ("", "") for a column without a unit (step numbers, times, names, counts)."""
    out = {}
    per_row = UNIT_COLUMNS.get(name, {})
    for column in table.columns:
        column = str(column)
        if column in per_row:
            out[column] = ("", per_row[column])
        elif name == "agent_costs" and column == "cost":
            out[column] = (run.currency, "")
        elif name == "history" and column in _MONEY_HISTORY:
            out[column] = (run.currency, "")
        elif name == "history" and column in _RESOURCE_UNIT_HISTORY:
            out[column] = (_resource_unit(run), "")
        elif column.endswith("_s"):
            out[column] = ("s", "")
        else:
            out[column] = ("", "")
    return out


def _resource_unit(run) -> str:
    """The unit shared by every coupling resource ('kW'), or text saying the resources' units differ."""
    units = list(dict.fromkeys(run.coupling["unit"])) if "unit" in run.coupling else []
    return units[0] if len(units) == 1 else "unit of the resource"
