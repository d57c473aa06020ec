"""Build the cooling-district cases (issue 22, item 4): office buildings with their own chillers, one shared cold
storage (a chilled-water tank) on a district cooling network, and one grid connection that pays for the chillers'
electricity (ALGORITHMS_WAVE2.md section 5: Belluschi et al. arXiv 1610.06332, Ioli et al. arXiv 1707.08494).

Run as ``python scripts/build_cooling_cases.py [OUT_DIR]`` (``make cases`` runs it from build_cases.py).  It
writes

  cases/cooling_district_4.xlsx               4 buildings (1500, 3000, 6000 and 12000 m2), one tank, the grid
  cases/cooling_district_4_demand_price.xlsx  the same, with a price that rises with the district's demand
  cases/cooling_district_20.xlsx              20 buildings, floor areas drawn with a fixed seed, the tank scaled

Inputs (provenance and licences in ``data/README.md``; nothing is invented, the modelling figures are stated below)

  data/pvgis_tmy_45.000N_8.000E_2005_2023.csv   PVGIS TMY at 45.0 N 8.0 E (Piedmont): 2 m air temperature T2m
                                                (degC) and global horizontal irradiance G(h) (W/m2), hourly, UTC.
  data/typical_days_15min_IT45N8E_BDEW_DK2.csv  BDEW G1 standard load profile (commercial, weekdays 8-18), the
                                                summer-weekday shape, which gives the internal gains.
  data/energinet_elspotprices_DK2_2019_hourly.csv  DK2 day-ahead prices of 2019 (EUR/MWh), local time.

The day: 2019-06-27 (DAY), i.e. the TMY's 27 June (taken by PVGIS from June 2006).  It is the hottest weekday of
the TMY: the hottest TMY day by peak temperature is 30 June (34.3 degC), but 2019-06-30 is a Sunday, when an
office district is closed and the DK2 prices are those of a weekend; 27 June (peak 33.7 degC, daily mean 27.5 degC,
the highest daily mean but one) is a Thursday.  The July typical day of the typical-days file (2019-07-17) was not
taken: it is cloudy and mild in the TMY (peak 26.7 degC), so it needs little cooling.  The TMY mixes years, so the
weather's calendar date is nominal; the prices are those of the real 2019-06-27 in DK2.

Time: 96 quarter-hours from 00:00 local time (Europe/Rome, CEST = UTC+2 in June; the DK2 prices' local time is
the same zone offset).  Each 15-min value is the source's hourly series linearly interpolated to the middle of the
quarter-hour (the mean over the interval for a piecewise-linear signal):
  t_out_c               T2m, stamped at the full hour (UTC).
  irradiance_kw_per_m2  G(h) / 1000; PVGIS stamps the irradiance of row HH:00 at HH:00 + 0.1761 h (the
                        "Irradiance Time Offset" in the file's header), so it is interpolated at those times.
  price                 DK2 spot price of the hour (EUR/MWh / 1000) + RETAIL_ADDER_EUR_PER_KWH, repeated over the
                        hour's four quarter-hours.
  internal gains        BDEW G1 (kW per MWh/a of annual electricity) x GAIN_KWH_PER_M2_A x floor area: the
                        electricity of lighting and equipment of an office ends as heat in the zone, and G1's
                        shape (8-18 occupancy) stands for the occupants too.  GAIN_KWH_PER_M2_A = 80 kWh/(m2 a)
                        gives 26 W/m2 at the G1 peak (people + equipment + lighting of a standard office are
                        about 20-30 W/m2, e.g. SIA 2024 / ISO 17772-1 office defaults) and 1.6 W/m2 at night.
                        The G1 shape is the summer-weekday profile of the BDEW 1999 profiles (the column on
                        2019-07-17, a Wednesday in the BDEW summer season 15 May - 14 Sep, when every weekday
                        has the same G1 shape, so it is also the shape of Thursday 2019-06-27).

Buildings (one zone each, ecodec kind 'building'; per m2 of floor area A):
  c_kwh_per_k        = C_KWH_PER_K_M2 x A, 165 kJ/(K m2) = 0.0458 kWh/(K m2): the effective internal heat
                       capacity of the ISO 13790 (EN ISO 52016) "medium" construction class.
  r_k_per_kw         = 1 / (UA x A), UA (transmission + ventilation, W/(K m2) of floor) from 0.8 for the
                       smallest to 0.5 for the largest building (a larger building has less envelope per m2).
  solar_aperture_m2  = SOLAR_APERTURE_PER_M2 x A = 0.02 m2 per m2: glazing 15 % of floor area x g-value 0.45 x
                       0.3 for frames, shading and the share of horizontal irradiance reaching the facades.
  comfort band       23-26 degC in office hours 08:00-18:00 (the EN 16798-1 category II operative-temperature
                     range for offices in the cooling season), 18-30 degC otherwise (profiles t_min_c, t_max_c;
                     the band holds at the end of every quarter-hour); every zone starts at T_INIT_C = 24 degC.
  chiller            q_chiller_max_kw = CHILLER_MARGIN (1.25) x the building's peak steady cooling load when
                     held at 26 degC all day (max over the day of q_internal + aperture x G + (T_out - 26)/R),
                     rounded up to 10 kW: the chillers alone can hold comfort, so the case without the tank is
                     feasible.  cop 3.2-3.8 (air-cooled chillers, the larger buildings' better), falling by
                     COP_SLOPE = 0.08 per K of outside air above COP_T_REF_C = 25 degC (about 2.5-3.1 at the
                     day's 33.7 degC peak).  q_exchange_max_kw = q_chiller_max_kw.
Cold storage (kind 'cold_storage', one chilled-water tank on the district network):
  capacity STORAGE_KWH_PER_M2 (0.12 kWh of cold per m2 of the district's floor area: 2700 kWh for the 4
  buildings, about 290 m3 of water at a 8 K supply/return difference), charge/discharge <= capacity / 4 h, losses
  0.5 %/h, 0.95 charge and discharge efficiency, starts at 10 % and must end at >= 10 % (e_final_min = e_init: the
  day does not borrow cold from tomorrow).
Grid (kind 'grid'): import only (p_min_kw 0, sell price 0 < buy price), p_max_kw = 1.1 x the chillers' largest
  electric power at the day's worst COP, rounded up to 10 kW.  Buy price = DK2 spot + RETAIL_ADDER_EUR_PER_KWH
  (0.12 EUR/kWh of network charges, levies and taxes on imports, the figure of the microgrid cases).
  Variant *_demand_price: buy_price_slope_per_kw2h = DEMAND_PRICE_RISE (0.20) x the day's mean buy price / P_ref,
  where P_ref is the district's peak electric demand when every building holds 26 degC with its own chiller (no
  tank): at that demand the price is 20 % of the mean price higher than at zero demand.  price_segments =
  PRICE_SEGMENTS (20): the quadratic term beta p^2 enters as 20 tangents over [0, p_max_kw] (an LP, which every
  method takes; it underestimates beta p^2 by at most beta (p_max / 40)^2, about 0.013 EUR/h here).  The exact
  quadratic (price_segments 0) is a QP on which HiGHS took more than 30 s without proving optimality.
Resources: active_power == 0 (the grid's import equals the chillers' electricity), reactive_power == 0 (nobody
  exchanges reactive power; the grid's reactive range is 0), cooling == 0 (district network: tank discharge +
  buildings' outflow = buildings' inflow + tank charge).

The 20-building case draws floor areas log-uniformly in [1000, 15000] m2 and COPs uniformly in [3.2, 3.8] with
numpy's default_rng(SEED_20); UA follows the same size rule; the tank is scaled by floor area.  Nothing else is
random, so the script is deterministic.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
PVGIS_FILE = DATA / "pvgis_tmy_45.000N_8.000E_2005_2023.csv"
DAYS_FILE = DATA / "typical_days_15min_IT45N8E_BDEW_DK2.csv"
PRICE_FILE = DATA / "energinet_elspotprices_DK2_2019_hourly.csv"
CASES_DIR = ROOT / "cases"

DAY = "2019-06-27"                 # hottest weekday of the TMY (see the docstring)
G1_SHAPE_DAY = "2019-07-17"        # summer weekday of the typical-days file whose BDEW G1 column gives the shape
UTC_OFFSET_H = 2                   # Europe/Rome in June (CEST)
IRRADIANCE_OFFSET_H = 0.1761       # PVGIS "Irradiance Time Offset (h)"
T, STEP_H = 96, 0.25

RETAIL_ADDER_EUR_PER_KWH = 0.12    # network charges, levies and taxes on imports (as in the microgrid cases)
GAIN_KWH_PER_M2_A = 80.0           # scales BDEW G1 (kW per MWh/a) to internal gains per m2
C_KWH_PER_K_M2 = 165.0 / 3600.0    # ISO 13790 medium class, 165 kJ/(K m2)
UA_SMALL_W_PER_K_M2, UA_LARGE_W_PER_K_M2 = 0.8, 0.5
AREA_SMALL_M2, AREA_LARGE_M2 = 1000.0, 15000.0
SOLAR_APERTURE_PER_M2 = 0.02
OFFICE_HOURS = (8, 18)
BAND_OFFICE_C, BAND_NIGHT_C = (23.0, 26.0), (18.0, 30.0)
T_INIT_C = 24.0
CHILLER_MARGIN = 1.25
COP_SLOPE, COP_T_REF_C = 0.08, 25.0
STORAGE_KWH_PER_M2 = 0.12
STORAGE_HOURS = 4.0                # full charge or discharge in 4 h
STORAGE_LOSS_PER_H = 0.005
STORAGE_ETA = 0.95
STORAGE_INIT_SHARE = 0.10
GRID_MARGIN = 1.1
DEMAND_PRICE_RISE = 0.20
PRICE_SEGMENTS = 20                # tangent segments of the quadratic price term: the variant stays an LP
SEED_20 = 20260622

BUILDINGS_4 = (("b1", 1500.0, 3.2), ("b2", 3000.0, 3.4), ("b3", 6000.0, 3.6), ("b4", 12000.0, 3.8))

ATTRIBUTION = ("PVGIS (c) European Union, 2001-2025 (TMY 45N 8E: T2m, G(h)); BDEW G1 standard load profile via "
               "demandlib (internal gains); Source: Energinet (www.energidataservice.dk), CC BY 4.0 (DK2 prices).")


def _step_midpoints_utc_h() -> np.ndarray:
    """Hours since DAY 00:00 UTC of the middle of each local quarter-hour."""
    return np.arange(T) * STEP_H + STEP_H / 2 - UTC_OFFSET_H


def read_pvgis() -> pd.DataFrame:
    """The TMY's hourly rows (the file has a header block and a legend around the table)."""
    lines = PVGIS_FILE.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("time(UTC)"))
    rows = [line for line in lines[head + 1:] if line[:8].isdigit() and line[8:9] == ":"]
    df = pd.read_csv(io.StringIO("\n".join([lines[head]] + rows)))
    assert len(df) == 8760, f"{PVGIS_FILE.name}: {len(df)} hourly rows, expected 8760"
    stamp = pd.to_datetime(df["time(UTC)"], format="%Y%m%d:%H%M")
    df["month_day_hour"] = stamp.dt.strftime("%m-%d %H")
    return df


