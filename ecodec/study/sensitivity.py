"""Sensitivity of a resource-sharing LP to the arrival of a new agent (Falsone, Margellos, Zizzo, Prandini,
Garatti, "On the sensitivity of linear resource sharing problems to the arrival of new agents", arXiv 2109.13580).

N agents drawn independently from a population share resources through an LP
(:class:`~ecodec.solvers.sharing_lp.SharingLP`).  The analysis

1. solves the LP once: the optimal price lambda* of the shared rows;
2. removes each agent in turn and lets it arrive again (N leave-one-out re-solves): the support agents, those
   whose arrival changes the others' shares, and their number s* (the allocation rule of
   :mod:`~ecodec.solvers.sharing_lp`; the price rule, "removal changes lambda*", is computed alongside);
3. gives eps(s*) (:func:`~ecodec.solvers.scenario_epsilon.wait_and_judge_epsilon`): with confidence 1 - beta,
   the probability that a new agent from the same population changes the others' shares is at most eps(s*);
4. checks it by Monte Carlo: ``draws`` new agents, each re-solved with the N agents, and the frequency of a
   change with its Clopper-Pearson interval (``scipy.stats.binomtest``).

Reading the N agents as the N scenarios of the LP's dual (one scenario per agent, as the source's abstract
says) and applying the wait-and-judge bound to the allocation-rule support count is ecodec's reconstruction
[R]: the source's exact dual reformulation and support rule were not available [U].

Two populations are shipped.  **EV fleets** (:func:`fleet_sensitivity`): the N vehicles of a fleet workbook
(``ecodec generate pev --variant lp``) share the connection limit of every slot (or the day's energy budget);
a new vehicle is ``pev_tables(1, seed)``'s vehicle, i.e. one draw of the generator's population, paying the
fleet's price profile.  Vehicle i's block, with Delta the step in hours, W its plugged-in steps and d its
departure step::

    x_t = p_t in [0, P_i] for t in W, 0 otherwise          (charging power, kW)
    (e_min - e_init) / (eta Delta) <= sum_{s<=k} p_s <= (e_max - e_init) / (eta Delta),   k = 0 .. T-1
    sum_{s<d} p_s >= (e_target - e_init) / (eta Delta)
    cost = sum_t (c_t - w eta) Delta p_t                     (ElectricVehicle's cost up to a constant)
    usage: p_t in the limit row of slot t (feeder), or Delta sum_t p_t in the budget row (kWh)

Each energy row is divided by eta Delta so that every matrix coefficient is 1: a vehicle's data sit in bounds
and costs only, and a new vehicle enters the spare slot without changing the matrix.  **Cargo loading**
(:func:`cargo_sensitivity`), an example whose data are unknown in the source [U]: see :data:`CARGO_POPULATION`.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import binomtest

from ecodec.case import Case
from ecodec.errors import EcodecError
from ecodec.io.pev import PRICE_PROFILE, STEP_H, T_SLOTS, pev_tables
from ecodec.progress import stage
from ecodec.results.sensitivity import SensitivityResult
from ecodec.solvers.scenario_epsilon import check_scenario_inputs, eps_all
from ecodec.solvers.sharing_lp import AgentBlock, SharingLP, Tolerances

log = logging.getLogger(__name__)

Draw = Callable[[int], AgentBlock]  # the agent of the population drawn with a seed

#: the cargo population [U]: per item, unit weight w ~ U[20, 200] kg, density rho ~ U[100, 400] kg/m3 (volume
#: v = w / rho), profit r ~ U[0.5, 3] EUR per kg (p = r w per unit), availability u ~ U[1, 20] units (fractional
#: loading); three compartments with handling costs h_k per kg, weight and volume capacities (sized so that
#: about 40 items compete for them).
CARGO_POPULATION = {"unit_weight_kg": (20.0, 200.0), "density_kg_per_m3": (100.0, 400.0),
                    "profit_eur_per_kg": (0.5, 3.0), "available_units": (1.0, 20.0),
                    "handling_eur_per_kg": (0.0, 0.05, 0.1), "capacity_kg": (8400.0, 12600.0, 7000.0),
                    "capacity_m3": (48.0, 56.0, 24.0)}


def sensitivity_analysis(agents: list[AgentBlock], capacity: np.ndarray, resources: pd.DataFrame, draw: Draw, *,
                         beta: float = 1e-3, draws: int = 1000, seed: int = 0, case: str = "",
                         description: str = "", objective_sign: float = 1.0, objective_unit: str = "EUR",
                         population: str = "", tolerances: Tolerances | None = None,
                         interval_level: float = 0.95, progress: TextIO | None = None) -> SensitivityResult:
    """Steps 1-4 of the module docstring.  ``resources`` names the shared rows (resource, unit, price_unit);
    ``draw(seed)`` is one agent of the population; ``objective_sign`` turns the LP's minimum into the reported
    objective (-1 for a profit); ``progress``, a stream for the stage lines of the long steps.  A Ctrl-C during
    the Monte-Carlo check ends it with the draws judged so far (``interrupted`` is then True).

    >>> one = sp.csr_array(np.ones((1, 1)))
    >>> def item(seed):   # one item of profit U[1, 3] per kg and 1 kg, one compartment of 2 kg
    ...     profit = np.random.default_rng(seed).uniform(1.0, 3.0)
    ...     return AgentBlock(f"i{seed}", np.array([-profit]), np.zeros(1), np.ones(1), sp.csr_array((0, 1)),
    ...                       np.zeros(0), np.zeros(0), one)
    >>> r = sensitivity_analysis([item(s) for s in range(5)], np.array([2.0]),
    ...                          pd.DataFrame({"resource": ["weight"], "unit": ["kg"], "price_unit": ["EUR/kg"]}),
    ...                          item, beta=0.01, draws=200, seed=1, objective_sign=-1.0)
    >>> r.s_star, r.frequency <= r.eps_s_star
    (2, True)
    """
    check_scenario_inputs(max(1, len(agents)), beta)
    _check_count("draws", draws, 1)
    _check_count("seed", seed, 0)
    if not 0 < interval_level < 1:
        raise EcodecError(f"interval level: got {interval_level!r}; expected a number in (0, 1)")
    started = time.perf_counter()
    lp = SharingLP(agents, capacity, tolerances, name=case or "sharing")
    solved = time.perf_counter()
    rows = []
    with stage(progress, f"{case}: {len(agents)} leave-one-out re-solves"):
        for j, agent in enumerate(agents):
            verdict = lp.leave_one_out(j)
            rows.append({"agent": agent.name, "support_allocation": verdict.changes_allocation,
                         "support_price": verdict.changes_price, "gap": verdict.gap})
    support = pd.DataFrame(rows, columns=["agent", "support_allocation", "support_price", "gap"])
    left_out = time.perf_counter()
    rng = np.random.default_rng(seed)
    records, interrupted = [], False
    with stage(progress, f"{case}: {draws} new agents judged"):
        try:
            for d in range(draws):
                agent_seed = int(rng.integers(0, 2**31 - 1))
                verdict = lp.arrival(draw(agent_seed))
                records.append({"draw": d + 1, "agent_seed": agent_seed, "gap": verdict.gap,
                                "price_change": verdict.price_change,
                                "changes_allocation": verdict.changes_allocation,
                                "changes_price": verdict.changes_price})
                if (d + 1) % 200 == 0:
                    log.info("%s: %d of %d new agents judged", case, d + 1, draws)
        except KeyboardInterrupt:   # keep the draws judged so far (a result with fewer draws, marked)
            if not records:
                raise
            interrupted = True
            log.warning("%s: interrupted after %d of %d new agents", case, len(records), draws)
    draws = len(records)
    table = pd.DataFrame(records, columns=["draw", "agent_seed", "gap", "price_change", "changes_allocation",
                                           "changes_price"])
    finished = time.perf_counter()
    n = len(agents)
    s_star, s_price = int(support["support_allocation"].sum()), int(support["support_price"].sum())
    changes = int(table["changes_allocation"].sum())
    ci = binomtest(changes, draws).proportion_ci(confidence_level=interval_level, method="exact")
    resources = resources.assign(capacity=capacity, price=lp.price)[
        ["resource", "unit", "capacity", "price", "price_unit"]]
    epsilon = eps_all(n, beta)
    tol = lp.tolerances
    return SensitivityResult(
        case=case, description=description, n_agents=n, beta=float(beta), s_star=s_star,
        eps_s_star=float(epsilon[s_star]), s_star_price=s_price, eps_s_star_price=float(epsilon[s_price]),
        draws=int(draws), changes=changes, changes_price=int(table["changes_price"].sum()),
        interval=(float(ci.low), float(ci.high)), interval_level=float(interval_level),
        objective=objective_sign * lp.objective, objective_unit=objective_unit, seed=int(seed),
        tolerances={"objective_rel": tol.objective_rel, "face_rel": tol.face_rel, "price_abs": tol.price_abs,
                    "price_rel": tol.price_rel},
        timings_s={"solve": solved - started, "leave_one_out": left_out - solved, "monte_carlo": finished - left_out,
                   "per_arrival": (finished - left_out) / draws, "total": finished - started},
        population=population, interrupted=interrupted, resources=resources, agents=support, draws_table=table,
        epsilon=pd.DataFrame({"k": np.arange(n + 1), "eps": epsilon}))


def _check_count(what: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise EcodecError(f"{what}: got {value!r}; expected an integer >= {least}")


# -- EV fleets ----------------------------------------------------------------------------------------------
def vehicle_block(name: str, params: dict, price_per_kwh: np.ndarray, T: int, step_h: float,
                  budget: bool) -> AgentBlock:
    """The block of one continuous-charging vehicle (module docstring); ``params`` as the 'evs' sheet holds them.

    >>> v = {"p_charge_kw": 4.0, "e_min_kwh": 1.0, "e_max_kwh": 10.0, "e_init_kwh": 2.0, "e_target_kwh": 6.0,
    ...      "eta_charge": 0.8, "arrival_step": 1, "departure_step": 2}
    >>> b = vehicle_block("ev", v, np.array([0.1, 0.2, 0.3]), 3, 1.0, budget=False)
    >>> b.upper.tolist(), b.own_lower.tolist(), b.own_upper.tolist()
    ([4.0, 4.0, 0.0], [-1.25, 5.0, -1.25], [10.0, 10.0, 10.0])
    """
    if params.get("mode", "continuous") != "continuous":
        raise EcodecError(f"vehicle '{name}': got mode {params.get('mode')!r}; expected 'continuous' (the "
                          "sensitivity analysis needs an LP: generate the fleet with --variant lp)")
    first = int(params.get("arrival_step") or 1) - 1
    departure = int(params.get("departure_step") or T)
    plugged = np.zeros(T, dtype=bool)
    plugged[first:departure] = True
    eta, scale = float(params["eta_charge"]), float(params["eta_charge"]) * step_h
    e_init = float(params["e_init_kwh"])
    own_lower = np.full(T, (float(params["e_min_kwh"]) - e_init) / scale)
    own_lower[departure - 1] = max(own_lower[departure - 1], (float(params["e_target_kwh"]) - e_init) / scale)
    value = float(params.get("departure_value_per_kwh") or 0.0)
    cost = (np.broadcast_to(np.asarray(price_per_kwh, dtype=float), (T,)) - value * eta * plugged) * step_h
    usage = sp.csr_array(np.full((1, T), step_h)) if budget else sp.csr_array(sp.identity(T))
    return AgentBlock(name, cost, np.zeros(T), np.where(plugged, float(params["p_charge_kw"]), 0.0),
                      sp.csr_array(np.tril(np.ones((T, T)))), own_lower,
                      np.full(T, (float(params["e_max_kwh"]) - e_init) / scale), usage)


def fleet_problem(case: Case) -> tuple[list[AgentBlock], np.ndarray, pd.DataFrame, Draw, bool]:
    """The vehicles of ``case``, the capacities, the resource table, the population's draw and whether the fleet
    shares a day's energy budget (else the limit of every slot)."""
    wrong = [f"'{a.name}' ({a.kind})" for a in case.agents if a.kind != "ev"]
    if wrong or not case.agents:
        raise EcodecError(f"{case.name}: got agents {', '.join(wrong) or 'none'}; expected a fleet of electric "
                          "vehicles only (a workbook from ecodec generate pev --variant lp)")
    if (case.T, round(case.step_h, 9)) != (T_SLOTS, round(STEP_H, 9)):
        raise EcodecError(f"{case.name}: got T = {case.T} steps of {case.step_h:g} h; expected the {T_SLOTS} steps "
                          f"of {STEP_H * 60:g} min of the ecodec generate pev population")
    if len(case.resources) != 1 or case.resources[0].sense != ">=":
        raise EcodecError(f"{case.name}: got resources {[(r.name, r.sense) for r in case.resources]}; expected "
                          "one '>=' row on the active power (the fleet's draw limit)")
    resource = case.resources[0]
    budget = resource.scope == "horizon"
    capacity = -np.asarray(resource.rhs, dtype=float).reshape(-1)
    capacity = capacity[:1] if budget else np.broadcast_to(capacity, (case.T,)).copy()
    if PRICE_PROFILE not in case.profiles:
        raise EcodecError(f"{case.name}: no time series '{PRICE_PROFILE}'; expected the price profile a new "
                          "vehicle of the ecodec generate pev population pays")
    price = np.asarray(case.profiles[PRICE_PROFILE], dtype=float)
    agents = [vehicle_block(a.name, a.params, a.params["price_per_kwh"], case.T, case.step_h, budget)
              for a in case.agents]
    if budget:
        resources = pd.DataFrame({"resource": [resource.name], "unit": ["kWh"], "price_unit": ["EUR/kWh"]})
    else:
        resources = pd.DataFrame({"resource": [f"{resource.name}[{t + 1}]" for t in range(case.T)],
                                  "unit": "kW", "price_unit": "EUR/kW"})

    def draw(agent_seed: int) -> AgentBlock:
        vehicle = pev_tables(1, agent_seed, "lp", coupling="budget" if budget else "feeder")["evs"][0]
        return vehicle_block(f"new{agent_seed}", vehicle, price, case.T, case.step_h, budget)

    return agents, capacity, resources, draw, budget


