"""The case workbook schema: the single declaration behind validation, the blank template and the docs page.

The case sheets (meta, timeseries, resources, workspace, targets, network, drivers) are declared here; each agent sheet is built
from its agent class (:mod:`ecodec.models.registry`): the columns ``name`` and ``active``, then the class's
declared parameters, rules and example row (:mod:`ecodec.models.parameters`).  :mod:`ecodec.io.workbook`
validates against :func:`sheets`, :mod:`ecodec.io.template` writes the blank workbook and its README sheet from
it, and ``docs/workbook.md`` is generated from it (``ecodec schema-docs``).

Parameter columns marked ``profile`` accept a number or the name of a column of the ``timeseries`` sheet, so
one profile can serve several agents.  Units live in column names (``p_max_kw``, ``e_max_kwh``); prices are
in the case currency (``meta`` key ``currency``) per unit named in the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ecodec.carriers import CARRIER_UNITS
from ecodec.declarations import BOOL, CHOICE, INTEGER, NUMBER, TEXT
from ecodec.declarations import Declared as Column
from ecodec.declarations import Rule as RowRule
from ecodec.models.parameters import NAME
from ecodec.models.registry import agent_classes
from ecodec.network.graph import TOPOLOGIES

README_SHEET = "README"


@dataclass(frozen=True)
class SheetSpec:
    """One sheet; ``layout`` is ``keyvalue`` (meta), ``table`` (header row, one row per item) or ``timeseries``."""

    name: str
    layout: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    agent_kind: str | None = None
    rules: tuple[RowRule, ...] = ()
    examples: tuple[dict, ...] = field(default_factory=tuple)
    alternative: SheetSpec | None = None  # another layout of the same sheet (the timeseries sheet naming files)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


ACTIVE = Column("active", BOOL, required=False, default=True,
                description="FALSE leaves the agent out of the case without deleting its row.")

EDGE_PROBABILITY = Column("edge_probability", NUMBER, "-", "Probability of each edge of topology 'erdos_renyi' "
                          "(needed by it; empty for the others).", required=False, lower=0.0, upper=1.0,
                          lower_open=True)

META = SheetSpec(
    "meta", "keyvalue",
    "Case settings, one per row: column 'key' names the setting, column 'value' holds it.",
    (
        Column("name", TEXT, description="Case name, used in results and reports."),
        Column("T", INTEGER, "steps", "Horizon: number of time steps.", lower=1, upper=100_000),
        Column("step_h", NUMBER, "h", "Length of one time step in hours (0.25 = 15 min).", lower=0.0, upper=24.0,
               lower_open=True),
        Column("currency", TEXT, description="Currency of every price and cost (e.g. EUR).", required=False,
               default="EUR"),
        Column("description", TEXT, description="Free text describing the case.", required=False, default=""),
        Column("start", TEXT, description="Local start time of step t = 1 (e.g. 2019-04-17 00:00), for labels.",
               required=False, default="", dates=True),
        Column("topology", CHOICE, description="Communication graph when the 'network' sheet is absent or empty "
               "(agents in workbook order; erdos_renyi: each pair of agents linked with probability "
               "edge_probability, drawn from seed).", required=False, default="complete", choices=TOPOLOGIES),
        EDGE_PROBABILITY,
        Column("seed", INTEGER, description="Seed of the random draw of topology 'erdos_renyi' (same seed, same "
               "graph).", required=False, default=0, lower=0),
    ),
    rules=(
        RowRule(("edge_probability", "topology"),
                lambda r: r["topology"] != "erdos_renyi" or r["edge_probability"] is not None,
                f"a number {EDGE_PROBABILITY.range_text()} when topology is 'erdos_renyi'"),
        RowRule(("edge_probability", "topology"),
                lambda r: r["topology"] == "erdos_renyi" or r["edge_probability"] is None,
                "an empty cell unless topology is 'erdos_renyi'"),
    ),
    examples=({"name": "example", "T": 4, "step_h": 0.25, "currency": "EUR", "description": "template example",
               "start": "2019-04-17 00:00", "topology": "complete"},),
)

TIMESERIES_FILES = SheetSpec(
    "timeseries", "files",
    "Instead of holding the profiles, the timeseries sheet may name files beside the workbook that hold them: "
    "header 'file' in A1 (and 'profiles' in B1), then one row per file. A file is a table like the inline sheet: a "
    "first column 't' numbering the steps 1..T in order, or 'time' holding the start time of each step (meta "
    "'start' + (t - 1) x step_h, ISO 8601 such as 2019-04-17 00:15; needs meta 'start'), then one column per "
    "profile of T finite numbers, named by its header. A .csv file is UTF-8 (a BOM is allowed), separated by ',' "
    "or ';', with a decimal point '.'; a .parquet file holds numeric columns and may keep the times in its index "
    "(a DatetimeIndex). Errors name the file, its row and its column; rows are numbered as in a sheet: the header "
    "is row 1, so the first data row is row 2 (in a CSV file, its line number; in a Parquet file, its position "
    "counted from 1, plus 1). A profile name is used once over "
    "all files. Each file is read within the limits of a sheet (see Reading limits).",
    (Column("file", TEXT, description="File name relative to the workbook's folder (e.g. profiles/pv.csv): "
            "suffix .csv or .parquet, inside that folder (no absolute path, no '..', no link leading out of it)."),
     Column("profiles", TEXT, description="Comma-separated names of the file's columns to take as profiles; "
            "empty: every column after 't' or 'time'.", required=False, default="")),
    required=False,
    examples=({"file": "profiles.csv", "profiles": ""}, {"file": "prices.parquet", "profiles": "buy_price, "
                                                                                               "sell_price"}),
)

TIMESERIES = SheetSpec(
    "timeseries", "timeseries",
    "Column 't' numbers the steps 1..T; every other column is a named profile of T numbers that parameter "
    "cells and resource right-hand sides may refer to by its header. Or, with 'file' in A1, the sheet names "
    "CSV or Parquet files holding the profiles (layout below).",
    (Column("t", INTEGER, "step", "Step number, 1..T in order.", lower=1),),
    examples=tuple({"t": t, "load_kw": v} for t, v in zip(range(1, 5), (40.0, 55.0, 60.0, 45.0))),
    alternative=TIMESERIES_FILES,
)

RESOURCES = SheetSpec(
    "resources", "table",
    "Coupling constraints shared by the agents, one row per carrier: sum of agent contributions (injection "
    "positive) compared with the right-hand side at every step. Needed by every case except a market case "
    "(buyers and sellers), whose agents are coupled through aggregates instead.",
    (
        Column("name", CHOICE, description="Carrier coupled by this row.", choices=tuple(CARRIER_UNITS)),
        Column("sense", CHOICE, description="'==' balance, '<=' limit, '>=' floor, 'band' rhs <= sum <= rhs_upper. "
               "Excel reads a typed == as a formula: type '== (with a leading apostrophe) or eq.",
               choices=("==", "<=", ">=", "band"), aliases=(("eq", "=="), ("le", "<="), ("ge", ">="))),
        Column("rhs", NUMBER, "unit", "Right-hand side (the load for a balance; the lower end of a band).",
               profile=True),
        Column("rhs_upper", NUMBER, "unit", "Upper end of a band (only for sense 'band').", required=False,
               profile=True),
        Column("unit", CHOICE, description="Unit of the carrier: kW for active power, heat and cooling, kvar for reactive; "
               "kWh (kvarh) for a row of scope 'horizon'.", choices=("kW", "kvar", "kWh", "kvarh")),
        Column("scope", CHOICE, description="'step': the row holds at every step (default); 'horizon': it holds "
               "once, on the energy over the whole horizon (step_h x the sum over steps of the contributions), "
               "e.g. a total-energy budget of an EV fleet: active_power, '>=', rhs = -budget in kWh. A carrier "
               "may have one row of each scope.", required=False, default="step", choices=("step", "horizon")),
        Column("description", TEXT, required=False, default="", description="Free text."),
    ),
    rules=(
        RowRule(("rhs_upper", "sense", "rhs"),
                lambda r: r["sense"] != "band" or (r["rhs_upper"] is not None
                                                   and bool(np.all(np.asarray(r["rhs"]) <= r["rhs_upper"]))),
                "a value >= rhs at every step when sense is 'band'"),
        RowRule(("rhs_upper", "sense"), lambda r: r["sense"] == "band" or r["rhs_upper"] is None,
                "an empty cell unless sense is 'band'"),
        RowRule(("unit", "name", "scope"),
                lambda r: r["unit"] == CARRIER_UNITS.get(r["name"], "") + ("h" if r["scope"] == "horizon" else ""),
                "the carrier's unit (" + ", ".join(f"{k}: {v}" for k, v in CARRIER_UNITS.items())
                + "), with an h for scope 'horizon' (kWh, kvarh)"),
        RowRule(("rhs", "scope"), lambda r: r["scope"] != "horizon" or not isinstance(r["rhs"], np.ndarray),
                "a single number (the energy over the horizon) when scope is 'horizon', not a profile"),
        RowRule(("rhs_upper", "scope"),
                lambda r: r["scope"] != "horizon" or not isinstance(r["rhs_upper"], np.ndarray),
                "a single number (the energy over the horizon) when scope is 'horizon', not a profile"),
    ),
    required=False,
    examples=(
        {"name": "active_power", "sense": "==", "rhs": "load_kw", "unit": "kW", "description": "electric load"},
        {"name": "reactive_power", "sense": "==", "rhs": 10.0, "unit": "kvar", "description": "reactive load"},
        {"name": "heat", "sense": "band", "rhs": 30.0, "rhs_upper": 45.0, "unit": "kW",
         "description": "heat demand and dissipation limit"},
    ),
)

WORKSPACE = SheetSpec(
    "workspace", "table",
    "Deployment cases (sensors, docs/deployment.md): one row, the rectangle the agents move in, its grid of cells "
    "and the divergence measured between the agents' macroscopic model and the target.",
    (
        Column("x_min_m", NUMBER, "m", "Left edge of the workspace."),
        Column("x_max_m", NUMBER, "m", "Right edge of the workspace."),
        Column("y_min_m", NUMBER, "m", "Bottom edge of the workspace."),
        Column("y_max_m", NUMBER, "m", "Top edge of the workspace."),
        Column("nx", INTEGER, "cells", "Cells along x.", lower=1, upper=2000),
        Column("ny", INTEGER, "cells", "Cells along y.", lower=1, upper=2000),
        Column("divergence", CHOICE, description="'model-target': KL(p || p*) (the default); 'target-model': "
               "KL(p* || p), whose slope -p*/p is unbounded where the model is thin.", required=False,
               default="model-target", choices=("model-target", "target-model")),
        Column("floor", NUMBER, "-", "eps x C: the model is read as max(p, floor / C) in the divergence.",
               required=False, default=1e-6, lower=0.0, lower_open=True),
    ),
    rules=(RowRule(("x_max_m", "x_min_m"), lambda r: r["x_max_m"] > r["x_min_m"], "a value > x_min_m"),
           RowRule(("y_max_m", "y_min_m"), lambda r: r["y_max_m"] > r["y_min_m"], "a value > y_min_m")),
    required=False,
    examples=({"x_min_m": 0.0, "x_max_m": 100.0, "y_min_m": 0.0, "y_max_m": 100.0, "nx": 50, "ny": 50,
               "divergence": "model-target", "floor": 1e-6},),
)

TARGETS = SheetSpec(
    "targets", "table",
    "Deployment cases: the target density, a mixture of isotropic Gaussians (one per row), normalised over the "
    "workspace's cells.",
    (
        Column("name", TEXT, description="Name of the component."),
        Column("x_m", NUMBER, "m", "Centre, first coordinate."),
        Column("y_m", NUMBER, "m", "Centre, second coordinate."),
        Column("std_m", NUMBER, "m", "Standard deviation.", lower=0.0, lower_open=True),
        Column("weight", NUMBER, "-", "Weight in the mixture (normalised over the components).", required=False,
               default=1.0, lower=0.0, lower_open=True),
    ),
    required=False,
    examples=({"name": "north_east", "x_m": 75.0, "y_m": 75.0, "std_m": 10.0, "weight": 1.0},),
)

NETWORK = SheetSpec(
    "network", "table",
    "Communication graph of the distributed algorithms: one undirected edge per row between two agent names. "
    "It must connect every active agent. Absent or empty: the graph named by meta 'topology'.",
    (
        Column("from", TEXT, description="Agent name at one end."),
        Column("to", TEXT, description="Agent name at the other end."),
    ),
    required=False,
    examples=({"from": "mt1", "to": "pv1"}, {"from": "pv1", "to": "bat1"}, {"from": "bat1", "to": "grid"},
              {"from": "grid", "to": "boiler1"}),
)

DRIVERS = SheetSpec(
    "drivers", "table",
    "Options of the solution methods, one per row (used by 'ecodec run' and 'ecodec compare'); driver "
    "'stopping' sets the stopping rules of the distributed methods (max_iterations, violation_tol, ...). Every row "
    "is checked before anything is solved: the method's name, the option's name and its value against what the "
    "method declares ('ecodec methods' lists them).",
    (
        Column("driver", TEXT, description="Method name, e.g. centralized."),
        Column("option", TEXT, description="Option name, e.g. time_limit_s."),
        Column("value", TEXT, description="Option value (number or text)."),
    ),
    required=False,
    examples=({"driver": "centralized", "option": "mip_rel_gap", "value": 0.0001},),
)


@cache
def agent_sheet(cls: type) -> SheetSpec:
    """The sheet of an agent kind: columns name and active, then the class's declared parameters."""
    columns = (NAME, ACTIVE, *cls.parameters())
    example = {c.name: cls.example[c.name] for c in columns if c.name in cls.example}
    return SheetSpec(cls.sheet, "table", cls.sheet_description, columns, required=False, agent_kind=cls.kind,
                     rules=tuple(cls.rules), examples=(example,))


