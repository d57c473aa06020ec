"""A solve's result as the text ``ecodec solve`` prints: sizes and solver, status, total and per-agent cost, the
market table of a market case, and each coupling resource's largest residual and mean dual price.

>>> from ecodec.study import solve_case
>>> print(text_summary(solve_case("cases/microgrid_8.xlsx")).splitlines()[2])
total cost: 365.55 EUR
"""

from __future__ import annotations

from ecodec.results import kpi
from ecodec.results.run_result import RunResult


def text_summary(result: RunResult) -> str:
    """The text summary of a centralized result (see the module docstring)."""
    info = result.info
    lines = [f"case {result.case_name}: {info['n_agents']} agents, {info['problem_class']} with "
             f"{info['n_variables']} variables ({info['n_integer_variables']} integer) and "
             f"{info['n_constraints']} constraints; {info['solver']}"]
    if not result.has_solution:
        lines.append(f"status: {result.status}: {info['message']}")
        return "\n".join(lines)
    lines.append(f"status: {result.status} ({info['message']}), solved in {info['wall_time_s']:.2f} s")
    lines.append(f"total cost: {result.objective:,.2f} {result.currency}")
    lines.append("cost per agent:")
    for row in result.agent_costs.itertuples():
        lines.append(f"  {row.agent:<16} {row.kind:<13} {row.cost:>12,.2f} {result.currency}")
    market = kpi.market_summary(result.dispatch)
    if not market.empty:
        lines.append(f"market (per agent: bid [{result.currency}/kWh], energy received, shortfall [kWh], payment "
                     f"[{result.currency}] | fraction sold, energy sold [kWh], revenue [{result.currency}]):")
        for row in market.itertuples():
            shown = (f"{row.bid:.4f}  {row.energy_received:9.3f}  {row.shortfall:9.3f}  {row.payment:9.3f}"
                     if row.kind == "buyer" else
                     f"{row.fraction_sold:.4f}  {row.energy_sold:9.3f}  {row.revenue:9.3f}")
            lines.append(f"  {row.agent:<16} {row.kind:<8} {shown}")
    if not result.coupling.empty:
        lines.append("coupling resources (max |residual|, mean dual price):")
        prices = result.coupling.groupby("resource", sort=False)["price"].mean()
        units = result.coupling.groupby("resource", sort=False)["price_unit"].first()
        for name, worst in kpi.max_violation_by_resource(result.coupling).items():
            price = prices[name]
            shown = f"{price:.4f} {units[name]}" if price == price else "n/a (MILP)"
            lines.append(f"  {name:<16} {worst:.2e}   {shown}")
    return "\n".join(lines)
