"""The scripts in examples/ run as a user runs them (a fresh process each) and say what they should."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=1800)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_heat_pump_community_with_a_user_written_agent(tmp_path):
    out = _run("heat_pump_community.py", "--output-dir", str(tmp_path))
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (
        ["centralized"], ["tracking-admm"], ["proximal-dual"])}
    assert rows["centralized"][1] == "optimal"
    assert rows["tracking-admm"][1] == "converged"  # within 0.1 % of the optimum and of the coupling rows
    heat = float(re.search(r"the heat pump delivers ([\d.]+) kWh", out).group(1))
    assert heat > 0  # electricity at the day's prices, times a COP above 2, beats gas at 0.09 EUR/kWh / 0.92
    pdf = tmp_path / "heat_pump_community.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "heat_pump_community" / "runs.json").is_file()
    assert "refused: agent 'too_good' (heat_pump): column 'cop'" in out  # its declared bounds are checked


def test_changing_a_parameter_and_solving_again():
    out = _run("change_a_parameter.py")
    saving = float(re.search(r"doubling the battery saves (-?[\d.]+) EUR", out).group(1))
    assert saving > 0  # a larger battery widens the feasible set: the optimum cannot rise, and here it falls
    discharged = [float(x) for x in re.findall(r"the battery discharges ([\d.]+) kWh", out)]
    assert len(discharged) == 2 and all(kwh > 0 for kwh in discharged)
    assert re.search(r"is refused: .*e_init_kwh", out)


def test_a_custom_hook_sees_every_iteration(tmp_path):
    out = _run("custom_hook.py", "--output-dir", str(tmp_path))
    within = {float(m.group(1)): int(m.group(2)) for m in re.finditer(r"within ([\d.]+)% at iteration (\d+)", out)}
    assert set(within) == {1.0, 0.1} and within[1.0] <= within[0.1]
    assert "ended converged" in out
    assert (tmp_path / "custom_hook_convergence.png").read_bytes()[:4] == b"\x89PNG"


def test_online_sharing_built_in_python(tmp_path):
    out = _run("online_sharing.py", "--output-dir", str(tmp_path))
    assert "refused: agent 'broken' (prosumer): column 'generation_kw': got -1" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["drs"], ["drs-na"])}
    assert rows["drs"][1] == rows["drs-na"][1] == "5"  # seeds
    assert rows["drs"][8] == "0.0"  # violation: the adjusted variant never sends more than it generates
    levels = re.findall(r"(roof_\w): energy level ([\d.]+) of its demand before sharing, ([\d.]+) after", out)
    assert {name for name, _, _ in levels} == {"roof_a", "roof_b"}  # the two small roofs lack energy
    assert all(float(after) > float(before) for _, before, after in levels)
    assert (tmp_path / "four_prosumers.pdf").read_bytes()[:5] == b"%PDF-"


def test_delta_follows_a_change_of_the_costs(tmp_path):
    out = _run("delta_cost_change.py", "--output-dir", str(tmp_path))
    start, before = (float(x) for x in re.search(r"distance to the optimum: ([\d.e+-]+) at iteration 1, "
                                                  r"([\d.e+-]+) at iteration 1000", out).groups())
    jump, end = (float(x) for x in re.search(r"distance to the new optimum: ([\d.e+-]+) just after the change, "
                                              r"([\d.e+-]+) at iteration 2000", out).groups())
    assert before < start / 30 and jump > 10 * before and end < jump / 20
    assert "samples of the costs: 16,008" in out  # 8 agents x 2000 iterations, and one each for the cost scale
    assert (tmp_path / "delta_cost_change.pdf").read_bytes()[:5] == b"%PDF-"


def test_ev_flexibility_predicts_and_solves_a_fleet(tmp_path):
    out = _run("ev_flexibility.py", "--output-dir", str(tmp_path))
    predicted, arriving, truly, accuracy = re.search(r"(\d+) of (\d+) arriving sessions predicted flexible \((\d+) "
                                                     r"are\); accuracy ([\d.]+)", out).groups()
    assert int(arriving) == 100 and 0 < int(predicted) < 100
    assert float(accuracy) > max(int(truly), 100 - int(truly)) / 100  # beats always giving the majority answer
    assert (tmp_path / "ev_flexible.xlsx").is_file() and re.search(r"centralized cost [\d.]+ EUR", out)
