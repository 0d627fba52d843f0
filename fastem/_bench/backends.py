"""The same work on each backend: fastem, scikit-learn and (k-means) faiss.

Every fit starts from the same place with ``n_init=1``, ``tol=0`` and a fixed
``max_iter``, so that the backends do identical work: given parameters for
GaussianMixture, given centers for k-means, and for BayesianGaussianMixture
(which takes no initial parameters) ``init_params='random_from_data'`` with the
same integer ``random_state``, hence the same initial responsibilities and the
same first posterior. Shared with the asv suite,
which loads this file from the checkout while an older fastem is installed:
fastem is imported inside the functions, by public names only (see the package
docstring).
"""

import contextlib
import functools
import importlib
import inspect
import warnings

import numpy as np

from .data import REG_COVAR, SEED

#: k-means fit to convergence: scikit-learn's default tolerance and iteration cap.
CONVERGED_TOL = 1e-4
CONVERGED_MAX_ITER = 300
#: BayesianGaussianMixture's start on both backends (with ``random_state=SEED``):
#: one-hot responsibilities on ``n_components`` rows drawn the same way.
BGMM_INIT_PARAMS = "random_from_data"
#: The fastem estimator each benchmark model needs.
FASTEM_NAMES = {
    "gmm": "GaussianMixture",
    "bgmm": "BayesianGaussianMixture",
    "kmeans": "KMeans",
}


def fastem_available(what="GaussianMixture"):
    """Return ``None`` if ``fastem.<what>`` imports, else the reason it does not.

    ``what`` is a dotted path below ``fastem`` (``"KMeans"``,
    ``"kernels.suff_stats"``): an older commit may lack it.
    """
    try:
        module, _, name = f"fastem.{what}".rpartition(".")
        getattr(importlib.import_module(module), name)
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        return f"fastem.{what} unavailable: {type(exc).__name__}: {exc}"
    return None


def faiss_available():
    """Return ``None`` if faiss imports, else the reason it does not."""
    try:
        import faiss  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return f"faiss unavailable: {type(exc).__name__}: {exc}"
    return None


