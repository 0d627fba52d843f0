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
  rows at a time (32 with AVX-512), summing only over the rows of ``U_k`` on or
  above the diagonal (the zero lower triangle is skipped, the tile's own corner
  included), and the squares of ``y`` added straight into the log-densities.
  For d=16 that is 136 multiply-adds per row and component.
- M-step: ``sqrt(r) (x - mu_k)`` is formed once per block and component (the
  deviation itself exactly), and the scatter about ``mu_k`` is its product with
  itself, accumulated by register tiles over the block's rows: 2 x 4 blocks
  left of the diagonal (:func:`._tile.product_tile`) and the lower triangle
  of each 4 x 4 diagonal block (:func:`._tile.symmetric_tile`), 136
  multiply-adds per row and component at d=16. For float32 data (past 4
  features) ``sqrt(r) (x - mu)`` is rounded to float32 and the tiles multiply
  in float32, within the proven bound of :mod:`._single`; up to 4 features
  the scatter is one 4 x 4 tile of ``r (x - mu)`` against ``x - mu``, float64
  for both.

The pass itself is :func:`._pass.em_pass`; this module gives it the family's
density and statistics.
"""

from collections import namedtuple

import numpy as np

from .._config import jit
from .._triangles import upper
from ._pass import register_family
from ._single import arithmetic, flush_subnormals, product_rows, restore_subnormals
from ._tile import (
    PRODUCT_ROWS,
    TILE_COLUMNS,
    column_tiles,
    padded,
    prefer_wide_vectors,
    product_tile,
    squared_tile,
    symmetric_tile,
)

#: Rows per block: a multiple of the tile's columns (8, or 32 with AVX-512),
#: which it reads and writes without bounds checks.
BLOCK = 128


def _prepare(means, prec_chol):
    """Compute the reference point and the tiled factors and offsets.

    Returns ``ref`` (the mean of the means), ``factors`` of shape (k, t, p, 4)
    with ``factors[k, t, i, jj] = U_k[i, 4 t + jj]`` (zero past row or column
    d - 1; ``p = 4 t``) and ``offsets`` of shape (k, t, 4),
    ``((mu_k - ref) U_k)[4 t + jj]``, where ``t`` runs over the groups of 4
    columns. Small K x D x D NumPy work, once per call.
    """
    n_components, n_features = means.shape
    width = padded(n_features)
    # The product with the factors' zero-padded columns (width of them): its
    # summation order is the one the offsets have always had.
    wide = np.zeros((n_components, n_features, width))
    wide[:, :, :n_features] = upper(prec_chol)
    ref = means.sum(axis=0) / n_components
    offsets = np.matmul((means - ref)[:, None, :], wide)[:, 0, :]
    offsets = offsets.reshape(n_components, width // 4, 4)
    return ref, column_tiles(wide, rows=width), offsets


#: Prepared parameters of the full family (see :func:`prepare_model`).
FullModel = namedtuple(
    "FullModel", ["means", "ref", "factors", "offsets", "work_rows", "arithmetic"]
)


def prepare_model(means, prec_chol, dtype=np.float64):
    """Return the :class:`FullModel` of float64 C-contiguous parameters.

    Parameters
    ----------
    means : ndarray of shape (n_components, n_features)
    prec_chol : ndarray of shape (n_components, n_features, n_features)
        Upper-triangular precision Cholesky factors (scikit-learn's
        ``precisions_cholesky_``).
    dtype : dtype, default=np.float64
        The data's: float32 data gets the scatter's float32 products
        (:mod:`._single`).

    The scratch (``work_rows`` rows) holds ``sqrt(r) (x - mu)`` (``p`` rows,
    ``p`` = d rounded up to 4; ``x - mu`` when d <= 4), ``sqrt(r)`` (1 row),
    ``x - ref`` (``p`` rows) and, when d <= 4, ``r (x - mu)`` (``p`` rows);
    the rows past d stay zero.
    """
    n_features = means.shape[1]
    ref, factors, offsets = _prepare(means, prec_chol)
    work_rows = 3 * padded(n_features) + 1
    return FullModel(means, ref, factors, offsets, work_rows, arithmetic(dtype))


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||U_k^T (x_b - mu_k)||^2`` for a block."""
    prefer_wide_vectors()
    factors = model.factors
    offsets = model.offsets
    ref = model.ref
    n_components, n_tiles = offsets.shape[:2]
    n_features, n_rows = xt.shape
    n_padded = -(-n_features // 4) * 4
    xc = work[n_padded + 1 : 2 * n_padded + 1]
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
    n_padded = padded(n_features)
    return n_components * (1 + n_features + n_padded * n_padded)


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add each component's block statistics about its mean.

    ``buffer`` holds ``nk`` (k), ``s1`` (k, d) and ``s2`` (k, p, p), ``p`` = d
    rounded up to 4, one after the other, C order: ``nk += sum_b r_b``,
    ``s1 += sum_b r_b (x_b - mu)`` and the lower triangle (in 4 x 4 blocks,
    those on the diagonal getting ``+0`` above it) of
    ``s2 += sum_b r_b (x_b - mu)(x_b - mu)^T``.
    """
    prefer_wide_vectors()
    means = model.means
    n_components, n_features = means.shape
    n_rows = xt.shape[1]
    n_padded = -(-n_features // 4) * 4
    # Up to 4 features: float64 rows, x - mu and r (x - mu) (their scatter is
    # one 4 x 4 tile). Past that: sqrt(r) (x - mu), float32 rows over the same
    # scratch for float32 data (see ._single).
    deviations = work[:n_padded]
    weighted = work[2 * n_padded + 1 : 3 * n_padded + 1]
    root = work[n_padded]
    s1_at = n_components
    s2_at = n_components + n_components * n_features
    for k in range(n_components):
        r = wresp[k]
        total = 0.0
        for b in range(n_rows):
            total += r[b]
        buffer[k] += total
    if n_padded == 4:
        # Up to 4 features a sqrt per row and component would cost more than a
        # second array, and rounding to float32 more than the float32
        # products save (0.95x the time of float64 at d=4, k=8).
        for k in range(n_components):
            r = wresp[k]
            for j in range(n_features):
                m = means[k, j]
                row = deviations[j]
                weighted_row = weighted[j]
                t = 0.0
                for b in range(n_rows):
                    v = xt[j, b] - m
                    w = r[b] * v
                    row[b] = v
                    weighted_row[b] = w
                    t += w
                buffer[s1_at + k * n_features + j] += t
            s2 = s2_at + k * n_padded * n_padded
            for top in range(0, n_features, PRODUCT_ROWS):
                at = s2 + top * n_padded
                product_tile(weighted, top, deviations, 0, buffer, at, n_padded)
        return
    scaled = product_rows(deviations, model.arithmetic)
    # float32 products: subnormal results flushed (no microcoded assists)
    float_state = flush_subnormals(model)
    for k in range(n_components):
        r = wresp[k]
        for b in range(n_rows):
            root[b] = np.sqrt(r[b])
        # sqrt(r_b) (x_b - mu): the scatter is the product of this array with
        # itself, and s1 its product with sqrt(r). One array to write instead
        # of two (x - mu and r (x - mu)).
        for j in range(n_features):
            m = means[k, j]
            row = scaled[j]
            t = 0.0
            for b in range(n_rows):
                v = (xt[j, b] - m) * root[b]
                row[b] = v
                t += root[b] * v
            buffer[s1_at + k * n_features + j] += t
        # 2 x 4 tiles left of the diagonal and one symmetric 4 x 4 tile on it.
        # One call site per tile: each is compiled where it is called.
        s2 = s2_at + k * n_padded * n_padded
        for j in range(0, n_features, 4):
            for i in range(0, j, 4):
                for top in range(j, min(j + 4, n_features), PRODUCT_ROWS):
                    at = s2 + top * n_padded + i
                    product_tile(scaled, top, scaled, i, buffer, at, n_padded)
            symmetric_tile(scaled, j, buffer, s2 + j * n_padded + j, n_padded)
    restore_subnormals(model, float_state)


register_family(
    FullModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
