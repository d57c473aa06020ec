"""One aggregative agent's functions compiled once for a gradient method: f_i(x, s), its gradients, phi_i(x).

A distributed method on an aggregative problem (:mod:`ecodec.decomposition.aggregative_tracking`) evaluates,
at every iteration and for every agent i, with x its decisions (n values) and s its estimate of the aggregates
(K x T values, aggregates outer, steps inner):

    f_i(x, s)                       cost                                  ``cost(x, s)``
    grad_1 f_i(x, s), grad_2 f_i    gradients in x and in s               ``gradients(x, s)``
    phi_i(x)                        the agent's shares of the aggregates   ``shares(x)``
    grad phi_i(x)' y                the shares' Jacobian (K T x n) times y ``shares_transpose_times(x, y)``
    P_X(x)                          projection on the box of x's bounds    ``project(x)``

They come from :meth:`AggregativeProblem.local_model`: the same agent code as the centralized model, with the
aggregates as variables.  Derivatives are Pyomo's symbolic reverse mode (exact), compiled to Python functions by
:mod:`ecodec.solvers.expression_code` as for the Ipopt bridge.  The agent's decision variables must have finite
bounds (the projection needs a box).

Outputs (the agent's reported quantities) are functions of (x, s) too: at the end of a run they are evaluated
at the true aggregates sigma(x), so they are exactly what the centralized model would report for the same x.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

from ecodec.errors import ProblemError
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.solvers.expression_code import compile_vector, symbolic_gradient


class CompiledAggregativeAgent:
    """The functions of one agent of ``problem`` (see the module docstring)."""

    def __init__(self, problem: AggregativeProblem, agent_name: str):
        agent = problem.agent(agent_name)
        built = problem.local_model(agent)
        m, block, terms = built.model, built.model.agent, built.terms[agent_name]
        self.agent_name, self.kind, self.T = agent_name, agent.kind, problem.grid.T
        self.decision_vars = [v for v in block.component_data_objects(pyo.Var, descend_into=True) if not v.fixed]
        self.sigma_vars = [m.sigma[k, t] for k, t in problem.keys()]
        self.n, self.p = len(self.decision_vars), len(self.sigma_vars)
        variables = self.decision_vars + self.sigma_vars
        index = {id(v): j for j, v in enumerate(variables)}
        self.lower = np.array([-np.inf if v.lb is None else float(v.lb) for v in self.decision_vars])
        self.upper = np.array([np.inf if v.ub is None else float(v.ub) for v in self.decision_vars])
        if not (np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper))):
            raise ProblemError(f"agent '{agent_name}' ({agent.kind}): a projected gradient method needs finite "
                               f"bounds on every decision")
        self.x0 = np.array([float(v.value) if v.value is not None else 0.5 * (lo + hi)
                            for v, lo, hi in zip(self.decision_vars, self.lower, self.upper)])
        self._cost = compile_vector([terms.cost], index, "cost")
        gradient = symbolic_gradient(terms.cost, variables, index)
        self._gradient_cols = np.array([j for j, _ in gradient], dtype=int)
        self._gradient = compile_vector([d for _, d in gradient], index, "gradient")
        shares = [terms.shares[k][t] if k in terms.shares else 0.0 for k, t in problem.keys()]
        self._shares = compile_vector(shares, index, "shares")
        bounds = [(0.0, 0.0) if isinstance(share, float) else compute_bounds_on_expr(share) for share in shares]
        #: bounds of each share phi_i over the box of x (interval arithmetic; -inf / inf where unbounded)
        self.share_lower = np.array([-np.inf if lo is None else lo for lo, _ in bounds])
        self.share_upper = np.array([np.inf if hi is None else hi for _, hi in bounds])
        rows, cols, exprs = [], [], []
        for r, share in enumerate(shares):
            for j, d in symbolic_gradient(share, variables, index) if not isinstance(share, float) else []:
                rows.append(r)
                cols.append(j)
                exprs.append(d)
        self._jac_rows, self._jac_cols = np.array(rows, dtype=int), np.array(cols, dtype=int)
        self._jacobian = compile_vector(exprs, index, "jacobian")
        reported = agent.reported_outputs(block)
        self.outputs = reported
        self.labels = [(o.quantity, o.unit_in(problem.currency)) for o in reported]
        self.decision_quantities = problem.decision_quantities(agent, block)
        self._decision_rows = [k for k, o in enumerate(reported) if o.quantity in self.decision_quantities]
        self._outputs = compile_vector([block.component(o.component)[t] for o in reported for t in problem.grid.steps],
                                       index, "outputs")

    def _point(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.concatenate([x, s])

    def cost(self, x: np.ndarray, s: np.ndarray) -> float:
        return float(self._cost(self._point(x, s))[0])

    def gradients(self, x: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(grad_1 f_i, grad_2 f_i) at (x, s)."""
        out = np.zeros(self.n + self.p)
        if self._gradient_cols.size:
            out[self._gradient_cols] = self._gradient(self._point(x, s))
        return out[: self.n], out[self.n:]

    def shares(self, x: np.ndarray) -> np.ndarray:
        return self._shares(self._point(x, np.zeros(self.p)))

    def shares_transpose_times(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """grad phi_i(x)' y: the direction the aggregates' gradient y gives to x."""
        out = np.zeros(self.n)
        if self._jac_rows.size:
            np.add.at(out, self._jac_cols, self._jacobian(self._point(x, np.zeros(self.p))) * y[self._jac_rows])
        return out

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lower, self.upper)

    def output_values(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The reported quantities (outputs, T) at (x, s)."""
        return self._outputs(self._point(x, s)).reshape(len(self.outputs), self.T)

    def decision_values(self, x: np.ndarray) -> np.ndarray:
        """The outputs that are decisions (``decision_quantities``), (quantities, T); they do not depend on s."""
        return self.output_values(x, np.ones(self.p))[self._decision_rows]