def weather() -> pd.DataFrame:
    """Outside temperature (degC) and horizontal irradiance (kW/m2) at the middle of each local quarter-hour."""
    df = read_pvgis().set_index("month_day_hour")
    day = pd.Timestamp(DAY)
    hours = np.arange(-4, 28)   # the day in UTC with margin on both sides (TMY rows of the same month are one year)
    keys = [(day + pd.Timedelta(hours=int(h))).strftime("%m-%d %H") for h in hours]
    t2m = df.loc[keys, "T2m"].to_numpy(float)
    ghi = df.loc[keys, "G(h)"].to_numpy(float) / 1000.0
    x = _step_midpoints_utc_h()
    t_out = np.interp(x, hours.astype(float), t2m)
    irr = np.interp(x, hours + IRRADIANCE_OFFSET_H, ghi)
    return pd.DataFrame({"t_out_c": t_out, "irradiance_kw_per_m2": np.clip(irr, 0.0, None)})


def g1_shape() -> np.ndarray:
    """BDEW G1, kW per MWh/a, the summer-weekday 15-min shape."""
    days = pd.read_csv(DAYS_FILE)
    d = days[days["day"] == G1_SHAPE_DAY].sort_values("t")
    assert len(d) == T, f"{DAYS_FILE.name}: day {G1_SHAPE_DAY} has {len(d)} quarter-hours, expected {T}"
    return d["elec_G1_kw_per_MWh"].to_numpy(float)


