"""What the coordinator-based dual methods (``tightening``, ``dualbi``) share: their common options, one agent's
priced program, and the certificate the coordinator keeps.

Agent i holds its compiled program (:class:`CompiledSubproblem`) and its coupling rows g_i(x) = G_i x + g0_i
(:class:`CouplingRows`); given prices lambda >= 0 it solves

    x_i(lambda) = argmin_{x in X_i}  f~_i(x) + lambda' g_i(x),

f~_i its cost with a seeded relative perturbation: each integer column's cost c_j becomes c_j (1 + d_j),
d_j ~ U[0, perturbation) from a generator seeded by (seed, the agent's name).  Agents that see the same prices
then do not all pick the same slots (deterministic tie-breaking, the same on every runtime).  Since
|f~_i(x) - f_i(x)| <= D_i = sum_j |c_j| d_j max(|lo_j|, |hi_j|) for every x within the column bounds
[lo_j, hi_j], the solver's bound L~_i of the perturbed program gives a bound of the unperturbed one:
min_{X_i} f_i + lambda' g_i >= L~_i - D_i (:attr:`PricedAgent.perturbation_shift`).

``price_scale`` is Lambda_i, the largest cost per unit of coupling contribution over the agent's columns
(|c_j| / max_k |G_kj|): the size of a price that changes its decisions, from which the coordinators scale their
steps and first prices.

:class:`Certificate`: the coordinator's lower bound LB (a dual function value), upper bound UB (the best
coupling-feasible cost found) and the certified gap (UB - LB)^+ / |UB| (:func:`ecodec.results.kpi.certified_gap`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.decomposition.local_solve import solve_local
from ecodec.decomposition.options import MethodOptions, mip_gap_option, option
from ecodec.decomposition.registry import Column
from ecodec.results import kpi
from ecodec.solvers.compiled import CompiledSubproblem, SparseProduct


#: What the progress line of a coordinator method with a certificate shows: its violation, best feasible cost and
#: certified gap (the current iterate's cost comes first on every line)
COORDINATOR_PROGRESS = ("rel_violation", "upper_bound", "certified_gap", "cost_gap")
#: The history columns of a coordinator method with a certificate (:meth:`Certificate.record`) and feasibility
COORDINATOR_COLUMNS = (
    Column("lower_bound", "LB: the best dual function value so far, a lower bound on the optimal cost"),
    Column("upper_bound", "UB: the cost of the best coupling-feasible iterate so far (NaN before one)", label="best"),
    Column("certified_gap", "(UB - LB)^+ / |UB| (NaN before both bounds exist)", label="certified"),
    Column("feasible", "1 when this iterate meets the coupling rows, else 0"),
)


def perturbation_option(default: float):
    """The ``perturbation`` option: the largest relative perturbation of an integer column's cost."""
    return option(default, "-", "largest relative cost perturbation of integer columns (deterministic tie-breaking)",
                  lower=0.0, upper=0.1, upper_open=True)


@dataclass(frozen=True)
class PricedOptions(MethodOptions):
    """Options every coordinator method has: ``gap_tol`` (stop when the certified gap reaches it), ``perturbation``
    and ``seed`` (the tie-breaking perturbation), ``mip_rel_gap`` (of each agent's MILP)."""

    gap_tol: float = option(1e-2, "-", "stop when the certified gap (UB - LB) / |UB| is at most this", lower=0.0,
                            lower_open=True)
    perturbation: float = perturbation_option(1e-2)
    seed: int = option(0, "-", "seed of the tie-breaking perturbation", lower=0)
    mip_rel_gap: float = mip_gap_option()


class Certificate:
    """LB, UB and the certified gap of a coordinator method (see the module docstring)."""

    def __init__(self):
        self.lower, self.upper = -np.inf, np.inf

    def bound(self, value: float) -> None:
        """A dual function value: LB = max(LB, value)."""
        self.lower = max(self.lower, value)

    def offer(self, cost: float) -> bool:
        """A coupling-feasible cost; True when it improves UB (the caller then keeps that iterate)."""
        if cost < self.upper:
            self.upper = cost
            return True
        return False

    @property
    def has_incumbent(self) -> bool:
        return bool(np.isfinite(self.upper))

    def gap(self) -> float:
        """The certified gap, NaN until both bounds exist."""
        if not (np.isfinite(self.upper) and np.isfinite(self.lower)):
            return np.nan
        return kpi.certified_gap(self.upper, self.lower)

    def record(self) -> dict[str, float]:
        """The history columns ``lower_bound``, ``upper_bound`` (NaN before an incumbent), ``certified_gap``."""
        return {"lower_bound": self.lower, "upper_bound": self.upper if self.has_incumbent else np.nan,
                "certified_gap": self.gap()}

    def facts(self) -> dict[str, object]:
        """The same for the run's info (None where missing)."""
        gap = self.gap()
        return {"lower_bound": self.lower, "upper_bound": self.upper if self.has_incumbent else None,
                "certified_gap": gap if gap == gap else None}


def price_scale(cost: np.ndarray, g: sp.sparray) -> float:
    """Lambda_i = max_j |c_j| / max_k |G_kj| over the columns j that enter a coupling row (0 when none does): the
    largest cost per unit of coupling contribution, the size of a price that changes the agent's decisions."""
    columns = sp.csc_array(g)
    norms = np.abs(columns).max(axis=0).toarray().ravel() if columns.shape[0] else np.zeros(cost.size)
    used = norms > 0
    return float(np.max(np.abs(cost[used]) / norms[used])) if used.any() else 0.0


