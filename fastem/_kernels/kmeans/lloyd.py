"""The full Lloyd pass: every row against every center, in one parallel pass.

One pass over the rows does all O(n) work of a Lloyd iteration (Lloyd, "Least
squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982): the nearest
center of every row, the squared distance to it (the inertia) and the
per-cluster weighted sums and weights from which the next centers follow.

The rows are split into a fixed number of chunks (:mod:`.._reduce`); each chunk
owns its statistics buffers, which are summed in chunk order afterwards, so the
result does not depend on the thread count. Inside a chunk, :func:`lloyd_chunks`
runs the float64 distance tile (:mod:`.tiles`) block by block. It
reports the inertia from the expanded form ``||x||^2 + min_c(||c||^2 - 2 x.c)``;
where it must be exact (the fitted ``inertia_``), :func:`assigned_sq_distances`
recomputes ``||x - c||^2`` for the assigned centers in one cheap extra pass.
"""

import numpy as np

from ..._config import jit
from .._reduce import chunk_bounds
from .state import clear_emptied
from .tiles import GROUP, LLOYD_FASTMATH, prepare_centers


@jit(fastmath=LLOYD_FASTMATH)
def lloyd_chunks(
    first,
    last,
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
    """Assign rows to their nearest center and accumulate per-chunk statistics.

    Serial and ``nogil``, over chunks ``first .. last - 1`` of ``sums.shape[0]``
    (:func:`fastem._config.run_chunks` runs ranges of chunks on several threads).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
        The data.
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Row weights; length 0 means all ones.
    centers : ndarray of shape (n_clusters, n_features), float64
        Centers, in the frame shifted by ``shift``.
    shift : ndarray of shape (n_features,), float64
        Subtracted from every row before any arithmetic.
    block : int
        Rows per block (see :func:`block_rows`).
    labels : ndarray of shape (n_samples,), int32
        Output: nearest center of every row.
    sums : ndarray of shape (n_chunks, n_clusters, n_features), float64
        Output: per chunk, the weighted sum of the shifted rows of each cluster.
    weights : ndarray of shape (n_chunks, n_clusters), float64
        Output: per chunk, the total weight of each cluster.
    inertia : ndarray of shape (n_chunks,), float64
        Output: per chunk, the weighted sum of squared distances to the nearest
        center, from the expanded form ``||x||^2 + ||c||^2 - 2 x.c`` (use
        :func:`assigned_sq_distances` for the direct form).
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
    n_clusters = centers.shape[0]
    n_features_padded = -(-n_features // GROUP) * GROUP
    n_groups = n_features_padded // GROUP
    scaled, norms = prepare_centers(centers, n_features_padded)
    weighted = sample_weight.shape[0] > 0
    # Padding features of xt stay zero (and add nothing to the tile's sums).
    xt = np.empty((n_features_padded, block))
    for f in range(n_features, n_features_padded):
        for b in range(block):
            xt[f, b] = 0.0
    best = np.empty(block)
    best_label = np.empty(block, dtype=np.int64)
    acc0 = np.empty(block)
    acc1 = np.empty(block)
    row_norms = np.empty(block)
    row_weights = np.empty(block)
    # Per-lane partial inertia: a vectorisable sum in a fixed order.
    lane_inertia = np.empty(block)
    for chunk in range(first, last):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        chunk_sums = sums[chunk]
        chunk_weights = weights[chunk]
        if not update:
            for j in range(n_clusters):
                chunk_weights[j] = 0.0
                for f in range(n_features):
                    chunk_sums[j, f] = 0.0
        for b in range(block):
            lane_inertia[b] = 0.0
        n_changed = 0
        for row in range(start, stop, block):
            count = min(block, stop - row)
            # The block, shifted and transposed; columns past count are zeros.
            for b in range(count):
                for f in range(n_features):
                    xt[f, b] = np.float64(X[row + b, f]) - shift[f]
            for f in range(n_features):
                for b in range(count, block):
                    xt[f, b] = 0.0
            if with_inertia:
                for b in range(block):
                    row_norms[b] = 0.0
                for f in range(n_features):
                    for b in range(block):
                        row_norms[b] += xt[f, b] * xt[f, b]
            # The tile: for each pair of centers, ||c||^2 - 2 x.c over the
            # block, four features at a time, keeping the smallest (the first
            # center on ties). See the module docstring of .tiles.
            for b in range(block):
                best[b] = np.inf
                best_label[b] = 0
            for j in range(0, scaled.shape[0], 2):
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
                    first_group = g == 0
                    last_group = g == n_groups - 1
                    if first_group and last_group:
                        for b in range(block):
                            t0 = (
                                n0
                                + c00 * x0[b]
                                + c01 * x1[b]
                                + c02 * x2[b]
                                + c03 * x3[b]
                            )
                            t1 = (
                                n1
                                + c10 * x0[b]
                                + c11 * x1[b]
                                + c12 * x2[b]
                                + c13 * x3[b]
                            )
                            m = best[b]
                            lab = best_label[b]
                            lab = j if t0 < m else lab
                            m = t0 if t0 < m else m
                            lab = j + 1 if t1 < m else lab
                            m = t1 if t1 < m else m
                            best[b] = m
                            best_label[b] = lab
                    elif first_group:
                        for b in range(block):
                            t0 = (
                                n0
                                + c00 * x0[b]
                                + c01 * x1[b]
                                + c02 * x2[b]
                                + c03 * x3[b]
                            )
                            t1 = (
                                n1
                                + c10 * x0[b]
                                + c11 * x1[b]
                                + c12 * x2[b]
                                + c13 * x3[b]
                            )
                            acc0[b] = t0
                            acc1[b] = t1
                    elif last_group:
                        for b in range(block):
                            t0 = (
                                acc0[b]
                                + c00 * x0[b]
                                + c01 * x1[b]
                                + c02 * x2[b]
                                + c03 * x3[b]
                            )
                            t1 = (
                                acc1[b]
                                + c10 * x0[b]
                                + c11 * x1[b]
                                + c12 * x2[b]
                                + c13 * x3[b]
                            )
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
                            # Both sums before either store: the compiler cannot
                            # tell that acc0 and xt do not overlap and would load
                            # every x* twice.
                            t0 = (
                                acc0[b]
                                + c00 * x0[b]
                                + c01 * x1[b]
                                + c02 * x2[b]
                                + c03 * x3[b]
                            )
                            t1 = (
                                acc1[b]
                                + c10 * x0[b]
                                + c11 * x1[b]
                                + c12 * x2[b]
                                + c13 * x3[b]
                            )
                            acc0[b] = t0
                            acc1[b] = t1
            for b in range(count):
                row_weights[b] = sample_weight[row + b] if weighted else 1.0
            for b in range(count, block):
                row_weights[b] = 0.0
            if with_inertia:
                for b in range(block):
                    # ||x - c||^2 = ||x||^2 + (||c||^2 - 2 x.c), clipped at 0
                    dist = row_norms[b] + best[b]
                    lane_inertia[b] += row_weights[b] * (0.0 if dist < 0.0 else dist)
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
            clear_emptied(chunk_sums, chunk_weights)
        changed[chunk] = n_changed
        if with_inertia:
            total = 0.0
            for b in range(block):
                total += lane_inertia[b]
            inertia[chunk] = total


@jit(fastmath=LLOYD_FASTMATH)
def assigned_sq_distances(
    first, last, X, sample_weight, centers, shift, labels, out, inertia
):
    """Squared distance of every row to its given center, and chunked inertia.

    ``out[i] = ||x_i - shift - centers[labels[i]]||^2`` (unweighted);
    ``inertia[chunk]`` is the weighted sum over the rows of that chunk. Over
    chunks ``first .. last - 1`` of ``inertia.shape[0]``.
    """
    n_samples, n_features = X.shape
    n_chunks = inertia.shape[0]
    weighted = sample_weight.shape[0] > 0
    for chunk in range(first, last):
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


@jit(fastmath=LLOYD_FASTMATH)
def distances(first, last, n_chunks, X, centers, shift, out):
    """Euclidean distance of every row to every center, written into ``out``.

    For the rows of chunks ``first .. last - 1`` of ``n_chunks``.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    for chunk in range(first, last):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        for i in range(start, stop):
            for j in range(n_clusters):
                dist = 0.0
                for f in range(n_features):
                    diff = (np.float64(X[i, f]) - shift[f]) - centers[j, f]
                    dist += diff * diff
                out[i, j] = np.sqrt(dist)


@jit
def is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is a function of ``labels1`` (same partition)."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    for i in range(labels1.shape[0]):
        a = labels1[i]
        if mapping[a] == -1:
            mapping[a] = labels2[i]
        elif mapping[a] != labels2[i]:
            return False
    return True
