"""The timed runs of one case, backends alternating inside each repeat.

- time per EM iteration = (time at ``max_iter=a+m`` minus time at ``max_iter=a``)
  / m, per repeat, then the median over repeats (in the report); the same for
  BayesianGaussianMixture's variational iterations;
- GaussianMixture and BayesianGaussianMixture record both fits' final
  ``lower_bound_`` and ``lower_bounds_`` (the first repeat's longer fit): from
  the same start they agree to rounding, so a fast but wrong kernel shows;
- for k-means also a whole fit to convergence (scikit-learn's default
  ``tol=1e-4``, ``max_iter=300``) from the same start, and its time per
  iteration: k-means iterations get cheaper for fastem as the centers settle
  (its distance bounds skip more rows), never for scikit-learn;
- oneDAL (GaussianMixture 'full' and 'diag', when an interpreter imports
  daal4py): the same pair of fits in a fresh process of its own interpreter
  after the other backends' fits of each repeat, from the same start (see
  :mod:`.onedal`); its mean log-likelihood and the largest difference of its
  final means from fastem's are recorded, not checked.
"""

import gc
import time

import numpy as np

from .backends import (
    CONVERGED_MAX_ITER,
    CONVERGED_TOL,
    FASTEM_NAMES,
    estep,
    faiss_available,
    fastem_available,
    fit_bgmm,
    fit_gmm,
    fit_kmeans,
    lower_bounds,
    sklearn_estep_model,
    threads,
)
from .cases import load_case_data
from .data import inertia, initial_centers, initial_parameters
from .onedal import OneDALError, onedal_session
from .results import CaseResult

#: Threads given to fastem (numba) and the thread counts tried for scikit-learn.
FASTEM_THREADS = 2
SKLEARN_THREADS = (1, 2)
#: Rows of the probe that picks scikit-learn's thread count.
PROBE_ROWS = 200_000
#: Rows of the warm-up fits (JIT compilation, first touch).
WARMUP_ROWS = 4096
#: Relative tolerance within which both backends' ``lower_bounds_`` must agree.
AGREEMENT_RTOL = 1e-6
#: Measures of a fitted mixture, after the fits (GaussianMixture adds "estep").
PREDICT_MEASURES = ("predict_proba", "score_samples")


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
    reason = fastem_available(FASTEM_NAMES[case.model])
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


def case_start(case, X):
    """Return the common start of ``case`` on ``X``.

    GaussianMixture: the initial parameters; k-means: the initial centers;
    BayesianGaussianMixture: its number of components (the start is
    ``init_params='random_from_data'`` with the same seed, see
    :func:`~.backends.make_bgmm`).
    """
    if case.model == "gmm":
        return initial_parameters(X, case.k, case.covariance_type)
    if case.model == "bgmm":
        return case.k
    return initial_centers(X, case.k)


def fit_case(case, backend, X, start, max_iter, tol=0.0):
    """Fit ``case``'s model on ``backend`` from ``start`` (see :func:`case_start`).

    Returns the fitted mixture, or k-means' ``(centers, n_iter)``.
    """
    if case.model == "gmm":
        return fit_gmm(backend, case.covariance_type, X, start, max_iter)
    if case.model == "bgmm":
        return fit_bgmm(backend, case.covariance_type, X, start, max_iter)
    return fit_kmeans(backend, X, start, max_iter, tol)


def lower_bounds_difference(fits):
    """Largest relative difference between the backends' ``lower_bounds_``.

    ``fits`` maps a backend to its list of lower bounds; each is compared with
    scikit-learn's, iteration by iteration. ``None`` when there is nothing to
    compare (fewer than two backends with lower bounds); ``inf`` when the lists
    differ in length.

    Examples
    --------
    >>> lower_bounds_difference({"sklearn": [-2.0, -1.0], "fastem": [-2.0, -1.25]})
    0.25
    >>> lower_bounds_difference({"sklearn": [-2.0]}) is None
    True
    """
    ref = fits.get("sklearn")
    others = [v for b, v in fits.items() if b != "sklearn" and v]
    if not ref or not others:
        return None
    worst = 0.0
    for values in others:
        if len(values) != len(ref):
            return float("inf")
        for a, b in zip(values, ref, strict=True):
            worst = max(worst, abs(a - b) / max(abs(b), 1e-300))
    return worst


