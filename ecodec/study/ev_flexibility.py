"""A coordinated EV fleet made of the charging sessions predicted flexible, as a case workbook.

:func:`flexible_fleet_from_history` is the whole chain as one call: learn from past sessions which are flexible,
predict it for the arriving ones from what is known at arrival, write their fleet.  The sessions a classifier
predicts flexible at arrival (:func:`ecodec.learning.ev_flexibility.predict_flexible`)
are the ones worth handing to a coordinator; this module turns them into the same kind of case as
``cases/ev_dundee_100.xlsx`` (built by ``scripts/build_ev_cases.py``): one continuous-charging EV agent per
session on a grid of ``T`` slots of ``step_h`` hours from ``start``, plugged in from the slot of its arrival to the
slot before its departure, charger power ``max_charge_kW``, battery ``battery_kWh``, energy at arrival
``arrival_soc_kWh``, required at departure ``min_departure_soc_kWh``, no charger losses (eta = 1, the data give
energy into the battery), paying ``price_eur_per_kwh`` per slot, under one shared connection limit
(``active_power >= -limit_kw``) and a ring communication graph in arrival order.

Per session i and slot length Delta (h)::

    arrival_step_i   = floor((arrival_i - start) / Delta) + 1
    departure_step_i = floor((departure_i - start) / Delta)          (1-based, both plugged in)

>>> import numpy as np
>>> from ecodec.learning.ev_flexibility import read_sessions
>>> sessions = read_sessions().iloc[:4]
>>> tables = flexible_fleet_tables(sessions, np.array([True, False, True, True]), np.full(96, 0.05), 50.0)
>>> [(v["name"], v["arrival_step"], v["departure_step"]) for v in tables["evs"]]
[('ev0', 9, 20), ('ev2', 9, 27), ('ev3', 9, 20)]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecodec.case import Case
from ecodec.errors import EcodecError
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.learning.ev_flexibility import DEFAULT_THRESHOLD, predict_flexible

DUNDEE_START = pd.Timestamp("2016-04-01 12:00")


def flexible_fleet_tables(sessions: pd.DataFrame, flexible: np.ndarray, price_eur_per_kwh: np.ndarray,
                          limit_kw: float, start: pd.Timestamp = DUNDEE_START, step_h: float = 0.25,
                          name: str = "ev_flexible") -> dict[str, list[dict]]:
    """The workbook tables (for :func:`~ecodec.io.template.write_case_workbook`) of the sessions whose
    ``flexible`` flag is True; ``T`` is the length of ``price_eur_per_kwh``.  Refused with an
    :class:`~ecodec.errors.EcodecError` when no session is flagged, a flag vector has the wrong length, the limit
    is not positive, or a flagged session lies outside the grid."""
    flexible = np.asarray(flexible, dtype=bool)
    price = np.asarray(price_eur_per_kwh, dtype=float)
    if flexible.shape != (len(sessions),):
        raise EcodecError(f"flexible: got {flexible.shape[0] if flexible.ndim else 'a scalar'} flags; expected one "
                          f"per session ({len(sessions)})")
    if not flexible.any():
        raise EcodecError("flexible: got no session flagged flexible; expected at least one to build a fleet")
    if not limit_kw > 0:
        raise EcodecError(f"limit_kw: got {limit_kw!r}; expected a connection limit > 0 kW")
    if price.ndim != 1 or price.size == 0 or not np.isfinite(price).all():
        raise EcodecError("price_eur_per_kwh: expected one finite price per slot")
    T = price.size
    chosen = sessions[flexible]
    slot = pd.Timedelta(hours=step_h)
    arrival = np.floor((chosen["arrival"] - start) / slot).astype(int).to_numpy() + 1
    departure = np.floor((chosen["departure"] - start) / slot).astype(int).to_numpy()
    outside = (arrival < 1) | (departure > T) | (departure < arrival)
    if outside.any():
        row = chosen.iloc[int(np.flatnonzero(outside)[0])]
        raise EcodecError(f"session ev_id {row['ev_id']}: got arrival {row['arrival']} and departure "
                          f"{row['departure']}; expected both within the {T} slots of {step_h:g} h from {start}")
    vehicles = [{"name": f"ev{row.ev_id}", "active": True, "mode": "continuous", "p_charge_kw": row.max_charge_kW,
                 "p_discharge_kw": 0.0, "e_min_kwh": 0.0, "e_max_kwh": row.battery_kWh,
                 "e_init_kwh": row.arrival_soc_kWh, "e_target_kwh": row.min_departure_soc_kWh, "eta_charge": 1.0,
                 "eta_discharge": 1.0, "arrival_step": int(a), "departure_step": int(d),
                 "price_per_kwh": "price_eur_per_kwh"}
                for row, a, d in zip(chosen.itertuples(), arrival, departure)]
    names = [v["name"] for v in vehicles]
    ring = [(names[i], names[(i + 1) % len(names)]) for i in range(len(names))] if len(names) > 1 else []
    return {
        "meta": [{"name": name, "T": T, "step_h": step_h, "currency": "EUR", "start": str(start),
                  "description": (f"{len(vehicles)} EV charging sessions predicted flexible, connection limit "
                                  f"{limit_kw:g} kW"), "topology": "complete"}],
        "timeseries": [{"t": t + 1, "price_eur_per_kwh": round(float(price[t]), 6), "feeder_limit_kw": -limit_kw}
                       for t in range(T)],
        "resources": [{"name": "active_power", "sense": ">=", "rhs": "feeder_limit_kw", "unit": "kW",
                       "description": f"shared connection: the chargers draw at most {limit_kw:g} kW"}],
        "evs": vehicles,
        "network": [{"from": a, "to": b} for a, b in dict.fromkeys(tuple(sorted(e)) for e in ring)],
    }


def write_flexible_fleet(path: str | Path, sessions: pd.DataFrame, flexible: np.ndarray,
                         price_eur_per_kwh: np.ndarray, limit_kw: float, **options) -> Case:
    """Write :func:`flexible_fleet_tables` to the workbook ``path`` and return it read back as a validated
    :class:`~ecodec.case.Case` (``options`` as for :func:`flexible_fleet_tables`)."""
    write_case_workbook(path, flexible_fleet_tables(sessions, flexible, price_eur_per_kwh, limit_kw, **options))
    return read_case(path)


def flexible_fleet_from_history(path: str | Path, history: pd.DataFrame, arriving: pd.DataFrame,
                                price_eur_per_kwh: np.ndarray, limit_kw: float,
                                threshold: float = DEFAULT_THRESHOLD, seed: int = 0,
                                **options) -> tuple[Case, np.ndarray]:
    """Fit the seeded polynomial classifier on ``history`` (flexible = flexibility ratio >= ``threshold``), predict
    ``arriving`` from its arrival information, write the fleet of the predicted-flexible sessions to ``path``;
    return the case read back and the predicted flags (one per arriving session)."""
    flexible = predict_flexible(history, arriving, threshold, seed)
    return write_flexible_fleet(path, arriving, flexible, price_eur_per_kwh, limit_kw, **options), flexible
