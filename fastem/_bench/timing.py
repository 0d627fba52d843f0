"""The timed runs of one case, backends alternating inside each repeat.

- time per EM iteration = (time at ``max_iter=a+m`` minus time at ``max_iter=a``)
  / m, per repeat, then the median over repeats (in the report);
- for k-means also a whole fit to convergence (scikit-learn's default
  ``tol=1e-4``, ``max_iter=300``) from the same start, and its time per
  iteration: k-means iterations get cheaper for fastem as the centers settle
  (its distance bounds skip more rows), never for scikit-learn.
"""

import gc
import time

from .backends import (
    CONVERGED_MAX_ITER,
    CONVERGED_TOL,
    estep,
    faiss_available,
    fastem_available,
    fit_gmm,
    fit_kmeans,
    sklearn_estep_model,
    threads,
)
from .cases import load_case_data
from .data import inertia, initial_centers, initial_parameters
from .results import CaseResult

#: Threads given to fastem (numba) and the thread counts tried for scikit-learn.
FASTEM_THREADS = 2
SKLEARN_THREADS = (1, 2)
#: Rows of the probe that picks scikit-learn's thread count.
PROBE_ROWS = 200_000
#: Rows of the warm-up fits (JIT compilation, first touch).
WARMUP_ROWS = 4096


def timed(fn, *args):
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


def configs(case, skip):
    """Return the ``(backend, threads)`` pairs to time for ``case``.

    Backends that cannot run are left out and the reason appended to ``skip``.
    """
    pairs = [("sklearn", t) for t in SKLEARN_THREADS]
    what = "GaussianMixture" if case.model == "gmm" else "KMeans"
    reason = fastem_available(what)
    if reason is None:
        pairs.append(("fastem", FASTEM_THREADS))
    else:
        skip.append(reason)
    if case.model == "kmeans":
        reason = faiss_available()
        if reason is None and case.dtype != "float32":
            reason = "faiss k-means is float32-only"
        if reason is None:
            pairs.append(("faiss", FASTEM_THREADS))
        else:
            skip.append(reason)
    return pairs


def _fit(case, backend, X, start, max_iter, tol=0.0):
    """Fit ``case``'s model on ``backend`` from ``start`` (parameters or centers)."""
    if case.model == "gmm":
        return fit_gmm(backend, case.covariance_type, X, start, max_iter)
    return fit_kmeans(backend, X, start, max_iter, tol)


def warm_up(case, X, start, pairs):
    """Compile (JIT) and touch every code path once on the first rows."""
    small = X[:WARMUP_ROWS]
    for backend, count in pairs:
        with threads(backend, count):
            model = _fit(case, backend, small, start, 2)
            if case.model == "gmm":
                model.predict_proba(small)
                model.score_samples(small)
                sk = sklearn_estep_model(case.covariance_type, start)
                estep(backend, case.covariance_type, small, start, sk)


def probe_sklearn(case, X, start, counts, rounds=2):
    """Best of ``rounds`` 2-iteration scikit-learn fits on the first rows, per count.

    The counts alternate (1, 2, 1, 2, ...) so that a burst of load from other
    processes does not decide the choice on its own.

    Returns
    -------
    dict
        Thread count -> best seconds.
    """
    small = X[:PROBE_ROWS]
    seconds = {}
    for _ in range(rounds):
        for count in counts:
            with threads("sklearn", count):
                t, _ = timed(_fit, case, "sklearn", small, start, 2)
            seconds[count] = min(t, seconds.get(count, t))
    return seconds


def run_case(case, a, m, repeats, data_dir=None, log=print, sklearn_threads="probe"):
    """Time every backend of ``case``; backends alternate inside each repeat.

    Parameters
    ----------
    case : Case
    a, m : int
        The shorter fit runs ``a`` iterations, the longer ``a + m``.
    repeats : int
    data_dir : path, optional
        The real-data folder (see :func:`~.cases.find_data_dir`).
    log : callable, default=print
        Receives a line of progress at a time.
    sklearn_threads : {'probe', 'both', '1', '2'}, default='probe'
        ``"probe"`` times scikit-learn only at the thread count that was faster
        on a 2-iteration fit of the first ``PROBE_ROWS`` rows; ``"both"`` times
        it at 1 and 2 threads in every repeat and reports the faster (exact, but
        twice the scikit-learn time); ``"1"`` or ``"2"`` fixes it.

    Returns
    -------
    CaseResult
    """
    result = CaseResult(case)
    pairs = configs(case, result.notes)
    X = load_case_data(case, data_dir)
    result.shape = (X.shape[0], X.shape[1], case.k)
    if case.model == "gmm":
        start = initial_parameters(X, case.k, case.covariance_type)
        sk_model = sklearn_estep_model(case.covariance_type, start)
    else:
        start = initial_centers(X, case.k)
    warm_up(case, X, start, pairs)
    if sklearn_threads == "probe":
        result.probe = probe_sklearn(case, X, start, SKLEARN_THREADS)
        best = min(result.probe, key=result.probe.get)
        pairs = [c for c in pairs if c[0] != "sklearn" or c[1] == best]
        log(f"  scikit-learn thread probe: {result.probe} -> {best}")
    elif sklearn_threads != "both":
        pairs = [c for c in pairs if c[0] != "sklearn" or c[1] == int(sklearn_threads)]

    def record(measure, config, seconds):
        result.times.setdefault(measure, {}).setdefault(config, []).append(seconds)

    models = {}
    for r in range(repeats):
        shift = r % len(pairs)
        order = pairs[shift:] + pairs[:shift]
        for config in order:  # fits at max_iter = a and a + m
            backend, count = config
            with threads(backend, count):
                t_a, _ = timed(_fit, case, backend, X, start, a)
                t_am, out = timed(_fit, case, backend, X, start, a + m)
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
                    seconds, out = timed(
                        _fit,
                        case,
                        backend,
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
                    cov = case.covariance_type
                    with threads(backend, count):
                        if measure == "estep":
                            args = (estep, backend, cov, X, start, sk_model)
                        else:
                            args = (getattr(models[backend], measure), X)
                        seconds, _ = timed(*args)
                    record(measure, config, seconds)
        log(f"  {case.name}: repeat {r + 1}/{repeats} done")
    return result
