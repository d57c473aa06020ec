"""Coupling resources: the constraints that tie agents together.

A resource couples the contributions of all agents to one carrier at every step t:

    ==    : sum_i h_i,t  = b_t
    <=    : sum_i h_i,t <= b_t
    >=    : sum_i h_i,t >= b_t
    band  : b_t <= sum_i h_i,t <= bu_t

The seed microgrid has three: active-power balance (==), reactive-power balance (==), heat (band).
The *residual* of a row is the signed amount by which it is violated: lhs - upper above the upper end,
lhs - lower below the lower end, 0 inside; the violation is its absolute value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENSES = ("==", "<=", ">=", "band")


@dataclass(frozen=True, eq=False)
class CouplingResource:
    name: str
    sense: str
    rhs: np.ndarray
    rhs_upper: np.ndarray | None = None
    unit: str = ""

    def __post_init__(self):
        if self.sense not in SENSES:
            raise ValueError(f"resource '{self.name}': sense must be one of {SENSES}, got {self.sense!r}")
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

    def lower(self) -> np.ndarray:
        """Lower end per step (-inf for '<=')."""
        return np.full(self.T, -np.inf) if self.sense == "<=" else self.rhs

    def upper(self) -> np.ndarray:
        """Upper end per step (+inf for '>=')."""
        if self.sense == ">=":
            return np.full(self.T, np.inf)
        return self.rhs_upper if self.sense == "band" else self.rhs

    def residual(self, lhs: np.ndarray) -> np.ndarray:
        """Signed violation per step: > 0 above the upper end, < 0 below the lower end, 0 inside."""
        lhs = np.asarray(lhs, dtype=float)
        above = np.maximum(lhs - self.upper(), 0.0)
        below = np.minimum(lhs - self.lower(), 0.0)
        return above + below
