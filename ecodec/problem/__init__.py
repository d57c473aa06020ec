"""Problems: agents and what couples them -> centralized model or local subproblems, one contract for every kind
(:mod:`ecodec.problem.contract`)."""

from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.contract import PROBLEM_KINDS, Problem, problem_kind
from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.problem.deployment import DeploymentProblem, TargetComponent, Workspace
from ecodec.problem.from_case import problem_from_case
from ecodec.problem.online_sharing import Environment, OnlineSharingProblem
from ecodec.problem.resource import SENSES, CouplingResource

__all__ = ["PROBLEM_KINDS", "SENSES", "AggregativeProblem", "BuiltModel", "CoupledProblem", "CouplingResource",
           "DeploymentProblem", "Environment", "OnlineSharingProblem", "TargetComponent", "Workspace", "Problem", "problem_from_case", "problem_kind"]
