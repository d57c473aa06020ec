"""A solve's result as the text ``ecodec solve`` prints: sizes and solver, status, total and per-agent cost, the
market table of a market case, and each coupling resource's largest residual and mean dual price.

A case with more than ``MAX_AGENT_LINES`` agents gets that many per-agent cost lines, the largest costs by absolute
value first (the agents that matter, whatever their place in the workbook), then one line "... and N more"
with the number and total cost of the others; its market table keeps the case's order and stops at the same
number of lines.  The results workbook and ``--json`` keep every agent.

>>> from ecodec.study import solve_case
>>> print(text_summary(solve_case("cases/microgrid_8.xlsx")).splitlines()[2])
total cost: 365.55 EUR
"""

from __future__ import annotations

from ecodec.results import kpi
from ecodec.results.run_result import RunResult

MAX_AGENT_LINES = 20


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
    costs = result.agent_costs
    if len(costs) <= MAX_AGENT_LINES:
        lines.append("cost per agent:")
    else:
        costs = costs.iloc[(-costs["cost"].abs().to_numpy()).argsort(kind="stable")]  # ties in case order
        lines.append(f"cost per agent (the {MAX_AGENT_LINES} largest by absolute value of {len(costs)} agents):")
    for row in costs.iloc[:MAX_AGENT_LINES].itertuples():
        lines.append(f"  {row.agent:<16} {row.kind:<13} {row.cost:>12,.2f} {result.currency}")
    if len(costs) > MAX_AGENT_LINES:
        rest = costs.iloc[MAX_AGENT_LINES:]
        lines.append(f"  ... and {len(rest)} more (total {rest['cost'].sum():,.2f} {result.currency}; every agent is in "
                     "the results workbook and --json)")
    market = kpi.market_summary(result.dispatch)
    if not market.empty:
        lines.append(f"market (per agent: bid [{result.currency}/kWh], energy received, shortfall [kWh], payment "
                     f"[{result.currency}] | fraction sold, energy sold [kWh], revenue [{result.currency}]):")
        for row in market.iloc[:MAX_AGENT_LINES].itertuples():
            shown = (f"{row.bid:.4f}  {row.energy_received:9.3f}  {row.shortfall:9.3f}  {row.payment:9.3f}"
                     if row.kind == "buyer" else
                     f"{row.fraction_sold:.4f}  {row.energy_sold:9.3f}  {row.revenue:9.3f}")
            lines.append(f"  {row.agent:<16} {row.kind:<8} {shown}")
        if len(market) > MAX_AGENT_LINES:
            lines.append(f"  ... and {len(market) - MAX_AGENT_LINES} more agents")
    if not result.coupling.empty:
        lines.append("coupling resources (max |residual|, mean dual price):")
        prices = result.coupling.groupby("resource", sort=False)["price"].mean()
        units = result.coupling.groupby("resource", sort=False)["price_unit"].first()
        for name, worst in kpi.max_violation_by_resource(result.coupling).items():
            price = prices[name]
            shown = f"{price:.4f} {units[name]}" if price == price else "n/a (MILP)"
            lines.append(f"  {name:<16} {worst:.2e}   {shown}")
    return "\n".join(lines)
