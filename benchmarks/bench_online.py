"""partial_fit throughput: rows per second of online EM against one fit iteration.

fastem only: scikit-learn's mixtures have no ``partial_fit`` (and its
``MiniBatchKMeans`` runs another algorithm). The pair on each row is the same
data through the two paths:

- ``mode='fit'``: rows per second of one EM (or Lloyd) iteration of ``fit``,
  ``n / seconds_per_iteration`` from fits with a fixed number of iterations
  (``common.seconds_per_iteration``, as ``track_seconds_per_iteration``);
- ``mode='partial_fit-<rows>'``: rows per second of one pass of ``partial_fit``
  over the same rows in batches of ``<rows>``, from a fresh model started at the
  same initial parameters (centers), the first call included; median of
  ``ITER_REPEATS`` passes.

A ``partial_fit`` step also validates its batch (one more read of it) and runs
an M-step per batch, so it is slower per row than a fit iteration, more so
for small batches; the ratio of the two rows is the price of streaming.
``setup`` generates the data and compiles the kernels (warm-up on a small slice).
Without asv, in one process: ``PYTHONPATH=. python -m benchmarks.bench_online``.
"""

import time

import numpy as np

from . import common

if common.PROFILE == "quick":
    BATCH_ROWS = [1_000, 5_000]
    ONLINE_GMM_CASES = [common.case_name(c, 20_000, 8, 4) for c in ("full", "diag")]
    ONLINE_KMEANS_CASES = ["20000x8x8"]
else:
    BATCH_ROWS = [10_000, 100_000]
    ONLINE_GMM_CASES = [
        common.case_name(c, 1_000_000, 16, 16) for c in ("full", "diag")
    ]
    ONLINE_KMEANS_CASES = ["1000000x16x64"]
MODES = ["fit"] + [f"partial_fit-{rows}" for rows in BATCH_ROWS]


def _rows_per_second_of_passes(X, make, batch_rows):
    """Median over repeats of ``n / time`` of one partial_fit pass over ``X``."""
    n = X.shape[0]
    samples = []
    for _ in range(common.ITER_REPEATS):
        model = make()
        start = time.perf_counter()
        for first in range(0, n, batch_rows):
            model.partial_fit(X[first : first + batch_rows])
        samples.append(n / (time.perf_counter() - start))
    return float(np.median(samples))


class _Online:
    number = 1
    warmup_time = 0.0
    timeout = 1800.0
    repeat = (1, 1, 600.0)
    rounds = 1

    def teardown(self, *params):
        if hasattr(self, "_threads"):
            self._threads.restore()

    def track_rows_per_second(self, case, mode):
        if mode == "fit":
            return self.X.shape[0] / common.seconds_per_iteration(self._fit)
        rows = int(mode.split("-")[1])
        return _rows_per_second_of_passes(self.X, self._make, rows)

    track_rows_per_second.unit = "rows per second"


class GaussianMixturePartialFit(_Online):
    """GaussianMixture: partial_fit passes against fit iterations."""

    params = (ONLINE_GMM_CASES, MODES)
    param_names = ["case", "mode"]

    def setup(self, case, mode):
        common.require("fastem")
        self.covariance_type, n, d, k = common.parse_case(case)
        self.X = common.blobs(n, d, k)
        self.init = common.initial_parameters(self.X, k, self.covariance_type)
        self._threads = common.Threads("fastem", common.N_CPU)
        small = self.X[:4096]
        self._fit(2, small)
        self._make().partial_fit(small[:2048]).partial_fit(small[2048:])

    def _make(self):
        return common.backends.make_gmm(
            "fastem", self.covariance_type, self.init, max_iter=1
        )

    def _fit(self, max_iter, X=None):
        X = self.X if X is None else X
        return common.fit_gmm("fastem", self.covariance_type, X, self.init, max_iter)


class KMeansPartialFit(_Online):
    """KMeans: partial_fit passes against Lloyd iterations of fit."""

    params = (ONLINE_KMEANS_CASES, MODES)
    param_names = ["case", "mode"]

    def setup(self, case, mode):
        common.require("fastem", "KMeans")
        n, d, k = (int(v) for v in case.split("x"))
        self.X = common.blobs(n, d, k)
        self.centers = common.initial_centers(self.X, k)
        self._threads = common.Threads("fastem", common.N_CPU)
        small = self.X[:4096]
        common.fit_kmeans("fastem", small, self.centers, 2)
        self._make().partial_fit(small[:2048]).partial_fit(small[2048:])

    def _make(self):
        from fastem import KMeans

        return KMeans(self.centers.shape[0], init=self.centers, n_init=1)

    def _fit(self, max_iter):
        return common.fit_kmeans("fastem", self.X, self.centers, max_iter)


def main():
    """Print every ``track_rows_per_second`` of this file, one process, no asv.

    ``PYTHONPATH=. python -m benchmarks.bench_online [ClassName ...]``, with
    ``FASTEM_BENCH_PROFILE`` choosing the sizes as for asv.
    """
    import sys

    names = sys.argv[1:] or ["GaussianMixturePartialFit", "KMeansPartialFit"]
    for name in names:
        cls = globals()[name]
        for case in cls.params[0]:
            for mode in cls.params[1]:
                bench = cls()
                bench.setup(case, mode)
                try:
                    value = bench.track_rows_per_second(case, mode)
                finally:
                    bench.teardown(case, mode)
                print(f"{name}  {case}  {mode:>20}  {value:>14,.0f} rows/s", flush=True)


if __name__ == "__main__":
    main()
