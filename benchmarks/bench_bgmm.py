"""BayesianGaussianMixture: fastem against scikit-learn, side by side.

Every class has a ``backend`` parameter. BayesianGaussianMixture takes no initial
parameters, so both backends start from ``init_params='random_from_data'`` with
the same ``random_state``: the same initial responsibilities, hence the same
start; then ``tol=0``, ``n_init=1`` and a fixed ``max_iter``, so a row pair does
identical work (the fits agree to rounding, which ``track_lower_bound`` shows).
``setup`` generates the data and compiles fastem's kernels (warm-up fit on a
small slice), so no timing includes JIT compilation.
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

    def setup(self, backend, case, dtype):
        common.require(backend, "BayesianGaussianMixture")
        self.backend = backend
        self.covariance_type, n, d, self.k = common.parse_case(case)
        self.X = common.blobs(n, d, self.k, dtype)
        self._threads = common.Threads(backend, common.N_CPU)
        # warm-up: JIT compilation and first-touch costs stay out of the timings
        small = self.X[: min(n, 4096)]
        model = common.fit_bgmm(backend, self.covariance_type, small, self.k, 2)
        model.predict_proba(small)
        model.score_samples(small)

    def _fit(self, max_iter):
        return common.fit_bgmm(
            self.backend, self.covariance_type, self.X, self.k, max_iter
        )

    def teardown(self, *params):
        if hasattr(self, "_threads"):
            self._threads.restore()


class BayesianGaussianMixtureFit(_Base):
    """Fit on generated blobs at the target sizes (full and diag)."""

    params = (BACKENDS, common.BGMM_CASES, common.FIT_DTYPES)
    param_names = ["backend", "case", "dtype"]

    def time_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def peakmem_fit(self, backend, case, dtype):
        self._fit(common.FIT_ITER)

    def track_seconds_per_iteration(self, backend, case, dtype):
        return common.seconds_per_iteration(self._fit)

    track_seconds_per_iteration.unit = "seconds"

    def track_lower_bound(self, backend, case, dtype):
        # quality: a fast but wrong kernel shows up as a changed lower bound
        return common.lower_bounds(self._fit(common.FIT_ITER))[-1]

    track_lower_bound.unit = "evidence lower bound"


class BayesianGaussianMixturePredict(_Base):
    """predict_proba and score_samples of a fitted model on all rows."""

    params = (BACKENDS, common.BGMM_CASES, common.FIT_DTYPES)
    param_names = ["backend", "case", "dtype"]

    def setup(self, backend, case, dtype):
        super().setup(backend, case, dtype)
        self.model = self._fit(1)

    def time_predict_proba(self, backend, case, dtype):
        self.model.predict_proba(self.X)

    def time_score_samples(self, backend, case, dtype):
        self.model.score_samples(self.X)


class BayesianGaussianMixtureMemory(_Base):
    """Peak memory of a fit with many components (the memory target size)."""

    params = (BACKENDS, common.BGMM_MEMORY_CASES, common.DTYPES)
    param_names = ["backend", "case", "dtype"]

    def peakmem_fit(self, backend, case, dtype):
        self._fit(2)
