"""What the agents declare about their outputs, recorded in the case summary so the report can draw it.

An :class:`~ecodec.models.base.Output` may declare a *band* (the names of two of its agent's parameters, lo and
hi, with lo_k <= y_k <= hi_k at every step: a zone temperature and its comfort band) and whether it is a
*schedule* (an operating schedule drawn per agent: a chiller's cooling output, a storage's charging).  The report
only reads results, so these declarations travel in the :class:`~ecodec.results.CaseSummary` saved with the runs,
beside the labels the summary already carries (``summary.labels``):

* ``labels["bands"]``: ``{kind: {quantity: [lower parameter, upper parameter]}}``;
* ``labels["schedules"]``: ``{kind: [quantity, ...]}``;
* ``labels["profiles"]``: ``{agent: {parameter: [value per step]}}``, the whole series of every time-series
  parameter a band names (the summary's parameters keep a series only as its range and mean; a constant band
  end is read from the parameters themselves).

A summary saved before these were recorded has none of the three keys, and the report then draws no bands and no
schedules (it never reads the model declarations itself).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ecodec.results import CaseSummary, case_summary


def output_declarations(problem) -> dict[str, dict]:
    """The ``bands``, ``schedules`` and ``profiles`` entries of the summary's labels for ``problem`` (see the module
    docstring); kinds that declare neither are left out.

    >>> import ecodec
    >>> from ecodec.problem import problem_from_case
    >>> declared = output_declarations(problem_from_case(ecodec.read_case("cases/cooling_district_4.xlsx")))
    >>> declared["bands"], declared["schedules"]["cold_storage"]
    ({'building': {'t_zone': ['t_min_c', 't_max_c']}}, ['q_charge', 'q_discharge'])
    >>> len(declared["profiles"]["b1"]["t_min_c"])  # the comfort band is a profile: recorded step by step
    96
    """
    bands: dict[str, dict[str, list[str]]] = {}
    schedules: dict[str, list[str]] = {}
    profiles: dict[str, dict[str, list[float]]] = {}
    for agent in problem.agents:
        outputs = getattr(type(agent), "outputs", ())
        banded = {o.quantity: list(o.band) for o in outputs if len(getattr(o, "band", ())) == 2}
        scheduled = [o.quantity for o in outputs if getattr(o, "schedule", False)]
        if banded:
            bands.setdefault(agent.kind, banded)
        if scheduled:
            schedules.setdefault(agent.kind, scheduled)
        for name in (name for ends in banded.values() for name in ends):
            value = getattr(agent, name)
            if isinstance(value, (np.ndarray, list, tuple)):
                profiles.setdefault(agent.name, {})[name] = [float(v) for v in np.asarray(value, float).ravel()]
    return {"bands": bands, "schedules": schedules, "profiles": profiles}


def summary_with_declarations(problem, network) -> CaseSummary:
    """The case summary of ``problem`` and ``network`` (:func:`~ecodec.results.case_summary`) with the output
    declarations of :func:`output_declarations` among its labels."""
    summary = case_summary(problem, network)
    declared = {key: value for key, value in output_declarations(problem).items() if value}
    return dataclasses.replace(summary, labels={**summary.labels, **declared}) if declared else summary


__all__ = ["output_declarations", "summary_with_declarations"]
