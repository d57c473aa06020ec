"""A polynomial classifier whose terms are chosen by randomized model-structure selection (RaMSS).

Sources: Brankovic, Falsone, Prandini, Piroddi, "Randomised Algorithm for Feature Selection and Classification",
arXiv 1607.08400 (polynomial expansion of the attributes, a probability distribution over the model structures
refined by sampling, optional distance-correlation pre-filter: verified in its abstract); Falsone, Piroddi,
Prandini, Automatica 60 (2015) 227-238 (RaMSS; its steps are recalled, unverified [U]: see
:mod:`ecodec.learning.ramss`).

Pipeline, fitted on the training samples only::

    x  --dCor filter-->  x_A  --standardize-->  z  --PolynomialFeatures(degree)-->  monomials  --standardize-->  phi
    per class c (one-vs-rest; one problem when there are two classes):  labels y_c = +1 if class c else -1,
        RaMSS over the m columns of phi  ->  RIPs mu_c,  terms S_c = {j : mu_cj > 0.5},
        f_c(x) = b_c + phi_S_c(x) . w_c      (least squares on +/-1 labels, or a logistic fit)
    prediction: two classes, class 1 when f(x) > 0; more, argmax_c f_c(x)

====================  ===================================  ========================================================
symbol                attribute                            meaning
====================  ===================================  ========================================================
dCor(x_j, y)          ``dcor_``                            distance correlation of attribute j with the labels
                                                           (one-hot for more than two classes), ``dcor`` library
A                     ``attributes_``                      attributes kept by the filter (all without one)
m                     ``n_terms_full_``                    monomials of degree 1..``degree`` in the kept attributes
mu_c                  ``probabilities_``                   final RIPs, one row per one-vs-rest problem
S = union_c S_c       ``selected_terms_``                  names of the selected terms
iterations            ``n_iter_``                          RaMSS iterations run, one per one-vs-rest problem
====================  ===================================  ========================================================

The filter keeps the ``dcor_top_k`` attributes of highest dCor, or those with dCor >= ``dcor_threshold`` (at
least the best one) [U: the paper's filter rule was not checked].  Multiclass uses scikit-learn's
:class:`~sklearn.multiclass.OneVsRestClassifier` around :class:`~ecodec.learning.ramss.RaMSSBinary`.  Standardizing
before and after the expansion [D] makes one ridge weight and one score scale fit every data set.

>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> model = RandomizedPolynomialClassifier(random_state=0).fit(X, y)
>>> round(model.score(X, y), 2) >= 0.95, model.n_terms_full_, model.n_terms_selected_ < model.n_terms_full_
(True, 14, True)
"""

from __future__ import annotations

import numbers

import dcor
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ecodec.learning.ramss import MODEL_FITS, SCORES, LearningInputError, RaMSSBinary


