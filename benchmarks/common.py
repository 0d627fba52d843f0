"""Profiles, datasets, initial parameters and backends shared by the benchmarks.

Every benchmark is a side-by-side pair: a ``backend`` parameter (``fastem``,
``sklearn``, and ``faiss`` for k-means) doing identical work -- the same data, the
same initial parameters, ``n_init=1``, ``tol=0`` and a fixed ``max_iter``. The JIT
warm-up is done in ``setup``.

The profile is chosen with the environment variable ``FASTEM_BENCH_PROFILE``:

- ``quick``: tiny problems, a few minutes for the whole suite (smoke runs);
- ``regular`` (default): the project's target sizes (n=1e6, d=16, k=16 for the
  four covariance types; n=2e5, d=64, k=32 full; n=1e6, d=16, k=64 full for
  memory; k-means at n=1e6, d=16, k=64 and n=1e6, d=2, k=8;
  BayesianGaussianMixture at n=1e6, d=16, k=16 full and diag, n=2e5, d=64,
  k=32 full, and n=1e6, d=16, k=64 full for memory);
- ``large``: adds n=1e7 rows.

The data, the initial parameters and the calls of each backend are the ones of
``fastem bench``: :func:`load_protocol` loads ``fastem/_bench/`` from *this
checkout*, by file path and under a name of its own, not through the installed
fastem, which asv may have built from an older commit that lacks it (or has an
older copy). So every commit is measured with today's data and today's calls,
and the installed fastem is reached only through its public names inside those
functions (``fastem.GaussianMixture``, ``fastem.BayesianGaussianMixture``,
``fastem.KMeans``, ``fastem.kernels.suff_stats``).
"""

import contextlib
import functools
import importlib
import importlib.util
import os
import sys
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

#: ``fastem/_bench`` of the checkout this folder belongs to.
PROTOCOL_DIR = Path(__file__).resolve().parents[1] / "fastem" / "_bench"
_PROTOCOL_NAME = "_fastem_bench_checkout"


def load_protocol(module):
    """Return ``fastem/_bench/<module>.py`` of this checkout, whatever is installed.

    The folder is loaded as a package named ``_fastem_bench_checkout`` (so its
    relative imports work); only its modules that import no fastem internals
    (``data``, ``backends``, ``compile_time``, ``child``) are meant for here.
    """
    if _PROTOCOL_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _PROTOCOL_NAME,
            PROTOCOL_DIR / "__init__.py",
            submodule_search_locations=[str(PROTOCOL_DIR)],
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[_PROTOCOL_NAME] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{_PROTOCOL_NAME}.{module}")


data = load_protocol("data")
backends = load_protocol("backends")
compile_time = load_protocol("compile_time")

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
    BGMM_SIZES = [("full", 20_000, 8, 4), ("diag", 20_000, 8, 4)]  # (cov, n, d, k)
    BGMM_MEMORY_SIZES = [(20_000, 8, 16)]
    WARMUP_ITER, EXTRA_ITER, ITER_REPEATS = 1, 2, 1
elif PROFILE == "regular":
    GMM_SIZES = [(1_000_000, 16, 16)]
    GMM_EXTRA = [("full", 200_000, 64, 32)]
    MEMORY_SIZES = [(1_000_000, 16, 64)]
    ESTEP_SIZE = (1_000_000, 16, 16)
    THREADS_SIZE = (1_000_000, 16, 16)
    KMEANS_SIZES = [(1_000_000, 16, 64), (1_000_000, 2, 8)]
    BGMM_SIZES = [
        ("full", 1_000_000, 16, 16),
        ("diag", 1_000_000, 16, 16),
        ("full", 200_000, 64, 32),
    ]
    BGMM_MEMORY_SIZES = [(1_000_000, 16, 64)]
    WARMUP_ITER, EXTRA_ITER, ITER_REPEATS = 1, 3, 3
else:
    GMM_SIZES = [(1_000_000, 16, 16), (10_000_000, 16, 16)]
    GMM_EXTRA = [("full", 200_000, 64, 32)]
    MEMORY_SIZES = [(1_000_000, 16, 64), (10_000_000, 16, 16)]
    ESTEP_SIZE = (10_000_000, 16, 16)
    THREADS_SIZE = (1_000_000, 16, 16)
    KMEANS_SIZES = [(1_000_000, 16, 64), (1_000_000, 2, 8), (10_000_000, 16, 64)]
    BGMM_SIZES = [
        ("full", 1_000_000, 16, 16),
        ("diag", 1_000_000, 16, 16),
        ("full", 200_000, 64, 32),
        ("full", 10_000_000, 16, 16),
    ]
    BGMM_MEMORY_SIZES = [(1_000_000, 16, 64), (10_000_000, 16, 16)]
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
BGMM_CASES = [case_name(*size) for size in BGMM_SIZES]
BGMM_MEMORY_CASES = [case_name("full", *size) for size in BGMM_MEMORY_SIZES]


