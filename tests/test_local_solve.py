"""The local solves of the distributed methods (ecodec.decomposition.local_solve): the retry order, the failure
message with its numbers, and a method run that stops with that error."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import make_problem
from ecodec.cli import main
from ecodec.decomposition import StoppingRules, options_for, run
from ecodec.decomposition.local_solve import RETRIES, solve_local
from ecodec.errors import SolveError
from ecodec.models.grid import Grid
from ecodec.network import CommunicationNetwork
from ecodec.solvers.matrix import MatrixProblem, MatrixSolution


class _Agent:
    """What solve_local reads of a compiled subproblem: its program, name and kind."""

    def __init__(self, program: MatrixProblem, name: str = "ev7", kind: str = "ev"):
        self.program, self.agent_name, self.kind = program, name, kind


def _lp(lower_total: float = 3.0) -> MatrixProblem:
    """min x0 + 2 x1  s.t.  x0 + x1 >= lower_total,  0 <= x0 <= 10,  0 <= x1 <= 5: by hand x = (3, 0), cost 3."""
    return MatrixProblem([1.0, 2.0], [0.0, 0.0], [10.0, 5.0], sp.csr_array([[1.0, 1.0]]), [lower_total], [np.inf])


def _failing_first(monkeypatch, program: MatrixProblem, k: int) -> list[str]:
    """Make the program's first k HiGHS solves end in an error; returns the log of what ran (the retry that ran,
    read from the program's state: the basis it started from, the HiGHS solver option)."""
    ran: list[str] = []
    real = MatrixProblem.solve

    def solve(self, start=None):
        solver = self._h.getOptionValue("solver")[1]
        basis = self._h.getBasis().valid
        ran.append("ipm" if solver == "ipm" else ("warm" if basis else "cold"))
        if len(ran) <= k:
            self.attempts = [("warm start" if basis else "no basis", "error")]
            return MatrixSolution("error", None, None, None, 0.0)
        return real(self, start)

    monkeypatch.setattr(program, "solve", solve.__get__(program))
    return ran


def test_retries_run_in_the_documented_order_and_stop_at_the_first_solution(monkeypatch):
    assert RETRIES == ("cold start", "interior point")
    for k, expected in ((0, ["warm"]), (1, ["warm", "cold"]), (2, ["warm", "cold", "ipm"])):
        program = _lp()
        program.solve()  # a basis to start from, as in a method's second iteration
        ran = _failing_first(monkeypatch, program, k)
        solution = solve_local(_Agent(program), "dual-subgradient", 2)
        assert ran == expected
        np.testing.assert_allclose(solution.x, [3.0, 0.0], atol=1e-9)  # the hand optimum, whichever attempt
        assert solution.objective == pytest.approx(3.0)
        assert program._h.getOptionValue("solver")[1] == "choose"  # the interior point option is put back


def test_a_program_failing_every_attempt_raises_with_every_status_and_the_numbers(monkeypatch):
    program = _lp()
    program.solve()
    ran = _failing_first(monkeypatch, program, 3)
    with pytest.raises(SolveError) as caught:
        solve_local(_Agent(program), "proximal-dual", 12, lambda: {"c(k)": 0.25})
    assert ran == ["warm", "cold", "ipm"]
    text = str(caught.value)
    assert text.startswith("proximal-dual: the local problem of agent 'ev7' (ev) has no solution at iteration 12")
    assert "attempts: warm start error, cold start error, interior point error;" in text
    # the program's numbers, by hand: costs 1 and 2, bounds 3 (row), 5 and 10 (columns), matrix entries 1
    assert "program (2 columns, 1 rows): |cost| 1..2, |bound| 3..10, |matrix entry| 1..1;" in text
    assert "proximal-dual's numbers: c(k) = 0.25" in text