def record(result, measure, config, seconds):
    """Append ``seconds`` to ``result.times[measure][config]``."""
    result.times.setdefault(measure, {}).setdefault(config, []).append(seconds)


def time_onedal(session, result, a, m, models):
    """Time oneDAL's pair of fits once (see :meth:`~.onedal.OneDALSession.fit_pair`).

    The first time, also record oneDAL's mean log-likelihood and iterations, and
    the largest absolute difference of its final means from those of fastem's
    fit of the same iterations (``models["fastem"]``, when fastem ran).

    Returns
    -------
    bool
        ``False`` when oneDAL failed (the reason appended to ``result.notes``):
        the case's later repeats leave it out.
    """
    try:
        out = session.fit_pair(a, m)
    except OneDALError as exc:
        result.notes.append(f"oneDAL failed on {result.case.name}: {exc}")
        return False
    config = ("onedal", FASTEM_THREADS)
    record(result, "fit", config, out["fit"])
    record(result, "iteration", config, out["iteration"])
    if "onedal" not in result.n_iter:
        result.quality["onedal"] = out["lower_bound"]
        result.n_iter["onedal"] = out["n_iter"]
        if "fastem" in models:
            diff = np.abs(out["means"] - models["fastem"].means_).max()
            result.means_difference["onedal"] = float(diff)
    return True


