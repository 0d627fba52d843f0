"""Import plus first fit in a fresh process: fastem's compile cost.

fastem with numba's on-disk cache cold (``NUMBA_CACHE_DIR`` set to a new empty
folder) and warm (the same folder after one run); scikit-learn's import plus
first fit for comparison (it has no compile cache, so only ``cold`` runs). The
child process is the one ``fastem bench`` runs (``fastem/_bench/compile_time.py``).
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
