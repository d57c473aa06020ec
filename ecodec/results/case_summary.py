"""CaseSummary: what a report says about the case itself, kept with the runs so it can be re-rendered from disk.

A plain JSON-able description built once from the coupled problem and its communication network:

* ``agents``: per agent its name, kind, whether it is mixed-integer, and its workbook parameters; a scalar stays a
  number (or text, or a flag), a time series becomes ``{"min": .., "max": .., "mean": ..}``;
* ``resources``: per coupling resource its name, unit, sense (``==``, ``<=``, ``>=``, ``band``), ``peak``
  |right-hand side| (:func:`ecodec.problem.resource.peak_rhs`: 0 for a balance whose right-hand side is 0) and
  ``scale``, what its relative violations are measured against (the peak, or the reach of a balance whose
  right-hand side is 0: :meth:`ecodec.problem.coupled.CoupledProblem.violation_scales`; missing in summaries
  saved before it was recorded);
* ``network``: topology, agents in order, edges, and the one-line description;
* ``problem_kind`` and ``report_sections``: the problem's kind and the report sections its kind declares
  (:data:`ecodec.vocabulary.REPORT_SECTIONS`); empty in summaries saved before they were recorded (a report then
  shows every section it has something for);
* ``labels``: what figures call things, from where they are declared: ``{"resources": {name: label}}`` from
  :data:`ecodec.carriers.CARRIER_LABELS` and ``{"quantities": {kind: {quantity: label}}}`` from the agents'
  :class:`~ecodec.models.base.Output` declarations; empty in older summaries (a report then humanizes the names).

Reports read it; nothing here solves or reads Excel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ecodec.carriers import CARRIER_LABELS
from ecodec.errors import EcodecError
from ecodec.problem.resource import peak_rhs


@dataclass(frozen=True)
class CaseSummary:
    case: str
    T: int
    step_h: float
    currency: str
    agents: list[dict]
    resources: list[dict]
    network: dict
    problem_kind: str = ""
    report_sections: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)

    def kinds(self) -> list[str]:
        """Agent kinds in the order they first appear."""
        return list(dict.fromkeys(agent["kind"] for agent in self.agents))

    def agents_of(self, kind: str) -> list[dict]:
        return [agent for agent in self.agents if agent["kind"] == kind]

    def to_json_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json_dict(cls, value: object, where: str = "case summary") -> CaseSummary:
        fields = dataclasses.fields(cls)
        missing = dataclasses.MISSING
        names = [f.name for f in fields if f.default is missing and f.default_factory is missing]
        if not isinstance(value, dict) or any(name not in value for name in names):
            raise EcodecError(f"{where}: expected a JSON object with {', '.join(names)}")
        known = {f.name: value[f.name] for f in fields if f.name in value}
        if "report_sections" in known:
            known["report_sections"] = tuple(known["report_sections"])
        return cls(**known)


def case_summary(problem, network) -> CaseSummary:
    """The summary of ``problem`` (a CoupledProblem, or an AggregativeProblem: no resources) and its
    CommunicationNetwork ``network``."""
    agents = [{"name": agent.name, "kind": agent.kind, "mixed_integer": bool(agent.is_mixed_integer()),
               "parameters": _parameters(agent)} for agent in problem.agents]
    resources = []
    if problem.resources:  # a coupled problem (the other kinds have no coupling rows)
        peak = peak_rhs(np.stack([r.lower() for r in problem.resources]),
                        np.stack([r.upper() for r in problem.resources]))
        resources = [{"name": r.name, "unit": r.unit, "sense": r.sense, "peak": float(p), "scale": float(s)}
                     for r, p, s in zip(problem.resources, peak, problem.violation_scales())]
    return CaseSummary(case=problem.name, T=int(problem.grid.T), step_h=float(problem.grid.step_h),
                       currency=problem.currency, agents=agents, resources=resources,
                       network={"topology": network.topology, "agents": list(network.agents),
                                "edges": [list(edge) for edge in network.edges], "description": network.describe()},
                       problem_kind=problem.kind, report_sections=tuple(problem.report_sections),
                       labels=_labels(problem))


def _labels(problem) -> dict:
    """The declared labels of the problem's resources (by carrier) and of its agents' outputs (by kind)."""
    resources = {}
    for r in problem.resources:
        carrier = getattr(r, "carrier", r.name) or r.name
        label = CARRIER_LABELS.get(carrier, "")
        if label and r.name != carrier:  # a horizon-scope row: the energy over the whole horizon
            label = f"{label}, total over the horizon"
        if label:
            resources[r.name] = label
    quantities: dict[str, dict[str, str]] = {}
    for agent in problem.agents:
        declared = {o.quantity: o.label for o in getattr(type(agent), "outputs", ()) if getattr(o, "label", "")}
        if declared:
            quantities.setdefault(agent.kind, declared)
    return {"resources": resources, "quantities": quantities}


def _parameters(agent) -> dict[str, object]:
    out: dict[str, object] = {}
    for field in dataclasses.fields(agent):
        if field.name == "name":
            continue
        value = getattr(agent, field.name)
        if isinstance(value, (bool, np.bool_)):
            out[field.name] = bool(value)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            out[field.name] = float(value)
        elif isinstance(value, str) or value is None:
            out[field.name] = value
        else:
            series = np.asarray(value, dtype=float).ravel()
            if series.size:
                out[field.name] = {"min": float(series.min()), "max": float(series.max()),
                                   "mean": float(series.mean())}
    return out


__all__ = ["CaseSummary", "case_summary"]
