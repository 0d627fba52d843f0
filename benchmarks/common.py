"""Profiles, datasets, initial parameters and backends shared by the benchmarks.

Every benchmark is a side-by-side pair: a ``backend`` parameter (``fastem``,
``sklearn``, and ``faiss`` for k-means) doing identical work -- the same data, the
same initial parameters, ``n_init=1``, ``tol=0`` and a fixed ``max_iter``. The JIT
warm-up is done in ``setup``.

The profile is chosen with the environment variable ``FASTEM_BENCH_PROFILE``:

- ``quick``: tiny problems, a few minutes for the whole suite (smoke runs);
- ``regular`` (default): the project's target sizes (n=1e6, d=16, k=16 for the
  four covariance types; n=2e5, d=64, k=32 full; n=1e6, d=16, k=64 full for
  memory; k-means at n=1e6, d=16, k=64 and n=1e6, d=2, k=8);
- ``large``: adds n=1e7 rows.

This module depends only on fastem's public API (and ``fastem.kernels.suff_stats``)
so that asv can run it against older commits; ``fastem/_bench.py`` (the one-run
comparison script) generates the same data with the same seeds.
"""

import functools
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

# Imported here so that asv's forkserver loads them once, not in every benchmark
# process. fastem may be missing or broken at an old commit: its benchmarks are
# then skipped (see :func:`require`).
import sklearn.cluster  # noqa: F401
import sklearn.mixture  # noqa: F401

try:
    import fastem  # noqa: F401
except Exception:  # noqa: BLE001
    pass

PROFILE = os.environ.get("FASTEM_BENCH_PROFILE", "regular")
if PROFILE not in ("quick", "regular", "large"):
    raise ValueError(
        f"FASTEM_BENCH_PROFILE must be quick, regular or large, got {PROFILE!r}"
    )

