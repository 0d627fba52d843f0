"""Model selection: fastem.select_model against scikit-learn's hand-written loop.

Run from the checkout (a plain script, not an asv benchmark: it defines no
``time_*`` names and imports fastem and joblib inside functions)::

    python -m benchmarks.bench_select --n 10000 --d 8 --kmax 10 --repeats 3

The grid is ``n_components = 1..kmax`` x the four covariance types, ``n_init=1``,
the same integer ``random_state`` for every candidate (as scikit-learn's "Gaussian
Mixture Model Selection" example), scikit-learn's default ``tol`` and
``max_iter``, on :func:`fastem._bench.data.make_blobs` ``(n, d, k_true)``. Every
candidate is fitted and its BIC and AIC computed; the best is the lowest BIC.

- **fastem**: ``select_model(X, ...)``, ``n_jobs`` default (as many fits at once
  as Numba threads, one thread each), and with ``n_jobs=1`` (fits one after the
  other, each with every Numba thread) for reference.
- **scikit-learn**, as a user would write it, each candidate
  ``GaussianMixture(...).fit(X)`` then ``est.bic(X)`` and ``est.aic(X)``:
  (a) a loop with BLAS and OpenMP held at one thread (threadpoolctl),
  (b) the same loop with two threads,
  (c) ``joblib.Parallel(n_jobs=2)`` on loky worker processes with one BLAS and
  OpenMP thread each (``inner_max_num_threads=1``): once from fresh workers
  (their start-up and imports included) and once more with the workers warm.

The two libraries fit from their own starts (fastem's k-means and scikit-learn's
are different code), so a candidate can take a different number of iterations
on each side: the total number of EM iterations is printed with the time per
iteration (total time / total iterations, initialisation and scoring included),
and whether both pick the same best ``(n_components, covariance_type)``. Times
are medians over ``--repeats``; the backends take turns inside every repeat, in
rotating order, so drift on a shared machine hits all of them alike. Numba is
warmed up (one small ``select_model``) before any timing.
"""

import argparse
import os
import platform
import statistics
import sys
import warnings

import numpy as np

from .common import data

SEED = data.SEED
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


# --------------------------------------------------------------------------
# the work of each backend; each returns one row per candidate, in table
# order: (n_components, covariance_type, bic, aic, n_iter)
# --------------------------------------------------------------------------


def grid(kmax):
    """The candidates in table order: covariance type outer, k inner."""
    return [(k, cov) for cov in COVARIANCE_TYPES for k in range(1, kmax + 1)]


def run_fastem(X, kmax, n_jobs=None):
    """``fastem.select_model`` on the grid."""
    from fastem import select_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(
            X, n_components=range(1, kmax + 1), random_state=SEED, n_jobs=n_jobs
        )
    table = result.table
    return [
        (int(k), str(cov), float(bic), float(aic), int(n_iter))
        for k, cov, bic, aic, n_iter in zip(
            table["n_components"],
            table["covariance_type"],
            table["bic"],
            table["aic"],
            table["n_iter"],
            strict=True,
        )
    ]


def sklearn_candidate(X, k, cov):
    """One candidate as a user fits it with scikit-learn: fit, bic, aic."""
    from sklearn.mixture import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = GaussianMixture(k, covariance_type=cov, random_state=SEED).fit(X)
    return k, cov, float(est.bic(X)), float(est.aic(X)), int(est.n_iter_)


def run_sklearn_loop(X, kmax, threads):
    """The hand-written loop, BLAS and OpenMP held at ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return [sklearn_candidate(X, k, cov) for k, cov in grid(kmax)]


def run_sklearn_joblib(X, kmax):
    """The loop on two loky workers with one BLAS/OpenMP thread each."""
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", inner_max_num_threads=1):
        return Parallel(n_jobs=2)(
            delayed(sklearn_candidate)(X, k, cov) for k, cov in grid(kmax)
        )


def stop_loky_workers():
    """Shut the reusable loky workers down, so the next call starts fresh ones."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def timed(fn, *args, **kwargs):
    """``(seconds, fn(...))`` with the garbage collector held off."""
    from fastem._bench.timing import timed as run_timed

    return run_timed(lambda: fn(*args, **kwargs))


# --------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------

#: Backend label -> (library, description).
BACKENDS = {
    "fastem": ("fastem", "select_model, n_jobs default"),
    "fastem-serial": ("fastem", "select_model, n_jobs=1"),
    "sklearn-loop-1": ("sklearn", "loop, 1 BLAS/OpenMP thread"),
    "sklearn-loop-2": ("sklearn", "loop, 2 BLAS/OpenMP threads"),
    "sklearn-joblib-cold": ("sklearn", "joblib loky n_jobs=2, fresh workers"),
    "sklearn-joblib-warm": ("sklearn", "joblib loky n_jobs=2, warm workers"),
}


