"""Small problems: fastem against scikit-learn from n=100 to n=10,000 rows.

Issue 13 ("fast at every size and from the first call"): what a user pays for
one fit of a small data set. Every row is a side-by-side pair (``backend``
parameter) for GaussianMixture's four covariance types and KMeans (``family``),
at n in {100, 1000, 10000}, d in {2, 8, 32} and k in {2, 8}; the large sizes
live in ``bench_gmm`` and ``bench_kmeans``.

- ``time_fit_default``: one whole fit with default parameters (only
  ``random_state`` fixed), initialisation included. Each backend draws its own
  start, so the two may run different numbers of iterations: ``track_n_iter``
  records them.
- ``time_em_iterations``: fixed work from the same start -- ``EM_ITER``
  iterations, ``tol=0``, ``n_init=1``, from the common initial parameters (or
  k-means centers) of the rest of the suite. Its time is for the whole fit of
  ``EM_ITER`` iterations, so it includes a fit's fixed cost (input checks, the
  final E-step), which at small n is much of what a user waits for.

Default thread settings on both backends (no thread limit is set): that is what
a user gets. Compilation stays out of the timings: ``setup`` runs each timed
call once. Absolute times on a shared machine move by 1.3-1.6x between rounds;
read ``bench_speedup`` (ratios measured in one call) first.
"""

from . import common

BACKENDS = ["fastem", "sklearn"]
N_SAMPLES = [100, 1_000, 10_000]
N_FEATURES = [2, 8, 32]
N_COMPONENTS = [2, 8]
#: Iterations of ``time_em_iterations`` (fixed work from the common start).
EM_ITER = 10


class SmallFit:
    """Default fits and fixed iterations on small generated blobs."""

    params = (BACKENDS, common.FAMILIES, N_SAMPLES, N_FEATURES, N_COMPONENTS)
    param_names = ["backend", "family", "n", "d", "k"]
    # asv: up to 5 samples or 5 s per process; 2 processes (rounds) per row.
    repeat = (1, 5, 5.0)
    # a cold numba cache (first run at a new commit) compiles in setup
    timeout = 600.0

    def setup(self, backend, family, n, d, k):
        common.require(backend, common.family_name(family))
        self.backend = backend
        self.family = family
        self.k = k
        self.X = common.blobs(n, d, k)
        self.start = common.common_start(family, self.X, k)
        # warm-up: every timed call once, so no timing includes JIT compilation
        self._fit_default()
        self._fit_fixed()

    def _fit_default(self):
        return common.fit_default(self.backend, self.family, self.X, self.k)

    def _fit_fixed(self):
        return common.fit_fixed(self.backend, self.family, self.X, self.start, EM_ITER)

    def time_fit_default(self, backend, family, n, d, k):
        self._fit_default()

    def track_n_iter(self, backend, family, n, d, k):
        return int(self._fit_default().n_iter_)

    track_n_iter.unit = "iterations"

    def time_em_iterations(self, backend, family, n, d, k):
        self._fit_fixed()
