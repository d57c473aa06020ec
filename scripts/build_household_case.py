"""Rebuild the shipped household case cases/household_3.xlsx: three agents, one day in hours, retail prices.

Run as ``python scripts/build_household_case.py [OUT_DIR]`` (``make cases`` runs it after build_cases.py).  The
only input is ``data/typical_days_15min_IT45N8E_BDEW_DK2.csv`` (provenance and licences in ``data/README.md``),
the same day (2019-04-17) as the microgrid cases, each hour the mean of its four quarter-hours.

A prosumer household whose rooftop PV, home battery and grid connection share its electric demand: the small
case at retail prices (0.12-0.30 EUR/kWh) on which a distributed method must work with the same options as on
the 8-agent microgrid (prices about ten times higher per kWh, a step of 1 h instead of 15 min, and a peak load of
1.3 kW instead of 304 kW).

Agents
  pv        5 kWp rooftop PV, availability = PVGIS/pvlib ``pv_kw_per_kwp`` (kW AC per kWp), no cost.
  battery   10 kWh usable window [1, 10] kWh, +-3 kW, starts at 5 kWh and must end at >= 5 kWh, 0.95 charge
            and discharge efficiency.
  grid      import <= 10 kW, export <= 5 kW.  Buy = DK2 day-ahead price (EUR/MWh / 1000) + RETAIL_ADDER
            (network charges, levies and taxes: an assumed figure that puts the day's mean buy price near the
            28.80 ct/kWh average German household price of 2016, BDEW Strompreisanalyse, the figure the community
            market cases use); sell = the German feed-in tariff for rooftop PV up to 10 kWp from 1 January 2016,
            12.31 ct/kWh (EEG 2014), as in the community market cases.  Sell < buy at every hour (asserted).

Loads: active_power == BDEW H0 (household, dynamised) kW per MWh/a x ANNUAL_MWH (a household of 3.5 MWh/a);
reactive_power == 0 (no reactive demand is modelled, and no agent here has a reactive range).

Network: a path pv - battery - grid (the battery relays between the PV and the grid).  Nothing is random.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ecodec.io.template import write_case_workbook

ROOT = Path(__file__).resolve().parents[1]
DATA_FILE = ROOT / "data" / "typical_days_15min_IT45N8E_BDEW_DK2.csv"
CASES_DIR = ROOT / "cases"

DAY = "2019-04-17"
T, STEP_H = 24, 1.0
ANNUAL_MWH = 3.5                   # scales BDEW H0 (kW per MWh/a)
RETAIL_ADDER_EUR_PER_KWH = 0.25    # network charges, levies and taxes on imported energy
FEED_IN_EUR_PER_KWH = 0.1231       # EEG 2014 feed-in tariff, rooftop PV <= 10 kWp, from 2016-01-01
PV_KWP = 5.0


def profiles() -> pd.DataFrame:
    """The timeseries sheet: hourly means of the day's quarter-hours."""
    days = pd.read_csv(DATA_FILE)
    d = days[days["day"] == DAY].sort_values("t").reset_index(drop=True)
    assert len(d) == 4 * T, f"{DATA_FILE.name}: day {DAY} has {len(d)} quarter-hours, expected {4 * T}"
    hourly = d.groupby(d.index // 4).mean(numeric_only=True)
    ts = pd.DataFrame({
        "t": range(1, T + 1),
        "pv_pu": hourly["pv_kw_per_kwp"],
        "load_kw": hourly["elec_H0_kw_per_MWh"] * ANNUAL_MWH,
        "buy_price_eur_per_kwh": hourly["price_DK2_EUR_per_MWh"] / 1000.0 + RETAIL_ADDER_EUR_PER_KWH,
        "sell_price_eur_per_kwh": FEED_IN_EUR_PER_KWH,
        "no_reactive_kvar": 0.0,
    }).round(6)
    assert (ts["sell_price_eur_per_kwh"] < ts["buy_price_eur_per_kwh"]).all(), "sell >= buy would need a binary"
    assert ts["pv_pu"].between(0.0, 1.0).all(), "availability outside [0, 1]"
    return ts


def tables() -> dict[str, list[dict]]:
    return {
        "meta": [{"name": "household_3", "T": T, "step_h": STEP_H, "currency": "EUR", "start": f"{DAY} 00:00",
                  "description": f"prosumer household (PV, battery, grid) at retail prices, {DAY}, hourly. Data: "
                                 "PVGIS TMY 45N 8E via pvlib (PV), BDEW H0 via demandlib (load), Energinet DK2 "
                                 "day-ahead prices plus a retail adder (buy), EEG 2014 feed-in tariff (sell). "
                                 "See data/README.md."}],
        "timeseries": profiles().to_dict("records"),
        "resources": [{"name": "active_power", "sense": "==", "rhs": "load_kw", "unit": "kW",
                       "description": f"household demand, BDEW H0 x {ANNUAL_MWH:g} MWh/a"},
                      {"name": "reactive_power", "sense": "==", "rhs": "no_reactive_kvar", "unit": "kvar",
                       "description": "none: the agents exchange no reactive power (unity power factor)"}],
        "renewables": [{"name": "pv", "active": True, "carrier": "electric", "capacity_kw": PV_KWP,
                        "availability_pu": "pv_pu", "cost_per_kwh": 0.0}],
        "storages": [{"name": "battery", "active": True, "p_min_kw": -3.0, "p_max_kw": 3.0, "e_min_kwh": 1.0,
                      "e_max_kwh": 10.0, "e_init_kwh": 5.0, "e_final_min_kwh": 5.0, "decay_per_step": 1.0,
                      "eta_charge": 0.95, "eta_discharge": 0.95}],
        "grid": [{"name": "grid", "active": True, "p_min_kw": -5.0, "p_max_kw": 10.0,
                  "buy_price_per_kwh": "buy_price_eur_per_kwh", "sell_price_per_kwh": "sell_price_eur_per_kwh"}],
        "network": [{"from": "pv", "to": "battery"}, {"from": "battery", "to": "grid"}],
    }


def main(out_dir: Path = CASES_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "household_3.xlsx"
    write_case_workbook(path, tables())
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
