"""benchmarks/dualbi_round.py runs end to end on a tiny fleet: the bare solves reach DualBi's local objectives.

No timing assertion: the ratio only has to be measured (a positive finite number); the reference is the bare
highspy solve of every vehicle's MILP of each round, whose objective the benchmark itself checks against DualBi's.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("dualbi_round", ROOT / "benchmarks" / "dualbi_round.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_measures_two_rounds_of_eight_vehicles_against_the_same_milps(capsys):
    benchmark = _benchmark()
    result = benchmark.measure(8, 0, 2, repeats=1)
    assert result["rounds"] == 2 and len(result["per_round"]) == 2
    for record in result["per_round"]:
        assert record["solves"] + record["reused"] == 8
        assert math.isfinite(record["ratio"]) and record["ratio"] > 0
        assert record["bare_ms_per_vehicle"] > 0 and record["round_ms_per_vehicle"] > 0
    # the first price is 0 and no price was solved before it: every vehicle solves its MILP
    assert result["per_round"][0]["price"] == 0.0 and result["per_round"][0]["solves"] == 8
    assert result["max_objective_difference"] <= 1e-6  # within the MIP gap (vehicle costs below 1 EUR)
    assert math.isfinite(result["median_ratio"]) and result["median_ratio"] > 0
    assert benchmark.main(["--vehicles", "8", "--rounds", "2", "--repeats", "1", "--no-reuse"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["reused"] == 0 and printed["solves"] == 16 and not printed["reuse_decisions"]
