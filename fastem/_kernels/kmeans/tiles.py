"""Distance tiles: the nearest center of a block of rows, in float64 or float32.

Rows are taken in blocks of ``block`` rows, shifted by ``shift`` (the data mean,
which keeps the expanded distance below free of cancellation) and stored
transposed, in float64, in a small buffer ``xt`` of shape
``(n_features_padded, block)`` that stays in L1 (rows in order in
:func:`.lloyd.lloyd_chunks`, :func:`gather_rows` for rows picked out of
order). For each pair of centers a tile then streams over that block computing

    ||c||^2 - 2 x.c

four features at a time (``||x||^2`` is the same for every center and does not
change the argmin). The innermost loops run over the rows of the block with the
center coordinates held in registers, which is the loop LLVM vectorises; each
load of the partial sums serves eight fused multiply-adds. Features are padded
with zeros to a multiple of four and centers with ``||c||^2 = inf`` to a
multiple of two (:func:`prepare_centers`), so no remainder loops are needed.
The float64 tile that reports the nearest center of each row is written out in
:func:`.lloyd.lloyd_chunks` (its only user: a separately compiled function
costs far more compile time than the same lines inline);
:func:`nearest_two_in_block` also reports the runner-up (for Hamerly's lower
bound).

Float32 comparisons, float64 decisions
--------------------------------------
The bounded pass runs :func:`nearest_two_in_block` in float32, eight rows to a
vector instead of four: the shifted rows and centers are rounded to float32
once, and every value ``||c||^2 - 2 x.c`` then lies within a proven error bound
of the exact one (:func:`float32_error_factor`, after Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., SIAM, 2002, sec. 3.1). A row whose
two smallest values differ by more than twice that bound has the nearest center
any exact computation gives; the few others (near ties, and magnitudes float32
cannot hold) are compared again in float64. Labels are therefore those of the
float64 computation; the bounds widen by the float32 error.

Floating-point policy: these kernels drop ``reassoc`` from fastem's fastmath
set (:data:`LLOYD_FASTMATH`). With it, LLVM vectorises the four-feature sums
along the feature axis instead of along the rows, which is several times slower
here; NumPy-style strict evaluation order also makes the distances easier to
reason about.
"""

import numpy as np

from ..._config import jit
from .._prefetch import prefetch_row

#: fastmath flags of the k-means kernels (fastem's set without ``reassoc``).
LLOYD_FASTMATH = {"contract", "nsz"}

#: Feature group: four features share one pass over the block.
GROUP = 4


