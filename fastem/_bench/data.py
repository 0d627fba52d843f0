"""The data and the common start of every benchmark pair.

Shared with the asv suite, which loads this file from the checkout while an older
fastem is installed: standard library, NumPy and SciPy only (see the package
docstring).
"""

from pathlib import Path

import numpy as np
from scipy import linalg

#: Seed of the generated data and of the initial parameters.
SEED = 0
#: ``reg_covar`` of every Gaussian-mixture fit (scikit-learn's default).
REG_COVAR = 1e-6


def make_blobs(n_samples, n_features, n_clusters, dtype="float64", seed=SEED):
    """Return rows drawn from Gaussian clusters of unequal spreads.

    Each cluster has its own center, drawn from N(0, 3^2), and its own standard
    deviation per axis, drawn from U(0.5, 1.5), so diagonal covariances differ
    from spherical ones. Used by ``fastem bench``, the asv suite and ``fastem
    demo``.

    The clusters are axis-aligned: each one's noise is also multiplied by a
    random orthogonal matrix, but that is applied to isotropic noise *before*
    the scaling, so it changes the rows and not their distribution (the
    covariance is ``diag(scale**2)``). It is kept so that the data, and every
    result measured on it, stay the same as in earlier runs.

    Parameters
    ----------
    n_samples, n_features, n_clusters : int
        Number of rows, columns and clusters.
    dtype : str or numpy.dtype, default="float64"
        dtype of the result.
    seed : int, default=SEED
        Seed of :func:`numpy.random.default_rng`; the result is deterministic.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        C-contiguous, of ``dtype``; cluster labels are drawn uniformly.

    Examples
    --------
    >>> X = make_blobs(1000, 2, 3, dtype="float32")
    >>> X.shape, X.dtype.name
    ((1000, 2), 'float32')
    >>> bool((make_blobs(1000, 2, 3) == make_blobs(1000, 2, 3)).all())
    True
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_clusters, n_features))
    transforms = []
    for _ in range(n_clusters):
        q, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
        transforms.append(q * rng.uniform(0.5, 1.5, size=n_features))
    labels = rng.integers(0, n_clusters, size=n_samples)
    X = rng.standard_normal((n_samples, n_features))
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_clusters + 1))
    for j in range(n_clusters):
        rows = order[bounds[j] : bounds[j + 1]]
        X[rows] = X[rows] @ transforms[j] + centers[j]
    return np.ascontiguousarray(X, dtype=dtype)


def load_dataset(folder, name, dtype="float64"):
    """Return the rows of ``<folder>/<name>.npz`` (key ``x``), C-contiguous.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(folder) / f"{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"real dataset {path} not found")
    with np.load(path) as f:
        return np.ascontiguousarray(f["x"], dtype=dtype)


def _precisions_cholesky(covariances, covariance_type):
    """Cholesky factors of the precisions, as ``precisions_cholesky_``.

    The same arithmetic as scikit-learn's ``_compute_precision_cholesky`` (SciPy's
    Cholesky factor, then a triangular solve), without its private API.
    """
    if covariance_type in ("full", "tied"):
        d = covariances.shape[-1]

        def factor(cov):
            chol = linalg.cholesky(cov, lower=True)
            return linalg.solve_triangular(chol, np.eye(d), lower=True).T

        if covariance_type == "tied":
            return factor(covariances)
        return np.array([factor(cov) for cov in covariances])
    return 1.0 / np.sqrt(covariances)


def initial_parameters(X, n_components, covariance_type, seed=SEED):
    """Return the same initial parameters for both backends.

    Means are ``n_components`` distinct rows picked at random (as scikit-learn's
    ``random_from_data``); every component starts with the covariance of the whole
    data (estimated on at most 100,000 rows, plus ``REG_COVAR``) and equal weight.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    seed : int, default=SEED

    Returns
    -------
    init : dict
        ``weights_init``, ``means_init``, ``precisions_init`` (the constructor
        arguments) and ``precisions_cholesky`` (scikit-learn's layout), all of
        ``X.dtype``.
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    k = n_components
    means = X[rng.choice(n, size=k, replace=False)].astype(np.float64)
    sub = X[rng.choice(n, size=min(n, 100_000), replace=False)].astype(np.float64)
    cov = np.atleast_2d(np.cov(sub, rowvar=False)) + REG_COVAR * np.eye(d)
    covariances = {
        "full": np.repeat(cov[None], k, axis=0),
        "tied": cov,
        "diag": np.repeat(np.diag(cov)[None], k, axis=0),
        "spherical": np.full(k, np.diag(cov).mean()),
    }[covariance_type]
    prec_chol = _precisions_cholesky(covariances, covariance_type)
    if covariance_type == "full":
        precisions = np.einsum("kij,klj->kil", prec_chol, prec_chol)
    elif covariance_type == "tied":
        precisions = prec_chol @ prec_chol.T
    else:
        precisions = prec_chol**2
    dtype = X.dtype
    return {
        "weights_init": np.full(k, 1.0 / k, dtype=dtype),
        "means_init": means.astype(dtype),
        "precisions_init": precisions.astype(dtype),
        "precisions_cholesky": prec_chol.astype(dtype),
    }


def initial_centers(X, n_clusters, seed=SEED):
    """Return ``n_clusters`` distinct rows of ``X`` picked at random (k-means init).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        C-contiguous, of ``X.dtype``.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(X.shape[0], size=n_clusters, replace=False)
    return np.ascontiguousarray(X[rows])


def inertia(X, centers, chunk=65536):
    """Return the sum of squared distances to the nearest center, in float64.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    >>> float(inertia(X, np.array([[0.5, 0.0], [10.0, 0.0]])))
    0.5
    """
    c = centers.astype(np.float64)
    cc = np.einsum("ij,ij->i", c, c)
    total = 0.0
    for start in range(0, X.shape[0], chunk):
        x = X[start : start + chunk].astype(np.float64)
        dist = np.einsum("ij,ij->i", x, x)[:, None] - 2.0 * x @ c.T + cc
        total += np.maximum(dist.min(axis=1), 0.0).sum()
    return total
