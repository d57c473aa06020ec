"""Cross-validated accuracy and model size of the RaMSS polynomial classifier against two baselines.

The baselines are a standardized logistic regression (scikit-learn ``Pipeline`` of ``StandardScaler`` and
``LogisticRegression``, L2, C = 1) and a ``DecisionTreeClassifier`` (grown until its leaves are pure).  Every
classifier sees the same seeded stratified k folds (``StratifiedKFold(shuffle=True, random_state=seed)``).
Model size counts what a model uses to predict:

==========================  =======================================================================
classifier                  ``model_size``
==========================  =======================================================================
polynomial (RaMSS)          selected terms, union over the one-vs-rest problems (out of ``full``)
logistic regression         attributes (every one has a coefficient; ``full`` is their number)
decision tree               leaves
==========================  =======================================================================

``full`` is, for the polynomial classifier, the number of monomials of degree 1..``degree`` in the attributes the
dCor filter kept (the full expansion it selects from).

>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> table = compare_classifiers(X, y, n_splits=3, seed=0)
>>> list(table["classifier"]), bool(table["accuracy_mean"].min() > 0.85)
(['polynomial', 'logistic', 'tree'], True)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from ecodec.learning.polynomial_classifier import RandomizedPolynomialClassifier
from ecodec.learning.ramss import LearningInputError

log = logging.getLogger(__name__)

#: scikit-learn's shipped data sets used by :func:`benchmark`
DATASETS = {"breast_cancer": load_breast_cancer, "wine": load_wine, "iris": load_iris}
CLASSIFIERS = ("polynomial", "logistic", "tree")


def classifiers(seed: int = 0, polynomial_options: Mapping[str, object] | None = None) -> dict[str, object]:
    """The three compared classifiers, unfitted: ``polynomial`` (RaMSS, seeded, with ``polynomial_options``),
    ``logistic`` (standardized, in a Pipeline) and ``tree`` (seeded).

    >>> sorted(classifiers(0))
    ['logistic', 'polynomial', 'tree']
    """
    return {"polynomial": RandomizedPolynomialClassifier(random_state=seed, **dict(polynomial_options or {})),
            "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "tree": DecisionTreeClassifier(random_state=seed)}


def model_size(model) -> tuple[int, int]:
    """(size, full size) of a fitted classifier as the module docstring counts them.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> model_size(DecisionTreeClassifier(random_state=0).fit(X, y))[0] >= 3
    True
    """
    if isinstance(model, RandomizedPolynomialClassifier):
        return model.n_terms_selected_, model.n_terms_full_
    if isinstance(model, Pipeline):
        return int(model.n_features_in_), int(model.n_features_in_)
    if isinstance(model, DecisionTreeClassifier):
        return int(model.get_n_leaves()), int(model.get_n_leaves())
    raise LearningInputError(f"model: got a {type(model).__name__}; expected one of the classifiers of "
                             "ecodec.learning.benchmark.classifiers")


def compare_classifiers(X, y, n_splits: int = 5, seed: int = 0,
                        polynomial_options: Mapping[str, object] | None = None,
                        models: Mapping[str, object] | None = None) -> pd.DataFrame:
    """One row per classifier: ``accuracy_mean``, ``accuracy_std`` (over the folds, population std),
    ``model_size_mean``, ``full_size``, ``fit_s_mean`` (seconds per fit), on seeded stratified ``n_splits`` folds.
    ``models`` replaces the default :func:`classifiers`."""
    if not isinstance(n_splits, int) or n_splits < 2:
        raise LearningInputError(f"n_splits: got {n_splits!r}; expected an integer >= 2")
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rows = []
    for name, model in (models or classifiers(seed, polynomial_options)).items():
        cv = cross_validate(model, X, y, cv=folds, scoring="accuracy", return_estimator=True)
        sizes = np.array([model_size(fitted) for fitted in cv["estimator"]])
        rows.append({"classifier": name, "accuracy_mean": float(np.mean(cv["test_score"])),
                     "accuracy_std": float(np.std(cv["test_score"])), "model_size_mean": float(sizes[:, 0].mean()),
                     "full_size": float(sizes[:, 1].mean()), "fit_s_mean": float(np.mean(cv["fit_time"]))})
        log.info("%s: accuracy %.4f +/- %.4f, size %.1f of %.1f", name, rows[-1]["accuracy_mean"],
                 rows[-1]["accuracy_std"], rows[-1]["model_size_mean"], rows[-1]["full_size"])
    return pd.DataFrame(rows)


def benchmark(datasets: tuple[str, ...] = tuple(DATASETS), n_splits: int = 5, seed: int = 0,
              polynomial_options: Mapping[str, object] | None = None) -> pd.DataFrame:
    """:func:`compare_classifiers` on each named shipped data set, stacked, with a ``dataset`` column first."""
    unknown = [name for name in datasets if name not in DATASETS]
    if unknown:
        raise LearningInputError(f"datasets: got {unknown!r}; expected names among {', '.join(DATASETS)}")
    tables = []
    for name in datasets:
        X, y = DATASETS[name](return_X_y=True)
        table = compare_classifiers(X, y, n_splits, seed, polynomial_options)
        table.insert(0, "dataset", name)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def markdown_table(table: pd.DataFrame) -> str:
    """The benchmark table as Markdown: accuracy in percent (mean +/- std), model size (of full), seconds per fit.

    >>> print(markdown_table(pd.DataFrame([{"dataset": "iris", "classifier": "tree", "accuracy_mean": 0.95,
    ...     "accuracy_std": 0.01, "model_size_mean": 9.0, "full_size": 9.0, "fit_s_mean": 0.002}])))
    | data set | classifier | accuracy (%) | model size (of full) | fit (s) |
    |---|---|---|---|---|
    | iris | tree | 95.0 +/- 1.0 | 9.0 (of 9.0) | 0.002 |
    """
    lines = ["| data set | classifier | accuracy (%) | model size (of full) | fit (s) |", "|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {row.dataset} | {row.classifier} | {100 * row.accuracy_mean:.1f} +/- "
                     f"{100 * row.accuracy_std:.1f} | {row.model_size_mean:.1f} (of {row.full_size:.1f}) | "
                     f"{row.fit_s_mean:.3g} |")
    return "\n".join(lines)
