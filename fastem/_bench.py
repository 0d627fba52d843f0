"""Side-by-side timing of fastem against scikit-learn (``fastem bench``).

One process runs every pair, alternating the backends inside each repeat so that
drift on a shared machine hits both alike, and prints a markdown table of medians
and speed-ups. Peak memory is measured in fresh subprocesses (peak RSS minus the
RSS after loading the data and warming up); compile time in fresh subprocesses
with numba's on-disk cache cold and warm.

The protocol makes both backends do the same work:

- the same data (seeded blobs, or the real datasets when a data folder is found);
- the same initial parameters (``weights_init``, ``means_init``,
  ``precisions_init``, or the same ``init`` centres for k-means), ``n_init=1``,
  ``tol=0`` and a fixed ``max_iter``;
- scikit-learn at its best setting (the faster of 1 and 2 BLAS/OpenMP threads,
  chosen per measurement), fastem on 2 numba threads;
- time per EM iteration = (time at ``max_iter=a+m`` minus time at ``max_iter=a``)
  / m, computed per repeat and then the median over repeats;
- for k-means also a whole fit to convergence (scikit-learn's default
  ``tol=1e-4``, ``max_iter=300``) from the same start, and its time per
  iteration: k-means iterations get cheaper for fastem as the centres settle
  (its distance bounds skip more rows), never for scikit-learn.

This module needs neither the ``benchmarks/`` folder nor the shared data; the
asv suite in ``benchmarks/`` tracks the same pairs over the commit history.
"""

import argparse
import contextlib
import fnmatch
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
REAL_DATASETS = ("cover", "http", "shuttle")
#: Seed of the generated data and of the initial parameters.
SEED = 0
#: Threads given to fastem (numba) and the thread counts tried for scikit-learn.
FASTEM_THREADS = 2
SKLEARN_THREADS = (1, 2)
REG_COVAR = 1e-6
#: max_iter of the fit whose peak memory is measured.
MEMORY_ITER = 2


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmark problem.

    ``data`` is ``"blobs"`` (generated, ``n`` x ``d``) or a real dataset name
    (``n`` and ``d`` are then taken from the file). ``measures`` lists what to
    run: ``time`` (fit, per-iteration, predict, E-step, quality), ``memory``.
    """

    name: str
    model: str  # "gmm" or "kmeans"
    k: int
    covariance_type: str = "full"
    n: int = 0
    d: int = 0
    data: str = "blobs"
    dtype: str = "float64"
    measures: tuple = ("time", "memory")


def _size(n):
    mantissa, exponent = f"{n:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _gmm_case(cov, n, d, k, dtype="float64", measures=("time", "memory"), data=None):
    token = data if data else f"{_size(n)}x{d}"
    suffix = "" if dtype == "float64" else "-f32"
    return Case(
        name=f"gmm-{cov}-{token}-k{k}{suffix}",
        model="gmm",
        k=k,
        covariance_type=cov,
        n=n,
        d=d,
        data=data or "blobs",
        dtype=dtype,
        measures=measures,
    )


def _kmeans_case(n, d, k, dtype="float32", measures=("time",)):
    suffix = "" if dtype == "float64" else "-f32"
    return Case(
        name=f"kmeans-{_size(n)}x{d}-k{k}{suffix}",
        model="kmeans",
        k=k,
        covariance_type="",
        n=n,
        d=d,
        dtype=dtype,
        measures=measures,
    )


def default_cases(quick=False, real_data=False):
    """Return the cases run when ``--cases`` is not given.

    The regular set holds the foundation issue's target sizes: n=1e6, d=16, k=16
    for the four covariance types, n=2e5, d=64, k=32 full, peak memory at n=1e6,
    d=16, k=64 full, and the two k-means sizes (float32, so that faiss can run the
    same work). ``quick`` shrinks everything for a smoke run.
    """
    if quick:
        cases = [_gmm_case(cov, 20_000, 8, 4) for cov in COVARIANCE_TYPES]
        cases.append(_gmm_case("full", 20_000, 8, 4, "float32", ("time",)))
        cases.append(_kmeans_case(20_000, 8, 8))
        if real_data:
            cases.append(_gmm_case("full", 0, 0, 4, data="shuttle"))
        return cases
    cases = [_gmm_case(cov, 1_000_000, 16, 16) for cov in COVARIANCE_TYPES]
    cases.append(_gmm_case("full", 200_000, 64, 32))
    cases.append(_gmm_case("full", 1_000_000, 16, 64, measures=("memory",)))
    cases.append(_kmeans_case(1_000_000, 16, 64))
    cases.append(_kmeans_case(1_000_000, 2, 8))
    if real_data:
        cases.append(_gmm_case("full", 0, 0, 16, data="cover"))
        cases.append(_gmm_case("full", 0, 0, 8, data="http"))
        cases.append(_gmm_case("full", 0, 0, 8, data="shuttle"))
    return cases


def all_cases(real_data=False):
    """Return every named case (the defaults of both profiles plus extras)."""
    cases = {c.name: c for c in default_cases(True, real_data)}
    cases.update({c.name: c for c in default_cases(False, real_data)})
    for cov in COVARIANCE_TYPES:
        for dtype in ("float64", "float32"):
            for case in (
                _gmm_case(cov, 1_000_000, 16, 16, dtype),
                _gmm_case(cov, 10_000_000, 16, 16, dtype),
            ):
                cases.setdefault(case.name, case)
    for dtype in ("float64", "float32"):
        for case in (
            _kmeans_case(1_000_000, 16, 64, dtype),
            _kmeans_case(1_000_000, 2, 8, dtype),
        ):
            cases.setdefault(case.name, case)
    if real_data:
        for name in REAL_DATASETS:
            for cov in COVARIANCE_TYPES:
                case = _gmm_case(cov, 0, 0, 8, data=name)
                cases.setdefault(case.name, case)
    return cases


# --------------------------------------------------------------------------
# data and initial parameters
# --------------------------------------------------------------------------


def find_data_dir(data_dir=None):
    """Return the real-data folder, or ``None`` when there is none.

    ``data_dir`` when given (it must exist); otherwise ``../shared/data`` relative
    to the current directory or to the repository this module sits in.
    """
    if data_dir is not None:
        path = Path(data_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"--data-dir {data_dir!r} is not a folder")
        return path
    here = Path(__file__).resolve().parents[1]
    for base in (Path.cwd(), here):
        path = base.parent / "shared" / "data"
        if (path / "cover.npz").is_file():
            return path
    return None


def make_blobs(n, d, k, dtype="float64", seed=SEED):
    """Return ``n`` x ``d`` rows drawn from ``k`` correlated Gaussian clusters.

    Each cluster has its own centre and a random rotation and scaling, so full
    covariances differ from diagonal ones. Deterministic for a given seed.
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