# --------------------------------------------------------------------------
# data (the generator and the start of ``fastem bench``)
# --------------------------------------------------------------------------

SEED = data.SEED
REG_COVAR = data.REG_COVAR
#: Cached: the classes of one benchmark file share their data in a process.
blobs = functools.lru_cache(maxsize=2)(data.make_blobs)
initial_parameters = data.initial_parameters
initial_centers = data.initial_centers
inertia = data.inertia


def real_data(name, dtype="float64"):
    """Return a real dataset, or raise NotImplementedError (asv: skip) if absent."""
    try:
        return data.load_dataset(DATA_DIR, name, dtype)
    except FileNotFoundError as exc:
        raise NotImplementedError(
            f"{exc} (the shared data folder sits at ../shared/data next to the "
            "repository; set FASTEM_BENCH_DATA to point elsewhere)"
        ) from exc


# --------------------------------------------------------------------------
# backends (the calls of ``fastem bench``)
# --------------------------------------------------------------------------

fit_gmm = backends.fit_gmm
fit_bgmm = backends.fit_bgmm
lower_bounds = backends.lower_bounds
estep = backends.estep
sklearn_estep_model = backends.sklearn_estep_model
fit_kmeans = backends.fit_kmeans
CONVERGED_TOL = backends.CONVERGED_TOL
CONVERGED_MAX_ITER = backends.CONVERGED_MAX_ITER


def require(backend, what="GaussianMixture"):
    """Raise NotImplementedError (asv: skip) when ``backend`` cannot run.

    ``what`` is the fastem name needed (``"KMeans"``,
    ``"BayesianGaussianMixture"``, ``"kernels.suff_stats"``).
    """
    if backend == "fastem":
        reason = backends.fastem_available(what)
    elif backend == "faiss":
        reason = backends.faiss_available()
    else:
        reason = None
    if reason is not None:
        raise NotImplementedError(reason)


class Threads:
    """Set the thread count of ``backend`` until :meth:`restore` is called.

    asv's ``setup`` / ``teardown`` around ``fastem bench``'s ``threads`` context.
    """

    def __init__(self, backend, count):
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(backends.threads(backend, count))

    def restore(self):
        self._stack.close()


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


# --------------------------------------------------------------------------
# small problems and side-by-side speed-ups (bench_small, bench_speedup)
# --------------------------------------------------------------------------

#: GaussianMixture's four covariance types, then KMeans.
FAMILIES = [*COVARIANCE_TYPES, "kmeans"]


def family_name(family):
    """Return the fastem estimator a family needs (for :func:`require`)."""
    return "KMeans" if family == "kmeans" else "GaussianMixture"


def common_start(family, X, k):
    """Return the start both backends share: initial parameters, or centers."""
    if family == "kmeans":
        return initial_centers(X, k)
    return initial_parameters(X, k, family)


def fit_fixed(backend, family, X, start, max_iter):
    """Run ``max_iter`` iterations from ``start`` (``tol=0``, ``n_init=1``).

    The same work on both backends: GaussianMixture from the given weights,
    means and precisions; KMeans from the given centers (both backends stop
    early, at the same iteration, if the labels stop changing).
    """
    if family == "kmeans":
        return fit_kmeans(backend, X, start, max_iter)
    return fit_gmm(backend, family, X, start, max_iter)


def fit_default(backend, family, X, k):
    """Fit with default parameters except ``random_state=SEED``; return the model.

    What a user's first ``fit`` does, initialisation included (GaussianMixture's
    ``init_params='kmeans'``, KMeans' ``k-means++``). The two backends start
    from their own draws, so their iteration counts may differ (``n_iter_``).
    Default thread settings: nothing here limits either backend.
    """
    import warnings

    if backend == "fastem":
        import fastem as library

        gmm, kmeans = library.GaussianMixture, library.KMeans
    else:
        from sklearn.cluster import KMeans as kmeans
        from sklearn.mixture import GaussianMixture as gmm
    if family == "kmeans":
        model = kmeans(n_clusters=k, random_state=SEED)
    else:
        model = gmm(n_components=k, covariance_type=family, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning is a result too
        return model.fit(X)