def agent_sheets() -> tuple[SheetSpec, ...]:
    """Every registered agent kind's sheet: the agents coupled through resources, then the market's agents."""
    return tuple(agent_sheet(cls) for cls in agent_classes())


def sheets() -> tuple[SheetSpec, ...]:
    """Every sheet of a case workbook, in workbook order."""
    found = (META, TIMESERIES, RESOURCES, *agent_sheets(), WORKSPACE, TARGETS, NETWORK, DRIVERS)
    names = [s.name for s in found]
    if len(set(names)) != len(names) or README_SHEET in names:
        raise ValueError(f"an agent kind's sheet name is taken: {', '.join(names)}")
    return found


def sheets_by_name() -> dict[str, SheetSpec]:
    return {s.name: s for s in sheets()}


#: Limits applied to untrusted workbooks before and while they are parsed.  What reading costs is bounded by them,
#: whatever a sheet declares (``<dimension>``): XML elements parsed (time: about a microsecond each), cells and text
#: kept (memory); a case far larger than any solved in practice (a year of quarter-hours, T = 35 040, with 14
#: profiles) stays within them.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_PACKAGE_PARTS = 10_000  # zip members (each costs memory when the package's directory is read)
MAX_PACKAGE_XML_BYTES = 4 * 1024 * 1024  # [Content_Types].xml and the relationship parts together
MAX_ROWS_PER_SHEET = 200_000  # the last row that may hold a value
MAX_COLUMNS_PER_SHEET = 2_000  # the last column that may hold a value
MAX_CELLS_PER_WORKBOOK = 500_000  # each row counted up to its last non-empty cell
MAX_XML_ELEMENTS = 2_000_000  # in all parts read: cells, rows, formatting, shared strings
MAX_TEXT_CHARACTERS = 16_000_000  # of cell values and shared strings kept
MAX_XML_TOKEN_BYTES = 4 * 1024 * 1024  # one tag with its attributes, one comment, one declaration
