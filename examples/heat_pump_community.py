"""A community built in Python with an agent kind of your own: a heat pump coupling electricity and heat.

Five agents share an electricity bus and a heat network over one winter day (2019-01-16, hourly): rooftop PV, a
battery, the grid connection, a gas boiler and a user-written air-source heat pump.  The community is solved
centrally (the reference optimum), then by two distributed methods in which each agent solves only its own
problem; the runs are compared and a PDF report is written.

The heat pump turns electric power into heat with a coefficient of performance that falls as the outside air
gets colder (a fixed share of the Carnot COP, a common first model):

    COP_t = eta_carnot (T_supply + 273.15) / (T_supply - T_air,t),      0 <= p_el,t <= p_el_max
    contributions: active power -p_el,t (it consumes), heat +COP_t p_el,t;  cost: none of its own

Data (data/README.md): PV per kWp, air temperature, the BDEW household (H0) and multi-family heat (MFH) load
shapes and the Nord Pool DK2 spot price, all from ``data/typical_days_15min_IT45N8E_BDEW_DK2.csv``.

Run:  python examples/heat_pump_community.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

import ecodec
from ecodec.declarations import NUMBER

ROOT = Path(__file__).resolve().parents[1]
DAY = "2019-01-16"


@dataclass(eq=False, kw_only=True)
class HeatPump(ecodec.Agent):
    """Air-source heat pump; equations in the module docstring.  Each parameter is declared once (type, unit,
    bounds, description): constructing a heat pump checks them with the words a workbook cell would get."""

    p_el_max_kw: float = ecodec.parameter(NUMBER, "kW", "Largest electrical input.", lower=0.0)
    cop: np.ndarray = ecodec.parameter(NUMBER, "kW_th/kW_el", "Coefficient of performance per step.", lower=1.0,
                                       upper=10.0, profile=True)

    kind = "heat_pump"
    outputs = (ecodec.Output("p_el", "p_el", "kW"), ecodec.Output("p_th", "p_th", "kW"))

    def build(self, block: pyo.Block, grid: ecodec.TimeGrid) -> ecodec.AgentTerms:
        T = grid.steps
        block.p_el = pyo.Var(T, bounds=(0.0, self.p_el_max_kw))
        block.p_th = pyo.Expression(T, rule=lambda b, t: float(self.cop[t]) * b.p_el[t])
        block.cost = pyo.Expression(expr=0.0)
        return ecodec.AgentTerms(cost=block.cost, contributions={
            "active_power": [-block.p_el[t] for t in T], "heat": [block.p_th[t] for t in T]})


def carnot_cop(t_air_c: np.ndarray, supply_c: float = 45.0, share: float = 0.45) -> np.ndarray:
    """COP_t = share x (supply + 273.15) / (supply - T_air,t)."""
    return share * (supply_c + 273.15) / (supply_c - t_air_c)


def hourly_day() -> pd.DataFrame:
    """The day's 15-minute data averaged to hours (24 steps)."""
    data = pd.read_csv(ROOT / "data" / "typical_days_15min_IT45N8E_BDEW_DK2.csv")
    day = data[data["day"] == DAY].reset_index(drop=True)
    return day.drop(columns=["day", "time_local"]).groupby(day.index // 4).mean()


def build_community() -> ecodec.CoupledProblem:
    day = hourly_day()
    load_kw = day["elec_H0_kw_per_MWh"].to_numpy() * 40.0  # 40 MWh a year: about a dozen households
    heat_kw = day["heat_MFH_kw_per_MWh"].to_numpy() * 120.0  # 120 MWh of heat a year: one apartment block
    spot = day["price_DK2_EUR_per_MWh"].to_numpy() / 1000.0
    agents = [
        ecodec.Renewable(name="pv", carrier="electric", capacity_kw=40.0, availability_pu=day["pv_kw_per_kwp"].to_numpy()),
        ecodec.Storage(name="battery", p_min_kw=-10.0, p_max_kw=10.0, e_min_kwh=2.0, e_max_kwh=20.0, e_init_kwh=10.0,
                       e_final_min_kwh=10.0, eta_charge=0.95, eta_discharge=0.95),
        ecodec.Grid(name="grid", p_min_kw=-50.0, p_max_kw=80.0, buy_price_per_kwh=spot + 0.15,
                    sell_price_per_kwh=spot),
        ecodec.Boiler(name="boiler", p_th_max_kw=60.0, eta=0.92, fuel_cost_per_kwh_pe=0.09),
        HeatPump(name="heat_pump", p_el_max_kw=12.0, cop=carnot_cop(day["t_air_C"].to_numpy())),
    ]
    resources = [
        ecodec.CouplingResource("active_power", "==", load_kw, unit="kW"),
        ecodec.CouplingResource("reactive_power", "==", np.zeros(24), unit="kvar"),  # PV, battery, grid have q
        ecodec.CouplingResource("heat", "band", heat_kw, heat_kw + 5.0, unit="kW"),
    ]
    return ecodec.CoupledProblem(agents, resources, ecodec.TimeGrid(24, 1.0), name="heat_pump_community")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "reports" / "examples")
    args = parser.parse_args()
    problem = build_community()
    network = ecodec.CommunicationNetwork.named("ring", [a.name for a in problem.agents])
    study = ecodec.compare_case(problem, ["tracking-admm", "proximal-dual"], network=network,
                                options={"proximal-dual": {"step_size": 10.0}},
                                stopping={"max_iterations": 400}, output=args.output_dir / "heat_pump_community",
                                report=args.output_dir / "heat_pump_community.pdf")
    print(study.comparison.format_table())
    reference = study.reference
    heat = reference.dispatch.query("agent == 'heat_pump' and quantity == 'p_th'")["value"].sum()
    print(f"\nthe heat pump delivers {heat:.1f} kWh of the day's heat at the optimum; report written to "
          f"{study.written['report']}")
    try:
        HeatPump(name="too_good", p_el_max_kw=12.0, cop=np.full(24, 12.0))
    except ecodec.EcodecError as error:
        print(f"refused: {error}")


if __name__ == "__main__":
    main()
