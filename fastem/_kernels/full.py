"""Fused one-pass kernels for full covariances.

Component ``k`` has mean ``means[k]`` and an upper-triangular precision Cholesky
factor ``prec_chol[k]`` (precision = ``U U^T``, scikit-learn's convention), so

    log N(x | k) = sum(log diag U) - d/2 log(2 pi) - 1/2 ||(x - mu_k) U||^2.

``log_norm[k]`` carries everything but the quadratic term, plus ``log pi_k``.
"""

import numpy as np
from numba import prange

from .._config import jit
from ._block import BLOCK, load_block, log_sum_exp_block
from ._reduce import chunk_bounds


def pad_columns(prec_chol):
    """Zero-pad the last axis of ``prec_chol`` to a multiple of 4 (float64, C)."""
    n_features = prec_chol.shape[-1]
    n_padded = -(-n_features // 4) * 4
    padded = np.zeros(prec_chol.shape[:-1] + (n_padded,))
    padded[..., :n_features] = prec_chol
    return padded


@jit
def _deviations(xt, means, k, dev):
    """``dev[j, b] = xt[j, b] - means[k, j]``."""
    n_features = xt.shape[0]
    for j in range(n_features):
        mu = means[k, j]
        for b in range(BLOCK):
            dev[j, b] = xt[j, b] - mu


@jit
def _mahalanobis(dev, chol, acc, maha):
    """``maha[b] = ||dev[:, b]^T chol||^2`` for an upper-triangular ``chol``.

    The row loops take their trip count from the arrays, so the compiler
    vectorises them (with run-time overlap checks) instead of unrolling them.
    """
    n_features, n_rows = dev.shape
    for b in range(n_rows):
        maha[b] = 0.0
    for j in range(n_features):
        for b in range(n_rows):
            acc[b] = 0.0
        for i in range(j + 1):
            c = chol[i, j]
            for b in range(n_rows):
                acc[b] += c * dev[i, b]
        for b in range(n_rows):
            maha[b] += acc[b] * acc[b]


@jit
def _accumulate(dev, r, nk, s1, s2, wdev):
    """Add ``sum_b r_b dev_b`` and ``sum_b r_b dev_b dev_b^T`` (lower triangle)."""
    n_features = dev.shape[0]
    total = 0.0
    for b in range(BLOCK):
        total += r[b]
    nk[0] += total
    for j in range(n_features):
        t = 0.0
        for b in range(BLOCK):
            w = r[b] * dev[j, b]
            wdev[j, b] = w
            t += w
        s1[j] += t
    # 2 x 2 tiles of the lower triangle: four independent reductions per pass.
    for j in range(0, n_features - 1, 2):
        for i in range(0, j + 1, 2):
            a00 = 0.0
            a01 = 0.0
            a10 = 0.0
            a11 = 0.0
            for b in range(BLOCK):
                w0 = wdev[j, b]
                w1 = wdev[j + 1, b]
                d0 = dev[i, b]
                d1 = dev[i + 1, b]
                a00 += w0 * d0
                a01 += w0 * d1
                a10 += w1 * d0
                a11 += w1 * d1
            s2[j, i] += a00
            s2[j, i + 1] += a01
            s2[j + 1, i] += a10
            s2[j + 1, i + 1] += a11
    if n_features % 2 == 1:
        j = n_features - 1
        for i in range(n_features):
            a = 0.0
            for b in range(BLOCK):
                a += wdev[j, b] * dev[i, b]
            s2[j, i] += a


@jit(parallel=True)
def suff_stats_full(X, sample_weight, means, prec_chol, log_norm, n_chunks):
    """One E-step plus sufficient statistics, per chunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Length 0 means unit weights.
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features, n_padded)
        Upper-triangular precision Cholesky factors, columns zero-padded to a
        multiple of 4 (see :func:`pad_columns`).
    log_norm : ndarray of shape (n_components,)
        ``log pi_k + log det U_k - d/2 log(2 pi)``.
    n_chunks : int

    Returns
    -------
    nk : ndarray of shape (n_chunks, n_components)
        Weighted responsibility totals.
    s1 : ndarray of shape (n_chunks, n_components, n_features)
        ``sum_i r_ik (x_i - mu_k)``.
    s2 : ndarray of shape (n_chunks, n_components, n_features, n_features)
        ``sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T``; the lower triangle only, with
        an odd feature count the last row in full.
    loglik : ndarray of shape (n_chunks,)
        ``sum_i w_i log p(x_i)``.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    nk = np.zeros((n_chunks, n_components))
    s1 = np.zeros((n_chunks, n_components, n_features))
    s2 = np.zeros((n_chunks, n_components, n_features, n_features))
    loglik = np.zeros(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        dev = np.empty((n_features, BLOCK))
        wdev = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        acc = np.empty(BLOCK)
        maha = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        chunk_ll = 0.0
        for row in range(start, stop, BLOCK):
            load_block(X, sample_weight, row, min(row + BLOCK, stop), xt, wt)
            for k in range(n_components):
                _deviations(xt, means, k, dev)
                _mahalanobis(dev, prec_chol[k], acc, maha)
                for b in range(BLOCK):
                    logp[k, b] = log_norm[k] - 0.5 * maha[b]
            chunk_ll += log_sum_exp_block(logp, wt, resp, lse, scratch)
            for k in range(n_components):
                _deviations(xt, means, k, dev)
                _accumulate(
                    dev, resp[k], nk[chunk, k : k + 1], s1[chunk, k], s2[chunk, k], wdev
                )
        loglik[chunk] = chunk_ll
    return nk, s1, s2, loglik


@jit(parallel=True)
def log_resp_full(X, means, prec_chol, log_norm, n_chunks, resp_out, lse_out):
    """Per-row log-likelihood and (optionally) responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    means, prec_chol, log_norm, n_chunks
        As in :func:`suff_stats_full`.
    resp_out : ndarray of shape (n_samples, n_components) or (0, n_components)
        Filled with the responsibilities unless it has no rows.
    lse_out : ndarray of shape (n_samples,)
        Filled with ``log p(x_i)``.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    want_resp = resp_out.shape[0] > 0
    no_weights = np.empty(0)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        dev = np.empty((n_features, BLOCK))
        wt = np.empty(BLOCK)
        acc = np.empty(BLOCK)
        maha = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        for row in range(start, stop, BLOCK):
            count = min(BLOCK, stop - row)
            load_block(X, no_weights, row, row + count, xt, wt)
            for k in range(n_components):
                _deviations(xt, means, k, dev)
                _mahalanobis(dev, prec_chol[k], acc, maha)
                for b in range(BLOCK):
                    logp[k, b] = log_norm[k] - 0.5 * maha[b]
            log_sum_exp_block(logp, wt, resp, lse, scratch)
            for b in range(count):
                lse_out[row + b] = lse[b]
            if want_resp:
                for b in range(count):
                    for k in range(n_components):
                        resp_out[row + b, k] = resp[k, b]