def load_case_data(case, data_dir=None):
    """Return the data of ``case`` as a C-contiguous array of ``case.dtype``."""
    if case.data == "blobs":
        return make_blobs(case.n, case.d, case.k, case.dtype)
    folder = find_data_dir(data_dir)
    if folder is None:
        raise FileNotFoundError(
            f"case {case.name!r} needs {case.data}.npz; pass --data-dir "
            "(the shared data folder, usually ../shared/data)"
        )
    with np.load(folder / f"{case.data}.npz") as f:
        X = f["x"]
    return np.ascontiguousarray(X, dtype=case.dtype)


def initial_parameters(X, k, covariance_type, seed=SEED):
    """Return the same initial parameters for both backends.

    Means are ``k`` distinct rows picked at random (as scikit-learn's
    ``random_from_data``); every component starts with the covariance of the whole
    data (estimated on at most 100,000 rows) and equal weight.

    Returns
    -------
    init : dict
        ``weights_init``, ``means_init``, ``precisions_init`` (the constructor
        arguments) and ``precisions_cholesky`` (scikit-learn's layout), all of
        ``X.dtype``.
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
    dtype = X.dtype
    return {
        "weights_init": np.full(k, 1.0 / k, dtype=dtype),
        "means_init": means.astype(dtype),
        "precisions_init": precisions.astype(dtype),
        "precisions_cholesky": prec_chol.astype(dtype),
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


def fastem_available(what="GaussianMixture"):
    """Return ``None`` if ``fastem.<what>`` imports, else the reason it does not."""
    try:
        import fastem

        getattr(fastem, what)
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


def make_gmm(backend, case, init, max_iter):
    """Return an unfitted GaussianMixture of ``backend`` set up for ``case``."""
    if backend == "fastem":
        from fastem import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture(
        n_components=case.k,
        covariance_type=case.covariance_type,
        tol=0.0,
        reg_covar=REG_COVAR,
        max_iter=max_iter,
        n_init=1,
        random_state=SEED,
        weights_init=init["weights_init"],
        means_init=init["means_init"],
        precisions_init=init["precisions_init"],
    )


def fit_gmm(backend, case, X, init, max_iter):
    """Fit a GaussianMixture (ConvergenceWarning silenced: ``tol=0`` is wanted)."""
    model = make_gmm(backend, case, init, max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model


def sklearn_estep_model(case, init):
    """Return a scikit-learn GaussianMixture holding the initial parameters."""
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(case.k, covariance_type=case.covariance_type)
    model.weights_ = init["weights_init"]
    model.means_ = init["means_init"]
    model.precisions_cholesky_ = init["precisions_cholesky"]
    return model


def estep(backend, case, X, init, sk_model=None):
    """One fused E-step plus sufficient statistics (or scikit-learn's equivalent).

    fastem: :func:`fastem.kernels.suff_stats`. scikit-learn:
    ``_estimate_log_prob_resp`` then ``_estimate_gaussian_parameters`` on the
    responsibilities, which is the O(n) work of one of its EM iterations.
    """
    if backend == "fastem":
        from fastem.kernels import suff_stats

        return suff_stats(
            X,
            init["means_init"],
            init["precisions_cholesky"],
            init["weights_init"],
            case.covariance_type,
        )
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    _, log_resp = sk_model._estimate_log_prob_resp(X)
    return _estimate_gaussian_parameters(
        X, np.exp(log_resp), REG_COVAR, case.covariance_type
    )


#: k-means fit to convergence: scikit-learn's default tolerance and iteration cap.
CONVERGED_TOL = 1e-4
CONVERGED_MAX_ITER = 300


def fit_kmeans(backend, case, X, centres, max_iter, tol=0.0):
    """Fit k-means from ``centres``; returns ``(final centres, n_iter)``."""
    if backend == "faiss":
        import faiss

        km = faiss.Kmeans(
            X.shape[1],
            case.k,
            niter=max_iter,
            nredo=1,
            seed=SEED,
            verbose=False,
            max_points_per_centroid=X.shape[0] // case.k + 1,  # no subsampling
            min_points_per_centroid=1,
        )
        km.train(X, init_centroids=centres)
        return km.centroids, max_iter
    if backend == "fastem":
        from fastem import KMeans
    else:
        from sklearn.cluster import KMeans
    model = KMeans(
        n_clusters=case.k,
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


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


def _timed(fn, *args):
    """Return ``(seconds, fn(*args))``, with the garbage collector held off."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        out = fn(*args)
        return time.perf_counter() - start, out
    finally:
        if enabled:
            gc.enable()


def _configs(case, skip):
    """Return the (backend, threads) pairs to time for ``case``."""
    configs = [("sklearn", t) for t in SKLEARN_THREADS]
    what = "GaussianMixture" if case.model == "gmm" else "KMeans"
    if fastem_available(what) is None:
        configs.append(("fastem", FASTEM_THREADS))
    else:
        skip.append(fastem_available(what))
    if case.model == "kmeans":
        reason = faiss_available()
        if reason is None and case.dtype != "float32":
            reason = "faiss k-means is float32-only"
        if reason is None:
            configs.append(("faiss", FASTEM_THREADS))
        else:
            skip.append(reason)
    return configs


@dataclass
class CaseResult:
    """Raw timings and quality numbers of one case."""

    case: Case
    shape: tuple = ()
    # times[measure][(backend, threads)] -> list of seconds
    times: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    n_iter: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    # seconds of the scikit-learn thread probe, keyed by thread count
    probe: dict = field(default_factory=dict)
    # k-means: iterations of the fit to convergence, per backend
    converged_n_iter: dict = field(default_factory=dict)


def _warm_up(case, X, init_or_centres, configs):
    """Compile (JIT) and touch every code path once on a small slice."""
    small = X[: min(X.shape[0], 4096)]
    for backend, count in configs:
        with threads(backend, count):
            if case.model == "gmm":
                model = fit_gmm(backend, case, small, init_or_centres, 2)
                model.predict_proba(small)
                model.score_samples(small)
                sk = sklearn_estep_model(case, init_or_centres)
                estep(backend, case, small, init_or_centres, sk)
            else:
                fit_kmeans(backend, case, small, init_or_centres, 2)


#: Rows of the probe that picks scikit-learn's thread count.
PROBE_ROWS = 200_000


def _probe_sklearn(case, X, start, counts, rounds=2):
    """Best of ``rounds`` 2-iteration scikit-learn fits on the first rows, per count.

    The counts alternate (1, 2, 1, 2, ...) so that a burst of load from other
    processes does not decide the choice on its own.
    """
    fit = fit_gmm if case.model == "gmm" else fit_kmeans
    small = X[:PROBE_ROWS]
    seconds = {}
    for _ in range(rounds):
        for count in counts:
            with threads("sklearn", count):
                t, _ = _timed(fit, "sklearn", case, small, start, 2)
            seconds[count] = min(t, seconds.get(count, t))
    return seconds


def run_case(case, a, m, repeats, data_dir=None, log=print, sklearn_threads="probe"):
    """Time every backend of ``case``; backends alternate inside each repeat.

    ``sklearn_threads``: ``"probe"`` times scikit-learn only at the thread count
    that was faster on a 2-iteration fit of the first ``PROBE_ROWS`` rows;
    ``"both"`` times it at 1 and 2 threads in every repeat and reports the
    faster (exact, but twice the scikit-learn time); ``"1"`` or ``"2"`` fixes it.
    """
    result = CaseResult(case)
    configs = _configs(case, result.notes)
    X = load_case_data(case, data_dir)
    result.shape = (X.shape[0], X.shape[1], case.k)
    if case.model == "gmm":
        start = initial_parameters(X, case.k, case.covariance_type)
        sk_model = sklearn_estep_model(case, start)
    else:
        start = initial_centres(X, case.k)
    _warm_up(case, X, start, configs)
    if sklearn_threads == "probe":
        result.probe = _probe_sklearn(case, X, start, SKLEARN_THREADS)
        best = min(result.probe, key=result.probe.get)
        configs = [c for c in configs if c[0] != "sklearn" or c[1] == best]
        log(f"  scikit-learn thread probe: {result.probe} -> {best}")
    elif sklearn_threads != "both":
        configs = [
            c for c in configs if c[0] != "sklearn" or c[1] == int(sklearn_threads)
        ]

    def record(measure, config, seconds):
        result.times.setdefault(measure, {}).setdefault(config, []).append(seconds)

    fit = fit_gmm if case.model == "gmm" else fit_kmeans
    models = {}
    for r in range(repeats):
        shift = r % len(configs)
        order = configs[shift:] + configs[:shift]
        for config in order:  # fits at max_iter = a and a + m
            backend, count = config
            with threads(backend, count):
                t_a, _ = _timed(fit, backend, case, X, start, a)
                t_am, out = _timed(fit, backend, case, X, start, a + m)
            record("fit", config, t_am)
            record("iteration", config, (t_am - t_a) / m)
            if r == 0 and case.model == "gmm":
                models[backend] = out
                result.quality[backend] = float(out.lower_bound_)
                result.n_iter[backend] = int(out.n_iter_)
            elif r == 0:
                result.quality[backend] = inertia(X, out[0])
                result.n_iter[backend] = int(out[1])
        if case.model == "kmeans":
            for config in order:
                backend, count = config
                if backend == "faiss":  # no tolerance: runs a fixed niter
                    continue
                with threads(backend, count):
                    seconds, out = _timed(
                        fit_kmeans,
                        backend,
                        case,
                        X,
                        start,
                        CONVERGED_MAX_ITER,
                        CONVERGED_TOL,
                    )
                record("converged", config, seconds)
                record("converged iteration", config, seconds / out[1])
                result.converged_n_iter[backend] = int(out[1])
        if case.model == "gmm":
            for measure in ("predict_proba", "score_samples", "estep"):
                for config in order:
                    backend, count = config
                    with threads(backend, count):
                        if measure == "estep":
                            args = (estep, backend, case, X, start, sk_model)
                        else:
                            args = (getattr(models[backend], measure), X)
                        seconds, _ = _timed(*args)
                    record(measure, config, seconds)
        log(f"  {case.name}: repeat {r + 1}/{repeats} done")
    return result


# --------------------------------------------------------------------------
# peak memory and compile time (fresh subprocesses)
# --------------------------------------------------------------------------


def _proc_status():
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


class _PeakRSS:
    """Peak resident set size from now on.

    On Linux the kernel's high-water mark is reset (``/proc/self/clear_refs``);
    elsewhere a thread samples the RSS every millisecond (a lower bound).
    """

    def __init__(self):
        self.method = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.baseline = _proc_status()["VmRSS"]
        except OSError:
            import psutil

            self.method = "sampled"
            self._proc = psutil.Process()
            self.baseline = self._peak = self._proc.memory_info().rss
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.001):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def peak(self):
        if self.method == "VmHWM":
            return _proc_status()["VmHWM"]
        self._stop.set()
        self._thread.join()
        return max(self._peak, self._proc.memory_info().rss)


