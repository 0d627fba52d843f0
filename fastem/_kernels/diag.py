"""Fused one-pass kernels for diagonal (and spherical) covariances.

Component ``k`` has mean ``means[k]`` and per-feature precision Cholesky factors
``prec_chol[k]`` (``1 / sigma_kj``), so

    log N(x | k) = sum_j log prec_chol[k, j] - d/2 log(2 pi)
                   - 1/2 sum_j (prec_chol[k, j] (x_j - mu_kj))^2.

Spherical covariances use the same kernel with ``prec_chol[k, :]`` all equal:
the per-feature second moments it accumulates are what the spherical M-step
averages. The pass itself is :func:`._pass.em_pass`; this module gives it the
family's density and statistics.
"""

from collections import namedtuple

from .._config import jit
from ._pass import register_family

#: Rows per block (long enough to amortise the reductions' horizontal sums and
#: the per-block calls; measured on two threads, 256 beats 128 by 4%).
BLOCK = 256

#: Prepared parameters of the diagonal family: ``means`` (k, d) and per-feature
#: precision factors ``prec_chol`` (k, d), both float64 and C-contiguous, and
#: ``work_rows`` (0: the family needs no scratch).
DiagModel = namedtuple("DiagModel", ["means", "prec_chol", "work_rows"])


def prepare_model(means, prec_chol):
    """Return the :class:`DiagModel` of float64 C-contiguous (k, d) parameters."""
    return DiagModel(means, prec_chol, 0)


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 sum_j (prec_chol[k, j] (x - mu))^2``.

    Four features per sweep over the block's rows: each row's running sum is
    loaded and stored once per four features instead of once per feature.
    """
    means = model.means
    prec_chol = model.prec_chol
    n_features, n_rows = xt.shape
    n_components = means.shape[0]
    n_fours = n_features - n_features % 4
    for k in range(n_components):
        for b in range(n_rows):
            logp[k, b] = 0.0
        for j in range(0, n_fours, 4):
            m0 = means[k, j]
            m1 = means[k, j + 1]
            m2 = means[k, j + 2]
            m3 = means[k, j + 3]
            p0 = prec_chol[k, j]
            p1 = prec_chol[k, j + 1]
            p2 = prec_chol[k, j + 2]
            p3 = prec_chol[k, j + 3]
            for b in range(n_rows):
                y0 = (xt[j, b] - m0) * p0
                y1 = (xt[j + 1, b] - m1) * p1
                y2 = (xt[j + 2, b] - m2) * p2
                y3 = (xt[j + 3, b] - m3) * p3
                logp[k, b] += (y0 * y0 + y1 * y1) + (y2 * y2 + y3 * y3)
        for j in range(n_fours, n_features):
            mu = means[k, j]
            p = prec_chol[k, j]
            for b in range(n_rows):
                y = (xt[j, b] - mu) * p
                logp[k, b] += y * y
        for b in range(n_rows):
            logp[k, b] = log_norm[k] - 0.5 * logp[k, b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk`` (k), ``s1`` (k, d), ``s2`` (k, d)."""
    return n_components * (1 + 2 * n_features)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's ``sum r``, ``sum r (x - mu)`` and ``sum r (x - mu)^2``.

    ``buffer`` holds ``nk``, ``s1`` and ``s2`` one after the other, C order.
    Four features per sweep over the block's rows: eight independent sums, so
    the adds do not wait on each other, and one load of ``r`` serves four.
    """
    means = model.means
    n_components = means.shape[0]
    n_features, n_rows = xt.shape
    n_fours = n_features - n_features % 4
    s1_at = n_components
    s2_at = n_components + n_components * n_features
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
        s1 = s1_at + k * n_features
        s2 = s2_at + k * n_features
        for j in range(0, n_fours, 4):
            m0 = means[k, j]
            m1 = means[k, j + 1]
            m2 = means[k, j + 2]
            m3 = means[k, j + 3]
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            c0 = 0.0
            c1 = 0.0
            c2 = 0.0
            c3 = 0.0
            for b in range(n_rows):
                rb = r[b]
                d0 = xt[j, b] - m0
                d1 = xt[j + 1, b] - m1
                d2 = xt[j + 2, b] - m2
                d3 = xt[j + 3, b] - m3
                w0 = rb * d0
                w1 = rb * d1
                w2 = rb * d2
                w3 = rb * d3
                a0 += w0
                a1 += w1
                a2 += w2
                a3 += w3
                c0 += w0 * d0
                c1 += w1 * d1
                c2 += w2 * d2
                c3 += w3 * d3
            buffer[s1 + j] += a0
            buffer[s1 + j + 1] += a1
            buffer[s1 + j + 2] += a2
            buffer[s1 + j + 3] += a3
            buffer[s2 + j] += c0
            buffer[s2 + j + 1] += c1
            buffer[s2 + j + 2] += c2
            buffer[s2 + j + 3] += c3
        for j in range(n_fours, n_features):
            m = means[k, j]
            t1 = 0.0
            t2 = 0.0
            for b in range(n_rows):
                dev = xt[j, b] - m
                w = r[b] * dev
                t1 += w
                t2 += w * dev
            buffer[s1 + j] += t1
            buffer[s2 + j] += t2


register_family(
    DiagModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
