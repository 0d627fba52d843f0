"""KMeans: fastem against scikit-learn, and faiss-cpu where it imports.

Same initial centers (``init=<array>``), ``n_init=1``, ``tol=0`` and a fixed
``max_iter`` for every backend; faiss runs on every row (no subsampling) and only
on float32 data, which is all it supports. ``KMeansConverged`` times whole fits
to scikit-learn's default tolerance instead (faiss has no tolerance): fastem's
iterations get cheaper as the centers settle, scikit-learn's do not.
"""

from . import common

BACKENDS = ["fastem", "sklearn", "faiss"]


class _KMeansCase:
    """Data, start and thread setting of one (backend, case, dtype); no benchmarks."""

    def setup(self, backend, case, dtype):
        common.require(backend, "KMeans")
        if backend == "faiss" and dtype != "float32":
            raise NotImplementedError("faiss k-means is float32-only")
        n, d, k = (int(v) for v in case.split("x"))
        self.backend = backend
        self.X = common.blobs(n, d, k, dtype)
        self.centers = common.initial_centers(self.X, k)
        self._threads = common.Threads(backend, common.N_CPU)
        common.fit_kmeans(backend, self.X[:4096], self.centers, 2)  # warm-up

    def teardown(self, *params):
        if hasattr(self, "_threads"):
            self._threads.restore()


class KMeansFit(_KMeansCase):
    """Lloyd iterations on generated blobs."""

    params = (BACKENDS, common.KMEANS_CASES, common.DTYPES)
    param_names = ["backend", "case", "dtype"]
    number = 1
    warmup_time = 0.0
    timeout = 1800.0
    repeat = (1, 5, 20.0) if common.PROFILE == "quick" else (1, 3, 60.0)
    rounds = 2 if common.PROFILE == "quick" else 1

    def _fit(self, max_iter):
        return common.fit_kmeans(self.backend, self.X, self.centers, max_iter)

    def time_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def peakmem_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def track_seconds_per_iteration(self, backend, case, dtype):
        return common.seconds_per_iteration(self._fit)

    track_seconds_per_iteration.unit = "seconds"

    def track_inertia(self, backend, case, dtype):
        centers, _ = self._fit(common.FIT_ITER)
        return common.inertia(self.X, centers)

    track_inertia.unit = "sum of squared distances"


class KMeansConverged(_KMeansCase):
    """Whole fits to convergence (``tol=1e-4``, ``max_iter=300``)."""

    params = (BACKENDS[:2], common.KMEANS_CASES, common.DTYPES)
    param_names = ["backend", "case", "dtype"]
    number = 1
    warmup_time = 0.0
    timeout = 1800.0
    repeat = (1, 3, 20.0) if common.PROFILE == "quick" else (1, 3, 120.0)

    def _fit(self):
        return common.fit_kmeans(
            self.backend,
            self.X,
            self.centers,
            common.CONVERGED_MAX_ITER,
            common.CONVERGED_TOL,
        )

    def time_fit_converged(self, backend, case, dtype):
        self._fit()

    def track_n_iter_converged(self, backend, case, dtype):
        return self._fit()[1]

    track_n_iter_converged.unit = "iterations"
