"""Import plus first fit in a fresh process: fastem's compile cost, per family.

fastem with numba's on-disk cache cold (``NUMBA_CACHE_DIR`` set to a new empty
folder) and warm (the same folder after one run); scikit-learn's import plus
first fit for comparison (it has no compile cache, so only ``cold`` runs).
``CompileTime``: GaussianMixture, one row per covariance type (the child process
``fastem bench`` runs, ``fastem/_bench/compile_time.py``); ``KMeansCompileTime``:
KMeans with default parameters. Slow: a cold row is tens of seconds on 2 cores.
"""

import shutil
import tempfile

from . import common


class CompileTime:
    params = (["fastem", "sklearn"], ["cold", "warm"], common.COVARIANCE_TYPES)
    param_names = ["backend", "cache", "covariance_type"]
    timeout = 1800.0
    rounds = 1
    repeat = 1

    def setup(self, backend, cache, covariance_type):
        common.require(backend)
        if backend == "sklearn" and cache == "warm":
            raise NotImplementedError("scikit-learn has no compile cache")
        if common.PROFILE == "quick" and covariance_type != "full":
            raise NotImplementedError("quick profile: full only")
        self.backend = backend
        self.covariance_type = covariance_type
        self.cache_dir = tempfile.mkdtemp(prefix="fastem-asv-numba-cache-")
        if cache == "warm":
            self._run()  # fills the cache

    def teardown(self, backend, cache, covariance_type):
        if hasattr(self, "cache_dir"):
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def _run(self):
        times = common.compile_time.measure_compile(
            self.backend, self.covariance_type, self.cache_dir
        )
        return times["total"]

    def track_import_and_first_fit(self, backend, cache, covariance_type):
        return self._run()

    track_import_and_first_fit.unit = "seconds"


#: The first KMeans fit of a fresh process, with default parameters (k-means++,
#: ``n_init='auto'``) on the 2,000 x 4 standard normal rows of ``CompileTime``.
_KMEANS_CODE = """
import json, time
import numpy as np
X = np.random.default_rng(0).standard_normal((2000, 4))
t0 = time.perf_counter()
from {module} import KMeans
t1 = time.perf_counter()
KMeans(n_clusters=3, random_state=0).fit(X)
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_fit": t2 - t1, "total": t2 - t0}}))
"""


class KMeansCompileTime:
    """Import plus first default KMeans fit in a fresh process (slow rows).

    The fifth family next to ``CompileTime``'s four covariance types: fastem with
    numba's cache cold (a new empty ``NUMBA_CACHE_DIR``) and warm, scikit-learn
    cold. A cold row compiles every k-means kernel: tens of seconds on 2 cores.
    """

    params = (["fastem", "sklearn"], ["cold", "warm"])
    param_names = ["backend", "cache"]
    timeout = 1800.0
    rounds = 1
    repeat = 1

    def setup(self, backend, cache):
        common.require(backend, "KMeans")
        if backend == "sklearn" and cache == "warm":
            raise NotImplementedError("scikit-learn has no compile cache")
        self.backend = backend
        self.cache_dir = tempfile.mkdtemp(prefix="fastem-asv-numba-cache-")
        if cache == "warm":
            self._run()  # fills the cache

    def teardown(self, backend, cache):
        if hasattr(self, "cache_dir"):
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def _run(self):
        module = "fastem" if self.backend == "fastem" else "sklearn.cluster"
        env = {"NUMBA_CACHE_DIR": self.cache_dir}
        child = common.load_protocol("child")
        times = child.run_child(["-c", _KMEANS_CODE.format(module=module)], env=env)
        return times["total"]

    def track_import_and_first_fit(self, backend, cache):
        return self._run()

    track_import_and_first_fit.unit = "seconds"