def fleet_sensitivity(case: str | Path | Case, **options) -> SensitivityResult:
    """The analysis of an EV fleet workbook (or Case); ``options`` as :func:`sensitivity_analysis` takes them."""
    if not isinstance(case, Case):
        from ecodec.io.workbook import read_case

        case = read_case(case)
    agents, capacity, resources, draw, budget = fleet_problem(case)
    population = ("ecodec generate pev vehicles (Vujanic et al. 2016 distributions), continuous charging, "
                  + ("sharing a day's energy budget" if budget else "sharing the connection limit of every slot"))
    unit = "EUR (without the constant -w (e_init - e_target) of each vehicle)" if budget else "EUR"
    return sensitivity_analysis(agents, capacity, resources, draw, case=case.name, description=case.description,
                                population=population, objective_unit=unit, **options)


# -- cargo loading ------------------------------------------------------------------------------------------
def cargo_item(name: str, seed: int) -> AgentBlock:
    """One item of :data:`CARGO_POPULATION` drawn with ``seed``: x_k >= 0 units loaded in compartment k,
    sum_k x_k <= u, profit sum_k (p - h_k w) x_k, weight w x_k and volume v x_k in compartment k's rows.

    >>> item = cargo_item("i", 0)
    >>> item.cost.size, item.usage.shape
    (3, (6, 3))
    """
    pop = CARGO_POPULATION
    rng = np.random.default_rng(seed)
    weight = rng.uniform(*pop["unit_weight_kg"])
    volume = weight / rng.uniform(*pop["density_kg_per_m3"])
    profit = rng.uniform(*pop["profit_eur_per_kg"]) * weight
    available = rng.uniform(*pop["available_units"])
    k = len(pop["capacity_kg"])
    handling = np.asarray(pop["handling_eur_per_kg"]) * weight
    usage = sp.csr_array(np.vstack([weight * np.eye(k), volume * np.eye(k)]))
    return AgentBlock(name, -(profit - handling), np.zeros(k), np.full(k, available), sp.csr_array(np.ones((1, k))),
                      np.array([-np.inf]), np.array([available]), usage)


