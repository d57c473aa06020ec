"""The problem contract: what every problem kind declares, so that code downstream reads declarations.

A *problem kind* is one way agents are tied together: through shared resources (:class:`CoupledProblem`, kind
``coupled``), through aggregates of everyone's decisions (:class:`AggregativeProblem`, kind ``aggregative``),
prosumer nodes sharing energy round after round (:class:`OnlineSharingProblem`, kind ``online-sharing``), agents
whose kernels should match a target density (:class:`DeploymentProblem`, kind ``deployment``), and agents holding
copies of global variables agreed by consensus (:class:`StructuredProblem`, kind ``structured``).  Every kind
implements :class:`Problem`:

==========================  =========================================================================================
member                      what it declares
==========================  =========================================================================================
``kind``                    the kind's name; methods declare the kinds they solve by it (:mod:`ecodec.decomposition`)
``problem_class``           what the centralized model is: 'LP', 'MILP', 'QP' or 'NLP' (which solver takes it)
``agents``, ``grid``        its agents in a fixed order and the time grid
``name``, ``currency``      the case's name and the currency of every cost
``agent(name)``             one agent by name
``is_mixed_integer()``      whether an agent has integer decisions
``check()``                 checks the problem's consistency (``ecodec validate``), e.g. by building its model
``centralized_model()``     one Pyomo model of the whole problem (a :class:`~ecodec.problem.BuiltModel`)
``local_model(agent)``      that agent alone, from the same agent code, with what couples it exposed
``coupling_description()``  what couples the agents, in words (``ecodec validate`` prints it)
``report_sections``         which report sections apply (:data:`ecodec.vocabulary.REPORT_SECTIONS`)
``words``                   the kind in words for messages (:class:`~ecodec.vocabulary.KindWords`)
==========================  =========================================================================================

How a solution of a kind is evaluated (its KPIs) is the evaluator its methods use: the coupling rows of a coupled
problem (:mod:`ecodec.results.kpi`: residuals, violations, prices), the cost at the true aggregates of an
aggregative one; both record the same history columns (objective, violation, cost gap, distance).

>>> from ecodec.io.workbook import read_case
>>> from ecodec.problem import problem_from_case
>>> problem = problem_from_case(read_case("cases/community_market.xlsx"))
>>> isinstance(problem, Problem), problem.kind, problem.problem_class, sorted(PROBLEM_KINDS)
(True, 'aggregative', 'NLP', ['aggregative', 'coupled', 'deployment', 'online-sharing', 'structured'])
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from ecodec.models.base import TimeGrid
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.problem.coupled import BuiltModel, CoupledProblem
from ecodec.problem.deployment import DeploymentProblem
from ecodec.problem.online_sharing import OnlineSharingProblem
from ecodec.problem.structured import StructuredProblem
from ecodec.vocabulary import KindWords


@runtime_checkable
class Problem(Protocol):
    """What every problem kind offers (see the module docstring)."""

    kind: ClassVar[str]
    report_sections: ClassVar[tuple[str, ...]]
    words: ClassVar[KindWords]
    agents: list
    grid: TimeGrid
    name: str
    currency: str

    @property
    def problem_class(self) -> str: ...

    def agent(self, name: str): ...

    def is_mixed_integer(self) -> bool: ...

    def check(self) -> None: ...

    def centralized_model(self) -> BuiltModel: ...

    def local_model(self, agent) -> BuiltModel: ...

    def coupling_description(self) -> str: ...


#: Every problem kind ecodec knows, by its name
PROBLEM_KINDS: dict[str, type] = {cls.kind: cls for cls in (CoupledProblem, AggregativeProblem, OnlineSharingProblem,
                                                             DeploymentProblem, StructuredProblem)}


def problem_kind(problem) -> str:
    """The kind of ``problem``; a clear error for an object that is not a problem.

    >>> problem_kind(object())
    Traceback (most recent call last):
    ...
    ecodec.errors.ProblemError: expected a problem (one of the kinds aggregative, coupled, deployment, online-sharing, structured), got object
    """
    from ecodec.errors import ProblemError

    kind = getattr(problem, "kind", None)
    if kind not in PROBLEM_KINDS:
        raise ProblemError(f"expected a problem (one of the kinds {', '.join(sorted(PROBLEM_KINDS))}), got "
                           f"{type(problem).__name__}")
    return kind


__all__ = ["PROBLEM_KINDS", "Problem", "problem_kind"]
