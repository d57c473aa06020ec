"""replicate_problem: k copies of the agents with k times the right-hand sides have exactly k times the optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecodec.decomposition.centralized import solve_centralized
from ecodec.errors import ProblemError
from ecodec.io.workbook import read_case
from ecodec.problem import problem_from_case
from ecodec.problem.replicate import replicate_problem

CASE = Path(__file__).resolve().parents[1] / "cases" / "microgrid_8.xlsx"


@pytest.fixture(scope="session")  # once per test process, even when modules interleave
def problem():
    return problem_from_case(read_case(CASE))


def test_three_copies_have_three_times_the_centralized_optimum(problem):
    """The LP case is convex, so the replicated optimum is exactly 3 f* (argument in the module docstring)."""
    original = solve_centralized(problem)
    replicated = solve_centralized(replicate_problem(problem, 3))
    assert original.status == replicated.status == "optimal"
    assert replicated.objective == pytest.approx(3 * original.objective, rel=1e-6)


def test_names_are_unique_suffixed_and_ordered_copy_by_copy(problem):
    replicated = replicate_problem(problem, 3)
    names = [a.name for a in replicated.agents]
    assert len(set(names)) == len(names) == 3 * len(problem.agents)
    assert names == [f"{a.name}_{c}" for c in (1, 2, 3) for a in problem.agents]
    assert [a.kind for a in replicated.agents] == [a.kind for a in problem.agents] * 3


def test_right_hand_sides_scale_and_the_original_is_unchanged(problem):
    before = [(r.rhs.copy(), None if r.rhs_upper is None else r.rhs_upper.copy()) for r in problem.resources]
    replicated = replicate_problem(problem, 3)
    for (rhs, upper), original, scaled in zip(before, problem.resources, replicated.resources):
        np.testing.assert_array_equal(original.rhs, rhs)
        np.testing.assert_array_equal(scaled.rhs, 3 * rhs)
        if upper is not None:
            np.testing.assert_array_equal(scaled.rhs_upper, 3 * upper)
        assert (scaled.name, scaled.sense, scaled.unit) == (original.name, original.sense, original.unit)


@pytest.mark.parametrize("copies", [0, -2, 1.5, True])
def test_invalid_copies_are_refused(problem, copies):
    with pytest.raises(ProblemError, match="copies"):
        replicate_problem(problem, copies)