def measure(X, kmax, repeats):
    """Return ``{backend: [(seconds, rows), ...]}`` over the repeats."""
    steps = {
        "fastem": lambda: timed(run_fastem, X, kmax),
        "fastem-serial": lambda: timed(run_fastem, X, kmax, n_jobs=1),
        "sklearn-loop-1": lambda: timed(run_sklearn_loop, X, kmax, 1),
        "sklearn-loop-2": lambda: timed(run_sklearn_loop, X, kmax, 2),
        "sklearn-joblib": None,  # cold then warm, measured together
    }
    names = list(steps)
    runs = {name: [] for name in BACKENDS}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            if name == "sklearn-joblib":
                stop_loky_workers()
                runs["sklearn-joblib-cold"].append(timed(run_sklearn_joblib, X, kmax))
                runs["sklearn-joblib-warm"].append(timed(run_sklearn_joblib, X, kmax))
            else:
                runs[name].append(steps[name]())
            print(f"  repeat {repeat + 1}/{repeats}: {name} done", file=sys.stderr)
    stop_loky_workers()
    return runs


def best_of(rows):
    """``(n_components, covariance_type)`` of the lowest BIC."""
    finite = [row for row in rows if np.isfinite(row[2])]
    k, cov = min(finite, key=lambda row: row[2])[:2]
    return k, cov


def fmt_seconds(seconds):
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(args, runs, load_before, load_after):
    """Print the table of one run."""
    import numba
    import sklearn
    import threadpoolctl

    import fastem

    median = {
        name: statistics.median(seconds for seconds, _ in values)
        for name, values in runs.items()
    }
    rows = {name: values[0][1] for name, values in runs.items()}
    iters = {name: sum(row[4] for row in rows[name]) for name in runs}
    sklearn_names = [n for n in BACKENDS if BACKENDS[n][0] == "sklearn"]
    best_sklearn = min(sklearn_names, key=median.get)
    t_fastem = median["fastem"]
    print(
        f"\n## select_model: n={args.n}, d={args.d}, k_true={args.k_true}, "
        f"k=1..{args.kmax} x {len(COVARIANCE_TYPES)} covariance types "
        f"({len(rows['fastem'])} candidates), median of {args.repeats}\n"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}; fastem {fastem.__version__}, scikit-learn "
        f"{sklearn.__version__}, numba {numba.__version__} "
        f"({numba.get_num_threads()} threads), "
        f"BLAS {_blas()}, threadpoolctl {threadpoolctl.__version__}"
    )
    print(
        f"load average (1, 5, 15 min): before {_load(load_before)}, after "
        f"{_load(load_after)}\n"
    )
    header = (
        "| backend | time | EM iterations | time / iteration | fastem speed-up "
        "| best (k, type) by BIC |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---|")
    for name, (library, description) in BACKENDS.items():
        speedup = median[name] / t_fastem
        per_iter = median[name] / iters[name] if iters[name] else float("nan")
        mark = " (best scikit-learn)" if name == best_sklearn else ""
        print(
            f"| {library}: {description}{mark} | {fmt_seconds(median[name])} | "
            f"{iters[name]} | {per_iter * 1e3:.2f} ms | {speedup:.1f}x | "
            f"{best_of(rows[name])} |"
        )
    per_iter_fastem = t_fastem / iters["fastem"]
    per_iter_sklearn = median[best_sklearn] / iters[best_sklearn]
    same = best_of(rows["fastem"]) == best_of(rows[best_sklearn])
    print(
        f"\nspeed-up = best scikit-learn time / fastem time = "
        f"{median[best_sklearn] / t_fastem:.2f}x (per EM iteration: "
        f"{per_iter_sklearn / per_iter_fastem:.2f}x); fastem n_jobs default vs "
        f"n_jobs=1: {median['fastem-serial'] / t_fastem:.2f}x; same best "
        f"(k, type): {'yes' if same else 'no'}"
    )
    spread = {
        name: (min(s for s, _ in values), max(s for s, _ in values))
        for name, values in runs.items()
    }
    print(
        "min-max over repeats: "
        + ", ".join(
            f"{name} {fmt_seconds(lo)}-{fmt_seconds(hi)}"
            for name, (lo, hi) in spread.items()
        )
    )


def _blas():
    from threadpoolctl import threadpool_info

    libs = [
        f"{lib['internal_api']} {lib.get('version')}"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    ]
    return ", ".join(dict.fromkeys(libs)) or "unknown"


def _load(values):
    return ", ".join(f"{value:.2f}" for value in values)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_select",
        description="Time fastem.select_model against scikit-learn's loop.",
    )
    parser.add_argument("--n", type=lambda s: int(float(s)), default=10_000)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--k-true", type=int, default=5, help="clusters in the data")
    parser.add_argument("--kmax", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    X = data.make_blobs(args.n, args.d, args.k_true)
    # Warm-up: Numba compilation (or loading its cache) and scikit-learn's
    # first calls stay out of the timings.
    small = data.make_blobs(500, args.d, 3)
    run_fastem(small, kmax=3)
    run_sklearn_loop(small, kmax=3, threads=1)
    load_before = os.getloadavg()
    runs = measure(X, args.kmax, args.repeats)
    report(args, runs, load_before, os.getloadavg())


if __name__ == "__main__":
    main()
