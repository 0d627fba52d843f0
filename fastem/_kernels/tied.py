"""Fused one-pass kernels for a tied (shared) full covariance.

All components share one upper-triangular precision Cholesky factor ``U``. With
``c`` a reference point (the caller passes the mean of the component means) and
``y = (x - c) U``, ``proj[k] = (mu_k - c) U``:

    log N(x | k) = log det U - d/2 log(2 pi) - 1/2 ||y - proj[k]||^2,

so the triangular product is done once per row, not once per component.

The scatter about the current means is accumulated without a per-component outer
product, using for each row (``r`` its responsibilities, ``m = sum_k r_k mu_k``)

    sum_k r_k (x - mu_k)(x - mu_k)^T = (x - m)(x - m)^T + M^T (diag(r) - r r^T) M

where ``M`` stacks the centered means. The kernel sums ``w (x - m)(x - m)^T``
(``d x d``) and ``w (diag(r) - r r^T)`` (``k x k``); both are sums of positive
semi-definite terms (no cancellation between rows), and the second has zero row
sums, so the result does not depend on where the means are centered. The pass itself
is :func:`._pass.em_pass`; this module gives it the family's density and
statistics.
"""

from collections import namedtuple

import numpy as np

from .._config import jit
from ._block import center_block
from ._pass import register_family

#: Rows per block (measured, one thread, n=2e5: 64 rows make the fit's pass about
#: 30% faster than 32 and prediction as fast).
BLOCK = 64


@jit
def _project(xt, center, chol, xc, y):
    """``xc = xt - center`` and ``y[j, b] = sum_{i <= j} chol[i, j] xc[i, b]``."""
    n_features, n_rows = xt.shape
    center_block(xt, center, xc)
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


#: Prepared parameters of the tied family: ``means_c`` (k, d), the means minus
#: ``center`` (d,), the shared factor ``chol`` (d, d) and ``proj = means_c @ chol``.
TiedModel = namedtuple("TiedModel", ["means_c", "center", "chol", "proj"])


def prepare_model(means, prec_chol):
    """Return the :class:`TiedModel` of float64 means and the shared factor.

    The reference point is the mean of the component means.
    """
    center = means.mean(axis=0)
    means_c = np.ascontiguousarray(means - center)
    proj = np.ascontiguousarray(means_c @ prec_chol)
    return TiedModel(means_c, center, prec_chol, proj)


@jit
def _workspace(model, n_features, n_rows):
    xc = np.empty((n_features, n_rows))
    y = np.empty((n_features, n_rows))
    dev = np.empty((n_features, n_rows))
    wdev = np.empty((n_features, n_rows))
    wp = np.empty(n_rows)
    return xc, y, dev, wdev, wp


@jit
def _log_density(model, xt, log_norm, work, logp):
    xc, y, _, _, _ = work
    _project(xt, model.center, model.chol, xc, y)
    _log_density_block(y, model.proj, log_norm, logp)


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1``, ``within``, ``between``."""
    return n_components * (1 + n_features + n_components) + n_features * n_features


@jit
def _stat_views(model, buffer):
    """``nk`` (k,), ``s1`` (k, d), ``within`` (d, d), ``between`` (k, k)."""
    n_components, n_features = model.means_c.shape
    if buffer.shape[0] == 0:  # no statistics asked for: empty views
        n_components = n_features = 0
    size = n_components * n_features
    nk = buffer[:n_components]
    s1 = buffer[n_components : n_components + size].reshape((n_components, n_features))
    start = n_components + size
    within = buffer[start : start + n_features * n_features].reshape(
        (n_features, n_features)
    )
    start += n_features * n_features
    between = buffer[start : start + n_components * n_components].reshape(
        (n_components, n_components)
    )
    return nk, s1, within, between


@jit
def _accumulate(model, xt, wresp, prob, wt, work, stats):
    """Add a block's ``nk``, ``s1`` and the two parts of the tied scatter.

    Uses the unweighted responsibilities ``prob`` and multiplies by the row
    weights ``wt``, never divides by them (a subnormal weight would overflow).
    """
    xc, _, dev, wdev, wp = work
    nk, s1, within, between = stats
    means_c = model.means_c
    n_components, n_features = means_c.shape
    n_rows = xc.shape[1]
    # dev = xc - sum_k p_k means_c[k]
    for j in range(n_features):
        for b in range(n_rows):
            dev[j, b] = xc[j, b]
    for k in range(n_components):
        total = 0.0
        for b in range(n_rows):
            total += prob[k, b] * wt[b]
        nk[k] += total
        for j in range(n_features):
            mu = means_c[k, j]
            t1 = 0.0
            for b in range(n_rows):
                p = prob[k, b]
                t1 += p * wt[b] * (xc[j, b] - mu)
                dev[j, b] -= p * mu
            s1[k, j] += t1
    for j in range(n_features):
        for b in range(n_rows):
            wdev[j, b] = wt[b] * dev[j, b]
    for j in range(n_features):
        for i in range(j + 1):
            a = 0.0
            for b in range(n_rows):
                a += wdev[j, b] * dev[i, b]
            within[j, i] += a
    # between += sum_b w_b (diag(p_b) - p_b p_b^T)
    for k in range(n_components):
        for b in range(n_rows):
            wp[b] = prob[k, b] * wt[b]
        for m in range(k + 1):
            a = 0.0
            for b in range(n_rows):
                a -= wp[b] * prob[m, b]
            if m == k:
                for b in range(n_rows):
                    a += wp[b]
            between[k, m] += a


register_family(
    TiedModel,
    block=BLOCK,
    workspace=_workspace,
    log_density=_log_density,
    accumulate=_accumulate,
    stat_views=_stat_views,
)
