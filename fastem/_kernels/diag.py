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
    """``logp[k, b] = log_norm[k] - 1/2 sum_j (prec_chol[k, j] (x - mu))^2``."""
    means = model.means
    prec_chol = model.prec_chol
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


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk`` (k), ``s1`` (k, d), ``s2`` (k, d)."""
    return n_components * (1 + 2 * n_features)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's ``sum r``, ``sum r (x - mu)`` and ``sum r (x - mu)^2``.

    ``buffer`` holds ``nk``, ``s1`` and ``s2`` one after the other, C order.
    """
    means = model.means
    n_components = means.shape[0]
    n_features, n_rows = xt.shape
    s1_at = n_components
    s2_at = n_components + n_components * n_features
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
        for j in range(n_features):
            m = means[k, j]
            t1 = 0.0
            t2 = 0.0
            for b in range(n_rows):
                dev = xt[j, b] - m
                w = r[b] * dev
                t1 += w
                t2 += w * dev
            buffer[s1_at + k * n_features + j] += t1
            buffer[s2_at + k * n_features + j] += t2


register_family(
    DiagModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