class RandomizedPolynomialClassifier(ClassifierMixin, BaseEstimator):
    """Polynomial classifier with RaMSS term selection and an optional dCor pre-filter (see the module docstring).

    Options (defaults; [U] recalled and unverified, [D] designed for ecodec):

    * ``degree`` (2): highest degree of the polynomial expansion; ``interaction_only`` (False): no powers.
    * ``n_models`` (100, [U]), ``max_iter`` (100, [U]), ``initial_probability`` (None = 1/m, [U]),
      ``model_score`` ('mse' = exp(-K MSE) or 'accuracy', [U]), ``score_gain`` K (1, [U]), ``step`` (None =
      adaptive gamma, [U]).
    * ``model_fit`` of each sampled model ('least_squares' on +/-1 labels [U], or 'logistic' [D]); ``final_fit``
      of the selected terms ('logistic' [D], 'least_squares', or None = as ``model_fit``); ``ridge`` (0.1 per
      sample, [D]); ``C`` (1, inverse L2 strength of the logistic fits, [D]); ``validation_fraction`` (0.3, [D]),
      ``resample_validation`` (True: a fresh held-out share every iteration, [D]).
    * ``dcor_threshold`` / ``dcor_top_k`` (None: no filter): the distance-correlation pre-filter, one or neither.
    * ``random_state``: None, an int seed or a numpy Generator; same seed, same model.
    """

    def __init__(self, degree=2, interaction_only=False, n_models=100, max_iter=100, initial_probability=None,
                 model_score="mse", score_gain=1.0, step=None, model_fit="least_squares", final_fit="logistic",
                 ridge=0.1, C=1.0, validation_fraction=0.3, resample_validation=True, dcor_threshold=None,
                 dcor_top_k=None, random_state=None):
        self.degree = degree
        self.interaction_only = interaction_only
        self.n_models = n_models
        self.max_iter = max_iter
        self.initial_probability = initial_probability
        self.model_score = model_score
        self.score_gain = score_gain
        self.step = step
        self.model_fit = model_fit
        self.final_fit = final_fit
        self.ridge = ridge
        self.C = C
        self.validation_fraction = validation_fraction
        self.resample_validation = resample_validation
        self.dcor_threshold = dcor_threshold
        self.dcor_top_k = dcor_top_k
        self.random_state = random_state

    def fit(self, X, y):
        """Select the terms and fit the one-vs-rest models on ``X`` (n_samples, n_features) and labels ``y``."""
        self._check_options()
        X, y = _refusing(lambda: validate_data(self, X, y, dtype=np.float64))
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise LearningInputError(f"y: got 1 class ({self.classes_[0]!r}); expected samples of at least 2 "
                                     "classes")
        self.dcor_ = distance_correlations(X, y)
        self.attributes_ = kept_attributes(self.dcor_, self.dcor_threshold, self.dcor_top_k)
        names = (list(self.feature_names_in_) if hasattr(self, "feature_names_in_")
                 else [f"x{j}" for j in range(X.shape[1])])
        self.expansion_ = make_pipeline(StandardScaler(), PolynomialFeatures(
            self.degree, interaction_only=self.interaction_only, include_bias=False), StandardScaler())
        phi = self.expansion_.fit_transform(X[:, self.attributes_])
        self.terms_ = self.expansion_[1].get_feature_names_out([names[j] for j in self.attributes_])
        self.n_terms_full_ = len(self.terms_)
        seed = int(_generator(self.random_state).integers(2**32))
        binary = RaMSSBinary(**{k: getattr(self, k) for k in (
            "n_models", "max_iter", "initial_probability", "model_score", "score_gain", "step", "model_fit",
            "final_fit", "ridge", "C", "validation_fraction", "resample_validation")}, random_state=seed)
        self.one_vs_rest_ = OneVsRestClassifier(binary).fit(phi, y)
        fitted = [e for e in self.one_vs_rest_.estimators_ if hasattr(e, "probabilities_")]
        self.probabilities_ = (np.vstack([e.probabilities_ for e in fitted]) if fitted
                               else np.zeros((0, self.n_terms_full_)))
        self.n_iter_ = np.array([e.n_iter_ for e in fitted], dtype=int)
        self.support_ = np.flatnonzero((self.probabilities_ > 0.5).any(axis=0))
        self.selected_terms_ = [str(self.terms_[j]) for j in self.support_]
        self.n_terms_selected_ = int(self.support_.size)
        return self

    def decision_function(self, X):
        """Per sample the score of class ``classes_[1]`` (two classes) or one column per class (more)."""
        check_is_fitted(self)
        X = _refusing(lambda: validate_data(self, X, dtype=np.float64, reset=False))
        return self.one_vs_rest_.decision_function(self.expansion_.transform(X[:, self.attributes_]))

    def predict(self, X):
        """The class of each row of ``X``."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags

    def _check_options(self) -> None:
        _require(isinstance(self.degree, numbers.Integral) and self.degree >= 1, "degree", self.degree,
                 "an integer >= 1")
        _require(isinstance(self.n_models, numbers.Integral) and self.n_models >= 2, "n_models", self.n_models,
                 "an integer >= 2")
        _require(isinstance(self.max_iter, numbers.Integral) and self.max_iter >= 1, "max_iter", self.max_iter,
                 "an integer >= 1")
        _require(self.initial_probability is None or _number_in(self.initial_probability, 0.0, 1.0, low_open=True),
                 "initial_probability", self.initial_probability, "None (1/m) or a number in (0, 1]")
        _require(self.model_score in SCORES, "model_score", self.model_score, f"one of {', '.join(SCORES)}")
        _require(self.model_fit in MODEL_FITS, "model_fit", self.model_fit, f"one of {', '.join(MODEL_FITS)}")
        _require(self.final_fit is None or self.final_fit in MODEL_FITS, "final_fit", self.final_fit,
                 f"None (as model_fit) or one of {', '.join(MODEL_FITS)}")
        for name in ("score_gain", "C"):
            _require(_number_in(getattr(self, name), 0.0, np.inf, low_open=True), name, getattr(self, name),
                     "a number > 0")
        _require(self.step is None or _number_in(self.step, 0.0, np.inf, low_open=True), "step", self.step,
                 "None (adaptive) or a number > 0")
        _require(_number_in(self.ridge, 0.0, np.inf), "ridge", self.ridge, "a number >= 0")
        _require(_number_in(self.validation_fraction, 0.0, 0.9), "validation_fraction", self.validation_fraction,
                 "a number in [0, 0.9]")
        _require(isinstance(self.resample_validation, (bool, np.bool_)), "resample_validation",
                 self.resample_validation, "True or False")
        _require(self.dcor_threshold is None or _number_in(self.dcor_threshold, 0.0, 1.0), "dcor_threshold",
                 self.dcor_threshold, "None or a number in [0, 1]")
        _require(self.dcor_top_k is None or (isinstance(self.dcor_top_k, numbers.Integral) and self.dcor_top_k >= 1),
                 "dcor_top_k", self.dcor_top_k, "None or an integer >= 1")
        _require(self.dcor_threshold is None or self.dcor_top_k is None, "dcor_top_k", self.dcor_top_k,
                 "None when dcor_threshold is given (one filter rule at a time)")


def distance_correlations(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dCor (``dcor.distance_correlation``) of each column of ``X`` with the labels ``y``, coded one-hot (a single
    0/1 column for two classes); 0 for a constant column.

    >>> X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    >>> [round(float(d), 3) for d in distance_correlations(X, np.array([0, 0, 1, 1]))]
    [0.912, 0.0]
    """
    classes, codes = np.unique(y, return_inverse=True)
    labels = np.eye(classes.size)[codes][:, 1:] if classes.size == 2 else np.eye(classes.size)[codes]
    return np.array([dcor.distance_correlation(np.ascontiguousarray(X[:, j]), labels) if np.ptp(X[:, j]) > 0
                     else 0.0 for j in range(X.shape[1])])


