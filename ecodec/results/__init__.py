"""Run results, the KPI functions every report, table and test uses, comparisons, and runs on disk."""

from ecodec.results.comparison import Comparison, compare
from ecodec.results.run_result import RunResult, software_versions
from ecodec.results.store import load_run, load_runs, save_run, save_runs

__all__ = ["Comparison", "RunResult", "compare", "load_run", "load_runs", "save_run", "save_runs",
           "software_versions"]