def cargo_sensitivity(n_items: int = 40, case_seed: int = 0, **options) -> SensitivityResult:
    """The cargo-loading example: ``n_items`` items drawn with seeds derived from ``case_seed``, new items from
    the same population (:data:`CARGO_POPULATION`, [U]).

    >>> r = cargo_sensitivity(n_items=10, draws=50, seed=3)
    >>> r.n_agents, r.draws, len(r.resources)
    (10, 50, 6)
    """
    _check_count("number of items", n_items, 1)
    _check_count("case seed", case_seed, 0)
    seeds = np.random.default_rng([case_seed, 0xCA760]).integers(0, 2**31 - 1, n_items)
    agents = [cargo_item(f"item{i + 1}", int(s)) for i, s in enumerate(seeds)]
    k = len(CARGO_POPULATION["capacity_kg"])
    capacity = np.concatenate([CARGO_POPULATION["capacity_kg"], CARGO_POPULATION["capacity_m3"]])
    resources = pd.DataFrame({"resource": [f"weight[{c + 1}]" for c in range(k)] + [f"volume[{c + 1}]"
                                                                                    for c in range(k)],
                              "unit": ["kg"] * k + ["m3"] * k, "price_unit": ["EUR/kg"] * k + ["EUR/m3"] * k})
    return sensitivity_analysis(agents, capacity, resources, lambda s: cargo_item(f"new{s}", s),
                                case=f"cargo_{n_items}", objective_sign=-1.0, objective_unit="EUR profit",
                                description=f"fractional cargo loading, {n_items} items (case seed {case_seed}), "
                                            f"{k} compartments", population="cargo items of CARGO_POPULATION [U]",
                                **options)


