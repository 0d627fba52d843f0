"""oneDAL's EM timed in an interpreter of its own (the child of :mod:`.onedal`).

Run by file path, ``python -I onedal_child.py FOLDER A M`` (or ``--versions``),
with a Python that imports daal4py: it need not import fastem, numba or the
scikit-learn that fastem needs. Standard library and NumPy at module level only,
daal4py inside the functions, so that the rest of fastem can import (and doctest)
this file without daal4py. Prints one JSON line; a daal4py error is printed as
``{"error": ...}`` rather than raised, so that its whole text reaches the report.

``FOLDER`` holds what :class:`~.onedal.OneDALSession` wrote: ``X.npy``,
``weights.npy`` of shape (1, k), ``means.npy`` of shape (k, d),
``covariances.npy`` of shape (k, d, d) ('full') or (k, d) ('diag'), and
``spec.json`` (``covariance_type``, ``reg_covar``, ``threads``).
"""

import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

#: daal4py's ``covarianceStorage`` of each scikit-learn ``covariance_type``.
STORAGE = {"full": "full", "diag": "diagonal"}


def versions():
    """Return the versions of daal4py, Python and NumPy in this interpreter."""
    import daal4py

    try:
        from importlib.metadata import version

        daal4py_version = version("daal4py")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        daal4py_version = ".".join(str(v) for v in daal4py._get__version__()[:3])
    return {
        "daal4py": daal4py_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def load_start(folder):
    """Return the spec and the start written in ``folder``, as daal4py takes them.

    Returns
    -------
    spec : dict
    X : ndarray of shape (n_samples, n_features)
        Read into memory (not memory-mapped), so that no timed fit pays for the
        first touch of its pages.
    start : tuple
        ``(weights, means, covariances)``: arrays of shape (1, k) and (k, d), and
        a list of k arrays of shape (d, d) ('full') or (1, d) ('diag'), all of
        ``X.dtype``.
    """
    folder = Path(folder)
    spec = json.loads((folder / "spec.json").read_text())
    X = np.ascontiguousarray(np.load(folder / "X.npy"))
    weights, means, covariances = (
        np.ascontiguousarray(np.load(folder / f"{name}.npy"), dtype=X.dtype)
        for name in ("weights", "means", "covariances")
    )
    if spec["covariance_type"] == "diag":
        covariances = covariances[:, None, :]
    return spec, X, (weights, means, [np.ascontiguousarray(c) for c in covariances])


def fit(X, start, spec, max_iter):
    """Run ``max_iter`` iterations of daal4py's ``em_gmm`` from ``start``.

    ``accuracyThreshold=0``: the smallest value daal4py accepts (it rejects
    negative ones). oneDAL stops once the log-likelihood gains no more than the
    threshold, so even at 0 a fit stops early when the log-likelihood stops
    increasing: the caller checks ``nIterations``.
    """
    import daal4py

    weights, means, covariances = start
    algorithm = daal4py.em_gmm(
        nComponents=means.shape[0],
        maxIterations=max_iter,
        accuracyThreshold=0.0,
        covarianceStorage=STORAGE[spec["covariance_type"]],
        regularizationFactor=spec["reg_covar"],
        fptype="float" if X.dtype == np.float32 else "double",
    )
    return algorithm.compute(X, weights, means, covariances)


def timed_fit(X, start, spec, max_iter):
    """Return ``(seconds, result)`` of :func:`fit`, the garbage collector held off."""
    gc.collect()
    gc.disable()
    try:
        begin = time.perf_counter()
        result = fit(X, start, spec, max_iter)
        return time.perf_counter() - begin, result
    finally:
        gc.enable()


def fit_pair(folder, a, m):
    """Fit with ``a`` then ``a + m`` iterations after a one-iteration warm-up.

    Returns
    -------
    dict
        ``seconds`` and ``n_iter`` of both fits (``[a fit, a + m fit]``), and of
        the longer fit ``log_likelihood`` (oneDAL's ``goalFunction``: the total,
        not the mean, log-likelihood) and ``means`` (a list of k lists).
    """
    import daal4py

    spec, X, start = load_start(folder)
    daal4py.daalinit(spec["threads"])
    fit(X, start, spec, 1)  # warm-up: the thread pool, dispatch, first touch
    seconds, n_iter = [], []
    for max_iter in (a, a + m):
        t, result = timed_fit(X, start, spec, max_iter)
        seconds.append(t)
        n_iter.append(int(np.asarray(result.nIterations).ravel()[0]))
    return {
        "seconds": seconds,
        "n_iter": n_iter,
        "log_likelihood": float(np.asarray(result.goalFunction).ravel()[0]),
        "means": np.asarray(result.means, dtype=np.float64).tolist(),
    }


def main(argv):
    """Print the JSON line of ``--versions`` or of ``FOLDER A M``; return 0."""
    try:
        if argv[1:] == ["--versions"]:
            out = versions()
        else:
            out = fit_pair(argv[1], int(argv[2]), int(argv[3]))
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        text = " ".join(str(exc).split())  # daal4py's errors span several lines
        out = {"error": f"{type(exc).__name__}: {text}"}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
