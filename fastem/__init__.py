"""fastem: Numba-compiled one-pass EM for mixture models, a drop-in for scikit-learn.

The estimators mirror scikit-learn's (:class:`GaussianMixture`,
:class:`BayesianGaussianMixture`, :class:`KMeans`);
the compiled kernels behind them are in :mod:`fastem.kernels`.
:func:`load` reads a model file written by an estimator's ``save``.
:func:`patch_sklearn` puts them under scikit-learn's own names, so code that
imports ``sklearn.mixture.GaussianMixture`` or ``sklearn.cluster.KMeans`` runs
fastem unchanged.
"""

import importlib

#: Public names and the module that defines each. They are imported on first
#: use (PEP 562), so ``import fastem`` costs milliseconds: scikit-learn, SciPy
#: and Numba load with the first estimator that is used.
_EXPORTS = {
    "BayesianGaussianMixture": ".bayesian_mixture",
    "GaussianMixture": ".gaussian_mixture",
    "KMeans": ".kmeans",
    "load": "._io",
    "patch_sklearn": "._patch",
    "select_model": ".select",
    "sklearn_patched": "._patch",
    "unpatch_sklearn": "._patch",
}
#: Public submodules, also imported on first use.
_SUBMODULES = ("kernels", "plot", "warmup")

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
