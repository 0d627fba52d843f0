"""Fused one-pass kernels for diagonal (and spherical) covariances.

Component ``k`` has mean ``means[k]`` and per-feature precision Cholesky factors
``prec_chol[k]`` (``1 / sigma_kj``), so

    log N(x | k) = sum_j log prec_chol[k, j] - d/2 log(2 pi)
                   - 1/2 sum_j (prec_chol[k, j] (x_j - mu_kj))^2.

Spherical covariances use the same kernel with ``prec_chol[k, :]`` all equal:
the per-feature second moments it accumulates are what the spherical M-step
averages.
"""

import numpy as np
from numba import prange

from .._config import jit
from ._block import load_block, log_sum_exp_block, store_block
from ._reduce import chunk_bounds

#: Rows per block (long enough to amortise the reductions' horizontal sums).
BLOCK = 256


@jit
def _log_density_block(xt, means, prec_chol, log_norm, logp):
    """``logp[k, b] = log_norm[k] - 1/2 sum_j (prec_chol[k, j] (x - mu))^2``."""
    n_features, n_rows = xt.shape
    n_components = means.shape[0]
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
        for j in range(n_features):
            mu = means[k, j]
            p = prec_chol[k, j]
            for b in range(n_rows):
                y = (xt[j, b] - mu) * p
                logp[k, b] += y * y
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


@jit
def _accumulate(xt, mu, r, nk, s1, s2):
    """Add one component's ``sum r``, ``sum r (x - mu)`` and ``sum r (x - mu)^2``."""
    n_features, n_rows = xt.shape
    total = 0.0
    for b in range(n_rows):
        total += r[b]
    nk[0] += total
    for j in range(n_features):
        m = mu[j]
        t1 = 0.0
        t2 = 0.0
        for b in range(n_rows):
            dev = xt[j, b] - m
            w = r[b] * dev
            t1 += w
            t2 += w * dev
        s1[j] += t1
        s2[j] += t2


@jit(parallel=True)
def suff_stats_diag(X, sample_weight, means, prec_chol, log_norm, n_chunks):
    """One E-step plus sufficient statistics, per chunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Length 0 means unit weights.
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features)
    log_norm : ndarray of shape (n_components,)
        ``log pi_k + sum_j log prec_chol[k, j] - d/2 log(2 pi)``.
    n_chunks : int

    Returns
    -------
    nk : ndarray of shape (n_chunks, n_components)
    s1 : ndarray of shape (n_chunks, n_components, n_features)
        ``sum_i r_ik (x_i - mu_k)``.
    s2 : ndarray of shape (n_chunks, n_components, n_features)
        ``sum_i r_ik (x_i - mu_k)^2``.
    loglik : ndarray of shape (n_chunks,)
        ``sum_i w_i log p(x_i)``.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    nk = np.zeros((n_chunks, n_components))
    s1 = np.zeros((n_chunks, n_components, n_features))
    s2 = np.zeros((n_chunks, n_components, n_features))
    loglik = np.zeros(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        chunk_ll = 0.0
        for row in range(start, stop, BLOCK):
            load_block(X, sample_weight, row, min(row + BLOCK, stop), xt, wt)
            _log_density_block(xt, means, prec_chol, log_norm, logp)
            chunk_ll += log_sum_exp_block(logp, wt, resp, lse, scratch)
            for k in range(n_components):
                _accumulate(
                    xt,
                    means[k],
                    resp[k],
                    nk[chunk, k : k + 1],
                    s1[chunk, k],
                    s2[chunk, k],
                )
        loglik[chunk] = chunk_ll
    return nk, s1, s2, loglik


@jit(parallel=True)
def log_resp_diag(X, means, prec_chol, log_norm, n_chunks, resp_out, lse_out):
    """Per-row log-likelihood and (optionally) responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    means, prec_chol, log_norm, n_chunks
        As in :func:`suff_stats_diag`.
    resp_out : ndarray of shape (n_samples, n_components) or (0, n_components)
        Filled with the responsibilities unless it has no rows.
    lse_out : ndarray of shape (n_samples,)
        Filled with ``log p(x_i)``.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    no_weights = np.empty(0)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        for row in range(start, stop, BLOCK):
            count = min(BLOCK, stop - row)
            load_block(X, no_weights, row, row + count, xt, wt)
            _log_density_block(xt, means, prec_chol, log_norm, logp)
            log_sum_exp_block(logp, wt, resp, lse, scratch)
            store_block(lse, resp, row, count, lse_out, resp_out)
