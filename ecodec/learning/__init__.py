"""Machine learning for ecodec's data: a polynomial classifier with randomized term selection (RaMSS) and a
distance-correlation pre-filter, its benchmark, and the prediction of flexible EV charging sessions.

Needs the optional extra ``analysis`` (scikit-learn and dcor); without it, importing this package raises an
:class:`~ecodec.errors.EcodecError` that says how to install it.  This package imports nothing from ecodec but
:mod:`ecodec.errors`.
"""

from ecodec.errors import EcodecError

try:
    import dcor  # noqa: F401
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test environment has the extra
    raise EcodecError(f"ecodec.learning needs scikit-learn and dcor ({exc.name} is missing): install ecodec's "
                      "optional extra 'analysis' with  pip install 'ecodec[analysis]'") from exc

from ecodec.learning.polynomial_classifier import (RandomizedPolynomialClassifier,  # noqa: E402
                                                   distance_correlations, kept_attributes)
from ecodec.learning.ramss import LearningInputError, RaMSSBinary, ramss  # noqa: E402

__all__ = ["LearningInputError", "RaMSSBinary", "RandomizedPolynomialClassifier", "distance_correlations",
           "kept_attributes", "ramss"]
