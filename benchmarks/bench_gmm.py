"""GaussianMixture: fastem against scikit-learn, side by side.

Every class has a ``backend`` parameter; both backends start from the same
parameters with ``tol=0``, ``n_init=1`` and a fixed ``max_iter``, so a row pair
does identical work. ``setup`` generates the data and compiles fastem's kernels
(warm-up fit on a small slice), so no timing includes JIT compilation.
"""

from . import common

BACKENDS = ["fastem", "sklearn"]


class _Base:
    number = 1
    warmup_time = 0.0
    timeout = 1800.0
    # asv: (min repeats, max repeats, max seconds); one round per process
    repeat = (1, 5, 20.0) if common.PROFILE == "quick" else (1, 3, 60.0)
    rounds = 2 if common.PROFILE == "quick" else 1
    threads = common.N_CPU

    def _prepare(self, backend, covariance_type, X, k):
        common.require(backend)
        self.backend = backend
        self.covariance_type = covariance_type
        self.X = X
        self.init = common.initial_parameters(X, k, covariance_type)
        self._threads = common.Threads(backend, self.threads)
        # warm-up: JIT compilation and first-touch costs stay out of the timings
        small = X[: min(X.shape[0], 4096)]
        model = common.fit_gmm(backend, covariance_type, small, self.init, 2)
        model.predict_proba(small)
        model.score_samples(small)

    def _fit(self, max_iter):
        return common.fit_gmm(
            self.backend, self.covariance_type, self.X, self.init, max_iter
        )

    def teardown(self, *params):
        if hasattr(self, "_threads"):
            self._threads.restore()


class GaussianMixtureFit(_Base):
    """Fit on generated blobs, every covariance type and target size."""

    params = (BACKENDS, common.GMM_CASES, common.FIT_DTYPES)
    param_names = ["backend", "case", "dtype"]

    def setup(self, backend, case, dtype):
        covariance_type, n, d, k = common.parse_case(case)
        self._prepare(backend, covariance_type, common.blobs(n, d, k, dtype), k)

    def time_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def peakmem_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def track_seconds_per_iteration(self, backend, case, dtype):
        return common.seconds_per_iteration(self._fit)

    track_seconds_per_iteration.unit = "seconds"

    def track_lower_bound(self, backend, case, dtype):
        # quality: a fast but wrong kernel shows up as a changed lower bound
        return float(self._fit(common.FIT_ITER).lower_bound_)

    track_lower_bound.unit = "mean log-likelihood per sample"


class GaussianMixturePredict(_Base):
    """predict_proba and score_samples of a fitted model on all rows."""

    params = (BACKENDS, common.GMM_CASES, common.FIT_DTYPES)
    param_names = ["backend", "case", "dtype"]

    def setup(self, backend, case, dtype):
        covariance_type, n, d, k = common.parse_case(case)
        self._prepare(backend, covariance_type, common.blobs(n, d, k, dtype), k)
        self.model = self._fit(1)

    def time_predict_proba(self, backend, case, dtype):
        self.model.predict_proba(self.X)

    def time_score_samples(self, backend, case, dtype):
        self.model.score_samples(self.X)


class GaussianMixtureMemory(_Base):
    """Peak memory of a fit with many components (the memory target size)."""

    params = (BACKENDS, common.MEMORY_CASES, common.DTYPES)
    param_names = ["backend", "case", "dtype"]

    def setup(self, backend, case, dtype):
        covariance_type, n, d, k = common.parse_case(case)
        self._prepare(backend, covariance_type, common.blobs(n, d, k, dtype), k)

    def peakmem_fit(self, backend, case, dtype):
        self._fit(2)


class FusedEStep(_Base):
    """One E-step plus sufficient statistics, one per covariance family.

    fastem: ``fastem.kernels.suff_stats``; scikit-learn: ``_estimate_log_prob_resp``
    followed by ``_estimate_gaussian_parameters`` (the O(n) part of its EM step).
    """

    params = (BACKENDS, common.COVARIANCE_TYPES, common.DTYPES)
    param_names = ["backend", "covariance_type", "dtype"]

    def setup(self, backend, covariance_type, dtype):
        n, d, k = common.ESTEP_SIZE
        common.require(backend, "kernels.suff_stats")
        self.backend = backend
        self.covariance_type = covariance_type
        self.X = common.blobs(n, d, k, dtype)
        self.init = common.initial_parameters(self.X, k, covariance_type)
        self.sk_model = common.sklearn_estep_model(covariance_type, self.init)
        self._threads = common.Threads(backend, self.threads)
        self._estep(self.X[:4096])  # warm-up

    def _estep(self, X):
        return common.estep(
            self.backend, self.covariance_type, X, self.init, self.sk_model
        )

    def time_estep(self, backend, covariance_type, dtype):
        self._estep(self.X)


class GaussianMixtureThreads(_Base):
    """Fit and per-iteration time on 1 and 2 threads (numba / BLAS+OpenMP)."""

    params = (BACKENDS, [1, 2], common.SOME_COVARIANCE_TYPES)
    param_names = ["backend", "threads", "covariance_type"]

    def setup(self, backend, threads, covariance_type):
        n, d, k = common.THREADS_SIZE
        if threads > common.N_CPU:
            raise NotImplementedError(f"only {common.N_CPU} CPU(s)")
        self.threads = threads
        self._prepare(backend, covariance_type, common.blobs(n, d, k), k)

    def time_fit(self, backend, threads, covariance_type):
        self._fit(common.FIT_ITER)

    def track_seconds_per_iteration(self, backend, threads, covariance_type):
        return common.seconds_per_iteration(self._fit)

    track_seconds_per_iteration.unit = "seconds"


class RealData(_Base):
    """Fit on the real datasets (skipped when ../shared/data is absent)."""

    params = (BACKENDS, ["cover", "http", "shuttle"], common.SOME_COVARIANCE_TYPES)
    param_names = ["backend", "dataset", "covariance_type"]
    k = 8

    def setup(self, backend, dataset, covariance_type):
        X = common.real_data(dataset)
        if common.PROFILE == "quick":
            X = X[:20_000].copy()
        self._prepare(backend, covariance_type, X, self.k)

    def time_fit(self, backend, dataset, covariance_type):
        self._fit(common.FIT_ITER)

    def track_lower_bound(self, backend, dataset, covariance_type):
        return float(self._fit(common.FIT_ITER).lower_bound_)

    track_lower_bound.unit = "mean log-likelihood per sample"
