"""Dask: fastem on a LocalCluster against its in-memory fit and dask-ml's KMeans.

Run from the checkout (not an asv benchmark: asv's environments have no Dask, so
this module imports Dask only inside functions and defines no ``time_*`` names)::

    python -m benchmarks.bench_dask                  # n=1e7, d=16, k=16, 1e6-row blocks
    python -m benchmarks.bench_dask --quick          # n=1e6, 1e5-row blocks
    python -m benchmarks.bench_dask --n 1e7 --d 16 --k 16 --block-rows 1e6 \
        --repeats 3 --iters 5 --json out.json

One ``distributed.LocalCluster`` (``--workers`` processes x ``--threads-per-worker``
threads, on 127.0.0.1, no dashboard) holds the data for the whole run. What is
measured, every pair doing identical work from the same start (``n_init=1``,
``tol=0``, a fixed ``max_iter``):

- **GaussianMixture** ('full' and 'diag'): ``fastem.GaussianMixture.fit`` on the
  Dask array against the same fit on a NumPy copy of the same values in this
  (the client) process, with ``--client-threads`` Numba threads (default: as
  many as the cluster has). The same ``weights_init``, ``means_init`` and
  ``precisions_init``, so there is no initialisation pass. The ratio
  Dask / in-memory is the price of distributing.
- **KMeans**: ``fastem.KMeans`` on the Dask array against
  ``dask_ml.cluster.KMeans`` on the same cluster, data and initial centers
  (an array ``init``, so ``init_max_iter`` and ``oversampling_factor`` play no
  part), and fastem's in-memory fit for reference. Both Dask fits run exactly
  ``max_iter`` Lloyd iterations (``tol=0``; see below) and the final inertia of
  each is recomputed by one function on the workers, since dask-ml's
  ``inertia_`` is not always the inertia.
- **Per-block cost**: one call of the statistics kernel on one block of
  ``--kernel-rows`` rows (default 1e6) in this process with one thread: fastem's
  ``kernels.suff_stats`` ('full', 'diag') and ``kernels.lloyd_step``, and
  dask-ml's per-block Lloyd work (scikit-learn's
  ``pairwise_distances_argmin_min`` plus its ``_centers_dense`` and a bincount).
  Multiplied by the number of blocks over the number of worker threads it
  predicts a Dask iteration at any size; the rest is overhead.

Time per iteration = (time of a fit with ``max_iter=a+m`` minus time of one with
``max_iter=a``) / m, per repeat, then the median over repeats (``--warmup-iters
a``, ``--iters m``): what a fit does once (validation, persisting, the final
pass) cancels. Backends alternate inside every repeat in rotating order, so drift
on a shared machine hits all of them alike. Numba compilation is kept out by a
warm-up fit of every backend on the first two blocks.

dask-ml's KMeans (2025.1.0), as read in ``dask_ml/cluster/k_means.py``: every
iteration is one ``compute`` (labels and distances of every block, per-block
center sums, a bincount) and a shift test ``sum((old - new)**2) < tol``, an
absolute squared shift (scikit-learn scales ``tol`` by the data's mean variance
and tests ``<=``; fastem as scikit-learn, and it also stops when no label
changes). With ``tol=0`` the test never passes, so dask-ml runs exactly
``max_iter`` iterations and ``n_iter_ == max_iter``; fastem's ``n_iter_`` is
checked and flagged in the table when it is smaller. A fit also makes one pass
to check for NaN and one more, after the loop, for the labels and ``inertia_``;
that last pass takes plain (not squared) distances, so ``inertia_`` is then the
sum of Euclidean distances. An empty cluster's center becomes the origin.

The data are Gaussian blobs generated on the workers, block by block, from
``numpy.random.default_rng([seed, block])`` (centers from N(0, 3^2), per-axis
standard deviations from U(0.5, 1.5), as :func:`fastem._bench.data.make_blobs`):
block ``i`` is placed on worker ``i % workers`` and kept there. The client builds
its copy with the same function and checks it against the workers' block sums.
At the default size the data take 1.28 GB on the workers and 1.28 GB in the
client.
"""

