"""Benchmark (l): ``ecodec validate`` on hostile workbooks within the size limits, against a shipped case.

The bombs of issue 20 (item 1), each the template's example workbook with sheets' XML replaced:

* ``dimension``: the ``network`` sheet declares ``A1:XFD1048576`` and holds one cell, in row 1048576 (25 KB);
* ``dimension x2``: the same in ``network`` and ``drivers``;
* ``one row``: one row of ``cells`` cells (27 bytes of XML each; 10 million at full size: 257 MiB of XML in a
  0.7 MB file);

and three more that aim at the other limits: ``empty cells`` (one row of empty styled cells nearly filling the
unpacked limit: 470 MiB of XML, only elements to parse), ``many parts`` (a zip of 550 000 empty members within the
file limit: its directory costs memory when the package is opened) and ``cells at the limit`` (a timeseries just
under the cell limit, read whole: what the largest workbook the reader accepts costs).

Each file is validated by ``ecodec validate FILE`` in a fresh process: its wall time and peak memory (the
process's own VmHWM, see :func:`validate`), as ratios against validating ``cases/microgrid_8.xlsx`` in the
same run (median of 3 repeats).  Every bomb must be refused (exit 2, one line naming the file).  The acceptance of the
issue: within start-up time plus a few seconds and under 300 MB.

``--source DIR`` validates with the ecodec of another source tree (e.g. the last commit's, exported with ``git
archive``), ``--memory-cap-mb`` caps each child's address space (RLIMIT_AS): together they measure an older
reader without exhausting the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ecodec.io.schema import MAX_CELLS_PER_WORKBOOK
from ecodec.io.template import example_tables, write_case_workbook

ROOT = Path(__file__).resolve().parents[1]
MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ACCEPT_EXTRA_S, ACCEPT_MB = 3.0, 300.0


@dataclass(frozen=True)
class ReadingResult:
    bomb: str
    file_mb: float
    unpacked_mb: float
    time_s: float
    max_rss_mb: float
    exit_code: int
    message: str
    case_time_s: float
    case_max_rss_mb: float

    @property
    def time_ratio(self) -> float:
        return self.time_s / self.case_time_s

    @property
    def memory_ratio(self) -> float:
        return self.max_rss_mb / self.case_max_rss_mb

    @property
    def within_acceptance(self) -> bool:
        return (self.exit_code == 2 and self.time_s <= self.case_time_s + ACCEPT_EXTRA_S
                and self.max_rss_mb <= ACCEPT_MB)


def _write(base: Path, target: Path, parts: dict[str, object], add: int = 0) -> Path:
    """``base`` with ``parts`` replaced; a value is bytes or an iterable of byte chunks (streamed, never whole in
    memory).  ``add`` empty members are appended."""
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename not in parts:
                dst.writestr(item.filename, src.read(item.filename))
        for name, content in parts.items():
            with dst.open(name, "w", force_zip64=True) as out:
                for chunk in ([content] if isinstance(content, bytes) else content):
                    out.write(chunk)
        for i in range(add):
            dst.writestr(f"{i:x}", b"", compress_type=zipfile.ZIP_STORED)
    return target


def _sheet(rows, dimension: bytes = b""):
    yield (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="' + MAIN + b'">'
           + (b'<dimension ref="' + dimension + b'"/>' if dimension else b"") + b"<sheetData>")
    yield from rows
    yield b"</sheetData></worksheet>"


def _repeated(piece: bytes, count: int, batch: int = 100_000):
    for start in range(0, count, batch):
        yield piece * min(batch, count - start)


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its part in a package ecodec wrote (trusted: parsed with ElementTree)."""
    with zipfile.ZipFile(path) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = {r.get("Id"): r.get("Target").lstrip("/") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return {s.get("name"): rels[s.get(rid)] for s in book.iter(f"{{{MAIN.decode()}}}sheet")}


def build_bombs(folder: Path, cells: int, empty_cells: int, members: int) -> dict[str, Path]:
    """The hostile workbooks, written into ``folder``."""
    base = write_case_workbook(folder / "example.xlsx", example_tables())
    parts = sheet_parts(base)
    last = [b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>']
    cells_per_row = 11
    limit_rows = (MAX_CELLS_PER_WORKBOOK - 5_000) // cells_per_row  # the example's other sheets hold ~2000
    timeseries = [b'<row r="1"><c r="A1" t="inlineStr"><is><t>t</t></is></c>'
                  + b"".join(f'<c t="inlineStr"><is><t>p{j}</t></is></c>'.encode() for j in range(1, cells_per_row))
                  + b"</row>"]
    timeseries += [f'<row r="{r}">'.encode() + b"".join(f"<c><v>{r * 0.5 + j}</v></c>".encode()
                                                        for j in range(cells_per_row)) + b"</row>"
                   for r in range(2, limit_rows + 2)]
    return {
        "dimension": _write(base, folder / "dimension.xlsx", {parts["network"]: b"".join(
            _sheet(last, b"A1:XFD1048576"))}),
        "dimension x2": _write(base, folder / "dimension_x2.xlsx", {parts[s]: b"".join(
            _sheet(last, b"A1:XFD1048576")) for s in ("network", "drivers")}),
        "one row": _write(base, folder / "one_row.xlsx", {parts["network"]: _sheet(
            [b'<row r="1">', *_repeated(b'<c s="0" t="n"><v>1</v></c>', cells), b"</row>"])}),
        "empty cells": _write(base, folder / "empty_cells.xlsx", {parts["network"]: _sheet(
            [b'<row r="1">', *_repeated(b'<c r="A1" s="1"/>', empty_cells), b"</row>"])}),
        "many parts": _write(base, folder / "many_parts.xlsx", {}, add=members),
        "cells at the limit": _write(base, folder / "cells_at_limit.xlsx", {parts["timeseries"]: b"".join(
            _sheet(timeseries))}),
    }


# ``python -m ecodec ARGS`` that also writes its own peak memory (VmHWM) to the file named first
_CHILD = """import sys
peak_file, sys.argv = sys.argv[1], ["ecodec", *sys.argv[2:]]
try:
    from ecodec.cli import main
    code = main()
finally:
    with open("/proc/self/status") as status:
        peak = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    with open(peak_file, "w") as out:
        out.write(peak[0] if peak else "")
sys.exit(code)
"""


def validate(path: Path, source: Path, cap_mb: int | None) -> tuple[float, float, int, str]:
    """Wall time, peak memory in MB, exit code and first error line of ``ecodec validate path`` in a new process.

    The peak is the process's own VmHWM, read as it ends: the ``ru_maxrss`` that ``os.wait4`` reports for a forked
    child keeps the parent's resident size at the fork (Linux carries the high-water mark across exec), which made a
    bomb built in this process look as large as the benchmark; ``ru_maxrss`` stays the fallback (a killed child)."""
    def limit():
        if cap_mb:
            resource.setrlimit(resource.RLIMIT_AS, (cap_mb * 2**20, cap_mb * 2**20))

    env = dict(os.environ, PYTHONPATH=str(source))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, peak.name, "validate", str(path)], stdout=out,
                                 stderr=err, cwd=source, env=env, preexec_fn=limit)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
        written = peak.read().strip()
    peak_mb = int(written) / 1024 if written else usage.ru_maxrss / 1024
    message = lines[-1] if lines else ""
    for line in lines:
        if line.startswith(("error:", "  - ")) or "Error" in line:
            message = line.strip()
            break
    return elapsed, peak_mb, child.returncode, message[:200]


