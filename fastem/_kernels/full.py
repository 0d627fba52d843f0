"""Fused one-pass kernels for full covariances.

Component ``k`` has mean ``means[k]`` and an upper-triangular precision Cholesky
factor ``U_k`` (precision = ``U_k U_k^T``, scikit-learn's convention), so

    log N(x | k) = sum(log diag U_k) - d/2 log(2 pi) - 1/2 ||(x - mu_k) U_k||^2.

``log_norm[k]`` carries everything but the quadratic term, plus ``log pi_k``.

How the work is done, per block of ``BLOCK`` rows (stored transposed, one feature
per row):

- E-step: the projections ``U_k^T (x - ref)`` of all components come from a few
  matrix products (BLAS ``dgemm`` through ``np.dot``), with ``ref`` the mean of
  the component means. The columns of each ``U_k`` are cut into slices so that
  the products skip most of the zero lower triangle. Subtracting
  ``U_k^T (mu_k - ref)`` gives ``U_k^T (x - mu_k)``; centring on ``ref`` keeps
  that subtraction from cancelling badly.
- M-step: ``x - mu_k`` is formed exactly and the scatter about ``mu_k`` is
  accumulated with 2 x 4 tiles of vectorised reductions over the block's rows.

BLAS runs single-threaded inside the parallel loop (see
:func:`single_threaded_blas`); each chunk's arithmetic then does not depend on
the number of threads.
"""

import contextlib
import threading

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 - load the BLAS np.dot calls
from numba import prange

from .._config import jit
from ._block import centre_block, load_block, log_sum_exp_block, store_block
from ._reduce import chunk_bounds

#: Rows per block: the row dimension of the E-step matrix products.
BLOCK = 128
#: Target number of output rows (component x column) per E-step product: the
#: 128 x 128 product (128 KiB) stays in L2 next to the block's other work arrays.
PRODUCT_ROWS = 128
#: Features per column slice of the precision factors. With ``s`` slices the
#: products do ``(1 + 1/s) / 2`` of the multiply-adds of full ``d x d`` factors.
SLICE_FEATURES = 8

_BLAS_LOCK = threading.Lock()
_BLAS_STATE = {"controller": None, "depth": 0, "limiter": None}


