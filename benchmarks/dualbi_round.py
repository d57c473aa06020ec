"""Benchmark: a DualBi round against the bare highspy solves of the same MILPs.

Fleet: ``ecodec generate pev --n N --seed S --variant milp --coupling budget`` (on/off vehicles under a total-energy
budget), written to a workbook in a temporary directory and read back, as ``ecodec run F.xlsx -m dualbi`` reads it.
In one process, per repeat:

* DualBi (:mod:`ecodec.decomposition.dualbi`) on the in-process runtime, set up untimed, then ``rounds`` rounds
  (``gap_tol`` 1e-9 so that no certificate stops it early; it stops only when the bracket closes).  A round is
  one ``iterate``: every vehicle replies at the broadcast price lambda_k (a MILP solve, or a reply its solved
  prices prove, option ``reuse_decisions``; a solve starts from the decisions of the nearest solved price,
  option ``warm_start``) and the coordinator updates the bracket.  Its wall time is the round time;
* around each round, interleaved so that both see the same load of the machine: the *same* MILPs, every
  vehicle's model as its compiled program holds it (``getLp()`` after set-up: matrix, bounds, integrality) with
  the costs of round k, c~_i + lambda_k G_i' and offset c0_i + lambda_k g0_i, each loaded into a fresh
  ``highspy.Highs`` with the program's own options (``mip_rel_gap``, ``threads``, the feasibility-jump
  heuristic off, output off).  Every other vehicle is solved just before the round, the others just after it,
  so that a drift of the machine's load over a round weighs on both sides alike.  Only ``run()`` is timed; the
  bare time of the round is the sum over the vehicles.

Reference check (the script raises when it fails): every bare objective equals DualBi's local objective of that
round, the priced perturbed cost of the vehicle's decisions c~_i' x_i + c0_i + lambda_k g_i(x_i), within the MIP
gap (|difference| <= mip_rel_gap * max(|values|, 1) + 1e-9): the decisions DualBi used, solved or reused, are
optimal for the program of that round.

Reported: per round, the medians over the repeats of the round time, the bare time, their ratio and both in ms per
vehicle, with the solves the round made and the replies it reused; over the rounds, the median ratio and the
ratio of the totals.  Run ``python benchmarks/dualbi_round.py --vehicles 100 --seed 0 --rounds 20``: one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np

from ecodec.decomposition import options_for, spec_of
from ecodec.io.pev import pev_tables
from ecodec.io.template import write_case_workbook
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.from_case import problem_from_case
from ecodec.runtime import InProcessRuntime

#: the HiGHS options of an agent's program that the bare solves copy
COPIED_OPTIONS = ("mip_rel_gap", "threads", "mip_heuristic_run_feasibility_jump", "time_limit", "mip_max_nodes")


def budget_fleet(vehicles: int, seed: int):
    """The generated budget fleet as read from its workbook: (problem, network)."""
    tables = pev_tables(vehicles, seed, "milp", coupling="budget")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"pev_{vehicles}_budget.xlsx"
        write_case_workbook(path, tables)
        case = read_case(path)
    return problem_from_case(case), network_from_case(case)


def _priced(agent, price: float) -> tuple[np.ndarray, float]:
    """The costs and offset of the agent's priced program at ``price`` (scipy's product, not the agent's own)."""
    cost = agent.cost + price * (agent.g.T @ np.ones(1))
    return cost, float(agent.sub.cost_map.offset[0]) + price * float(agent.g0[0])


def _load(lp: highspy.HighsLp, agent, price: float) -> highspy.HighsLp:
    """``lp`` (the agent's model) with the costs of its priced program at ``price``."""
    lp.col_cost_, lp.offset_ = _priced(agent, price)
    return lp


