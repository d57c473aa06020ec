"""Rebuild the shipped case workbooks cases/microgrid_8.xlsx (LP) and cases/microgrid_8_milp.xlsx (MILP), then
the EV fleets of scripts/build_ev_cases.py, the community markets of scripts/build_market_cases.py, the
household of scripts/build_household_case.py, the online sharing networks of scripts/build_sharing_cases.py and the
deployment of scripts/build_deployment_case.py.

Run from anywhere as ``python scripts/build_cases.py`` (or ``make cases``): paths are taken relative to the
repository root, the only input is ``data/typical_days_15min_IT45N8E_BDEW_DK2.csv`` (provenance and licences in
``data/README.md``; the wind column is SimBench data under ODbL 1.0, so the workbooks' timeseries stay
ODbL), and the only writer is :func:`ecodec.io.template.write_case_workbook`.  Nothing is random.

The case is the reference setup of the ECODREAM / University of Genova microgrid study (ALGORITHMS.md
section 1): N = 8 agents (2 microturbines, 3 renewables, 1 storage, the main grid, 1 boiler), T = 96 steps of
0.25 h, one day (``DAY``) of the typical-days file.  2019-04-17 is a spring Wednesday where PV, heat demand and
prices all matter.  Sizes follow a campus polygeneration microgrid such as the Savona University campus Smart
Polygeneration Microgrid.  All powers are kW (heat kW_th, reactive kvar), energies kWh, prices EUR.

Agents
  mt1, mt2      Capstone C65-like CHP microturbines: 65 kW_el, eta_el 0.28, 1.7 kW_th per kW_el (2 x 110 kW_th),
                natural gas LHV 9.59 kWh/Sm3; beta 0.22 Sm3/kWh is the Italian coefficient of fuel per kWh of
                CHP electricity eligible for untaxed gas; ff (share of that fuel taxed anyway) is 0 for mt1 and
                0.1 for mt2 so that the two differ.  Gas 0.30 EUR/Sm3 untaxed, 0.40 taxed; emission cost 0.005
                EUR per kWh of primary energy (2019 EU ETS ~25 EUR/t CO2 x ~0.2 kg CO2/kWh of natural gas).
                LP case: p_min 0, no commitment.  MILP case: on/off commitment with p_min 20 kW (turndown),
                off before the day starts, and STARTUP_COST_EUR per start (wear and start-up fuel; an
                assumed figure of the order of a microturbine's per-start maintenance allowance).
  pv_roof       100 kWp PV, availability = PVGIS/pvlib ``pv_kw_per_kwp`` (kW AC per kWp, already in [0, 1]).
  wind          50 kW wind, availability = SimBench ``wind_SimBench_WP1_pu``.
  solar_thermal 60 kW_th collectors feeding heat.  APPROXIMATION: no collector model is in the data, so the
                PV profile (per kWp) is used as a proxy for the per-unit collector output; it has the right
                daily shape (same site, same irradiance) but ignores collector-temperature losses.
                Electric renewables may give or absorb reactive power up to 0.3 x capacity (inverters).
  battery       141 kWh usable window [14, 141] kWh, +-50 kW, +-30 kvar, starts at 70 kWh and must end at
                >= 70 kWh (no free energy from the initial charge), no decay, 0.95 charge and discharge.
  grid          import <= 600 kW, export <= 200 kW, +-400 kvar.  Buy = DK2 day-ahead price (EUR/MWh / 1000)
                + GRID_ADDER_EUR_PER_KWH (network charges and taxes paid on imports only); sell = the
                day-ahead price.  So sell <= buy at every step (asserted): no buy-and-sell binary, LP stays LP.
  boiler        400 kW_th gas boiler, eta 0.9; fuel cost per kWh of primary energy = taxed gas price / LHV
                + emission cost (0.40 / 9.59 + 0.005 = 0.0467 EUR/kWh); O&M 0.002 EUR/kWh_th.

Loads (right-hand sides of the coupling rows, profile columns of the ``timeseries`` sheet)
  active_power   ==   BDEW G1 (commercial, weekdays 8-18, office-like) kW per MWh/a x ANNUAL_ELEC_MWH;
                      800 MWh/a gives a peak of ~304 kW on DAY.
  reactive_power ==   active demand x tan(acos(0.95)) (a constant 0.95 lagging power factor: an assumption,
                      the data have no reactive measurements).
  heat           band BDEW SHLP GHD (commercial heat) kW per MWh/a x ANNUAL_HEAT_MWH; 3200 MWh/a gives a
                      peak of ~248 kW on DAY (the figure only scales this spring day; a whole year at that
                      size would peak far above the boiler in January).  Lower end = demand; upper end =
                      demand x (1 + HEAT_SLACK_SHARE) + HEAT_SLACK_KW, the heat that may be dissipated (e.g.
                      by the CHP dry coolers), so the band is real and recovered heat is not forced to match.

Network: a ring over the agents in workbook order plus two chords (a sparse connected communication graph).
The MILP case also sets the centralized driver's relative MIP gap (1e-4) and time limit (120 s).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from ecodec.io.template import write_case_workbook

ROOT = Path(__file__).resolve().parents[1]

DATA_FILE = ROOT / "data" / "typical_days_15min_IT45N8E_BDEW_DK2.csv"
CASES_DIR = ROOT / "cases"

DAY = "2019-04-17"              # spring Wednesday of the typical-days file
T, STEP_H = 96, 0.25            # 96 steps of 15 min
ANNUAL_ELEC_MWH = 800.0         # scales BDEW G1 (kW per MWh/a): peak ~304 kW on DAY
ANNUAL_HEAT_MWH = 3200.0        # scales BDEW GHD heat (kW per MWh/a): peak ~248 kW_th on DAY
POWER_FACTOR = 0.95             # load power factor (lagging), q = p x tan(acos(pf))
HEAT_SLACK_SHARE, HEAT_SLACK_KW = 0.20, 20.0  # dissipation allowance: upper = demand x 1.2 + 20 kW
GRID_ADDER_EUR_PER_KWH = 0.12   # network charges, levies and taxes on imported energy

GAS_LHV_KWH_PER_SM3 = 9.59      # natural gas lower heating value
GAS_UNTAXED_EUR_PER_SM3 = 0.30  # gas for CHP electricity (excise-exempt share)
GAS_TAXED_EUR_PER_SM3 = 0.40    # gas with excise
EMISSION_EUR_PER_KWH_PE = 0.005  # ~25 EUR/t CO2 x 0.2 kg CO2 per kWh of gas

PV_KWP, WIND_KW, SOLAR_THERMAL_KW = 100.0, 50.0, 60.0
Q_SHARE = 0.3                   # reactive range of electric renewables: +-0.3 x capacity


def profiles() -> pd.DataFrame:
    """The timeseries sheet: one row per step t = 1..T with every profile the case refers to by name."""
    days = pd.read_csv(DATA_FILE)
    d = days[days["day"] == DAY].sort_values("t").reset_index(drop=True)
    assert len(d) == T and list(d["t"]) == list(range(1, T + 1)), f"{DATA_FILE.name}: day {DAY} is not 1..{T}"
    load_p = d["elec_G1_kw_per_MWh"] * ANNUAL_ELEC_MWH
    heat = d["heat_GHD_kw_per_MWh"] * ANNUAL_HEAT_MWH
    spot = d["price_DK2_EUR_per_MWh"] / 1000.0          # EUR/MWh -> EUR/kWh
    ts = pd.DataFrame({
        "t": d["t"].astype(int),
        "pv_pu": d["pv_kw_per_kwp"],                      # kW AC per kWp, PV and (proxy) solar thermal
        "wind_pu": d["wind_SimBench_WP1_pu"],
        "load_p_kw": load_p,
        "load_q_kvar": load_p * math.tan(math.acos(POWER_FACTOR)),
        "heat_lower_kw": heat,
        "heat_upper_kw": heat * (1.0 + HEAT_SLACK_SHARE) + HEAT_SLACK_KW,
        "buy_price_eur_per_kwh": spot + GRID_ADDER_EUR_PER_KWH,
        "sell_price_eur_per_kwh": spot,
    }).round(6)
    assert (ts["sell_price_eur_per_kwh"] <= ts["buy_price_eur_per_kwh"]).all(), "sell > buy would need a binary"
    assert ts[["pv_pu", "wind_pu"]].stack().between(0.0, 1.0).all(), "availability outside [0, 1]"
    return ts


STARTUP_COST_EUR = 5.0


def microturbine(name: str, ff: float, milp: bool) -> dict:
    return {"name": name, "active": True, "p_min_kw": 20.0 if milp else 0.0, "p_max_kw": 65.0, "eta_el": 0.28,
            "heat_to_power_ratio": 1.7, "lhv_kwh_per_sm3": GAS_LHV_KWH_PER_SM3, "beta_sm3_per_kwh": 0.22,
            "ff": ff, "fuel_price_untaxed_per_sm3": GAS_UNTAXED_EUR_PER_SM3,
            "fuel_price_taxed_per_sm3": GAS_TAXED_EUR_PER_SM3, "emission_cost_per_kwh_pe": EMISSION_EUR_PER_KWH_PE,
            "commitment": milp, "startup_cost": STARTUP_COST_EUR if milp else 0.0, "initially_on": False}


def renewable(name: str, carrier: str, capacity: float, profile: str) -> dict:
    q = Q_SHARE * capacity if carrier == "electric" else 0.0
    return {"name": name, "active": True, "carrier": carrier, "capacity_kw": capacity, "availability_pu": profile,
            "q_min_kvar": -q, "q_max_kvar": q, "cost_per_kwh": 0.0}


def tables(milp: bool) -> dict[str, list[dict]]:
    ts = profiles()
    name = "microgrid_8_milp" if milp else "microgrid_8"
    kind = "MILP: microturbines with on/off commitment (20-65 kW)" if milp else "LP"
    boiler_fuel = round(GAS_TAXED_EUR_PER_SM3 / GAS_LHV_KWH_PER_SM3 + EMISSION_EUR_PER_KWH_PE, 6)
    agents = {
        "microturbines": [microturbine("mt1", 0.0, milp), microturbine("mt2", 0.1, milp)],
        "renewables": [renewable("pv_roof", "electric", PV_KWP, "pv_pu"),
                       renewable("wind", "electric", WIND_KW, "wind_pu"),
                       renewable("solar_thermal", "thermal", SOLAR_THERMAL_KW, "pv_pu")],
        "storages": [{"name": "battery", "active": True, "p_min_kw": -50.0, "p_max_kw": 50.0, "q_min_kvar": -30.0,
                      "q_max_kvar": 30.0, "e_min_kwh": 14.0, "e_max_kwh": 141.0, "e_init_kwh": 70.0,
                      "e_final_min_kwh": 70.0, "decay_per_step": 1.0, "eta_charge": 0.95, "eta_discharge": 0.95}],
        "grid": [{"name": "grid", "active": True, "p_min_kw": -200.0, "p_max_kw": 600.0, "q_min_kvar": -400.0,
                  "q_max_kvar": 400.0, "buy_price_per_kwh": "buy_price_eur_per_kwh",
                  "sell_price_per_kwh": "sell_price_eur_per_kwh"}],
        "boilers": [{"name": "boiler", "active": True, "p_th_max_kw": 400.0, "eta": 0.9,
                     "fuel_cost_per_kwh_pe": boiler_fuel, "om_cost_per_kwh_th": 0.002}],
    }
    order = [row["name"] for sheet in agents.values() for row in sheet]
    ring = list(zip(order, order[1:] + order[:1]))
    chords = [("mt1", "grid"), ("pv_roof", "battery")]
    return {
        "meta": [{"name": name, "T": T, "step_h": STEP_H, "currency": "EUR", "start": f"{DAY} 00:00",
                  "description": f"ECODREAM/UniGe 8-agent campus microgrid ({kind}), {DAY}, 15 min. Data: PVGIS TMY "
                                 "45N 8E via pvlib (PV, solar thermal proxy), SimBench WP1 (wind), BDEW G1 and GHD "
                                 "via demandlib (loads), Energinet DK2 day-ahead prices (grid). See data/README.md."}],
        "timeseries": ts.to_dict("records"),
        "resources": [
            {"name": "active_power", "sense": "==", "rhs": "load_p_kw", "unit": "kW",
             "description": f"electric demand, BDEW G1 x {ANNUAL_ELEC_MWH:g} MWh/a"},
            {"name": "reactive_power", "sense": "==", "rhs": "load_q_kvar", "unit": "kvar",
             "description": f"reactive demand, active demand x tan(acos({POWER_FACTOR}))"},
            {"name": "heat", "sense": "band", "rhs": "heat_lower_kw", "rhs_upper": "heat_upper_kw", "unit": "kW",
             "description": f"heat demand, BDEW GHD x {ANNUAL_HEAT_MWH:g} MWh/a; upper = demand x "
                            f"{1 + HEAT_SLACK_SHARE:g} + {HEAT_SLACK_KW:g} kW dissipation allowance"},
        ],
        **agents,
        "network": [{"from": a, "to": b} for a, b in ring + chords],
        "drivers": ([{"driver": "centralized", "option": "mip_rel_gap", "value": 0.0001},
                     {"driver": "centralized", "option": "time_limit_s", "value": 120}] if milp else []),
    }


def main(out_dir: Path = CASES_DIR) -> None:
    """Write both workbooks into ``out_dir`` (default: the repository's cases/)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for milp in (False, True):
        path = out_dir / ("microgrid_8_milp.xlsx" if milp else "microgrid_8.xlsx")
        write_case_workbook(path, tables(milp))
        print(f"wrote {path}")
    import build_ev_cases  # the EV fleets: cases/pev_100.xlsx, cases/ev_dundee_100.xlsx
    import build_household_case  # the 3-agent household at retail prices: cases/household_3.xlsx
    import build_market_cases  # the community market: cases/community_market*.xlsx
    import build_deployment_case  # the macroscopic deployment experiment: cases/deployment_100.xlsx
    import build_sharing_cases  # the online sharing networks: cases/der_sharing_6.xlsx, cases/der_sharing_20.xlsx

    build_ev_cases.main(out_dir)
    build_market_cases.main(out_dir)
    build_household_case.main(out_dir)
    build_sharing_cases.main(out_dir)
    build_deployment_case.main(out_dir)
    from ecodec.io.delta import delta_tables  # the DELTA experiment: cases/delta_20.xlsx (ecodec generate delta)

    write_case_workbook(out_dir / "delta_20.xlsx", delta_tables(20, 0))
    print(f"wrote {out_dir / 'delta_20.xlsx'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
