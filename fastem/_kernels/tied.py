"""Fused one-pass kernels for a tied (shared) full covariance.

All components share one upper-triangular precision Cholesky factor ``U``. With
``c`` a reference point (the caller passes the mean of the component means) and
``y = (x - c) U``, ``proj[k] = (mu_k - c) U``:

    log N(x | k) = log det U - d/2 log(2 pi) - 1/2 ||y - proj[k]||^2,

so the triangular product is done once per row, not once per component.

The scatter about the current means is accumulated without a per-component outer
product, using for each row (``r`` its responsibilities, ``m = sum_k r_k mu_k``)

    sum_k r_k (x - mu_k)(x - mu_k)^T = (x - m)(x - m)^T + M^T (diag(r) - r r^T) M

where ``M`` stacks the centred means. The kernel sums ``w (x - m)(x - m)^T``
(``d x d``) and ``w (diag(r) - r r^T)`` (``k x k``); both are sums of positive
semi-definite terms (no cancellation between rows), and the second has zero row
sums, so the result does not depend on where the means are centred.
"""

import numpy as np
from numba import prange

from .._config import jit
from ._block import BLOCK, centre_block, load_block, log_sum_exp_block, store_block
from ._reduce import chunk_bounds


@jit
def _project(xt, center, chol, xc, y):
    """``xc = xt - center`` and ``y[j, b] = sum_{i <= j} chol[i, j] xc[i, b]``."""
    n_features, n_rows = xt.shape
    centre_block(xt, center, xc)
    for j in range(n_features):
        for b in range(n_rows):
            y[j, b] = 0.0
        for i in range(j + 1):
            c = chol[i, j]
            for b in range(n_rows):
                y[j, b] += c * xc[i, b]


@jit
def _log_density_block(y, proj, log_norm, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||y[:, b] - proj[k]||^2``."""
    n_features, n_rows = y.shape
    n_components = proj.shape[0]
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
        for j in range(n_features):
            p = proj[k, j]
            for b in range(n_rows):
                t = y[j, b] - p
                logp[k, b] += t * t
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


@jit(parallel=True)
def suff_stats_tied(
    X, sample_weight, means_c, center, prec_chol, proj, log_norm, n_chunks
):
    """One E-step plus sufficient statistics, per chunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Length 0 means unit weights.
    means_c : ndarray of shape (n_components, n_features)
        The means minus ``center``.
    center : ndarray of shape (n_features,)
        Reference point.
    prec_chol : ndarray of shape (n_features, n_features)
        Shared upper-triangular precision Cholesky factor.
    proj : ndarray of shape (n_components, n_features)
        ``means_c @ prec_chol``.
    log_norm : ndarray of shape (n_components,)
        ``log pi_k + log det U - d/2 log(2 pi)``.
    n_chunks : int

    Returns
    -------
    nk : ndarray of shape (n_chunks, n_components)
    s1 : ndarray of shape (n_chunks, n_components, n_features)
        ``sum_i r_ik (x_i - mu_k)``.
    within : ndarray of shape (n_chunks, n_features, n_features)
        ``sum_i w_i (x_i - m_i)(x_i - m_i)^T``, lower triangle.
    between : ndarray of shape (n_chunks, n_components, n_components)
        ``sum_i w_i (diag(r_i) - r_i r_i^T)``, lower triangle.
    loglik : ndarray of shape (n_chunks,)
    """
    n_samples, n_features = X.shape
    n_components = means_c.shape[0]
    nk = np.zeros((n_chunks, n_components))
    s1 = np.zeros((n_chunks, n_components, n_features))
    within = np.zeros((n_chunks, n_features, n_features))
    between = np.zeros((n_chunks, n_components, n_components))
    loglik = np.zeros(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        xc = np.empty((n_features, BLOCK))
        y = np.empty((n_features, BLOCK))
        dev = np.empty((n_features, BLOCK))
        wdev = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        ones = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        prob = np.empty((n_components, BLOCK))
        chunk_ll = 0.0
        for b in range(BLOCK):
            ones[b] = 1.0
        for row in range(start, stop, BLOCK):
            load_block(X, sample_weight, row, min(row + BLOCK, stop), xt, wt)
            _project(xt, center, prec_chol, xc, y)
            _log_density_block(y, proj, log_norm, logp)
            # Unweighted responsibilities p; the row weight is applied by
            # multiplication below, never divided out (a subnormal weight
            # would overflow 1 / w).
            log_sum_exp_block(logp, ones, prob, lse, scratch)
            for b in range(BLOCK):
                chunk_ll += wt[b] * lse[b]
            # dev = xc - sum_k p_k means_c[k]
            for j in range(n_features):
                for b in range(BLOCK):
                    dev[j, b] = xc[j, b]
            for k in range(n_components):
                total = 0.0
                for b in range(BLOCK):
                    total += prob[k, b] * wt[b]
                nk[chunk, k] += total
                for j in range(n_features):
                    mu = means_c[k, j]
                    t1 = 0.0
                    for b in range(BLOCK):
                        p = prob[k, b]
                        t1 += p * wt[b] * (xc[j, b] - mu)
                        dev[j, b] -= p * mu
                    s1[chunk, k, j] += t1
            for j in range(n_features):
                for b in range(BLOCK):
                    wdev[j, b] = wt[b] * dev[j, b]
            for j in range(n_features):
                for i in range(j + 1):
                    a = 0.0
                    for b in range(BLOCK):
                        a += wdev[j, b] * dev[i, b]
                    within[chunk, j, i] += a
            # between += sum_b w_b (diag(p_b) - p_b p_b^T)
            for k in range(n_components):
                for b in range(BLOCK):
                    scratch[b] = prob[k, b] * wt[b]
                for m in range(k + 1):
                    a = 0.0
                    for b in range(BLOCK):
                        a -= scratch[b] * prob[m, b]
                    if m == k:
                        for b in range(BLOCK):
                            a += scratch[b]
                    between[chunk, k, m] += a
        loglik[chunk] = chunk_ll
    return nk, s1, within, between, loglik


@jit(parallel=True)
def log_resp_tied(X, center, prec_chol, proj, log_norm, n_chunks, resp_out, lse_out):
    """Per-row log-likelihood and (optionally) responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    center, prec_chol, proj, log_norm, n_chunks
        As in :func:`suff_stats_tied`.
    resp_out : ndarray of shape (n_samples, n_components) or (0, n_components)
        Filled with the responsibilities unless it has no rows.
    lse_out : ndarray of shape (n_samples,)
        Filled with ``log p(x_i)``.
    """
    n_samples, n_features = X.shape
    n_components = proj.shape[0]
    no_weights = np.empty(0)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        xc = np.empty((n_features, BLOCK))
        y = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        for row in range(start, stop, BLOCK):
            count = min(BLOCK, stop - row)
            load_block(X, no_weights, row, row + count, xt, wt)
            _project(xt, center, prec_chol, xc, y)
            _log_density_block(y, proj, log_norm, logp)
            log_sum_exp_block(logp, wt, resp, lse, scratch)
            store_block(lse, resp, row, count, lse_out, resp_out)
