"""Every distributed method's local solves, with one retry order and a failure that says why.

Each method solves its agents' local programs (a priced LP or MILP, a relaxed allocation LP, an ADMM or proximal
QP) on the agent's persistent :class:`~ecodec.solvers.matrix.MatrixProblem` through :func:`solve_local`.  A solve
without a solution is tried again, in this order, until one has a solution:

=====  ======================  ==================================================================================
try    attempt                 why
=====  ======================  ==================================================================================
1      :meth:`MatrixProblem.   from the previous basis (a warm start); its own retries come with it: an LP that
       solve`                  ends in a HiGHS error once more from scratch; a QP first by PIQP (option
                               ``qp_solver``), then by HiGHS's QP solver, retried if it does not end optimal with
                               the regularizations 1e-10, 1e-9, 1e-8 and then a primal feasibility tolerance of
                               1e-4 (:mod:`ecodec.solvers.interior_qp`)
2      cold start              the basis dropped: a warm basis left by a program with other costs and bounds
                               (a priced step, a moved allocation) is what a re-solve depends on that a fresh
                               solve does not; an LP whose warm start ends 'infeasible' or in an error is decided
                               again without it (a mixed-integer program restarts its branch and bound)
3      interior point          LPs only: HiGHS's interior point method with crossover, an algorithm whose path
       (``solver = "ipm"``)    depends on no basis and not on the simplex's pivoting tolerances (a QP has no
                               other solver in HiGHS; a MILP's relaxations run the dual simplex whatever is set)
=====  ======================  ==================================================================================

The order goes from what costs least and changes least to what costs most: on the 400-vehicle LP fleets every
local solve of every method ended optimal on the first try (5 iterations of each method, seeds 0-2), so the
retries cost nothing until something fails, and a failure that every attempt confirms
('infeasible' from a warm start, a cold start and the interior point method alike) is the program's, not the
solver's.  Then :class:`~ecodec.errors.SolveError` names the method, the agent and its kind, the iteration, the
status of every attempt, the ranges of the program's numbers at that moment (smallest and largest nonzero |cost|,
|bound|, |matrix entry| and |Hessian entry|: the conditioning the solver saw) and the method's own numbers for
that agent (its penalty, step, prices), e.g.::

    tracking-admm: the local problem of agent 'ev12' (ev) has no solution at iteration 3; attempts: warm start
    infeasible, QP regularization 1e-10 infeasible, ..., cold start infeasible; program (50 columns, 27 rows):
    |cost| 0.012..4.1e+03, |bound| 0.33..7.2, |matrix entry| 0.33..1, |Hessian entry| 1..1; tracking-admm's
    numbers: c = 0.0021, max |lambda_i| = 0.4; check that the agent can operate within its own limits
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ecodec.errors import SolveError
from ecodec.solvers.compiled import CompiledSubproblem
from ecodec.solvers.matrix import MatrixProblem, MatrixSolution

log = logging.getLogger(__name__)

#: The attempts after the program's own :meth:`MatrixProblem.solve`, in order (the module docstring says why)
RETRIES = ("cold start", "interior point")

Numbers = Mapping[str, float] | Callable[[], Mapping[str, float]]


def _retry(program: MatrixProblem, attempt: str) -> MatrixSolution | None:
    """One retry of :data:`RETRIES`; None when it does not apply to this program."""
    if attempt == "cold start":
        program.forget_basis()
        return program.solve()
    if attempt == "interior point":
        if program.is_mixed_integer or program.is_quadratic:
            return None
        return program.solve_with(solver="ipm")
    raise ValueError(f"unknown retry {attempt!r}; expected one of {RETRIES}")


def solve_local(sub: CompiledSubproblem, method: str, iteration: int | str | None, numbers: Numbers = (), *,
                what: str = "the local problem", hint: str = "check that the agent can operate within its own "
                "limits", start=None) -> MatrixSolution:
    """Solve agent ``sub``'s program; on no solution retry in the order of the module docstring, and raise
    :class:`~ecodec.errors.SolveError` when every attempt fails.

    ``iteration``: the method's iteration as shown to users (from 1; None during set-up; a text such as "at the
    recovery" is used as it is); ``numbers``: the method's own numbers for this agent (name -> value), or a
    function giving them (called on failure only); ``what``: which of the agent's programs it is (in the message);
    ``start``: a first incumbent for the first attempt of a mixed-integer program (:meth:`MatrixProblem.solve`).

    >>> import numpy as np, scipy.sparse as sp
    >>> from ecodec.solvers.matrix import MatrixProblem
    >>> class Agent:  # what solve_local reads of a compiled subproblem
    ...     agent_name, kind = "ev1", "ev"
    ...     program = MatrixProblem([1.0, 2.0], [0.0, 0.0], [4.0, 4.0], sp.csr_array([[1.0, 1.0]]), [10.0], [np.inf])
    >>> try:  # 10 kWh asked of two columns of at most 4: infeasible on every attempt
    ...     solve_local(Agent(), "dual-subgradient", 7, {"step": 0.5})
    ... except SolveError as error:
    ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
    dual-subgradient: the local problem of agent 'ev1' (ev) has no solution at iteration 7; attempts: no basis
    infeasible, cold start infeasible, interior point infeasible; program (2 columns, 1 rows): |cost| 1..2, |bound|
    4..10, |matrix entry| 1..1; dual-subgradient's numbers: step = 0.5; check that the agent can operate within its
    own limits
    """
    program = sub.program
    solution = program.solve(start)
    attempts = list(program.attempts)
    retried = False
    for attempt in RETRIES:
        if solution.has_solution:
            break
        again = _retry(program, attempt)
        if again is None:
            continue
        log.debug("%s: agent '%s': %s without a solution (%s); retried: %s", method, sub.agent_name, what,
                  solution.status, attempt)
        attempts += [(f"{attempt}" if step in ("no basis", "warm start") else f"{attempt}, {step}", status)
                     for step, status in program.attempts]
        solution, retried = again, True
    if solution.has_solution:
        if retried:
            log.info("%s: agent '%s': %s solved after %d attempts (%s)", method, sub.agent_name, what,
                     len(attempts), ", ".join(f"{a} {s}" for a, s in attempts))
        return solution
    own = dict(numbers() if callable(numbers) else numbers)
    raise SolveError(failure_message(sub, method, iteration, attempts, own, what, hint))


def failure_message(sub: CompiledSubproblem, method: str, iteration: int | str | None, attempts: list[tuple[str, str]],
                    numbers: Mapping[str, float], what: str, hint: str) -> str:
    """The text of the :class:`SolveError` of :func:`solve_local` (its module docstring shows one).

    >>> import numpy as np, scipy.sparse as sp
    >>> from ecodec.solvers.matrix import MatrixProblem
    >>> class Agent:
    ...     agent_name, kind = "b", "battery"
    ...     program = MatrixProblem([0.5, -2.0], [0.0, 0.0], [3.0, 3.0], sp.csr_array([[1.0, 4.0]]), [1.0], [1.0])
    >>> failure_message(Agent(), "tightening", None, [("no basis", "error")], {"price": 1.5}, "the priced problem",
    ...                 "")  # doctest: +NORMALIZE_WHITESPACE
    "tightening: the priced problem of agent 'b' (battery) has no solution during set-up; attempts: no basis error;
    program (2 columns, 1 rows): |cost| 0.5..2, |bound| 1..3, |matrix entry| 1..4; tightening's numbers: price = 1.5"
    """
    program = sub.program
    when = (iteration if isinstance(iteration, str) else "during set-up" if iteration is None
            else f"at iteration {iteration}")
    ranges = "; ".join([", ".join(f"|{_LABELS[key]}| {low:.3g}..{high:.3g}" if high else f"no nonzero {_LABELS[key]}"
                                  for key, (low, high) in program.data_ranges().items())])
    own = ", ".join(f"{name} = {float(value):.4g}" for name, value in numbers.items())
    text = (f"{method}: {what} of agent '{sub.agent_name}' ({sub.kind}) has no solution {when}; attempts: "
            f"{', '.join(f'{a} {s}' for a, s in attempts)}; program ({program.n_cols} columns, {program.n_rows} "
            f"rows): {ranges}")
    if own:
        text += f"; {method}'s numbers: {own}"
    return text + (f"; {hint}" if hint else "")


_LABELS = {"cost": "cost", "bound": "bound", "matrix": "matrix entry", "hessian": "Hessian entry"}

__all__ = ["RETRIES", "failure_message", "solve_local"]
