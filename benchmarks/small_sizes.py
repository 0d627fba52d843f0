"""Print fastem's speed-up over scikit-learn on small problems, in one run.

Per iteration (same start, ``tol=0``: (time at max_iter=1 + I - time at
max_iter=1) / I, I = ``--iterations``, 20 by default) and per whole default fit
(k-means start, default ``tol``), fastem and scikit-learn alternating, medians
of ``--repeats``; default thread settings on both sides. ``--no-fit`` skips the
whole fits (at n >= 1e5 scikit-learn's take minutes per cell).

Usage::

    python -m benchmarks.small_sizes --n 100,1000 --d 2,8,32 --k 8 \\
        --kinds full,tied,diag,spherical,kmeans
    python -m benchmarks.small_sizes --n 1000000 --iterations 2 --repeats 3 \\
        --no-fit --kinds full,tied,diag,spherical
"""

import argparse
import statistics
import time
import warnings

import numpy as np


def _median_pair(first, second, repeats):
    times = ([], [])
    for _ in range(repeats):
        for fit, out in zip((first, second), times, strict=True):
            start = time.perf_counter()
            fit()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _fits(kind, k, X):
    """Return (whole fit, fit of n iterations) pairs for fastem and sklearn."""
    import sklearn.cluster
    import sklearn.mixture

    import fastem

    if kind == "kmeans":
        centers = X[:k].copy()

        def whole(lib):
            return lambda: lib.KMeans(k, random_state=0).fit(X)

        def fixed(lib, n_iter):
            return lambda: lib.KMeans(
                k, init=centers, n_init=1, max_iter=n_iter, tol=0
            ).fit(X)

        return whole, fixed, (fastem, sklearn.cluster)
    start = fastem.GaussianMixture(
        k, covariance_type=kind, random_state=0, max_iter=2
    ).fit(X)
    params = dict(
        n_components=k,
        covariance_type=kind,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
        tol=0,
    )

    def whole(lib):
        return lambda: lib.GaussianMixture(k, covariance_type=kind, random_state=0).fit(
            X
        )

    def fixed(lib, n_iter):
        return lambda: lib.GaussianMixture(max_iter=n_iter, **params).fit(X)

    return whole, fixed, (fastem, sklearn.mixture)


def main(argv=None):
    """Print one line per (n, d, k, kind)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100,1000")
    parser.add_argument("--d", default="2,8,32")
    parser.add_argument("--k", default="8")
    parser.add_argument("--kinds", default="full,tied,diag,spherical,kmeans")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-fit", action="store_true", help="skip whole fits")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.repeats < 1:
        parser.error("--iterations and --repeats must be at least 1")
    extra = args.iterations
    warnings.simplefilter("ignore")
    for n in map(int, args.n.split(",")):
        for d in map(int, args.d.split(",")):
            for k in map(int, args.k.split(",")):
                rng = np.random.default_rng(0)
                X = rng.normal(size=(n, d)) + rng.integers(0, k, n)[:, None] * 2.0
                for kind in args.kinds.split(","):
                    whole, fixed, (ours, theirs) = _fits(kind, k, X)
                    fit = (
                        (float("nan"),) * 2
                        if args.no_fit
                        else _median_pair(whole(ours), whole(theirs), args.repeats)
                    )
                    one = _median_pair(fixed(ours, 1), fixed(theirs, 1), args.repeats)
                    many = _median_pair(
                        fixed(ours, 1 + extra), fixed(theirs, 1 + extra), args.repeats
                    )
                    it = [(b - a) / extra for a, b in zip(one, many, strict=True)]
                    print(
                        f"n={n:>7} d={d:>2} k={k:>2} {kind:>9}: fit "
                        f"{fit[0] * 1e3:8.2f} vs {fit[1] * 1e3:8.2f} ms "
                        f"({fit[1] / fit[0]:5.2f}x); per iteration "
                        f"{it[0] * 1e3:7.3f} vs {it[1] * 1e3:7.3f} ms "
                        f"({it[1] / max(it[0], 1e-9):5.2f}x)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
