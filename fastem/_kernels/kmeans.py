"""Hard-assignment (Lloyd) statistics for k-means.

One pass over the rows does all O(n) work of a Lloyd iteration: the nearest
centre of every row, the squared distance to it (the inertia) and the
per-cluster weighted sums and weights from which the next centres follow.

Layout of the work
------------------
The rows are split into a fixed number of chunks (:mod:`._reduce`); each chunk
owns its statistics buffers, which are summed in chunk order afterwards, so the
result does not depend on the thread count. Inside a chunk, rows are taken in
blocks of ``block`` rows, shifted by ``shift`` (the data mean, which keeps the
expanded distance below free of cancellation) and stored transposed, in float64,
in a small buffer ``xt`` of shape ``(n_features_padded, block)`` that stays in
L1. For each pair of centres the kernel then streams over that block computing

    ||c||^2 - 2 x.c

four features at a time (``||x||^2`` is the same for every centre and does not
change the argmin). The innermost loops run over the rows of the block with the
centre coordinates held in registers, which is the loop LLVM vectorises; each
load of the partial sums serves eight fused multiply-adds. Features are padded
with zeros to a multiple of four and centres with ``||c||^2 = inf`` to a
multiple of two, so no remainder loops are needed. The fused kernel reports the
inertia from the expanded form ``||x||^2 + min_c(||c||^2 - 2 x.c)``; where it
must be exact (the fitted ``inertia_``), :func:`_assigned_sq_distances`
recomputes ``||x - c||^2`` for the assigned centres in one cheap extra pass.

Skipping rows with distance bounds
----------------------------------
Within a fit, :func:`_lloyd_bounded_chunks` keeps Hamerly's two bounds per row
(an upper bound of its distance to its centre, a lower bound of its distance to
every other centre: two arrays of n floats) and moves them by how far the
centres moved. Rows whose bounds prove that their label cannot change skip the
comparison with every centre (tightening the upper bound with the exact
distance first, while that proves often enough to pay); the others go,
gathered ``block`` at a time, through the same tile, which also reports the
runner-up for the new lower bound. Both bounds carry a margin far above the
rounding error of the expanded distance, so the labels are exactly those of
the full pass. The gathered rows are prefetched when they lie far apart.

Float32 comparisons, float64 decisions
--------------------------------------
The bounded pass runs the tile in float32, eight rows to a vector instead of
four: the shifted rows and centres are rounded to float32 once, and every value
``||c||^2 - 2 x.c`` then lies within a proven error bound of the exact one
(:func:`_float32_error_factor`). A row whose two smallest values differ by more
than twice that bound has the nearest centre any exact computation gives; the
few others (near ties, and magnitudes float32 cannot hold) are compared again
in float64. Labels are therefore those of the float64 computation; the bounds
widen by the float32 error.

Sums from the rows that changed
-------------------------------
Without sample weights, a fit's passes keep their per-chunk sums and weights
(:class:`LloydSums`) and update them with the rows whose label changed,
instead of summing every row again: the weights (counts) stay exact, the sums
differ from a fresh sum by rounding only, and rows whose label the bounds
proved are not read at all. Weighted passes recompute the sums, over the rows
in order.

Floating-point policy: these kernels drop ``reassoc`` from fastem's fastmath
set. With it, LLVM vectorises the four-feature sums along the feature axis
instead of along the rows, which is several times slower here; NumPy-style
strict evaluation order also makes the distances easier to reason about.
"""

from collections import namedtuple

import numpy as np
from numba import prange

from .._config import jit, parallel_region
from ._prefetch import prefetch_row
from ._reduce import chunk_bounds, merge, n_chunks_for

__all__ = ["LloydStep", "lloyd_step"]

#: fastmath flags of the k-means kernels (fastem's set without ``reassoc``).
_FASTMATH = {"contract", "nsz"}

#: Feature group: four features share one pass over the block.
_GROUP = 4