@pytest.mark.parametrize("solver", ["piqp", "highs"])
def test_an_infeasible_qp_goes_through_the_programs_own_retries_first_then_a_cold_start(solver):
    program = _lp(lower_total=20.0)  # x0 + x1 >= 20 with x0 <= 10, x1 <= 5: infeasible
    program.set_hessian(sp.csc_array(np.diag([4.0, 0.5])), solver=solver)
    with pytest.raises(SolveError) as caught:
        solve_local(_Agent(program, "b", "battery"), "tracking-admm", 3, {"c": 1e-3})
    text = str(caught.value)
    piqp, cold_piqp = ("PIQP infeasible, ", "cold start, PIQP infeasible, ") if solver == "piqp" else ("", "")
    own = "QP regularization 1e-10 infeasible, QP regularization 1e-09 infeasible, QP regularization 1e-08 infeasible"
    cold = (f"{cold_piqp}cold start infeasible, cold start, QP regularization 1e-10 infeasible, cold start, QP "
            "regularization 1e-09 infeasible, cold start, QP regularization 1e-08 infeasible")
    # PIQP first (with solver piqp), then HiGHS's QP solver and its retries; no HiGHS interior point for a QP
    assert f"attempts: {piqp}no basis infeasible, {own}, {cold};" in text
    assert "|bound| 5..20" in text and "|Hessian entry| 0.5..4" in text and "c = 0.001" in text


def test_a_milp_gets_a_cold_start_but_no_interior_point():
    program = MatrixProblem([1.0, 1.0], [0.0, 0.0], [1.0, 1.0], sp.csr_array([[1.0, 1.0]]), [1.5], [1.5],
                            integer=[True, True])  # x0 + x1 = 1.5 with binaries: infeasible (its LP relaxation is not)
    with pytest.raises(SolveError) as caught:
        solve_local(_Agent(program), "tightening", None, what="the priced problem")
    assert "the priced problem of agent 'ev7' (ev) has no solution during set-up" in str(caught.value)
    assert "attempts: no basis infeasible, cold start infeasible; program" in str(caught.value)


def _hand_pair():
    cheap = Grid(name="cheap", p_min_kw=0.0, p_max_kw=8.0, buy_price_per_kwh=1.0, sell_price_per_kwh=0.0)
    dear = Grid(name="dear", p_min_kw=0.0, p_max_kw=10.0, buy_price_per_kwh=2.0, sell_price_per_kwh=0.0)
    problem = make_problem([cheap, dear], 1.0, active_power=[10.0], reactive_power=[0.0])
    return problem, CommunicationNetwork.from_edges(["cheap", "dear"], [("cheap", "dear")])


def _break_agent(monkeypatch, agent: str, after: int) -> None:
    """Every solve of ``agent``'s program after its first ``after`` ends infeasible (retries included)."""
    real, calls = MatrixProblem.solve, {"n": 0}

    def solve(self, start=None):
        if not self.name.endswith(f":{agent}"):
            return real(self, start)
        calls["n"] += 1
        if calls["n"] <= after:
            return real(self, start)
        self.attempts = [("warm start", "infeasible")]
        return MatrixSolution("infeasible", None, None, None, 0.0)

    monkeypatch.setattr(MatrixProblem, "solve", solve)


@pytest.mark.parametrize(("method", "program", "own", "iteration", "chosen"), [
    ("dual-subgradient", "priced", "a_k = ", 3, {}), ("tracking-admm", "local", "c = ", 2, {}),
    ("proximal-dual", "priced", "c(k) = ", 3, {}), ("primal-decomposition", "local", "c = ", 3, {}),
    ("primal-decomposition", "local", "M_i = ", 3, {"allocation_update": "subgradient"})])
def test_a_method_run_stops_with_the_error_naming_agent_iteration_and_its_numbers(monkeypatch, method, program,
                                                                                  own, iteration, chosen):
    problem, network = _hand_pair()
    # solves before the first iteration: tracking-admm's x^0 (the agent's own optimum); none for the others
    # (primal decomposition's row ranges of a grid come from its bounds, by interval arithmetic)
    setup = {"tracking-admm": 1}.get(method, 0)
    _break_agent(monkeypatch, "dear", setup + iteration - 1)
    with pytest.raises(SolveError) as caught:
        run(problem, network, method, options_for(method, chosen), StoppingRules(max_iterations=10))
    text = str(caught.value)
    assert f"{method}: the {program} problem of agent 'dear' (grid) has no solution at iteration {iteration};" in text
    assert own in text and "|cost|" in text


def test_the_cli_exits_with_code_2_and_the_message(monkeypatch, tmp_path, capsys):
    case = tmp_path / "fleet.xlsx"
    assert main(["generate", "pev", "--n", "4", "--variant", "lp", "-o", str(case)]) == 0
    _break_agent(monkeypatch, "ev2", 0)
    code = main(["run", str(case), "-m", "dual-subgradient", "--max-iterations", "3", "--no-reference", "-o",
                 str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: dual-subgradient: the priced problem of agent 'ev2' (ev) has no solution at iteration 1" in err
    assert "largest |price| = 0" in err and "Traceback" not in err
