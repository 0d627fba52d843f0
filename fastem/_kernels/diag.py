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

import numpy as np

from .._config import jit
from ._pass import register_family
from ._tile import prefer_wide_vectors

#: Rows per block (long enough to amortise the reductions' horizontal sums and
#: the per-block calls; measured on two threads, 256 beats 128 by 4%).
BLOCK = 256

#: Prepared parameters of the diagonal family: ``means`` (k, d) and per-feature
#: precision factors ``prec_chol`` (k, d), both float64 and C-contiguous, and
#: ``work_rows`` (1: a discarded row of log-densities, see :func:`_log_density`).
DiagModel = namedtuple("DiagModel", ["means", "prec_chol", "work_rows"])


def prepare_model(means, prec_chol, dtype=np.float64):
    """Return the :class:`DiagModel` of float64 C-contiguous (k, d) parameters.

    ``dtype`` (the data's) is the families' common signature: this family's
    arithmetic is float64 whatever it is.
    """
    return DiagModel(means, prec_chol, 1)


# Both hooks sweep the block's rows for two components and two features at a
# time: each load of a row's two features serves two components, which halves
# the block's reads per multiply-add. The block (d x 256 float64) is larger than
# L1, so those reads come from L2; two components per sweep measured 12-20%
# faster than one component and four features (in-cache, d=16, k=16 and 64).
# With an odd number of components the last pair is that component twice: its
# second copy goes to a discarded row (``work[0]``) or is not added.


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 sum_j (prec_chol[k, j] (x - mu))^2``."""
    prefer_wide_vectors()
    means = model.means
    prec_chol = model.prec_chol
    n_features, n_rows = xt.shape
    n_components = means.shape[0]
    n_twos = n_features - n_features % 2
    for k in range(0, n_components, 2):
        k1 = min(k + 1, n_components - 1)
        out0 = logp[k]
        out1 = logp[k1] if k1 > k else work[0]
        for b in range(n_rows):
            out0[b] = 0.0
            out1[b] = 0.0
        for j in range(0, n_twos, 2):
            m00 = means[k, j]
            m01 = means[k, j + 1]
            m10 = means[k1, j]
            m11 = means[k1, j + 1]
            p00 = prec_chol[k, j]
            p01 = prec_chol[k, j + 1]
            p10 = prec_chol[k1, j]
            p11 = prec_chol[k1, j + 1]
            for b in range(n_rows):
                x0 = xt[j, b]
                x1 = xt[j + 1, b]
                y00 = (x0 - m00) * p00
                y01 = (x1 - m01) * p01
                y10 = (x0 - m10) * p10
                y11 = (x1 - m11) * p11
                out0[b] += y00 * y00 + y01 * y01
                out1[b] += y10 * y10 + y11 * y11
        for j in range(n_twos, n_features):
            m0 = means[k, j]
            m1 = means[k1, j]
            p0 = prec_chol[k, j]
            p1 = prec_chol[k1, j]
            for b in range(n_rows):
                y0 = (xt[j, b] - m0) * p0
                y1 = (xt[j, b] - m1) * p1
                out0[b] += y0 * y0
                out1[b] += y1 * y1
        for b in range(n_rows):
            out0[b] = log_norm[k] - 0.5 * out0[b]
            out1[b] = log_norm[k1] - 0.5 * out1[b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk`` (k), ``s1`` (k, d), ``s2`` (k, d)."""
    return n_components * (1 + 2 * n_features)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's ``sum r``, ``sum r (x - mu)`` and ``sum r (x - mu)^2``.

    ``buffer`` holds ``nk``, ``s1`` and ``s2`` one after the other, C order.
    Two components and two features per sweep over the block's rows: eight
    independent sums, so the adds do not wait on each other.
    """
    prefer_wide_vectors()
    means = model.means
    n_components = means.shape[0]
    n_features, n_rows = xt.shape
    n_twos = n_features - n_features % 2
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
    for k in range(0, n_components, 2):
        k1 = min(k + 1, n_components - 1)
        r0 = wresp[k]
        r1 = wresp[k1]
        # Offsets of s1 for components k and k1; s2 is n_components * d further.
        at0 = n_components + k * n_features
        at1 = n_components + k1 * n_features
        s2 = n_components * n_features
        for j in range(0, n_twos, 2):
            m00 = means[k, j]
            m01 = means[k, j + 1]
            m10 = means[k1, j]
            m11 = means[k1, j + 1]
            a00 = 0.0
            a01 = 0.0
            a10 = 0.0
            a11 = 0.0
            c00 = 0.0
            c01 = 0.0
            c10 = 0.0
            c11 = 0.0
            for b in range(n_rows):
                x0 = xt[j, b]
                x1 = xt[j + 1, b]
                d00 = x0 - m00
                d01 = x1 - m01
                d10 = x0 - m10
                d11 = x1 - m11
                w00 = r0[b] * d00
                w01 = r0[b] * d01
                w10 = r1[b] * d10
                w11 = r1[b] * d11
                a00 += w00
                a01 += w01
                a10 += w10
                a11 += w11
                c00 += w00 * d00
                c01 += w01 * d01
                c10 += w10 * d10
                c11 += w11 * d11
            buffer[at0 + j] += a00
            buffer[at0 + j + 1] += a01
            buffer[at0 + s2 + j] += c00
            buffer[at0 + s2 + j + 1] += c01
            if k1 > k:
                buffer[at1 + j] += a10
                buffer[at1 + j + 1] += a11
                buffer[at1 + s2 + j] += c10
                buffer[at1 + s2 + j + 1] += c11
        for j in range(n_twos, n_features):
            m0 = means[k, j]
            m1 = means[k1, j]
            a0 = 0.0
            a1 = 0.0
            c0 = 0.0
            c1 = 0.0
            for b in range(n_rows):
                d0 = xt[j, b] - m0
                d1 = xt[j, b] - m1
                w0 = r0[b] * d0
                w1 = r1[b] * d1
                a0 += w0
                a1 += w1
                c0 += w0 * d0
                c1 += w1 * d1
            buffer[at0 + j] += a0
            buffer[at0 + s2 + j] += c0
            if k1 > k:
                buffer[at1 + j] += a1
                buffer[at1 + s2 + j] += c1


register_family(
    DiagModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
