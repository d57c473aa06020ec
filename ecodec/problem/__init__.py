"""Coupled problems: agents + coupling resources -> centralized model or local subproblems."""

from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.problem.from_case import problem_from_case
from ecodec.problem.resource import SENSES, CouplingResource

__all__ = ["SENSES", "AggregativeProblem", "BuiltModel", "CoupledProblem", "CouplingResource",
           "problem_from_case"]
