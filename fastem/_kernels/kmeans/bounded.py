"""The bounded Lloyd pass: Hamerly's bounds skip the rows whose label is proven.

Within a fit, :func:`lloyd_bounded_chunks` keeps Hamerly's two bounds per row
(Hamerly, "Making k-means even faster", SIAM International Conference on Data
Mining (SDM), 2010): an upper bound of its distance to its center and a lower
bound of its distance to every other center, two arrays of n floats. It moves
them by how far the centers moved. Rows whose bounds prove that their label
cannot change skip the comparison with every center (tightening the upper bound
with the exact distance first, while that proves often enough to pay); the
others go, gathered ``block`` at a time, through the float32 tile
(:func:`.tiles.nearest_two_in_block`), which also reports the runner-up for the
new lower bound, and through the float64 tile where float32 cannot decide (see
:mod:`.tiles`). Both bounds carry a margin far above the rounding error of the
expanded distance, so the labels are exactly those of the full pass
(:mod:`.lloyd`). The gathered rows are prefetched when they lie far apart.
"""

import numpy as np

from ..._config import jit
from .._prefetch import prefetch_row
from .._reduce import chunk_bounds
from .state import clear_emptied
from .tiles import (
    AHEAD,
    GROUP,
    LLOYD_FASTMATH,
    SAFE32,
    TINY32,
    float32_error_factor,
    gather_rows,
    nearest_two_in_block,
    prepare_centers,
    squared_norms,
)

#: Safety margin of the distance bounds, in units of ``eps * (||x||^2 + ||c||^2)``
#: per feature: far above the rounding error of any squared distance computed
#: here, so a row whose bounds exclude every other center has the same label as
#: the full computation would give.
_MARGIN_PER_FEATURE = 16.0
_EPS = float(np.finfo(np.float64).eps)
#: Rows tested against their bounds before the remaining ones are compared with
#: every center, in units of ``block``.
WINDOW_BLOCKS = 4

#: Rows per window whose upper bound is always tightened (a sample of how
#: often tightening proves the label).
_TIGHTEN_SAMPLE = 16
#: The other rows are tightened only while it proves the label of at least one
#: in this many of the rows tried (below that it costs more than it saves).
_TIGHTEN_RATIO = 4

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


@jit
def _sq_distance(X, i, shift, centers, label):
    """``||X[i] - shift - centers[label]||^2`` (reassociated: a vector reduction)."""
    dist = 0.0
    for f in range(X.shape[1]):
        diff = (np.float64(X[i, f]) - shift[f]) - centers[label, f]
        dist += diff * diff
    return dist


@jit(fastmath=LLOYD_FASTMATH)
def lloyd_bounded_chunks(
    first,
    last,
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
    """As :func:`.lloyd.lloyd_chunks`, skipping rows whose bounds prove their label.

    Hamerly's bounds: ``upper[i]`` is at least the distance of row ``i`` to its
    center ``labels_in[i]`` and ``lower[i]`` at most its distance to any other
    center, both for the centers of the previous pass; ``moves[j]`` is how far
    center ``j`` has moved since, ``other_moves[j]`` the largest move of the
    other centers and ``half_gaps[j]`` half the distance from center ``j`` to
    its nearest other center. A row keeps its label when ``upper < lower`` or
    ``upper < half_gaps[label]`` after the moves (first with the stored upper
    bound, then, while that proves often enough, with the exact distance); only
    the other rows are compared with every center. The bounds are float32,
    rounded outwards, and carry a margin well above rounding, so the labels are
    those of the full computation. ``initialized=False`` compares every row.

    The rows left are compared with every center in float32 first: a row whose
    two smallest float32 values differ by more than twice their error bound
    (:func:`float32_error_factor`) has the label the float64 computation would
    give; the others are compared again in float64.

    With ``update=False`` (needed with sample weights) ``sums`` and ``weights``
    are computed over all rows, in order, as in :func:`.lloyd.lloyd_chunks`. With
    ``update=True`` they must hold the statistics of ``labels_in`` (from the
    previous pass, unweighted) and only the rows that changed cluster are read
    to update them: the weights (counts) stay exact, the sums differ from a
    fresh sum by rounding only; ``changed[chunk]`` then counts those rows.

    Serial and ``nogil``, over chunks ``first .. last - 1`` of ``sums.shape[0]``.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = sums.shape[0]
    n_features_padded = -(-n_features // GROUP) * GROUP
    scaled, norms = prepare_centers(centers, n_features_padded)
    max_norm = 0.0
    for j in range(n_clusters):
        max_norm = max(max_norm, norms[j])
    margin = _MARGIN_PER_FEATURE * (n_features + 4) * _EPS
    scaled32 = scaled.astype(np.float32)
    norms32 = norms.astype(np.float32)
    error32 = float32_error_factor(n_features_padded)
    weighted = sample_weight.shape[0] > 0
    for chunk in range(first, last):
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
            # int64 from the start: with a literal 0, Numba's type inference
            # would also compile gather_rows for the type Literal[int](0).
            n_pending = np.int64(0)
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
                    if t + AHEAD < n_tight:
                        prefetch_row(X, tight[t + AHEAD])
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
            # 2. The other rows against every center in float32, ``block`` rows
            # at a time; the rows whose float32 margin is too thin go to 2b.
            # Rows far apart are prefetched (near ones the hardware foresees).
            sparse = 2 * n_pending < end - row
            n_fallback = np.int64(0)
            for head in range(0, n_pending, block):
                count = min(block, n_pending - head)
                lanes = min(block, -(-count // 8) * 8)
                gather_rows(
                    X, pending, head, count, lanes, n_pending, sparse, shift, xt32
                )
                # Norms of the rounded rows: within 3u of the exact ones, which
                # the error bound allows for.
                squared_norms(xt32, lanes, row_norms)
                nearest_two_in_block(
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
                    error = error32 * scale + TINY32 * (1.0 + scale)
                    low_b = np.float64(best32[b])
                    second_b = np.float64(second32[b])
                    slack = 2.0 * margin * (norm + max_norm)
                    up_w[b] = np.sqrt(max(norm + low_b + error + slack, 0.0))
                    low_w[b] = np.sqrt(max(norm + second_b - error - slack, 0.0))
                    decided[b] = (scale < SAFE32) & (second_b - low_b > 2.0 * error)
                # One array per loop: fewer stores in flight per iteration.
                for b in range(count):
                    labels_out[pending[head + b]] = best_label32[b]
                for b in range(count):
                    upper[pending[head + b]] = _up32(up_w[b])
                for b in range(count):
                    lower[pending[head + b]] = _down32(low_w[b])
                for b in range(count):
                    if not decided[b]:  # rare
                        fallback[n_fallback] = pending[head + b]
                        n_fallback += 1
            # 2b. Rows the float32 pass could not decide, in float64.
            for head in range(0, n_fallback, block):
                count = min(block, n_fallback - head)
                lanes = min(block, -(-count // 8) * 8)
                gather_rows(
                    X, fallback, head, count, lanes, n_fallback, False, shift, xt
                )
                squared_norms(xt, lanes, row_norms)
                nearest_two_in_block(
                    xt, scaled, norms, lanes, best, second, best_label, acc0, acc1
                )
                for b in range(count):
                    i = fallback[head + b]
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
            clear_emptied(chunk_sums, chunk_weights)
        changed[chunk] = n_changed
