"""The kernel layer: one pass over the data, arrays in, statistics out.

These functions are what the estimators run each EM iteration, exposed so that
other tools (a distributed driver, a streaming fit, a different M-step) can use
fastem's compiled passes directly. They check shapes and dtypes but not the data
itself: pass finite float32/float64 arrays (the estimators check data for you).

Parameters follow scikit-learn's conventions: ``precisions_cholesky`` is
``GaussianMixture.precisions_cholesky_`` (upper-triangular factors ``U`` with
precision ``U U^T``; shapes (k, d, d) 'full', (d, d) 'tied', (k, d) 'diag', (k,)
'spherical').

Examples
--------
>>> import numpy as np
>>> from fastem.kernels import suff_stats
>>> X = np.array([[0.0, 0.0], [1.0, 1.0], [10.0, 10.0], [11.0, 11.0]])
>>> means = np.array([[0.5, 0.5], [10.5, 10.5]])
>>> stats = suff_stats(X, means, np.ones((2, 2)), np.array([0.5, 0.5]), "diag")
>>> stats.nk.round(6)
array([2., 2.])
>>> stats.sum_dev.round(6)
array([[0., 0.],
       [0., 0.]])
>>> stats.scatter.round(6)
array([[0.5, 0.5],
       [0.5, 0.5]])
"""

import math
from typing import NamedTuple

import numpy as np

from .._config import parallel_region
from .._kernels._reduce import merge, n_chunks_for
from .._kernels.diag import log_resp_diag, suff_stats_diag
from .._kernels.full import log_resp_full, suff_stats_full
from .._kernels.tied import log_resp_tied, suff_stats_tied
from ._lloyd import lloyd_step

__all__ = ["SuffStats", "suff_stats", "log_resp", "log_norm", "lloyd_step"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: Rows per call of a ``log_resp`` kernel when only labels or a slab are needed.
SLAB_ROWS = 1 << 16


class SuffStats(NamedTuple):
    """Sufficient statistics of one E-step, about the current means.

    Attributes
    ----------
    nk : ndarray of shape (n_components,)
        ``sum_i w_i r_ik``.
    sum_dev : ndarray of shape (n_components, n_features)
        ``sum_i w_i r_ik (x_i - mu_k)``.
    scatter : ndarray
        ``sum_i w_i r_ik (x_i - mu_k)(x_i - mu_k)^T``: shape (k, d, d) for 'full';
        summed over components, (d, d), for 'tied'; its diagonal, (k, d), for
        'diag' and 'spherical'.
    log_likelihood : float
        ``sum_i w_i log p(x_i)``.
    """

    nk: np.ndarray
    sum_dev: np.ndarray
    scatter: np.ndarray
    log_likelihood: float


def _as_f64(array):
    return np.ascontiguousarray(array, dtype=np.float64)


def _check_X(X):
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ValueError(
            "X must be a 2-D NumPy array of shape (n_samples, n_features)."
        )
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    return np.ascontiguousarray(X)


def log_norm(precisions_cholesky, weights, covariance_type, n_features):
    """``log pi_k + log det U_k - d/2 log(2 pi)`` for each component.

    Parameters
    ----------
    precisions_cholesky : ndarray
        As ``GaussianMixture.precisions_cholesky_``.
    weights : ndarray of shape (n_components,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_features : int

    Returns
    -------
    ndarray of shape (n_components,)
    """
    chol = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type == "full":
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    elif covariance_type == "tied":
        log_det = np.log(np.diag(chol)).sum()
    elif covariance_type == "diag":
        log_det = np.log(chol).sum(axis=1)
    else:
        log_det = n_features * np.log(chol)
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(weights, dtype=np.float64))
    return log_weights + log_det - 0.5 * n_features * math.log(2 * math.pi)


def _lower_to_symmetric(lower):
    """Fill the upper triangle of the last two axes from the lower one."""
    tril = np.tril(lower)
    return tril + np.swapaxes(np.tril(lower, -1), -1, -2)


def _stats_full(X, sw, means, chol, norm):
    k, d = means.shape
    n_chunks = n_chunks_for(X.shape[0], k * d * d + k * d + k)
    with parallel_region():
        nk, s1, s2, ll = suff_stats_full(X, sw, means, chol, norm, n_chunks)
    return SuffStats(merge(nk), merge(s1), _lower_to_symmetric(merge(s2)), ll.sum())


def _tied_geometry(means, chol):
    center = means.mean(axis=0)
    means_c = np.ascontiguousarray(means - center)
    proj = np.ascontiguousarray(means_c @ chol)
    return center, means_c, proj


def _stats_tied(X, sw, means, chol, norm):
    k, d = means.shape
    center, means_c, proj = _tied_geometry(means, chol)
    n_chunks = n_chunks_for(X.shape[0], d * d + k * k + k * d + k)
    with parallel_region():
        nk, s1, within, between, ll = suff_stats_tied(
            X, sw, means_c, center, chol, proj, norm, n_chunks
        )
    within = _lower_to_symmetric(merge(within))
    between = _lower_to_symmetric(merge(between))
    scatter = within + means_c.T @ between @ means_c
    return SuffStats(merge(nk), merge(s1), 0.5 * (scatter + scatter.T), ll.sum())


def _stats_diag(X, sw, means, chol, norm):
    k, d = means.shape
    n_chunks = n_chunks_for(X.shape[0], 2 * k * d + k)
    with parallel_region():
        nk, s1, s2, ll = suff_stats_diag(X, sw, means, chol, norm, n_chunks)
    return SuffStats(merge(nk), merge(s1), merge(s2), ll.sum())


