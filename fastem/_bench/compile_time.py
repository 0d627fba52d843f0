"""Import plus first fit in a fresh process: fastem's compile cost.

fastem with numba's on-disk cache cold (``NUMBA_CACHE_DIR`` set to a new empty
folder) and warm (the same folder again), next to scikit-learn's import plus first
fit. Shared with the asv suite (see the package docstring).
"""

import tempfile

from .backends import fastem_available
from .child import run_child

#: The problem of the first fit: 2,000 x 4 standard normal rows, 3 components.
_CODE = """
import json, time
import numpy as np
X = np.random.default_rng(0).standard_normal((2000, 4))
t0 = time.perf_counter()
{import_line}
t1 = time.perf_counter()
GaussianMixture(n_components=3, covariance_type={cov!r}, max_iter=2,
                random_state=0).fit(X)
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_fit": t2 - t1, "total": t2 - t0}}))
"""


def measure_compile(backend, covariance_type="full", cache_dir=None):
    """Import plus first fit of ``backend`` in a fresh process.

    Parameters
    ----------
    backend : {'fastem', 'sklearn'}
    covariance_type : str, default='full'
    cache_dir : str or path, optional
        numba's on-disk cache (``NUMBA_CACHE_DIR``): an empty folder gives the
        cold time, a folder filled by an earlier run the warm time.

    Returns
    -------
    dict
        Seconds of ``import``, ``first_fit`` and their ``total``.
    """
    name = "fastem" if backend == "fastem" else "sklearn.mixture"
    code = _CODE.format(
        import_line=f"from {name} import GaussianMixture", cov=covariance_type
    )
    env = {"NUMBA_CACHE_DIR": str(cache_dir)} if cache_dir else None
    return run_child(["-c", code], env=env)


def run_compile(repeats, covariance_type="full", log=print):
    """Cold and warm fastem compile times, and scikit-learn's import + first fit.

    Returns
    -------
    times : dict
        ``"fastem cold"``, ``"fastem warm"`` and ``"sklearn"``, each a list of
        :func:`measure_compile` results (fastem's empty when it cannot run).
    reason : str or None
        Why fastem did not run, if it did not.
    """
    out = {"fastem cold": [], "fastem warm": [], "sklearn": []}
    reason = fastem_available()
    for r in range(repeats):
        if reason is None:
            with tempfile.TemporaryDirectory(prefix="fastem-numba-cache-") as cache:
                out["fastem cold"].append(
                    measure_compile("fastem", covariance_type, cache)
                )
                out["fastem warm"].append(
                    measure_compile("fastem", covariance_type, cache)
                )
        out["sklearn"].append(measure_compile("sklearn", covariance_type))
        log(f"  compile: repeat {r + 1}/{repeats} done")
    return out, reason