def _failure_note(backend, error):
    """Return the report's note for a peer ``backend`` whose fit raised ``error``."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (
        f"{backend} failed on this case ({type(error).__name__}: {message}); "
        "timed without it"
    )


def _forget(result, models, backend):
    """Drop every figure of ``backend`` from ``result`` (it failed later on)."""
    for per_config in result.times.values():
        for config in [c for c in per_config if c[0] == backend]:
            del per_config[config]
    for table in (result.quality, result.n_iter, result.lower_bounds, models):
        table.pop(backend, None)


def warm_up(case, X, start, pairs, notes):
    """Compile (JIT) and touch every code path once on the first rows.

    Returns the pairs whose backend ran. A peer that raises (scikit-learn's
    float32 arithmetic can find a covariance not positive definite where
    fastem's does not) is left out, with the reason appended to ``notes``;
    fastem's own errors propagate.
    """
    small = X[:WARMUP_ROWS]
    failed = set()
    for backend, count in pairs:
        if backend in failed:
            continue
        with threads(backend, count):
            try:
                model = fit_case(case, backend, small, start, 2)
                if case.model in ("gmm", "bgmm"):
                    model.predict_proba(small)
                    model.score_samples(small)
                if case.model == "gmm":
                    sk = sklearn_estep_model(case.covariance_type, start)
                    estep(backend, case.covariance_type, small, start, sk)
            except Exception as error:
                if backend == "fastem":
                    raise
                failed.add(backend)
                notes.append(_failure_note(backend, error))
    return [pair for pair in pairs if pair[0] not in failed]


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
                t, _ = timed(fit_case, case, "sklearn", small, start, 2)
            seconds[count] = min(t, seconds.get(count, t))
    return seconds


def run_case(
    case,
    a,
    m,
    repeats,
    data_dir=None,
    log=print,
    sklearn_threads="probe",
    onedal=None,
):
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
    onedal : OneDAL, optional
        From :func:`~.onedal.find_onedal`: time oneDAL too where it can run the
        case (otherwise the reason goes to the notes). ``None``: no oneDAL.

    Returns
    -------
    CaseResult
    """
    result = CaseResult(case)
    pairs = configs(case, result.notes)
    X = load_case_data(case, data_dir)
    result.shape = (X.shape[0], X.shape[1], case.k)
    start = case_start(case, X)
    sk_model = None
    if case.model == "gmm":
        sk_model = sklearn_estep_model(case.covariance_type, start)
    pairs = warm_up(case, X, start, pairs, result.notes)
    has_sklearn = any(backend == "sklearn" for backend, _ in pairs)
    if sklearn_threads == "probe" and has_sklearn:
        result.probe = probe_sklearn(case, X, start, SKLEARN_THREADS)
        best = min(result.probe, key=result.probe.get)
        pairs = [c for c in pairs if c[0] != "sklearn" or c[1] == best]
        log(f"  scikit-learn thread probe: {result.probe} -> {best}")
    elif sklearn_threads != "both":
        pairs = [c for c in pairs if c[0] != "sklearn" or c[1] == int(sklearn_threads)]

    models = {}  # backend -> its fit of the first repeat (mixtures)
    with onedal_session(case, onedal, X, start, FASTEM_THREADS, result.notes) as dal:
        for r in range(repeats):
            shift = r % len(pairs)
            order = pairs[shift:] + pairs[:shift]
            failed = run_repeat(
                case, X, start, sk_model, order, r, a, m, result, models, log
            )
            pairs = [pair for pair in pairs if pair[0] not in failed]
            if dal is not None and not time_onedal(dal, result, a, m, models):
                dal = None  # failed: the reason is in the notes
            log(f"  {case.name}: repeat {r + 1}/{repeats} done")
    return result


def run_repeat(case, X, start, sk_model, order, r, a, m, result, models, log):
    """Run repeat ``r`` of the in-process backends, in ``order``; record it.

    ``order`` lists the ``(backend, threads)`` pairs; ``sk_model`` is the
    scikit-learn model of the fused E-step (GaussianMixture only, see
    :func:`~.backends.sklearn_estep_model`); the first repeat puts each mixture's
    fit in ``models``. Arguments otherwise as :func:`run_case`.

    Returns the peers that raised (left out of the rest of this repeat, the
    reason in ``result.notes``); fastem's own errors propagate.
    """
    mixture = case.model in ("gmm", "bgmm")
    failed = set()
    for config in order:  # fits at max_iter = a and a + m
        backend, count = config
        if backend in failed:
            continue
        with threads(backend, count):
            try:
                t_a, _ = timed(fit_case, case, backend, X, start, a)
                t_am, out = timed(fit_case, case, backend, X, start, a + m)
            except Exception as error:
                if backend == "fastem":
                    raise
                failed.add(backend)
                result.notes.append(_failure_note(backend, error))
                _forget(result, models, backend)  # earlier repeats' figures too
                continue
        record(result, "fit", config, t_am)
        record(result, "iteration", config, (t_am - t_a) / m)
        if r == 0 and mixture:
            models[backend] = out
            result.quality[backend] = float(np.asarray(out.lower_bound_).item())
            result.lower_bounds[backend] = lower_bounds(out)
            result.n_iter[backend] = int(out.n_iter_)
        elif r == 0:
            result.quality[backend] = inertia(X, out[0])
            result.n_iter[backend] = int(out[1])
    order = [config for config in order if config[0] not in failed]
    if case.model == "kmeans":
        for config in order:
            backend, count = config
            if backend == "faiss":  # no tolerance: runs a fixed niter
                continue
            with threads(backend, count):
                seconds, out = timed(
                    fit_case,
                    case,
                    backend,
                    X,
                    start,
                    CONVERGED_MAX_ITER,
                    CONVERGED_TOL,
                )
            record(result, "converged", config, seconds)
            record(result, "converged iteration", config, seconds / out[1])
            result.converged_n_iter[backend] = int(out[1])
    if r == 0 and mixture:
        worst = lower_bounds_difference(result.lower_bounds)
        if worst is not None and not worst <= AGREEMENT_RTOL:
            log(
                f"  WARNING {case.name}: lower_bounds_ differ between the "
                f"backends (max relative difference {worst:.2e})"
            )
    if mixture:
        extra = ("estep",) if case.model == "gmm" else ()
        for measure in PREDICT_MEASURES + extra:
            for config in order:
                backend, count = config
                cov = case.covariance_type
                with threads(backend, count):
                    if measure == "estep":
                        args = (estep, backend, cov, X, start, sk_model)
                    else:
                        args = (getattr(models[backend], measure), X)
                    seconds, _ = timed(*args)
                record(result, measure, config, seconds)
    return failed