def _spherical_as_diag(chol, n_features):
    return np.ascontiguousarray(np.repeat(chol[:, None], n_features, axis=1))


_STATS = {
    "full": _stats_full,
    "tied": _stats_tied,
    "diag": _stats_diag,
    "spherical": lambda X, sw, means, chol, norm: _stats_diag(
        X, sw, means, _spherical_as_diag(chol, means.shape[1]), norm
    ),
}


def _check_parameters(X, means, precisions_cholesky, weights, covariance_type):
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, "
            f"got {covariance_type!r}."
        )
    means = _as_f64(means)
    chol = _as_f64(precisions_cholesky)
    weights = _as_f64(weights)
    n_features = X.shape[1]
    if means.ndim != 2 or means.shape[1] != n_features:
        raise ValueError(
            f"means must have shape (n_components, {n_features}), got {means.shape}."
        )
    k = means.shape[0]
    expected = {
        "full": (k, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (k, n_features),
        "spherical": (k,),
    }[covariance_type]
    if chol.shape != expected:
        raise ValueError(
            f"precisions_cholesky for covariance_type={covariance_type!r} must have "
            f"shape {expected}, got {chol.shape}."
        )
    if weights.shape != (k,):
        raise ValueError(f"weights must have shape ({k},), got {weights.shape}.")
    return means, chol, weights


def suff_stats(
    X, means, precisions_cholesky, weights, covariance_type, sample_weight=None
):
    """Run one fused E-step and return the sufficient statistics.

    One parallel pass over ``X`` computes every component's log-density, the
    log-sum-exp, the responsibilities and their weighted sums; nothing of size
    n_samples x n_components is allocated. The result does not depend on the
    number of threads.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        The data (float32 is read as float32 and accumulated in float64).
    means : ndarray of shape (n_components, n_features)
    precisions_cholesky : ndarray
        As ``GaussianMixture.precisions_cholesky_``.
    weights : ndarray of shape (n_components,)
        Mixture weights.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative row weights; None for unit weights.

    Returns
    -------
    SuffStats
        ``nk``, ``sum_dev``, ``scatter`` (about ``means``) and the weighted
        ``log_likelihood`` sum.
    """
    X = _check_X(X)
    means, chol, weights = _check_parameters(
        X, means, precisions_cholesky, weights, covariance_type
    )
    sw = np.empty(0) if sample_weight is None else _as_f64(sample_weight)
    if sw.shape not in ((0,), (X.shape[0],)):
        raise ValueError(
            f"sample_weight must have shape ({X.shape[0]},), got {sw.shape}."
        )
    norm = log_norm(chol, weights, covariance_type, X.shape[1])
    return _STATS[covariance_type](X, sw, means, chol, norm)


def _log_resp_full(X, means, chol, norm, n_chunks, resp, lse):
    log_resp_full(X, means, chol, norm, n_chunks, resp, lse)


def _log_resp_tied(X, means, chol, norm, n_chunks, resp, lse):
    center, _, proj = _tied_geometry(means, chol)
    log_resp_tied(X, center, chol, proj, norm, n_chunks, resp, lse)


def _log_resp_diag(X, means, chol, norm, n_chunks, resp, lse):
    log_resp_diag(X, means, chol, norm, n_chunks, resp, lse)


def _log_resp_spherical(X, means, chol, norm, n_chunks, resp, lse):
    chol = _spherical_as_diag(chol, means.shape[1])
    log_resp_diag(X, means, chol, norm, n_chunks, resp, lse)


_LOG_RESP = {
    "full": _log_resp_full,
    "tied": _log_resp_tied,
    "diag": _log_resp_diag,
    "spherical": _log_resp_spherical,
}


def log_resp(
    X, means, precisions_cholesky, weights, covariance_type, *, return_resp=True
):
    """Per-row log-likelihood and responsibilities in one compiled pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    means, precisions_cholesky, weights, covariance_type
        As in :func:`suff_stats`.
    return_resp : bool, default=True
        Also return the (n_samples, n_components) responsibilities.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_samples,)
        ``log p(x_i)``, float64.
    resp : ndarray of shape (n_samples, n_components) or None
        Responsibilities, float64, or None when ``return_resp`` is false.
    """
    X = _check_X(X)
    means, chol, weights = _check_parameters(
        X, means, precisions_cholesky, weights, covariance_type
    )
    n_samples = X.shape[0]
    k = means.shape[0]
    norm = log_norm(chol, weights, covariance_type, X.shape[1])
    lse = np.empty(n_samples)
    resp = np.empty((n_samples if return_resp else 0, k))
    n_chunks = n_chunks_for(n_samples, 1)
    with parallel_region():
        _LOG_RESP[covariance_type](X, means, chol, norm, n_chunks, resp, lse)
    return lse, (resp if return_resp else None)


def labels(X, means, precisions_cholesky, weights, covariance_type):
    """Most likely component of each row, computed slab by slab.

    Memory stays O(``SLAB_ROWS`` x n_components) whatever the number of rows.

    Parameters
    ----------
    X, means, precisions_cholesky, weights, covariance_type
        As in :func:`log_resp`.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    out = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], SLAB_ROWS):
        slab = X[start : start + SLAB_ROWS]
        _, resp = log_resp(slab, means, precisions_cholesky, weights, covariance_type)
        out[start : start + slab.shape[0]] = resp.argmax(axis=1)
    return out
