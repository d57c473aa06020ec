"""Load a shipped workbook, change a parameter in Python and solve again: what is a bigger battery worth?

The microgrid of ``cases/microgrid_8.xlsx`` (two CHP microturbines, PV, wind, solar thermal, a 141 kWh battery,
the grid and a boiler over one day in 15-minute steps) is solved as shipped, then with the battery's capacity and
power doubled; the day's optimal costs, the value of the larger battery and how the battery's use changes are
printed.  (Any method runs on the changed case the same way: ``ecodec.compare_case(bigger, ["tracking-admm"])``.)

A parameter changed in Python goes through the same checks as a workbook cell: a capacity below the battery's
initial energy, say, is refused with the workbook's message.

Run:  python examples/change_a_parameter.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import ecodec

ROOT = Path(__file__).resolve().parents[1]


def enlarged(case: ecodec.Case, agent: str, factor: float) -> ecodec.Case:
    """A copy of ``case`` with the capacity and power range of storage ``agent`` scaled by ``factor``."""
    bigger = copy.deepcopy(case)
    for spec in bigger.agents:
        if spec.name == agent:
            for key in ("e_max_kwh", "p_min_kw", "p_max_kw"):
                spec.params[key] = spec.params[key] * factor
    bigger.name = f"{case.name}_battery_x{factor:g}"
    return bigger


def main() -> None:
    shipped = ecodec.read_case(ROOT / "cases" / "microgrid_8.xlsx")
    bigger = enlarged(shipped, "battery", 2.0)
    results = {case.name: ecodec.solve_case(case) for case in (shipped, bigger)}
    for name, result in results.items():
        throughput = result.dispatch.query("agent == 'battery' and quantity == 'p_discharge'")["value"].sum()
        print(f"{name}: optimum {result.objective:.2f} {result.currency}, the battery discharges "
              f"{throughput * shipped.step_h:.1f} kWh")
    small, large = (result.objective for result in results.values())
    print(f"doubling the battery saves {small - large:.2f} {shipped.currency} on this day")
    try:
        ecodec.build_problem(enlarged(shipped, "battery", 0.4))  # 56 kWh: below the 70 kWh it starts with
    except ecodec.EcodecError as error:
        print(f"a battery of 0.4 x the capacity is refused: {error}")


if __name__ == "__main__":
    main()
