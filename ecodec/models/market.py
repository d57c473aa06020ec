"""Buyers and sellers of an energy-community market cleared by proportional sharing.

Source: G. Notarstefano et al., "Distributed Optimization and Learning for Aggregative Management of Energy
Communities", ECODREAM final project report (University of Bologna); ALGORITHMS.md section 7.

Buyers i in B lack energy and bid a unit price c_i within the main grid's prices; sellers j in S have excess
energy and sell a fraction w_j of it.  Per step t (each step is its own market, the steps share no constraint)::

    Ehat(w) = sum_{j in S} Ehat_j w_j                      energy sold to the community
    E_i     = Ehat(w) c_i / sum_{l in B} c_l                energy buyer i receives (proportional to its bid)
    R       = sum_{i in B} c_i E_i                          what the buyers pay
    R_j     = R Ehat_j w_j / Ehat(w)                        what seller j receives (proportional to its sales)

With N = |B| + |S| agents and the aggregates

    sigma = (1/N) [ sum_B c_i,  sum_B c_i^2,  sum_S Ehat_j w_j ]      (total_bid, bid_squares, energy_sold)

these are E_i = sigma_3 c_i / sigma_1 and R_j = sigma_2 Ehat_j w_j / sigma_1, so every cost depends on the
agent's own decision and on sigma only (an aggregative problem, :class:`ecodec.problem.AggregativeProblem`)::

    buyer   f_i = sum_t  eps_d (E_i - Ebar_i)^2  +  eps_b E_i (c_i - c_s)
    seller  f_j = sum_t  -gamma_r R_j  -  gamma_s ln(1 + Ehat_j (1 - w_j))

The buyer's first term is demand satisfaction, the second what it saves against buying from the grid at c_s
(negative when c_i < c_s).  **The sign of the seller's revenue term.**  The report prints the seller's cost as
``+gamma_r R_j`` while naming the term "revenue maximisation"; a cost that grows with revenue minimises it, so
ecodec takes the named intent by default: ``revenue_in_cost = 'minus'`` gives -gamma_r R_j (more revenue, lower
cost).  ``revenue_in_cost = 'plus'`` reproduces the printed formula.  The storage term is the seller's
satisfaction from keeping energy (1 kWh is the unit inside the logarithm).

Shares of the aggregates: a buyer phi_i = (c_i, c_i^2, 0), a seller phi_j = (0, 0, Ehat_j w_j).

Buyer

=======  ====================  ================================  =================
symbol   Pyomo                 workbook column (sheet buyers)     unit
=======  ====================  ================================  =================
c_i      ``bid``               (decision)                         currency/kWh
c_b      lower bound of c_i    grid_export_price_per_kwh          currency/kWh
c_s      upper bound of c_i    grid_import_price_per_kwh          currency/kWh
Ebar_i                         demand_kwh                         kWh per step
eps_d                          weight_demand_per_kwh2             currency/kWh^2
eps_b                          weight_price                       -
E_i      ``energy_received``                                      kWh per step
         ``shortfall``         Ebar_i - E_i (< 0: a surplus)      kWh per step
c_i E_i  ``payment``                                              currency
=======  ====================  ================================  =================

Seller

=======  ====================  ================================  =================
symbol   Pyomo                 workbook column (sheet sellers)    unit
=======  ====================  ================================  =================
w_j      ``fraction_sold``     (decision)                         -
Ehat_j                         excess_kwh                         kWh per step
gamma_r                        weight_revenue                     -
gamma_s                        weight_storage                     currency
sign     ``revenue_in_cost``   revenue_in_cost                    'minus' / 'plus'
         ``energy_sold``       Ehat_j w_j                         kWh per step
R_j      ``revenue``                                              currency
=======  ====================  ================================  =================
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from ecodec.declarations import CHOICE, NUMBER, at_most
from ecodec.models.base import AggregativeAgent, AggregativeTerms, Output, Param, TimeGrid, at
from ecodec.models.parameters import parameter
from ecodec.models.registry import register_agent_kind

TOTAL_BID, BID_SQUARES, ENERGY_SOLD = "total_bid", "bid_squares", "energy_sold"
#: The market's aggregates in the order of sigma, with their units (before the division by N)
MARKET_AGGREGATES: tuple[str, ...] = (TOTAL_BID, BID_SQUARES, ENERGY_SOLD)
REVENUE_SIGNS = {"minus": -1.0, "plus": 1.0}


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Buyer(AggregativeAgent):
    demand_kwh: Param = parameter(NUMBER, "kWh", "Energy the buyer needs per step (Ebar_i).", lower=0.0,
                                  profile=True)
    grid_export_price_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Lowest bid c_b: what the grid pays for "
                                                 "exported energy.", lower=0.0, lower_open=True, profile=True)
    grid_import_price_per_kwh: Param = parameter(NUMBER, "currency/kWh", "Highest bid c_s: what the grid charges for "
                                                 "imported energy.", lower=0.0, lower_open=True, profile=True)
    weight_demand_per_kwh2: float = parameter(NUMBER, "currency/kWh2", "Weight eps_d of the squared shortfall or "
                                              "surplus (E_i - Ebar_i)^2 (demand satisfaction).", default=1.0,
                                              lower=0.0)
    weight_price: float = parameter(NUMBER, "-", "Weight eps_b of E_i (c_i - c_s), the saving against buying from "
                                    "the grid.", default=1.0, lower=0.0)

    kind = "buyer"
    sheet = "buyers"
    sheet_description = (
        "Market buyers (energy-community market, docs/market.md): each bids a unit price within the grid's export "
        "and import prices and receives energy in proportion to its bid. A case holds either market agents or "
        "agents coupled through resources. (The example row is inactive.)")
    rules = (at_most("grid_export_price_per_kwh", "grid_import_price_per_kwh"),)
    example = {"name": "buyer1", "active": False, "demand_kwh": 8.0, "grid_export_price_per_kwh": 0.12,
               "grid_import_price_per_kwh": 0.29, "weight_demand_per_kwh2": 0.01, "weight_price": 1.0}
    aggregates = MARKET_AGGREGATES
    requires_kinds, requirement = ("seller",), "a market needs buyers and sellers"
    outputs = (
        Output("bid", "bid", "currency/kWh", "bid"),
        Output("energy_received", "energy_received", "kWh", "energy received"),
        Output("shortfall", "shortfall", "kWh", "shortfall"),
        Output("payment", "payment", "currency", "payment"),
    )

    def build(self, b: pyo.Block, grid: TimeGrid, sigma: dict[str, list]) -> AggregativeTerms:
        T = grid.steps
        b.bid = pyo.Var(T, bounds=lambda _, t: (at(self.grid_export_price_per_kwh, t),
                                                at(self.grid_import_price_per_kwh, t)))
        for t in T:
            b.bid[t].set_value(0.5 * (at(self.grid_export_price_per_kwh, t) + at(self.grid_import_price_per_kwh, t)))
        b.energy_received = pyo.Expression(T, rule=lambda b, t: sigma[ENERGY_SOLD][t] * b.bid[t] / sigma[TOTAL_BID][t])
        b.shortfall = pyo.Expression(T, rule=lambda b, t: at(self.demand_kwh, t) - b.energy_received[t])
        b.payment = pyo.Expression(T, rule=lambda b, t: b.bid[t] * b.energy_received[t])
        b.cost = pyo.Expression(expr=sum(
            self.weight_demand_per_kwh2 * (b.energy_received[t] - at(self.demand_kwh, t)) ** 2
            + self.weight_price * b.energy_received[t] * (b.bid[t] - at(self.grid_import_price_per_kwh, t))
            for t in T))
        return AggregativeTerms(cost=b.cost, shares={TOTAL_BID: [b.bid[t] for t in T],
                                                     BID_SQUARES: [b.bid[t] ** 2 for t in T]})


@register_agent_kind
@dataclass(eq=False, kw_only=True)
class Seller(AggregativeAgent):
    excess_kwh: Param = parameter(NUMBER, "kWh", "Excess energy per step (Ehat_j), > 0 at every step.", lower=0.0,
                                  lower_open=True, profile=True)
    weight_revenue: float = parameter(NUMBER, "-", "Weight gamma_r of the revenue R_j.", default=1.0, lower=0.0)
    weight_storage: float = parameter(NUMBER, "currency", "Weight gamma_s of ln(1 + Ehat_j (1 - w_j)), the value "
                                      "of keeping energy.", default=1.0, lower=0.0)
    revenue_in_cost: str = parameter(CHOICE, "-", "Sign of the revenue term in the seller's cost: 'minus' "
                                     "(-gamma_r R_j: revenue is maximised, the default) or 'plus' (+gamma_r R_j, the "
                                     "formula as printed in the ECODREAM report).", default="minus",
                                     choices=tuple(REVENUE_SIGNS))

    kind = "seller"
    sheet = "sellers"
    sheet_description = (
        "Market sellers: each sells a fraction of its excess energy to the community and keeps the rest; sellers "
        "are paid in proportion to what they sell. (The example row is inactive.)")
    example = {"name": "seller1", "active": False, "excess_kwh": 10.0, "weight_revenue": 0.5,
               "weight_storage": 1.0, "revenue_in_cost": "minus"}
    aggregates = MARKET_AGGREGATES
    requires_kinds, requirement = ("buyer",), "a market needs buyers and sellers"
    outputs = (
        Output("fraction_sold", "fraction_sold", "-", "fraction of the excess sold"),
        Output("energy_sold", "energy_sold", "kWh", "energy sold"),
        Output("revenue", "revenue", "currency", "revenue"),
    )

    def build(self, b: pyo.Block, grid: TimeGrid, sigma: dict[str, list]) -> AggregativeTerms:
        T = grid.steps
        sign = REVENUE_SIGNS[self.revenue_in_cost]
        b.fraction_sold = pyo.Var(T, bounds=(0.0, 1.0), initialize=0.5)
        b.energy_sold = pyo.Expression(T, rule=lambda b, t: at(self.excess_kwh, t) * b.fraction_sold[t])
        b.revenue = pyo.Expression(T, rule=lambda b, t: sigma[BID_SQUARES][t] * b.energy_sold[t] / sigma[TOTAL_BID][t])
        b.cost = pyo.Expression(expr=sum(
            sign * self.weight_revenue * b.revenue[t]
            - self.weight_storage * pyo.log(1.0 + at(self.excess_kwh, t) * (1.0 - b.fraction_sold[t]))
            for t in T))
        return AggregativeTerms(cost=b.cost, shares={ENERGY_SOLD: [b.energy_sold[t] for t in T]})
