"""fastem: Numba-compiled one-pass EM for mixture models, a drop-in for scikit-learn.

The estimators mirror scikit-learn's (:class:`GaussianMixture`,
:class:`BayesianGaussianMixture`, :class:`KMeans`);
the compiled kernels behind them are in :mod:`fastem.kernels`.
:func:`load` reads a model file written by an estimator's ``save``.
:func:`patch_sklearn` puts them under scikit-learn's own names, so code that
imports ``sklearn.mixture.GaussianMixture`` or ``sklearn.cluster.KMeans`` runs
fastem unchanged.
"""

from ._io import load
from ._patch import patch_sklearn, sklearn_patched, unpatch_sklearn
from .bayesian_mixture import BayesianGaussianMixture
from .gaussian_mixture import GaussianMixture
from .kmeans import KMeans
from .select import select_model

__all__ = [
    "BayesianGaussianMixture",
    "GaussianMixture",
    "KMeans",
    "load",
    "patch_sklearn",
    "select_model",
    "sklearn_patched",
    "unpatch_sklearn",
]
__version__ = "0.1.0"
