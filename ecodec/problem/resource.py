"""Coupling resources: the constraints that tie agents together.

A resource of scope ``step`` couples the contributions of all agents to one carrier at every step t:

    ==    : sum_i h_i,t  = b_t
    <=    : sum_i h_i,t <= b_t
    >=    : sum_i h_i,t >= b_t
    band  : b_t <= sum_i h_i,t <= bu_t

A resource of scope ``horizon`` couples them once, over the whole horizon: its row reads the energy
E = Delta sum_t sum_i h_i,t (Delta the step in hours; kWh for a kW carrier) against one number b (a total-energy
budget of an EV fleet: ``active_power``, ``>=``, b = -budget, consumption being negative injection).  It is
named ``<carrier>_total`` and kept in the same per-step layout as the others: its left-hand side at step t is
the energy so far, E_t = Delta sum_{s <= t} sum_i h_i,s, and its ends are infinite before the last step, so
only E_T = E is bound.  Its price is d cost / d b in currency per kWh as it stands (no division by Delta).

The seed microgrid has three: active-power balance (==), reactive-power balance (==), heat (band).
The *residual* of a row is the signed amount by which it is violated: lhs - upper above the upper end,
lhs - lower below the lower end, 0 inside; the violation is its absolute value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSES = ("==", "<=", ">=", "band")
SCOPES = ("step", "horizon")
#: what the ends of a row mean to a reader (figures draw them under these names); the sum of the contributions is
#: the net supply to the carrier (injection positive)
REQUIRED, MINIMUM, MAXIMUM = "required net supply", "minimum net supply", "maximum net supply"
#: a lower end at or below zero only caps what the agents draw together (an EV fleet's shared connection); an
#: upper end at or above zero only caps what they feed in together
CONNECTION_LIMIT, FEED_IN_LIMIT = "connection limit", "feed-in limit"
#: the smallest scale a relative violation is measured against (a resource nothing can put a flow through)
SCALE_FLOOR = 1e-9


@dataclass(frozen=True, eq=False)
class CouplingResource:
    name: str
    sense: str
    rhs: np.ndarray
    rhs_upper: np.ndarray | None = None
    unit: str = ""
    scope: str = "step"
    carrier: str = ""  # the carrier the agents contribute to (the name, for scope 'step')

    def __post_init__(self):
        if self.sense not in SENSES:
            raise ValueError(f"resource '{self.name}': sense must be one of {SENSES}, got {self.sense!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"resource '{self.name}': scope must be one of {SCOPES}, got {self.scope!r}")
        if not self.carrier:
            object.__setattr__(self, "carrier", self.name)
        if self.scope == "step" and self.carrier != self.name:
            raise ValueError(f"resource '{self.name}': a per-step resource is named after its carrier")
        if (self.sense == "band") != (self.rhs_upper is not None):
            raise ValueError(f"resource '{self.name}': rhs_upper is needed for 'band' and only for it")
        object.__setattr__(self, "rhs", np.asarray(self.rhs, dtype=float))
        if self.rhs_upper is not None:
            object.__setattr__(self, "rhs_upper", np.asarray(self.rhs_upper, dtype=float))
            if np.any(self.rhs_upper < self.rhs):
                raise ValueError(f"resource '{self.name}': rhs_upper below rhs")

    @property
    def T(self) -> int:
        return len(self.rhs)

    @property
    def per_hour(self) -> bool:
        """Whether the row is in power per step (its dual is divided by the step length to price energy)."""
        return self.scope == "step"

    def lower(self) -> np.ndarray:
        """Lower end per step (-inf for '<=', and before the last step of a horizon resource)."""
        ends = np.full(self.T, -np.inf) if self.sense == "<=" else self.rhs
        return self._at_horizon_end(ends, -np.inf)

    def upper(self) -> np.ndarray:
        """Upper end per step (+inf for '>=', and before the last step of a horizon resource)."""
        if self.sense == ">=":
            ends = np.full(self.T, np.inf)
        else:
            ends = self.rhs_upper if self.sense == "band" else self.rhs
        return self._at_horizon_end(ends, np.inf)

    def _at_horizon_end(self, ends: np.ndarray, free: float) -> np.ndarray:
        if self.scope == "step":
            return ends
        out = np.full(self.T, free)
        out[-1] = ends[-1]
        return out

    def residual(self, lhs: np.ndarray) -> np.ndarray:
        """Signed violation per step: > 0 above the upper end, < 0 below the lower end, 0 inside."""
        lhs = np.asarray(lhs, dtype=float)
        above = np.maximum(lhs - self.upper(), 0.0)
        below = np.minimum(lhs - self.lower(), 0.0)
        return above + below


def peak_rhs(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per resource (rows of ``lower``, ``upper``: shape (resources, T), +-inf where free) its peak |right-hand
    side|  max_t max(|lower_t|, |upper_t|)  over the finite ends (0 when every end is 0 or free).

    >>> peak_rhs(np.array([[-3.0, 1.0], [0.0, 0.0]]), np.array([[np.inf, 2.0], [0.0, 0.0]])).tolist()
    [3.0, 0.0]
    """
    ends = np.where(np.isfinite(lower), np.abs(lower), 0.0)
    ends = np.maximum(ends, np.where(np.isfinite(upper), np.abs(upper), 0.0))
    return ends.max(axis=1) if ends.size else np.zeros(len(ends))


def end_labels(lower, upper) -> list[tuple[str, str]]:
    """What the ends ``lower``, ``upper`` (per step, +-inf where free, as in the coupling table) of a row mean:
    ('both', REQUIRED) for a balance, else ('lower', ...) and/or ('upper', ...), in words a reader understands.

    >>> end_labels([5.0, 4.0], [5.0, 4.0])
    [('both', 'required net supply')]
    >>> end_labels([-89.6, -89.6], [float("inf")] * 2)
    [('lower', 'connection limit')]
    >>> end_labels([100.0], [141.0])
    [('lower', 'minimum net supply'), ('upper', 'maximum net supply')]
    """
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if np.array_equal(lower, upper, equal_nan=True):
        return [("both", REQUIRED)]
    low, high = lower[np.isfinite(lower)], upper[np.isfinite(upper)]
    out = []
    if low.size:
        out.append(("lower", CONNECTION_LIMIT if not high.size and np.all(low <= 0) else MINIMUM))
    if high.size:
        out.append(("upper", FEED_IN_LIMIT if not low.size and np.all(high >= 0) else MAXIMUM))
    return out