import argparse
import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from .common import backends, data

SEED = data.SEED

COVARIANCE_TYPES = ("full", "diag")
#: Sizes used by ``--quick`` where not given on the command line.
QUICK = {"n": 1_000_000, "block_rows": 100_000, "repeats": 2, "iters": 3}
DEFAULTS = {"n": 10_000_000, "block_rows": 1_000_000, "repeats": 3, "iters": 5}
#: GaussianMixture backends, then KMeans backends, in the order of the tables.
GMM_BACKENDS = ("fastem-memory", "fastem-dask")
KMEANS_BACKENDS = ("fastem-memory", "fastem-dask", "dask-ml")
#: Labels of the per-block kernels in the report.
BLOCK_LABELS = {
    **{
        f"suff_stats-{cov}": f"fastem kernels.suff_stats '{cov}'"
        for cov in ("full", "tied", "diag", "spherical")
    },
    "lloyd_step": "fastem kernels.lloyd_step",
    "dask-ml-lloyd": "dask-ml's Lloyd work on one block",
}


def fmt_time(seconds):
    """``12.3 ms``, ``2.50 s`` or ``n/a``: ``fastem bench``'s format."""
    from fastem._bench.render import fmt_time as fmt

    return fmt(seconds)


def timed(fn, *args):
    """``(seconds, fn(*args))`` with the garbage collector held off."""
    from fastem._bench.timing import timed as run_timed

    return run_timed(fn, *args)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def blob_model(n_features, n_clusters, seed=SEED):
    """Return the blobs' ``(centers, scales)``, each of shape (k, d)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_clusters, n_features))
    scales = rng.uniform(0.5, 1.5, size=(n_clusters, n_features))
    return centers, scales


def blob_block(index, n_rows, centers, scales, seed=SEED):
    """Return block ``index`` of the blobs: ``n_rows`` rows, C-contiguous float64.

    Deterministic in ``(seed, index, n_rows)``; labels are drawn uniformly.
    """
    rng = np.random.default_rng([seed, index])
    labels = rng.integers(0, centers.shape[0], size=n_rows)
    X = rng.standard_normal((n_rows, centers.shape[1]))
    X *= scales[labels]
    X += centers[labels]
    return X


def row_chunks(n_samples, block_rows):
    """Return the rows of each block: ``block_rows`` each, the rest in the last."""
    full, rest = divmod(n_samples, block_rows)
    return (block_rows,) * full + ((rest,) if rest else ())


def make_dask_data(client, n, d, k, block_rows, seed=SEED):
    """Generate the blobs on the workers, block ``i`` on worker ``i % workers``.

    The blocks are made by tasks pinned to their worker, then the array over them
    is persisted (a no-op copy on the same worker), so that a further
    ``persist`` of it, as fastem's Dask fit does, finds it in memory already.

    Returns
    -------
    X : dask.array.Array of shape (n, d)
        Row-chunked, one chunk along columns, persisted.
    placement : dict
        Worker address -> number of blocks it holds (read back from the
        scheduler).
    """
    import dask.array as da
    from distributed import wait

    centers, scales = blob_model(d, k, seed)
    workers = sorted(client.scheduler_info()["workers"])
    chunks = row_chunks(n, block_rows)
    futures = [
        client.submit(
            blob_block,
            i,
            rows,
            centers,
            scales,
            seed,
            key=f"blobs-{seed}-{n}-{d}-{k}-{block_rows}-{i}",
            workers=[workers[i % len(workers)]],
            allow_other_workers=False,
        )
        for i, rows in enumerate(chunks)
    ]
    blocks = [
        da.from_delayed(f, shape=(rows, d), dtype=np.float64)
        for f, rows in zip(futures, chunks, strict=True)
    ]
    X = client.persist(da.concatenate(blocks, axis=0))
    wait(X)
    del futures, blocks
    placement = dict.fromkeys(workers, 0)
    for holders in client.who_has(X).values():
        for worker in holders:
            placement[worker] += 1
    return X, placement


def make_client_copy(X_dask, n, d, k, block_rows, seed=SEED):
    """Build the same rows in this process; check them against the workers'.

    Every block's sum is computed on the workers and compared, bit for bit,
    with the sum of the client's block.
    """
    import dask

    centers, scales = blob_model(d, k, seed)
    X = np.empty((n, d))
    start = 0
    local_sums = []
    for i, rows in enumerate(row_chunks(n, block_rows)):
        X[start : start + rows] = blob_block(i, rows, centers, scales, seed)
        local_sums.append(X[start : start + rows].sum())
        start += rows
    remote_sums = dask.compute(
        *[dask.delayed(np.sum)(b) for b in X_dask.to_delayed().ravel()]
    )
    if list(remote_sums) != local_sums:
        raise RuntimeError("the client's copy differs from the workers' blocks")
    return X


def dask_inertia(X_dask, centers):
    """Inertia of ``centers`` on the Dask data: per-block sums, added in order."""
    import dask

    parts = dask.compute(
        *[dask.delayed(data.inertia)(b, centers) for b in X_dask.to_delayed().ravel()]
    )
    return float(sum(parts))


# --------------------------------------------------------------------------
# the fits
# --------------------------------------------------------------------------


def fit_gmm(backend, covariance_type, X, init, max_iter, client_threads):
    """Fit fastem's GaussianMixture on ``X`` (NumPy or Dask) from ``init``."""
    model = backends.make_gmm("fastem", covariance_type, init, max_iter)
    return _fit_quietly(model, backend, X, client_threads)


