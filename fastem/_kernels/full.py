"""Fused one-pass kernels for full covariances.

Component ``k`` has mean ``means[k]`` and an upper-triangular precision Cholesky
factor ``U_k`` (precision = ``U_k U_k^T``, scikit-learn's convention), so

    log N(x | k) = sum(log diag U_k) - d/2 log(2 pi) - 1/2 ||(x - mu_k) U_k||^2.

``log_norm[k]`` carries everything but the quadratic term, plus ``log pi_k``.

How the work is done, per block of ``BLOCK`` rows (stored transposed, one feature
per row):

- E-step: ``y = U_k^T (x - ref) - U_k^T (mu_k - ref)``, with ``ref`` the mean of
  the component means (centering on it keeps the subtraction from cancelling
  badly), by the register tile of :mod:`._tile`: 4 columns of ``U_k`` against 8
  rows at a time, summing only over the rows of ``U_k`` above the tile's last
  column (the zero lower triangle is skipped but for the tile's own corner), and
  the squares of ``y`` added straight into the log-densities. For d=16 that is
  160 multiply-adds per row and component (136 for the exact triangle), at about
  70% of one core's peak.
- M-step: ``x - mu_k`` is formed exactly and the scatter about ``mu_k`` is
  accumulated with 2 x 4 tiles of vectorised reductions over the block's rows.

The pass itself is :func:`._pass.em_pass`; this module gives it the family's
density and statistics.
"""

from collections import namedtuple

import numpy as np

from .._config import jit
from ._pass import register_family
from ._tile import TILE_COLUMNS, TILE_ROWS, squared_tile

#: Rows per block (128): a multiple of the tile's 8 columns, which it reads and
#: writes without bounds checks.
BLOCK = 16 * TILE_COLUMNS


def _tiles(n_features):
    return -(-n_features // TILE_ROWS)


def _prepare(means, prec_chol):
    """Compute the reference point and the tiled factors and offsets.

    Returns ``ref`` (the mean of the means), ``factors`` of shape (k, t, d, 4)
    with ``factors[k, t, i, jj] = U_k[i, 4 t + jj]`` (zero past column d - 1)
    and ``offsets`` of shape (k, t, 4), ``((mu_k - ref) U_k)[4 t + jj]``, where
    ``t`` runs over the groups of 4 columns. Small K x D x D NumPy work, once
    per call.
    """
    n_components, n_features = means.shape
    n_tiles = _tiles(n_features)
    width = n_tiles * TILE_ROWS
    upper = np.zeros((n_components, n_features, width))
    upper[:, :, :n_features] = np.triu(prec_chol)
    ref = means.sum(axis=0) / n_components
    offsets = np.matmul((means - ref)[:, None, :], upper)[:, 0, :]
    factors = upper.reshape(n_components, n_features, n_tiles, TILE_ROWS)
    factors = np.ascontiguousarray(factors.transpose(0, 2, 1, 3))
    offsets = np.ascontiguousarray(offsets.reshape(n_components, n_tiles, TILE_ROWS))
    return ref, factors, offsets


#: Prepared parameters of the full family (see :func:`prepare_model`).
FullModel = namedtuple("FullModel", ["means", "ref", "factors", "offsets", "work_rows"])


def _padded(n_features):
    return -(-n_features // 4) * 4


def prepare_model(means, prec_chol):
    """Return the :class:`FullModel` of float64 C-contiguous parameters.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features, n_features)
        Upper-triangular precision Cholesky factors (scikit-learn's
        ``precisions_cholesky_``).

    The scratch (``work_rows`` rows) holds ``dev`` and ``wdev`` (``p`` rows
    each, ``p`` = d rounded up to 4; the rows past d stay zero) and ``xc`` (d
    rows).
    """
    n_features = means.shape[1]
    ref, factors, offsets = _prepare(means, prec_chol)
    work_rows = 2 * _padded(n_features) + n_features
    return FullModel(means, ref, factors, offsets, work_rows)


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||U_k^T (x_b - mu_k)||^2`` for a block."""
    factors = model.factors
    offsets = model.offsets
    ref = model.ref
    n_components, n_tiles = offsets.shape[:2]
    n_features, n_rows = xt.shape
    n_padded = -(-n_features // 4) * 4
    xc = work[2 * n_padded : 2 * n_padded + n_features]
    for j in range(n_features):
        r = ref[j]
        for b in range(n_rows):
            xc[j, b] = xt[j, b] - r
    for k in range(n_components):
        row = logp[k]
        for b in range(n_rows):
            row[b] = 0.0
        for first in range(0, n_rows, TILE_COLUMNS):
            out = row[first : first + TILE_COLUMNS]
            for t in range(n_tiles):
                depth = min(4 * t + 4, n_features)
                squared_tile(xc, first, factors[k, t], depth, offsets[k, t], out)
        for b in range(n_rows):
            row[b] = log_norm[k] - 0.5 * row[b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1`` and the padded ``s2``."""
    n_padded = _padded(n_features)
    return n_components * (1 + n_features + n_padded * n_padded)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's block statistics about its mean.

    ``buffer`` holds ``nk`` (k), ``s1`` (k, d) and ``s2`` (k, p, p), ``p`` = d
    rounded up to 4, one after the other, C order: ``nk += sum_b r_b``,
    ``s1 += sum_b r_b (x_b - mu)`` and the lower triangle (in 2 x 4 tiles, so a
    little past the diagonal) of ``s2 += sum_b r_b (x_b - mu)(x_b - mu)^T``.
    """
    means = model.means
    n_components, n_features = means.shape
    n_rows = xt.shape[1]
    n_padded = -(-n_features // 4) * 4
    dev = work[:n_padded]
    wdev = work[n_padded : 2 * n_padded]
    s1_at = n_components
    s2_at = n_components + n_components * n_features
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
        # The deviations first, their sum after: the sum in the same loop is
        # one chain of dependent adds (its latency, not the adds, set the pace).
        for j in range(n_features):
            m = means[k, j]
            for b in range(n_rows):
                d = xt[j, b] - m
                dev[j, b] = d
                wdev[j, b] = r[b] * d
        for j in range(n_features):
            row = wdev[j]
            t = 0.0
            for b in range(n_rows):
                t += row[b]
            buffer[s1_at + k * n_features + j] += t
        s2 = s2_at + k * n_padded * n_padded
        for j in range(0, n_features, 2):
            w0 = wdev[j]
            w1 = wdev[j + 1]
            row0 = s2 + j * n_padded
            row1 = row0 + n_padded
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
                buffer[row0 + i] += a00
                buffer[row0 + i + 1] += a01
                buffer[row0 + i + 2] += a02
                buffer[row0 + i + 3] += a03
                buffer[row1 + i] += a10
                buffer[row1 + i + 1] += a11
                buffer[row1 + i + 2] += a12
                buffer[row1 + i + 3] += a13


register_family(
    FullModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