@contextlib.contextmanager
def threads(backend, count):
    """Run the body with ``count`` threads for ``backend``, restoring afterwards.

    scikit-learn: BLAS and OpenMP pools limited with threadpoolctl. fastem: numba
    threads (and the BLAS pool its M-step may use). faiss: its OpenMP pool.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count):
        if backend == "fastem":
            import numba

            previous = numba.get_num_threads()
            numba.set_num_threads(count)
            try:
                yield
            finally:
                numba.set_num_threads(previous)
        elif backend == "faiss":
            import faiss

            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(count)
            try:
                yield
            finally:
                faiss.omp_set_num_threads(previous)
        else:
            yield


def make_gmm(backend, covariance_type, init, max_iter):
    """Return an unfitted GaussianMixture of ``backend`` starting at ``init``.

    ``init`` comes from :func:`~.data.initial_parameters`; the number of
    components is its number of means.
    """
    if backend == "fastem":
        from fastem import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture(
        n_components=init["means_init"].shape[0],
        covariance_type=covariance_type,
        tol=0.0,
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        n_init=1,
        random_state=SEED,
        weights_init=init["weights_init"],
        means_init=init["means_init"],
        precisions_init=init["precisions_init"],
    )


def fit_gmm(backend, covariance_type, X, init, max_iter):
    """Fit a GaussianMixture (ConvergenceWarning silenced: ``tol=0`` is wanted)."""
    model = make_gmm(backend, covariance_type, init, max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def make_bgmm(backend, covariance_type, n_components, max_iter):
    """Return an unfitted BayesianGaussianMixture of ``backend``.

    Both backends start from ``init_params='random_from_data'`` with
    ``random_state=SEED``: the same rows, hence the same initial
    responsibilities and posterior. Default priors (the data's mean and
    covariance), so the fits agree to rounding.
    """
    if backend == "fastem":
        from fastem import BayesianGaussianMixture
    else:
        from sklearn.mixture import BayesianGaussianMixture
    return BayesianGaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=0.0,
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        n_init=1,
        init_params=BGMM_INIT_PARAMS,
        random_state=SEED,
    )


def fit_bgmm(backend, covariance_type, X, n_components, max_iter):
    """Fit a BayesianGaussianMixture (ConvergenceWarning silenced: ``tol=0``)."""
    model = make_bgmm(backend, covariance_type, n_components, max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def lower_bounds(model):
    """Return ``model.lower_bounds_`` as a list of floats (empty if it has none).

    scikit-learn's 'tied' BayesianGaussianMixture stores one-element arrays
    rather than numbers; they are flattened here.
    """
    values = getattr(model, "lower_bounds_", None)
    if values is None:
        return []
    return [float(np.asarray(v).item()) for v in values]


def sklearn_estep_model(covariance_type, init):
    """Return a scikit-learn GaussianMixture holding the initial parameters."""
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        init["means_init"].shape[0], covariance_type=covariance_type
    )
    model.weights_ = init["weights_init"]
    model.means_ = init["means_init"]
    model.precisions_cholesky_ = init["precisions_cholesky"]
    return model


@functools.cache
def _takes_log_norm(suff_stats):
    return "log_norm" in inspect.signature(suff_stats).parameters


def fastem_suff_stats(X, covariance_type, init):
    """Call :func:`fastem.kernels.suff_stats` at the parameters ``init``.

    The one place that calls it, written for both of its signatures, since asv
    runs this code against older commits too: ``suff_stats(X, means,
    precisions_cholesky, weights, covariance_type)`` (older) and
    ``suff_stats(X, means, precisions_cholesky, log_norm, covariance_type)`` with
    ``log_norm = fastem.kernels.log_norm(precisions_cholesky, weights,
    covariance_type, n_features)`` (newer). ``log_norm`` is computed here, so both
    do the same work: from the weights to the statistics.
    """
    from fastem import kernels

    means, chol = init["means_init"], init["precisions_cholesky"]
    weights = init["weights_init"]
    if _takes_log_norm(kernels.suff_stats):
        norm = kernels.log_norm(chol, weights, covariance_type, X.shape[1])
        return kernels.suff_stats(X, means, chol, norm, covariance_type)
    return kernels.suff_stats(X, means, chol, weights, covariance_type)


def estep(backend, covariance_type, X, init, sk_model=None):
    """One fused E-step plus sufficient statistics (or scikit-learn's equivalent).

    fastem: :func:`fastem_suff_stats`. scikit-learn: ``_estimate_log_prob_resp``
    then ``_estimate_gaussian_parameters`` on the responsibilities, which is the
    O(n) work of one of its EM iterations (private API: there is no public
    equivalent). ``sk_model`` comes from :func:`sklearn_estep_model`.
    """
    if backend == "fastem":
        return fastem_suff_stats(X, covariance_type, init)
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    _, log_resp = sk_model._estimate_log_prob_resp(X)
    return _estimate_gaussian_parameters(
        X, np.exp(log_resp), REG_COVAR, covariance_type
    )


def fit_kmeans(backend, X, centers, max_iter, tol=0.0):
    """Run k-means from ``centers``; returns ``(final centers, n_iter)``.

    faiss has no tolerance: it always runs ``max_iter`` iterations, on every row
    (no subsampling).
    """
    k = centers.shape[0]
    if backend == "faiss":
        import faiss

        km = faiss.Kmeans(
            X.shape[1],
            k,
            niter=max_iter,
            nredo=1,
            seed=SEED,
            verbose=False,
            max_points_per_centroid=X.shape[0] // k + 1,  # use every row
            min_points_per_centroid=1,
        )
        km.train(X, init_centroids=centers)
        return km.centroids, max_iter
    if backend == "fastem":
        from fastem import KMeans
    else:
        from sklearn.cluster import KMeans
    model = KMeans(
        n_clusters=k,
        init=centers,
        n_init=1,
        tol=tol,
        max_iter=max_iter,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model.cluster_centers_, model.n_iter_
