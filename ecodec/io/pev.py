"""Plug-in EV fleets drawn from the published benchmark distributions, as case-workbook tables.

Source: Vujanic, Mohajerin Esfahani, Goulart, Mariethoz, Morari (2016), the PEV charging benchmark, with the
parameter distributions used by public code (ALGORITHMS.md section 6).  T = 24 slots of 20 min (step 1/3 h); per
vehicle i, drawn independently from one seeded generator in vehicle order:

==================  ============================  ===============================
quantity            distribution                  ecodec column (sheet 'evs')
==================  ============================  ===============================
P_i                 U[3, 5] kW                    p_charge_kw (and p_discharge_kw for v2g)
E_max,i             U[8, 16] kWh                  e_max_kwh
E_min               1 kWh                         e_min_kwh
E_init,i            U[0.2, 0.5] E_max,i           e_init_kwh
E_ref,i             U[0.55, 0.8] E_max,i          e_target_kwh (at the end of slot 24)
eta_i               1 - U[0.015, 0.075]           eta_charge (and eta_discharge for v2g)
C(t)                U[19, 35] EUR/MWh per slot    timeseries 'price_eur_per_kwh' (C / 1000), shared
==================  ============================  ===============================

The coupling (``coupling='feeder'``) is the shared connection, sum_i P_i u_i(t) <= Pmax =
pmax_per_vehicle_kw x N in every slot, written as the active-power row  sum_i (-p_i) >= -Pmax  (charging draws
power).  With ``coupling='budget'`` it is instead one scalar row, a total-energy budget B over the day: the
active-power row of scope 'horizon'  Delta sum_t sum_i (-p_i,t) >= -B  (kWh).  So that the budget binds,
each vehicle then values each kWh it holds at departure beyond its target at w_i ~ U[25, 35] EUR/MWh (drawn
after all the above, so the fleet is otherwise the feeder one) and fills up in the slots cheaper than
w_i eta_i; B = least + share x
(most - least), least and most the fleet's smallest and largest possible energy drawn, summed per vehicle
(:func:`energy_range_kwh`; exact for lp and milp).  Variants: ``lp`` (continuous
u, variant A), ``milp`` (binary u, B), ``v2g`` (binary charge and discharge, C; the source leaves discharge
efficiency and price open: ecodec uses eta_i and C(t)).  The communication graph (for methods that talk to
neighbours) is an Erdos-Renyi draw with edge probability min(1, 3 ln N / N), redrawn with the next seed until it
is connected.  The mixed-integer variants ask the centralized MILP for a relative gap of 1e-3 within 120 s
(sheet 'drivers'), which HiGHS reaches in seconds on 100 vehicles where 1e-4 takes minutes.
"""

from __future__ import annotations

import math

import numpy as np

from ecodec.network import CommunicationNetwork

T_SLOTS, STEP_H = 24, 1.0 / 3.0
VARIANT_MODES = {"lp": "continuous", "milp": "binary", "v2g": "v2g"}
PRICE_PROFILE = "price_eur_per_kwh"
LIMIT_PROFILE = "feeder_limit_kw"


COUPLINGS = ("feeder", "budget")


