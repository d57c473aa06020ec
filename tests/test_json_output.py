"""``--json`` prints JSON and nothing else, in a fresh process (where a solver's first banner would land on stdout).

Three code paths start a solver first: the centralized HiGHS solve (through Pyomo), Ipopt on a market case, and a
distributed run without reference (compiled subproblems on highspy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv", [
    ["solve", "cases/community_market.xlsx", "--json"],
    ["run", "cases/microgrid_8.xlsx", "--method", "proximal-dual", "--no-reference", "--max-iterations", "2",
     "--json", "-q"],
    ["compare", "cases/community_market.xlsx", "--max-iterations", "2", "--json", "-q"],
], ids=["solve-market-ipopt", "run-no-reference", "compare-market"])
def test_json_output_is_json_only(argv):
    done = subprocess.run([sys.executable, "-m", "ecodec", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # raises on any banner or stray line
    if argv[0] == "solve":
        assert summary["status"] == "optimal" and summary["method"] == "centralized"
    else:
        method = "proximal-dual" if argv[0] == "run" else "aggregative-tracking"
        assert summary[method]["iterations"] == 2