def buy_price() -> np.ndarray:
    """DK2 spot (EUR/MWh -> EUR/kWh) of DAY, local hours, each over its four quarter-hours, plus the adder."""
    p = pd.read_csv(PRICE_FILE)
    d = p[p["HourDK"].str.startswith(DAY)].sort_values("HourDK")
    assert len(d) == 24, f"{PRICE_FILE.name}: {DAY} has {len(d)} hours, expected 24"
    return np.repeat(d["SpotPriceEUR"].to_numpy(float) / 1000.0, 4) + RETAIL_ADDER_EUR_PER_KWH


def comfort_band() -> tuple[np.ndarray, np.ndarray]:
    hour = np.arange(T) * STEP_H
    office = (hour >= OFFICE_HOURS[0]) & (hour < OFFICE_HOURS[1])
    return (np.where(office, BAND_OFFICE_C[0], BAND_NIGHT_C[0]), np.where(office, BAND_OFFICE_C[1], BAND_NIGHT_C[1]))


def ua_w_per_k_m2(area_m2: float) -> float:
    """Transmission + ventilation conductance per m2 of floor: 0.8 at 1000 m2 down to 0.5 at 15000 m2 (log scale)."""
    s = (math.log(area_m2) - math.log(AREA_SMALL_M2)) / (math.log(AREA_LARGE_M2) - math.log(AREA_SMALL_M2))
    s = min(max(s, 0.0), 1.0)
    return UA_SMALL_W_PER_K_M2 + s * (UA_LARGE_W_PER_K_M2 - UA_SMALL_W_PER_K_M2)


