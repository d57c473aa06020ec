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

The coupling is the shared connection, sum_i P_i u_i(t) <= Pmax = pmax_per_vehicle_kw x N in every slot,
written as the active-power row  sum_i (-p_i) >= -Pmax  (charging draws power).  Variants: ``lp`` (continuous
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
from ecodec.network.graph import NetworkError

T_SLOTS, STEP_H = 24, 1.0 / 3.0
VARIANT_MODES = {"lp": "continuous", "milp": "binary", "v2g": "v2g"}
PRICE_PROFILE = "price_eur_per_kwh"
LIMIT_PROFILE = "feeder_limit_kw"


def pev_tables(n: int, seed: int, variant: str, pmax_per_vehicle_kw: float) -> dict[str, list[dict]]:
    """The workbook tables of a fleet of ``n`` vehicles (see the module docstring); same arguments, same tables."""
    if variant not in VARIANT_MODES:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANT_MODES)}")
    if n < 1 or pmax_per_vehicle_kw <= 0:
        raise ValueError("n must be >= 1 and pmax_per_vehicle_kw > 0")
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
    edges, graph_seed = _connected_draw(names, seed)
    return {
        "meta": [{"name": f"pev_{n}_{variant}", "T": T_SLOTS, "step_h": STEP_H, "currency": "EUR",
                  "description": (f"PEV charging benchmark (Vujanic et al. 2016 distributions), {n} vehicles, "
                                  f"variant {variant}, seed {seed}, feeder limit {pmax_per_vehicle_kw:g} kW per "
                                  f"vehicle; communication graph erdos_renyi seed {graph_seed}"),
                  "start": "", "topology": "complete"}],
        "timeseries": [{"t": t + 1, PRICE_PROFILE: round(float(price[t]), 8), LIMIT_PROFILE: -limit}
                       for t in range(T_SLOTS)],
        "resources": [{"name": "active_power", "sense": ">=", "rhs": LIMIT_PROFILE, "unit": "kW",
                       "description": f"shared connection: the fleet draws at most {limit:g} kW"}],
        "evs": vehicles,
        "network": [{"from": a, "to": b} for a, b in edges],
        # a fleet of identical-looking binaries makes proving a tiny MIP gap slow; 1e-3 is what a comparison needs
        "drivers": [{"driver": "centralized", "option": "mip_rel_gap", "value": 0.001},
                    {"driver": "centralized", "option": "time_limit_s", "value": 120}] if variant != "lp" else [],
    }


def _connected_draw(names: list[str], seed: int) -> tuple[list[tuple[str, str]], int]:
    """Edges of the first connected Erdos-Renyi draw over ``names`` from seed, seed + 1, ..."""
    n = len(names)
    if n == 1:
        return [], seed
    p = min(1.0, 3.0 * math.log(n) / n) if n > 2 else 1.0
    for attempt in range(seed, seed + 1000):
        try:
            return list(CommunicationNetwork.named("erdos_renyi", names, edge_probability=p, seed=attempt).edges), \
                attempt
        except NetworkError:
            continue
    raise RuntimeError(f"no connected communication graph over {n} vehicles in 1000 draws")


def energy_shortfall_kwh(tables: dict[str, list[dict]]) -> tuple[float, float]:
    """(energy the fleet must draw from the connection, energy the connection can deliver over the horizon), in
    kWh: sum_i max(0, E_ref,i - E_init,i) / eta_i  against  Pmax x T x step.  With every vehicle plugged in over the
    whole horizon, the continuous fleet is feasible exactly when the first does not exceed the second."""
    need = sum(max(0.0, v["e_target_kwh"] - v["e_init_kwh"]) / v["eta_charge"] for v in tables["evs"])
    meta = tables["meta"][0]
    limit = -min(row[LIMIT_PROFILE] for row in tables["timeseries"])
    return need, limit * meta["T"] * meta["step_h"]
