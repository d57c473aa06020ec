"""The RaMSS polynomial classifier: scikit-learn conformance, determinism, recovery of a known structure, the
distance-correlation filter, accuracy on shipped data sets against logistic regression, and the EV flexibility
labels and fleet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator

from ecodec.errors import EcodecError
from ecodec.learning import RandomizedPolynomialClassifier, distance_correlations, kept_attributes, ramss
from ecodec.learning.benchmark import benchmark
from ecodec.learning.ev_flexibility import (arrival_features, flexibility_ratio, flexible_labels, predict_flexible,
                                            read_sessions)
from ecodec.study.ev_flexibility import flexible_fleet_from_history, flexible_fleet_tables

# the checks fit dozens of times: a lighter search keeps them fast and exercises the same code paths
LIGHT = {"n_models": 20, "max_iter": 20}


def test_scikit_learn_estimator_checks_all_pass():
    results = check_estimator(RandomizedPolynomialClassifier(random_state=0, **LIGHT), on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])) for r in results if r["status"] == "failed"]
    assert failed == []
    # scikit-learn itself skips its array-API check unless SCIPY_ARRAY_API is set: the estimator computes in numpy
    assert {r["check_name"] for r in results if r["status"] == "skipped"} <= {"check_array_api_input"}
    assert sum(r["status"] == "passed" for r in results) >= 50


def _known_structure(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Six standard-normal attributes; class 1 when x0 x1 + x2^2 - 1 > 0 (x3, x4, x5 play no part)."""
    X = np.random.default_rng(seed).standard_normal((n, 6))
    return X, (X[:, 0] * X[:, 1] + X[:, 2] ** 2 - 1.0 > 0).astype(int)


def test_same_seed_same_model_and_predictions():
    X, y = _known_structure(3, 300)
    first = RandomizedPolynomialClassifier(random_state=7).fit(X, y)
    again = RandomizedPolynomialClassifier(random_state=7).fit(X, y)
    assert first.selected_terms_ == again.selected_terms_
    np.testing.assert_array_equal(first.probabilities_, again.probabilities_)
    np.testing.assert_array_equal(first.decision_function(X), again.decision_function(X))


def test_selected_terms_contain_the_true_structure_over_seeds():
    # measured: the true terms x0 x1 and x2^2 are selected for all 10 seeds, with 1.7 extra terms on average
    found, sizes = 0, []
    for seed in range(10):
        X, y = _known_structure(seed)
        model = RandomizedPolynomialClassifier(random_state=seed).fit(X, y)
        found += {"x0 x1", "x2^2"} <= set(model.selected_terms_)
        sizes.append(model.n_terms_selected_)
        assert model.n_terms_full_ == 27  # 6 linear + 15 products + 6 squares
    assert found >= 9, f"true structure found in {found} of 10 seeds"
    assert np.mean(sizes) < 27 / 3


def _dcor_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Szekely's sample distance correlation from double-centred distance matrices (V-statistics)."""
    def centred(v):
        d = np.abs(v[:, None] - v[None, :]) if v.ndim == 1 else np.linalg.norm(v[:, None] - v[None, :], axis=2)
        return d - d.mean(axis=0) - d.mean(axis=1)[:, None] + d.mean()
    a, b = centred(x), centred(y)
    return float(np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean())))


def test_dcor_filter_keeps_the_informative_attributes():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 6))
    y = (X[:, 1] ** 2 + X[:, 4] > 1.0).astype(int)  # a nonlinear dependence on x1, a linear one on x4
    hand = np.array([_dcor_by_hand(X[:, j], y.astype(float)) for j in range(6)])
    np.testing.assert_allclose(distance_correlations(X, y), hand, rtol=1e-9)
    assert set(np.argsort(-hand)[:2]) == {1, 4}
    model = RandomizedPolynomialClassifier(dcor_top_k=2, random_state=0).fit(X, y)
    assert model.attributes_.tolist() == [1, 4]
    assert model.n_terms_full_ == 5  # x1, x4, x1^2, x1 x4, x4^2
    assert {"x1^2", "x4"} <= set(model.selected_terms_)
    by_threshold = RandomizedPolynomialClassifier(dcor_threshold=float(np.sort(hand)[-2]) - 1e-12).fit(X, y)
    assert by_threshold.attributes_.tolist() == [1, 4]


