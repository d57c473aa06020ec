"""The coupling resources written as rows every distributed method shares.

A resource r over steps t becomes one or two *coupling rows* k, each  sum_i s_k h_i,r,t(x_i)  (== or <=) b_k:

=========  ===========================================  ======  ===========  ==================
resource   row(s)                                       s_k     kind         b_k
=========  ===========================================  ======  ===========  ==================
``==``     sum_i h_i,t = b_t                            +1      equality     b_t
``<=``     sum_i h_i,t <= b_t                           +1      inequality   b_t
``>=``     -sum_i h_i,t <= -b_t                         -1      inequality   -b_t
band       -sum_i h_i,t <= -lo_t  and  sum_i h_i,t <= hi_t  -1, +1  inequality   -lo_t, hi_t
=========  ===========================================  ======  ===========  ==================

This is how the reference microgrid study writes its balances: equality rows for the active and reactive
power, the heat band as the pair  (-h, h) <= (-D_lo, D_hi)  (ECODREAM report, "Distributed Optimization Problem").
Rows are ordered by resource, then part (lower before upper), then step; a horizon resource (one bound, at its
last step, on the running energy) has a row at that step only.  A multiplier mu_k of row k is
-(d cost / d b_k); the price of resource r at step t (d cost / d right-hand side, as the centralized solve
reports it) is  sum over the rows k of (r, t) of  -s_k mu_k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ecodec.problem.coupled import CoupledProblem
from ecodec.solvers.compiled import CompiledSubproblem


@dataclass(frozen=True)
class CouplingRows:
    resource: np.ndarray  # (p,) index of the resource in problem order
    step: np.ndarray  # (p,) step t
    sign: np.ndarray  # (p,) s_k in {+1, -1}
    equality: np.ndarray  # (p,) bool
    total: np.ndarray  # (p,) b_k
    n_resources: int
    T: int
    per_hour: np.ndarray  # (resources,) whether a resource's rows are power per step (see ``prices``)
    scale: np.ndarray  # (resources,) S_r relative violations are measured against (CoupledProblem.violation_scales)

    @classmethod
    def from_problem(cls, problem: CoupledProblem) -> CouplingRows:
        """The rows of ``problem``'s resources; a step whose end is infinite (a horizon resource before its last
        step) has no row."""
        parts = []
        T = problem.grid.T
        for r, res in enumerate(problem.resources):
            lower, upper = res.lower(), res.upper()
            if res.sense == "==":
                parts.append((r, 1.0, True, upper))
            elif res.sense == "<=":
                parts.append((r, 1.0, False, upper))
            elif res.sense == ">=":
                parts.append((r, -1.0, False, -lower))
            else:
                parts += [(r, -1.0, False, -lower), (r, 1.0, False, upper)]
        steps = np.arange(T)
        total = np.concatenate([np.asarray(b, dtype=float) for *_, b in parts])
        keep = np.isfinite(total)
        return cls(resource=np.concatenate([np.full(T, r) for r, *_ in parts])[keep],
                   step=np.tile(steps, len(parts))[keep],
                   sign=np.concatenate([np.full(T, s) for _, s, _, _ in parts])[keep],
                   equality=np.concatenate([np.full(T, eq) for _, _, eq, _ in parts])[keep],
                   total=total[keep], n_resources=len(problem.resources), T=T,
                   per_hour=np.array([res.per_hour for res in problem.resources], dtype=bool),
                   scale=np.asarray(problem.violation_scales(), dtype=float))

    @property
    def size(self) -> int:
        return self.total.size

    def local_rows(self, sub: CompiledSubproblem) -> tuple[sp.csr_array, np.ndarray]:
        """(G_i, g0_i) with  s_k h_i,r,t(x) = G_i x + g0_i  for every row k (x: the model columns)."""
        select = self.resource * self.T + self.step
        h = sub.contribution_map
        rows = h.matrix[select]
        signs = np.repeat(self.sign, np.diff(rows.indptr))
        return sp.csr_array((rows.data * signs, rows.indices, rows.indptr), shape=rows.shape), \
            self.sign * h.offset[select]

    def band_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices (lower part, upper part) of the two rows of each band resource and step."""
        lower = np.flatnonzero((self.sign < 0) & ~self.equality)
        upper = np.flatnonzero((self.sign > 0) & ~self.equality)
        key = {(r, t): k for k, r, t in zip(upper, self.resource[upper], self.step[upper])}
        pairs = [(k, key[(r, t)]) for k, r, t in zip(lower, self.resource[lower], self.step[lower]) if (r, t) in key]
        return np.array([a for a, _ in pairs], dtype=int), np.array([b for _, b in pairs], dtype=int)

    def values(self, contribution: np.ndarray) -> np.ndarray:
        """Row values s_k h_r,t from a contribution array of shape (resources, T)."""
        return self.sign * contribution[self.resource, self.step]

    def local_range(self, sub: CompiledSubproblem) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the range [lo_k, hi_k] of this agent's row value over its variable bounds (interval
        arithmetic: exact for rows that read one bounded variable, an over-estimate otherwise).  A row whose range
        is unbounded that way gets the range of its two LPs over the agent's (relaxed) constraints."""
        g, g0 = self.local_rows(sub)
        lower, upper = sub.column_bounds()
        row = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
        d, column = g.data, g.indices
        with np.errstate(invalid="ignore"):  # 0 x inf: a zero entry adds nothing
            lows = np.where(d > 0, d * lower[column], np.where(d < 0, d * upper[column], 0.0))
            highs = np.where(d > 0, d * upper[column], np.where(d < 0, d * lower[column], 0.0))
        lo = np.bincount(row, weights=lows, minlength=g.shape[0]) + g0
        hi = np.bincount(row, weights=highs, minlength=g.shape[0]) + g0
        for k in np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi))):
            lo[k], hi[k] = sub.linear_range(g[[k]], g0[k])
        return lo, hi

    def relative_violation(self, residual: np.ndarray) -> float:
        """max over rows of the violation (|r_k| on equality rows, max(r_k, 0) otherwise) of the residuals
        r_k = row value - b_k, each relative to the scale S_r of its resource (as the results measure it: its
        largest |b|, or the reach of a balance whose right-hand side is 0, see ``scale``)."""
        violation = np.where(self.equality, np.abs(residual), np.maximum(residual, 0.0))
        return float(np.max(violation / self.scale[self.resource])) if violation.size else 0.0

    def prices(self, multipliers: np.ndarray, step_h: float) -> np.ndarray:
        """Prices, shape (resources, T), from row multipliers mu_k: per unit and hour for a per-step resource
        (mu_k is cost per unit and step), per unit of energy as they stand for a horizon resource."""
        out = np.zeros((self.n_resources, self.T))
        np.add.at(out, (self.resource, self.step), -self.sign * multipliers)
        return out / np.where(self.per_hour, step_h, 1.0)[:, None]
