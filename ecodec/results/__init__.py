"""Run results and the KPI functions every report, table and test uses."""

from ecodec.results.run_result import RunResult, software_versions

__all__ = ["RunResult", "software_versions"]