def _block_rows(n_features_padded, itemsize=8):
    """Rows per block: the transposed block stays within 16 KiB (L1)."""
    rows = 16384 // itemsize // n_features_padded
    return int(max(8, min(256, rows // 8 * 8)))


@jit(fastmath=_FASTMATH)
def _prepare_centers(centers, n_features_padded):
    """Centres scaled by -2 and padded, and their squared norms (inf if padding)."""
    n_clusters, n_features = centers.shape
    n_padded = n_clusters + n_clusters % 2
    scaled = np.zeros((n_padded, n_features_padded))
    norms = np.full(n_padded, np.inf)
    for j in range(n_clusters):
        total = 0.0
        for f in range(n_features):
            value = centers[j, f]
            scaled[j, f] = -2.0 * value
            total += value * value
        norms[j] = total
    return scaled, norms


@jit(fastmath=_FASTMATH)
def _load_block(X, start, stop, shift, xt, norms, with_norms):
    """Copy rows ``start:stop`` of X minus ``shift`` into ``xt``, transposed.

    If ``with_norms``, ``norms[b]`` receives the squared norm of the shifted
    row ``b``. Unused columns of ``xt`` (past ``stop``) and padding features
    are zeros.
    """
    n_features = X.shape[1]
    block = xt.shape[1]
    count = stop - start
    for b in range(count):
        for f in range(n_features):
            xt[f, b] = np.float64(X[start + b, f]) - shift[f]
    for f in range(n_features, xt.shape[0]):
        for b in range(block):
            xt[f, b] = 0.0
    for f in range(n_features):
        for b in range(count, block):
            xt[f, b] = 0.0
    if not with_norms:
        return
    for b in range(block):
        norms[b] = 0.0
    for f in range(n_features):
        for b in range(block):
            norms[b] += xt[f, b] * xt[f, b]


@jit(fastmath=_FASTMATH)
def _nearest_in_block(xt, scaled, norms, best, best_label, acc0, acc1):
    """Nearest centre of each row of the block (first one on ties).

    On return ``best_label[b]`` is the index of the centre minimising
    ``||c||^2 - 2 x_b.c`` and ``best[b]`` that minimum.
    """
    block = xt.shape[1]
    n_groups = xt.shape[0] // _GROUP
    for b in range(block):
        best[b] = np.inf
        best_label[b] = 0
    for j in range(0, scaled.shape[0], 2):
        n0 = norms[j]
        n1 = norms[j + 1]
        for g in range(n_groups):
            f = g * _GROUP
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
                for b in range(block):
                    t0 = n0 + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = n1 + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    m = best[b]
                    lab = best_label[b]
                    lab = j if t0 < m else lab
                    m = t0 if t0 < m else m
                    lab = j + 1 if t1 < m else lab
                    m = t1 if t1 < m else m
                    best[b] = m
                    best_label[b] = lab
            elif first:
                for b in range(block):
                    t0 = n0 + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = n1 + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    acc0[b] = t0
                    acc1[b] = t1
            elif last:
                for b in range(block):
                    t0 = acc0[b] + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = acc1[b] + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    m = best[b]
                    lab = best_label[b]
                    lab = j if t0 < m else lab
                    m = t0 if t0 < m else m
                    lab = j + 1 if t1 < m else lab
                    m = t1 if t1 < m else m
                    best[b] = m
                    best_label[b] = lab
            else:
                for b in range(block):
                    # Both sums before either store: the compiler cannot tell that
                    # acc0 and xt do not overlap and would load every x* twice.
                    t0 = acc0[b] + c00 * x0[b] + c01 * x1[b] + c02 * x2[b] + c03 * x3[b]
                    t1 = acc1[b] + c10 * x0[b] + c11 * x1[b] + c12 * x2[b] + c13 * x3[b]
                    acc0[b] = t0
                    acc1[b] = t1


@jit
def _clear_emptied(chunk_sums, chunk_weights):
    """Zero the sums of clusters left without rows (no rounding residue)."""
    for j in range(chunk_weights.shape[0]):
        if chunk_weights[j] == 0.0:
            chunk_sums[j, :] = 0.0


@jit(parallel=True, fastmath=_FASTMATH)
def _lloyd_chunks(
    X,
    sample_weight,
    centers,
    shift,
    block,
    labels,
    sums,
    weights,
    inertia,
    labels_in,
    update,
    with_inertia,
    changed,
):
    """Assign rows to their nearest centre and accumulate per-chunk statistics.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
        The data.
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Row weights; length 0 means all ones.
    centers : ndarray of shape (n_clusters, n_features), float64
        Centres, in the frame shifted by ``shift``.
    shift : ndarray of shape (n_features,), float64
        Subtracted from every row before any arithmetic.
    block : int
        Rows per block (see :func:`_block_rows`).
    labels : ndarray of shape (n_samples,), int32
        Output: nearest centre of every row.
    sums : ndarray of shape (n_chunks, n_clusters, n_features), float64
        Output: per chunk, the weighted sum of the shifted rows of each cluster.
    weights : ndarray of shape (n_chunks, n_clusters), float64
        Output: per chunk, the total weight of each cluster.
    inertia : ndarray of shape (n_chunks,), float64
        Output: per chunk, the weighted sum of squared distances to the nearest
        centre, from the expanded form ``||x||^2 + ||c||^2 - 2 x.c`` (use
        :func:`_assigned_sq_distances` for the direct form).
    labels_in : ndarray of shape (n_samples,), int32
        With ``update``: the labels that ``sums`` and ``weights`` hold the
        statistics of (unread otherwise).
    update : bool
        Update ``sums`` and ``weights`` (unweighted, per-chunk statistics of
        ``labels_in``) with the rows that changed cluster, instead of
        recomputing them: the weights stay exact, the sums differ from a fresh
        sum by rounding only.
    with_inertia : bool
        Compute ``inertia`` (otherwise it is left as it is, and the rows' norms
        are not computed).
    changed : ndarray of shape (n_chunks,), int64
        Output, with ``update``: per chunk, the number of rows whose label
        differs from ``labels_in``.
    """
    n_samples, n_features = X.shape
    n_chunks = sums.shape[0]
    n_features_padded = -(-n_features // _GROUP) * _GROUP
    scaled, norms = _prepare_centers(centers, n_features_padded)
    weighted = sample_weight.shape[0] > 0
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        chunk_sums = sums[chunk]
        chunk_weights = weights[chunk]
        if not update:
            chunk_sums[:, :] = 0.0
            chunk_weights[:] = 0.0
        xt = np.empty((n_features_padded, block))
        best = np.empty(block)
        best_label = np.empty(block, dtype=np.int64)
        acc0 = np.empty(block)
        acc1 = np.empty(block)
        row_norms = np.empty(block)
        row_weights = np.ones(block)
        # Per-lane partial inertia: a vectorisable sum in a fixed order.
        lane_inertia = np.zeros(block)
        n_changed = 0
        for row in range(start, stop, block):
            count = min(block, stop - row)
            _load_block(X, row, row + count, shift, xt, row_norms, with_inertia)
            _nearest_in_block(xt, scaled, norms, best, best_label, acc0, acc1)
            if weighted:
                for b in range(count):
                    row_weights[b] = sample_weight[row + b]
            for b in range(count, block):
                row_weights[b] = 0.0
            if with_inertia:
                for b in range(block):
                    # ||x - c||^2 = ||x||^2 + (||c||^2 - 2 x.c), clipped at 0
                    lane_inertia[b] += row_weights[b] * max(row_norms[b] + best[b], 0.0)
            for b in range(count):
                labels[row + b] = best_label[b]
            if update:
                # xt holds float64(X[i]) - shift: the values a full sum adds.
                for b in range(count):
                    old = labels_in[row + b]
                    label = best_label[b]
                    if label != old:
                        n_changed += 1
                        chunk_weights[old] -= 1.0
                        chunk_weights[label] += 1.0
                        for f in range(n_features):
                            chunk_sums[old, f] -= xt[f, b]
                            chunk_sums[label, f] += xt[f, b]
            else:
                for b in range(count):
                    i = row + b
                    label = best_label[b]
                    w = row_weights[b]
                    chunk_weights[label] += w
                    for f in range(n_features):
                        chunk_sums[label, f] += w * (np.float64(X[i, f]) - shift[f])
        if update:
            _clear_emptied(chunk_sums, chunk_weights)
        changed[chunk] = n_changed
        if with_inertia:
            total = 0.0
            for b in range(block):
                total += lane_inertia[b]
            inertia[chunk] = total


#: Safety margin of the distance bounds, in units of ``eps * (||x||^2 + ||c||^2)``
#: per feature: far above the rounding error of any squared distance computed
#: here, so a row whose bounds exclude every other centre has the same label as
#: the full computation would give.
_MARGIN_PER_FEATURE = 16.0
_EPS = float(np.finfo(np.float64).eps)
#: Rows tested against their bounds before the remaining ones are compared with
#: every centre, in units of ``block``.
_WINDOW_BLOCKS = 4


@jit(fastmath=_FASTMATH)
def _nearest_two_in_block(
    xt, scaled, norms, lanes, best, second, best_label, acc0, acc1
):
    """As :func:`_nearest_in_block`, over the first ``lanes`` columns, with runner-up.

    On return ``best[b]`` and ``best_label[b]`` are the minimum of
    ``||c||^2 - 2 x_b.c`` and its centre (the first one on ties), ``second[b]``
    the minimum over the other centres.
    """
    n_groups = xt.shape[0] // _GROUP
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
            f = g * _GROUP
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


#: Rows per window whose upper bound is always tightened (a sample of how
#: often tightening proves the label).
_TIGHTEN_SAMPLE = 16
#: The other rows are tightened only while it proves the label of at least one
#: in this many of the rows tried (below that it costs more than it saves).
_TIGHTEN_RATIO = 4

#: Rows read out of order are prefetched this many rows before their use.
_AHEAD = 8

#: Unit roundoff of float32.
_U32 = 2.0**-24
#: Absolute part of the float32 error bound, per unit of ``1 + ||x||^2 + 2
#: max ||c||^2``: covers underflow, where rounding is absolute (at most 2**-150
#: per value or operation, times at most ``2 sqrt(d) (||x|| + ||c||)``), far
#: below this for any realistic ``d``.
_TINY32 = 1e-36
#: Above this ``||x||^2 + 2 max ||c||^2`` a row is not compared in float32
#: (no float32 intermediate may overflow).
_SAFE32 = 1e30


@jit
def _float32_error_factor(n_features_padded):
    """Twice ``gamma_m = m u / (1 - m u)`` for the float32 distance comparisons.

    With ``u`` the float32 unit roundoff and ``m = n_features_padded + 10``:
    each value ``||c||^2 - 2 x.c`` computed in float32 from the float64 shifted
    row and centre (each rounded to float32 once, then a chain of
    ``n_features_padded`` multiply-adds onto the rounded ``||c||^2``) is within
    ``gamma_m (||c||^2 + 2 |x|.|c|) <= gamma_m (||x||^2 + 2 max ||c||^2)`` of the
    exact value (Higham, Accuracy and Stability of Numerical Algorithms, 3.1),
    and so is the squared norm of the rounded row; the factor 2 is a safety
    margin.
    """
    m = n_features_padded + 10.0
    return 2.0 * m * _U32 / (1.0 - m * _U32)


#: Relative and absolute (smallest float32 subnormal) steps that move a
#: float64 value far enough for its float32 rounding to land on its safe side.
_STEP32_REL = 2.0**-23
_STEP32_ABS = 2.0**-149


@jit
def _up32(value):
    """``value`` rounded to a float32 at least as large (branch-free)."""
    return np.float32(value + abs(value) * _STEP32_REL + _STEP32_ABS)


@jit
def _down32(value):
    """``value`` rounded to a float32 at most as large (branch-free)."""
    return np.float32(value - abs(value) * _STEP32_REL - _STEP32_ABS)


@jit(fastmath=_FASTMATH)
def _gather_rows(X, rows, first, count, lanes, n_rows, prefetch, shift, xt):
    """Copy rows ``rows[first:first + count]`` of X minus ``shift`` into ``xt``.

    Transposed, in ``xt``'s dtype (a float32 ``xt`` rounds each float64
    difference once); columns ``count:lanes`` of the used features are zeroed.
    With ``prefetch``, the row ``_AHEAD`` places further in ``rows[:n_rows]``
    is prefetched as each row is copied.
    """
    n_features = X.shape[1]
    for b in range(count):
        i = rows[first + b]
        if prefetch and first + b + _AHEAD < n_rows:
            prefetch_row(X, rows[first + b + _AHEAD])
        for f in range(n_features):
            xt[f, b] = np.float64(X[i, f]) - shift[f]
    for f in range(n_features):
        for b in range(count, lanes):
            xt[f, b] = 0.0


@jit(fastmath=_FASTMATH)
def _squared_norms(xt, lanes, norms):
    """``norms[b]``: the squared norm of column ``b < lanes`` of ``xt``, in float64."""
    for b in range(lanes):
        norms[b] = 0.0
    for f in range(xt.shape[0]):
        for b in range(lanes):
            value = np.float64(xt[f, b])
            norms[b] += value * value


@jit
def _sq_distance(X, i, shift, centers, label):
    """``||X[i] - shift - centers[label]||^2`` (reassociated: a vector reduction)."""
    dist = 0.0
    for f in range(X.shape[1]):
        diff = (np.float64(X[i, f]) - shift[f]) - centers[label, f]
        dist += diff * diff
    return dist


@jit(parallel=True, fastmath=_FASTMATH)
def _lloyd_bounded_chunks(
    X,
    sample_weight,
    centers,
    shift,
    block,
    window,
    labels_in,
    labels_out,
    upper,
    lower,
    moves,
    other_moves,
    half_gaps,
    initialized,
    update,
    sums,
    weights,
    changed,
):
    """As :func:`_lloyd_chunks`, skipping rows whose bounds prove their label.

    Hamerly's bounds: ``upper[i]`` is at least the distance of row ``i`` to its
    centre ``labels_in[i]`` and ``lower[i]`` at most its distance to any other
    centre, both for the centres of the previous pass; ``moves[j]`` is how far
    centre ``j`` has moved since, ``other_moves[j]`` the largest move of the
    other centres and ``half_gaps[j]`` half the distance from centre ``j`` to
    its nearest other centre. A row keeps its label when ``upper < lower`` or
    ``upper < half_gaps[label]`` after the moves (first with the stored upper
    bound, then, while that proves often enough, with the exact distance); only
    the other rows are compared with every centre. The bounds are float32,
    rounded outwards, and carry a margin well above rounding, so the labels are
    those of the full computation. ``initialized=False`` compares every row.

    The rows left are compared with every centre in float32 first: a row whose
    two smallest float32 values differ by more than twice their error bound
    (:func:`_float32_error_factor`) has the label the float64 computation would
    give; the others are compared again in float64.

    With ``update=False`` (needed with sample weights) ``sums`` and ``weights``
    are computed over all rows, in order, as in :func:`_lloyd_chunks`. With
    ``update=True`` they must hold the statistics of ``labels_in`` (from the
    previous pass, unweighted) and only the rows that changed cluster are read
    to update them: the weights (counts) stay exact, the sums differ from a
    fresh sum by rounding only; ``changed[chunk]`` then counts those rows.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = sums.shape[0]
    n_features_padded = -(-n_features // _GROUP) * _GROUP
    scaled, norms = _prepare_centers(centers, n_features_padded)
    max_norm = 0.0
    for j in range(n_clusters):
        max_norm = max(max_norm, norms[j])
    margin = _MARGIN_PER_FEATURE * (n_features + 4) * _EPS
    scaled32 = scaled.astype(np.float32)
    norms32 = norms.astype(np.float32)
    error32 = _float32_error_factor(n_features_padded)
    weighted = sample_weight.shape[0] > 0
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        chunk_sums = sums[chunk]
        chunk_weights = weights[chunk]
        if not update:
            chunk_sums[:, :] = 0.0
            chunk_weights[:] = 0.0
        xt = np.zeros((n_features_padded, block))
        best = np.empty(block)
        second = np.empty(block)
        best_label = np.empty(block, dtype=np.int64)
        acc0 = np.empty(block)
        acc1 = np.empty(block)
        row_norms = np.empty(block)
        pending = np.empty(window, dtype=np.int64)
        fallback = np.empty(window, dtype=np.int64)
        tight = np.empty(window, dtype=np.int64)
        bounds_w = np.empty(window)
        up_w = np.empty(block)
        low_w = np.empty(block)
        decided = np.empty(block, dtype=np.bool_)
        xt32 = np.zeros((n_features_padded, block), dtype=np.float32)
        best32 = np.empty(block, dtype=np.float32)
        best_label32 = np.empty(block, dtype=np.int32)
        second32 = np.empty(block, dtype=np.float32)
        acc032 = np.empty(block, dtype=np.float32)
        acc132 = np.empty(block, dtype=np.float32)
        tried_total = 0
        proved_total = 0
        n_changed = 0
        for row in range(start, stop, window):
            end = min(row + window, stop)
            n_pending = 0
            if not initialized:
                for i in range(row, end):
                    pending[n_pending] = i
                    n_pending += 1
            else:
                # 1. Bounds: keep the label where they prove it. Branch-free
                # passes: move every row's bounds, list the rows they do not
                # decide, tighten those with the exact distance, list the rest.
                for i in range(row, end):
                    label = labels_in[i]
                    low = np.float64(lower[i]) - other_moves[label]
                    labels_out[i] = label
                    upper[i] = _up32(np.float64(upper[i]) + moves[label])
                    lower[i] = _down32(low)
                    bounds_w[i - row] = max(low, half_gaps[label])
                n_tight = 0
                for i in range(row, end):
                    tight[n_tight] = i
                    n_tight += 0 if upper[i] < bounds_w[i - row] else 1
                # Tightening pays only when it often proves the label: after
                # the first rows of every window, only if it did so for at
                # least 1 in _TIGHTEN_RATIO of the rows tried in this chunk.
                n_tried = n_tight
                if tried_total > _TIGHTEN_RATIO * proved_total:
                    n_tried = min(n_tight, _TIGHTEN_SAMPLE)
                for t in range(n_tried):
                    i = tight[t]
                    if t + _AHEAD < n_tight:
                        prefetch_row(X, tight[t + _AHEAD])
                    # ||x||^2 <= 2 ||x - c||^2 + 2 ||c||^2 bounds the slack.
                    dist = _sq_distance(X, i, shift, centers, labels_out[i])
                    up = np.sqrt(dist + 2.0 * margin * (2.0 * dist + 3.0 * max_norm))
                    upper[i] = _up32(up)
                    pending[n_pending] = i
                    n_pending += 0 if up < bounds_w[i - row] else 1
                tried_total += n_tried
                proved_total += n_tried - n_pending
                for t in range(n_tried, n_tight):
                    pending[n_pending] = tight[t]
                    n_pending += 1
            # 2. The other rows against every centre in float32, ``block`` rows
            # at a time; the rows whose float32 margin is too thin go to 2b.
            # Rows far apart are prefetched (near ones the hardware foresees).
            sparse = 2 * n_pending < end - row
            n_fallback = 0
            for first in range(0, n_pending, block):
                count = min(block, n_pending - first)
                lanes = min(block, -(-count // 8) * 8)
                _gather_rows(
                    X, pending, first, count, lanes, n_pending, sparse, shift, xt32
                )
                # Norms of the rounded rows: within 3u of the exact ones, which
                # the error bound allows for.
                _squared_norms(xt32, lanes, row_norms)
                _nearest_two_in_block(
                    xt32,
                    scaled32,
                    norms32,
                    lanes,
                    best32,
                    second32,
                    best_label32,
                    acc032,
                    acc132,
                )
                for b in range(count):
                    norm = row_norms[b]
                    scale = norm + 2.0 * max_norm
                    error = error32 * scale + _TINY32 * (1.0 + scale)
                    low_b = np.float64(best32[b])
                    second_b = np.float64(second32[b])
                    slack = 2.0 * margin * (norm + max_norm)
                    up_w[b] = np.sqrt(max(norm + low_b + error + slack, 0.0))
                    low_w[b] = np.sqrt(max(norm + second_b - error - slack, 0.0))
                    decided[b] = (scale < _SAFE32) & (second_b - low_b > 2.0 * error)
                # One array per loop: fewer stores in flight per iteration.
                for b in range(count):
                    labels_out[pending[first + b]] = best_label32[b]
                for b in range(count):
                    upper[pending[first + b]] = _up32(up_w[b])
                for b in range(count):
                    lower[pending[first + b]] = _down32(low_w[b])
                for b in range(count):
                    if not decided[b]:  # rare
                        fallback[n_fallback] = pending[first + b]
                        n_fallback += 1
            # 2b. Rows the float32 pass could not decide, in float64.
            for first in range(0, n_fallback, block):
                count = min(block, n_fallback - first)
                lanes = min(block, -(-count // 8) * 8)
                _gather_rows(
                    X, fallback, first, count, lanes, n_fallback, False, shift, xt
                )
                _squared_norms(xt, lanes, row_norms)
                _nearest_two_in_block(
                    xt, scaled, norms, lanes, best, second, best_label, acc0, acc1
                )
                for b in range(count):
                    i = fallback[first + b]
                    norm = row_norms[b]
                    slack = 2.0 * margin * (norm + max_norm)
                    labels_out[i] = best_label[b]
                    upper[i] = _up32(np.sqrt(max(norm + best[b] + slack, 0.0)))
                    lower[i] = _down32(np.sqrt(max(norm + second[b] - slack, 0.0)))
            # 3. Per-cluster sums, rows in order: all rows, or, when updating,
            # only the rows that changed cluster (out of the old, into the new).
            if update:
                for i in range(row, end):
                    old = labels_in[i]
                    label = labels_out[i]
                    if label != old:
                        n_changed += 1
                        chunk_weights[old] -= 1.0
                        chunk_weights[label] += 1.0
                        for f in range(n_features):
                            value = np.float64(X[i, f]) - shift[f]
                            chunk_sums[old, f] -= value
                            chunk_sums[label, f] += value
            else:
                for i in range(row, end):
                    label = labels_out[i]
                    w = sample_weight[i] if weighted else 1.0
                    chunk_weights[label] += w
                    for f in range(n_features):
                        chunk_sums[label, f] += w * (np.float64(X[i, f]) - shift[f])
        if update:
            _clear_emptied(chunk_sums, chunk_weights)
        changed[chunk] = n_changed


@jit(parallel=True, fastmath=_FASTMATH)
def _assigned_sq_distances(X, sample_weight, centers, shift, labels, out, inertia):
    """Squared distance of every row to its given centre, and chunked inertia.

    ``out[i] = ||x_i - shift - centers[labels[i]]||^2`` (unweighted);
    ``inertia[chunk]`` is the weighted sum over the rows of that chunk.
    """
    n_samples, n_features = X.shape
    n_chunks = inertia.shape[0]
    weighted = sample_weight.shape[0] > 0
    for chunk in prange(n_chunks):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        total = 0.0
        for i in range(start, stop):
            label = labels[i]
            dist = 0.0
            for f in range(n_features):
                diff = (np.float64(X[i, f]) - shift[f]) - centers[label, f]
                dist += diff * diff
            out[i] = dist
            total += (sample_weight[i] if weighted else 1.0) * dist
        inertia[chunk] = total


@jit(parallel=True, fastmath=_FASTMATH)
def _distances(X, centers, shift, out):
    """Euclidean distance of every row to every centre, written into ``out``."""
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    for i in prange(n_samples):
        for j in range(n_clusters):
            dist = 0.0
            for f in range(n_features):
                diff = (np.float64(X[i, f]) - shift[f]) - centers[j, f]
                dist += diff * diff
            out[i, j] = np.sqrt(dist)


@jit
def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is a function of ``labels1`` (same partition)."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    for i in range(labels1.shape[0]):
        a = labels1[i]
        if mapping[a] == -1:
            mapping[a] = labels2[i]
        elif mapping[a] != labels2[i]:
            return False
    return True


LloydStep = namedtuple("LloydStep", ["labels", "sums", "weights", "inertia"])
LloydStep.__doc__ = """Statistics of one Lloyd step (see :func:`lloyd_step`)."""


def _as_kernel_data(X):
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    return np.ascontiguousarray(X)


def _as_kernel_weights(sample_weight):
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


class LloydSums:
    """Per-chunk statistics carried from one Lloyd pass to the next.

    Attributes
    ----------
    sums, weights : ndarray of shape (n_chunks, n_clusters, n_features) and
        (n_chunks, n_clusters), or None
        Per-chunk statistics of the last pass's labels (``None`` before the
        first pass, and after a weighted one: weighted passes recompute them).
    n_changed : int or None
        Rows whose label the last pass changed, if it updated the statistics.
    """

    def __init__(self):
        self.sums = None
        self.weights = None
        self.n_changed = None

    def prepare(self, n_chunks, n_clusters, n_features, recompute):
        """Return whether the next pass can update the statistics.

        It can unless ``recompute`` (weighted rows, or no labels to update
        from) or there are none yet; then they are allocated afresh.
        """
        if self.sums is not None and not recompute:
            return True
        self.sums = np.empty((n_chunks, n_clusters, n_features))
        self.weights = np.empty((n_chunks, n_clusters))
        return False

    def merged(self, weighted, changed, update):
        """Return the merged sums and weights (then forget them if weighted).

        Records in ``n_changed`` how many rows changed cluster since the last
        pass when the pass updated the statistics (``None`` otherwise).
        """
        self.n_changed = int(changed.sum()) if update else None
        result = merge(self.sums), merge(self.weights)
        if weighted:
            self.sums = self.weights = None
        return result


def _lloyd_pass(
    X,
    sample_weight,
    centers,
    shift,
    labels=None,
    state=None,
    labels_in=None,
    with_inertia=True,
):
    """Run :func:`_lloyd_chunks` and merge its buffers (already validated input).

    ``labels``, if given, is an int32 array of shape (n_samples,) to write the
    labels into (a fit reuses two of them instead of allocating one per
    iteration). ``state`` (a :class:`LloydSums`) with ``labels_in``, the labels
    of the pass that last used it, lets an unweighted pass update the sums with
    the rows that changed cluster instead of recomputing them. Without
    ``with_inertia`` the step's inertia is ``nan`` (and cheaper).
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = n_chunks_for(n_samples, n_clusters * n_features + n_clusters + 1)
    if labels is None:
        labels = np.empty(n_samples, dtype=np.int32)
    if state is None:
        state = LloydSums()
    weighted = sample_weight.shape[0] > 0
    update = state.prepare(n_chunks, n_clusters, n_features, weighted)
    if labels_in is None:
        labels_in = labels
    inertia = np.full(n_chunks, np.nan)
    changed = np.zeros(n_chunks, dtype=np.int64)
    block = _block_rows(-(-n_features // _GROUP) * _GROUP)
    with parallel_region():
        _lloyd_chunks(
            X,
            sample_weight,
            centers,
            shift,
            block,
            labels,
            state.sums,
            state.weights,
            inertia,
            labels_in,
            update,
            with_inertia,
            changed,
        )
    sums, weights = state.merged(weighted, changed, update)
    return LloydStep(labels, sums, weights, float(merge(inertia)))


class LloydBounds(LloydSums):
    """Distance bounds carried from one Lloyd pass to the next (Hamerly).

    Parameters
    ----------
    n_samples : int
        Number of rows.

    Attributes
    ----------
    upper, lower : ndarray of shape (n_samples,), float32
        Upper bound of each row's distance to its centre, lower bound of its
        distance to every other centre, for the centres of the last pass
        (rounded up and down to float32).
    centers : ndarray of shape (n_clusters, n_features) or None
        The centres of the last pass (``None`` before the first one).
    sums, weights : ndarray of shape (n_chunks, n_clusters, n_features) and
        (n_chunks, n_clusters), or None
        Per-chunk statistics of the last pass's labels, updated from pass to
        pass when the rows are unweighted.
    """

    def __init__(self, n_samples):
        super().__init__()
        # float32, rounded outwards: half the memory and traffic of float64.
        self.upper = np.empty(n_samples, dtype=np.float32)
        self.lower = np.empty(n_samples, dtype=np.float32)
        self.centers = None


def _center_geometry(previous, centers):
    """Return the centre moves since ``previous``, largest other moves, half-gaps.

    Moves are rounded up and half-gaps down (relative ``1e-12``, far above the
    rounding of these small sums), so the bounds stay valid.
    """
    n_clusters = centers.shape[0]
    if previous is None:
        moves = np.zeros(n_clusters)
    else:
        moves = np.sqrt(((centers - previous) ** 2).sum(axis=1)) * (1.0 + 1e-12)
    if n_clusters == 1:
        return moves, np.zeros(1), np.full(1, np.inf)
    order = np.argsort(moves)
    other_moves = np.full(n_clusters, moves[order[-1]])
    other_moves[order[-1]] = moves[order[-2]]
    gaps = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(gaps, np.inf)
    half_gaps = 0.5 * np.sqrt(gaps.min(axis=1)) * (1.0 - 1e-12)
    return moves, other_moves, half_gaps


def _lloyd_bounded_pass(
    X, sample_weight, centers, shift, labels_in, labels_out, bounds
):
    """One Lloyd pass that skips rows whose ``bounds`` prove their label.

    Same labels, sums and weights as :func:`_lloyd_pass` (the sums in the same
    order); ``labels_in`` are the labels of the last pass with ``bounds`` (any
    values before the first), ``bounds`` is updated to ``centers``. The inertia
    is not computed (``nan``).
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = n_chunks_for(n_samples, n_clusters * n_features + n_clusters + 1)
    initialized = bounds.centers is not None
    weighted = sample_weight.shape[0] > 0
    update = bounds.prepare(
        n_chunks, n_clusters, n_features, weighted or not initialized
    )
    changed = np.zeros(n_chunks, dtype=np.int64)
    block = _block_rows(-(-n_features // _GROUP) * _GROUP, itemsize=4)
    moves, other_moves, half_gaps = _center_geometry(bounds.centers, centers)
    with parallel_region():
        _lloyd_bounded_chunks(
            X,
            sample_weight,
            centers,
            shift,
            block,
            _WINDOW_BLOCKS * block,
            labels_in,
            labels_out,
            bounds.upper,
            bounds.lower,
            moves,
            other_moves,
            half_gaps,
            initialized,
            update,
            bounds.sums,
            bounds.weights,
            changed,
        )
    bounds.centers = centers.copy()
    sums, weights = bounds.merged(weighted, changed, update)
    return LloydStep(labels_out, sums, weights, np.nan)


def _assigned_pass(X, sample_weight, centers, shift, labels):
    """Per-row squared distances to the assigned centres, and the inertia."""
    n_samples = X.shape[0]
    n_chunks = n_chunks_for(n_samples, 1)
    out = np.empty(n_samples)
    inertia = np.empty(n_chunks)
    with parallel_region():
        _assigned_sq_distances(X, sample_weight, centers, shift, labels, out, inertia)
    return out, float(merge(inertia))


def _distance_matrix(X, centers, shift):
    """Euclidean distances of the rows to the centres, in X's dtype."""
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    with parallel_region():
        _distances(X, centers, shift, out)
    return out


def lloyd_step(X, centers, sample_weight=None):
    """Statistics of one Lloyd (hard-assignment EM) step, in one pass over X.

    Every row is assigned to its nearest centre (the first one on ties); the
    result holds what the next centres and the objective follow from. The next
    centres are ``sums / weights[:, None]`` for clusters with positive weight.
    Rows are split into a fixed number of chunks whose statistics are summed in
    chunk order, so the result is the same for any thread count.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite data; float32 stays float32 (read as such, accumulated in
        float64), anything else becomes float64.
    centers : array-like of shape (n_clusters, n_features)
        Finite centres.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; ``None`` weights every row 1.

    Returns
    -------
    LloydStep
        A named tuple with fields

        labels : ndarray of shape (n_samples,), int32
            Index of the nearest centre of every row.
        sums : ndarray of shape (n_clusters, n_features), float64
            Weighted sum of the rows assigned to each centre.
        weights : ndarray of shape (n_clusters,), float64
            Total weight of the rows assigned to each centre.
        inertia : float
            Weighted sum of squared distances of the rows to their centres,
            from the expanded form ``||x||^2 + ||c||^2 - 2 x.c`` taken around
            the centres' mean (relative error about ``1e-16`` times
            ``||x - mean||^2 / ||x - c||^2``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastem._kernels.kmeans import lloyd_step
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 2.0]])
    >>> step = lloyd_step(X, np.array([[0.0, 0.0], [9.0, 0.0]]))
    >>> step.labels
    array([0, 0, 1, 1], dtype=int32)
    >>> step.sums / step.weights[:, None]
    array([[ 0. ,  0.5],
           [10. ,  1. ]])
    >>> step.inertia
    7.0
    """
    X = _as_kernel_data(X)
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    if X.ndim != 2 or centers.ndim != 2 or centers.shape[1] != X.shape[1]:
        raise ValueError(
            "X and centers must be 2-d arrays with the same number of columns, got "
            f"X.shape={X.shape} and centers.shape={centers.shape}."
        )
    if centers.shape[0] < 1 or X.shape[0] < 1:
        raise ValueError("X and centers need at least one row each.")
    sample_weight = _as_kernel_weights(sample_weight)
    if sample_weight.shape[0] not in (0, X.shape[0]):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({X.shape[0]},)."
        )
    # Distances are taken around the centres' mean, where the expanded form
    # ||c||^2 - 2 x.c loses the least precision; the sums are shifted back.
    shift = centers.mean(axis=0)
    step = _lloyd_pass(X, sample_weight, centers - shift, shift)
    sums = step.sums + step.weights[:, None] * shift
    return step._replace(sums=sums)
