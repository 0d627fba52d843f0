"""Lloyd (k-means) passes: the KMeans part of the public kernel layer.

A Lloyd iteration (Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf.
Theory 28(2), 1982) assigns every row to its nearest center and moves each
center to the weighted mean of its rows. The passes here do the O(n) part, one
parallel pass over ``X`` each, and return the per-cluster weighted sums and
weights the next centers follow from; the small update (and the choice of what
to do with empty clusters) is left to the caller:

- :func:`lloyd_step` is one self-contained pass, every row against every center;
- :func:`lloyd_pass` with a :class:`LloydState` is the pass a driver calls once
  per iteration over the same data: it skips the rows whose Hamerly bounds
  prove their label and updates the sums with the rows that changed cluster,
  with the labels, weights and sums of :func:`lloyd_step`.

Both check their input before any compiled code runs. The unchecked functions
below them (leading underscore) are what :class:`fastem.KMeans` runs after its
own validation.

Examples
--------
A whole k-means fit driven from outside:

>>> import numpy as np
>>> from fastem.kernels import LloydState, lloyd_pass
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 2.0], [4.0, 0.0]])
>>> centers = X[[0, 1]]
>>> state = LloydState(X, n_clusters=2)
>>> for _ in range(10):
...     step = lloyd_pass(X, centers, state)
...     centers = step.sums / step.weights[:, None]  # no empty cluster here
...     if state.n_changed == 0:
...         break
>>> step.labels
array([0, 0, 1, 1, 0], dtype=int32)
>>> centers
array([[ 1.33333333,  0.33333333],
       [10.        ,  1.        ]])
"""

import numbers
from typing import NamedTuple

import numpy as np

from .._config import readonly, run_chunks
from .._kernels._reduce import merge, n_chunks_for
from .._kernels.kmeans import (
    GROUP,
    WINDOW_BLOCKS,
    LloydBounds,
    LloydSums,
    assigned_sq_distances,
    block_rows,
    center_geometry,
    distances,
    is_same_clustering,
    lloyd_bounded_chunks,
    lloyd_chunks,
)

__all__ = ["LloydState", "LloydStep", "lloyd_pass", "lloyd_step"]

#: ``bounded='auto'`` uses Hamerly's bounds when ``n_clusters * n_features``
#: reaches this (measured: slower at d=2, k=8; several times faster at d=16,
#: k=64) ...
_BOUNDS_MIN_WORK = 128
#: ... and a pass has at least this much work (``n_samples * n_clusters *
#: n_features``; about a millisecond of one core): below it the bounds'
#: bookkeeping per pass (center moves, gaps, one more array per row) costs more
#: Python time than the distances it skips (measured: n=1,000, d=32, k=8).
_BOUNDS_MIN_PASS_WORK = 1 << 20


class LloydStep(NamedTuple):
    """Statistics of one Lloyd pass (see :func:`lloyd_step`, :func:`lloyd_pass`).

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
    X, sample_weight = readonly(X), readonly(sample_weight)
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
    run_chunks(
        lloyd_chunks,
        n_chunks,
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
        work=n_samples * n_clusters * n_features,
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
    X, sample_weight = readonly(X), readonly(sample_weight)
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
    run_chunks(
        lloyd_bounded_chunks,
        n_chunks,
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
        work=n_samples * n_clusters * n_features,
    )
    bounds.centers = centers.copy()
    sums, weights = bounds.merged(weighted, changed, update)
    return LloydStep(labels_out, sums, weights, np.nan)


def _assigned_pass(X, sample_weight, centers, shift, labels):
    """Per-row squared distances to the assigned centers, and the inertia.

    Direct form ``||x - shift - c||^2``, float64; the inertia is weighted.
    """
    X, sample_weight = readonly(X), readonly(sample_weight)
    n_samples = X.shape[0]
    n_chunks = n_chunks_for(n_samples, 1)
    out = np.empty(n_samples)
    inertia = np.empty(n_chunks)
    run_chunks(
        assigned_sq_distances,
        n_chunks,
        X,
        sample_weight,
        centers,
        shift,
        labels,
        out,
        inertia,
        work=n_samples * X.shape[1],
    )
    return out, float(merge(inertia))


def _distance_matrix(X, centers, shift):
    """Euclidean distances of the rows to the centers, in X's dtype."""
    X = readonly(X)
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    n_chunks = n_chunks_for(X.shape[0], 1)
    run_chunks(
        distances,
        n_chunks,
        n_chunks,
        X,
        centers,
        shift,
        out,
        work=X.shape[0] * centers.shape[0] * X.shape[1],
    )
    return out


