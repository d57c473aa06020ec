"""The registry of agent kinds: every kind a case may hold, by its name.

An agent module registers its class with the :func:`register_agent_kind` decorator; the workbook schema
(:mod:`ecodec.io.schema`: sheets, template, docs table) and :func:`ecodec.problem.problem_from_case` read the
registry and the classes' declarations, so a new kind is one module.  Agents coupled through resources and
agents coupled through aggregates (the market's buyers and sellers) are kept apart: a case holds one or the other.
"""

from __future__ import annotations

import dataclasses

from ecodec.models.base import AggregativeAgent, Agent
from ecodec.models.parameters import DECLARED, NAME

#: Agents coupled through resources, by kind, in registration order
AGENT_CLASSES: dict[str, type[Agent]] = {}
#: Agents coupled through aggregates, by kind (a case holds either these or resource-coupled agents)
AGGREGATIVE_CLASSES: dict[str, type[AggregativeAgent]] = {}


def register_agent_kind(cls: type) -> type:
    """Register an agent class (a class decorator): it gets a workbook sheet, a template sheet and a docs table.

    The class must subclass :class:`Agent` or :class:`AggregativeAgent`, be a dataclass whose every parameter is
    declared with :func:`~ecodec.models.parameters.parameter`, name a kind and a sheet no other kind uses, and
    carry a valid example row.  Raises TypeError or ValueError otherwise.
    """
    if not (isinstance(cls, type) and issubclass(cls, (Agent, AggregativeAgent)) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r}: an agent kind is a dataclass subclass of Agent or AggregativeAgent")
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
    registry = AGGREGATIVE_CLASSES if issubclass(cls, AggregativeAgent) else AGENT_CLASSES
    registry[cls.kind] = cls
    return cls


def agent_classes() -> tuple[type, ...]:
    """Every registered kind: the resource-coupled ones, then the aggregative ones, each in registration order."""
    return (*AGENT_CLASSES.values(), *AGGREGATIVE_CLASSES.values())


def agent_class(kind: str) -> type:
    """The class of ``kind``; KeyError naming the known kinds otherwise."""
    registry = {**AGENT_CLASSES, **AGGREGATIVE_CLASSES}
    if kind not in registry:
        raise KeyError(f"unknown agent kind {kind!r}; known kinds: {', '.join(registry)}")
    return registry[kind]