def pev_tables(n: int, seed: int, variant: str, pmax_per_vehicle_kw: float = 1.0, coupling: str = "feeder",
               budget_share: float = 0.5) -> dict[str, list[dict]]:
    """The workbook tables of a fleet of ``n`` vehicles (see the module docstring); same arguments, same tables."""
    if variant not in VARIANT_MODES:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANT_MODES)}")
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling {coupling!r} is not one of {', '.join(COUPLINGS)}")
    if n < 1 or pmax_per_vehicle_kw <= 0 or not 0 <= budget_share <= 1:
        raise ValueError("n must be >= 1, pmax_per_vehicle_kw > 0 and budget_share in [0, 1]")
    rng = np.random.default_rng(seed)
    price = rng.uniform(19.0, 35.0, T_SLOTS) / 1000.0
    vehicles = []
    for i in range(n):
        p_kw = rng.uniform(3.0, 5.0)
        e_max = rng.uniform(8.0, 16.0)
        e_init = rng.uniform(0.2, 0.5) * e_max
        e_ref = rng.uniform(0.55, 0.8) * e_max
        eta = 1.0 - rng.uniform(0.015, 0.075)
        mode = VARIANT_MODES[variant]
        vehicles.append({"name": f"ev{i + 1}", "active": True, "mode": mode, "p_charge_kw": round(p_kw, 6),
                         "p_discharge_kw": round(p_kw, 6) if mode == "v2g" else 0.0, "e_min_kwh": 1.0,
                         "e_max_kwh": round(e_max, 6), "e_init_kwh": round(e_init, 6),
                         "e_target_kwh": round(e_ref, 6), "eta_charge": round(eta, 6),
                         "eta_discharge": round(eta, 6) if mode == "v2g" else 1.0, "arrival_step": 1,
                         "departure_step": T_SLOTS, "price_per_kwh": PRICE_PROFILE})
    limit = pmax_per_vehicle_kw * n
    names = [v["name"] for v in vehicles]
    network, graph_seed = CommunicationNetwork.first_connected_erdos_renyi(
        names, min(1.0, 3.0 * math.log(n) / n) if n > 2 else 1.0, seed)
    edges = list(network.edges)
    timeseries = [{"t": t + 1, PRICE_PROFILE: round(float(price[t]), 8), LIMIT_PROFILE: -limit}
                  for t in range(T_SLOTS)]
    resources = [{"name": "active_power", "sense": ">=", "rhs": LIMIT_PROFILE, "unit": "kW", "scope": "step",
                  "description": f"shared connection: the fleet draws at most {limit:g} kW"}]
    coupled = f"feeder limit {pmax_per_vehicle_kw:g} kW per vehicle"
    if coupling == "budget":
        for vehicle, value in zip(vehicles, rng.uniform(25.0, 35.0, n) / 1000.0):
            vehicle["departure_value_per_kwh"] = round(float(value), 8)
        least, most = energy_range_kwh(vehicles)
        budget = round(least + budget_share * (most - least), 6)
        for row in timeseries:
            del row[LIMIT_PROFILE]
        resources = [{"name": "active_power", "sense": ">=", "rhs": -budget, "unit": "kWh", "scope": "horizon",
                      "description": f"total-energy budget: the fleet draws at most {budget:g} kWh over the day"}]
        coupled = f"total-energy budget {budget:g} kWh (share {budget_share:g} of the room above the least need)"
    return {
        "meta": [{"name": f"pev_{n}_{variant}" + ("_budget" if coupling == "budget" else ""), "T": T_SLOTS,
                  "step_h": STEP_H, "currency": "EUR",
                  "description": (f"PEV charging benchmark (Vujanic et al. 2016 distributions), {n} vehicles, "
                                  f"variant {variant}, seed {seed}, {coupled}; communication graph erdos_renyi "
                                  f"seed {graph_seed}"),
                  "start": "", "topology": "complete"}],
        "timeseries": timeseries,
        "resources": resources,
        "evs": vehicles,
        "network": [{"from": a, "to": b} for a, b in edges],
        # a fleet of identical-looking binaries makes proving a tiny MIP gap slow; 1e-3 is what a comparison needs
        "drivers": [{"driver": "centralized", "option": "mip_rel_gap", "value": 0.001},
                    {"driver": "centralized", "option": "time_limit_s", "value": 120}] if variant != "lp" else [],
    }


def energy_range_kwh(vehicles: list[dict]) -> tuple[float, float]:
    """(least, most) energy in kWh the fleet can draw over the horizon, each summed over the vehicles: for vehicle
    i with slot energy q = P_i Delta (all of it with binary charging) and n_i plugged-in slots, least_i is what
    its target needs, (E_ref - E_init)^+ / eta, and most_i what fills it, (E_max - E_init) / eta, capped by n_i q;
    with on/off charging both are rounded to whole slots (up and down).  Exact for continuous and on/off
    charge-only fleets; a v2g fleet can draw more by cycling."""
    least = most = 0.0
    for v in vehicles:
        q, eta = v["p_charge_kw"] * STEP_H, v["eta_charge"]
        slots = int(v.get("departure_step") or T_SLOTS) - int(v.get("arrival_step", 1)) + 1
        need = max(0.0, v["e_target_kwh"] - v["e_init_kwh"]) / eta
        room = min(max(0.0, v["e_max_kwh"] - v["e_init_kwh"]) / eta, slots * q)
        if v["mode"] == "continuous":
            least, most = least + need, most + room
        else:
            least += math.ceil(need / q - 1e-9) * q
            most += math.floor(room / q + 1e-9) * q
    return least, most


def energy_shortfall_kwh(tables: dict[str, list[dict]]) -> tuple[float, float]:
    """(energy the fleet must draw from the connection, energy the connection can deliver over the horizon), in
    kWh: sum_i max(0, E_ref,i - E_init,i) / eta_i  against  Pmax x T x step.  With every vehicle plugged in over the
    whole horizon, the continuous fleet is feasible exactly when the first does not exceed the second."""
    need = sum(max(0.0, v["e_target_kwh"] - v["e_init_kwh"]) / v["eta_charge"] for v in tables["evs"])
    meta = tables["meta"][0]
    if tables["resources"][0]["scope"] == "horizon":
        return need, -float(tables["resources"][0]["rhs"])
    limit = -min(row[LIMIT_PROFILE] for row in tables["timeseries"])
    return need, limit * meta["T"] * meta["step_h"]