#: Real datasets: ``../shared/data`` next to the repository, or
#: ``FASTEM_BENCH_DATA`` when set.
DATA_DIR = Path(
    os.environ.get(
        "FASTEM_BENCH_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
SEED = 0
REG_COVAR = 1e-6
N_CPU = os.cpu_count() or 1
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = ["float64", "float32"]
#: dtypes of the fit and predict benchmarks (the E-step, memory and k-means
#: benchmarks keep both, so even the quick profile runs float32 kernels).
FIT_DTYPES = ["float64"] if PROFILE == "quick" else DTYPES
#: Covariance types of the real-data and thread-count benchmarks.
SOME_COVARIANCE_TYPES = ["full", "diag"] if PROFILE == "quick" else COVARIANCE_TYPES

# (n, d, k) per profile.  "case" parameters are strings so that asv does not
# build the cartesian product of n, d and k.
if PROFILE == "quick":
    GMM_SIZES = [(20_000, 8, 4)]
    GMM_EXTRA = []  # (covariance_type, n, d, k) beyond the four families
    MEMORY_SIZES = [(20_000, 8, 16)]
    ESTEP_SIZE = (20_000, 8, 4)
    THREADS_SIZE = (20_000, 8, 4)
    KMEANS_SIZES = [(20_000, 8, 8)]
    WARMUP_ITER, EXTRA_ITER, ITER_REPEATS = 1, 2, 1
elif PROFILE == "regular":
    GMM_SIZES = [(1_000_000, 16, 16)]
    GMM_EXTRA = [("full", 200_000, 64, 32)]
    MEMORY_SIZES = [(1_000_000, 16, 64)]
    ESTEP_SIZE = (1_000_000, 16, 16)
    THREADS_SIZE = (1_000_000, 16, 16)
    KMEANS_SIZES = [(1_000_000, 16, 64), (1_000_000, 2, 8)]
    WARMUP_ITER, EXTRA_ITER, ITER_REPEATS = 1, 3, 3
else:
    GMM_SIZES = [(1_000_000, 16, 16), (10_000_000, 16, 16)]
    GMM_EXTRA = [("full", 200_000, 64, 32)]
    MEMORY_SIZES = [(1_000_000, 16, 64), (10_000_000, 16, 16)]
    ESTEP_SIZE = (10_000_000, 16, 16)
    THREADS_SIZE = (1_000_000, 16, 16)
    KMEANS_SIZES = [(1_000_000, 16, 64), (1_000_000, 2, 8), (10_000_000, 16, 64)]
    WARMUP_ITER, EXTRA_ITER, ITER_REPEATS = 1, 2, 2

#: max_iter of the fits timed by ``time_fit``.
FIT_ITER = WARMUP_ITER + EXTRA_ITER


def case_name(covariance_type, n, d, k):
    """Return a case label such as ``full-1000000x16x16``."""
    return f"{covariance_type}-{n}x{d}x{k}"


def parse_case(case):
    """Invert :func:`case_name`: ``(covariance_type, n, d, k)``."""
    covariance_type, size = case.split("-")
    n, d, k = (int(v) for v in size.split("x"))
    return covariance_type, n, d, k


GMM_CASES = [
    case_name(cov, n, d, k) for (n, d, k) in GMM_SIZES for cov in COVARIANCE_TYPES
] + [case_name(*extra) for extra in GMM_EXTRA]
MEMORY_CASES = [case_name("full", *size) for size in MEMORY_SIZES]
KMEANS_CASES = [f"{n}x{d}x{k}" for (n, d, k) in KMEANS_SIZES]


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def blobs(n, d, k, dtype="float64", seed=SEED):
    """Return ``n`` x ``d`` rows from ``k`` correlated Gaussian clusters.

    Each cluster has its own centre and a random rotation and scaling, so full
    covariances differ from diagonal ones. Deterministic for a given seed; the
    same generator as ``fastem._bench.make_blobs``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, d))
    transforms = []
    for _ in range(k):
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        transforms.append(q * rng.uniform(0.5, 1.5, size=d))
    labels = rng.integers(0, k, size=n)
    X = rng.standard_normal((n, d))
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    for j in range(k):
        rows = order[bounds[j] : bounds[j + 1]]
        X[rows] = X[rows] @ transforms[j] + centres[j]
    return np.ascontiguousarray(X, dtype=dtype)


def real_data(name, dtype="float64"):
    """Return a real dataset, or raise NotImplementedError (asv: skip) if absent."""
    path = DATA_DIR / f"{name}.npz"
    if not path.is_file():
        raise NotImplementedError(
            f"real dataset {path} not found (the shared data folder sits at "
            "../shared/data next to the repository; set FASTEM_BENCH_DATA to "
            "point elsewhere)"
        )
    with np.load(path) as f:
        return np.ascontiguousarray(f["x"], dtype=dtype)


def initial_parameters(X, k, covariance_type, seed=SEED):
    """Return the same initial parameters for both backends.

    Means are ``k`` distinct rows picked at random (as scikit-learn's
    ``random_from_data``); every component starts with the covariance of the
    data (estimated on at most 100,000 rows) and equal weight. Returns the
    constructor arguments ``weights_init``, ``means_init``, ``precisions_init``
    and, for the E-step benchmarks, ``precisions_cholesky`` (scikit-learn's
    layout), all of ``X.dtype``.
    """
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    rng = np.random.default_rng(seed)
    n, d = X.shape
    means = X[rng.choice(n, size=k, replace=False)].astype(np.float64)
    sub = X[rng.choice(n, size=min(n, 100_000), replace=False)].astype(np.float64)
    cov = np.atleast_2d(np.cov(sub, rowvar=False)) + REG_COVAR * np.eye(d)
    covariances = {
        "full": np.repeat(cov[None], k, axis=0),
        "tied": cov,
        "diag": np.repeat(np.diag(cov)[None], k, axis=0),
        "spherical": np.full(k, np.diag(cov).mean()),
    }[covariance_type]
    prec_chol = _compute_precision_cholesky(covariances, covariance_type)
    if covariance_type == "full":
        precisions = np.einsum("kij,klj->kil", prec_chol, prec_chol)
    elif covariance_type == "tied":
        precisions = prec_chol @ prec_chol.T
    else:
        precisions = prec_chol**2
    return {
        "weights_init": np.full(k, 1.0 / k, dtype=X.dtype),
        "means_init": means.astype(X.dtype),
        "precisions_init": precisions.astype(X.dtype),
        "precisions_cholesky": prec_chol.astype(X.dtype),
    }


def initial_centres(X, k, seed=SEED):
    """Return ``k`` distinct rows of ``X`` picked at random (k-means init)."""
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(X[rng.choice(X.shape[0], size=k, replace=False)])


def inertia(X, centres, chunk=65536):
    """Return the sum of squared distances to the nearest centre, in float64."""
    c = centres.astype(np.float64)
    cc = np.einsum("ij,ij->i", c, c)
    total = 0.0
    for start in range(0, X.shape[0], chunk):
        x = X[start : start + chunk].astype(np.float64)
        dist = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * x @ c.T + cc
        total += np.maximum(dist.min(axis=1), 0.0).sum()
    return total


# --------------------------------------------------------------------------
# backends
# --------------------------------------------------------------------------


def require(backend, what="GaussianMixture"):
    """Raise NotImplementedError (asv: skip) when ``backend`` cannot run."""
    if backend == "fastem":
        try:
            import fastem

            getattr(fastem, what)
        except Exception as exc:  # noqa: BLE001 - older commits, broken builds
            raise NotImplementedError(f"fastem.{what} unavailable: {exc}") from exc
    elif backend == "faiss":
        try:
            import faiss  # noqa: F401
        except ImportError as exc:
            raise NotImplementedError("faiss-cpu is not installed") from exc


class Threads:
    """Set the thread count of ``backend`` until :meth:`restore` is called.

    scikit-learn: BLAS and OpenMP pools (threadpoolctl); fastem: numba threads
    (and BLAS, used by its M-step); faiss: its OpenMP pool.
    """

    def __init__(self, backend, count):
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=count)
        self._restore = []
        if backend == "fastem":
            import numba

            previous = numba.get_num_threads()
            numba.set_num_threads(count)
            self._restore.append(lambda: numba.set_num_threads(previous))
        elif backend == "faiss":
            import faiss

            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(count)
            self._restore.append(lambda: faiss.omp_set_num_threads(previous))

    def restore(self):
        for undo in self._restore:
            undo()
        self._limits.restore_original_limits()


def make_gmm(backend, covariance_type, k, init, max_iter):
    """Return an unfitted GaussianMixture of ``backend`` (identical settings)."""
    if backend == "fastem":
        from fastem import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture(
        n_components=k,
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
    """Fit (ConvergenceWarning silenced: ``tol=0`` is deliberate)."""
    model = make_gmm(
        backend, covariance_type, init["means_init"].shape[0], init, max_iter
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


def estep(backend, covariance_type, X, init, sk_model=None):
    """One fused E-step plus sufficient statistics, or scikit-learn's equivalent.

    fastem: ``fastem.kernels.suff_stats``. scikit-learn: ``_estimate_log_prob_resp``
    then ``_estimate_gaussian_parameters`` on the responsibilities -- the O(n) work
    of one of its EM iterations. ``sk_model`` comes from :func:`sklearn_estep_model`.
    """
    if backend == "fastem":
        from fastem.kernels import suff_stats

        return suff_stats(
            X,
            init["means_init"],
            init["precisions_cholesky"],
            init["weights_init"],
            covariance_type,
        )
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    _, log_resp = sk_model._estimate_log_prob_resp(X)
    return _estimate_gaussian_parameters(
        X, np.exp(log_resp), REG_COVAR, covariance_type
    )


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


#: k-means fit to convergence: scikit-learn's default tolerance and iteration cap.
CONVERGED_TOL = 1e-4
CONVERGED_MAX_ITER = 300


def fit_kmeans(backend, X, centres, max_iter, tol=0.0):
    """Run k-means from ``centres``; returns ``(final centres, n_iter)``."""
    k = centres.shape[0]
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
        km.train(X, init_centroids=centres)
        return km.centroids, max_iter
    if backend == "fastem":
        from fastem import KMeans
    else:
        from sklearn.cluster import KMeans
    model = KMeans(
        n_clusters=k,
        init=centres,
        n_init=1,
        tol=tol,
        max_iter=max_iter,
        random_state=SEED,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model.cluster_centers_, model.n_iter_


def seconds_per_iteration(
    run, warmup_iter=WARMUP_ITER, extra=EXTRA_ITER, repeats=ITER_REPEATS
):
    """Median over repeats of (t(max_iter=a+m) - t(max_iter=a)) / m.

    ``run(max_iter)`` runs one fit from the same initial parameters.
    """
    import gc
    import time

    samples = []
    for _ in range(repeats):
        times = []
        for max_iter in (warmup_iter, warmup_iter + extra):
            gc.collect()
            start = time.perf_counter()
            run(max_iter)
            times.append(time.perf_counter() - start)
        samples.append((times[1] - times[0]) / extra)
    return float(np.median(samples))


def run_python(code, env=None, timeout=1800):
    """Run ``code`` in a fresh interpreter; returns its last stdout line."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:])
    return proc.stdout.strip().splitlines()[-1]