def _same_clustering(labels1, labels2, n_clusters):
    """Whether two labelings are the same partition (up to renaming)."""
    return bool(is_same_clustering(labels1, labels2, n_clusters))


def _carried_pass(X, sample_weight, centers, state):
    """One pass of ``state`` (unchecked): bounded or full, carrying its sums.

    ``centers`` are in the frame of ``state.shift``, and so are the returned
    sums; the labels are ``state``'s own buffer (valid until its next pass).
    """
    labels_in = state._labels[state._n_passes % 2 - 1]
    labels_out = state._labels[state._n_passes % 2]
    carried = state._carried
    if state.bounded:
        step = _bounded_pass(
            X, sample_weight, centers, state.shift, labels_in, labels_out, carried
        )
    else:
        step = _full_pass(
            X,
            sample_weight,
            centers,
            state.shift,
            labels_out,
            carried,
            labels_in,
            with_inertia=False,
        )
    if carried.n_changed is not None:  # counted by the pass itself
        state.n_changed = carried.n_changed
    elif state._n_passes > 0:
        state.n_changed = int(np.count_nonzero(labels_out != labels_in))
    else:
        state.n_changed = None
    state._n_passes += 1
    return step


# --- input checks -------------------------------------------------------------


def _check_real(array, name):
    """Return ``array`` as an ndarray, or raise TypeError unless it is real."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain real numbers, got an array of dtype {array.dtype}."
        )
    return array


def _check_finite(array, name):
    """Raise ValueError if ``array`` holds NaN or infinity.

    A finite float64 sum proves every value finite (NaN and infinity
    propagate), in one pass without a temporary; only a sum that overflows
    needs the elementwise test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = array.sum(dtype=np.float64)
    if np.isfinite(total):
        return
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got NaN or infinity.")


def _check_step_data(X):
    """``X`` for :func:`lloyd_step`: float32 stays, other reals become float64."""
    X = _check_real(X, "X")
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2-d array of shape (n_samples, n_features), got "
            f"X.shape={X.shape}."
        )
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    X = np.ascontiguousarray(X)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X needs at least one row and one column, got {X.shape}.")
    return X


def _check_pass_data(X):
    """``X`` for a :class:`LloydState`: a float32 or float64 2-d ndarray."""
    if not isinstance(X, np.ndarray):
        raise TypeError(
            f"X must be a NumPy array (the same one on every pass), got "
            f"{type(X).__name__}."
        )
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"X must be float32 or float64, got {X.dtype}: convert it once, "
            "before the first pass (e.g. X.astype(np.float64))."
        )
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X must be a 2-d array with at least one row and one column, got "
            f"X.shape={X.shape}."
        )
    return np.ascontiguousarray(X)


def _check_centers(centers, shape):
    """``centers`` as finite float64 of ``shape`` (n_clusters, n_features)."""
    centers = _check_real(centers, "centers")
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != shape[1]:
        raise ValueError(
            "X and centers must be 2-d arrays with the same number of columns, "
            f"got centers.shape={centers.shape} for {shape[1]} columns of X."
        )
    if shape[0] is not None and centers.shape[0] != shape[0]:
        raise ValueError(
            f"centers must have shape {shape} (the state's n_clusters), got "
            f"{centers.shape}."
        )
    if centers.shape[0] < 1:
        raise ValueError("centers needs at least one row.")
    if not np.all(np.isfinite(centers)):
        raise ValueError("centers must be finite, got NaN or infinity.")
    return centers


def _check_weights(sample_weight, n_samples):
    """Non-negative finite float64 weights of shape (n_samples,), or (0,)."""
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    weights = _check_real(sample_weight, "sample_weight")
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected ({n_samples},)."
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite, got NaN or infinity.")
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative.")
    return weights


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
        float64), any other real dtype becomes float64.
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

    Raises
    ------
    TypeError
        If ``X``, ``centers`` or ``sample_weight`` are not real numbers.
    ValueError
        If their shapes do not match, or they hold NaN or infinity, or a weight
        is negative.

    See Also
    --------
    lloyd_pass : The same statistics over many iterations, skipping the rows
        whose label is proven.

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
    X = _check_step_data(X)
    centers = _check_centers(centers, (None, X.shape[1]))
    sample_weight = _check_weights(sample_weight, X.shape[0])
    _check_finite(X, "X")
    # Distances are taken around the centers' mean, where the expanded form
    # ||c||^2 - 2 x.c loses the least precision; the sums are shifted back.
    shift = centers.mean(axis=0)
    step = _full_pass(X, sample_weight, centers - shift, shift)
    sums = step.sums + step.weights[:, None] * shift
    return step._replace(sums=sums)