def test_dcor_of_three_classes_uses_one_hot_labels():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((120, 2))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    hand = [_dcor_by_hand(X[:, j], np.eye(3)[y]) for j in range(2)]
    np.testing.assert_allclose(distance_correlations(X, y), hand, rtol=1e-9)


def test_kept_attributes_rules():
    scores = np.array([0.2, 0.9, 0.4, 0.9, 0.1])
    assert kept_attributes(scores, None, 3).tolist() == [1, 2, 3]
    assert kept_attributes(scores, 0.3, None).tolist() == [1, 2, 3]
    assert kept_attributes(scores, 0.95, None).tolist() == [1]  # at least the best one
    assert kept_attributes(scores, None, None).tolist() == [0, 1, 2, 3, 4]


def test_ramss_options_recover_a_single_informative_term():
    # one informative column among five: both scores and a fixed step find it
    rng = np.random.default_rng(11)
    x = rng.standard_normal((300, 5))
    y = np.where(x[:, 3] + 0.2 * rng.standard_normal(300) > 0, 1.0, -1.0)
    for options in ({"model_score": "accuracy"}, {"step": 0.5}, {"initial_probability": 0.1}):
        found = ramss(x, y, rng=np.random.default_rng(0), **options)
        assert found.probabilities[3] == 1.0, options


@pytest.mark.parametrize("option, value", [("degree", 0), ("n_models", 1), ("model_score", "mae"),
                                           ("model_fit", "svm"), ("validation_fraction", 1.5), ("ridge", -1.0),
                                           ("initial_probability", 0.0), ("dcor_top_k", 0), ("C", float("nan"))])
def test_bad_options_are_refused_naming_the_option(option, value):
    X, y = _known_structure(0, 50)
    with pytest.raises(EcodecError, match=f"option {option}: got"):
        RandomizedPolynomialClassifier(**{option: value}).fit(X, y)


def test_both_dcor_rules_at_once_are_refused():
    X, y = _known_structure(0, 50)
    with pytest.raises(EcodecError, match="one filter rule at a time"):
        RandomizedPolynomialClassifier(dcor_threshold=0.1, dcor_top_k=2).fit(X, y)


@pytest.mark.slow
def test_accuracy_within_two_points_of_logistic_regression_with_fewer_terms():
    table = benchmark(seed=0).set_index(["dataset", "classifier"])
    for dataset in ("breast_cancer", "wine", "iris"):
        ours, logistic = table.loc[(dataset, "polynomial")], table.loc[(dataset, "logistic")]
        assert ours.accuracy_mean >= logistic.accuracy_mean - 0.02, dataset
        assert ours.model_size_mean < ours.full_size, dataset


def test_flexibility_labels_match_a_hand_computation():
    sessions = read_sessions()
    first = sessions.set_index("ev_id").loc[[0, 1, 2, 3]]
    # ev 0: 14:00-17:00, 7 kW, 5.34 kWh; ev 1: 14:00-16:45, 7.85 kWh; ev 2: 14:00-18:45, 8.36 kWh; ev 3: 6.10 kWh
    hand = np.array([3.0 * 7.0 / 5.34, 2.75 * 7.0 / 7.85, 4.75 * 7.0 / 8.36, 3.0 * 7.0 / 6.10])
    np.testing.assert_allclose(flexibility_ratio(first.reset_index()), hand, rtol=1e-12)
    assert flexible_labels(first.reset_index()).tolist() == [True, False, True, True]
    assert flexible_labels(first.reset_index(), threshold=3.5).tolist() == [True, False, True, False]
    with pytest.raises(EcodecError, match="threshold: got 1"):
        flexible_labels(first.reset_index(), threshold=1)


def test_arrival_features_do_not_read_the_departure():
    sessions = read_sessions().iloc[:20]
    moved = sessions.assign(departure=sessions["departure"] + pd.Timedelta(hours=3))
    pd.testing.assert_frame_equal(arrival_features(sessions), arrival_features(moved))
    assert "departure" not in arrival_features(sessions).columns