def _memory_worker(spec):
    """Run in a fresh process: fit once and report the peak RSS increase."""
    case = Case(**{**spec["case"], "measures": tuple(spec["case"]["measures"])})
    backend, count, max_iter = spec["backend"], spec["threads"], spec["max_iter"]
    X = load_case_data(case, spec["data_dir"])
    with threads(backend, count):
        if case.model == "gmm":
            init = initial_parameters(X, case.k, case.covariance_type)
            fit_gmm(backend, case, X[:4096], init, 2)  # warm-up (JIT)
            gc.collect()
            meter = _PeakRSS()
            fit_gmm(backend, case, X, init, max_iter)
        else:
            centres = initial_centres(X, case.k)
            fit_kmeans(backend, case, X[:4096], centres, 2)
            gc.collect()
            meter = _PeakRSS()
            fit_kmeans(backend, case, X, centres, max_iter)
        peak = meter.peak()
    print(
        json.dumps(
            {
                "baseline": meter.baseline,
                "peak": peak,
                "delta": peak - meter.baseline,
                "method": meter.method,
                "data_bytes": X.nbytes,
            }
        )
    )


def _child_env(extra=None):
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def _run_child(args, env=None, timeout=1800):
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=_child_env(env),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"subprocess failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_memory(case, backend, count, max_iter, data_dir=None):
    """Peak RSS increase (bytes) of one fit of ``case`` in a fresh process."""
    spec = {
        "case": asdict(case),
        "backend": backend,
        "threads": count,
        "max_iter": max_iter,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    return _run_child(["-m", "fastem._bench", "--memory-worker", json.dumps(spec)])


_COMPILE_CODE = """
import json, time
import numpy as np
X = np.random.default_rng(0).standard_normal((2000, 4))
t0 = time.perf_counter()
{import_line}
t1 = time.perf_counter()
GaussianMixture(n_components=3, covariance_type={cov!r}, max_iter=2,
                random_state=0).fit(X)
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_fit": t2 - t1, "total": t2 - t0}}))
"""


def measure_compile(backend, covariance_type="full", cache_dir=None):
    """Import plus first fit of ``backend`` in a fresh process (seconds).

    For fastem, ``cache_dir`` is numba's on-disk cache (``NUMBA_CACHE_DIR``):
    an empty folder gives the cold time, a folder filled by an earlier run the
    warm time.
    """
    import_line = (
        "from fastem import GaussianMixture"
        if backend == "fastem"
        else "from sklearn.mixture import GaussianMixture"
    )
    code = _COMPILE_CODE.format(import_line=import_line, cov=covariance_type)
    env = {"NUMBA_CACHE_DIR": str(cache_dir)} if cache_dir else None
    return _run_child(["-c", code], env=env)


def run_compile(repeats, covariance_type="full", log=print):
    """Cold and warm fastem compile times, and scikit-learn's import + first fit."""
    out = {"fastem cold": [], "fastem warm": [], "sklearn": []}
    reason = fastem_available()
    for r in range(repeats):
        if reason is None:
            with tempfile.TemporaryDirectory(prefix="fastem-numba-cache-") as cache:
                out["fastem cold"].append(
                    measure_compile("fastem", covariance_type, cache)
                )
                out["fastem warm"].append(
                    measure_compile("fastem", covariance_type, cache)
                )
        out["sklearn"].append(measure_compile("sklearn", covariance_type))
        log(f"  compile: repeat {r + 1}/{repeats} done")
    return out, reason


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def machine_info():
    """Return a dict describing the machine and the library versions."""
    import numba
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    mem = None
    with contextlib.suppress(ImportError):
        import psutil

        mem = psutil.virtual_memory().total
    blas = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            owner = Path(pool.get("filepath", "")).parent.name.removesuffix(".libs")
            blas.append(
                f"{pool.get('internal_api')} {pool.get('version')} "
                f"({pool.get('architecture')}, {pool.get('num_threads')} threads, "
                f"from {owner or 'unknown'})"
            )
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run in this process
        layer = "not initialised"
    try:
        import fastem

        fastem_version = fastem.__version__
    except Exception:  # noqa: BLE001
        fastem_version = "not importable"
    try:
        import faiss

        faiss_version = faiss.__version__
    except Exception:  # noqa: BLE001
        faiss_version = "not installed"
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": None if mem is None else round(mem / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba threading layer": layer,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "fastem": fastem_version + (f" (git {commit})" if commit else ""),
        "faiss": faiss_version,
        "blas": "; ".join(blas) or "unknown",
    }


