"""Print the speed of one pass over float32 data against float64, same values.

Float32 data gets the 'full' family's scatter products in float32
(``fastem/_kernels/_single.py``); every other part of the pass is float64 for
both. One ``kernels.suff_stats`` call per timing (the whole per-iteration pass:
E-step and statistics), float32 and float64 alternating in one process,
medians of ``--repeats``. ``--spread`` > 0 draws clusters that far apart (in
standard deviations, per feature), where the far components' float32 products
would be subnormal; 0 draws one Gaussian cloud.

Usage::

    python -m benchmarks.float32_speedup --cases full:1e6:16:16,full:2e5:64:32
    python -m benchmarks.float32_speedup --cases full:1e6:16:16 --spread 3
"""

import argparse
import statistics
import time

import numpy as np

KINDS = ("full", "tied", "diag", "spherical")


def _case(text):
    """``kind:n:d:k`` -> (kind, n, d, k)."""
    parts = text.split(":")
    if len(parts) != 4 or parts[0] not in KINDS:
        raise ValueError(text)
    kind, n, d, k = parts
    n, d, k = int(float(n)), int(d), int(k)
    if min(n, d, k) < 1:
        raise ValueError(text)
    return kind, n, d, k


def _problem(kind, n, d, k, spread):
    """Return float64 data and the pass's arguments after ``X``."""
    from fastem import kernels

    rng = np.random.default_rng(0)
    if spread > 0:
        centers = rng.normal(0.0, spread, (k, d))
        X = centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))
        means = centers + rng.normal(0.0, 0.1, (k, d))
    else:
        X = rng.normal(size=(n, d))
        means = X[rng.choice(n, k, replace=False)]
    chol = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[kind]
    norm = kernels.log_norm(chol, np.full(k, 1.0 / k), kind, d)
    return X, (means, chol, norm, kind)


def main(argv=None):
    """Print one line per case: float32 and float64 medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="full:1e6:16:16,full:2e5:64:32")
    parser.add_argument("--spread", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        cases = [_case(text) for text in args.cases.split(",")]
    except ValueError as error:
        parser.error(f"--cases: expected kind:n:d:k (kind one of {KINDS}), got {error}")
    if args.repeats < 1 or args.spread < 0:
        parser.error("--repeats must be at least 1 and --spread at least 0")
    from fastem import kernels

    for kind, n, d, k in cases:
        X64, rest = _problem(kind, n, d, k, args.spread)
        X32 = X64.astype(np.float32)
        times = {np.float32: [], np.float64: []}
        data = {np.float32: X32, np.float64: X32.astype(np.float64)}
        for X in data.values():  # compile outside the timings
            kernels.suff_stats(X[:1000], *rest)
        for _ in range(args.repeats):
            for dtype, X in data.items():
                start = time.perf_counter()
                kernels.suff_stats(X, *rest)
                times[dtype].append(time.perf_counter() - start)
        single = statistics.median(times[np.float32])
        double = statistics.median(times[np.float64])
        print(
            f"{kind:9s} n={n:.0e} d={d:3d} k={k:3d} spread={args.spread:g}: "
            f"float32 {single * 1e3:8.2f} ms, float64 {double * 1e3:8.2f} ms, "
            f"float64 / float32 {double / single:.3f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