def make_kmeans(backend, centers, max_iter):
    """Return an unfitted KMeans of ``backend`` starting at ``centers``, tol=0."""
    if backend == "dask-ml":
        from dask_ml.cluster import KMeans

        return KMeans(
            n_clusters=centers.shape[0],
            init=centers,
            max_iter=max_iter,
            tol=0.0,
            random_state=SEED,
        )
    from fastem import KMeans

    return KMeans(
        n_clusters=centers.shape[0],
        init=centers,
        n_init=1,
        max_iter=max_iter,
        tol=0.0,
        random_state=SEED,
    )


def fit_kmeans(backend, X, centers, max_iter, client_threads):
    """Fit ``backend``'s KMeans on ``X`` from ``centers``; returns the model."""
    model = make_kmeans(backend, centers, max_iter)
    return _fit_quietly(model, backend, X, client_threads)


def _fit_quietly(model, backend, X, client_threads):
    """``model.fit(X)`` without warnings; in memory on ``client_threads``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if backend == "fastem-memory":
            with backends.threads("fastem", client_threads):
                return model.fit(X)
        return model.fit(X)


def per_iteration(samples, a, m):
    """Median over repeats of ``(t[a + m] - t[a]) / m``."""
    return statistics.median((s[a + m] - s[a]) / m for s in samples)


def rotated(items, r):
    """Return ``items`` rotated left by ``r`` (the order of repeat ``r``)."""
    r %= len(items)
    return list(items[r:]) + list(items[:r])


def timed_fits(fit, names, inputs, a, m, repeats, log):
    """Time ``fit(backend, X, max_iter)`` at ``a`` and ``a + m`` iterations.

    Backends alternate in rotating order inside every repeat. Returns
    ``{backend: {"samples": [{max_iter: seconds}, ...], "model": fitted model
    at a + m of the first repeat}}``.
    """
    out = {b: {"samples": [], "model": None} for b in names}
    for r in range(repeats):
        for backend in rotated(names, r):
            sample = {}
            for max_iter in rotated((a, a + m), r):
                seconds, model = timed(fit, backend, inputs[backend], max_iter)
                sample[max_iter] = seconds
                if max_iter == a + m and out[backend]["model"] is None:
                    out[backend]["model"] = model
            out[backend]["samples"].append(sample)
            log(
                f"  repeat {r + 1}/{repeats} {backend}: "
                + ", ".join(f"max_iter={i} {fmt_time(t)}" for i, t in sample.items())
            )
    return out


def warm_up(fit, names, inputs):
    """One fit of every backend on a small slice (JIT compilation, imports)."""
    for backend in names:
        fit(backend, inputs[backend], 1)


# --------------------------------------------------------------------------
# the measurements
# --------------------------------------------------------------------------


def measure_gmm(args, X_dask, X_np, log):
    """GaussianMixture: per-iteration time on Dask against in memory."""
    names = list(GMM_BACKENDS)
    inputs = {"fastem-memory": X_np, "fastem-dask": X_dask}
    small_rows = 2 * args.block_rows
    small = {"fastem-memory": X_np[:small_rows], "fastem-dask": X_dask[:small_rows]}
    a, m = args.warmup_iters, args.iters
    results = {}
    for cov in args.covariance_types:
        log(f"GaussianMixture covariance_type={cov!r}")
        init = data.initial_parameters(X_np, args.k, cov)

        def fit(backend, X, max_iter, cov=cov, init=init):
            return fit_gmm(backend, cov, X, init, max_iter, args.client_threads)

        warm_up(fit, names, small)
        runs = timed_fits(fit, names, inputs, a, m, args.repeats, log)
        results[cov] = {
            b: {
                "samples": runs[b]["samples"],
                "seconds_per_iteration": per_iteration(runs[b]["samples"], a, m),
                "fit_seconds": statistics.median(s[a + m] for s in runs[b]["samples"]),
                "n_iter": int(runs[b]["model"].n_iter_),
                "lower_bound": float(runs[b]["model"].lower_bound_),
            }
            for b in names
        }
    return results


def measure_kmeans(args, X_dask, X_np, log):
    """KMeans: fastem on Dask against dask-ml (and fastem in memory)."""
    names = list(KMEANS_BACKENDS)
    if args.no_dask_ml:
        names.remove("dask-ml")
    inputs = {"fastem-memory": X_np, "fastem-dask": X_dask, "dask-ml": X_dask}
    small_rows = 2 * args.block_rows
    small = {
        "fastem-memory": X_np[:small_rows],
        "fastem-dask": X_dask[:small_rows],
        "dask-ml": X_dask[:small_rows],
    }
    centers = data.initial_centers(X_np, args.k)
    a, m = args.warmup_iters, args.iters

    def fit(backend, X, max_iter):
        return fit_kmeans(backend, X, centers, max_iter, args.client_threads)

    log("KMeans")
    warm_up(fit, names, small)
    runs = timed_fits(fit, names, inputs, a, m, args.repeats, log)
    results = {}
    for b in names:
        model = runs[b]["model"]
        final = np.asarray(model.cluster_centers_)
        results[b] = {
            "samples": runs[b]["samples"],
            "seconds_per_iteration": per_iteration(runs[b]["samples"], a, m),
            "fit_seconds": statistics.median(s[a + m] for s in runs[b]["samples"]),
            "n_iter": int(model.n_iter_),
            "inertia": dask_inertia(X_dask, final),
            "reported_inertia": float(model.inertia_),
        }
    ref = "fastem-memory"
    for b in names:
        final = np.asarray(runs[b]["model"].cluster_centers_)
        base = np.asarray(runs[ref]["model"].cluster_centers_)
        results[b]["max_center_difference"] = float(np.abs(final - base).max())
    return results


def measure_blocks(args, log):
    """One kernel call on one block in this process, one thread (median)."""
    from dask_ml.cluster.k_means import _centers_dense
    from sklearn.metrics import pairwise_distances_argmin_min

    from fastem import kernels

    rows = args.kernel_rows
    centers_model, scales = blob_model(args.d, args.k, args.seed)
    block = blob_block(0, rows, centers_model, scales, args.seed)
    centers = data.initial_centers(block, args.k)

    def dask_ml_block(X):
        labels, _ = pairwise_distances_argmin_min(
            X, centers, metric="euclidean", metric_kwargs={"squared": True}
        )
        labels = labels.astype(np.int32)
        return _centers_dense(X, labels, args.k), np.bincount(labels, minlength=args.k)

    calls = {
        f"suff_stats-{cov}": (
            "fastem",
            functools.partial(
                backends.fastem_suff_stats,
                block,
                cov,
                data.initial_parameters(block, args.k, cov),
            ),
        )
        for cov in args.covariance_types
    }
    calls["lloyd_step"] = (
        "fastem",
        functools.partial(kernels.lloyd_step, block, centers),
    )
    if not args.no_dask_ml:
        calls["dask-ml-lloyd"] = (
            "sklearn",
            functools.partial(dask_ml_block, block),
        )
    results = {}
    log(f"per-block kernels on {rows} x {args.d}, k={args.k}, 1 thread")
    for name, (backend, call) in calls.items():
        with backends.threads(backend, 1):
            call()  # warm-up
            samples = [timed(call)[0] for _ in range(max(3, args.repeats))]
        results[name] = {
            "label": BLOCK_LABELS[name],
            "samples": samples,
            "seconds": statistics.median(samples),
        }
        log(f"  {results[name]['label']}: {fmt_time(results[name]['seconds'])}")
    return results


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------


def fastem_source():
    """Where the fastem measured comes from: its folder, git commit, local edits."""
    import fastem

    folder = Path(fastem.__file__).resolve().parent

    def git(*argv):
        return subprocess.run(
            ["git", *argv], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        edited = git("status", "--porcelain", "--untracked-files=all", ".")
    except (OSError, subprocess.CalledProcessError):
        return str(folder)
    return f"{folder} at {commit}" + (" with uncommitted changes" if edited else "")


def versions():
    """Versions of the libraries measured, and where fastem comes from."""
    import dask
    import distributed
    import numba
    import sklearn

    out = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
    }
    try:
        import dask_ml

        out["dask-ml"] = dask_ml.__version__
    except ImportError:
        out["dask-ml"] = "not installed"
    out["fastem"] = fastem_source()
    return out


def _ratio(num, den):
    return f"{num / den:.2f}" if num and den else "n/a"


#: Per-block kernel of each backend's iteration ("{cov}": the covariance type).
_KERNEL_OF = {
    "gmm": "suff_stats-{cov}",
    "fastem-memory": "lloyd_step",
    "fastem-dask": "lloyd_step",
    "dask-ml": "dask-ml-lloyd",
}


def kernel_estimate(run, backend, kernel):
    """Seconds of one iteration if it were only the kernel, at its measured speed.

    Dask: the rows on the busiest worker over its threads; in memory: all rows
    over the client's threads. ``None`` without the per-block measurement.
    """
    cfg, blocks = run["config"], run.get("blocks", {})
    if kernel not in blocks:
        return None
    per_row = blocks[kernel]["seconds"] / cfg["kernel_rows"]
    if backend == "fastem-memory":
        return per_row * cfg["n"] / cfg["client_threads"]
    rows = max(run["placement"].values()) * cfg["block_rows"]
    return per_row * rows / cfg["threads_per_worker"]


def _gmm_table(run):
    lines = [
        "| GaussianMixture | in memory / iter | Dask / iter | Dask / in memory "
        "| kernel only: in memory, Dask | lower_bound_ | Dask rel. difference "
        "| n_iter_ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cov, res in run["gmm"].items():
        mem, dsk = res["fastem-memory"], res.get("fastem-dask", {})
        kernel = _KERNEL_OF["gmm"].format(cov=cov)
        estimates = [kernel_estimate(run, b, kernel) for b in GMM_BACKENDS]
        diff = "n/a"
        if dsk:
            rel = abs(dsk["lower_bound"] - mem["lower_bound"]) / abs(mem["lower_bound"])
            diff = f"{rel:.1e}"
        cells = [
            f"'{cov}'",
            fmt_time(mem["seconds_per_iteration"]),
            fmt_time(dsk.get("seconds_per_iteration")),
            _ratio(dsk.get("seconds_per_iteration"), mem["seconds_per_iteration"]),
            ", ".join(fmt_time(e) for e in estimates),
            f"{mem['lower_bound']:.12g}",
            diff,
            " / ".join(str(r["n_iter"]) for r in (mem, dsk) if r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _kmeans_table(run):
    a, m = run["config"]["warmup_iters"], run["config"]["iters"]
    res = run["kmeans"]
    base = res["fastem-memory"]["seconds_per_iteration"]
    lines = [
        f"| KMeans | per iteration | vs fastem in memory | kernel only "
        f"| fit (max_iter={a + m}) | n_iter_ | inertia (recomputed) "
        "| inertia_ (reported) | max center difference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b, r in res.items():
        flag = "" if r["n_iter"] == a + m else " (stopped early)"
        cells = [
            b,
            fmt_time(r["seconds_per_iteration"]),
            _ratio(r["seconds_per_iteration"], base),
            fmt_time(kernel_estimate(run, b, _KERNEL_OF[b])),
            fmt_time(r["fit_seconds"]),
            f"{r['n_iter']}{flag}",
            f"{r['inertia']:.10g}",
            f"{r['reported_inertia']:.10g}",
            f"{r['max_center_difference']:.2g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if "fastem-dask" in res and "dask-ml" in res:
        speedup = _ratio(
            res["dask-ml"]["seconds_per_iteration"],
            res["fastem-dask"]["seconds_per_iteration"],
        )
        lines += ["", f"fastem on Dask: {speedup}x faster per iteration than dask-ml."]
    return lines


def _blocks_table(run):
    cfg = run["config"]
    rows = cfg["kernel_rows"]
    lines = [
        f"| one block ({rows:,} x {cfg['d']}, k={cfg['k']}), one thread "
        "| seconds | ns per row |",
        "|---|---|---|",
    ]
    for r in run["blocks"].values():
        per_row = r["seconds"] / rows * 1e9
        lines.append(f"| {r['label']} | {fmt_time(r['seconds'])} | {per_row:.0f} |")
    return lines


def render(run):
    """Return the markdown report of ``run`` (the dict written by ``--json``)."""
    cfg = run["config"]
    a, m = cfg["warmup_iters"], cfg["iters"]
    load = run.get("load", {})
    lines = [
        f"`{run['command']}`",
        "",
        f"n={cfg['n']:,}, d={cfg['d']}, k={cfg['k']}, float64, blocks of "
        f"{cfg['block_rows']:,} rows ({cfg['n_blocks']} blocks: "
        f"{', '.join(str(v) for v in run['placement'].values())} per worker); "
        f"LocalCluster {cfg['workers']} worker processes x "
        f"{cfg['threads_per_worker']} thread(s), Numba threads per worker "
        f"{', '.join(str(t) for t in run['worker_numba'])}; in-memory fits in the "
        f"client with {cfg['client_threads']} Numba thread(s). Time per "
        f"iteration = (fit at max_iter={a + m} - fit at max_iter={a}) / {m}, "
        f"median of {cfg['repeats']} repeats; tol=0, n_init=1, same start. "
        "Kernel only = the per-block kernel's one-thread speed times the rows "
        "per thread (Dask: on the busiest worker). Load average (1 min) "
        f"{load.get('start', 'n/a')} at the start, {load.get('end', 'n/a')} at "
        "the end.",
        "",
    ]
    for key, table in (
        ("gmm", _gmm_table),
        ("kmeans", _kmeans_table),
        ("blocks", _blocks_table),
    ):
        if run.get(key):
            lines += [*table(run), ""]
    lines.append(", ".join(f"{k} {v}" for k, v in run["versions"].items()))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def _count(text):
    """Parse ``1e7`` or ``10000000`` as an int."""
    value = float(text)
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return int(value)


def make_parser():
    """Return the argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_dask",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--n", type=_count, help="rows (default 1e7; --quick 1e6)")
    p.add_argument("--d", type=_count, default=16, help="columns (default 16)")
    p.add_argument("--k", type=_count, default=16, help="components (default 16)")
    p.add_argument(
        "--block-rows", type=_count, help="rows per block (default 1e6; --quick 1e5)"
    )
    p.add_argument("--repeats", type=_count, help="repeats (default 3; --quick 2)")
    p.add_argument("--iters", type=_count, help="m (default 5; --quick 3)")
    p.add_argument("--warmup-iters", type=_count, default=1, help="a (default 1)")
    p.add_argument("--workers", type=_count, default=2, help="worker processes")
    p.add_argument("--threads-per-worker", type=_count, default=1)
    p.add_argument(
        "--worker-numba-threads",
        type=_count,
        help="NUMBA_NUM_THREADS of the workers (default: --threads-per-worker)",
    )
    p.add_argument(
        "--client-threads",
        type=_count,
        help="Numba threads of the in-memory fits (default: workers x threads)",
    )
    p.add_argument("--kernel-rows", type=_count, default=1_000_000)
    p.add_argument(
        "--covariance-types",
        nargs="+",
        default=list(COVARIANCE_TYPES),
        choices=["full", "tied", "diag", "spherical"],
    )
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--quick", action="store_true", help="n=1e6, blocks of 1e5")
    p.add_argument("--no-gmm", action="store_true")
    p.add_argument("--no-kmeans", action="store_true")
    p.add_argument("--no-blocks", action="store_true")
    p.add_argument("--no-dask-ml", action="store_true")
    p.add_argument("--json", type=Path, help="write the raw results here")
    return p


