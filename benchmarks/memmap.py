"""Data larger than memory: memmaps against in-memory data, memory, disk rate.

``python benchmarks/memmap.py cached [--n 1e6 --d 16 --k 16 --repeats 5]``
    Time per EM iteration (GaussianMixture 'full' and 'diag') and per Lloyd
    iteration (KMeans) on the same values held three ways, interleaved in one
    process: a float64 array in memory, a float64 ``.npy`` memmap and an int16
    ``.npy`` memmap, both with their pages in the page cache. Prints the medians
    and each memmap's speed relative to memory.

``python benchmarks/memmap.py large [--n 2e8 --d 8 --path FILE --cases ...]``
    Fits on an int16 memmap of several GB (made once at ``--path``), each in a
    fresh process: the peak anonymous memory (``RssAnon``, sampled every 10 ms:
    the file's own pages are not counted) above the process after warm-up,
    against the block buffer and the data size, and the fit time. Cases are
    ``gmm-<covariance_type>-<init>`` and ``kmeans-<init>``, ``given`` starting
    from parameters (the passes alone); ``--rows`` uses a prefix of the file.

``python benchmarks/memmap.py disk [--path FILE]``
    With the page cache dropped before each (needs root), the file's sequential
    read rate with ``dd`` and the rate of one streamed E-step over it.

Every figure comes from one run on one machine; compare ratios, not times.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

if __name__ == "__main__" and __package__ is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

warnings.simplefilter("ignore")  # ConvergenceWarning of the fixed-length fits


def _mixture_rows(n, d, seed, scale=300.0):
    """Rows of an 8-component Gaussian mixture, as int16 (exact in float32)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-4, 4, size=(8, d))
    labels = rng.integers(0, 8, n)
    rows = (centers[labels] + rng.normal(size=(n, d))) * scale
    return np.clip(np.rint(rows), -32768, 32767).astype(np.int16)


