"""Read and validate a case workbook into a :class:`~ecodec.case.Case`.

Validation follows :mod:`ecodec.io.schema` and collects every problem before giving up, so a user sees all of
them at once: missing sheets and columns, wrong types, empty or NaN cells, values out of range, unknown profile
names, profiles of the wrong length, cross-column rules (p_min <= p_max, initial energy within its bounds, ...),
duplicate agent names, network edges naming unknown agents and disconnected networks (the sheet's edges, or
the Erdos-Renyi graph named in meta when the sheet has none, drawn by :mod:`ecodec.network` exactly as a run
will draw it).  Rows are reported with their Excel row number (the header is row 1).  Cells and rows are parsed
and checked by :class:`~ecodec.io.sheet_reader.SheetReader`; this module reads each sheet.  A timeseries sheet
naming CSV or Parquet files is read by :mod:`ecodec.io.timeseries_files`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ecodec.case import AgentSpec, Case, ResourceSpec
from ecodec.declarations import check_rules, format_number, parse_number
from ecodec.errors import NO_VALUE, CaseError, NetworkError, did_you_mean
from ecodec.io.schema import (
    DRIVERS,
    MAX_CELLS_PER_WORKBOOK,
    MAX_COLUMNS_PER_SHEET,
    MAX_ROWS_PER_SHEET,
    MAX_TEXT_CHARACTERS,
    MAX_XML_ELEMENTS,
    MAX_XML_TOKEN_BYTES,
    META,
    NETWORK,
    README_SHEET,
    RESOURCES,
    TARGETS,
    TIMESERIES,
    WORKSPACE,
    agent_sheets,
    sheets_by_name,
)
from ecodec.io.sheet_reader import MISSING, SheetReader
from ecodec.io.timeseries_files import read_files_sheet
from ecodec.io.untrusted import check_untrusted_xlsx, unreadable
from ecodec.io.xlsx_cells import read_tables
from ecodec.io.xml_parts import Budget
from ecodec.models.registry import AGGREGATIVE_CLASSES, CLASSES_BY_PROBLEM_KIND
from ecodec.time_steps import START_EXAMPLE, parse_start
from ecodec.network.graph import CommunicationNetwork, connected_groups, format_groups

log = logging.getLogger(__name__)


def read_case(path: str | Path) -> Case:
    """Read, validate and return the case in ``path``; raise CaseError listing every problem found.

    The package is checked first (:func:`~ecodec.io.untrusted.check_untrusted_xlsx`), then its cells are streamed
    (:func:`~ecodec.io.xlsx_cells.read_tables`) within the limits of :mod:`ecodec.io.schema`, so what reading costs
    follows what the workbook holds, never what it declares.  Only the case's sheets are parsed: the README sheet is
    documentation and an unknown sheet is reported by its name."""
    path = check_untrusted_xlsx(path)
    budget = Budget(rows=MAX_ROWS_PER_SHEET, columns=MAX_COLUMNS_PER_SHEET, cells=MAX_CELLS_PER_WORKBOOK,
                    elements=MAX_XML_ELEMENTS, text=MAX_TEXT_CHARACTERS, token_bytes=MAX_XML_TOKEN_BYTES)
    try:
        tables = read_tables(path, set(sheets_by_name()), budget)
    except CaseError as exc:  # a limit crossed, a cell that cannot be read
        raise CaseError(path, exc.issues) from None
    except Exception as exc:  # noqa: BLE001  malformed or hostile XML in the package (entities are refused)
        raise unreadable(path, exc) from None
    case = _Reader(path, tables).read()
    log.info("read case '%s' from %s: %d agents, T=%d", case.name, path, len(case.agents), case.T)
    return case


class _Reader(SheetReader):
    """One pass over a workbook's raw rows, collecting issues."""

    def __init__(self, path: Path, tables: dict[str, list[tuple]]):
        super().__init__(tables)
        self.path = path
        self.meta_rows: dict[str, int] = {}
        self.driver_rows: dict[tuple[str, str], int] = {}
        self.files_read: list[Path] = []  # time-series files the timeseries sheet names, in order

    def read(self) -> Case:
        self._check_sheet_names()
        meta = self._read_meta()
        self.T = meta.get("T") if isinstance(meta.get("T"), int) else None
        self.step_h = meta.get("step_h") if isinstance(meta.get("step_h"), (int, float)) else None
        self.start = meta.get("start") if meta.get("start") is not MISSING else None
        self._read_timeseries()
        resources = self._read_resources()
        agents, all_names, inactive = self._read_agents()
        active = [n for n in all_names if n not in inactive]
        edges = self._read_network(all_names, active)
        if not edges:
            self._check_random_topology(meta, active)
        drivers = self._read_drivers()
        workspace, targets = self._read_deployment()
        self._check_case_kind(agents, resources, workspace, targets)
        agent_sheet_names = [s.name for s in agent_sheets()]
        if not agents and not any(i.sheet in agent_sheet_names for i in self.issues):
            self.issue(None, None, None, NO_VALUE, "at least one active agent on the sheets "
                       + ", ".join(repr(name) for name in agent_sheet_names))
        if self.issues:
            raise CaseError(self.path, self.issues)
        return Case(
            name=meta["name"], T=meta["T"], step_h=meta["step_h"], currency=meta["currency"],
            description=meta["description"], start=meta["start"], agents=agents, resources=resources,
            profiles=self.profiles, edges=edges, topology="sheet" if edges else meta["topology"],
            edge_probability=meta["edge_probability"], seed=meta["seed"], driver_options=drivers,
            driver_rows=self.driver_rows, source=self.path, input_files=[self.path.resolve(), *self.files_read],
            workspace=workspace, targets=targets,
        )

    # -- sheets ------------------------------------------------------------------------------------------
    def _check_sheet_names(self) -> None:
        specs = sheets_by_name()
        known = set(specs) | {README_SHEET}
        for name in self.tables:
            if name not in known:
                self.issue(name, None, None, NO_VALUE, "only the sheets " + ", ".join(sorted(known))
                           + f"; this sheet is unknown{did_you_mean(name, known)}")
        for spec in specs.values():
            if spec.required and spec.name not in self.tables:
                self.issue(spec.name, None, None, NO_VALUE, f"a sheet named '{spec.name}': {spec.description}")

    # -- meta --------------------------------------------------------------------------------------------
    def _read_meta(self) -> dict:
        values = {c.name: c.default for c in META.columns}
        rows = self.tables.get(META.name)
        if rows is None:
            return values
        seen = self.meta_rows
        header = [str(v).lower() if v is not None else None for v in (rows[0] if rows else ())]
        if header[:2] != ["key", "value"]:
            self.issue(META.name, 1, "A:B", " | ".join(str(v) for v in header[:2]),
                       "the headers 'key' and 'value' in the first two columns")
        for row_number, row in enumerate(rows[1:], start=2):
            key = row[0] if row else None
            if key is None and all(v is None for v in row):
                continue
            raw = row[1] if len(row) > 1 else None
            if key not in META.column_names:
                self.issue(META.name, row_number, "key", key, "one of the keys " + ", ".join(META.column_names))
                continue
            if key in seen:
                self.issue(META.name, row_number, "key", key, f"each key once (already on row {seen[key]})")
                continue
            seen[key] = row_number
            values[key] = self.cell(META.name, row_number, META.column(key), raw, label=f"value (key '{key}')")
        for col in META.columns:
            if col.name not in seen and col.required and col.default is None:
                self.issue(META.name, None, "key", NO_VALUE, f"a row with key '{col.name}' ({col.description})")
                values[col.name] = MISSING
        if "start" in seen and values["start"] is not MISSING:
            try:
                parse_start(values["start"])
            except ValueError:
                self.issue(META.name, seen["start"], "value (key 'start')", values["start"],
                           f"a local date and time such as {START_EXAMPLE} (or an empty cell)")
                values["start"] = MISSING
        invalid = {key for key, value in values.items() if value is MISSING}
        for key, value, expected in check_rules(META.rules, values, invalid=invalid):
            self.issue(META.name, seen.get(key), f"value (key '{key}')", value if key in seen else NO_VALUE, expected)
            values[key] = MISSING
        return values

    # -- timeseries --------------------------------------------------------------------------------------
    def _read_timeseries(self) -> None:
        rows = self.tables.get(TIMESERIES.name)
        if rows is None:
            return
        header = rows[0] if rows else ()
        if header and header[0] == "file":  # the sheet names files holding the profiles
            used = sum(len(row) for table in self.tables.values() for row in table)
            self.files_read = read_files_sheet(self, rows, self.path.parent, self.start, used)
            return
        if not header or header[0] != "t":
            self.issue(TIMESERIES.name, 1, "A", header[0] if header else None,
                       "the header 't' in the first column (or 'file' to name files holding the profiles)")
            return
        data = rows[1:]
        if self.T is not None and len(data) != self.T:
            self.issue(TIMESERIES.name, None, "t", f"{len(data)} rows", f"T = {self.T} rows of steps (meta 'T')")
        for r, row in enumerate(data, start=2):
            if (row[0] if row else None) != r - 1:
                self.issue(TIMESERIES.name, r, "t", row[0] if row else None, f"step number {r - 1} (1..T in order)")
                break
        seen = set()
        for c, name in enumerate(header[1:], start=1):
            if name is None:
                if any(len(row) > c and row[c] is not None for row in data):
                    self.issue(TIMESERIES.name, 1, _column_letter(c), None, "a profile name above the values")
                continue
            name = str(name)
            if name in seen or parse_number(name) is not None:
                self.issue(TIMESERIES.name, 1, name, name, "a unique profile name that is not a number")
                continue
            seen.add(name)
            values = [row[c] if len(row) > c else None for row in data]
            while values and values[-1] is None:
                values.pop()
            bad = False
            for r, v in enumerate(values, start=2):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v):
                    self.issue(TIMESERIES.name, r, name, "NaN" if isinstance(v, float) else v, "a finite number")
                    bad = True
            if self.T is not None and len(values) != self.T:
                self.issue(TIMESERIES.name, None, name, f"{len(values)} values", f"T = {self.T} values (meta 'T')")
                bad = True
            if not bad:
                self.profiles[name] = np.asarray(values, dtype=float)

    # -- resources ---------------------------------------------------------------------------------------
    def _read_resources(self) -> list[ResourceSpec]:
        resources: list[ResourceSpec] = []
        seen: dict[str, int] = {}
        for row, record in self.records(RESOURCES):
            values = self.row_values(RESOURCES, row, record)
            if values is None:
                continue
            key = (values["name"], values["scope"])
            if key in seen:
                self.issue(RESOURCES.name, row, "name", values["name"],
                           f"each carrier once per scope (a '{values['scope']}' row of it is already on row "
                           f"{seen[key]})")
                continue
            seen[key] = row
            resources.append(ResourceSpec(
                name=values["name"], sense=values["sense"], rhs=self.per_step(values["rhs"]),
                rhs_upper=None if values["rhs_upper"] is None else self.per_step(values["rhs_upper"]),
                unit=values["unit"], description=values["description"], row=row, scope=values["scope"]))
        return resources

    def _read_deployment(self) -> tuple[dict | None, list[dict]]:
        """The 'workspace' row (one) and the 'targets' rows of a deployment case."""
        rows = [(row, self.row_values(WORKSPACE, row, record)) for row, record in self.records(WORKSPACE)]
        if len(rows) > 1:
            self.issue(WORKSPACE.name, rows[1][0], None, f"{len(rows)} rows", "one row: the workspace")
        workspace = rows[0][1] if rows else None
        targets = [values for row, record in self.records(TARGETS)
                   if (values := self.row_values(TARGETS, row, record)) is not None]
        return workspace, targets

    def _check_case_kind(self, agents: list[AgentSpec], resources: list[ResourceSpec], workspace: dict | None = None,
                         targets: list[dict] = ()) -> None:
        """A case holds agents of one problem kind: a market (buyers and sellers, no resources), prosumer nodes of
        online sharing (no resources) or agents coupled through resources (resources needed)."""
        problem_kind = {cls.kind: (kind, cls.sheet) for kind, classes in CLASSES_BY_PROBLEM_KIND.items()
                        for cls in classes.values()}
        kinds = list(dict.fromkeys(problem_kind[a.kind][0] for a in agents))
        if len(kinds) > 1:
            first = next(a for a in agents if problem_kind[a.kind][0] == kinds[1])
            other = next(a for a in agents if problem_kind[a.kind][0] == kinds[0])
            self.issue(problem_kind[first.kind][1], first.row, "name", first.name,
                       f"agents of one problem kind: a case is a microgrid (agents coupled through resources), a "
                       f"market of buyers and sellers, or prosumer nodes sharing energy; agent '{other.name}' is of "
                       f"kind {other.kind}")
        elif kinds == ["aggregative"]:
            present = {a.kind for a in agents}
            for cls in AGGREGATIVE_CLASSES.values():
                for needed in cls.requires_kinds if cls.kind in present else ():
                    if needed not in present:
                        other = AGGREGATIVE_CLASSES[needed]
                        self.issue(other.sheet, None, None, NO_VALUE, f"at least one active {needed}: "
                                   f"{cls.requirement}")
            groups = {}
            for a in agents:
                groups.setdefault(AGGREGATIVE_CLASSES[a.kind].aggregates, a)
            if len(groups) > 1:
                (first, one), (_, second) = list(groups.items())[:2]
                self.issue(AGGREGATIVE_CLASSES[second.kind].sheet, second.row, "name", second.name,
                           f"agents sharing one list of aggregates: agent '{one.name}' ({one.kind}) is coupled "
                           f"through {', '.join(first)}, {second.kind} agents through "
                           f"{', '.join(AGGREGATIVE_CLASSES[second.kind].aggregates)}; a case holds one market")
            if resources:
                self.issue(RESOURCES.name, resources[0].row, "name", resources[0].name,
                           "no coupling resource rows in a market case (its agents are coupled through the "
                           "aggregates); remove the 'resources' sheet")
        elif kinds == ["deployment"]:
            for spec, given in ((WORKSPACE, workspace), (TARGETS, targets)):
                if not given and not any(i.sheet == spec.name for i in self.issues):
                    self.issue(spec.name, None, None, NO_VALUE, f"a sheet '{spec.name}' with at least one row: "
                               f"{spec.description}")
            if resources:
                self.issue(RESOURCES.name, resources[0].row, "name", resources[0].name,
                           "no coupling resource rows in a deployment case; remove the 'resources' sheet")
        elif kinds == ["online-sharing"]:
            if resources:
                self.issue(RESOURCES.name, resources[0].row, "name", resources[0].name,
                           "no coupling resource rows in an online sharing case (prosumers share energy over the "
                           "'network' sheet); remove the 'resources' sheet")
        elif kinds and RESOURCES.name not in self.tables:
            self.issue(RESOURCES.name, None, None, NO_VALUE,
                       f"a sheet named '{RESOURCES.name}': {RESOURCES.description}")
        elif kinds and not resources and not any(i.sheet == RESOURCES.name for i in self.issues):
            self.issue(RESOURCES.name, 2, None, None, "at least one coupling resource row")

    # -- agents ------------------------------------------------------------------------------------------
    def _read_agents(self) -> tuple[list[AgentSpec], dict[str, None], set[str]]:
        """Valid active agents, every agent name in workbook order, and the names of inactive agents."""
        agents: list[AgentSpec] = []
        inactive: set[str] = set()
        first_seen: dict[str, tuple[str, int]] = {}
        for spec in agent_sheets():
            for row, record in self.records(spec):
                name_raw = record.get("name")
                values = self.row_values(spec, row, record)
                name = format_number(name_raw) if isinstance(name_raw, (int, float)) else name_raw
                if isinstance(name, str):  # a name the row reports as invalid (a date, say) names no agent
                    if name in first_seen:
                        sheet, at = first_seen[name]
                        self.issue(spec.name, row, "name", name,
                                   f"a name not used by another agent (already on sheet '{sheet}', row {at})")
                        continue
                    first_seen[name] = (spec.name, row)
                if values is not None and not values["active"]:
                    inactive.add(values["name"])
                if values is None or not values["active"]:
                    continue
                params = {k: v for k, v in values.items() if k not in ("name", "active")}
                agents.append(AgentSpec(kind=spec.agent_kind, name=values["name"], params=params, row=row))
        return agents, dict.fromkeys(first_seen), inactive

    # -- network -----------------------------------------------------------------------------------------
    def _read_network(self, all_names: dict[str, None], active: list[str]) -> list[tuple[str, str]]:
        edges: list[tuple[str, str]] = []
        is_active = set(active)
        for row, record in self.records(NETWORK):
            values = self.row_values(NETWORK, row, record)
            if values is None:
                continue
            ok = True
            for column in ("from", "to"):
                if values[column] not in all_names:
                    hint = did_you_mean(values[column], [n for n in all_names if isinstance(n, str)]) \
                        if isinstance(values[column], str) else ""
                    self.issue(NETWORK.name, row, column, values[column], "the name of an agent on an agent sheet"
                               + hint)
                    ok = False
            if ok and values["from"] == values["to"]:
                self.issue(NETWORK.name, row, "to", values["to"], "an agent other than the one in 'from'")
                ok = False
            if ok and values["from"] in is_active and values["to"] in is_active:
                edges.append((values["from"], values["to"]))
            elif ok:
                log.warning("network row %d: edge %s-%s left out because an agent is inactive", row,
                            values["from"], values["to"])
        if edges and len(active) > 1:
            parts = connected_groups(active, edges)
            if len(parts) > 1:
                self.issue(NETWORK.name, None, None, f"{len(parts)} separate groups",
                           f"a connected graph over the active agents: add edges joining the groups "
                           f"{format_groups(parts)}")
        return edges

    def _check_random_topology(self, meta: dict, active: list[str]) -> None:
        """Without network edges, an 'erdos_renyi' topology is drawn now: a disconnected draw is a meta issue."""
        drawable = active and all(meta[key] is not MISSING for key in ("edge_probability", "seed"))
        if meta["topology"] != "erdos_renyi" or not drawable or any(i.sheet == NETWORK.name for i in self.issues):
            return
        try:
            CommunicationNetwork.named("erdos_renyi", active, edge_probability=meta["edge_probability"],
                                       seed=meta["seed"])
        except NetworkError as exc:
            self.issue(META.name, self.meta_rows.get("topology"), "value (key 'topology')", "erdos_renyi",
                       f"a connected graph over the active agents, but {exc} (or list edges on sheet 'network')")

    # -- drivers -----------------------------------------------------------------------------------------
    def _read_drivers(self) -> dict[str, dict[str, object]]:
        """Options per method, each option's row kept in ``driver_rows``; values stay as typed in the cell: the
        methods are a higher layer, so the study layer checks names and values against their declarations
        (:func:`ecodec.study.drivers_sheet.drivers_issues`) with these rows."""
        options: dict[str, dict[str, object]] = {}
        for row, record in self.records(DRIVERS):
            if any(record[c] is None for c in ("driver", "option", "value")):
                for column in ("driver", "option", "value"):
                    if record[column] is None:
                        self.issue(DRIVERS.name, row, column, None, DRIVERS.column(column).expected())
                continue
            if MISSING in record.values():
                continue
            bucket = options.setdefault(str(record["driver"]), {})
            option = str(record["option"])
            if option in bucket:
                self.issue(DRIVERS.name, row, "option", option, f"each option of '{record['driver']}' once")
            bucket[option] = record["value"]
            self.driver_rows[(str(record["driver"]), option)] = row
        return options


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
