"""The registry of agent kinds: every kind a case may hold, by its name.

An agent module registers its class with the :func:`register_agent_kind` decorator; the workbook schema
(:mod:`ecodec.io.schema`: sheets, template, docs table) and :func:`ecodec.problem.problem_from_case` read the
registry and the classes' declarations, so a new kind is one module.  Each agent base class names the problem
kind its agents make (``problem_kind``): agents coupled through resources, agents coupled through aggregates (the
market's buyers and sellers) and the prosumer nodes of online energy sharing are kept apart, since a case holds
agents of one problem kind.
"""

from __future__ import annotations

import dataclasses

from ecodec.models.base import AggregativeAgent, Agent, SharingAgent
from ecodec.models.parameters import DECLARED, NAME, DeclaredAgent

#: Agents coupled through resources, by kind, in registration order
AGENT_CLASSES: dict[str, type[Agent]] = {}
#: Agents coupled through aggregates, by kind (a case holds either these or resource-coupled agents)
AGGREGATIVE_CLASSES: dict[str, type[AggregativeAgent]] = {}
#: Prosumer nodes of an online energy-sharing problem, by kind
SHARING_CLASSES: dict[str, type[SharingAgent]] = {}
#: The registries by the problem kind their agents make (a case holds agents of one problem kind); a base class
#: naming another problem kind gets its own registry when its first kind registers
CLASSES_BY_PROBLEM_KIND: dict[str, dict[str, type]] = {
    "coupled": AGENT_CLASSES, "aggregative": AGGREGATIVE_CLASSES, "online-sharing": SHARING_CLASSES}


def register_agent_kind(cls: type) -> type:
    """Register an agent class (a class decorator): it gets a workbook sheet, a template sheet and a docs table.

    The class must subclass :class:`Agent` or :class:`AggregativeAgent`, be a dataclass whose every parameter is
    declared with :func:`~ecodec.models.parameters.parameter`, name a kind and a sheet no other kind uses, and
    carry a valid example row.  Raises TypeError or ValueError otherwise.
    """
    if not (isinstance(cls, type) and issubclass(cls, DeclaredAgent) and dataclasses.is_dataclass(cls)
            and isinstance(getattr(cls, "problem_kind", None), str)):
        raise TypeError(f"{cls!r}: an agent kind is a dataclass subclass of an agent base class (Agent, "
                        "AggregativeAgent, SharingAgent, DeploymentAgent), which names its problem kind")
    missing = [a for a in ("kind", "sheet", "sheet_description", "outputs", "example") if not getattr(cls, a, None)]
    if missing:
        raise TypeError(f"{cls.__name__} declares no {', '.join(missing)}")
    undeclared = [f.name for f in dataclasses.fields(cls)
                  if f.init and f.name != NAME.name and DECLARED not in f.metadata]
    if undeclared:
        raise TypeError(f"{cls.__name__}: parameters {', '.join(undeclared)} are not declared with parameter()")
    names = {NAME.name, *(p.name for p in cls.parameters())}
    for rule in cls.rules:
        if not names.issuperset(rule.names):
            raise TypeError(f"{cls.__name__}: rule '{rule.expected}' reads unknown names "
                            f"{', '.join(sorted(set(rule.names) - names))}")
    for other in agent_classes():
        if cls.kind == other.kind or cls.sheet == other.sheet:
            raise ValueError(f"{cls.__name__}: kind '{cls.kind}' or sheet '{cls.sheet}' is taken by {other.__name__}")
    cls.example_agent()  # the documented example must be a valid agent
    CLASSES_BY_PROBLEM_KIND.setdefault(cls.problem_kind, {})[cls.kind] = cls
    return cls


def agent_classes() -> tuple[type, ...]:
    """Every registered kind: the resource-coupled ones, the aggregative ones, then the sharing nodes, each in
    registration order."""
    return tuple(cls for registry in CLASSES_BY_PROBLEM_KIND.values() for cls in registry.values())


def agent_class(kind: str) -> type:
    """The class of ``kind``; KeyError naming the known kinds otherwise."""
    registry = {cls.kind: cls for cls in agent_classes()}
    if kind not in registry:
        raise KeyError(f"unknown agent kind {kind!r}; known kinds: {', '.join(registry)}")
    return registry[kind]
