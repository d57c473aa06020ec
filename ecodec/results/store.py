"""Runs on disk: one directory per run, one directory of runs per case.

A run directory (:func:`save_run`, :func:`load_run`) holds

* ``dispatch.csv``, ``coupling.csv``, ``agent_costs.csv``, ``history.csv``, ``contributions.csv``: the tables of the
  :class:`~ecodec.results.RunResult`, floats written with 17 significant digits so they read back bit for bit;
  when the case has a start time, the tables with a step number ``t`` also have a ``time`` column right after
  it (``2019-04-17 00:15:00``: when the step starts, :meth:`~ecodec.results.RunResult.times`), which
  :func:`load_run` leaves out again (the tables in memory keep ``t`` only);
* per ``results_format`` (:data:`~ecodec.vocabulary.RESULTS_FORMATS`): ``results.xlsx``, the same result for people
  (:func:`ecodec.results.workbook.write_results_workbook`; ``"xlsx"``, the default), or ``<table>.parquet`` for
  other programs (:func:`ecodec.results.parquet.write_parquet_table`; ``"parquet"``), or both (``"both"``); a
  save removes the files of the format it does not write, left by an earlier save;
* ``summary.json``: method, case, status, objective, currency, step_h, info, and per table its file, number of
  rows, column dtypes and SHA-256.  Strict JSON, indented: numpy scalars become numbers, arrays and tuples
  lists, dictionary keys and other objects (paths) their text; a non-finite float becomes
  ``{"__float__": "nan"}`` (or ``"inf"``, ``"-inf"``) and reads back as that float.

Reading back restores each column's recorded dtype (a float column of whole numbers stays float) and takes text
verbatim (an agent named ``NA`` stays ``NA``); only numeric columns have missing values (empty cells).  So the
loaded tables equal the saved ones exactly, and so does ``info`` up to the JSON conversions above.

Every file is written through :func:`~ecodec.files.atomic_write`: it appears whole or not at all.
``summary.json`` comes last and records the SHA-256 of each table it describes, so a directory whose re-save was
interrupted (new tables beside the old summary) is reported on load instead of being read as a mix of two runs.

A directory of runs of one case (:func:`save_runs`, :func:`load_runs`) holds one run directory per method,
``<directory>/<method>/``, then ``comparison.json`` (:meth:`Comparison.to_json_dict`) and ``comparison.csv``
(:meth:`Comparison.table`) when a comparison is given (removed otherwise, so a stale comparison never sits
beside new runs), ``seeds_curves.csv`` and ``seeds_levels.csv`` (:class:`~ecodec.results.online_seeds.SeedRuns`:
an online comparison over several seeds) when given, ``case.json``
(:class:`~ecodec.results.case_summary.CaseSummary`: agents, resources, network, for reports) when given, and last ``runs.json``: the case and the methods in the order they were saved.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecodec.errors import EcodecError
from ecodec.files import atomic_write
from ecodec.results.case_summary import CaseSummary
from ecodec.results.comparison import Comparison
from ecodec.results.online_seeds import SeedRuns
from ecodec.results.parquet import write_parquet_table
from ecodec.results.run_result import RunResult
from ecodec.results.tables import with_time
from ecodec.results.workbook import write_results_workbook
from ecodec.vocabulary import CENTRALIZED, RESULTS_FORMATS

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the contributions table
SUMMARY, WORKBOOK, MANIFEST = "summary.json", "results.xlsx", "runs.json"
COMPARISON_JSON, COMPARISON_CSV = "comparison.json", "comparison.csv"
CASE_JSON = "case.json"
SEED_CURVES, SEED_LEVELS = "seeds_curves.csv", "seeds_levels.csv"
TABLES = ("dispatch", "coupling", "agent_costs", "history", "contributions")
FLOAT_FORMAT = "%.17g"  # 17 significant digits identify every float64
_TEXT_DTYPES = {"object", "str", "string"}
_NON_FINITE = "__float__"
_METHOD_NAME = re.compile(r"[A-Za-z0-9_-]+")
# pandas < 3 parses floats exactly only when asked; pandas 3 always does and deprecates the argument
_EXACT_FLOATS = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def check_results_format(results_format: str) -> str:
    """``results_format`` if it is one of :data:`RESULTS_FORMATS`; EcodecError otherwise."""
    if results_format not in RESULTS_FORMATS:
        raise EcodecError(f"results format {results_format!r} is not one of {', '.join(RESULTS_FORMATS)}")
    return results_format


def save_run(result: RunResult, directory: str | Path, results_format: str = "xlsx") -> Path:
    """Write ``result`` into ``directory`` (created if needed, files of an earlier save replaced), with the results
    workbook, Parquet tables or both per ``results_format``; returns ``directory``."""
    directory = Path(directory)
    check_results_format(results_format)
    tables = {}
    for name in TABLES:
        frame: pd.DataFrame = getattr(result, name)
        timed = with_time(result, frame)
        data = _csv_bytes(timed if timed is frame else timed.assign(time=_time_text(timed["time"])))
        _write_bytes(directory / f"{name}.csv", data)
        tables[name] = {"file": f"{name}.csv", "rows": len(frame),
                        "dtypes": {str(column): str(dtype) for column, dtype in timed.dtypes.items()},
                        "sha256": hashlib.sha256(data).hexdigest()}
        if timed is not frame:
            tables[name]["derived"] = ["time"]
    parquet, workbook = results_format in ("parquet", "both"), results_format in ("xlsx", "both")
    for name in TABLES:
        if parquet:
            write_parquet_table(result, name, directory / f"{name}.parquet")
        else:
            (directory / f"{name}.parquet").unlink(missing_ok=True)
    if workbook:
        write_results_workbook(result, directory / WORKBOOK)
    else:
        (directory / WORKBOOK).unlink(missing_ok=True)
    _write_json(directory / SUMMARY, {
        "format": FORMAT, "method": result.method, "case": result.case_name, "status": result.status,
        "objective": result.objective, "currency": result.currency, "step_h": result.step_h, "start": result.start,
        "results_format": results_format, "info": result.info,
        "tables": tables})
    log.info("saved run %s of case %s to %s", result.method, result.case_name, directory)
    return directory


def load_run(directory: str | Path) -> RunResult:
    """The run saved by :func:`save_run` in ``directory``; EcodecError names the file when one is missing or bad."""
    directory = Path(directory)
    path = directory / SUMMARY
    summary = _read_json(path)
    if not isinstance(summary, dict):
        raise EcodecError(f"{path}: expected a JSON object describing a saved run")
    missing = [key for key in ("format", "method", "case", "status", "objective", "currency", "step_h", "info",
                               "tables") if key not in summary]
    if missing:
        raise EcodecError(f"{path}: missing key(s) {', '.join(missing)}; not a run saved by ecodec")
    if summary["format"] != FORMAT:
        raise EcodecError(f"{path}: saved in format {summary['format']!r}; this ecodec reads format {FORMAT}")
    if not isinstance(summary["info"], dict):
        raise EcodecError(f"{path}: 'info' should be a JSON object, got {summary['info']!r}")
    tables = {name: _read_table(directory, name, summary["tables"]) for name in TABLES}
    return RunResult(method=summary["method"], case_name=summary["case"], status=summary["status"],
                     objective=summary["objective"], currency=summary["currency"], step_h=summary["step_h"],
                     start=str(summary.get("start") or ""), info=summary["info"], **tables)


def save_runs(results: list[RunResult], directory: str | Path, comparison: Comparison | None = None,
              summary: CaseSummary | None = None, seeds: SeedRuns | None = None, results_format: str = "xlsx") -> Path:
    """Write runs of one case into ``directory/<method>/`` (each by :func:`save_run` with ``results_format``), the
    comparison, case summary and the curves and levels of an online comparison over seeds if given, and
    ``runs.json``.

    Raises EcodecError for no runs, runs of different cases, a repeated method or one that is no plain name.
    """
    directory = Path(directory)
    check_results_format(results_format)
    if not results:
        raise EcodecError("no runs to save")
    case = results[0].case_name
    methods = [result.method for result in results]
    bad = [m for m in methods if not _METHOD_NAME.fullmatch(m)]
    if bad:
        raise EcodecError(f"method name(s) {', '.join(map(repr, bad))} cannot name a directory; use letters, "
                          "digits, '_' and '-'")
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise EcodecError(f"several runs are named {', '.join(repeated)}; each method is saved once")
    cases = sorted({result.case_name for result in results} | ({comparison.case_name} if comparison else set())
                   | ({summary.case} if summary else set()))
    if len(cases) > 1:
        raise EcodecError(f"runs, comparison and case summary of several cases ({', '.join(cases)}); save each "
                          "case apart")
    for result in results:
        save_run(result, directory / result.method, results_format)
    if summary is not None:
        _write_json(directory / CASE_JSON, summary.to_json_dict())
    else:
        (directory / CASE_JSON).unlink(missing_ok=True)
    if comparison is not None:
        _write_json(directory / COMPARISON_JSON, comparison.to_json_dict())
        _write_bytes(directory / COMPARISON_CSV, _csv_bytes(comparison.table()))
    else:
        for name in (COMPARISON_JSON, COMPARISON_CSV):
            (directory / name).unlink(missing_ok=True)
    if seeds is not None:
        _write_bytes(directory / SEED_CURVES, _csv_bytes(seeds.curves))
        _write_bytes(directory / SEED_LEVELS, _csv_bytes(seeds.levels))
    else:
        for name in (SEED_CURVES, SEED_LEVELS):
            (directory / name).unlink(missing_ok=True)
    _write_json(directory / MANIFEST, {"format": FORMAT, "case": case, "runs": methods})
    log.info("saved %d runs of case %s to %s", len(results), case, directory)
    return directory


def load_runs(directory: str | Path) -> list[RunResult]:
    """The runs saved by :func:`save_runs`: the centralized one first, then the others in their saved order."""
    directory = Path(directory)
    path = directory / MANIFEST
    manifest = _read_json(path)
    methods = manifest.get("runs") if isinstance(manifest, dict) else None
    if not (isinstance(methods, list) and all(isinstance(m, str) and _METHOD_NAME.fullmatch(m) for m in methods)):
        raise EcodecError(f"{path}: expected a JSON object whose 'runs' lists the saved method names")
    return [load_run(directory / method) for method in sorted(methods, key=lambda m: m != CENTRALIZED)]


def load_seed_runs(directory: str | Path) -> SeedRuns | None:
    """The curves and levels over seeds saved by :func:`save_runs` in ``directory``, or None when none were saved."""
    directory = Path(directory)
    if not (directory / SEED_CURVES).exists():
        return None
    frames = []
    for name in (SEED_CURVES, SEED_LEVELS):
        try:
            frames.append(pd.read_csv(io.BytesIO(_read_bytes(directory / name)), keep_default_na=False,
                                      na_values=[""], dtype={"method": str, "node": str}, **_EXACT_FLOATS))
        except (ValueError, pd.errors.ParserError) as exc:
            raise EcodecError(f"{directory / name}: cannot be read ({str(exc).splitlines()[0]})") from None
    return SeedRuns(*frames)


def load_case_summary(directory: str | Path) -> CaseSummary | None:
    """The case summary saved by :func:`save_runs` in ``directory``, or None when none was saved."""
    path = Path(directory) / CASE_JSON
    if not path.exists():
        return None
    return CaseSummary.from_json_dict(_read_json(path), str(path))


# -- files ------------------------------------------------------------------------------------------------------
def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n").encode()


def _time_text(times: pd.Series) -> pd.Series:
    """``times`` as the text pandas writes for them ('2019-04-17 00:15:00'), each distinct time formatted once."""
    codes, distinct = pd.factorize(times)
    return pd.Series(pd.DatetimeIndex(distinct).strftime("%Y-%m-%d %H:%M:%S").to_numpy()[codes], index=times.index)


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _write_json(path: Path, value: object) -> None:
    _write_bytes(path, (json.dumps(_json_safe(value), indent=2, allow_nan=False) + "\n").encode())


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise EcodecError(f"{path}: missing (not a directory saved by ecodec, or its save was interrupted)") from None
    except OSError as exc:
        raise EcodecError(f"{path}: cannot be read ({exc.strerror})") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(_read_bytes(path), object_hook=_decode_non_finite)
    except (ValueError, TypeError) as exc:  # JSONDecodeError, bytes that are not text, a bad non-finite float
        raise EcodecError(f"{path}: not valid JSON ({exc})") from None


def _read_table(directory: Path, name: str, records: object) -> pd.DataFrame:
    """Table ``name`` as recorded in summary.json: same bytes (SHA-256), columns, dtypes and number of rows."""
    try:
        record = records[name]
        file, rows, dtypes, digest = record["file"], record["rows"], dict(record["dtypes"]), record["sha256"]
        derived = list(record.get("derived", []))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EcodecError(f"{directory / SUMMARY}: the record of table '{name}' is missing or incomplete") from None
    path = directory / file
    data = _read_bytes(path)
    if hashlib.sha256(data).hexdigest() != digest:
        raise EcodecError(f"{path}: does not match {SUMMARY} (changed after saving, or a save into this directory "
                          "was interrupted); save the run again")
    if not dtypes:
        return pd.DataFrame()
    times = [c for c, d in dtypes.items() if d.startswith("datetime64")]  # read as text, then parsed exactly
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={c: "str" if c in times else d for c, d in dtypes.items()},
                            keep_default_na=False, na_values={c: [""] for c, d in dtypes.items()
                                                              if d not in _TEXT_DTYPES and c not in times},
                            **_EXACT_FLOATS)
        for column in times:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype(dtypes[column])
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise EcodecError(f"{path}: cannot be read as the recorded table ({str(exc).splitlines()[0]})") from None
    if list(frame.columns) != list(dtypes) or len(frame) != rows:
        raise EcodecError(f"{path}: holds {len(frame)} rows of columns {', '.join(map(str, frame.columns))}; "
                          f"{SUMMARY} records {rows} rows of columns {', '.join(dtypes)}")
    return frame.drop(columns=[c for c in derived if c in frame.columns])


# -- JSON -------------------------------------------------------------------------------------------------------
def _json_safe(value: object) -> object:
    """``value`` as strict JSON data (see the module docstring)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else {_NON_FINITE: repr(float(value))}
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _decode_non_finite(obj: dict) -> object:
    return float(obj[_NON_FINITE]) if obj.keys() == {_NON_FINITE} else obj
