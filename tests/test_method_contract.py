"""The method contract, checked for every registered method (:mod:`ecodec.decomposition.registry`).

Every method runs on a tiny instance of every problem kind it declares and reports the history columns it declares;
it is refused, with a message naming it, the case, the case's kind and the methods that do solve it, on every kind
it does not declare; every option is declared with a unit and a description, and out-of-range values and booleans
given for numbers are refused with the method and option named.

The tiny instances and their optima, derived independently of ecodec:

* coupled: two vehicles charging over 3 one-hour slots priced 0.1, 0.2, 0.3 EUR/kWh under a 2.5 kWh budget (the
  fleet of tests/test_dualbi.py, continuous charging): by hand, 0.125 EUR (its module docstring);
* aggregative: one buyer and one seller on one step.  With one buyer the sharing rule gives it all the energy
  sold, E = Ehat w, paid at its bid c; the total cost is
  eps_d (Ehat w - Ebar)^2 + eps_b Ehat w (c - c_s) - gamma_r c Ehat w - gamma_s ln(1 + Ehat (1 - w)),
  linear in c with slope Ehat w (eps_b - gamma_r) > 0, so c = c_b, and w solves a one-dimensional problem that
  scipy's bounded scalar minimiser solves here;
* online-sharing: the hand instance of tests/test_online_sharing.py over two rounds, 2/3 per round (derived there);
* structured: the coupled fleet in its structured form (the vehicles' charging as global variables): the same 0.125
  EUR;
* deployment: one sensor and a target centred in a symmetric workspace (tests/test_deployment.py): by symmetry the
  optimum puts the sensor at the centre, and the optimum is the divergence there.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from test_dualbi import budget_fleet
from test_deployment import single as single_sensor
from test_online_sharing import hand_instance

from ecodec.cli import main
from ecodec.declarations import BOOL, CHOICE, INTEGER, NUMBER, TEXT
from ecodec.decomposition import (METHODS, REGISTRY, MethodSpec, OptionError, StoppingRules, check_method_fits,
                                  default_method, options_for, run)
from ecodec.decomposition.registry import LOOP_COLUMNS, register
from ecodec.decomposition.stopping import Tolerance
from ecodec.models.base import TimeGrid
from ecodec.models.market import Buyer, Seller
from ecodec.network import CommunicationNetwork
from ecodec.problem.aggregative import AggregativeProblem
from ecodec.results import kpi
from ecodec.vocabulary import CENTRALIZED, INFEASIBLE, RUN_STATUSES

MARKET = {"demand_kwh": 2.0, "excess_kwh": 3.0, "c_b": 0.1, "c_s": 0.3, "eps_d": 1.0, "eps_b": 1.0, "gamma_r": 0.5,
          "gamma_s": 1.0}


def tiny_coupled():
    return (*budget_fleet(2.5, mode="continuous"), 0.125)


def tiny_structured():
    from ecodec.problem.structured import StructuredProblem

    problem, network, optimum = tiny_coupled()
    return StructuredProblem.of(problem), network, optimum


def tiny_market():
    m = MARKET
    buyer = Buyer(name="b", demand_kwh=m["demand_kwh"], grid_export_price_per_kwh=m["c_b"],
                  grid_import_price_per_kwh=m["c_s"], weight_demand_per_kwh2=m["eps_d"], weight_price=m["eps_b"])
    seller = Seller(name="s", excess_kwh=m["excess_kwh"], weight_revenue=m["gamma_r"], weight_storage=m["gamma_s"])
    problem = AggregativeProblem([buyer, seller], TimeGrid(1, 1.0), name="tiny-market")

    def total(w):  # the module docstring's total cost at c = c_b
        sold = m["excess_kwh"] * w
        return (m["eps_d"] * (sold - m["demand_kwh"]) ** 2 + m["eps_b"] * sold * (m["c_b"] - m["c_s"])
                - m["gamma_r"] * m["c_b"] * sold - m["gamma_s"] * math.log(1 + m["excess_kwh"] * (1 - w)))

    best = minimize_scalar(total, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    return problem, CommunicationNetwork.from_edges(["b", "s"], [("b", "s")]), float(best.fun)


def tiny_sharing():
    problem = hand_instance(T=2)
    return problem, problem.network, 4 / 3


def tiny_deployment():
    problem = single_sensor()
    return problem, CommunicationNetwork.from_edges(["a"], []), problem.divergence(problem.model(np.array([[50.0, 50.0]])))


INSTANCES = {"coupled": tiny_coupled, "aggregative": tiny_market, "online-sharing": tiny_sharing,
             "deployment": tiny_deployment, "structured": tiny_structured}
KINDS = sorted({kind for spec in REGISTRY.values() for kind in spec.kinds})
DECLARED = [(name, kind) for name, spec in REGISTRY.items() for kind in spec.kinds]
UNDECLARED = [(name, kind) for name, spec in REGISTRY.items() for kind in KINDS if kind not in spec.kinds]


def test_every_problem_kind_has_a_tiny_instance_and_a_default_method():
    assert set(KINDS) == set(INSTANCES)
    for kind, make in INSTANCES.items():
        problem = make()[0]
        assert problem.kind == kind
        assert kind in REGISTRY[default_method(problem)].kinds and REGISTRY[default_method(problem)].is_distributed
    assert default_method(tiny_coupled()[0]) == "primal-decomposition"
    assert default_method(tiny_market()[0]) == "aggregative-tracking"
    assert default_method(tiny_sharing()[0]) == "drs"
    assert default_method(tiny_deployment()[0]) == "macropt"
    assert default_method(tiny_structured()[0]) == "proximal-minimization"


@pytest.mark.parametrize(("method", "kind"), DECLARED)
def test_every_method_runs_on_a_tiny_instance_of_each_kind_it_declares(method, kind):
    problem, network, optimum = INSTANCES[kind]()
    spec = REGISTRY[method]
    if not spec.is_distributed:
        result = run(problem, network, method)
        assert result.method == method and result.status == "optimal"
        assert result.objective == pytest.approx(optimum, rel=1e-6, abs=1e-9)
        return
    reference = run(problem, network, CENTRALIZED)
    result = run(problem, network, method, stopping=StoppingRules(max_iterations=4), reference=reference)
    assert result.method == method and result.status in RUN_STATUSES
    assert result.info["options"] == options_for(method).as_dict()
    for key, value in spec.preset.items():
        assert result.info["options"][key] == value
    if result.history.empty:  # a method may find before iterating that it cannot run here: it says why
        assert result.status == INFEASIBLE and result.info["message"]
        return
    declared = spec.history_columns()
    present = set(result.history.columns)
    families = [c.name.split("<")[0] for c in declared if "<" in c.name]
    undeclared = {c for c in present if c not in {d.name for d in declared} and not c.startswith(tuple(families))}
    assert not undeclared, f"{method} records undeclared history columns {sorted(undeclared)}"
    always = {c.name for c in declared if not c.when or c.when == "with a reference"}
    assert always - present == set(), f"{method} misses declared history columns {sorted(always - present)}"
    assert len(result.history) <= 4 and np.all(np.isfinite(result.history["objective"]))
    assert np.isfinite(result.objective)
    assert np.all(np.isfinite(result.history["rel_violation"])) and np.all(result.history["rel_violation"] >= 0)
    assert result.info["iterations"] == len(result.history)
    if kind == "coupled":  # the coupling of the decisions returned is reported, row by row
        assert set(result.coupling["resource"]) == {r.name for r in problem.resources}
        assert np.all(np.isfinite(result.coupling["residual"]))


@pytest.mark.parametrize(("method", "kind"), UNDECLARED)
def test_a_method_is_refused_on_a_kind_it_does_not_declare(method, kind):
    problem, network, _ = INSTANCES[kind]()
    solving = [name for name, spec in REGISTRY.items() if kind in spec.kinds]
    for attempt in (lambda: check_method_fits(method, problem), lambda: run(problem, network, method)):
        with pytest.raises(OptionError) as error:
            attempt()
        text = str(error.value)
        assert f"method '{method}'" in text and f"case '{problem.name}'" in text and kind in text
        assert all(f"'{name}'" in text for name in solving)


@pytest.mark.parametrize("method", [*METHODS, "stopping"])
def test_every_option_is_declared_with_a_unit_and_a_description(method):
    options = StoppingRules if method == "stopping" else REGISTRY[method].options
    declarations = options.declarations()
    assert declarations and [f.name for f in dataclasses.fields(options)] == list(declarations)
    for name, declared in declarations.items():
        assert declared.unit.strip() and len(declared.description.split()) >= 3, (method, name)
        assert declared.problem(declared.default) is None, (method, name)  # the default is a valid value
        assert declared.dtype in (NUMBER, INTEGER, CHOICE, BOOL, TEXT)  # text: the centralized solver's name


def _out_of_range(declared):
    """A value just outside the declared range (or not among the choices)."""
    if declared.dtype == CHOICE:
        return "nonsense"
    if declared.lower is not None:
        return declared.lower if declared.lower_open else declared.lower - 1
    return declared.upper if declared.upper_open else declared.upper + 1


@pytest.mark.parametrize("method", [*METHODS, "stopping"])
def test_out_of_range_values_and_booleans_for_numbers_are_refused_naming_the_method_and_option(method):
    options = StoppingRules if method == "stopping" else REGISTRY[method].options
    preset = {} if method == "stopping" else REGISTRY[method].preset
    make = StoppingRules.from_mapping if method == "stopping" else (lambda values: options_for(method, values))
    for name, declared in options.declarations().items():
        if name in preset or declared.dtype == BOOL:
            continue
        expected = f"{options.method} option {name} must be {declared.expected()}"
        if declared.dtype == CHOICE or declared.lower is not None or declared.upper is not None:
            bad = _out_of_range(declared)
            for attempt in (lambda: make({name: bad}), lambda: options(**{name: bad})):
                with pytest.raises(OptionError) as error:
                    attempt()
                assert f"{expected}, got {bad!r}" in str(error.value)
        if declared.dtype in (NUMBER, INTEGER):
            for attempt in (lambda: make({name: True}), lambda: options(**{name: False})):
                with pytest.raises(OptionError, match=f"^{options.method} option {name} must be "):
                    attempt()


def test_a_rule_checks_options_together_and_names_the_first():
    assert options_for("proximal-dual", {"average": "running", "average_from": 0}).average_from == 0
    with pytest.raises(OptionError, match="proximal-dual option average_from must be a whole number >= 1 .* when "
                                          "average is 'doubling', got 0"):
        options_for("proximal-dual", {"average_from": "0"})


def test_options_parse_text_once_from_the_declaration():
    options = options_for("proximal-dual", {"step_size": "2.5", "average_from": "1e3", "connectivity_window": "none",
                                            "graph": "random"})
    assert (options.step_size, options.average_from, options.connectivity_window) == (2.5, 1000, None)
    assert isinstance(options.average_from, int)
    assert StoppingRules(max_iterations=30.0).max_iterations == 30 and isinstance(
        StoppingRules(max_iterations=30.0).max_iterations, int)
    with pytest.raises(OptionError, match="unknown tracking-admm option"):
        options_for("tracking-admm", {"step": 1})
    with pytest.raises(OptionError, match="unknown method 'no-such-method'; ecodec knows: centralized"):
        options_for("no-such-method")


def test_the_registry_refuses_a_second_method_of_one_name_and_a_second_default_of_one_kind():
    existing = REGISTRY["dual-subgradient"]
    with pytest.raises(ValueError, match="registered twice"):
        register(existing)
    with pytest.raises(ValueError, match="problem kind 'coupled' has a default method already: primal-decomposition"):
        register(dataclasses.replace(existing, name="another", default_for=("coupled",)))
    assert "another" not in REGISTRY


def test_every_distributed_method_declares_a_stopping_rule_and_the_loop_columns():
    for name, spec in REGISTRY.items():
        if spec.is_distributed:
            assert spec.stopping, name
            assert spec.history_columns()[: len(LOOP_COLUMNS)] == LOOP_COLUMNS
            assert spec.driver.spec.name == spec.base().name
    assert isinstance(REGISTRY["proximal-dual"].stopping[0], Tolerance)


def test_ecodec_methods_prints_every_option_column_and_rule(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name, spec in REGISTRY.items():
        assert f"\n{name}: {spec.summary}" in f"\n{out}"
        if spec.preset:
            continue
        for option, declared in spec.options.declarations().items():
            assert f"    {option}" in out and declared.description in out and declared.expected() in out
        for column in spec.columns:
            assert f"    {column.name}: {column.meaning}" in out
        for rule in spec.stopping:
            assert rule.describe() in out
    for option, declared in StoppingRules.declarations().items():
        assert f"    {option} " in out and declared.description in out


def test_the_method_template_converges_to_the_hand_optimum_and_price():
    """On the tiny fleet: cost 0.125 EUR, and each kWh more of budget saves 0.15 EUR (tests/test_dualbi.py)."""
    problem, network, optimum = tiny_coupled()
    result = run(problem, network, "dual-subgradient", stopping=StoppingRules(max_iterations=2000),
                 reference=run(problem, network, CENTRALIZED))
    assert result.status == "converged", result.info["message"]
    assert kpi.relative_cost_gap(result.objective, optimum) <= 1e-3
    assert kpi.relative_coupling_violation(result.coupling) <= 1e-3
    budget = result.coupling.sort_values("t")["price"].to_numpy()
    np.testing.assert_allclose(budget, [0.0, 0.0, 0.15], atol=5e-3)  # the last price, oscillating about it


def test_a_method_module_registers_what_it_declares():
    spec = REGISTRY["dual-subgradient"]
    assert isinstance(spec, MethodSpec) and spec.kinds == ("coupled",) and spec.default_for == ()
    assert REGISTRY["tightening-constant"].base() is REGISTRY["tightening"]
    with pytest.raises(OptionError, match="method 'tightening-constant' fixes tightening = constant; use method "
                                          "'tightening'"):
        options_for("tightening-constant", {"tightening": "adaptive"})


@pytest.mark.parametrize("method", [m for m in METHODS if REGISTRY[m].is_distributed])
def test_the_progress_line_shows_declared_columns_only(method):
    spec = REGISTRY[method]
    declared = {column.name for column in spec.history_columns()}
    assert spec.progress and set(spec.progress) <= declared
    from ecodec.decomposition.hooks import progress_labels

    labels = progress_labels(method)
    assert list(labels) == list(spec.progress) and all(labels.values())