def _fmt_time(seconds):
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _fmt_mib(nbytes):
    if nbytes is None:
        return "n/a"
    if nbytes < 2**20:
        return "< 1 MiB"
    return f"{nbytes / 2**20:,.0f} MiB"


def _memory_ratio(sklearn_bytes, fastem_bytes):
    if sklearn_bytes is None or fastem_bytes is None:
        return "n/a"
    if fastem_bytes < 2**20:  # below the resolution of a ratio worth printing
        return f"> {max(sklearn_bytes, 0) / 2**20:,.0f}x less"
    return f"{sklearn_bytes / fastem_bytes:,.1f}x less"


def _median(values):
    return statistics.median(values) if values else None


def _best_sklearn(per_config):
    """Return (median, threads) of the faster scikit-learn thread setting."""
    best = None
    for (backend, count), values in per_config.items():
        if backend == "sklearn" and values:
            med = _median(values)
            if best is None or med < best[0]:
                best = (med, count)
    return best or (None, None)


_MEASURE_LABELS = {
    "fit": "fit (max_iter={am})",
    "iteration": "one EM iteration",
    "predict_proba": "predict_proba",
    "score_samples": "score_samples",
    "estep": "fused E-step + statistics",
}


def _speedup(slow, fast):
    if slow is None or fast is None or fast <= 0:
        return "n/a"
    return f"{slow / fast:.1f}x"


