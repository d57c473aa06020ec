"""The case workbook schema: the single declaration behind validation, the blank template and the docs page.

Every sheet, column, type, unit, default, allowed range, description and example lives here and nowhere else.
:mod:`ecodec.io.workbook` validates against it, :mod:`ecodec.io.template` writes the blank workbook and its
README sheet from it, and ``docs/workbook.md`` is generated from it (``ecodec schema-docs``).

Parameter columns marked ``profile`` accept a number or the name of a column of the ``timeseries`` sheet, so
one profile can serve several agents.  Units live in column names (``p_max_kw``, ``e_max_kwh``); prices are
in the case currency (``meta`` key ``currency``) per unit named in the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecodec.carriers import CARRIER_UNITS
from ecodec.declarations import BOOL, CHOICE, INTEGER, NUMBER, TEXT, at_most
from ecodec.declarations import Declared as Column
from ecodec.declarations import Rule as RowRule
from ecodec.network.graph import TOPOLOGIES

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

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _first(value) -> float:
    return float(np.atleast_1d(value)[0])


def _last(value) -> float:
    return float(np.atleast_1d(value)[-1])


NAME = Column("name", TEXT, description="Unique agent name across all agent sheets (used by 'network' and results).")
ACTIVE = Column("active", BOOL, required=False, default=True,
                description="FALSE leaves the agent out of the case without deleting its row.")
Q_MIN = Column("q_min_kvar", NUMBER, "kvar", "Lowest reactive power (negative = absorbing).", required=False,
               default=0.0, profile=True)
Q_MAX = Column("q_max_kvar", NUMBER, "kvar", "Highest reactive power.", required=False, default=0.0, profile=True)
ETA = {"dtype": NUMBER, "lower": 0.0, "upper": 1.0, "lower_open": True}

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
               required=False, default=""),
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

TIMESERIES = SheetSpec(
    "timeseries", "timeseries",
    "Column 't' numbers the steps 1..T; every other column is a named profile of T numbers that parameter "
    "cells and resource right-hand sides may refer to by its header.",
    (Column("t", INTEGER, "step", "Step number, 1..T in order.", lower=1),),
    examples=tuple({"t": t, "load_kw": v} for t, v in zip(range(1, 5), (40.0, 55.0, 60.0, 45.0))),
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
        Column("unit", CHOICE, description="Unit of the carrier: kW for active power and heat, kvar for reactive; "
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

MICROTURBINES = SheetSpec(
    "microturbines", "table",
    "Gas microturbines (CHP): electricity from fuel, heat recovered in proportion to electricity.",
    (
        NAME, ACTIVE,
        Column("p_min_kw", NUMBER, "kW", "Lowest electrical output (when on, with commitment).", lower=0.0,
               profile=True),
        Column("p_max_kw", NUMBER, "kW", "Highest electrical output (capacity).", lower=0.0, profile=True),
        Column("eta_el", description="Electrical efficiency p_el / p_pe.", **ETA),
        Column("heat_to_power_ratio", NUMBER, "kW_th/kW_el", "Recovered heat per unit of electricity (mu).",
               lower=0.0),
        Column("lhv_kwh_per_sm3", NUMBER, "kWh/Sm3", "Lower heating value of the fuel.", lower=0.0,
               lower_open=True),
        Column("beta_sm3_per_kwh", NUMBER, "Sm3/kWh", "Fuel per kWh of electricity eligible for the untaxed rate.",
               lower=0.0),
        Column("ff", NUMBER, "-", "Share of the eligible fuel that is taxed anyway (fuel-tax split).",
               lower=0.0, upper=1.0),
        Column("fuel_price_untaxed_per_sm3", NUMBER, "currency/Sm3", "Price of untaxed fuel (K_utx).", lower=0.0,
               profile=True),
        Column("fuel_price_taxed_per_sm3", NUMBER, "currency/Sm3", "Price of taxed fuel (K_tx).", lower=0.0,
               profile=True),
        Column("emission_cost_per_kwh_pe", NUMBER, "currency/kWh", "Emission cost per kWh of primary energy (C).",
               required=False, default=0.0, lower=0.0, profile=True),
        Column("commitment", BOOL, description="TRUE adds an on/off binary per step: output is 0 or within "
               "[p_min_kw, p_max_kw] (makes the case a MILP).", required=False, default=False),
        Column("startup_cost", NUMBER, "currency", "Cost of each start (with commitment).", required=False,
               default=0.0, lower=0.0),
        Column("initially_on", BOOL, description="Whether the turbine is on before step 1 (with commitment; a "
               "start at step 1 is charged only if it was off).", required=False, default=False),
    ),
    required=False,
    agent_kind="microturbine",
    rules=(
        at_most("p_min_kw", "p_max_kw"),
        RowRule(("beta_sm3_per_kwh", "ff", "eta_el", "lhv_kwh_per_sm3"),
                lambda r: (1 - r["ff"]) * r["beta_sm3_per_kwh"] * r["eta_el"] * r["lhv_kwh_per_sm3"] <= 1 + 1e-12,
                "(1 - ff) * beta_sm3_per_kwh <= 1 / (eta_el * lhv_kwh_per_sm3): untaxed fuel cannot exceed the "
                "fuel burnt"),
    ),
    examples=({"name": "mt1", "active": True, "p_min_kw": 0.0, "p_max_kw": 65.0, "eta_el": 0.28,
               "heat_to_power_ratio": 1.7, "lhv_kwh_per_sm3": 9.59, "beta_sm3_per_kwh": 0.22, "ff": 0.0,
               "fuel_price_untaxed_per_sm3": 0.30, "fuel_price_taxed_per_sm3": 0.40,
               "emission_cost_per_kwh_pe": 0.005, "commitment": False, "startup_cost": 0.0,
               "initially_on": False},),
)

RENEWABLES = SheetSpec(
    "renewables", "table",
    "Renewable sources: available power = capacity x availability profile; curtailment is allowed.",
    (
        NAME, ACTIVE,
        Column("carrier", CHOICE, description="'electric' (PV, wind) feeds active/reactive power; 'thermal' (solar "
               "thermal) feeds heat.", choices=("electric", "thermal")),
        Column("capacity_kw", NUMBER, "kW", "Rated power.", lower=0.0),
        Column("availability_pu", NUMBER, "pu", "Available share of capacity per step.", lower=0.0, upper=1.0,
               profile=True),
        Q_MIN, Q_MAX,
        Column("cost_per_kwh", NUMBER, "currency/kWh", "Cost per kWh used (0 = free).", required=False, default=0.0,
               profile=True),
    ),
    required=False,
    agent_kind="renewable",
    rules=(
        at_most("q_min_kvar", "q_max_kvar"),
        RowRule(("q_min_kvar", "carrier", "q_max_kvar"),
                lambda r: r["carrier"] == "electric"
                or bool(np.all(np.asarray(r["q_min_kvar"]) == 0) and np.all(np.asarray(r["q_max_kvar"]) == 0)),
                "0 for a thermal renewable (it has no reactive power)"),
    ),
    examples=({"name": "pv1", "active": True, "carrier": "electric", "capacity_kw": 50.0, "availability_pu": 0.6,
               "q_min_kvar": -15.0, "q_max_kvar": 15.0, "cost_per_kwh": 0.0},),
)

STORAGES = SheetSpec(
    "storages", "table",
    "Electric storage: positive power charges, negative discharges; energy follows the decay and efficiencies.",
    (
        NAME, ACTIVE,
        Column("p_min_kw", NUMBER, "kW", "Lowest power (negative = largest discharge).", profile=True),
        Column("p_max_kw", NUMBER, "kW", "Highest power (largest charge).", profile=True),
        Q_MIN, Q_MAX,
        Column("e_min_kwh", NUMBER, "kWh", "Lowest stored energy at the end of each step.", lower=0.0, profile=True),
        Column("e_max_kwh", NUMBER, "kWh", "Highest stored energy (capacity) at the end of each step.", lower=0.0,
               profile=True),
        Column("e_init_kwh", NUMBER, "kWh", "Stored energy at the start of step 1.", lower=0.0),
        Column("e_final_min_kwh", NUMBER, "kWh", "Floor on the energy at the end of the horizon (empty = none).",
               required=False, lower=0.0),
        Column("decay_per_step", NUMBER, "-", "Share of stored energy kept from one step to the next (a).",
               required=False, default=1.0, lower=0.0, upper=1.0),
        Column("eta_charge", description="Charging efficiency.", required=False, default=1.0, **ETA),
        Column("eta_discharge", description="Discharging efficiency.", required=False, default=1.0, **ETA),
    ),
    required=False,
    agent_kind="storage",
    rules=(
        at_most("p_min_kw", "p_max_kw"), at_most("q_min_kvar", "q_max_kvar"), at_most("e_min_kwh", "e_max_kwh"),
        RowRule(("e_init_kwh", "e_min_kwh", "e_max_kwh"),
                lambda r: _first(r["e_min_kwh"]) <= r["e_init_kwh"] <= _first(r["e_max_kwh"]),
                "e_init_kwh within [e_min_kwh, e_max_kwh] of the first step"),
        RowRule(("e_final_min_kwh", "e_max_kwh"),
                lambda r: r["e_final_min_kwh"] is None or r["e_final_min_kwh"] <= _last(r["e_max_kwh"]),
                "e_final_min_kwh <= e_max_kwh of the last step"),
    ),
    examples=({"name": "bat1", "active": True, "p_min_kw": -20.0, "p_max_kw": 20.0, "q_min_kvar": -10.0,
               "q_max_kvar": 10.0, "e_min_kwh": 5.0, "e_max_kwh": 50.0, "e_init_kwh": 25.0,
               "e_final_min_kwh": 25.0, "decay_per_step": 1.0, "eta_charge": 0.95, "eta_discharge": 0.95},),
)

GRID = SheetSpec(
    "grid", "table",
    "Connection to the main grid: buy at the buy price, sell at the sell price, within power limits.",
    (
        NAME, ACTIVE,
        Column("p_min_kw", NUMBER, "kW", "Lowest net import (negative = largest export).", profile=True),
        Column("p_max_kw", NUMBER, "kW", "Largest net import.", profile=True),
        Q_MIN, Q_MAX,
        Column("buy_price_per_kwh", NUMBER, "currency/kWh", "Price paid per kWh imported (B).", profile=True),
        Column("sell_price_per_kwh", NUMBER, "currency/kWh", "Price received per kWh exported (S).", profile=True),
    ),
    required=False,
    agent_kind="grid",
    rules=(at_most("p_min_kw", "p_max_kw"), at_most("q_min_kvar", "q_max_kvar")),
    examples=({"name": "grid", "active": True, "p_min_kw": -100.0, "p_max_kw": 200.0, "q_min_kvar": -100.0,
               "q_max_kvar": 100.0, "buy_price_per_kwh": 0.20, "sell_price_per_kwh": 0.05},),
)

BOILERS = SheetSpec(
    "boilers", "table",
    "Fuel boilers: heat = efficiency x primary energy.",
    (
        NAME, ACTIVE,
        Column("p_th_max_kw", NUMBER, "kW", "Largest heat output.", lower=0.0, profile=True),
        Column("eta", description="Thermal efficiency p_th / p_pe.", **ETA),
        Column("fuel_cost_per_kwh_pe", NUMBER, "currency/kWh", "Fuel and emission cost per kWh of primary energy "
               "(C).", lower=0.0, profile=True),
        Column("om_cost_per_kwh_th", NUMBER, "currency/kWh", "Operating cost per kWh of heat (E).", required=False,
               default=0.0, lower=0.0, profile=True),
    ),
    required=False,
    agent_kind="boiler",
    examples=({"name": "boiler1", "active": True, "p_th_max_kw": 80.0, "eta": 0.9, "fuel_cost_per_kwh_pe": 0.045,
               "om_cost_per_kwh_th": 0.002},),
)

def _ev_target_reachable(r: dict) -> bool:
    """The target can be met charging at full power over the whole window (ignoring the shared limit)."""
    departure = r["departure_step"] if r["departure_step"] is not None else r["T"]
    steps = max(0, departure - r["arrival_step"] + 1)
    reachable = min(r["e_max_kwh"], r["e_init_kwh"] + r["eta_charge"] * r["p_charge_kw"] * steps * r["step_h"])
    return reachable >= r["e_target_kwh"] - 1e-9


EVS = SheetSpec(
    "evs", "table",
    "Electric vehicles charging at the shared connection: plugged in from arrival_step to departure_step "
    "(both included), they must hold e_target_kwh at the end of the departure step. (The example row is "
    "inactive: set active to TRUE and connect it on sheet 'network' to add it.)",
    (
        NAME, ACTIVE,
        Column("mode", CHOICE, description="'continuous' charging power in [0, p_charge_kw] (LP), 'binary' "
               "on/off at p_charge_kw (MILP), 'v2g' binary charge or discharge, never both (MILP).",
               required=False, default="continuous", choices=("continuous", "binary", "v2g")),
        Column("p_charge_kw", NUMBER, "kW", "Charging power (the most, or the only one with 'binary').", lower=0.0,
               lower_open=True),
        Column("p_discharge_kw", NUMBER, "kW", "Discharging power with 'v2g' (0 otherwise).", required=False,
               default=0.0, lower=0.0),
        Column("e_min_kwh", NUMBER, "kWh", "Lowest energy in the battery at the end of each step.", required=False,
               default=0.0, lower=0.0),
        Column("e_max_kwh", NUMBER, "kWh", "Battery capacity.", lower=0.0, lower_open=True),
        Column("e_init_kwh", NUMBER, "kWh", "Energy at arrival.", lower=0.0),
        Column("e_target_kwh", NUMBER, "kWh", "Energy required at departure.", lower=0.0),
        Column("eta_charge", description="Charging efficiency.", required=False, default=1.0, **ETA),
        Column("eta_discharge", description="Discharging efficiency ('v2g').", required=False, default=1.0, **ETA),
        Column("arrival_step", INTEGER, "step", "First step plugged in (1-based).", required=False, default=1,
               lower=1),
        Column("departure_step", INTEGER, "step", "Last step plugged in (empty = the last step of the horizon).",
               required=False, lower=1),
        Column("price_per_kwh", NUMBER, "currency/kWh", "Price of the energy charged.", profile=True),
        Column("discharge_price_per_kwh", NUMBER, "currency/kWh", "Price received per kWh discharged ('v2g'; "
               "empty = price_per_kwh).", required=False, profile=True),
        Column("departure_value_per_kwh", NUMBER, "currency/kWh", "What each kWh in the battery at departure "
               "beyond e_target_kwh is worth to the driver (e.g. the price of charging elsewhere): with a value above "
               "some slot's price / eta_charge the vehicle charges beyond its target there.", required=False,
               default=0.0, lower=0.0),
    ),
    required=False,
    agent_kind="ev",
    rules=(
        at_most("e_min_kwh", "e_max_kwh"),
        RowRule(("e_init_kwh", "e_min_kwh", "e_max_kwh"), lambda r: r["e_min_kwh"] <= r["e_init_kwh"] <= r["e_max_kwh"],
                "e_init_kwh within [e_min_kwh, e_max_kwh]"),
        RowRule(("e_target_kwh", "e_max_kwh"), lambda r: r["e_target_kwh"] <= r["e_max_kwh"],
                "e_target_kwh <= e_max_kwh"),
        RowRule(("departure_step", "arrival_step"),
                lambda r: r["departure_step"] is None or r["arrival_step"] <= r["departure_step"] <= r["T"],
                "a step from arrival_step to T (the number of steps)", needs_horizon=True),
        RowRule(("arrival_step",), lambda r: r["arrival_step"] <= r["T"], "a step from 1 to T (the number of steps)",
                needs_horizon=True),
        RowRule(("p_discharge_kw", "mode"), lambda r: r["mode"] != "v2g" or r["p_discharge_kw"] > 0,
                "a power > 0 with mode 'v2g'"),
        RowRule(("e_target_kwh", "e_init_kwh", "p_charge_kw", "eta_charge", "arrival_step", "departure_step",
                 "e_max_kwh"), _ev_target_reachable,
                "a target the vehicle can reach: e_init_kwh + eta_charge x p_charge_kw x (hours plugged in), "
                "within e_max_kwh", needs_horizon=True),
    ),
    examples=({"name": "ev1", "active": False, "mode": "continuous", "p_charge_kw": 7.4, "p_discharge_kw": 0.0,
               "e_min_kwh": 0.0, "e_max_kwh": 40.0, "e_init_kwh": 10.0, "e_target_kwh": 15.0, "eta_charge": 0.92,
               "eta_discharge": 1.0, "arrival_step": 1, "departure_step": 4, "price_per_kwh": 0.25},),
)

BUYERS = SheetSpec(
    "buyers", "table",
    "Market buyers (energy-community market, docs/market.md): each bids a unit price within the grid's export "
    "and import prices and receives energy in proportion to its bid. A case holds either market agents or "
    "agents coupled through resources. (The example row is inactive.)",
    (
        NAME, ACTIVE,
        Column("demand_kwh", NUMBER, "kWh", "Energy the buyer needs per step (Ebar_i).", lower=0.0, profile=True),
        Column("grid_export_price_per_kwh", NUMBER, "currency/kWh", "Lowest bid c_b: what the grid pays for "
               "exported energy.", lower=0.0, lower_open=True, profile=True),
        Column("grid_import_price_per_kwh", NUMBER, "currency/kWh", "Highest bid c_s: what the grid charges for "
               "imported energy.", lower=0.0, lower_open=True, profile=True),
        Column("weight_demand_per_kwh2", NUMBER, "currency/kWh2", "Weight eps_d of the squared shortfall or "
               "surplus (E_i - Ebar_i)^2 (demand satisfaction).", required=False, default=1.0, lower=0.0),
        Column("weight_price", NUMBER, "-", "Weight eps_b of E_i (c_i - c_s), the saving against buying from the "
               "grid.", required=False, default=1.0, lower=0.0),
    ),
    required=False,
    agent_kind="buyer",
    rules=(at_most("grid_export_price_per_kwh", "grid_import_price_per_kwh"),),
    examples=({"name": "buyer1", "active": False, "demand_kwh": 8.0, "grid_export_price_per_kwh": 0.12,
               "grid_import_price_per_kwh": 0.29, "weight_demand_per_kwh2": 0.01, "weight_price": 1.0},),
)

SELLERS = SheetSpec(
    "sellers", "table",
    "Market sellers: each sells a fraction of its excess energy to the community and keeps the rest; sellers are "
    "paid in proportion to what they sell. (The example row is inactive.)",
    (
        NAME, ACTIVE,
        Column("excess_kwh", NUMBER, "kWh", "Excess energy per step (Ehat_j), > 0 at every step.", lower=0.0,
               lower_open=True, profile=True),
        Column("weight_revenue", NUMBER, "-", "Weight gamma_r of the revenue R_j.", required=False, default=1.0,
               lower=0.0),
        Column("weight_storage", NUMBER, "currency", "Weight gamma_s of ln(1 + Ehat_j (1 - w_j)), the value of "
               "keeping energy.", required=False, default=1.0, lower=0.0),
        Column("revenue_in_cost", CHOICE, description="Sign of the revenue term in the seller's cost: 'minus' "
               "(-gamma_r R_j: revenue is maximised, the default) or 'plus' (+gamma_r R_j, the formula as printed in "
               "the ECODREAM report).", required=False, default="minus", choices=("minus", "plus")),
    ),
    required=False,
    agent_kind="seller",
    examples=({"name": "seller1", "active": False, "excess_kwh": 10.0, "weight_revenue": 0.5,
               "weight_storage": 1.0, "revenue_in_cost": "minus"},),
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
    "'stopping' sets the stopping rules of the distributed methods (max_iterations, violation_tol, ...).",
    (
        Column("driver", TEXT, description="Method name, e.g. centralized."),
        Column("option", TEXT, description="Option name, e.g. time_limit_s."),
        Column("value", TEXT, description="Option value (number or text)."),
    ),
    required=False,
    examples=({"driver": "centralized", "option": "mip_rel_gap", "value": 0.0001},),
)

#: Agents coupled through resources, then the market's agents (coupled through aggregates)
RESOURCE_AGENT_SHEETS: tuple[SheetSpec, ...] = (MICROTURBINES, RENEWABLES, STORAGES, GRID, BOILERS, EVS)
MARKET_SHEETS: tuple[SheetSpec, ...] = (BUYERS, SELLERS)
AGENT_SHEETS: tuple[SheetSpec, ...] = (*RESOURCE_AGENT_SHEETS, *MARKET_SHEETS)
SHEETS: tuple[SheetSpec, ...] = (META, TIMESERIES, RESOURCES, *AGENT_SHEETS, NETWORK, DRIVERS)
SHEETS_BY_NAME: dict[str, SheetSpec] = {s.name: s for s in SHEETS}
README_SHEET = "README"

#: Limits applied to untrusted workbooks before and while they are parsed.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_ROWS_PER_SHEET = 200_000
MAX_COLUMNS_PER_SHEET = 2_000
