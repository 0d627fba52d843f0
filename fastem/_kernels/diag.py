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

#: Rows per block (long enough to amortise the reductions' horizontal sums and
#: the per-block calls; measured on two threads, 256 beats 128 by 4%).
BLOCK = 256

#: Prepared parameters of the diagonal family: ``means`` (k, d) and per-feature
#: precision factors ``prec_chol`` (k, d), both float64 and C-contiguous.
DiagModel = namedtuple("DiagModel", ["means", "prec_chol"])


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


@jit
def _workspace(model, n_features, n_rows):
    """No scratch beyond what :func:`em_pass` provides."""
    return (np.empty(0),)


@jit
def _log_density(model, xt, log_norm, work, logp):
    _log_density_block(xt, model.means, model.prec_chol, log_norm, logp)


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1`` and ``s2``."""
    return n_components * (1 + 2 * n_features)


@jit
def _stat_views(model, buffer):
    """``nk`` (k,), ``s1`` (k, d) and ``s2`` (k, d) in one flat buffer."""
    n_components, n_features = model.means.shape
    if buffer.shape[0] == 0:  # no statistics asked for: empty views
        n_components = 0
    size = n_components * n_features
    nk = buffer[:n_components]
    s1 = buffer[n_components : n_components + size].reshape((n_components, n_features))
    s2 = buffer[n_components + size : n_components + 2 * size].reshape(
        (n_components, n_features)
    )
    return nk, s1, s2


@jit
def _accumulate_block(model, xt, wresp, prob, wt, work, stats):
    nk, s1, s2 = stats
    for k in range(model.means.shape[0]):
        _accumulate(xt, model.means[k], wresp[k], nk[k : k + 1], s1[k], s2[k])


register_family(
    DiagModel,
    block=BLOCK,
    workspace=_workspace,
    log_density=_log_density,
    accumulate=_accumulate_block,
    stat_views=_stat_views,
)