def _case_label(result):
    case = result.case
    n, d, k = result.shape or (case.n, case.d, case.k)
    data = "" if case.data == "blobs" else f"{case.data} "
    kind = case.covariance_type if case.model == "gmm" else "k-means"
    dtype = "f32" if case.dtype == "float32" else "f64"
    return f"{kind}, {data}n={n:,} d={d} k={k}, {dtype}"


def render_markdown(results, compile_times, info, command, a, m, repeats):
    """Return the report as markdown."""
    lines = [
        "### fastem vs scikit-learn",
        "",
        f"Command: `{command}`",
        "",
        "Medians of "
        f"{repeats} repeat(s), backends alternating within each repeat. Both "
        "backends start from the same parameters with `tol=0`, `n_init=1` and a "
        f"fixed `max_iter`; one iteration = (time at max_iter={a + m} - time at "
        f"max_iter={a}) / {m}. scikit-learn runs at its faster of 1 and 2 "
        "BLAS/OpenMP threads (shown; picked by the best of two 2-iteration probe "
        f"fits on the first {PROBE_ROWS:,} rows at each count, unless "
        "`--sklearn-threads both`), fastem on 2 "
        "numba threads. Peak memory = peak RSS minus RSS after loading the data "
        f"and warming up, during a fit with max_iter={MEMORY_ITER}, in a fresh "
        "process. k-means also runs a whole fit to convergence from the same "
        f"start (`tol={CONVERGED_TOL:g}`, scikit-learn's default; "
        f"`max_iter={CONVERGED_MAX_ITER}`), its time per iteration being its time "
        "over its number of iterations.",
        "",
    ]
    gmm = [r for r in results if r.case.model == "gmm"]
    km = [r for r in results if r.case.model == "kmeans"]
    if gmm:
        lines += [
            "| GaussianMixture | measure | scikit-learn | fastem | speed-up |",
            "|---|---|---:|---:|---:|",
        ]
        for res in gmm:
            label = _case_label(res)
            for measure, title in _MEASURE_LABELS.items():
                per = res.times.get(measure)
                if not per:
                    continue
                sk, sk_threads = _best_sklearn(per)
                fe = _median(per.get(("fastem", FASTEM_THREADS), []))
                lines.append(
                    f"| {label} | {title.format(am=a + m)} | "
                    f"{_fmt_time(sk)} ({sk_threads} thr) | {_fmt_time(fe)} | "
                    f"{_speedup(sk, fe)} |"
                )
                label = ""
            mem = res.memory
            if mem:
                sk_m = mem.get("sklearn", {}).get("delta")
                fe_m = mem.get("fastem", {}).get("delta")
                ratio = _memory_ratio(sk_m, fe_m)
                lines.append(
                    f"| {label} | peak memory of fit | {_fmt_mib(sk_m)} | "
                    f"{_fmt_mib(fe_m)} | {ratio} |"
                )
        lines.append("")
        quality = [r for r in gmm if r.quality]
        if quality:
            lines += [
                "| quality | n_iter (sklearn / fastem) | lower_bound_ scikit-learn "
                "| lower_bound_ fastem | difference | sklearn probe 1 / 2 thr |",
                "|---|---|---:|---:|---:|---:|",
            ]
            for res in quality:
                sk, fe = res.quality.get("sklearn"), res.quality.get("fastem")
                diff = "n/a" if fe is None else f"{fe - sk:+.2e}"
                fe_s = "n/a" if fe is None else f"{fe:.10f}"
                probe = " / ".join(_fmt_time(res.probe.get(t)) for t in SKLEARN_THREADS)
                lines.append(
                    f"| {_case_label(res)} | {res.n_iter.get('sklearn')} / "
                    f"{res.n_iter.get('fastem', 'n/a')} | {sk:.10f} | {fe_s} "
                    f"| {diff} | {probe if res.probe else 'n/a'} |"
                )
            lines.append("")
    if km:
        lines += [
            "| KMeans | measure | scikit-learn | fastem | speed-up | faiss |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for res in km:
            label = _case_label(res)
            its = res.converged_n_iter
            titles = {
                "fit": f"fit (max_iter={a + m})",
                "iteration": "one Lloyd iteration",
                "converged": (
                    f"fit to convergence (tol={CONVERGED_TOL:g}; "
                    f"{its.get('sklearn', 'n/a')} / {its.get('fastem', 'n/a')} it)"
                ),
                "converged iteration": "per iteration of that fit",
            }
            for measure, title in titles.items():
                per = res.times.get(measure, {})
                if not per:
                    continue
                sk, sk_threads = _best_sklearn(per)
                fe = _median(per.get(("fastem", FASTEM_THREADS), []))
                fa = _median(per.get(("faiss", FASTEM_THREADS), []))
                lines.append(
                    f"| {label} | {title} | {_fmt_time(sk)} ({sk_threads} thr) | "
                    f"{_fmt_time(fe)} | {_speedup(sk, fe)} | {_fmt_time(fa)} |"
                )
                label = ""
            q = res.quality
            parts = [
                f"{b} {q[b]:.6e} ({res.n_iter[b]} it)"
                for b in ("sklearn", "fastem", "faiss")
                if b in q
            ]
            lines.append(f"| | inertia | {' / '.join(parts)} | | | |")
        lines.append("")
    if compile_times:
        times, reason = compile_times
        lines += [
            "| first use in a fresh process | import | first fit "
            "(2,000 x 4, full) | total |",
            "|---|---:|---:|---:|",
        ]
        for key, label in (
            ("fastem cold", "fastem, numba cache cold"),
            ("fastem warm", "fastem, numba cache warm"),
            ("sklearn", "scikit-learn"),
        ):
            runs = times.get(key) or []
            if not runs:
                lines.append(f"| {label} | n/a | n/a | n/a |")
                continue
            cells = [
                _fmt_time(_median([r[p] for r in runs]))
                for p in ("import", "first_fit", "total")
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        if reason:
            lines.append(f"\n({reason})")
        lines.append("")
    notes = sorted({n for r in results for n in r.notes})
    if notes:
        lines += ["Skipped: " + "; ".join(notes), ""]
    lines += ["Machine:", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastem bench",
        description=(
            "Time fastem against scikit-learn (and faiss for k-means) on the same "
            "work, in one process, and print a markdown table."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one repeat, one iteration (a smoke run for CI)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats (default 3; quick: 1)"
    )
    parser.add_argument(
        "--cases",
        default=None,
        help="comma-separated case names or shell patterns (see --list-cases)",
    )
    parser.add_argument("--list-cases", action="store_true", help="list and exit")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="run every selected case in this dtype",
    )
    parser.add_argument(
        "--warmup-iters",
        type=int,
        default=1,
        help="a: iterations of the shorter fit (default 1)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        default=None,
        help="m: extra iterations of the longer fit (default 3; quick: 1)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with cover.npz, http.npz, shuttle.npz "
        "(default: ../shared/data if present)",
    )
    parser.add_argument(
        "--sklearn-threads",
        choices=("probe", "both", "1", "2"),
        default="probe",
        help="scikit-learn's thread count: 'probe' (default) picks the faster of "
        "1 and 2 on a short fit of the first 200,000 rows; 'both' times both in "
        "every repeat and reports the faster",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip peak memory")
    parser.add_argument("--no-compile", action="store_true", help="skip compile time")
    parser.add_argument(
        "--compile-repeats",
        type=int,
        default=None,
        help="fresh-process compile measurements (default 2; quick: 1)",
    )
    parser.add_argument("--markdown-out", default=None, help="also write the table")
    parser.add_argument("--json-out", default=None, help="write raw timings as JSON")
    parser.add_argument(
        "--render",
        default=None,
        metavar="JSON",
        help="print the report of an earlier --json-out file; measure nothing",
    )
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    return parser


def _select(cases_arg, quick, real_data, dtype):
    if cases_arg:
        pool = all_cases(real_data)
        chosen = []
        for pattern in cases_arg.split(","):
            pattern = pattern.strip()
            hits = [c for name, c in pool.items() if fnmatch.fnmatch(name, pattern)]
            if not hits:
                raise SystemExit(
                    f"no case matches {pattern!r}; see `fastem bench --list-cases`"
                )
            chosen += [c for c in hits if c not in chosen]
    else:
        chosen = default_cases(quick, real_data)
    if dtype:
        chosen = [
            replace(
                c,
                dtype=dtype,
                name=c.name.removesuffix("-f32")
                + ("-f32" if dtype == "float32" else ""),
            )
            for c in chosen
        ]
    return chosen


def _to_jsonable(results, compile_times, info, command, a, m, repeats):
    out = {
        "command": command,
        "warmup_iters": a,
        "iters": m,
        "repeats": repeats,
        "machine": info,
        "cases": [],
    }
    for res in results:
        out["cases"].append(
            {
                "case": asdict(res.case),
                "shape": list(res.shape),
                "times": {
                    measure: {f"{b}@{t}": v for (b, t), v in per.items()}
                    for measure, per in res.times.items()
                },
                "quality": res.quality,
                "n_iter": res.n_iter,
                "memory": res.memory,
                "notes": res.notes,
                "probe": res.probe,
                "converged_n_iter": res.converged_n_iter,
            }
        )
    if compile_times:
        out["compile"], out["compile_skipped"] = compile_times
    return out


def _from_jsonable(data):
    """Rebuild the report inputs from :func:`_to_jsonable` output."""
    results = []
    for item in data["cases"]:
        case = dict(item["case"])
        case["measures"] = tuple(case["measures"])
        res = CaseResult(Case(**case), shape=tuple(item["shape"]))
        for measure, per in item["times"].items():
            for key, values in per.items():
                backend, _, count = key.partition("@")
                res.times.setdefault(measure, {})[(backend, int(count))] = values
        res.quality = item["quality"]
        res.n_iter = item["n_iter"]
        res.memory = item["memory"]
        res.notes = item["notes"]
        res.probe = {int(k): v for k, v in item.get("probe", {}).items()}
        res.converged_n_iter = item.get("converged_n_iter", {})
        results.append(res)
    compile_times = None
    if "compile" in data:
        compile_times = (data["compile"], data.get("compile_skipped"))
    return results, compile_times


def main(argv=None):
    """Run the comparison and print the markdown report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``); see
        ``fastem bench --help``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    args = _parser().parse_args(argv)
    if args.memory_worker:
        _memory_worker(json.loads(args.memory_worker))
        return 0
    if args.render:
        data = json.loads(Path(args.render).read_text())
        results, compile_times = _from_jsonable(data)
        report = render_markdown(
            results,
            compile_times,
            data["machine"],
            data["command"],
            data["warmup_iters"],
            data["iters"],
            data["repeats"],
        )
        print(report)
        if args.markdown_out:
            Path(args.markdown_out).write_text(report)
        return 0
    data_dir = find_data_dir(args.data_dir)
    cases = _select(args.cases, args.quick, data_dir is not None, args.dtype)
    if args.list_cases:
        for name, case in all_cases(data_dir is not None).items():
            print(f"{name:32s} {case.measures}")
        return 0
    repeats = args.repeats or (1 if args.quick else 3)
    m = args.iters or (1 if args.quick else 3)
    a = args.warmup_iters
    compile_repeats = args.compile_repeats or (1 if args.quick else 2)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if fastem_available() is not None:
        log(f"note: {fastem_available()}; timing scikit-learn only")
    results = []
    for case in cases:
        log(f"{case.name} ...")
        if "time" in case.measures:
            res = run_case(case, a, m, repeats, data_dir, log, args.sklearn_threads)
        else:
            res = CaseResult(case)
            res.notes = []
            X_shape = load_case_data(case, data_dir).shape
            res.shape = (X_shape[0], X_shape[1], case.k)
        if "memory" in case.measures and not args.no_memory:
            for backend in ("sklearn", "fastem"):
                what = "GaussianMixture" if case.model == "gmm" else "KMeans"
                if backend == "fastem" and fastem_available(what) is not None:
                    continue
                count = FASTEM_THREADS
                if backend == "sklearn" and res.times.get("fit"):
                    count = _best_sklearn(res.times["fit"])[1]
                res.memory[backend] = measure_memory(
                    case, backend, count, MEMORY_ITER, data_dir
                )
                log(f"  memory {backend}: {_fmt_mib(res.memory[backend]['delta'])}")
        results.append(res)
    compile_times = None
    if not args.no_compile:
        log("compile time ...")
        compile_times = run_compile(compile_repeats, log=log)
    info = machine_info()
    program = "fastem bench"
    if argv is None and Path(sys.argv[0]).name == "compare.py":
        program = "python benchmarks/compare.py"
    command = (
        program
        + " "
        + " ".join(shlex.quote(arg) for arg in (sys.argv[1:] if argv is None else argv))
    )
    report = render_markdown(
        results, compile_times, info, command.strip(), a, m, repeats
    )
    print(report)
    if args.markdown_out:
        Path(args.markdown_out).write_text(report)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                _to_jsonable(
                    results, compile_times, info, command.strip(), a, m, repeats
                ),
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
