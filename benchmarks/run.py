"""ecodec benchmarks (``make bench``): ratios against baselines measured in the same run, never absolute limits.

(a) re-solving one agent's primal-decomposition subproblem (:mod:`subproblem_resolve`): the compiled path
    against a bare highspy loop (the floor), a Pyomo rebuild and Pyomo's persistent HiGHS interface;
(b) primal decomposition's time per iteration (its published LP update) as the agents are replicated 1, 10, 100
    times (:mod:`scaling`), against the centralized solve of the same problem;
(c) primal decomposition on 400 agents with 1 and 2 MPI ranks (:mod:`mpi_ranks`, started under mpiexec): time
    per iteration and the ratio, and whether both computed the same iterates;
(d) time to a certified 1% gap on binary PEV fleets with a total-energy budget, DualBi against the centralized
    MILP on HiGHS (:mod:`pev_certified`), for 100, 1000, 3000 and 10,000 vehicles, and adaptive tightening up to
    an iteration cap on 100 and 1000;
(e) Tracking-ADMM's local QP step re-solved on the compiled program (PIQP, HiGHS) against rebuilt per solve
    (:mod:`qp_resolve`), on the cost vectors of a real run;
(f) Ipopt through ecodec's bridge: time in ecodec's callbacks against the whole solve (:mod:`nlp_overhead`);
(g) projected aggregative tracking per iteration on the community market replicated 1, 10, 50 times, against the
    centralized Ipopt solve of the same market (:mod:`market_scaling`);
(h) adaptive tightening's time per iteration on pev_100 (and a 500-vehicle fleet) against the N-MILP floor, the sum
    of the vehicles' bare highspy solve times, with the certified gap it reaches (:mod:`tightening_iteration`);
(i) online energy sharing: time per round per node of DRS, MA-NSDRS and BanSaP against the comparator LP's solve
    time on 6, 20, 200 and 2000 nodes, and the wall time of the 20-node comparison over 10 seeds
    (:mod:`online_sharing`);
(j) MACROPT per iteration on the 100-agent, 2500-cell deployment against one vectorized evaluation of the exact
    gradient (:mod:`deployment`);
(k) DELTA per iteration on the 20-agent experiment against aggregative tracking with exact gradients, and the
    import time of the optional extra 'learning' (:mod:`delta`);
(l) ``ecodec validate`` on hostile workbooks within the size limits (declared dimensions, one row of millions of
    cells, empty cells, many parts, cells at the limit) against validating the shipped case (:mod:`reading_bounds`).
(m) generated LP fleets of 100 to 10,000 vehicles: set-up against reading the workbook, peak memory, and ms per
    iteration per agent against the smallest fleet's, per convex method, beside the centralized HiGHS solve, the
    iterations each method takes to 1% of the centralized optimum, and a plot (``fleet_scale.png``) of set-up
    and per-agent cost against the fleet size (:mod:`fleet_scale`);
(n) a DualBi round against the bare highspy solves of the same MILPs, on budget fleets of 100 and 1000 vehicles
    (:mod:`dualbi_round`).

Writes ``latest.md`` (the tables), ``latest.json`` (raw numbers, machine, date) and ``fleet_scale.png`` to
``--output-dir`` (default ``benchmarks/results/``, git-ignored) and prints the tables. Exits with status 1 when
some path did not reach the same objective as the compiled one on every solve, since the comparison is then void.
What is measured and how to read the ratios: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import delta
import deployment
import dualbi_round
import fleet_scale
import market_scaling
import nlp_overhead
import online_sharing
import qp_resolve
import reading_bounds
import subproblem_resolve as resolving
import tightening_iteration
from pev_certified import CertifiedResult, certified_table, measure_fleet
from scaling import ScalingResult, measure_size

from ecodec.decomposition.centralized import solve_centralized
from ecodec.decomposition.coupling_rows import CouplingRows
from ecodec.io.workbook import read_case
from ecodec.network import network_from_case
from ecodec.problem.from_case import problem_from_case
from ecodec.versions import highs_version, software_versions

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("battery", "mt1", "grid")
TARGET_COMPILED_OVER_BARE = 1.3
FULL = {"resolve": resolving.ResolveSettings(), "copies": (1, 10, 100), "iterations": 20,
        "mpi": {"copies": 50, "iterations": 20, "ranks": (1, 2)}, "vehicles": (100, 1000, 3000, 10000),
        "tightening_certified": {100: 200, 1000: 100},
        "qp": {"warmup": 10, "solves": 100, "repeats": 3}, "nlp_sizes": (100, 1000, 10000),
        "market": {"copies": (1, 10, 50), "iterations": 50},
        "tightening": {"fleets": ("cases/pev_100.xlsx", 500), "iterations": 120, "repeats": 3},
        "online": {"sizes": (("cases/der_sharing_6.xlsx", 720), ("cases/der_sharing_20.xlsx", 720), (200, 168),
                             (2000, 24)), "seeds": 10},
        "deployment": {"iterations": 200}, "delta": {"iterations": 200}, "reading": reading_bounds.FULL,
        "fleet": {"sizes": (100, 400, 2000, 10000), "iterations": 5, "repeats": 3,
                  "methods": ("primal-decomposition", "tracking-admm", "proximal-dual", "dual-subgradient"),
                  "converge": {100: 1000, 400: 1000, 2000: 300, 10000: 60}},
        "dualbi_round": {"vehicles": (100, 1000), "rounds": 20, "repeats": 1}}
QUICK = {"resolve": resolving.ResolveSettings(solves=50, repeats=3, rebuild_solves=5, rebuild_repeats=1,
                                              persistent_solves=10, persistent_repeats=1),
         "copies": (1, 10), "iterations": 10, "mpi": {"copies": 5, "iterations": 5, "ranks": (1, 2)},
         "vehicles": (20, 50), "tightening_certified": {20: 30},
         "qp": {"warmup": 5, "solves": 20, "repeats": 2}, "nlp_sizes": (100,),
         "market": {"copies": (1, 5), "iterations": 10},
         "tightening": {"fleets": ("cases/pev_100.xlsx",), "iterations": 51, "repeats": 1},
         "online": {"sizes": (("cases/der_sharing_6.xlsx", 48), (200, 12)), "seeds": 0},
         "deployment": {"iterations": 10}, "delta": {"iterations": 5}, "reading": reading_bounds.QUICK,
         "fleet": {"sizes": (50, 200), "iterations": 3, "repeats": 2, "methods": ("primal-decomposition",
                                                                                 "tracking-admm"),
                   "converge": {50: 40}},
         "dualbi_round": {"vehicles": (20,), "rounds": 5, "repeats": 1}}
MPIEXEC = Path(sys.executable).with_name("mpiexec")


def machine_info() -> dict[str, object]:
    """CPU count and model, platform, Python, highspy/HiGHS and library versions, load average."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu_count": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(), "highspy": highs_version(), "versions": software_versions(),
            "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def resolve_table(results: list[resolving.ResolveResult]) -> str:
    lines = [("| agent | kind | LP (cols x rows) | compiled ms | bare highspy ms | Pyomo rebuild ms "
              "| Pyomo persistent ms | compiled/bare | rebuild/compiled | persistent/compiled "
              "| objectives agree (max rel. diff) |"),
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        t = r.ms_per_solve
        worst = max(r.max_rel_objective_diff.values())
        lines.append(f"| {r.agent} | {r.kind} | {r.columns} x {r.rows} | {_ms(t['compiled'])} | {_ms(t['bare'])} | "
                     f"{_ms(t['rebuild'])} | {_ms(t.get('persistent'))} | {_ratio(r.compiled_over_bare)} | "
                     f"{_ratio(r.ratio('rebuild', 'compiled'))} | {_ratio(r.ratio('persistent', 'compiled'))} | "
                     f"{'yes' if r.objectives_agree else 'NO'} ({worst:.1e}) |")
    return "\n".join(lines)


def scaling_table(results: list[ScalingResult]) -> str:
    lines = [("| agents | edges | setup s | ms / iteration | ms / iteration / agent | centralized s "
              "(solve s) | iteration / centralized | centralized optimum / (k x case) |"),
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.agents} | {r.edges} | {r.setup_s:.2f} | {_ms(r.ms_per_iteration)} | "
                     f"{r.ms_per_iteration_per_agent:.3f} | {r.centralized_s:.2f} ({r.centralized_solve_s:.2f}) | "
                     f"{r.iteration_over_centralized:.4f} | {r.objective_ratio:.9f} |")
    return "\n".join(lines)