def multiplier_scale(sub: CompiledSubproblem, g: sp.sparray) -> np.ndarray:
    """[direct, indirect] price scales of one agent, in currency per row unit, from its own data: direct is
    :func:`price_scale` (its cost per unit of coupling contribution); indirect, for agents that pay for another
    column than the one they contribute with (a microturbine pays for fuel), is the largest |c_j| over its
    continuous columns per largest |G_kj| (integer columns carry costs per event, a start-up, not per unit).
    Primal decomposition takes the largest direct scale over the agents, the indirect one only when no agent has
    a direct cost.

    >>> from ecodec.models.grid import Grid
    >>> from ecodec.decomposition.coupling_rows import CouplingRows
    >>> from ecodec.problem import CoupledProblem, CouplingResource
    >>> from ecodec.models.base import TimeGrid
    >>> grid = Grid(name="grid", p_min_kw=0.0, p_max_kw=10.0, buy_price_per_kwh=0.3, sell_price_per_kwh=0.0)
    >>> rows = [CouplingResource(name, "==", np.array([value]), unit=unit)
    ...         for name, value, unit in (("active_power", 4.0, "kW"), ("reactive_power", 0.0, "kvar"))]
    >>> problem = CoupledProblem([grid], rows, TimeGrid(1, 0.25), name="doc")
    >>> sub = CompiledSubproblem(problem, "grid")
    >>> multiplier_scale(sub, CouplingRows.from_problem(problem).local_rows(sub)[0]).round(6).tolist()  # 0.3 x 0.25
    [0.075, 0.075]
    """
    cost = sub.cost_vector
    g = sp.csr_array(g)
    if not g.nnz:
        return np.zeros(2)
    continuous = np.ones(cost.size, dtype=bool)
    continuous[sub.integer_columns] = False
    indirect = float(np.max(np.abs(cost[continuous]), initial=0.0) / np.max(np.abs(g.data)))
    return np.array([price_scale(cost, g), indirect])


def agreed_price_scale(largest: np.ndarray) -> float:
    """Lambda from the elementwise maximum of the agents' :func:`multiplier_scale`: the largest direct scale, else
    the largest indirect one, else 1 (no cost at all: every multiplier is 0 and any M > 0 is exact).

    >>> agreed_price_scale(np.array([0.0, 2.5]))
    2.5
    """
    return float(largest[0] or largest[1]) or 1.0


class PricedAgent:
    """See the module docstring."""

    def __init__(self, sub: CompiledSubproblem, rows: CouplingRows, perturbation: float, seed: int):
        self.sub = sub
        self.g, self.g0 = rows.local_rows(sub)
        self.g_product = SparseProduct(self.g)  # made once: every iteration evaluates g_i and prices x with it
        self.g_transposed = SparseProduct(self.g, transpose=True)
        cost = sub.cost_vector
        rng = np.random.default_rng([seed, zlib.crc32(sub.agent_name.encode())])
        factor = np.ones_like(cost)
        integer = sub.integer_columns
        factor[integer] += perturbation * rng.random(integer.size)
        self.cost, self.true_cost = cost * factor, cost
        lower, upper = sub.column_bounds()
        reach = np.maximum(np.abs(lower[integer]), np.abs(upper[integer])) if integer.size else np.zeros(0)
        shift = np.abs(cost[integer]) * (factor[integer] - 1.0) * reach
        self.perturbation_shift = float(np.sum(shift)) if np.all(np.isfinite(shift)) else np.inf
        self.price_scale = price_scale(cost, self.g)
        self.x: np.ndarray | None = None

    def row_values(self, x: np.ndarray) -> np.ndarray:
        """g_i(x), one value per coupling row."""
        return self.g_product(x) + self.g0

    def solve(self, price: np.ndarray, perturbed: bool = True, *, method: str = "priced decomposition",
              iteration: int | None = None, numbers: Mapping[str, float] | None = None, start=None):
        """The solution of  min_{X_i} f~_i + price' g_i  (f_i itself with ``perturbed=False``); keeps x.  Solved by
        :func:`~ecodec.decomposition.local_solve.solve_local` (its retries; a :class:`SolveError` naming
        ``method``, ``iteration`` (from 1), the program's numbers, the price and ``numbers`` when none works), from
        the first incumbent ``start`` when one is given."""
        offset = float(self.sub.cost_map.offset[0]) + price @ self.g0
        self.sub.set_model_cost((self.cost if perturbed else self.true_cost) + self.g_transposed(price), offset)

        def own() -> dict[str, float]:
            return {"largest |price|": float(np.max(np.abs(price), initial=0.0)),
                    "price scale Lambda_i": self.price_scale, **(numbers or {})}

        solution = solve_local(self.sub, method, iteration, own, start=start,
                               what="the priced problem" if perturbed else "the unperturbed priced problem")
        if perturbed:
            self.x = solution.x
        return solution


__all__ = ["COORDINATOR_PROGRESS", "Certificate", "PricedAgent", "PricedOptions", "agreed_price_scale",
           "multiplier_scale", "price_scale"]
