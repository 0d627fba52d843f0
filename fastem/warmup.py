"""Compile fastem's kernels ahead of time: ``fastem warmup``.

The first fit of each covariance type compiles its kernels (seconds; Numba
then keeps them on disk, see :mod:`fastem._cache`). :func:`warmup` pays that
cost once, up front -- in a ``Dockerfile`` (``RUN fastem warmup``) or a CI step
whose cache directory is kept -- by running what users run: small fits with the
default parameters (so the k-means initialisation is compiled too) but a few
iterations, then ``predict``, ``predict_proba``, ``score_samples`` and
``score``, for every family and dtype asked for. Running real fits rather than
listing kernel signatures means that whatever a fit compiles, the warm-up
compiles.

``python -m fastem.warmup`` is the same as ``fastem warmup``.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _cache

__all__ = ["DTYPES", "FAMILIES", "cache_location", "main", "warmup"]

#: What can be warmed up: the covariance types of ``GaussianMixture``,
#: ``KMeans`` and ``BayesianGaussianMixture`` (every covariance type).
FAMILIES = ("full", "tied", "diag", "spherical", "kmeans", "bayes")
DTYPES = ("float64", "float32")
COVARIANCE_TYPES = FAMILIES[:4]

#: Rows, features and clusters of the generated data: enough rows for every
#: initialisation, few enough that the fits themselves take milliseconds.
_N_SAMPLES, _N_FEATURES, _N_CLUSTERS = 600, 3, 3

#: Every iteration runs the same kernels; a few also exercise what only later
#: iterations use (KMeans' bounded passes) without spending a warm run's time
#: on the parallel overhead of 100 tiny passes.
_MAX_ITER = 5


def _data(dtype, n_features=_N_FEATURES, n_samples=_N_SAMPLES):
    """Return the generated data.

    Writable data is enough: the kernels see every input read-only
    (:func:`fastem._config.readonly`), so memory-mapped ``.npy`` files use the
    same compiled kernels.
    """
    from ._bench.data import make_blobs

    return make_blobs(n_samples, n_features, _N_CLUSTERS, dtype=dtype)


def _mixture(model, X):
    model.fit(X)
    model.predict(X)
    model.predict_proba(X)
    model.score_samples(X)
    model.score(X)


def _gaussian_mixture(covariance_type):
    def run(dtype):
        from .gaussian_mixture import GaussianMixture

        model = GaussianMixture(
            _N_CLUSTERS,
            covariance_type=covariance_type,
            max_iter=_MAX_ITER,
            random_state=0,
        )
        _mixture(model, _data(dtype))

    return run


def _bayes(dtype):
    from .bayesian_mixture import BayesianGaussianMixture

    X = _data(dtype)
    for covariance_type in COVARIANCE_TYPES:
        model = BayesianGaussianMixture(
            n_components=_N_CLUSTERS,
            covariance_type=covariance_type,
            max_iter=_MAX_ITER,
            random_state=0,
        )
        _mixture(model, X)


def _kmeans(dtype):
    from .kernels._lloyd import _BOUNDS_MIN_PASS_WORK, _BOUNDS_MIN_WORK
    from .kmeans import KMeans

    n_clusters = KMeans().n_clusters
    # Few features or rows take plain Lloyd passes; from n_clusters * n_features
    # >= _BOUNDS_MIN_WORK on (with enough rows), the passes with Hamerly's
    # bounds: compile both.
    bounded_features = -(-_BOUNDS_MIN_WORK // n_clusters)
    bounded_rows = -(-_BOUNDS_MIN_PASS_WORK // (n_clusters * bounded_features))
    for n_samples, n_features in (
        (_N_SAMPLES, _N_FEATURES),
        (bounded_rows, bounded_features),
    ):
        X = _data(dtype, n_features, n_samples)
        model = KMeans(max_iter=_MAX_ITER, random_state=0).fit(X)
        model.predict(X)
        model.transform(X)
        model.score(X)
    # k-means++ on data too large to keep every candidate's distances takes a
    # compiled pass (fastem._seeding): one step of it on the last data.
    from ._seeding import _Compiled

    seeding = _Compiled(X, None, None)
    seeding.step(X[:2].astype(np.float64), np.full(X.shape[0], np.inf), update=False)


_RUNS = {kind: _gaussian_mixture(kind) for kind in COVARIANCE_TYPES}
_RUNS.update(kmeans=_kmeans, bayes=_bayes)


def _choose(values, allowed, what):
    if values is None:
        return allowed
    if isinstance(values, str):
        values = [values]
    chosen = []
    for value in values:
        value = np.dtype(value).name if what == "dtype" else str(value)
        if value not in allowed:
            raise ValueError(
                f"unknown {what} {value!r}; expected one of {', '.join(allowed)}"
            )
        if value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def warmup(families=None, dtypes=None, verbose=True):
    """Compile the kernels that fits and predictions use, ahead of time.

    Runs small fits and predictions on generated data; Numba caches the
    compiled kernels on disk (see :func:`cache_location`), so later processes
    load them instead of compiling.

    Parameters
    ----------
    families : str or list of str, default=None
        Among ``'full'``, ``'tied'``, ``'diag'``, ``'spherical'`` (the
        covariance types of ``GaussianMixture``), ``'kmeans'`` and ``'bayes'``
        (``BayesianGaussianMixture``, every covariance type). None: all.
    dtypes : str or list of str, default=None
        ``'float64'`` and/or ``'float32'``. None: both.
    verbose : bool, default=True
        Print each family's time as it finishes.

    Returns
    -------
    dict
        Seconds taken per family, in the order run. Kernels shared between
        families are compiled by the first family that needs them.

    Examples
    --------
    >>> from fastem.warmup import warmup
    >>> warmup(["diag"], ["float64"], verbose=False)  # doctest: +SKIP
    {'diag': 14.2}
    """
    families = _choose(families, FAMILIES, "family")
    dtypes = _choose(dtypes, DTYPES, "dtype")
    seconds = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for family in families:
            times = []
            for dtype in dtypes:
                start = time.perf_counter()
                _RUNS[family](dtype)
                times.append(time.perf_counter() - start)
            seconds[family] = sum(times)
            if verbose:
                detail = ", ".join(
                    f"{dtype} {t:.1f} s" for dtype, t in zip(dtypes, times, strict=True)
                )
                print(f"  {family:<10} {sum(times):6.1f} s  ({detail})", flush=True)
    return seconds


def cache_location():
    """Where Numba keeps fastem's compiled kernels, and by which rule.

    Returns
    -------
    rule : str or None
        ``'NUMBA_CACHE_DIR'``, ``'__pycache__'`` (next to fastem's modules),
        ``'user-wide'`` (Numba's directory in the user's cache directory) or
        ``'mixed'``; None when nothing can be cached on disk.
    directories : list of str
        The cache directories of fastem's kernels.
    """
    import os

    import numba

    directories = _cache.cache_dirs()
    if not directories:
        return None, []
    parents = {os.path.normpath(os.path.dirname(path)) for path in directories}
    for rule, root in (
        ("NUMBA_CACHE_DIR", numba.config.CACHE_DIR),
        ("user-wide", _cache.user_wide_dir()),
    ):
        if root and parents == {os.path.normpath(root)}:
            return rule, directories
    if all(os.path.basename(path) == "__pycache__" for path in directories):
        return "__pycache__", directories
    return "mixed", directories


def main(argv=None):
    """Run ``fastem warmup`` (what ``python -m fastem.warmup`` calls).

    Parameters
    ----------
    argv : list of str, optional
        Options of ``fastem warmup`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status, as :func:`fastem.cli.main`.
    """
    from .cli import main as cli_main

    argv = sys.argv[1:] if argv is None else list(argv)
    return cli_main(["warmup", *argv])


if __name__ == "__main__":
    sys.exit(main())