def measure(settings: dict, source: Path = ROOT, cap_mb: int | None = None) -> list[ReadingResult]:
    case = ROOT / "cases" / "microgrid_8.xlsx"
    runs = [validate(case, source, cap_mb) for _ in range(settings["repeats"])]
    if any(code != 0 for _, _, code, _ in runs):
        raise RuntimeError(f"validating {case.name} failed: {runs[0][3]}")
    case_s = statistics.median(r[0] for r in runs)
    case_mb = statistics.median(r[1] for r in runs)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        bombs = build_bombs(Path(folder), settings["cells"], settings["empty_cells"], settings["members"])
        for name, path in bombs.items():
            print(f"(l) validate {name} ...", file=sys.stderr, flush=True)
            with zipfile.ZipFile(path) as z:
                unpacked = sum(m.file_size for m in z.infolist())
            elapsed, mb, code, message = validate(path, source, cap_mb)
            results.append(ReadingResult(name, path.stat().st_size / 2**20, unpacked / 2**20, elapsed, mb, code,
                                         message, case_s, case_mb))
    return results


def reading_table(results: list[ReadingResult]) -> str:
    base = results[0]
    lines = [f"Baseline: `ecodec validate cases/microgrid_8.xlsx`, {base.case_time_s:.2f} s and "
             f"{base.case_max_rss_mb:.0f} MB peak (median of the repeats).  Acceptance: refused (exit 2) within the "
             f"baseline + {ACCEPT_EXTRA_S:g} s and under {ACCEPT_MB:g} MB.",
             "",
             "| workbook | file MB | unpacked MB | exit | time s | time / case | peak MB | peak / case | accepted "
             "| message |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        lines.append(f"| {r.bomb} | {r.file_mb:.2f} | {r.unpacked_mb:.1f} | {r.exit_code} | {r.time_s:.2f} | "
                     f"{r.time_ratio:.2f} | {r.max_rss_mb:.0f} | {r.memory_ratio:.2f} | "
                     f"{'yes' if r.within_acceptance else 'NO'} | {r.message.replace('|', '/')} |")
    return "\n".join(lines)


FULL = {"cells": 10_000_000, "empty_cells": 29_000_000, "members": 550_000, "repeats": 3}
QUICK = {"cells": 1_000_000, "empty_cells": 2_500_000, "members": 20_000, "repeats": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller bombs (the same bounds)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the source tree whose ecodec validates")
    parser.add_argument("--memory-cap-mb", type=int, help="address-space limit of each validating process")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    results = measure(QUICK if args.quick else FULL, args.source.resolve(), args.memory_cap_mb)
    print(reading_table(results))
    if args.json:
        args.json.write_text(json.dumps([dict(asdict(r), time_ratio=r.time_ratio, memory_ratio=r.memory_ratio,
                                              within_acceptance=r.within_acceptance) for r in results], indent=2))
    return 0


__all__ = ["ReadingResult", "measure", "reading_table", "FULL", "QUICK"]

if __name__ == "__main__":
    sys.exit(main())
