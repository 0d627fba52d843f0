"""Lloyd (k-means) passes: the KMeans part of the public kernel layer.

A Lloyd iteration (Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf.
Theory 28(2), 1982) assigns every row to its nearest center and moves each
center to the weighted mean of its rows. :func:`lloyd_step` does the O(n) part
in one parallel pass over ``X``. The unchecked functions below it (leading
underscore) are what :class:`fastem.KMeans` runs after its own validation.
"""

from typing import NamedTuple

import numpy as np

from .._config import parallel_region
from .._kernels._reduce import merge, n_chunks_for
from .._kernels.kmeans import (
    GROUP,
    WINDOW_BLOCKS,
    LloydSums,
    assigned_sq_distances,
    block_rows,
    center_geometry,
    distances,
    is_same_clustering,
    lloyd_bounded_chunks,
    lloyd_chunks,
)

__all__ = ["LloydStep", "lloyd_step"]


class LloydStep(NamedTuple):
    """Statistics of one Lloyd pass (see :func:`lloyd_step`).

    Attributes
    ----------
    labels : ndarray of shape (n_samples,), int32
        Index of the nearest center of every row (the first one on ties).
    sums : ndarray of shape (n_clusters, n_features), float64
        Weighted sum of the rows assigned to each center.
    weights : ndarray of shape (n_clusters,), float64
        Total weight of the rows assigned to each center.
    inertia : float
        Weighted sum of squared distances of the rows to their centers (``nan``
        when the pass was asked not to compute it).
    """

    labels: np.ndarray
    sums: np.ndarray
    weights: np.ndarray
    inertia: float


# --- the unchecked passes (trusted input; the estimator calls these) ----------


def _n_chunks(n_samples, n_clusters, n_features):
    return n_chunks_for(n_samples, n_clusters * n_features + n_clusters + 1)


def _full_pass(
    X,
    sample_weight,
    centers,
    shift,
    labels=None,
    sums=None,
    labels_in=None,
    with_inertia=True,
):
    """Run :func:`~fastem._kernels.kmeans.lloyd_chunks` and merge its buffers.

    ``X`` is C-contiguous float32/float64, ``sample_weight`` float64 of shape
    (n_samples,) or (0,) (unweighted), ``centers`` float64 in the frame shifted
    by ``shift``. ``labels``, if given, is an int32 array of shape (n_samples,)
    to write the labels into (a fit reuses two of them instead of allocating
    one per iteration). ``sums`` (a :class:`LloydSums`) with ``labels_in``, the
    labels of the pass that last used it, lets an unweighted pass update the
    sums with the rows that changed cluster instead of recomputing them.
    Without ``with_inertia`` the step's inertia is ``nan`` (and cheaper). The
    sums are in the shifted frame.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = _n_chunks(n_samples, n_clusters, n_features)
    if labels is None:
        labels = np.empty(n_samples, dtype=np.int32)
    if sums is None:
        sums = LloydSums()
    weighted = sample_weight.shape[0] > 0
    update = sums.prepare(n_chunks, n_clusters, n_features, weighted)
    if labels_in is None:
        labels_in = labels
    inertia = np.full(n_chunks, np.nan)
    changed = np.zeros(n_chunks, dtype=np.int64)
    block = block_rows(-(-n_features // GROUP) * GROUP)
    with parallel_region():
        lloyd_chunks(
            X,
            sample_weight,
            centers,
            shift,
            block,
            labels,
            sums.sums,
            sums.weights,
            inertia,
            labels_in,
            update,
            with_inertia,
            changed,
        )
    cluster_sums, weights = sums.merged(weighted, changed, update)
    return LloydStep(labels, cluster_sums, weights, float(merge(inertia)))


def _bounded_pass(X, sample_weight, centers, shift, labels_in, labels_out, bounds):
    """One Lloyd pass that skips rows whose ``bounds`` prove their label.

    Same input as :func:`_full_pass`, and the same labels, sums and weights
    (the sums in the same order). ``labels_in`` are the labels of the last pass
    with ``bounds`` (any values before the first), ``labels_out`` receives the
    new ones, ``bounds`` (a :class:`LloydBounds`) is moved to ``centers``. The
    inertia is not computed (``nan``).
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    n_chunks = _n_chunks(n_samples, n_clusters, n_features)
    initialized = bounds.centers is not None
    weighted = sample_weight.shape[0] > 0
    update = bounds.prepare(
        n_chunks, n_clusters, n_features, weighted or not initialized
    )
    changed = np.zeros(n_chunks, dtype=np.int64)
    block = block_rows(-(-n_features // GROUP) * GROUP, itemsize=4)
    moves, other_moves, half_gaps = center_geometry(bounds.centers, centers)
    with parallel_region():
        lloyd_bounded_chunks(
            X,
            sample_weight,
            centers,
            shift,
            block,
            WINDOW_BLOCKS * block,
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
    """Per-row squared distances to the assigned centers, and the inertia.

    Direct form ``||x - shift - c||^2``, float64; the inertia is weighted.
    """
    n_samples = X.shape[0]
    n_chunks = n_chunks_for(n_samples, 1)
    out = np.empty(n_samples)
    inertia = np.empty(n_chunks)
    with parallel_region():
        assigned_sq_distances(X, sample_weight, centers, shift, labels, out, inertia)
    return out, float(merge(inertia))


def _distance_matrix(X, centers, shift):
    """Euclidean distances of the rows to the centers, in X's dtype."""
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    with parallel_region():
        distances(X, centers, shift, out)
    return out


def _same_clustering(labels1, labels2, n_clusters):
    """Whether two labelings are the same partition (up to renaming)."""
    return bool(is_same_clustering(labels1, labels2, n_clusters))


def _as_kernel_data(X):
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    return np.ascontiguousarray(X)


def _as_kernel_weights(sample_weight):
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


# --- the public functions -----------------------------------------------------


def lloyd_step(X, centers, sample_weight=None):
    """Statistics of one Lloyd (hard-assignment EM) step, in one pass over X.

    Every row is assigned to its nearest center (the first one on ties); the
    result holds what the next centers and the objective follow from (Lloyd
    1982). The next centers are ``sums / weights[:, None]`` for clusters with
    positive weight. Rows are split into a fixed number of chunks whose
    statistics are summed in chunk order, so the result is the same for any
    thread count.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite data; float32 stays float32 (read as such, accumulated in
        float64), anything else becomes float64.
    centers : array-like of shape (n_clusters, n_features)
        Finite centers.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; ``None`` weights every row 1.

    Returns
    -------
    LloydStep
        A named tuple with fields

        labels : ndarray of shape (n_samples,), int32
            Index of the nearest center of every row.
        sums : ndarray of shape (n_clusters, n_features), float64
            Weighted sum of the rows assigned to each center.
        weights : ndarray of shape (n_clusters,), float64
            Total weight of the rows assigned to each center.
        inertia : float
            Weighted sum of squared distances of the rows to their centers,
            from the expanded form ``||x||^2 + ||c||^2 - 2 x.c`` taken around
            the centers' mean (relative error about ``1e-16`` times
            ``||x - mean||^2 / ||x - c||^2``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import lloyd_step
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
    # Distances are taken around the centers' mean, where the expanded form
    # ||c||^2 - 2 x.c loses the least precision; the sums are shifted back.
    shift = centers.mean(axis=0)
    step = _full_pass(X, sample_weight, centers - shift, shift)
    sums = step.sums + step.weights[:, None] * shift
    return step._replace(sums=sums)
