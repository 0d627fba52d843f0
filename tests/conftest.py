"""Shared fixtures for the Gaussian-mixture and kernel tests.

``make_data`` and ``make_params`` are factories (fixtures returning a function),
so a test can ask for several datasets or parameter sets of any shape.
"""

from pathlib import Path

import naive
import numpy as np
import pytest
from synthetic import blobs as _blobs

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = (np.float64, np.float32)
#: ``/work/shared/data`` seen from ``tests/conftest.py`` in the repository.
DATA_DIR = Path(__file__).parents[2] / "shared" / "data"


def _params(n_components, n_features, covariance_type, seed=0, X=None, scale=1.0):
    """Random, well-conditioned mixture parameters (float64).

    Means are perturbed data rows when ``X`` is given; covariances have
    variances around ``scale**2``.

    Returns
    -------
    dict
        ``weights``, ``means``, ``covariances``, ``precisions_cholesky`` and
        ``precisions`` (the shape ``precisions_init`` takes).
    """
    rng = np.random.default_rng(seed)
    k, d = n_components, n_features
    weights = rng.uniform(0.5, 1.5, k)
    weights /= weights.sum()
    if X is None:
        means = rng.normal(0.0, 3.0 * scale, (k, d))
    else:
        rows = rng.choice(X.shape[0], k, replace=X.shape[0] < k)
        means = np.asarray(X[rows], np.float64) + rng.normal(0, 0.1 * scale, (k, d))

    def spd():
        a = rng.normal(0.0, scale, (d, d))
        return a @ a.T / d + scale**2 * np.eye(d)

    if covariance_type == "full":
        covariances = np.array([spd() for _ in range(k)])
    elif covariance_type == "tied":
        covariances = spd()
    elif covariance_type == "diag":
        covariances = rng.uniform(0.5, 2.0, (k, d)) * scale**2
    else:
        covariances = rng.uniform(0.5, 2.0, k) * scale**2
    prec_chol = naive.precisions_cholesky(covariances, covariance_type)
    if covariance_type == "full":
        precisions = prec_chol @ np.swapaxes(prec_chol, 1, 2)
    elif covariance_type == "tied":
        precisions = prec_chol @ prec_chol.T
    else:
        precisions = prec_chol**2
    return {
        "weights": weights,
        "means": means,
        "covariances": covariances,
        "precisions_cholesky": prec_chol,
        "precisions": precisions,
    }


def _init_kwargs(params):
    """Estimator keywords that start a fit exactly at ``params``."""
    return {
        "weights_init": params["weights"],
        "means_init": params["means"],
        "precisions_init": params["precisions"],
    }


@pytest.fixture(params=COVARIANCE_TYPES)
def covariance_type(request):
    """Each of the four covariance families."""
    return request.param


@pytest.fixture(params=DTYPES, ids=["float64", "float32"])
def dtype(request):
    """float64 and float32 data."""
    return request.param


@pytest.fixture
def make_data():
    """Factory of blob datasets: ``make_data(n_samples, n_features, ...)``."""
    return _blobs


@pytest.fixture
def make_params():
    """Factory of mixture parameters: ``make_params(k, d, covariance_type)``."""
    return _params


@pytest.fixture
def init_kwargs():
    """``init_kwargs(params)``: weights/means/precisions_init of a param set."""
    return _init_kwargs


@pytest.fixture(scope="session")
def blobs():
    """A small float64 dataset: 300 rows, 3 features, 3 overlapping blobs."""
    return _blobs()


@pytest.fixture(scope="session")
def cover():
    """The Covertype data (int16 on disk) as float64; skipped when absent."""
    path = DATA_DIR / "cover.npz"
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing")
    with np.load(path) as data:
        return data["x"].astype(np.float64)


@pytest.fixture
def always_parallel(monkeypatch):
    """Kernels use every Numba thread whatever their size (no serial path).

    For tests of thread-count independence on small data, which would
    otherwise run on one thread at any thread count (``SERIAL_WORK``).
    """
    from fastem import _config

    monkeypatch.setattr(_config, "SERIAL_WORK", 0)
