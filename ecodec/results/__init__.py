"""Run results, the KPI functions every report, table and test uses, comparisons, and runs on disk."""

from ecodec.results.case_summary import CaseSummary, case_summary
from ecodec.results.comparison import Comparison, compare
from ecodec.results.online_seeds import SeedRuns
from ecodec.results.run_result import RunResult
from ecodec.results.store import (load_case_summary, load_run, load_runs, load_seed_runs, save_run,
                                  save_runs)

__all__ = ["CaseSummary", "Comparison", "RunResult", "SeedRuns", "case_summary", "compare", "load_case_summary",
           "load_run", "load_runs", "load_seed_runs", "save_run", "save_runs"]