CARGO = "cargo"  # the CASE word of the built-in cargo example


def sensitivity_study(case: str | Path, *, beta: float = 1e-3, draws: int = 1000, seed: int = 0,
                      n_items: int = 40, output: str | Path | None = None,
                      report: str | Path | None = None,
                      progress: TextIO | None = None) -> tuple[SensitivityResult, dict[str, Path]]:
    """What ``ecodec sensitivity`` does: the analysis of a fleet workbook, or of the cargo example when ``case`` is
    the word ``cargo``; the result saved into ``output`` and its report written to ``report`` when given.
    Returns the result and the paths written ({'result': ..., 'report': ...})."""
    from ecodec.files import check_writable
    from ecodec.report.sensitivity_section import write_sensitivity_report

    if report is not None and Path(report).suffix.lower() != ".pdf":
        raise EcodecError(f"{report}: a report is a PDF file; give a name ending in .pdf")
    if output is not None:
        check_writable(output, directory=True, what="the sensitivity result")
    if report is not None:
        check_writable(report, directory=False, what="the report")
    if str(case) == CARGO:
        result = cargo_sensitivity(n_items, beta=beta, draws=draws, seed=seed, progress=progress)
    else:
        result = fleet_sensitivity(case, beta=beta, draws=draws, seed=seed, progress=progress)
    written = {}
    if output is not None:
        written["result"] = result.save(output)
    if report is not None:
        written["report"] = write_sensitivity_report(result, report)
    return result, written