def test_predicted_flexible_sessions_become_a_feasible_fleet(tmp_path):
    from ecodec.study import solve_case

    sessions = read_sessions()
    # the 100 sessions of cases/ev_dundee_100.xlsx arrive; the other 400 are the history the classifier learns from
    train, arriving = sessions[sessions["ev_id"] % 5 != 0], sessions[sessions["ev_id"] % 5 == 0]
    predicted = predict_flexible(train, arriving)
    # the prediction beats always answering the more common class of the training sessions
    truth = flexible_labels(arriving)
    majority = flexible_labels(train).mean() >= 0.5
    assert (predicted == truth).mean() > (truth == majority).mean()
    case, flags = flexible_fleet_from_history(tmp_path / "flexible.xlsx", train, arriving, np.full(96, 0.05), 500.0)
    np.testing.assert_array_equal(flags, predicted)  # the one-call chain predicts the same, from the same seed
    chosen = arriving[predicted]
    evs = flexible_fleet_tables(arriving, predicted, np.full(96, 0.05), 500.0)["evs"]
    assert [v["name"] for v in evs] == [f"ev{i}" for i in chosen["ev_id"]]
    # 15-min slots from 12:00: arrival at hh:mm is slot 4 (hh - 12) + mm / 15 + 1
    hand_arrival = [4 * (t.hour - 12) + t.minute // 15 + 1 for t in chosen["arrival"]]
    assert [v["arrival_step"] for v in evs] == hand_arrival
    run = solve_case(case)
    # every vehicle reaches its target: the energy drawn equals the sum of the required energies (eta = 1)
    drawn_kwh = run.dispatch.query("quantity == 'p'")["value"].sum() * 0.25
    assert drawn_kwh == pytest.approx(chosen["energy_required_kWh"].sum(), rel=1e-6)


def test_fleet_refuses_bad_input():
    sessions = read_sessions().iloc[:3]
    with pytest.raises(EcodecError, match="no session flagged"):
        flexible_fleet_tables(sessions, np.zeros(3, bool), np.full(96, 0.05), 10.0)
    with pytest.raises(EcodecError, match="limit_kw: got -1"):
        flexible_fleet_tables(sessions, np.ones(3, bool), np.full(96, 0.05), -1.0)
    with pytest.raises(EcodecError, match="expected both within the 8 slots"):
        flexible_fleet_tables(sessions, np.ones(3, bool), np.full(8, 0.05), 10.0)


def test_final_least_squares_fit_is_a_ridge_regression_on_the_selected_terms():
    from sklearn.linear_model import Ridge

    from ecodec.learning import RaMSSBinary

    rng = np.random.default_rng(4)
    phi = rng.standard_normal((200, 6)) + 3.0  # uncentred columns: the intercept must absorb their means
    labels = (phi[:, 0] - phi[:, 2] + 0.3 * rng.standard_normal(200) > 0).astype(int)
    model = RaMSSBinary(final_fit="least_squares", ridge=0.05, random_state=0).fit(phi, labels)
    assert {0, 2} <= set(model.support_.tolist())
    # the same fit by scikit-learn's Ridge: penalty lambda n ||w||^2 on the +/-1 labels, intercept unpenalized
    reference = Ridge(alpha=0.05 * 200).fit(phi[:, model.support_], 2.0 * labels - 1.0)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.decision_function(phi), reference.predict(phi[:, model.support_]), atol=1e-9)


def test_logistic_sampled_models_find_the_informative_term():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((150, 4))
    y = np.where(x[:, 1] + 0.2 * rng.standard_normal(150) > 0, 1.0, -1.0)
    found = ramss(x, y, rng=np.random.default_rng(0), model_fit="logistic", n_models=10, max_iter=15)
    assert found.probabilities[1] == 1.0 and found.iterations <= 15


def test_bad_data_is_refused_as_an_ecodec_error(tmp_path):
    X, y = _known_structure(0, 50)
    X[3, 2] = np.nan
    with pytest.raises(EcodecError, match="NaN"):
        RandomizedPolynomialClassifier().fit(X, y)
    broken = tmp_path / "sessions.csv"
    read_sessions().drop(columns=["max_charge_kW"]).to_csv(broken, index=False)
    with pytest.raises(EcodecError, match=r"expected also \['max_charge_kW'\]"):
        read_sessions(broken)