def _numba_threads():
    """Numba's thread count in this process (run on every worker)."""
    import numba

    return numba.config.NUMBA_NUM_THREADS


@contextlib.contextmanager
def start_cluster(args):
    """Start the LocalCluster and a Client on it; yield the client.

    ``NUMBA_NUM_THREADS`` must be in a worker's environment before Numba is
    imported there, which happens while the spawned worker unpickles its
    ``__main__`` (this module imports fastem), so the Nanny's ``env`` argument
    (applied later) does not work: it goes in
    ``distributed.nanny.pre-spawn-environ``. The Nanny writes those variables
    into this process's environment too; they are put back as they were, so the
    client's own Numba and BLAS settings are untouched.
    """
    import logging

    import dask
    from distributed import Client, LocalCluster

    saved = dict(os.environ)
    key = "distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS"
    try:
        with dask.config.set({key: str(args.worker_numba_threads)}):
            cluster = LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with cluster, Client(cluster) as client:
        yield client


def _load():
    """The 1-minute load average, or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def main(argv=None):
    """Run the benchmark and print the markdown tables."""
    args = make_parser().parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.worker_numba_threads is None:
        args.worker_numba_threads = args.threads_per_worker
    if args.client_threads is None:
        args.client_threads = args.workers * args.threads_per_worker
    command = "python -m benchmarks.bench_dask " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    run = {
        "command": command.strip(),
        "config": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        },
        "versions": versions(),
        "load": {"start": _load()},
    }
    run["config"]["n_blocks"] = len(row_chunks(args.n, args.block_rows))
    run["config"]["reg_covar"] = data.REG_COVAR
    with start_cluster(args) as client:
        run["worker_numba"] = sorted(set(client.run(_numba_threads).values()))
        _log(f"cluster up: Numba threads per worker {run['worker_numba']}")
        X_dask, placement = make_dask_data(
            client, args.n, args.d, args.k, args.block_rows, args.seed
        )
        run["placement"] = placement
        _log(f"data on the workers: {placement}")
        X_np = make_client_copy(
            X_dask, args.n, args.d, args.k, args.block_rows, args.seed
        )
        _log("client copy made and checked")
        if not args.no_gmm:
            run["gmm"] = measure_gmm(args, X_dask, X_np, _log)
        if not args.no_kmeans:
            run["kmeans"] = measure_kmeans(args, X_dask, X_np, _log)
        del X_dask
    if not args.no_blocks:
        run["blocks"] = measure_blocks(args, _log)
    run["load"]["end"] = _load()
    print(render(run))
    if args.json:
        args.json.write_text(json.dumps(run, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
