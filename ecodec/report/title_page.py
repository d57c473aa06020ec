"""The title page of the report: what was solved, from which files, on which machine, with which software.

Everything here is read from the runs' ``info`` as recorded when they ran (the report only reads results):
``inputs`` (SHA-256 of the workbook and its time-series files, added by the study layer), ``machine`` (host, CPU,
cores, operating system, Python: :func:`ecodec.versions.machine_facts`), ``versions``, ``started_at`` and
``wall_time_s`` of each run, ``options`` and ``stopping``.  Runs saved before a fact was recorded still render:
the line is left out or says "not recorded".
"""

from __future__ import annotations

from datetime import datetime, timezone

from reportlab.lib.units import mm

from ecodec.report.pdf import FRAME_WIDTH, paragraph, spacer, table
from ecodec.report.tables import value_text
from ecodec.results.case_summary import CaseSummary
from ecodec.results.comparison import Comparison
from ecodec.results.run_result import RunResult

_MACHINE = (("host", "host"), ("cpu", "CPU"), ("cores", "logical cores"), ("os", "operating system"),
            ("python", "Python"))


def title_page(runs: list[RunResult], comparison: Comparison, summary: CaseSummary | None) -> list:
    """The flowables of the title page (the reference run first in ``runs``)."""
    reference = runs[0]
    methods = ", ".join(f"{run.method}{' (reference)' if k == 0 else ''}" for k, run in enumerate(runs))
    facts = [["case", comparison.case_name], ["methods", methods]]
    if summary is not None:
        s = summary
        counts = ", ".join(f"{len(s.agents_of(kind))} {kind}" for kind in s.kinds())
        facts += [["horizon", f"{s.T} steps of {s.step_h:g} h ({s.T * s.step_h:g} h)"],
                  ["agents", f"{len(s.agents)}: {counts}"],
                  *([["coupling resources", ", ".join(f"{r['name']} [{r['unit']}]" for r in s.resources)]]
                    if s.resources else []),
                  ["communication network", s.network["description"]]]
    facts += [["report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")]]
    out = [spacer(8), paragraph("ecodec report", "title"),
           paragraph(f"Case {comparison.case_name}: centralized and distributed solutions compared", "subtitle"),
           table(facts, [45 * mm, FRAME_WIDTH - 45 * mm], wrap=True, header=False)]
    out += _inputs(runs) + _runs(runs) + _machine_and_software(runs)
    out += [spacer(3), paragraph("Options", "h2"), table(option_rows(runs), wrap=True,
                                                         column_widths=[40 * mm, FRAME_WIDTH - 40 * mm])]
    return out


def _inputs(runs: list[RunResult]) -> list:
    """The input files and their SHA-256, as the reference recorded them (the others' if it has none)."""
    recorded = next((run.info["inputs"] for run in runs if run.info.get("inputs")), None)
    if not recorded:
        return [spacer(3), paragraph("Input files: not recorded (runs saved by an older ecodec, or a case built "
                                     "in Python).", "small")]
    rows = [["input file", "SHA-256"]] + [[name, str(digest)] for name, digest in recorded.items()]
    out = [spacer(3), paragraph("Input files", "h2"), table(rows, [45 * mm, FRAME_WIDTH - 45 * mm], wrap=True,
                                                            align_right_from=2)]
    differing = [run.method for run in runs if run.info.get("inputs") not in (None, recorded)]
    if differing:
        out.append(paragraph(f"Runs made from other input files: {', '.join(differing)}.", "small"))
    return out


def _runs(runs: list[RunResult]) -> list:
    """Each run's start (UTC) and wall time."""
    rows = [["run", "started", "wall time [s]"]]
    for run in runs:
        started = str(run.info.get("started_at") or "not recorded").replace("T", " ").replace("+00:00", " UTC")
        wall = run.info.get("wall_time_s")
        rows.append([run.method, started, f"{float(wall):.2f}" if isinstance(wall, (int, float)) else "n/a"])
    return [spacer(3), paragraph("Runs", "h2"), table(rows, [60 * mm, 50 * mm, 30 * mm], align_right_from=2)]


def _machine_and_software(runs: list[RunResult]) -> list:
    """The machine of the reference run beside the software versions (and which runs differ in either)."""
    import matplotlib
    import reportlab

    reference = runs[0]
    machine = dict(reference.info.get("machine") or {})
    hardware = [[label, value_text(machine[key])] for key, label in _MACHINE if key in machine]
    versions = dict(reference.info.get("versions", {}))
    software = [[name, str(value)] for name, value in versions.items()]
    software += [["matplotlib (figures)", matplotlib.__version__], ["reportlab (document)", reportlab.Version]]
    if reference.info.get("solver"):
        software.append([f"solver of {reference.method}", str(reference.info["solver"])])
    rows = [["machine", "", "software", "version"]]
    for k in range(max(len(hardware), len(software))):
        rows.append((hardware[k] if k < len(hardware) else ["", ""]) + (software[k] if k < len(software) else ["", ""]))
    if not machine:
        rows[1][:2] = ["not recorded", "(runs saved by an older ecodec)"]
    out = [spacer(3), paragraph("Machine and software", "h2"),
           table(rows, [28 * mm, 70 * mm, 40 * mm, FRAME_WIDTH - 138 * mm], wrap=True, align_right_from=4)]
    other_machine = [run.method for run in runs[1:] if run.info.get("machine", machine) != machine]
    if other_machine:
        out.append(paragraph(f"Runs made on another machine: {', '.join(other_machine)}.", "small"))
    differing = [run.method for run in runs[1:] if run.info.get("versions", versions) != versions]
    if differing:
        out.append(paragraph(f"Runs made with other versions than {reference.method}: {', '.join(differing)} "
                             "(see Run details).", "small"))
    return out


def option_rows(runs: list[RunResult]) -> list[list[str]]:
    """Every run's options and stopping rules, one row each."""
    rows = [["method", "options"]]
    for run in runs:
        options = ", ".join(f"{k} = {value_text(v)}" for k, v in run.info.get("options", {}).items()) or "defaults"
        rows.append([run.method, options])
        stopping = run.info.get("stopping")
        if stopping:
            rows.append([f"{run.method}, stopping", ", ".join(f"{k} = {value_text(v)}" for k, v in stopping.items())])
    return rows