def cop_profile(cop: float, t_out: np.ndarray) -> np.ndarray:
    return cop - COP_SLOPE * np.maximum(t_out - COP_T_REF_C, 0.0)


def _ceil10(x: float) -> float:
    return float(10 * math.ceil(x / 10.0 - 1e-9))


def district(buildings: list[tuple[str, float, float]], name: str, slope: bool, note: str) -> dict[str, list[dict]]:
    w = weather()
    t_out, irr = w["t_out_c"].to_numpy(), w["irradiance_kw_per_m2"].to_numpy()
    shape = g1_shape()
    price = buy_price()
    t_min, t_max = comfort_band()
    ts = {"t": np.arange(1, T + 1), "t_out_c": t_out, "irradiance_kw_per_m2": irr, "t_min_c": t_min,
          "t_max_c": t_max, "buy_price_eur_per_kwh": price, "sell_price_eur_per_kwh": np.zeros(T)}
    rows, p_el_hold, p_el_max = [], np.zeros(T), 0.0
    for bname, area, cop in buildings:
        ua = ua_w_per_k_m2(area)
        r = 1.0 / (ua * area / 1000.0)
        aperture = SOLAR_APERTURE_PER_M2 * area
        q_int = np.round(shape * GAIN_KWH_PER_M2_A / 1000.0 * area, 4)
        ts[f"q_internal_{bname}_kw"] = q_int
        hold = np.maximum(q_int + aperture * irr + (t_out - BAND_OFFICE_C[1]) / r, 0.0)  # load at 26 degC
        q_max = _ceil10(CHILLER_MARGIN * hold.max())
        cops = cop_profile(cop, t_out)
        p_el_hold += hold / cops
        p_el_max += q_max / cops.min()
        rows.append({"name": bname, "active": True, "c_kwh_per_k": round(C_KWH_PER_K_M2 * area, 3),
                     "r_k_per_kw": round(r, 6), "t_out_c": "t_out_c", "q_internal_kw": f"q_internal_{bname}_kw",
                     "solar_aperture_m2": round(aperture, 3), "irradiance_kw_per_m2": "irradiance_kw_per_m2",
                     "t_init_c": T_INIT_C, "t_min_c": "t_min_c", "t_max_c": "t_max_c", "q_chiller_max_kw": q_max,
                     "cop": round(cop, 4), "cop_temp_slope_per_k": COP_SLOPE, "cop_t_ref_c": COP_T_REF_C,
                     "q_exchange_max_kw": q_max})
    area_total = sum(a for _, a, _ in buildings)
    capacity = _ceil10(STORAGE_KWH_PER_M2 * area_total)
    e_init = round(STORAGE_INIT_SHARE * capacity, 3)
    q_storage = _ceil10(capacity / STORAGE_HOURS)
    grid = {"name": "grid", "active": True, "p_min_kw": 0.0, "p_max_kw": _ceil10(GRID_MARGIN * p_el_max),
            "buy_price_per_kwh": "buy_price_eur_per_kwh", "sell_price_per_kwh": "sell_price_eur_per_kwh"}
    if slope:
        p_ref = float(p_el_hold.max())
        grid["buy_price_slope_per_kw2h"] = round(DEMAND_PRICE_RISE * float(price.mean()) / p_ref, 8)
        grid["price_segments"] = PRICE_SEGMENTS
        note += (f" Demand-dependent price: buy price + {grid['buy_price_slope_per_kw2h']:g} EUR/kWh per kW of "
                 f"import ({DEMAND_PRICE_RISE:.0%} of the mean buy price at {p_ref:.0f} kW, the peak demand of "
                 "the chillers holding 26 degC without the tank).")
    ts_rows = pd.DataFrame(ts).round(6).to_dict("records")
    for row in ts_rows:
        row["t"] = int(row["t"])
    return {
        "meta": [{"name": name, "T": T, "step_h": STEP_H, "currency": "EUR", "start": f"{DAY} 00:00",
                  "description": f"{note} Hot weekday {DAY} (hottest weekday of the PVGIS TMY at 45N 8E, peak "
                                 f"{t_out.max():.1f} degC), 96 x 15 min. Data: {ATTRIBUTION} Built by "
                                 "scripts/build_cooling_cases.py; see data/README.md."}],
        "timeseries": ts_rows,
        "resources": [
            {"name": "active_power", "sense": "==", "rhs": 0.0, "unit": "kW",
             "description": "electric balance: grid import = the chillers' electricity"},
            {"name": "reactive_power", "sense": "==", "rhs": 0.0, "unit": "kvar",
             "description": "none: no agent exchanges reactive power"},
            {"name": "cooling", "sense": "==", "rhs": 0.0, "unit": "kW",
             "description": "district cooling network: tank discharge + buildings' outflow = buildings' inflow + "
                            "tank charge"}],
        "buildings": rows,
        "cold_storages": [{"name": "tank", "active": True, "capacity_kwh": capacity, "e_init_kwh": e_init,
                           "e_final_min_kwh": e_init, "loss_per_h": STORAGE_LOSS_PER_H, "eta_charge": STORAGE_ETA,
                           "eta_discharge": STORAGE_ETA, "q_charge_max_kw": q_storage,
                           "q_discharge_max_kw": q_storage}],
        "grid": [grid],
    }


