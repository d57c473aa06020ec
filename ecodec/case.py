"""The Case: a validated, solver-independent description of one energy community or microgrid.

A Case is what :mod:`ecodec.io` reads from a workbook (or what code builds directly): agents with their
parameters, coupling resources, time-series profiles and the communication graph.  Parameters that vary in
time are numpy arrays of length ``T``; constants are floats.  Nothing here knows about Pyomo or Excel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ParamValue = float | int | bool | str | np.ndarray


@dataclass
class AgentSpec:
    """One agent row: its kind (the workbook sheet), its unique name and its parameters by column name."""

    kind: str
    name: str
    params: dict[str, ParamValue]
    row: int | None = None


@dataclass
class ResourceSpec:
    """One coupling resource row: ``sense`` is one of ``==``, ``<=``, ``>=`` or ``band`` (rhs <= lhs <= rhs_upper)."""

    name: str
    sense: str
    rhs: np.ndarray
    rhs_upper: np.ndarray | None
    unit: str
    description: str = ""
    row: int | None = None
    scope: str = "step"  # 'step': at every step; 'horizon': once, on the energy over the horizon


@dataclass
class Case:
    """Everything needed to build the coupled problem of one case.

    The communication graph is ``edges`` when there are any (``topology`` is then ``sheet``), else the named
    ``topology`` over the agents in order; ``edge_probability`` and ``seed`` parametrise ``erdos_renyi``
    (see :func:`ecodec.network.network_from_case`).
    """

    name: str
    T: int
    step_h: float
    currency: str = "EUR"
    description: str = ""
    start: str = ""
    agents: list[AgentSpec] = field(default_factory=list)
    resources: list[ResourceSpec] = field(default_factory=list)
    profiles: dict[str, np.ndarray] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    topology: str = "sheet"
    edge_probability: float | None = None
    seed: int = 0
    driver_options: dict[str, dict[str, object]] = field(default_factory=dict)
    driver_rows: dict[tuple[str, str], int] = field(default_factory=dict)  # (driver, option) -> its 'drivers' row
    source: Path | None = None
    input_files: list[Path] = field(default_factory=list)  # the workbook, then every time-series file read, in order
    workspace: dict[str, object] | None = None  # a deployment case: the 'workspace' row
    targets: list[dict[str, object]] = field(default_factory=list)  # a deployment case: the target's Gaussians

    def agent_names(self) -> list[str]:
        return [a.name for a in self.agents]

    def agents_of_kind(self, kind: str) -> list[AgentSpec]:
        return [a for a in self.agents if a.kind == kind]