def block_rows(n_features_padded, itemsize=8):
    """Rows per block: the transposed block stays within 16 KiB (L1)."""
    rows = 16384 // itemsize // n_features_padded
    return int(max(8, min(256, rows // 8 * 8)))


@jit(fastmath=LLOYD_FASTMATH)
def prepare_centers(centers, n_features_padded):
    """Centers scaled by -2 and padded, and their squared norms (inf if padding)."""
    n_clusters, n_features = centers.shape
    n_padded = n_clusters + n_clusters % 2
    scaled = np.empty((n_padded, n_features_padded))
    norms = np.empty(n_padded)
    for j in range(n_padded):
        for f in range(n_features_padded):
            scaled[j, f] = 0.0
        norms[j] = np.inf
    for j in range(n_clusters):
        total = 0.0
        for f in range(n_features):
            value = centers[j, f]
            scaled[j, f] = -2.0 * value
            total += value * value
        norms[j] = total
    return scaled, norms


@jit(fastmath=LLOYD_FASTMATH)
def nearest_two_in_block(
    xt, scaled, norms, lanes, best, second, best_label, acc0, acc1
):
    """Find the two nearest centers of the first ``lanes`` columns of the block.

    On return ``best[b]`` and ``best_label[b]`` are the minimum of
    ``||c||^2 - 2 x_b.c`` and its center (the first one on ties), ``second[b]``
    the minimum over the other centers.
    """
    n_groups = xt.shape[0] // GROUP
    for b in range(lanes):
        best[b] = np.inf
        second[b] = np.inf
        best_label[b] = 0
    for j in range(0, scaled.shape[0], 2):
        # int32 labels keep the float32 loops eight lanes wide (int64 labels
        # would halve them); they widen to the array's type on store.
        label0 = np.int32(j)
        label1 = np.int32(j + 1)
        n0 = norms[j]
        n1 = norms[j + 1]
        for g in range(n_groups):
            f = g * GROUP
            c00 = scaled[j, f]
            c01 = scaled[j, f + 1]
            c02 = scaled[j, f + 2]
            c03 = scaled[j, f + 3]
            c10 = scaled[j + 1, f]
            c11 = scaled[j + 1, f + 1]
            c12 = scaled[j + 1, f + 2]
            c13 = scaled[j + 1, f + 3]
            x0 = xt[f]
            x1 = xt[f + 1]
            x2 = xt[f + 2]
            x3 = xt[f + 3]
            first = g == 0
            last = g == n_groups - 1
            if first and last:
                for b in range(lanes):
                    t0 = n0 + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = n1 + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    m = best[b]
                    m2 = second[b]
                    lab = best_label[b]
                    m2 = min(m2, max(m, t0))
                    lab = label0 if t0 < m else lab
                    m = t0 if t0 < m else m
                    m2 = min(m2, max(m, t1))
                    lab = label1 if t1 < m else lab
                    m = t1 if t1 < m else m
                    best[b] = m
                    second[b] = m2
                    best_label[b] = lab
            elif first:
                for b in range(lanes):
                    t0 = n0 + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = n1 + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    acc0[b] = t0
                    acc1[b] = t1
            elif last:
                for b in range(lanes):
                    t0 = acc0[b] + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = acc1[b] + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    m = best[b]
                    m2 = second[b]
                    lab = best_label[b]
                    m2 = min(m2, max(m, t0))
                    lab = label0 if t0 < m else lab
                    m = t0 if t0 < m else m
                    m2 = min(m2, max(m, t1))
                    lab = label1 if t1 < m else lab
                    m = t1 if t1 < m else m
                    best[b] = m
                    second[b] = m2
                    best_label[b] = lab
            else:
                for b in range(lanes):
                    t0 = acc0[b] + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = acc1[b] + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    acc0[b] = t0
                    acc1[b] = t1


#: Rows read out of order are prefetched this many rows before their use.
AHEAD = 8

#: Unit roundoff of float32.
_U32 = 2.0**-24
#: Absolute part of the float32 error bound, per unit of ``1 + ||x||^2 + 2
#: max ||c||^2``: covers underflow, where rounding is absolute (at most 2**-150
#: per value or operation, times at most ``2 sqrt(d) (||x|| + ||c||)``), far
#: below this for any realistic ``d``.
TINY32 = 1e-36
#: Above this ``||x||^2 + 2 max ||c||^2`` a row is not compared in float32
#: (no float32 intermediate may overflow).
SAFE32 = 1e30


@jit
def float32_error_factor(n_features_padded):
    """Twice ``gamma_m = m u / (1 - m u)`` for the float32 distance comparisons.

    With ``u`` the float32 unit roundoff and ``m = n_features_padded + 10``:
    each value ``||c||^2 - 2 x.c`` computed in float32 from the float64 shifted
    row and center (each rounded to float32 once, then a chain of
    ``n_features_padded`` multiply-adds onto the rounded ``||c||^2``) is within
    ``gamma_m (||c||^2 + 2 |x|.|c|) <= gamma_m (||x||^2 + 2 max ||c||^2)`` of the
    exact value (the inner-product bound of Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., SIAM, 2002, sec. 3.1), and so is the squared
    norm of the rounded row; the factor 2 is a safety margin.
    """
    m = n_features_padded + 10.0
    return 2.0 * m * _U32 / (1.0 - m * _U32)


@jit(fastmath=LLOYD_FASTMATH)
def gather_rows(X, rows, first, count, lanes, n_rows, prefetch, shift, xt):
    """Copy rows ``rows[first:first + count]`` of X minus ``shift`` into ``xt``.

    Transposed, in ``xt``'s dtype (a float32 ``xt`` rounds each float64
    difference once); columns ``count:lanes`` of the used features are zeroed.
    With ``prefetch``, the row ``AHEAD`` places further in ``rows[:n_rows]``
    is prefetched as each row is copied.
    """
    n_features = X.shape[1]
    for b in range(count):
        i = rows[first + b]
        if prefetch and first + b + AHEAD < n_rows:
            prefetch_row(X, rows[first + b + AHEAD])
        for f in range(n_features):
            xt[f, b] = np.float64(X[i, f]) - shift[f]
    for f in range(n_features):
        for b in range(count, lanes):
            xt[f, b] = 0.0


@jit(fastmath=LLOYD_FASTMATH)
def squared_norms(xt, lanes, norms):
    """``norms[b]``: the squared norm of column ``b < lanes`` of ``xt``, in float64."""
    for b in range(lanes):
        norms[b] = 0.0
    for f in range(xt.shape[0]):
        for b in range(lanes):
            value = np.float64(xt[f, b])
            norms[b] += value * value