def measure_ranks(settings: dict) -> list[dict] | None:
    """Benchmark (c): ``mpi_ranks.py`` under ``mpiexec -n R`` for each R; None when MPI is not installed."""
    if not MPIEXEC.exists():
        return None
    out = []
    for ranks in settings["ranks"]:
        completed = subprocess.run([str(MPIEXEC), "-n", str(ranks), sys.executable, str(ROOT / "benchmarks" /
                                    "mpi_ranks.py"), "--copies", str(settings["copies"]), "--iterations",
                                    str(settings["iterations"])], capture_output=True, text=True, cwd=ROOT)
        if completed.returncode != 0:
            raise RuntimeError(f"mpi_ranks.py on {ranks} ranks failed: {completed.stderr[-2000:]}")
        out.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return out


def ranks_table(results: list[dict]) -> str:
    base = results[0]
    lines = ["| ranks | agents | edges | setup s | ms / iteration | speed-up vs 1 rank | same iterates as 1 rank |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        same = r["objective_history"] == base["objective_history"]
        lines.append(f"| {r['ranks']} | {r['agents']} | {r['edges']} | {r['setup_s']:.2f} | "
                     f"{_ms(r['ms_per_iteration'])} | {base['ms_per_iteration'] / r['ms_per_iteration']:.2f} | "
                     f"{'yes (bit for bit)' if same else 'NO'} |")
    return "\n".join(lines)


def markdown(report: dict, resolve: list[resolving.ResolveResult], scaling: list[ScalingResult],
             ranks: list[dict] | None, certified: list[CertifiedResult], qp: list[qp_resolve.QpResult],
             nlp: list[nlp_overhead.OverheadResult], market: list[market_scaling.MarketScalingResult],
             tightening: list[tightening_iteration.TighteningResult], online: list[online_sharing.OnlineResult],
             comparison_s: float | None, placed: deployment.DeploymentResult, learned: delta.DeltaResult,
             reading: list[reading_bounds.ReadingResult], fleet: list[fleet_scale.FleetResult],
             converged: list[fleet_scale.ConvergenceResult], rounds: list[dict]) -> str:
    machine, settings = report["machine"], report["settings"]
    rs = settings["resolve"]
    unmet = [r.agent for r in resolve if r.compiled_over_bare > TARGET_COMPILED_OVER_BARE]
    return "\n".join([
        f"# ecodec benchmarks ({'quick' if report['quick'] else 'full'} run, {report['date']})",
        "",
        (f"Machine: {machine['cpu_count']} CPUs ({machine['cpu']}), {machine['platform']}, Python "
         f"{machine['python']}, HiGHS {machine['highspy']}, Pyomo {machine['versions']['pyomo']}; load average at "
         f"start {', '.join(f'{x:.2f}' for x in machine['load_average_1_5_15'] or [])}.  Case: {report['case']}."),
        "",
        (f"## (a) Re-solving one agent's primal-decomposition subproblem ({rs['solves']} solves after "
         f"{rs['warmup']} warm-up solves, median of {rs['repeats']} repeats; rebuild {rs['rebuild_solves']} x "
         f"{rs['rebuild_repeats']}, persistent {rs['persistent_solves']} x {rs['persistent_repeats']})"),
        "",
        (f"Relaxation as the driver's defaults: penalty M = {settings['relaxation']['penalty']:g}, "
         f"{'one rho per coupling row' if settings['relaxation']['per_row'] else 'one scalar rho'}; allocations: "
         f"the optimal ones plus noise of {rs['perturbation']:.0%} of the peak load.  Simplex iterations per solve "
         f"(compiled = bare): " + ", ".join(f"{r.agent} {r.simplex_iterations_per_solve['compiled']:.1f}"
                                            for r in resolve) + "."),
        "",
        resolve_table(resolve),
        "",
        f"Target compiled/bare <= {TARGET_COMPILED_OVER_BARE}: "
        + ("met for every agent." if not unmet else f"NOT met for {', '.join(unmet)}."),
        (f"Objectives compared to the compiled path on every solve, relative tolerance "
         f"{resolving.OBJECTIVE_RTOL:g}.  compiled/bare: median over the repeats of the ratio of adjacent compiled "
         f"and bare repeats; the other ratios: ratios of the medians."),
        "",
        (f"## (b) Primal decomposition per iteration vs the centralized solve ({settings['iterations']} "
         f"iterations, median)"),
        "",
        scaling_table(scaling),
        "",
        (f"## (c) Primal decomposition on MPI ranks ({settings['mpi']['iterations']} iterations, median wall time "
         f"of a whole loop iteration)"),
        "",
        ranks_table(ranks) if ranks else "not measured: ecodec[mpi] is not installed",
        "",
        "## (d) Time to a certified 1% gap: DualBi and tightening against the centralized MILP (one process)",
        "",
        certified_table(certified),
        "",
        (f"## (e) Tracking-ADMM's QP step: re-solve on the compiled program (PIQP, HiGHS) vs a direct highspy "
         f"rebuild per solve "
         f"({settings['qp']['solves']} solves of a real run after {settings['qp']['warmup']} warm-up solves, "
         f"median of {settings['qp']['repeats']} repeats)"),
        "",
        qp_resolve.qp_table(qp),
        "",
        "## (f) Ipopt through ecodec's bridge: time in ecodec's callbacks against the whole solve",
        "",
        nlp_overhead.overhead_table(nlp),
        "",
        (f"## (g) Aggregative tracking per iteration on the community market, against its centralized solve "
         f"({settings['market']['iterations']} iterations, median; ring graph)"),
        "",
        market_scaling.market_table(market),
        "",
        (f"## (h) Adaptive tightening per iteration against the N-MILP floor ({settings['tightening']['iterations']} "
         f"iterations, median; floor: median of {settings['tightening']['repeats']} bare highspy solves per vehicle)"),
        "",
        tightening_iteration.tightening_table(tightening),
        "",
        ("## (i) Online energy sharing per round against the comparator LP (seed 0, median round; one process)"),
        "",
        online_sharing.online_table(online, comparison_s, settings["online"]["seeds"]),
        "",
        "## (j) MACROPT per iteration against one evaluation of the exact gradient (median; one process)",
        "",
        deployment.deployment_table(placed),
        "",
        ("## (k) DELTA per iteration against aggregative tracking with exact gradients (median; one process), and "
         "the import of the extra 'learning'"),
        "",
        delta.delta_table(learned),
        "",
        "## (l) `ecodec validate` on hostile workbooks within the size limits, against the shipped case",
        "",
        reading_bounds.reading_table(reading),
        "",
        "## (m) Generated LP fleets: set-up against reading the workbook, peak memory, per-agent iteration cost",
        "",
        fleet_scale.fleet_table(fleet),
        "",
        f"Iterations to a relative violation and cost gap of {fleet_scale.TOL:.0%} against the centralized optimum, "
        "per size up to an iteration cap (the plot of set-up and per-agent cost against the fleet size: "
        "`fleet_scale.png` beside this file):",
        "",
        fleet_scale.convergence_table(converged),
        "",
        "## (n) A DualBi round against the bare highspy solves of the same MILPs "
        f"({settings['dualbi_round']['rounds']} rounds, interleaved)",
        "",
        dualbi_round_table(rounds),
        "",
    ])


def dualbi_round_table(rounds: list[dict]) -> str:
    """Benchmark (n): one row per fleet."""
    lines = ["| vehicles | rounds | median round / bare | all rounds / bare | round ms / vehicle (median) | "
             "bare ms / vehicle (median) | solves / replies | largest objective difference |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rounds:
        lines.append(f"| {r['vehicles']} | {r['rounds']} | {r['median_ratio']:.3f} | {r['total_ratio']:.3f} | "
                     f"{r['round_ms_per_vehicle']:.3f} | {r['bare_ms_per_vehicle']:.3f} | "
                     f"{r['solves']} / {r['solves'] + r['reused']} | {r['max_objective_difference']:.1e} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 and 80 agents, fewer solves and repeats")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--case", type=Path, default=ROOT / "cases" / "microgrid_8.xlsx")
    args = parser.parse_args(argv)
    # Runs stop at a fixed iteration count on purpose; the "rho > 0" convergence warnings are expected noise.
    logging.getLogger("ecodec").setLevel(logging.ERROR)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    report = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "quick": args.quick,
              "case": args.case.name, "machine": machine_info(),
              "settings": {"resolve": dataclasses.asdict(plan["resolve"]), "copies": list(plan["copies"]),
                           "iterations": plan["iterations"], "mpi": plan["mpi"], "qp": plan["qp"],
                           "nlp_sizes": list(plan["nlp_sizes"]), "market": plan["market"],
                           "tightening": plan["tightening"], "online": plan["online"],
                           "deployment": plan["deployment"], "delta": plan["delta"], "reading": plan["reading"],
                           "fleet": plan["fleet"], "dualbi_round": plan["dualbi_round"],
                           "target_compiled_over_bare": TARGET_COMPILED_OVER_BARE,
                           "objective_rtol": resolving.OBJECTIVE_RTOL}}
    case = read_case(args.case)
    problem = problem_from_case(case)

    allocations = resolving.optimal_allocations(problem, CouplingRows.from_problem(problem))
    relaxation = resolving.Relaxation.driver_default(problem)
    report["settings"]["relaxation"] = dataclasses.asdict(relaxation)
    resolve = []
    for stream, agent in enumerate(AGENTS):
        print(f"(a) re-solve paths: {agent} ...", file=sys.stderr, flush=True)
        resolve.append(resolving.measure_agent(problem, agent, allocations[agent], relaxation, plan["resolve"],
                                               stream))

    case_objective = solve_centralized(problem).objective
    scaling = []
    for copies in plan["copies"]:
        print(f"(b) primal decomposition: {copies * len(problem.agents)} agents ...", file=sys.stderr, flush=True)
        scaling.append(measure_size(case, problem, copies, plan["iterations"], case_objective))
    print(f"(c) MPI ranks {plan['mpi']['ranks']} ...", file=sys.stderr, flush=True)
    ranks = measure_ranks(plan["mpi"])
    certified = []
    for vehicles in plan["vehicles"]:
        print(f"(d) certified 1% gap: {vehicles} vehicles ...", file=sys.stderr, flush=True)
        cap = plan["tightening_certified"].get(vehicles, 0)
        certified.append(measure_fleet(vehicles, tightening_iterations=cap))

    print("(e) Tracking-ADMM QP step ...", file=sys.stderr, flush=True)
    network = network_from_case(case)
    qp_plan = plan["qp"]
    costs = qp_resolve.recorded_costs(problem, network, AGENTS, qp_plan["warmup"] + qp_plan["solves"])
    qp = [qp_resolve.measure_agent(problem, network, agent, costs[agent], qp_plan["warmup"], qp_plan["repeats"])
          for agent in AGENTS]

    print("(f) Ipopt bridge overhead ...", file=sys.stderr, flush=True)
    nlp = nlp_overhead.measure_all(tuple(plan["nlp_sizes"]), args.case)

    print("(g) aggregative tracking on the market ...", file=sys.stderr, flush=True)
    market = market_scaling.measure_all(ROOT / "cases" / "community_market.xlsx", tuple(plan["market"]["copies"]),
                                        plan["market"]["iterations"])

    print("(h) adaptive tightening against the N-MILP floor ...", file=sys.stderr, flush=True)
    tightening = [tightening_iteration.measure_fleet(str(ROOT / f) if isinstance(f, str) else f,
                                                     plan["tightening"]["iterations"], plan["tightening"]["repeats"])
                  for f in plan["tightening"]["fleets"]]

    print("(i) online energy sharing ...", file=sys.stderr, flush=True)
    online = online_sharing.measure_all(plan["online"]["sizes"])
    seeds = plan["online"]["seeds"]
    comparison_s = online_sharing.comparison_time(seeds) if seeds else None
    print("(j) MACROPT deployment ...", file=sys.stderr, flush=True)
    placed = deployment.measure(plan["deployment"]["iterations"])
    print("(k) DELTA ...", file=sys.stderr, flush=True)
    learned = delta.measure(plan["delta"]["iterations"])
    print("(l) reading bounds ...", file=sys.stderr, flush=True)
    reading = reading_bounds.measure(plan["reading"])
    print("(m) fleets ...", file=sys.stderr, flush=True)
    fleet = fleet_scale.measure_all(tuple(plan["fleet"]["sizes"]), tuple(plan["fleet"]["methods"]),
                                    plan["fleet"]["iterations"], plan["fleet"]["repeats"])
    converged = fleet_scale.measure_convergence(plan["fleet"]["converge"], tuple(plan["fleet"]["methods"]))
    plot = fleet_scale.fleet_plot(fleet, args.output_dir / "fleet_scale.png")
    print("(n) DualBi round against bare solves ...", file=sys.stderr, flush=True)
    rounds_plan = plan["dualbi_round"]
    rounds = [dualbi_round.measure(n, 0, rounds_plan["rounds"], rounds_plan["repeats"])
              for n in rounds_plan["vehicles"]]

    report["subproblem_resolve"] = [dict(dataclasses.asdict(r), objectives_agree=r.objectives_agree,
                                         ratios={"compiled/bare": r.compiled_over_bare,
                                                 "rebuild/compiled": r.ratio("rebuild", "compiled"),
                                                 "persistent/compiled": r.ratio("persistent", "compiled")})
                                    for r in resolve]
    report["objectives_agree"] = all(r.objectives_agree for r in resolve)
    report["primal_decomposition_scaling"] = [
        dict(dataclasses.asdict(r), ms_per_iteration_per_agent=r.ms_per_iteration_per_agent,
             iteration_over_centralized=r.iteration_over_centralized) for r in scaling]
    report["mpi_ranks"] = ranks
    report["pev_certified"] = [dict(dataclasses.asdict(r), ratio=r.ratio) for r in certified]
    report["qp_resolve"] = [dict(dataclasses.asdict(r), rebuild_over_compiled=r.rebuild_over_compiled,
                                 highs_over_compiled=r.highs_over_compiled, objectives_agree=r.objectives_agree)
                            for r in qp]
    report["nlp_overhead"] = [dict(dataclasses.asdict(r), callback_share=r.callback_share, reached=r.reached)
                              for r in nlp]
    report["market_scaling"] = [dict(dataclasses.asdict(r), reached=r.reached,
                                     iteration_over_centralized=r.iteration_over_centralized,
                                     ms_per_iteration_per_agent=r.ms_per_iteration_per_agent) for r in market]
    report["tightening"] = [dict(dataclasses.asdict(r), over_floor=r.over_floor) for r in tightening]
    report["online_sharing"] = {"networks": [dataclasses.asdict(r) for r in online],
                                "comparison_20_nodes_s": comparison_s}
    report["deployment"] = dict(dataclasses.asdict(placed), ratio=placed.ratio)
    report["delta"] = dict(dataclasses.asdict(learned), ratio=learned.ratio)
    report["reading_bounds"] = [dict(dataclasses.asdict(r), time_ratio=r.time_ratio, memory_ratio=r.memory_ratio,
                                     within_acceptance=r.within_acceptance) for r in reading]
    report["fleet_scale"] = [dict(dataclasses.asdict(r), setup_over_read=r.setup_over_read) for r in fleet]
    report["fleet_convergence"] = [dataclasses.asdict(r) for r in converged]
    report["fleet_plot"] = str(plot)
    report["dualbi_round"] = [{k: v for k, v in r.items() if k != "per_round"} for r in rounds]
    report["objectives_agree"] = (report["objectives_agree"] and all(r.objectives_agree for r in qp)
                                  and all(r.reached for r in nlp) and all(r.reached for r in market))
    report["total_time_s"] = time.perf_counter() - started
    text = markdown(report, resolve, scaling, ranks, certified, qp, nlp, market, tightening, online, comparison_s,
                    placed, learned, reading, fleet, converged, rounds)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "latest.md").write_text(text)
    (args.output_dir / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"written to {args.output_dir} in {report['total_time_s']:.0f} s", file=sys.stderr)
    for r in resolve:
        for note in r.notes:
            print(f"note ({r.agent}): {note}", file=sys.stderr)
    if not report["objectives_agree"]:
        print("ERROR: the paths did not reach the same objectives; the timings compare different problems",
              file=sys.stderr)
        return 1
    if any(r.exit_code != 2 for r in reading):
        print("ERROR: ecodec validate did not refuse every hostile workbook as bad input (exit 2)", file=sys.stderr)
        return 1
    if not all(r.bounds_consistent and r.dualbi_gap <= 0.01 for r in certified):
        print("ERROR: DualBi and HiGHS disagree on their bounds, or DualBi did not certify 1%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
