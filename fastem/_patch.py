"""Put fastem's estimators under scikit-learn's names, and take them back.

After :func:`patch_sklearn`, ``from sklearn.mixture import GaussianMixture`` (and
``sklearn.mixture.BayesianGaussianMixture``, ``sklearn.cluster.KMeans``) gives
fastem's class, so existing scripts and the
libraries that build scikit-learn estimators run fastem without a changed line.
The replacement is an attribute swap in scikit-learn's modules, made once per
name and undone exactly by :func:`unpatch_sklearn`; the same idea as
scikit-learn-intelex's ``patch_sklearn``.

The swap reaches code that looks the name up *after* the patch: a module that ran
``from sklearn.mixture import GaussianMixture`` before it keeps the original, so
patch first, then import the code to accelerate.
"""

import contextlib
import importlib
import sys
import threading

__all__ = ["patch_sklearn", "sklearn_patched", "unpatch_sklearn"]

#: What a patch replaces: for each estimator name, the fastem module that defines
#: the replacement and every scikit-learn module whose attribute of that name is
#: swapped (the public package first, then the private module defining the class,
#: which scikit-learn's own functions such as ``k_means`` and its tests import
#: from). One entry per estimator.
PATCHES = {
    "BayesianGaussianMixture": (
        "fastem.bayesian_mixture",
        ("sklearn.mixture", "sklearn.mixture._bayesian_mixture"),
    ),
    "GaussianMixture": (
        "fastem.gaussian_mixture",
        ("sklearn.mixture", "sklearn.mixture._gaussian_mixture"),
    ),
    "KMeans": ("fastem.kmeans", ("sklearn.cluster", "sklearn.cluster._kmeans")),
}

#: scikit-learn's own objects, keyed by (module, name), while a name is patched.
_originals = {}
_lock = threading.RLock()


def _names(names):
    """Return the estimator names to act on, checked against :data:`PATCHES`."""
    if names is None:
        return list(PATCHES)
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise ValueError(
            f"fastem cannot patch {', '.join(map(repr, unknown))}; the estimators "
            f"it replaces are {', '.join(map(repr, PATCHES))}."
        )
    return names


def _is_patched(name):
    _, modules = PATCHES[name]
    return all((module, name) in _originals for module in modules)


def patch_sklearn(names=None):
    """Make scikit-learn's names give fastem's estimators.

    Sets ``sklearn.mixture.GaussianMixture``,
    ``sklearn.mixture.BayesianGaussianMixture``, ``sklearn.cluster.KMeans`` and
    the same names in the private modules that define them
    (``sklearn.mixture._gaussian_mixture``, ``sklearn.mixture._bayesian_mixture``,
    ``sklearn.cluster._kmeans``) to
    fastem's classes, so code that imports or looks these names up afterwards
    builds fastem estimators. Patching a name that is already patched does
    nothing; :func:`unpatch_sklearn` puts scikit-learn's classes back.

    The patch is process-wide: every thread sees it. Code that imported the
    names before the patch keeps scikit-learn's classes.

    Parameters
    ----------
    names : str or iterable of str, default=None
        The estimators to patch, by class name (``"GaussianMixture"``,
        ``"BayesianGaussianMixture"``, ``"KMeans"``); all of them by default.

    Raises
    ------
    ValueError
        For a name fastem does not replace.

    See Also
    --------
    unpatch_sklearn : Undo the patch.
    sklearn_patched : The patch for the duration of a ``with`` block.

    Examples
    --------
    >>> import fastem
    >>> fastem.patch_sklearn()
    >>> from sklearn.mixture import GaussianMixture
    >>> GaussianMixture is fastem.GaussianMixture
    True
    >>> from sklearn.cluster import KMeans
    >>> KMeans is fastem.KMeans
    True
    >>> fastem.unpatch_sklearn()
    """
    names = _names(names)
    with _lock:
        for name in names:
            fastem_module, modules = PATCHES[name]
            replacement = getattr(importlib.import_module(fastem_module), name)
            for module_name in modules:
                module = importlib.import_module(module_name)
                key = (module_name, name)
                if key not in _originals:
                    _originals[key] = getattr(module, name)
                setattr(module, name, replacement)


def unpatch_sklearn(names=None):
    """Give scikit-learn's names back their own estimators.

    Restores exactly the objects :func:`patch_sklearn` replaced. Names that are
    not patched are left alone, so unpatching twice is harmless.

    Parameters
    ----------
    names : str or iterable of str, default=None
        The estimators to restore, by class name; all of them by default.

    Raises
    ------
    ValueError
        For a name fastem does not replace.

    See Also
    --------
    patch_sklearn : Put fastem's estimators under scikit-learn's names.

    Examples
    --------
    >>> import fastem
    >>> import sklearn.cluster
    >>> original = sklearn.cluster.KMeans
    >>> fastem.patch_sklearn("KMeans")
    >>> sklearn.cluster.KMeans is fastem.KMeans
    True
    >>> fastem.unpatch_sklearn()
    >>> sklearn.cluster.KMeans is original
    True
    """
    names = _names(names)
    with _lock:
        for name in names:
            _, modules = PATCHES[name]
            for module_name in modules:
                key = (module_name, name)
                if key in _originals:
                    setattr(sys.modules[module_name], name, _originals.pop(key))


@contextlib.contextmanager
def sklearn_patched(names=None):
    """Context manager: fastem under scikit-learn's names inside a ``with`` block.

    On leaving the block, restores the names that the block patched; names that
    were patched before it stay patched, so blocks nest.

    Parameters
    ----------
    names : str or iterable of str, default=None
        The estimators to patch, by class name; all of them by default.

    Yields
    ------
    None

    See Also
    --------
    patch_sklearn : Patch until :func:`unpatch_sklearn` is called.

    Examples
    --------
    >>> import numpy as np
    >>> import fastem
    >>> import sklearn.mixture
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 0.0],
    ...               [10.0, 2.0], [10.0, 4.0], [10.0, 0.0]])
    >>> with fastem.sklearn_patched():
    ...     gm = sklearn.mixture.GaussianMixture(2, random_state=0).fit(X)
    >>> type(gm).__module__
    'fastem.gaussian_mixture'
    >>> sklearn.mixture.GaussianMixture.__module__
    'sklearn.mixture._gaussian_mixture'
    """
    names = _names(names)
    with _lock:
        ours = [name for name in names if not _is_patched(name)]
        patch_sklearn(ours)
    try:
        yield
    finally:
        unpatch_sklearn(ours)