def kept_attributes(scores: np.ndarray, threshold: float | None, top_k: int | None) -> np.ndarray:
    """Indices (ascending) of the attributes the dCor filter keeps: the ``top_k`` highest scores (ties to the lower
    index), or those >= ``threshold`` and at least the best one; all of them when both are None.

    >>> kept_attributes(np.array([0.1, 0.7, 0.3, 0.7]), None, 2).tolist()
    [1, 3]
    >>> kept_attributes(np.array([0.1, 0.2]), 0.5, None).tolist()
    [1]
    """
    if top_k is not None:
        return np.sort(np.argsort(-scores, kind="stable")[:top_k])
    if threshold is not None:
        keep = np.flatnonzero(scores >= threshold)
        return keep if keep.size else np.array([int(np.argmax(scores))])
    return np.arange(scores.size)


def _generator(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise LearningInputError(f"random_state: got {random_state!r}; expected None, an integer seed >= 0 or a "
                                 "numpy Generator") from exc


def _refusing(validate):
    """Run a scikit-learn validation; its ValueError becomes a LearningInputError with the same message."""
    try:
        return validate()
    except LearningInputError:
        raise
    except ValueError as exc:
        raise LearningInputError(str(exc)) from exc


def _number_in(value, low: float, high: float, low_open: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        return False
    return (value > low if low_open else value >= low) and value <= high


def _require(ok: bool, name: str, value, expected: str) -> None:
    if not ok:
        raise LearningInputError(f"option {name}: got {value!r}; expected {expected}")