class LloydState:
    """What Lloyd passes over one data set carry from one iteration to the next.

    Made once for ``X`` and handed to :func:`lloyd_pass` on every iteration of
    a k-means fit over that same ``X``, it lets each pass skip the rows whose
    label is proven (Hamerly, "Making k-means even faster", SIAM International
    Conference on Data Mining (SDM), 2010) and update the cluster sums with the
    rows that changed cluster instead of summing every row again. The labels,
    weights and sums are nevertheless those of :func:`lloyd_step` with the same
    centers (the sums to rounding).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        The data every pass will read (only its shape and dtype are kept, and
        its column means unless ``shift`` is given).
    n_clusters : int
        Number of centers every pass will be given.
    shift : array-like of shape (n_features,), default=None
        The point the distances are computed around: rows and centers are
        shifted by it before any arithmetic, which keeps the expanded distance
        ``||x||^2 + ||c||^2 - 2 x.c`` free of cancellation when it lies near
        the data (it does not change the results beyond rounding). ``None``
        takes the column means of ``X``; a Dask driver may give every block the
        global mean instead of reading each block once more.
    bounded : {'auto', True, False}, default='auto'
        Keep Hamerly's bounds (True) or run full passes that only update the
        sums (False). The bounds pay off when comparing a row with every
        center costs more than reading and writing two bounds; ``'auto'`` uses
        them when ``n_clusters * n_features >= 128`` and a pass is not small
        (``n_samples * n_clusters * n_features >= 2**20``).

    Attributes
    ----------
    n_samples, n_features, n_clusters : int
        The shape of the problem the state was made for.
    dtype : numpy.dtype
        ``X.dtype``.
    shift : ndarray of shape (n_features,), float64
        As the parameter (fixed for the life of the state).
    bounded : bool
        Whether the passes keep Hamerly's bounds.
    labels : ndarray of shape (n_samples,), int32, read-only, or None
        Labels of the last pass (``None`` before the first one).
    n_changed : int or None
        Rows whose label the last pass changed (``None`` after the first pass):
        0 means the iteration has converged strictly.
    n_passes : int
        Passes run so far.

    Notes
    -----
    Besides the labels, the state holds, for the centers of the last pass:
    with ``bounded``, per row an upper bound of the distance to its own center
    and a lower bound of the distance to every other center (float32, rounded
    outwards), and the centers themselves, to measure how far each one moved;
    for unweighted passes, the per-chunk sums and weights of the last labels.
    That is 16 bytes per row with the bounds, 8 without, plus
    ``64 (n_clusters n_features + n_clusters)`` float64 values at most.

    Every pass must be given the same ``X`` (the same values: the bounds and
    sums describe those rows) and centers in the coordinates of ``X``, the same
    frame on every call (do not re-center ``X`` or the centers between calls).
    Sample weights may change between passes (weighted passes recompute the
    sums). A state is not safe to use from two threads at once; make one per
    data block.
    """

    def __init__(self, X, n_clusters, *, shift=None, bounded="auto"):
        X = _check_pass_data(X)
        if not isinstance(n_clusters, numbers.Integral) or isinstance(n_clusters, bool):
            raise TypeError(f"n_clusters must be an int, got {n_clusters!r}.")
        if n_clusters < 1:
            raise ValueError(f"n_clusters must be at least 1, got {n_clusters}.")
        n_samples, n_features = X.shape
        if shift is None:
            with np.errstate(over="ignore", invalid="ignore"):
                shift = X.mean(axis=0, dtype=np.float64)
            if not np.all(np.isfinite(shift)):
                _check_finite(X, "X")
                raise ValueError("The column means of X overflow: give a finite shift.")
        else:
            shift = np.array(_check_real(shift, "shift"), dtype=np.float64)
            if shift.shape != (n_features,):
                raise ValueError(
                    f"shift must have shape ({n_features},), got {shift.shape}."
                )
            if not np.all(np.isfinite(shift)):
                raise ValueError("shift must be finite, got NaN or infinity.")
        if isinstance(bounded, str) and bounded == "auto":
            bounded = (
                n_clusters * n_features >= _BOUNDS_MIN_WORK
                and n_samples * n_clusters * n_features >= _BOUNDS_MIN_PASS_WORK
            )
        elif not isinstance(bounded, (bool, np.bool_)):
            raise ValueError(f"bounded must be 'auto', True or False, got {bounded!r}.")
        self.n_samples = n_samples
        self.n_features = n_features
        self.n_clusters = int(n_clusters)
        self.dtype = X.dtype
        self.shift = shift
        self.bounded = bool(bounded)
        self.n_changed = None
        self._n_passes = 0
        self._carried = LloydBounds(n_samples) if self.bounded else LloydSums()
        # The last pass's labels and the ones before: each pass reads one
        # buffer and writes the other.
        self._labels = np.zeros((2, n_samples), dtype=np.int32)

    @property
    def n_passes(self):
        """Passes run so far."""
        return self._n_passes

    @property
    def labels(self):
        """Labels of the last pass, read-only (``None`` before the first)."""
        if self._n_passes == 0:
            return None
        view = self._labels[(self._n_passes - 1) % 2].view()
        view.flags.writeable = False
        return view

    def __repr__(self):
        return (
            f"LloydState(n_samples={self.n_samples}, n_features={self.n_features}, "
            f"n_clusters={self.n_clusters}, bounded={self.bounded}, "
            f"n_passes={self._n_passes})"
        )