def _bare(lp: highspy.HighsLp, options: dict[str, object]) -> tuple[float, float]:
    """(seconds of run(), objective) of ``lp`` in a fresh HiGHS instance with ``options``."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in options.items():
        h.setOptionValue(name, value)
    h.passModel(lp)
    tick = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - tick
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise AssertionError(f"a bare solve ended {h.modelStatusToString(h.getModelStatus())}")
    return seconds, float(h.getObjectiveValue())


def _one_run(problem, network, rounds: int, options: dict[str, object]) -> list[dict[str, float]]:
    """One DualBi run of up to ``rounds`` rounds, each between the bare solves of its MILPs."""
    driver = spec_of("dualbi").driver(problem, InProcessRuntime(network), options_for("dualbi", options))
    driver.setup()
    if driver.abandoned:
        raise AssertionError(f"DualBi cannot run on this fleet: {driver.abandoned}")
    agents = driver.local
    models = {name: agent.sub.program._h.getLp() for name, agent in agents.items()}  # the very model
    highs = next(iter(agents.values())).sub.program._h  # its options
    copied = {name: highs.getOptionValue(name)[1] for name in COPIED_OPTIONS}
    gap = float(copied["mip_rel_gap"])
    records = []
    for k in range(rounds):
        if driver.closed:
            break
        price = driver.price
        names = list(agents)
        solved: dict[str, tuple[float, float]] = {}
        for name in names[0::2]:  # half the bare solves just before the round, half just after (module docstring)
            solved[name] = _bare(_load(models[name], agents[name], price), copied)
        before = sum(agent.skipped for agent in agents.values())
        tick = time.perf_counter()
        driver.iterate(k)
        round_s = time.perf_counter() - tick
        reused = sum(agent.skipped for agent in agents.values()) - before
        for name in names[1::2]:
            solved[name] = _bare(_load(models[name], agents[name], price), copied)
        worst = 0.0
        for name, agent in agents.items():
            cost, offset = _priced(agent, price)
            local = float(cost @ agent.x + offset)  # DualBi's local objective of this round
            objective = solved[name][1]
            difference = abs(local - objective)
            if difference > gap * max(abs(local), abs(objective), 1.0) + 1e-9:
                raise AssertionError(f"round {k + 1}, vehicle {name}: DualBi's local objective {local!r} and the bare "
                                     f"solve's {objective!r} differ by more than the MIP gap {gap:g}")
            worst = max(worst, difference)
        bare_s = sum(solved[name][0] for name in names)
        records.append({"round": k + 1, "price": price, "round_s": round_s, "bare_s": bare_s, "solves":
                        len(agents) - reused, "reused": reused, "objective_difference": worst,
                        "certified_gap": float(driver.certificate.gap())})
    return records


def measure(vehicles: int = 100, seed: int = 0, rounds: int = 20, repeats: int = 3, reuse: bool = True,
            warm_start: bool = True) -> dict[str, object]:
    """The benchmark (module docstring) as a dict: per round and over the rounds, medians over ``repeats``."""
    problem, network = budget_fleet(vehicles, seed)
    options = {"gap_tol": 1e-9, "reuse_decisions": reuse, "warm_start": warm_start}
    runs = [_one_run(problem, network, rounds, options) for _ in range(repeats)]
    done = min(len(run) for run in runs)
    per_round = []
    for k in range(done):
        rows = [run[k] for run in runs]
        round_s = statistics.median(r["round_s"] for r in rows)
        bare_s = statistics.median(r["bare_s"] for r in rows)
        per_round.append({
            "round": k + 1, "price": rows[0]["price"], "solves": rows[0]["solves"], "reused": rows[0]["reused"],
            "round_ms_per_vehicle": 1e3 * round_s / vehicles, "bare_ms_per_vehicle": 1e3 * bare_s / vehicles,
            "ratio": statistics.median(r["round_s"] / r["bare_s"] for r in rows),
            "certified_gap": rows[0]["certified_gap"],
            "objective_difference": max(r["objective_difference"] for r in rows)})
    ratios = [r["ratio"] for r in per_round]
    return {"benchmark": "dualbi_round", "vehicles": vehicles, "seed": seed, "rounds": done, "repeats": repeats,
            "reuse_decisions": reuse, "warm_start": warm_start, "median_ratio": statistics.median(ratios),
            "total_ratio": sum(r["round_ms_per_vehicle"] for r in per_round)
            / sum(r["bare_ms_per_vehicle"] for r in per_round),
            "round_ms_per_vehicle": statistics.median(r["round_ms_per_vehicle"] for r in per_round),
            "bare_ms_per_vehicle": statistics.median(r["bare_ms_per_vehicle"] for r in per_round),
            "solves": sum(r["solves"] for r in per_round), "reused": sum(r["reused"] for r in per_round),
            "max_objective_difference": max(r["objective_difference"] for r in per_round),
            "per_round": per_round}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=100, help="fleet size (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated fleet (default 0)")
    parser.add_argument("--rounds", type=int, default=20, help="DualBi rounds per run (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="runs, each interleaved with its bare solves (3)")
    parser.add_argument("--no-reuse", action="store_true", help="solve every vehicle at every price")
    parser.add_argument("--no-warm-start", action="store_true", help="solve without a first incumbent")
    args = parser.parse_args(argv)
    result = measure(args.vehicles, args.seed, args.rounds, args.repeats, not args.no_reuse, not args.no_warm_start)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
