"""Rebuild the shipped EV cases: cases/pev_100.xlsx and pev_100_budget.xlsx (benchmark fleets) and
cases/ev_dundee_100.xlsx (real sessions).

Run as ``python scripts/build_ev_cases.py [OUT_DIR]`` (``make cases`` runs it after build_cases.py).

pev_100.xlsx
    ``ecodec generate pev --n 100 --seed 0 --variant milp --pmax-per-vehicle 1``: 100 vehicles with on/off
    charging drawn from the published distributions (:mod:`ecodec.io.pev`), T = 24 slots of 20 min, connection
    limit 100 kW; the centralized MILP is asked for a relative gap of 1e-3 within 120 s (drivers sheet).

pev_100_budget.xlsx
    ``ecodec generate pev --n 100 --seed 0 --coupling budget``: the same 100 vehicles, each valuing the energy it
    holds at departure beyond its target, under one total-energy budget over the day instead of the connection
    limit (a single scalar coupling row, the case for ``dualbi``).

ev_dundee_100.xlsx
    100 real charging sessions of Dundee City Council (``data/ev_sessions_dundee_bfelsa_500_2016-04-01.csv``,
    sessions with ev_id = 0, 5, 10, ..., 495: every fifth, spread over the day), on 96 slots of 15 min from
    2016-04-01 12:00 to 2016-04-02 12:00.  Per session: plugged in from the slot of its arrival to the slot
    before its departure (times are on the 15-min grid), charger power ``max_charge_kW`` (7, 22 or 43 kW),
    battery ``battery_kWh``, energy at arrival ``arrival_soc_kWh``, energy required at departure
    ``min_departure_soc_kWh``.  Charging power is continuous (chargers modulate their current; with on/off
    charging a 22 or 43 kW charger would overshoot small demands within one slot).  The data give energy into
    the battery and no charger losses, so eta = 1.
    Price: the DK2 day-ahead price (Energinet) for the same calendar hours of 2019 (2019-04-01 12:00 to
    2019-04-02 12:00 local time, EUR/MWh / 1000), each hour repeated over its four slots.
    Connection limit: LIMIT_MARGIN times the smallest constant limit under which the fleet can still be charged,
    found by a small transportation LP of its own (scipy: minimise L subject to sum_i x_it <= L, sum_t x_it
    step = required energy, 0 <= x_it <= charger power inside the window), about half the peak of uncoordinated
    charging (every vehicle at full power from arrival until done).  The workbook's centralized solve confirms
    that the fleet is feasible and that the limit binds: the optimum with it costs more than without it
    (asserted).

Nothing is random but the benchmark draw, which is seeded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ecodec.decomposition import run
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem import problem_from_case

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "cases"
SESSIONS = ROOT / "data" / "ev_sessions_dundee_bfelsa_500_2016-04-01.csv"
PRICES = ROOT / "data" / "energinet_elspotprices_DK2_2019_hourly.csv"
START, T, STEP_H = pd.Timestamp("2016-04-01 12:00"), 96, 0.25
PRICE_START = "2019-04-01 12:00"
EVERY = 5
LIMIT_MARGIN = 1.1


def dundee_sessions() -> pd.DataFrame:
    sessions = pd.read_csv(SESSIONS, parse_dates=["arrival", "departure"])
    chosen = sessions[sessions["ev_id"] % EVERY == 0].copy()
    chosen["arrival_step"] = ((chosen["arrival"] - START) / pd.Timedelta(minutes=15)).astype(int) + 1
    chosen["departure_step"] = ((chosen["departure"] - START) / pd.Timedelta(minutes=15)).astype(int)
    assert chosen["arrival_step"].min() >= 1 and chosen["departure_step"].max() <= T
    assert (chosen["departure_step"] >= chosen["arrival_step"]).all()
    return chosen


def dundee_prices() -> np.ndarray:
    prices = pd.read_csv(PRICES)
    first = int(np.flatnonzero(prices["HourDK"].to_numpy() == PRICE_START)[0])
    hourly = prices["SpotPriceEUR"].to_numpy(dtype=float)[first:first + T // 4] / 1000.0
    return np.repeat(hourly, 4)


def uncoordinated_peak_kw(sessions: pd.DataFrame) -> float:
    """Peak of the total power when every vehicle charges at full power from arrival until it is done."""
    load = np.zeros(T)
    for row in sessions.itertuples():
        left = row.min_departure_soc_kWh - row.arrival_soc_kWh
        for t in range(row.arrival_step - 1, row.departure_step):
            if left <= 0:
                break
            power = min(row.max_charge_kW, left / STEP_H)
            load[t] += power
            left -= power * STEP_H
    return float(load.max())


def smallest_feasible_limit_kw(sessions: pd.DataFrame) -> float:
    """The least constant connection limit under which every session gets its required energy in its window."""
    from scipy.optimize import linprog
    from scipy.sparse import lil_matrix

    cells = [(i, t) for i, row in enumerate(sessions.itertuples()) for t in range(row.arrival_step - 1,
                                                                                 row.departure_step)]
    n, k = len(sessions), len(cells)
    per_step, per_session = lil_matrix((T, k + 1)), lil_matrix((n, k + 1))
    for j, (i, t) in enumerate(cells):
        per_step[t, j] = 1.0
        per_session[i, j] = STEP_H
    per_step[:, k] = -1.0
    power = sessions["max_charge_kW"].to_numpy(dtype=float)
    need = (sessions["min_departure_soc_kWh"] - sessions["arrival_soc_kWh"]).to_numpy(dtype=float)
    cost = np.zeros(k + 1)
    cost[k] = 1.0
    result = linprog(cost, A_ub=per_step.tocsr(), b_ub=np.zeros(T), A_eq=per_session.tocsr(), b_eq=need,
                     bounds=[(0.0, power[i]) for i, _ in cells] + [(0.0, None)], method="highs")
    assert result.status == 0, result.message
    return float(result.x[k])


def dundee_tables(limit_kw: float, sessions: pd.DataFrame, price: np.ndarray) -> dict[str, list[dict]]:
    vehicles = [{"name": f"ev{row.ev_id}", "active": True, "mode": "continuous", "p_charge_kw": row.max_charge_kW,
                 "p_discharge_kw": 0.0, "e_min_kwh": 0.0, "e_max_kwh": row.battery_kWh,
                 "e_init_kwh": row.arrival_soc_kWh, "e_target_kwh": row.min_departure_soc_kWh, "eta_charge": 1.0,
                 "eta_discharge": 1.0, "arrival_step": int(row.arrival_step), "departure_step": int(row.departure_step),
                 "price_per_kwh": "price_eur_per_kwh"} for row in sessions.itertuples()]
    names = [v["name"] for v in vehicles]
    return {
        "meta": [{"name": "ev_dundee_100", "T": T, "step_h": STEP_H, "currency": "EUR", "start": str(START),
                  "description": (f"100 real EV charging sessions (Dundee City Council, OGL v3, via B-FELSA), "
                                  f"DK2 day-ahead prices (Energinet, CC BY 4.0), connection limit {limit_kw:g} kW"),
                  "topology": "complete"}],
        "timeseries": [{"t": t + 1, "price_eur_per_kwh": round(float(price[t]), 6), "feeder_limit_kw": -limit_kw}
                       for t in range(T)],
        "resources": [{"name": "active_power", "sense": ">=", "rhs": "feeder_limit_kw", "unit": "kW",
                       "description": f"shared connection: the chargers draw at most {limit_kw:g} kW"}],
        "evs": vehicles,
        "network": [{"from": a, "to": b} for a, b in _ring_with_chords(names)],
    }


def _ring_with_chords(names: list[str]) -> list[tuple[str, str]]:
    """A ring over the vehicles in arrival order plus a chord from every tenth vehicle to the one opposite."""
    n = len(names)
    ring = [(names[i], names[(i + 1) % n]) for i in range(n)]
    chords = [(names[i], names[(i + n // 2) % n]) for i in range(0, n // 2, 10)]
    return ring + chords


def _optimum(path: Path) -> float | None:
    case = read_case(path)
    result = run(problem_from_case(case), network_from_case(case), "centralized")
    return result.objective if result.has_solution else None


def main(out_dir: Path = CASES_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_case_workbook(out_dir / "pev_100.xlsx", pev_tables(100, 0, "milp", 1.0))
    print(f"wrote {out_dir / 'pev_100.xlsx'}")
    write_case_workbook(out_dir / "pev_100_budget.xlsx", pev_tables(100, 0, "milp", coupling="budget"))
    print(f"wrote {out_dir / 'pev_100_budget.xlsx'}")

    sessions, price = dundee_sessions(), dundee_prices()
    peak, least = uncoordinated_peak_kw(sessions), smallest_feasible_limit_kw(sessions)
    limit = round(LIMIT_MARGIN * least, 1)
    path = out_dir / "ev_dundee_100.xlsx"
    unlimited = out_dir / ".ev_dundee_unlimited.xlsx"
    write_case_workbook(unlimited, dundee_tables(10 * peak, sessions, price))
    free = _optimum(unlimited)
    unlimited.unlink()
    write_case_workbook(path, dundee_tables(limit, sessions, price))
    cost = _optimum(path)
    assert cost is not None, f"the fleet cannot be charged under {limit} kW"
    assert cost > free + 1e-6, "the connection limit does not bind"
    print(f"wrote {path}: uncoordinated peak {peak:.1f} kW, least feasible limit {least:.1f} kW, limit {limit:g} "
          f"kW; optimum {cost:.2f} EUR ({cost - free:.2f} EUR above the unlimited {free:.2f} EUR)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