def lloyd_pass(
    X, centers, state, sample_weight=None, *, with_inertia=False, check_finite=True
):
    """One Lloyd pass that carries ``state`` over from the previous one.

    The pass a driver (a loop over iterations, a streaming fit, one Dask block
    per state) calls once per k-means iteration. It returns exactly what
    :func:`lloyd_step` returns for the same ``X``, ``centers`` and weights: the
    same labels, the same weights and the same sums up to rounding. With
    ``state.bounded`` it moves Hamerly's bounds (Hamerly 2010) by how far the
    centers moved since the last pass and compares only the rows they do not
    prove with every center; without sample weights it updates the cluster sums
    with the rows that changed cluster, so proven rows are not read at all.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        The data the state was made for: the same values on every call
        (C-contiguous; other layouts are copied on every call).
    centers : array-like of shape (n_clusters, n_features)
        Finite centers, in the coordinates of ``X`` (not shifted by
        ``state.shift``), the same frame on every call.
    state : LloydState
        Made for ``X`` and ``n_clusters``; updated in place to these centers.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; ``None`` weights every row 1. Weighted passes
        recompute the sums over every row.
    with_inertia : bool, default=False
        Also compute the inertia, from the exact ``||x - c||^2`` of every row to
        its new center (one more pass over ``X``); otherwise it is ``nan``.
    check_finite : bool, default=True
        Check that ``X`` holds no NaN or infinity: one more read of ``X``,
        comparable to a late bounded pass, which reads few rows (n=1e6, d=16:
        10 ms against 15-20 ms). Skip it only for data checked before: NaN
        rows would silently get arbitrary labels.

    Returns
    -------
    LloydStep
        ``labels`` (a new int32 array), ``sums``, ``weights`` and ``inertia``,
        as :func:`lloyd_step` defines them.

    Raises
    ------
    TypeError
        If ``X`` is not a float32/float64 ndarray, ``state`` not a
        :class:`LloydState`, or ``centers``/``sample_weight`` not real.
    ValueError
        If ``X``, ``centers`` or ``sample_weight`` do not match ``state`` and
        each other, or hold NaN or infinity, or a weight is negative.

    See Also
    --------
    LloydState : What the pass carries, and the conditions for using it.
    lloyd_step : The same statistics, every row against every center.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import LloydState, lloyd_pass
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 2.0]])
    >>> state = LloydState(X, 2, bounded=True)
    >>> step = lloyd_pass(X, [[0.0, 0.0], [9.0, 0.0]], state, with_inertia=True)
    >>> step.labels, step.inertia
    (array([0, 0, 1, 1], dtype=int32), 7.0)
    >>> step = lloyd_pass(X, step.sums / step.weights[:, None], state)
    >>> state.n_changed
    0
    """
    if not isinstance(state, LloydState):
        raise TypeError(
            f"state must be a LloydState made for X, got {type(state).__name__}."
        )
    X = _check_pass_data(X)
    expected = (state.n_samples, state.n_features)
    if X.shape != expected or X.dtype != state.dtype:
        raise ValueError(
            f"X does not match state: the state was made for {state.dtype} data "
            f"of shape {expected}, got {X.dtype} data of shape {X.shape}."
        )
    centers = _check_centers(centers, (state.n_clusters, state.n_features))
    sample_weight = _check_weights(sample_weight, X.shape[0])
    if check_finite:
        _check_finite(X, "X")
    shifted = centers - state.shift
    step = _carried_pass(X, sample_weight, shifted, state)
    labels = step.labels.copy()
    sums = step.sums + step.weights[:, None] * state.shift
    inertia = np.nan
    if with_inertia:
        _, inertia = _assigned_pass(X, sample_weight, shifted, state.shift, labels)
    return LloydStep(labels, sums, step.weights, inertia)
