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
from ._pass import register_family

#: Rows per block (measured, one thread, n=2e5: 64 rows make the fit's pass about
#: 30% faster than 32 and prediction as fast).
BLOCK = 64


#: Prepared parameters of the tied family: ``means_c`` (k, d), the means minus
#: ``center`` (d,), the shared factor ``chol`` (d, d), ``proj = means_c @ chol``
#: and ``work_rows`` (the scratch: ``xc``, ``y``, ``dev``, ``wdev`` of d rows each
#: and one row ``wp``).
TiedModel = namedtuple("TiedModel", ["means_c", "center", "chol", "proj", "work_rows"])


def prepare_model(means, prec_chol):
    """Return the :class:`TiedModel` of float64 means and the shared factor.

    The reference point is the mean of the component means.
    """
    center = means.mean(axis=0)
    means_c = np.ascontiguousarray(means - center)
    proj = np.ascontiguousarray(means_c @ prec_chol)
    return TiedModel(means_c, center, prec_chol, proj, 4 * means.shape[1] + 1)


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||y[:, b] - proj[k]||^2``.

    ``xc = xt - center`` and ``y[j, b] = sum_{i <= j} chol[i, j] xc[i, b]`` go
    into the scratch, where :func:`_accumulate` reads ``xc`` back.
    """
    center = model.center
    chol = model.chol
    proj = model.proj
    n_features, n_rows = xt.shape
    n_components = proj.shape[0]
    xc = work[:n_features]
    y = work[n_features : 2 * n_features]
    for j in range(n_features):
        c = center[j]
        for b in range(n_rows):
            xc[j, b] = xt[j, b] - c
    for j in range(n_features):
        for b in range(n_rows):
            y[j, b] = 0.0
        for i in range(j + 1):
            c = chol[i, j]
            for b in range(n_rows):
                y[j, b] += c * xc[i, b]
    n_fours = n_features - n_features % 4
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
        # Four features per sweep: each row's running sum is loaded and stored
        # once per four features instead of once per feature.
        for j in range(0, n_fours, 4):
            p0 = proj[k, j]
            p1 = proj[k, j + 1]
            p2 = proj[k, j + 2]
            p3 = proj[k, j + 3]
            for b in range(n_rows):
                t0 = y[j, b] - p0
                t1 = y[j + 1, b] - p1
                t2 = y[j + 2, b] - p2
                t3 = y[j + 3, b] - p3
                logp[k, b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
        for j in range(n_fours, n_features):
            p = proj[k, j]
            for b in range(n_rows):
                t = y[j, b] - p
                logp[k, b] += t * t
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1``, ``within``, ``between``."""
    return n_components * (1 + n_features + n_components) + n_features * n_features


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add a block's ``nk``, ``s1`` and the two parts of the tied scatter.

    ``buffer`` holds ``nk`` (k), ``s1`` (k, d), ``within`` (d, d) and
    ``between`` (k, k) one after the other, C order; only the lower triangles
    of the last two are written. Uses the unweighted responsibilities ``prob``
    and multiplies by the row weights ``wt``, never divides by them (a
    subnormal weight would overflow).
    """
    means_c = model.means_c
    n_components, n_features = means_c.shape
    n_rows = xt.shape[1]
    xc = work[:n_features]
    dev = work[2 * n_features : 3 * n_features]
    wdev = work[3 * n_features : 4 * n_features]
    wp = work[4 * n_features]
    s1_at = n_components
    within_at = s1_at + n_components * n_features
    between_at = within_at + n_features * n_features
    # dev = xc - sum_k p_k means_c[k]
    for j in range(n_features):
        for b in range(n_rows):
            dev[j, b] = xc[j, b]
    for k in range(n_components):
        total = 0.0
        for b in range(n_rows):
            total += prob[k, b] * wt[b]
        buffer[k] += total
        for j in range(n_features):
            mu = means_c[k, j]
            t1 = 0.0
            for b in range(n_rows):
                p = prob[k, b]
                t1 += p * wt[b] * (xc[j, b] - mu)
                dev[j, b] -= p * mu
            buffer[s1_at + k * n_features + j] += t1
    for j in range(n_features):
        for b in range(n_rows):
            wdev[j, b] = wt[b] * dev[j, b]
    for j in range(n_features):
        for i in range(j + 1):
            a = 0.0
            for b in range(n_rows):
                a += wdev[j, b] * dev[i, b]
            buffer[within_at + j * n_features + i] += a
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
            buffer[between_at + k * n_components + m] += a


register_family(
    TiedModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