def _write_npy(path, n, d, dtype=np.int16, chunk=1 << 22):
    """Write an (n, d) ``.npy`` of mixture rows in chunks (never whole in memory)."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, d))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        out[start:stop] = _mixture_rows(stop - start, d, seed=start)
    out.flush()
    del out


def _touch(array):
    """Read every page once, so the timings see a cached file."""
    total = 0.0
    for start in range(0, array.shape[0], 1 << 20):
        total += float(np.asarray(array[start : start + (1 << 20)], np.float64).sum())
    return total


def _iteration_time(make, data, iterations):
    """Seconds per iteration: the difference of two fits, over their iterations.

    A fit of ``1 + iterations`` iterations less a fit of one, from the same
    start: what is left is ``iterations`` iterations (initialisation, checks
    and final passes cancel out).
    """
    times = []
    for max_iter in (1, 1 + iterations):
        estimator = make(max_iter=max_iter)
        start = time.perf_counter()
        estimator.fit(data)
        times.append(time.perf_counter() - start)
    return (times[1] - times[0]) / iterations


def cached(args):
    from fastem import GaussianMixture, KMeans

    n, d, k = int(args.n), args.d, args.k
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    values = _mixture_rows(n, d, seed=0)
    paths = {}
    for dtype in ("float64", "int16"):
        paths[dtype] = folder / f"cached-{n}x{d}-{dtype}.npy"
        np.save(paths[dtype], values.astype(dtype))
    sources = {
        "memory float64": values.astype(np.float64),
        "memmap float64": np.load(paths["float64"], mmap_mode="r"),
        "memmap int16": np.load(paths["int16"], mmap_mode="r"),
    }
    for source in sources.values():
        _touch(source)
    centers = values[:: n // k][:k].astype(np.float64)

    def gmm(covariance_type):
        return lambda **kw: GaussianMixture(
            k,
            covariance_type=covariance_type,
            init_params="random_from_data",
            random_state=0,
            tol=0,
            **kw,
        )

    def kmeans(**kw):
        return KMeans(k, init=centers, n_init=1, tol=0, **kw)

    models = {"gmm full": gmm("full"), "gmm diag": gmm("diag"), "kmeans": kmeans}
    rows = []
    for model, make in models.items():
        times = {name: [] for name in sources}
        for source in sources.values():  # warm-up (compiles)
            _iteration_time(make, source, 1)
        for _ in range(args.repeats):
            for name, source in sources.items():
                times[name].append(_iteration_time(make, source, args.iterations))
        medians = {name: float(np.median(t)) for name, t in times.items()}
        base = medians["memory float64"]
        for name, median in medians.items():
            rows.append((model, name, median, base / median))
    print(f"n={n}, d={d}, k={k}, median of {args.repeats} (per iteration)")
    print(f"{'model':<10} {'data':<16} {'ms/iter':>9} {'vs memory':>10}")
    for model, name, median, ratio in rows:
        print(f"{model:<10} {name:<16} {median * 1e3:>9.1f} {ratio:>9.2f}x")
    for path in paths.values():
        path.unlink()


def _rss_anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def _large_child(path, rows, case, k, max_iter):
    """In a fresh process: warm up, then fit on the memmap, sampling memory.

    ``case`` is ``gmm-<covariance_type>-<init>`` or ``kmeans-<init>``; the init
    ``given`` starts from the first ``k`` rows as means (or centers), so the
    fit reads the data only in its passes.
    """
    import fastem._stream as stream
    from fastem import GaussianMixture, KMeans

    data = np.load(path, mmap_mode="r")[: int(rows)]
    model, *rest = case.split("-", 2)
    given = np.asarray(data[:k], dtype=np.float64) + np.arange(k)[:, None]

    def make(max_iter):
        if model == "kmeans":
            init = given if rest[0] == "given" else rest[0]
            return KMeans(k, init=init, n_init=1, max_iter=max_iter, tol=0)
        covariance_type, init = rest
        estimator = GaussianMixture(
            k,
            covariance_type=covariance_type,
            max_iter=max_iter,
            tol=0,
            random_state=0,
        )
        if init == "given":  # every parameter given: no initialisation pass
            precision = 1.0 / (600.0**2)
            precisions = {
                "full": np.repeat(np.eye(data.shape[1])[None] * precision, k, 0),
                "diag": np.full((k, data.shape[1]), precision),
            }[covariance_type]
            return estimator.set_params(
                means_init=given,
                weights_init=np.full(k, 1.0 / k),
                precisions_init=precisions,
            )
        return estimator.set_params(init_params=init)

    make(2).fit(data[:100_000])  # compile and warm up on a slice
    baseline = _rss_anon()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_anon())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    estimator = make(max_iter)
    estimator.fit(data)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    block = stream.Blocks(data)
    return {
        "case": case,
        "rows": int(data.shape[0]),
        "data_bytes": int(data.nbytes),
        "block_buffer_bytes": int(block.block_rows * data.shape[1] * 4),
        "peak_above_baseline": int(peak[0] - baseline),
        "fit_seconds": elapsed,
        "iterations": int(estimator.n_iter_),
    }


def large(args):
    path = Path(args.path)
    n, d = int(args.n), args.d
    if not path.exists():
        print(f"writing {path} ({n * d * 2 / 1e9:.1f} GB)...", flush=True)
        _write_npy(path, n, d)
    for case in args.cases.split(","):
        call = (
            f"memmap._large_child({str(path)!r}, {int(args.rows or n)}, {case!r}, "
            f"{args.k}, {args.max_iter})"
        )
        code = (
            f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import memmap; print(json.dumps({call}))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        mib = 1 << 20
        print(
            f"{result['case']:<22} {result['rows']:>11,} rows: peak above baseline "
            f"{result['peak_above_baseline'] / mib:8.1f} MiB (block buffer "
            f"{result['block_buffer_bytes'] / mib:.0f} MiB; data "
            f"{result['data_bytes'] / mib:,.0f} MiB, peak = "
            f"{100 * result['peak_above_baseline'] / result['data_bytes']:.1f}% of "
            f"it), fit {result['fit_seconds']:.1f} s, {result['iterations']} iter",
            flush=True,
        )


def _drop_caches():
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        raise SystemExit(f"cannot drop the page cache ({error}): run as root") from None


def disk(args):
    from fastem import GaussianMixture

    path = Path(args.path)
    data = np.load(path, mmap_mode="r")
    gm = GaussianMixture(args.k, covariance_type="diag", max_iter=1, tol=0)
    gm.set_params(init_params="random", random_state=0)
    gm.fit(data[:200_000])  # compile; parameters to start the pass from
    gm.set_params(warm_start=True)
    size = path.stat().st_size
    for attempt in range(args.repeats):
        _drop_caches()
        start = time.perf_counter()
        subprocess.run(
            ["dd", f"if={path}", "of=/dev/null", "bs=16M"],
            check=True,
            capture_output=True,
        )
        dd_rate = size / (time.perf_counter() - start)
        _drop_caches()
        start = time.perf_counter()
        gm.fit(data)  # one E-step + M-step over the whole file, from disk
        fit_rate = size / (time.perf_counter() - start)
        gm.fit(data)  # the file is now in the page cache
        start = time.perf_counter()
        gm.fit(data)
        cached_rate = size / (time.perf_counter() - start)
        print(
            f"run {attempt}: dd {dd_rate / 1e9:.2f} GB/s, streamed E-step from disk "
            f"{fit_rate / 1e9:.2f} GB/s ({fit_rate / dd_rate:.2f} of dd), cached "
            f"{cached_rate / 1e9:.2f} GB/s",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cached", help="memmap vs in-memory time per iteration")
    p.add_argument("--n", type=float, default=1e6)
    p.add_argument("--d", type=int, default=16)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--dir", default="/tmp/fastem-memmap-bench")
    p = sub.add_parser("large", help="peak memory of a fit on a multi-GB memmap")
    p.add_argument("--n", type=float, default=2e8)
    p.add_argument("--d", type=int, default=8)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--max-iter", type=int, default=2)
    p.add_argument("--path", default="/tmp/fastem-large-int16.npy")
    p.add_argument(
        "--cases",
        default="gmm-diag-given,gmm-full-given,kmeans-given,gmm-diag-random_from_data",
    )
    p.add_argument("--rows", type=float, default=None, help="use only these rows")
    p = sub.add_parser("disk", help="streamed E-step rate against dd, from disk")
    p.add_argument("--path", default="/tmp/fastem-large-int16.npy")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    {"cached": cached, "large": large, "disk": disk}[args.command](args)


if __name__ == "__main__":
    main()