def buildings_20() -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(SEED_20)
    areas = np.exp(rng.uniform(math.log(AREA_SMALL_M2), math.log(AREA_LARGE_M2), 20))
    cops = rng.uniform(3.2, 3.8, 20)
    return [(f"b{i + 1:02d}", float(round(a, -1)), float(round(c, 2))) for i, (a, c) in enumerate(zip(areas, cops))]


def all_tables() -> dict[str, dict[str, list[dict]]]:
    four = ("Cooling district: 4 office buildings (1500-12000 m2) with own chillers, a shared chilled-water tank "
            "and one grid connection.")
    return {
        "cooling_district_4": district(list(BUILDINGS_4), "cooling_district_4", False, four),
        "cooling_district_4_demand_price": district(list(BUILDINGS_4), "cooling_district_4_demand_price", True,
                                                    four),
        "cooling_district_20": district(buildings_20(), "cooling_district_20", False,
                                        f"Cooling district: 20 office buildings (floor areas log-uniform in "
                                        f"1000-15000 m2, seed {SEED_20}) with own chillers, a shared chilled-water "
                                        "tank scaled by floor area and one grid connection."),
    }


def main(out_dir: Path = CASES_DIR) -> None:
    from ecodec.io.template import write_case_workbook

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, tables in all_tables().items():
        path = out_dir / f"{name}.xlsx"
        write_case_workbook(path, tables)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CASES_DIR)
