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
(``d x d``) and ``w (diag(r) - r r^T)`` (``k x k``); each row's terms are
positive semi-definite, and the second has zero row sums, so the result does
not depend on where the means are centered. The second is summed as
``diag(sum w r)`` minus ``sum w r r^T``: where most rows give a component ``r``
near 1, its diagonal is a difference of nearly equal sums.

The first moments are ``sum w r (x - c) - (sum w r) (mu - c)``, one small
product per block rather than a deviation per row and component: as accurate
as scikit-learn's ``r^T X`` about the origin, or more (``c`` is nearer the data).
Every product in the density and the statistics is done by the register tiles
of :mod:`._tile`.
The pass itself is :func:`._pass.em_pass`; this module gives it the family's
density and statistics.
"""

from collections import namedtuple

import numpy as np

from .._config import jit
from .._triangles import upper
from ._pass import register_family
from ._tile import (
    PRODUCT_ROWS,
    TILE_COLUMNS,
    column_tiles,
    difference_tile,
    padded,
    prefer_wide_vectors,
    product_tile,
    symmetric_tile,
    triangular_tile,
)

#: Rows per block: a multiple of the tiles' columns (8, or 32 with AVX-512).
#: With the register tiles, 128 rows beat 64 by 5-15% at d=16 and 64 (one
#: thread, n=1e6 and 2e5; the tiles' horizontal sums are spread over more rows)
#: and 256 was slower.
BLOCK = 128


#: Prepared parameters of the tied family: ``means_c`` (k, d), the means minus
#: ``center`` (d,), the shared factor ``chol`` (d, d), ``proj = means_c @ chol``,
#: ``chol_tiles`` (t, p, 4) with ``chol_tiles[t, i, jj] = chol[i, 4 t + jj]``
#: and ``mean_tiles`` (t, k, 4) with ``mean_tiles[t, i, jj] = means_c[i, 4 t +
#: jj]`` (zero past d; ``p`` = d rounded up to 4), ``layout`` (the first rows
#: of the scratch's parts, :func:`_layout`; a field rather than a compiled call
#: in each hook, which cost 0.1-0.15 s of first-call compile) and ``work_rows``
#: (the scratch's rows).
TiedModel = namedtuple(
    "TiedModel",
    [
        "means_c",
        "center",
        "chol",
        "proj",
        "chol_tiles",
        "mean_tiles",
        "layout",
        "work_rows",
    ],
)


def prepare_model(means, prec_chol, dtype=np.float64):
    """Return the :class:`TiedModel` of float64 means and the shared factor.

    The reference point is the mean of the component means. ``dtype`` (the
    data's) is the families' common signature: this family's arithmetic is
    float64 whatever it is.
    """
    n_components, n_features = means.shape
    center = means.sum(axis=0) / n_components  # as mean(), without its overhead
    means_c = np.ascontiguousarray(means - center)
    proj = np.ascontiguousarray(means_c @ prec_chol)
    mean_tiles = column_tiles(means_c)
    chol_tiles = column_tiles(upper(prec_chol), rows=padded(n_features))
    layout = _layout(n_components, n_features)
    return TiedModel(
        means_c,
        center,
        prec_chol,
        proj,
        chol_tiles,
        mean_tiles,
        layout,
        layout[-1],
    )


def _layout(n_components, n_features):
    """First rows of the scratch's parts, and its total row count.

    ``xc`` (``x - center``), ``sxc`` (``sqrt(w) xc``) and ``dev`` (``sqrt(w)
    (x - sum_k p_k mu_k)``; the density's ``y`` before it) take ``p`` rows each,
    ``p`` = d rounded up to 4 (the rows past d stay zero); ``sp`` (``sqrt(w)
    p_k``) ``q`` rows, ``q`` = k rounded up to 4; ``root`` (``sqrt(w)``) one
    row; then ``sums``, the register tiles' flat output (``q p + p p + q q``
    values), in whole rows of ``BLOCK``, up to ``spare``, one row for
    :func:`_log_density`.
    """
    p = -(-n_features // 4) * 4
    q = -(-n_components // 4) * 4
    sums_rows = -(-(q * p + p * p + q * q) // BLOCK)
    xc, sxc, dev, sp = 0, p, 2 * p, 3 * p
    root = sp + q
    sums = root + 1
    spare = sums + sums_rows
    return xc, sxc, dev, sp, root, sums, spare, spare + 1


@jit
def _log_density(model, xt, log_norm, work, logp):
    """``logp[k, b] = log_norm[k] - 1/2 ||y[:, b] - proj[k]||^2``.

    ``xc = xt - center`` and ``y[j, b] = sum_{i <= j} chol[i, j] xc[i, b]`` go
    into the scratch, where :func:`_accumulate` reads ``xc`` back.
    """
    prefer_wide_vectors()
    center = model.center
    chol_tiles = model.chol_tiles
    proj = model.proj
    n_features, n_rows = xt.shape
    n_components = proj.shape[0]
    layout = model.layout
    xc = work[layout[0] : layout[1]]
    y = work[layout[2] : layout[3]]
    for j in range(n_features):
        c = center[j]
        for b in range(n_rows):
            xc[j, b] = xt[j, b] - c
    for t in range(chol_tiles.shape[0]):
        depth = min(4 * t + 4, n_features)
        for first in range(0, n_rows, TILE_COLUMNS):
            triangular_tile(xc, first, chol_tiles[t], depth, y, 4 * t)
    # Two components and two features per sweep, as the diag family's density
    # (one load of y serves two components); with an odd count the last
    # component's second copy goes to the scratch's spare row.
    spare = work[layout[6]]
    n_twos = n_features - n_features % 2
    for k in range(0, n_components, 2):
        k1 = min(k + 1, n_components - 1)
        out0 = logp[k]
        out1 = logp[k1] if k1 > k else spare
        for b in range(n_rows):
            out0[b] = 0.0
            out1[b] = 0.0
        for j in range(0, n_twos, 2):
            p00 = proj[k, j]
            p01 = proj[k, j + 1]
            p10 = proj[k1, j]
            p11 = proj[k1, j + 1]
            for b in range(n_rows):
                y0 = y[j, b]
                y1 = y[j + 1, b]
                t00 = y0 - p00
                t01 = y1 - p01
                t10 = y0 - p10
                t11 = y1 - p11
                out0[b] += t00 * t00 + t01 * t01
                out1[b] += t10 * t10 + t11 * t11
        for j in range(n_twos, n_features):
            p0 = proj[k, j]
            p1 = proj[k1, j]
            for b in range(n_rows):
                t0 = y[j, b] - p0
                t1 = y[j, b] - p1
                out0[b] += t0 * t0
                out1[b] += t1 * t1
        for b in range(n_rows):
            out0[b] = log_norm[k] - 0.5 * out0[b]
            out1[b] = log_norm[k1] - 0.5 * out1[b]


def stats_size(n_components, n_features):
    """Length of one chunk's buffer: ``nk``, ``s1``, ``within``, ``between``."""
    return n_components * (1 + n_features + n_components) + n_features * n_features


@jit
def _accumulate(model, xt, wresp, prob, wt, work, buffer):
    """Add a block's ``nk``, ``s1`` and the two parts of the tied scatter.

    ``buffer`` holds ``nk`` (k), ``s1`` (k, d), ``within`` (d, d) and
    ``between`` (k, k) one after the other, C order; only the lower triangles
    of the last two are written. Uses the unweighted responsibilities ``prob``
    and multiplies by the row weights ``wt`` (through ``sqrt(w)``), never divides
    by them (a subnormal weight would overflow).

    Four small matrix products per block, each by the register tiles of
    :mod:`._tile` (nothing is held in memory between multiply-adds):

    - ``s1 = sum_b w p (x - c) - (sum_b w p) (mu - c)``;
    - ``dev = sqrt(w) (xc - M^T p)``, the row's deviation from its
      responsibility-weighted mean (:func:`._tile.difference_tile`);
    - ``within = dev dev^T`` and ``between = diag(sum_b w p) - sp sp^T`` with
      ``sp = sqrt(w) p`` (:func:`._tile.product_tile`).

    ``xc`` was left in the scratch by :func:`_log_density`.
    """
    prefer_wide_vectors()
    means_c = model.means_c
    mean_tiles = model.mean_tiles
    n_components, n_features = means_c.shape
    n_rows = xt.shape[1]
    layout = model.layout
    n_padded = layout[1] - layout[0]
    k_padded = layout[4] - layout[3]
    xc = work[layout[0] : layout[1]]
    sxc = work[layout[1] : layout[2]]
    dev = work[layout[2] : layout[3]]
    sp = work[layout[3] : layout[4]]
    root = work[layout[4]]
    sums = work[layout[5] : layout[6]].reshape((layout[6] - layout[5]) * n_rows)
    within_sums = k_padded * n_padded
    between_sums = within_sums + n_padded * n_padded
    s1_at = n_components
    within_at = s1_at + n_components * n_features
    between_at = within_at + n_features * n_features
    for b in range(n_rows):
        root[b] = np.sqrt(wt[b])
    for k in range(n_components):
        for b in range(n_rows):
            sp[k, b] = prob[k, b] * root[b]
    for j in range(n_features):
        for b in range(n_rows):
            sxc[j, b] = xc[j, b] * root[b]
    for i in range(between_sums + k_padded * k_padded):
        sums[i] = 0.0
    for k in range(0, n_components, PRODUCT_ROWS):
        for j in range(0, n_features, 4):
            product_tile(sp, k, sxc, j, sums, k * n_padded + j, n_padded)
    for t in range(n_padded // 4):
        for first in range(0, n_rows, TILE_COLUMNS):
            difference_tile(
                prob, first, mean_tiles[t], n_components, xc, 4 * t, root, dev
            )
    # Lower triangles of within (dev dev^T) and of sp sp^T: 2 x 4 tiles left of
    # the diagonal, a symmetric 4 x 4 tile on it (one loop for both, so that
    # the tiles' code is compiled once).
    for part in range(2):
        rows = dev if part == 0 else sp
        count = n_features if part == 0 else n_components
        stride = n_padded if part == 0 else k_padded
        base = within_sums if part == 0 else between_sums
        for j in range(0, count, 4):
            for i in range(0, j, 4):
                for top in range(j, j + 4, PRODUCT_ROWS):
                    at = base + top * stride + i
                    product_tile(rows, top, rows, i, sums, at, stride)
            symmetric_tile(rows, j, sums, base + j * stride + j, stride)
    for k in range(n_components):
        total = 0.0
        for b in range(n_rows):
            total += wresp[k, b]
        buffer[k] += total
        for j in range(n_features):
            buffer[s1_at + k * n_features + j] += (
                sums[k * n_padded + j] - total * means_c[k, j]
            )
        for m in range(k):
            buffer[between_at + k * n_components + m] -= sums[
                between_sums + k * k_padded + m
            ]
        buffer[between_at + k * n_components + k] += (
            total - sums[between_sums + k * k_padded + k]
        )
    for j in range(n_features):
        for i in range(j + 1):
            buffer[within_at + j * n_features + i] += sums[
                within_sums + j * n_padded + i
            ]


register_family(
    TiedModel, block=BLOCK, log_density=_log_density, accumulate=_accumulate
)