@contextlib.contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while a parallel kernel calls it.

    The kernels call BLAS from each of their own threads; a multi-threaded BLAS
    would oversubscribe the cores (or serialise the calls). Nested and concurrent
    uses share one limit, which is lifted when the last one exits.
    """
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] == 0:
            if _BLAS_STATE["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _BLAS_STATE["controller"] = ThreadpoolController()
            controller = _BLAS_STATE["controller"]
            _BLAS_STATE["limiter"] = controller.limit(limits=1, user_api="blas")
        _BLAS_STATE["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["depth"] -= 1
            if _BLAS_STATE["depth"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


def _plan(n_features, n_components):
    """Slices of the factor columns and components per E-step product."""
    n_slices = max(1, n_features // SLICE_FEATURES)
    slice_width = -(-n_features // n_slices)
    group = max(1, min(n_components, PRODUCT_ROWS // slice_width))
    return n_slices, group


@jit
def _prepare(means, prec_chol, n_slices, group):
    """Compute the reference point, projected offsets and gathered factor slices.

    Returns ``ref`` (the mean of the means), ``offsets[k, j] = ((mu_k - ref)
    U_k)[j]`` and ``gathered``: for each group of components and each column
    slice ``[lo, hi)``, the matrix of shape (group * (hi - lo), hi) whose row
    ``(q, jj)`` is column ``lo + jj`` of ``U_{g group + q}`` cut at row ``hi``
    (the rows below are zero), stored one after the other.
    """
    n_components, n_features = means.shape
    ref = np.zeros(n_features)
    for k in range(n_components):
        for j in range(n_features):
            ref[j] += means[k, j]
    for j in range(n_features):
        ref[j] /= n_components
    offsets = np.zeros((n_components, n_features))
    for k in range(n_components):
        for j in range(n_features):
            c = 0.0
            for i in range(j + 1):
                c += (means[k, i] - ref[i]) * prec_chol[k, i, j]
            offsets[k, j] = c
    n_groups = -(-n_components // group)
    size = 0
    for g in range(n_groups):
        members = min(group, n_components - g * group)
        for s in range(n_slices):
            lo = s * n_features // n_slices
            hi = (s + 1) * n_features // n_slices
            size += members * (hi - lo) * hi
    gathered = np.zeros(size)
    pos = 0
    for g in range(n_groups):
        members = min(group, n_components - g * group)
        for s in range(n_slices):
            lo = s * n_features // n_slices
            hi = (s + 1) * n_features // n_slices
            for q in range(members):
                factor = prec_chol[g * group + q]
                for jj in range(hi - lo):
                    row = pos + (q * (hi - lo) + jj) * hi
                    for i in range(lo + jj + 1):
                        gathered[row + i] = factor[i, lo + jj]
            pos += members * (hi - lo) * hi
    return ref, offsets, gathered


@jit
def _log_density(xc, log_norm, offsets, gathered, n_slices, group, proj, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||U_k^T (x_b - mu_k)||^2`` for a block."""
    n_components, n_features = offsets.shape
    n_rows = xc.shape[1]
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
    n_groups = -(-n_components // group)
    pos = 0
    for g in range(n_groups):
        members = min(group, n_components - g * group)
        for s in range(n_slices):
            lo = s * n_features // n_slices
            hi = (s + 1) * n_features // n_slices
            width = hi - lo
            n_out = members * width
            factors = gathered[pos : pos + n_out * hi].reshape((n_out, hi))
            pos += n_out * hi
            out = proj[:n_out]
            np.dot(factors, xc[:hi], out)
            for q in range(members):
                k = g * group + q
                for jj in range(width):
                    c = offsets[k, lo + jj]
                    for b in range(n_rows):
                        y = out[q * width + jj, b] - c
                        logp[k, b] += y * y
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


@jit
def _accumulate(xt, mu, r, nk, s1, s2, dev, wdev):
    """Add one component's block statistics about ``mu``.

    ``nk += sum_b r_b``, ``s1 += sum_b r_b (x_b - mu)`` and the lower triangle
    (in 2 x 4 tiles, so a little past the diagonal) of
    ``s2 += sum_b r_b (x_b - mu)(x_b - mu)^T``. ``dev`` and ``wdev`` have a
    multiple of 4 rows; those past ``n_features`` must be zero.
    """
    n_features = mu.shape[0]
    n_rows = dev.shape[1]
    total = 0.0
    for b in range(n_rows):
        total += r[b]
    nk[0] += total
    for j in range(n_features):
        m = mu[j]
        t = 0.0
        for b in range(n_rows):
            d = xt[j, b] - m
            w = r[b] * d
            dev[j, b] = d
            wdev[j, b] = w
            t += w
        s1[j] += t
    for j in range(0, n_features, 2):
        w0 = wdev[j]
        w1 = wdev[j + 1]
        for i in range(0, j + 1, 4):
            d0 = dev[i]
            d1 = dev[i + 1]
            d2 = dev[i + 2]
            d3 = dev[i + 3]
            a00 = 0.0
            a01 = 0.0
            a02 = 0.0
            a03 = 0.0
            a10 = 0.0
            a11 = 0.0
            a12 = 0.0
            a13 = 0.0
            for b in range(n_rows):
                x0 = w0[b]
                x1 = w1[b]
                y0 = d0[b]
                y1 = d1[b]
                y2 = d2[b]
                y3 = d3[b]
                a00 += x0 * y0
                a01 += x0 * y1
                a02 += x0 * y2
                a03 += x0 * y3
                a10 += x1 * y0
                a11 += x1 * y1
                a12 += x1 * y2
                a13 += x1 * y3
            s2[j, i] += a00
            s2[j, i + 1] += a01
            s2[j, i + 2] += a02
            s2[j, i + 3] += a03
            s2[j + 1, i] += a10
            s2[j + 1, i + 1] += a11
            s2[j + 1, i + 2] += a12
            s2[j + 1, i + 3] += a13


@jit(parallel=True)
def _suff_stats_full(X, sample_weight, means, prec_chol, log_norm, n_chunks, plan):
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    n_slices, group = plan
    n_padded = -(-n_features // 4) * 4
    ref, offsets, gathered = _prepare(means, prec_chol, n_slices, group)
    proj_rows = group * (-(-n_features // n_slices))
    nk = np.zeros((n_chunks, n_components))
    s1 = np.zeros((n_chunks, n_components, n_features))
    s2 = np.zeros((n_chunks, n_components, n_features, n_features))
    loglik = np.zeros(n_chunks)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        xc = np.empty((n_features, BLOCK))
        dev = np.zeros((n_padded, BLOCK))
        wdev = np.zeros((n_padded, BLOCK))
        proj = np.empty((proj_rows, BLOCK))
        wt = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        scatter = np.zeros((n_components, n_padded, n_padded))
        chunk_ll = 0.0
        for row in range(start, stop, BLOCK):
            load_block(X, sample_weight, row, min(row + BLOCK, stop), xt, wt)
            centre_block(xt, ref, xc)
            _log_density(xc, log_norm, offsets, gathered, n_slices, group, proj, logp)
            chunk_ll += log_sum_exp_block(logp, wt, resp, lse, scratch)
            for k in range(n_components):
                _accumulate(
                    xt,
                    means[k],
                    resp[k],
                    nk[chunk, k : k + 1],
                    s1[chunk, k],
                    scatter[k],
                    dev,
                    wdev,
                )
        for k in range(n_components):
            for j in range(n_features):
                for i in range(j + 1):
                    s2[chunk, k, j, i] = scatter[k, j, i]
        loglik[chunk] = chunk_ll
    return nk, s1, s2, loglik


def suff_stats_full(X, sample_weight, means, prec_chol, log_norm, n_chunks):
    """One E-step plus sufficient statistics, per chunk.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        C-contiguous.
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Length 0 means unit weights.
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features, n_features)
        Upper-triangular precision Cholesky factors (scikit-learn's
        ``precisions_cholesky_``), float64, C-contiguous.
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
        ``sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T``; the lower triangle (with the
        diagonal) only, the upper part is zero.
    loglik : ndarray of shape (n_chunks,)
        ``sum_i w_i log p(x_i)``.
    """
    plan = _plan(X.shape[1], means.shape[0])
    with single_threaded_blas():
        return _suff_stats_full(
            X, sample_weight, means, prec_chol, log_norm, n_chunks, plan
        )


@jit(parallel=True)
def _log_resp_full(X, means, prec_chol, log_norm, n_chunks, resp_out, lse_out, plan):
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    n_slices, group = plan
    ref, offsets, gathered = _prepare(means, prec_chol, n_slices, group)
    proj_rows = group * (-(-n_features // n_slices))
    no_weights = np.empty(0)
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        xt = np.empty((n_features, BLOCK))
        xc = np.empty((n_features, BLOCK))
        proj = np.empty((proj_rows, BLOCK))
        wt = np.empty(BLOCK)
        lse = np.empty(BLOCK)
        scratch = np.empty(BLOCK)
        logp = np.empty((n_components, BLOCK))
        resp = np.empty((n_components, BLOCK))
        for row in range(start, stop, BLOCK):
            count = min(BLOCK, stop - row)
            load_block(X, no_weights, row, row + count, xt, wt)
            centre_block(xt, ref, xc)
            _log_density(xc, log_norm, offsets, gathered, n_slices, group, proj, logp)
            log_sum_exp_block(logp, wt, resp, lse, scratch)
            store_block(lse, resp, row, count, lse_out, resp_out)


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
    plan = _plan(X.shape[1], means.shape[0])
    with single_threaded_blas():
        _log_resp_full(X, means, prec_chol, log_norm, n_chunks, resp_out, lse_out, plan)
