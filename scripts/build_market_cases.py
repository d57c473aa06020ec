"""Rebuild the shipped energy-community market cases: cases/community_market.xlsx and its two scenario variants,
community_market_demand.xlsx (buyer 2 prioritises demand satisfaction) and community_market_storage.xlsx (sellers 5
and 6 prioritise storage).

Run as ``python scripts/build_market_cases.py [OUT_DIR]`` (``make cases`` runs it after build_cases.py).

The community: eight households of the SimBench low-voltage feeder 1-LV-semiurb4--0-sw (``data/
simbench_1-LV-semiurb4_grid.xlsx``), on the SimBench typical summer Wednesday 2016-07-20 (``data/
simbench_profiles_15min_typical_days_2016.csv``, 96 quarter-hours of per-unit profiles).  The market clears the
day's energy at once (T = 1, a step of 24 h), as the ECODREAM report's market does with one scalar decision per
agent.

* Buyers 1-4 (no PV): the first household of the feeder with each of the load profiles H0-A, H0-B, H0-G, H0-L;
  demand_kwh = the day's consumption, sum over the quarter-hours of profile x rated p x 0.25 h.
* Sellers 5-8: the second household with each of the same profiles, each with a rooftop PV of the size of the
  feeder's PV unit (its sgen 'LV4.101 SGen 1', 6.48 kWp) following the SimBench PV profiles PV3, PV1, PV5, PV8
  (four different profiles, so four different excesses); excess_kwh = the day's PV energy minus the household's
  own consumption (positive for all four).
* Bid range: the German feed-in tariff for rooftop PV up to 10 kWp from 1 January 2016 (EEG 2014, 12.31 ct/kWh)
  as the grid's export price c_b, and the average German household electricity price of 2016 (BDEW
  Strompreisanalyse, 28.80 ct/kWh) as its import price c_s; both entered by hand from those publications.
* Weights (the report gives none): eps_d = 0.01 EUR/kWh^2 (a shortfall of 10 kWh costs 1 EUR), eps_b = 1,
  gamma_r = 0.5, gamma_s = 1 EUR, revenue maximised (revenue_in_cost = 'minus').  gamma_r differs from eps_b on
  purpose: with gamma_r = eps_b the payments cancel in the total cost, which then depends on the bids only through
  their ratios; scaling every bid leaves it unchanged, and the optimum is unique only where the bid range happens
  to pin the scale (docs/market.md).  With gamma_r < eps_b the economics fix it: the lowest bid sits at c_b.
* Scenarios: eps_d of buyer 2 ten times the other buyers' (0.1 EUR/kWh^2); gamma_s of sellers 5 and 6 ten times
  the others' (10 EUR).  The report asks for weights "far above" the others: ten times gives a large effect, and
  projected aggregative tracking converges on both variants with a step of 1e-3 (docs/market.md).
* Communication graph: complete (every household reaches every other through the community's platform).
* drivers sheet: aggregative-tracking with step_size 1e-3 and at most 40000 iterations; the centralized solve
  from 5 starts.

Nothing here is random.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ecodec.io.template import write_case_workbook

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "cases"
PROFILES = ROOT / "data" / "simbench_profiles_15min_typical_days_2016.csv"
GRID = ROOT / "data" / "simbench_1-LV-semiurb4_grid.xlsx"
DAY = "2016-07-20"
LOAD_PROFILES = ("H0-A", "H0-B", "H0-G", "H0-L")
SELLER_PV = ("PV3", "PV1", "PV5", "PV8")
GRID_EXPORT_PRICE, GRID_IMPORT_PRICE = 0.1231, 0.2880
WEIGHTS = {"weight_demand_per_kwh2": 0.01, "weight_price": 1.0, "weight_revenue": 0.5, "weight_storage": 1.0}
SCENARIO_FACTOR = 10.0
STEP_SIZE = 1e-3
MAX_ITERATIONS = 40000


def daily_energies() -> tuple[list[float], list[float], dict[str, str]]:
    """(buyers' demands, sellers' excesses) in kWh over the day, and where each came from."""
    profiles = pd.read_csv(PROFILES, parse_dates=["time"])
    day = profiles[profiles["time"].dt.strftime("%Y-%m-%d") == DAY]
    if len(day) != 96:
        raise SystemExit(f"{PROFILES}: expected 96 quarter-hours on {DAY}, found {len(day)}")
    loads = pd.read_excel(GRID, sheet_name="load")
    pv_kwp = float(pd.read_excel(GRID, sheet_name="sgen")["p_mw"].iloc[0]) * 1000.0
    demands, excesses, origin = [], [], {}
    for k, profile in enumerate(LOAD_PROFILES):
        households = loads[loads["profile"] == profile]
        buyer, seller = households.iloc[0], households.iloc[1]
        demand = float(day[f"{profile}_pload"].sum()) * float(buyer["p_mw"]) * 1000.0 * 0.25
        own_use = float(day[f"{profile}_pload"].sum()) * float(seller["p_mw"]) * 1000.0 * 0.25
        pv = float(day[SELLER_PV[k]].sum()) * pv_kwp * 0.25
        demands.append(round(demand, 4))
        excesses.append(round(pv - own_use, 4))
        origin[f"buyer_{k + 1}"] = f"{buyer['name']} ({profile}, {buyer['p_mw'] * 1000:g} kW)"
        origin[f"seller_{k + 5}"] = (f"{seller['name']} ({profile}, {seller['p_mw'] * 1000:g} kW) with "
                                     f"{pv_kwp:g} kWp PV ({SELLER_PV[k]})")
    if min(excesses) <= 0:
        raise SystemExit(f"a seller has no excess energy on {DAY}: {excesses}")
    return demands, excesses, origin


def market_tables(name: str, description: str, demand_weights: list[float], storage_weights: list[float]) -> dict:
    demands, excesses, origin = daily_energies()
    return {
        "meta": [{"name": name, "T": 1, "step_h": 24.0, "currency": "EUR", "start": f"{DAY} 00:00",
                  "description": description, "topology": "complete"}],
        "timeseries": [{"t": 1}],
        "buyers": [{"name": f"buyer_{k + 1}", "active": True, "demand_kwh": demands[k],
                    "grid_export_price_per_kwh": GRID_EXPORT_PRICE, "grid_import_price_per_kwh": GRID_IMPORT_PRICE,
                    "weight_demand_per_kwh2": demand_weights[k], "weight_price": WEIGHTS["weight_price"]}
                   for k in range(4)],
        "sellers": [{"name": f"seller_{k + 5}", "active": True, "excess_kwh": excesses[k],
                     "weight_revenue": WEIGHTS["weight_revenue"], "weight_storage": storage_weights[k],
                     "revenue_in_cost": "minus"} for k in range(4)],
        "drivers": [{"driver": "aggregative-tracking", "option": "step_size", "value": STEP_SIZE},
                    {"driver": "centralized", "option": "starts", "value": 5},
                    {"driver": "stopping", "option": "max_iterations", "value": MAX_ITERATIONS}],
    }, origin


def main(out_dir: Path = CASES_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    base_d = [WEIGHTS["weight_demand_per_kwh2"]] * 4
    base_s = [WEIGHTS["weight_storage"]] * 4
    high_d = [base_d[0], SCENARIO_FACTOR * base_d[1], base_d[2], base_d[3]]
    high_s = [SCENARIO_FACTOR * base_s[0], SCENARIO_FACTOR * base_s[1], base_s[2], base_s[3]]
    text = ("Energy-community market of 8 SimBench households (semiurb4 feeder) on 2016-07-20: buyers 1-4 bid for "
            "the day's energy that sellers 5-8 (rooftop PV) offer; proportional sharing")
    for file, description, d, s in (
            ("community_market.xlsx", text, base_d, base_s),
            ("community_market_demand.xlsx", text + "; buyer 2 prioritises demand satisfaction (eps_d x 10)",
             high_d, base_s),
            ("community_market_storage.xlsx", text + "; sellers 5 and 6 prioritise storage (gamma_s x 10)",
             base_d, high_s)):
        tables, origin = market_tables(Path(file).stem, description, d, s)
        write_case_workbook(out_dir / file, tables)
        print(f"wrote {out_dir / file}")
    for agent, where in origin.items():
        print(f"  {agent}: {where}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
