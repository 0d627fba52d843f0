import pickle
import threading

import naive_kmeans as naive
import numpy as np
import pytest
import synthetic
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastem import KMeans
from fastem._config import n_threads
from fastem._kernels._moments import column_mean_var
from fastem._kernels.kmeans import LloydBounds, LloydSums
from fastem.kernels import _lloyd
from fastem.kernels._lloyd import (
    LloydState,
    _bounded_pass,
    _full_pass,
    lloyd_pass,
    lloyd_step,
)

#: Well-separated clusters: no row near a decision boundary.
SEPARATED = {"std": 0.5, "center_box": (-30, 30)}


def blobs(n_samples=2000, n_features=4, n_clusters=5, seed=0, dtype=np.float64):
    """Well-separated clusters (no row near a decision boundary)."""
    return synthetic.blobs(
        n_samples, n_features, n_clusters, seed, dtype=dtype, **SEPARATED
    )


def first_rows_of_each_blob(X, n_clusters, seed=0):
    """Initial centers: one data row per blob (a good, deterministic start)."""
    _, y = synthetic.blobs(
        X.shape[0], X.shape[1], n_clusters, seed, return_labels=True, **SEPARATED
    )
    return np.array([X[np.flatnonzero(y == c)[0]] for c in range(n_clusters)])


@pytest.fixture(params=["bounds", "full"])
def fit_passes(request, monkeypatch):
    """Run the fit with Hamerly's bounds for any problem size, or never."""
    threshold = 0 if request.param == "bounds" else np.inf
    monkeypatch.setattr(_lloyd, "_BOUNDS_MIN_WORK", threshold)
    monkeypatch.setattr(_lloyd, "_BOUNDS_MIN_PASS_WORK", threshold)
    return request.param


# --- the kernel against the naive reference ---------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n_samples, n_features, n_clusters",
    [
        (1, 1, 1),  # a single row
        (37, 1, 3),  # one feature, odd number of centers, partial block
        (300, 5, 7),  # features not a multiple of four
        (9000, 8, 64),  # several chunks
        (5000, 17, 2),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_step_matches_naive(n_samples, n_features, n_clusters, dtype, weighted):
    rng = np.random.default_rng(n_samples + n_features)
    X = (rng.standard_normal((n_samples, n_features)) * 3 + 100).astype(dtype)
    centers = X[rng.choice(n_samples, n_clusters, replace=n_samples < n_clusters)]
    centers = centers + rng.standard_normal(centers.shape)
    weights = rng.uniform(0, 3, n_samples) if weighted else None

    step = lloyd_step(X, centers, sample_weight=weights)
    labels, sums, cluster_weights, inertia = naive.lloyd_step(X, centers, weights)

    assert step.labels.dtype == np.int32
    assert_array_equal(step.labels, labels)
    assert_allclose(step.sums, sums, rtol=1e-12, atol=1e-9)
    assert_allclose(step.weights, cluster_weights, rtol=1e-13)
    assert step.inertia == pytest.approx(inertia, rel=1e-11)


def test_lloyd_step_ties_go_to_the_first_center():
    X = np.array([[0.0, 0.0], [1.0, 0.0]])
    centers = np.array([[0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, -1.0]])
    assert_array_equal(lloyd_step(X, centers).labels, [0, 0])
    assert_array_equal(lloyd_step(X, centers[1:3]).labels, [0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n_samples, n_features, n_clusters",
    [(1, 1, 1), (37, 1, 3), (5000, 3, 1), (9000, 16, 64), (20000, 5, 7)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_bounded_pass_equals_full_pass(
    n_samples, n_features, n_clusters, dtype, weighted
):
    # Random (unclustered) data: many rows near decision boundaries. The centers
    # move by Lloyd updates, then one jumps far away and back; every pass must
    # give the labels and weights of the full pass, bit for bit, and its sums:
    # bit for bit when weighted (recomputed), to rounding when unweighted
    # (updated with the rows that changed cluster).
    rng = np.random.default_rng(n_samples + n_clusters)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    shift = X.mean(axis=0, dtype=np.float64)
    weights = rng.uniform(0, 3, n_samples) if weighted else np.empty(0)
    centers = X[rng.choice(n_samples, n_clusters)].astype(np.float64) - shift
    bounds = LloydBounds(n_samples)
    buffers = np.zeros((2, n_samples), dtype=np.int32)
    for iteration in range(8):
        labels_in, labels_out = buffers[(iteration + 1) % 2], buffers[iteration % 2]
        step = _bounded_pass(X, weights, centers, shift, labels_in, labels_out, bounds)
        full = _full_pass(X, weights, centers, shift)
        assert_array_equal(step.labels, full.labels)
        assert_array_equal(step.weights, full.weights)
        if weighted:
            assert_array_equal(step.sums, full.sums)
        else:
            scale = np.abs(X.astype(np.float64) - shift).sum()
            assert_allclose(step.sums, full.sums, rtol=0, atol=1e-14 * scale)
        positive = full.weights > 0
        centers = centers.copy()
        centers[positive] = full.sums[positive] / full.weights[positive, None]
        if iteration == 4:
            centers[0] += 50.0
        elif iteration == 5:
            centers[0] -= 50.0


def _lloyd_passes(X, centers, shift, n_passes, make_step):
    """Yield ``(step, full)`` over ``n_passes`` Lloyd updates from ``centers``."""
    for iteration in range(n_passes):
        step = make_step(iteration, centers)
        full = _full_pass(X, np.empty(0), centers, shift)
        yield step, full
        positive = full.weights > 0
        centers = centers.copy()
        centers[positive] = full.sums[positive] / full.weights[positive, None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["ties", "near-ties", "huge", "tiny", "offset"])
def test_bounded_pass_float32_filter_edge_cases(case, dtype):
    # The float32 comparison must hand every row it cannot decide to float64:
    # exact ties (integer grid, centers on it), near ties (the grid moved by
    # 1e-9, float64 only: float32 data cannot hold it; float32 arithmetic
    # cannot resolve it), values too large for float32 (1e20: beyond the
    # overflow guard), too small (1e-25: gaps below the absolute error floor)
    # and data far from the origin (shifted by its own float32 mean, the
    # direct float32 path).
    rng = np.random.default_rng(7)
    if case == "near-ties" and dtype == np.float32:
        pytest.skip("float32 data cannot hold a 1e-9 offset")
    if case in ("ties", "near-ties"):
        X = rng.integers(0, 4, size=(3000, 4)).astype(dtype)
        if case == "near-ties":
            X += rng.uniform(-1e-9, 1e-9, size=X.shape)
    else:
        X = rng.standard_normal((3000, 6))
        X = {"huge": X * 1e20, "tiny": X * 1e-25, "offset": X + 1e4}[case]
        X = X.astype(dtype)
    shift = X.mean(axis=0).astype(np.float64)
    centers = X[rng.choice(X.shape[0], 40, replace=False)].astype(np.float64) - shift
    bounds = LloydBounds(X.shape[0])
    buffers = np.zeros((2, X.shape[0]), dtype=np.int32)

    def bounded(iteration, centers):
        labels_in, labels_out = buffers[(iteration + 1) % 2], buffers[iteration % 2]
        return _bounded_pass(
            X, np.empty(0), centers, shift, labels_in, labels_out, bounds
        )

    for step, full in _lloyd_passes(X, centers, shift, 5, bounded):
        assert_array_equal(step.labels, full.labels)
        assert_array_equal(step.weights, full.weights)
        scale = np.abs(X.astype(np.float64) - shift).sum()
        assert_allclose(step.sums, full.sums, rtol=0, atol=1e-14 * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_pass_updates_sums_from_changed_rows(dtype):
    # A fit's full passes carry their per-chunk sums and update them with the
    # rows that changed cluster: same labels and weights as a fresh pass, sums
    # to rounding; a weighted pass recomputes them (bit for bit).
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20000, 2)).astype(dtype)
    shift = X.mean(axis=0).astype(np.float64)
    centers = X[rng.choice(X.shape[0], 8, replace=False)].astype(np.float64) - shift
    state = LloydSums()
    buffers = np.zeros((2, X.shape[0]), dtype=np.int32)

    def updated(iteration, centers):
        labels_in, labels_out = buffers[(iteration + 1) % 2], buffers[iteration % 2]
        return _full_pass(X, np.empty(0), centers, shift, labels_out, state, labels_in)

    for step, full in _lloyd_passes(X, centers, shift, 6, updated):
        assert_array_equal(step.labels, full.labels)
        assert_array_equal(step.weights, full.weights)
        scale = np.abs(X.astype(np.float64) - shift).sum()
        assert_allclose(step.sums, full.sums, rtol=0, atol=1e-14 * scale)
    weights = rng.uniform(0, 2, X.shape[0])
    weighted = _full_pass(X, weights, centers, shift, None, state, buffers[0])
    fresh = _full_pass(X, weights, centers, shift)
    assert_array_equal(weighted.sums, fresh.sums)
    assert_array_equal(weighted.weights, fresh.weights)


def test_lloyd_step_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same number of columns"):
        lloyd_step(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        lloyd_step(np.zeros((3, 2)), np.zeros((2, 2)), sample_weight=np.ones(2))


# --- the public bounded pass (LloydState, lloyd_pass) ------------------------


def test_fit_passes_fixture_selects_the_pass(fit_passes):
    state = LloydState(blobs(50, 2, 2), 2)
    assert state.bounded == (fit_passes == "bounds")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bounded", [True, False])
@pytest.mark.parametrize(
    "n_samples, n_features, n_clusters",
    [(1, 1, 1), (37, 1, 3), (9000, 16, 64), (20000, 5, 7)],
)
def test_lloyd_pass_driver_loop_matches_lloyd_step(
    n_samples, n_features, n_clusters, bounded, weighted, dtype
):
    # A driver runs Lloyd iterations with lloyd_pass from the same start as
    # lloyd_step; at every iteration the labels and weights are lloyd_step's
    # exactly, the sums to 1e-12 (rows away from the origin: no sum near zero).
    # One center jumps far away and back, which the bounds must follow.
    rng = np.random.default_rng(n_samples + n_clusters)
    X = (rng.standard_normal((n_samples, n_features)) + 10.0).astype(dtype)
    weights = rng.uniform(0.5, 3.0, n_samples) if weighted else None
    centers = X[rng.choice(n_samples, n_clusters)].astype(np.float64)
    state = LloydState(X, n_clusters, bounded=bounded)
    assert state.bounded is bounded
    assert state.labels is None
    assert_allclose(state.shift, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    previous = None
    for iteration in range(8):
        step = lloyd_pass(X, centers, state, sample_weight=weights)
        ref = lloyd_step(X, centers, sample_weight=weights)
        assert step.labels.dtype == np.int32
        assert_array_equal(step.labels, ref.labels)
        assert_array_equal(step.weights, ref.weights)
        assert_allclose(step.sums, ref.sums, rtol=1e-12, atol=0)
        assert np.isnan(step.inertia)
        assert state.n_passes == iteration + 1
        assert_array_equal(state.labels, ref.labels)
        if previous is None:
            assert state.n_changed is None
        else:
            assert state.n_changed == np.count_nonzero(ref.labels != previous)
        previous = ref.labels
        positive = ref.weights > 0
        centers = centers.copy()
        centers[positive] = ref.sums[positive] / ref.weights[positive, None]
        if iteration == 4:
            centers[0] += 50.0
        elif iteration == 5:
            centers[0] -= 50.0
    step = lloyd_pass(X, centers, state, sample_weight=weights, with_inertia=True)
    ref = lloyd_step(X, centers, sample_weight=weights)
    labels, _, _, inertia = naive.lloyd_step(X, centers, weights)
    assert_array_equal(step.labels, labels)
    assert step.inertia == pytest.approx(inertia, rel=1e-12)
    assert step.inertia == pytest.approx(ref.inertia, rel=1e-10)


def test_lloyd_pass_converges_and_owns_its_labels():
    X = blobs(3000, 4, 5, seed=17)
    init = first_rows_of_each_blob(X, 5, seed=17)
    centers = init.copy()
    state = LloydState(X, 5, bounded=True)
    steps = []
    for _ in range(50):
        step = lloyd_pass(X, centers, state)
        steps.append(step)
        centers = step.sums / step.weights[:, None]
        if state.n_changed == 0:
            break
    assert state.n_changed == 0
    assert_array_equal(steps[-1].labels, steps[-2].labels)
    # The labels handed out are the caller's: changing them changes nothing.
    expected = steps[-1].labels.copy()
    steps[-1].labels[:] = 0
    steps[-2].labels[:] = 0
    assert_array_equal(state.labels, expected)
    with pytest.raises(ValueError, match="read-only"):
        state.labels[0] = 1
    again = lloyd_pass(X, centers, state)
    assert state.n_changed == 0
    assert_array_equal(again.labels, expected)
    ref = SklearnKMeans(5, init=init, n_init=1, tol=0).fit(X)
    assert_array_equal(expected, ref.labels_)
    assert_allclose(centers, ref.cluster_centers_, rtol=1e-12)


def test_lloyd_pass_shift_is_a_frame_only():
    # Any shift gives lloyd_step's labels and weights; sums in X's coordinates.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((5000, 3)) + 3.0
    centers = X[:6].copy()
    ref = lloyd_step(X, centers)
    for shift in (np.zeros(3), np.full(3, 2.5)):
        state = LloydState(X, 6, shift=shift, bounded=True)
        assert_array_equal(state.shift, shift)
        step = lloyd_pass(X, centers, state)
        assert_array_equal(step.labels, ref.labels)
        assert_array_equal(step.weights, ref.weights)
        assert_allclose(step.sums, ref.sums, rtol=1e-12)


def test_lloyd_state_bounded_auto_threshold():
    X = np.zeros((1024, 16))  # 1024 * 16 * 8 = 2**17 rows x features x clusters
    assert LloydState(np.zeros((8192, 16)), 8).bounded  # k d = 128, n k d = 2**20
    assert not LloydState(np.zeros((8191, 16)), 8).bounded  # a small pass
    assert not LloydState(np.zeros((9000, 16)), 7).bounded  # k d < 128
    assert not LloydState(np.zeros((10**5, 2)), 8).bounded
    assert LloydState(X, 8, bounded=True).bounded
    assert repr(LloydState(X, 8, bounded=True)) == (
        "LloydState(n_samples=1024, n_features=16, n_clusters=8, bounded=True, "
        "n_passes=0)"
    )


# --- bad input of the public Lloyd functions ---------------------------------

_X = np.arange(12.0).reshape(6, 2)
_C = np.array([[1.0, 2.0], [9.0, 10.0]])  # no ties with _X


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(X=np.zeros(3)), ValueError, "X must be a 2-d array"),
        (dict(X=np.zeros((0, 2))), ValueError, "X needs at least one row"),
        (dict(X=np.zeros((3, 0)), centers=np.zeros((2, 0))), ValueError, "X needs"),
        (dict(X=_X.astype(complex)), TypeError, "X must contain real numbers"),
        (dict(X=np.array([["a", "b"]] * 3)), TypeError, "X must contain real"),
        (dict(X=np.where(_X == 3, np.nan, _X)), ValueError, "X must be finite"),
        (dict(X=np.where(_X == 3, -np.inf, _X)), ValueError, "X must be finite"),
        (dict(centers=np.zeros((2, 3))), ValueError, "same number of columns"),
        (dict(centers=np.zeros(2)), ValueError, "same number of columns"),
        (dict(centers=np.zeros((0, 2))), ValueError, "centers needs at least"),
        (dict(centers=[[0, np.nan], [1, 1]]), ValueError, "centers must be finite"),
        (dict(centers=[["a", "b"]]), TypeError, "centers must contain real"),
        (dict(sample_weight=np.ones(5)), ValueError, "sample_weight.shape"),
        (dict(sample_weight=-np.ones(6)), ValueError, "sample_weight must be non"),
        (dict(sample_weight=np.full(6, np.nan)), ValueError, "sample_weight must be"),
        (dict(sample_weight=["a"] * 6), TypeError, "sample_weight must contain"),
    ],
)
def test_lloyd_step_bad_input(kwargs, error, match):
    args = {"X": _X, "centers": _C, "sample_weight": None, **kwargs}
    with pytest.raises(error, match=match):
        lloyd_step(args["X"], args["centers"], sample_weight=args["sample_weight"])


def test_lloyd_step_converts_integer_data_to_float64():
    step = lloyd_step(np.arange(12).reshape(6, 2), [[0, 0], [10, 10]])
    assert_array_equal(step.labels, [0, 0, 0, 1, 1, 1])
    assert_array_equal(step.sums, [[6.0, 9.0], [24.0, 27.0]])
    assert step.inertia == 1 + 13 + 41 + 25 + 5 + 1


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((_X.tolist(), 2), {}, TypeError, "X must be a NumPy array"),
        ((_X.astype(np.int64), 2), {}, TypeError, "X must be float32 or float64"),
        ((_X.astype(np.float16), 2), {}, TypeError, "X must be float32 or float64"),
        ((np.zeros(3), 2), {}, ValueError, "X must be a 2-d array"),
        ((np.zeros((0, 2)), 2), {}, ValueError, "X must be a 2-d array"),
        ((np.where(_X == 3, np.nan, _X), 2), {}, ValueError, "X must be finite"),
        ((np.full((6, 2), 1e308), 2), {}, ValueError, "column means of X overflow"),
        ((_X, 0), {}, ValueError, "n_clusters must be at least 1"),
        ((_X, 2.5), {}, TypeError, "n_clusters must be an int"),
        ((_X, True), {}, TypeError, "n_clusters must be an int"),
        ((_X, 2), dict(shift=np.zeros(3)), ValueError, r"shift must have shape \(2,\)"),
        ((_X, 2), dict(shift=[np.nan, 0]), ValueError, "shift must be finite"),
        ((_X, 2), dict(shift=["a", "b"]), TypeError, "shift must contain real"),
        ((_X, 2), dict(bounded="yes"), ValueError, "bounded must be"),
    ],
)
def test_lloyd_state_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        LloydState(*args, **kwargs)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(state=None), TypeError, "state must be a LloydState"),
        (dict(X=_X.tolist()), TypeError, "X must be a NumPy array"),
        (dict(X=_X.astype(np.int64)), TypeError, "X must be float32 or float64"),
        (dict(X=_X[:5]), ValueError, "X does not match state"),
        (dict(X=np.zeros((6, 3))), ValueError, "X does not match state"),
        (dict(X=_X.astype(np.float32)), ValueError, "X does not match state"),
        (dict(X=np.where(_X == 3, np.nan, _X)), ValueError, "X must be finite"),
        (dict(centers=np.zeros((3, 2))), ValueError, "the state's n_clusters"),
        (dict(centers=np.zeros((2, 3))), ValueError, "same number of columns"),
        (dict(centers=[[0, np.inf], [1, 1]]), ValueError, "centers must be finite"),
        (dict(centers=np.array([["a", "b"]] * 2)), TypeError, "centers must contain"),
        (dict(sample_weight=np.ones(7)), ValueError, "sample_weight.shape"),
        (dict(sample_weight=-np.ones(6)), ValueError, "sample_weight must be non"),
        (dict(sample_weight=np.full(6, np.inf)), ValueError, "sample_weight must be"),
    ],
)
@pytest.mark.parametrize("bounded", [True, False])
def test_lloyd_pass_bad_input(change, error, match, bounded):
    state = LloydState(_X, 2, bounded=bounded)
    args = {"X": _X, "centers": _C, "state": state, "sample_weight": None, **change}
    with pytest.raises(error, match=match):
        lloyd_pass(args["X"], args["centers"], args["state"], args["sample_weight"])
    # Nothing ran: the state still works from scratch.
    assert state.n_passes == 0 and state.labels is None
    step = lloyd_pass(_X, _C, state)
    assert_array_equal(step.labels, [0, 0, 0, 1, 1, 1])
    assert_array_equal(step.weights, [3.0, 3.0])


def test_lloyd_pass_check_finite_false_skips_the_scan():
    X = _X.copy()
    state = LloydState(X, 2)
    X[0, 0] = np.nan  # after the state was made: only the pass can see it
    with pytest.raises(ValueError, match="X must be finite"):
        lloyd_pass(X, _C, state)
    step = lloyd_pass(X, _C, state, check_finite=False)
    assert_array_equal(step.labels[1:], [0, 0, 1, 1, 1])
    assert step.weights.sum() == 6.0


def test_fixed_iterations_match_naive_lloyd(fit_passes):
    X = blobs(1500, 3, 4, seed=3)
    init = X[:4] + 0.1  # a poor start, so the centers move for a while
    km = KMeans(4, init=init, n_init=1, max_iter=6, tol=0).fit(X)
    centers, labels, inertia = naive.lloyd(X, init, n_iter=km.n_iter_)
    assert_allclose(km.cluster_centers_, centers, rtol=1e-12, atol=1e-12)
    assert_array_equal(km.labels_, labels)
    assert km.inertia_ == pytest.approx(inertia, rel=1e-12)


# --- against scikit-learn ----------------------------------------------------


@pytest.mark.parametrize("max_iter", [1, 2, 300])
@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_same_initial_centers_as_sklearn(max_iter, tol, fit_passes):
    X = blobs(3000, 5, 6, seed=1)
    init = X[[0, 1, 2, 3, 4, 5]]  # rows of whatever blobs: several iterations
    ours = KMeans(6, init=init, n_init=1, max_iter=max_iter, tol=tol).fit(X)
    ref = SklearnKMeans(6, init=init, n_init=1, max_iter=max_iter, tol=tol).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=0)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("n_init", ["auto", 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_random_state_as_sklearn(init, n_init, weighted, fit_passes):
    X = blobs(2500, 3, 8, seed=2)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else None
    params = dict(n_clusters=8, init=init, n_init=n_init, random_state=7)
    ours = KMeans(**params).fit(X, sample_weight=weights)
    ref = SklearnKMeans(**params).fit(X, sample_weight=weights)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=0)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_


def test_callable_init_sees_centered_data_like_sklearn():
    X = blobs(1000, 2, 3, seed=4)
    seen = []

    def init(X, n_clusters, random_state):
        seen.append(X.mean(axis=0))
        return X[random_state.choice(X.shape[0], n_clusters, replace=False)]

    ours = KMeans(3, init=init, n_init=2, random_state=0).fit(X)
    ref = SklearnKMeans(3, init=init, n_init=2, random_state=0).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert_allclose(seen, 0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unclustered_data_match_sklearn(dtype, fit_passes):
    # No cluster structure: centers move for many iterations and many rows
    # change labels, which exercises the bounds far more than blobs do.
    rng = np.random.default_rng(21)
    X = rng.standard_normal((6000, 16)).astype(dtype)
    init = X[rng.choice(6000, 24, replace=False)]
    ours = KMeans(24, init=init, n_init=1, max_iter=20, tol=0).fit(X)
    ref = SklearnKMeans(24, init=init, n_init=1, max_iter=20, tol=0).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=0)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=rtol)
    assert ours.n_iter_ == ref.n_iter_


def test_empty_cluster_is_relocated_like_sklearn(fit_passes):
    X = blobs(600, 2, 3, seed=5)
    init = np.vstack([first_rows_of_each_blob(X, 3, seed=5), [[1e4, 1e4], [-1e4, 0]]])
    ours = KMeans(5, init=init, n_init=1).fit(X)
    ref = SklearnKMeans(5, init=init, n_init=1).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    assert np.unique(ours.labels_).shape[0] == 5


def test_tolerance_is_relative_to_the_variance():
    X = blobs(2000, 2, 4, seed=6) * 1e3  # tol must scale with the data
    init = X[:4]
    for tol in [1e-1, 1e-3]:
        ours = KMeans(4, init=init, n_init=1, tol=tol).fit(X)
        ref = SklearnKMeans(4, init=init, n_init=1, tol=tol).fit(X)
        assert ours.n_iter_ == ref.n_iter_
        assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_samples", [1, 3, 5000, 70_001])
def test_column_mean_var_against_numpy(n_samples, dtype):
    # Data far from the origin: a one-pass E[x^2] - E[x]^2 would lose it.
    rng = np.random.default_rng(n_samples)
    X = (rng.standard_normal((n_samples, 5)) * [1, 10, 1e-3, 1, 0] + 1e4).astype(dtype)
    mean, var = column_mean_var(X)
    X64 = X.astype(np.float64)
    assert_allclose(mean, X64.mean(axis=0), rtol=1e-14)
    assert_allclose(var, X64.var(axis=0), rtol=1e-9, atol=1e-20)


def test_float32_data(fit_passes):
    X64 = blobs(3000, 6, 5, seed=8)
    X32 = X64.astype(np.float32)
    init = first_rows_of_each_blob(X64, 5, seed=8)
    km32 = KMeans(5, init=init.astype(np.float32), n_init=1).fit(X32)
    km64 = KMeans(5, init=init, n_init=1).fit(X32.astype(np.float64))
    assert km32.cluster_centers_.dtype == np.float32
    assert km32.transform(X32).dtype == np.float32
    assert_array_equal(km32.labels_, km64.labels_)
    # float64 arithmetic on the same float32 values: only the final rounding
    assert_allclose(km32.cluster_centers_, km64.cluster_centers_, rtol=1e-7)
    assert km32.inertia_ == pytest.approx(km64.inertia_, rel=1e-12)
    ref = SklearnKMeans(5, init=init.astype(np.float32), n_init=1).fit(X32)
    assert_array_equal(km32.labels_, ref.labels_)
    assert_allclose(km32.cluster_centers_, ref.cluster_centers_, rtol=1e-5)


# --- sample weights ------------------------------------------------------------


def test_integer_weights_equal_repeated_rows(fit_passes):
    X = blobs(400, 3, 4, seed=9)
    rng = np.random.default_rng(1)
    weights = rng.integers(1, 4, X.shape[0])
    init = X[:4]
    weighted = KMeans(4, init=init, n_init=1, tol=0).fit(X, sample_weight=weights)
    repeated = KMeans(4, init=init, n_init=1, tol=0).fit(np.repeat(X, weights, 0))
    assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-12)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-12)
    assert_array_equal(np.repeat(weighted.labels_, weights), repeated.labels_)


def test_zero_weight_equals_dropping_the_row(fit_passes):
    X = blobs(400, 3, 4, seed=10)
    weights = np.ones(X.shape[0])
    weights[::7] = 0
    init = X[1:5]
    weighted = KMeans(4, init=init, n_init=1, tol=0).fit(X, sample_weight=weights)
    dropped = KMeans(4, init=init, n_init=1, tol=0).fit(X[weights > 0])
    assert_allclose(weighted.cluster_centers_, dropped.cluster_centers_, rtol=1e-12)
    assert weighted.inertia_ == pytest.approx(dropped.inertia_, rel=1e-12)
    assert weighted.n_iter_ == dropped.n_iter_


def test_scalar_weight_is_uniform():
    X = blobs(300, 2, 3, seed=11)
    a = KMeans(3, random_state=0).fit(X, sample_weight=2.0)
    b = KMeans(3, random_state=0).fit(X)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)


# --- determinism, threads, pickling -----------------------------------------


def test_one_and_two_threads_are_bit_identical(always_parallel, fit_passes):
    X = blobs(20000, 7, 9, seed=12)  # several chunks
    results = []
    for count in (1, 2):
        with n_threads(count):
            km = KMeans(9, init="random", n_init=2, random_state=3).fit(X)
            results.append((km, km.transform(X[:100]), km.score(X)))
    (a, ta, sa), (b, tb, sb) = results
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert_array_equal(ta, tb)
    assert sa == sb


def test_concurrent_fits_from_python_threads(always_parallel):
    datasets = [blobs(5000, 4, 6, seed=s) for s in range(4)]
    expected = [KMeans(6, random_state=0).fit(X).cluster_centers_ for X in datasets]
    results = [None] * 4

    def work(i):
        results[i] = KMeans(6, random_state=0).fit(datasets[i]).cluster_centers_

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected, strict=True):
        assert_array_equal(got, want)


def test_pickle_round_trip():
    X = blobs(500, 3, 4, seed=13)
    km = KMeans(4, random_state=0).fit(X)
    clone = pickle.loads(pickle.dumps(km))
    assert_array_equal(clone.cluster_centers_, km.cluster_centers_)
    assert_array_equal(clone.predict(X), km.labels_)


# --- methods -------------------------------------------------------------------


def test_predict_transform_score():
    X = blobs(1000, 3, 4, seed=14)
    km = KMeans(4, random_state=0).fit(X)
    assert_array_equal(km.predict(X), km.labels_)
    assert_array_equal(KMeans(4, random_state=0).fit_predict(X), km.labels_)
    distances = naive.distances(X, km.cluster_centers_)
    assert_allclose(km.transform(X), distances, rtol=1e-12)
    assert_allclose(KMeans(4, random_state=0).fit_transform(X), distances, rtol=1e-12)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-12)
    weights = np.full(X.shape[0], 2.0)
    assert km.score(X, sample_weight=weights) == pytest.approx(-2 * km.inertia_)
    assert_array_equal(km.get_feature_names_out(), [f"kmeans{i}" for i in range(4)])


def test_verbose_prints_progress(capsys, fit_passes):
    X = blobs(200, 2, 2, seed=15)
    KMeans(2, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out
    assert "Iteration 0, inertia" in out
    assert "Converged at iteration" in out


def test_array_init_with_several_runs_warns():
    X = blobs(100, 2, 2, seed=16)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        km = KMeans(2, init=X[:2], n_init=3).fit(X)
    assert km.n_iter_ >= 1


def test_duplicate_rows_warn_about_distinct_clusters():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        km = KMeans(3, random_state=0).fit(X)
    assert np.unique(km.labels_).shape[0] == 2


# --- bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]], ValueError, "NaN"),
        ([[0.0, np.inf], [1.0, 1.0], [2.0, 2.0]], ValueError, "infinity"),
        ([0.0, 1.0, 2.0], ValueError, "2D array"),
        (np.zeros((0, 2)), ValueError, "0 sample"),
        (np.zeros((3, 0)), ValueError, "0 feature"),
        ([["a", "b"], ["c", "d"], ["e", "f"]], ValueError, "convert"),
        (np.ones((3, 2), dtype=complex), ValueError, "Complex"),
        (np.zeros((2, 2)), ValueError, "n_clusters"),
    ],
)
def test_bad_data(X, error, match):
    with pytest.raises(error, match=match):
        KMeans(3).fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_clusters=0), "n_clusters"),
        (dict(n_clusters=2.5), "n_clusters"),
        (dict(init="kmeans"), "init"),
        (dict(n_init=0), "n_init"),
        (dict(max_iter=0), "max_iter"),
        (dict(tol=-1.0), "tol"),
        (dict(algorithm="full"), "algorithm"),
        (dict(init=np.zeros((2, 2))), "init"),  # 2 centers, 3 clusters
        (dict(init=np.zeros((3, 4))), "init"),  # wrong number of features
        (dict(init=np.full((3, 2), np.nan)), "init"),
    ],
)
def test_bad_parameters(params, match):
    X = blobs(20, 2, 3)
    with pytest.raises(ValueError, match=match):
        KMeans(**{"n_clusters": 3, **params}).fit(X)


def test_bad_init_dtype_and_callable_output():
    X = blobs(20, 2, 3)
    with pytest.raises(TypeError, match="init"):
        KMeans(3, init=np.array([["a", "b"]] * 3)).fit(X)
    with pytest.raises(ValueError, match="init"):
        KMeans(3, init=lambda X, k, random_state: X[:2]).fit(X)


@pytest.mark.parametrize(
    "sample_weight, error, match",
    [
        (np.ones(3), ValueError, "sample_weight"),
        (-np.ones(20), ValueError, "sample_weight"),
        (np.full(20, np.nan), ValueError, "sample_weight"),
        (np.array(["a"] * 20), TypeError, "sample_weight"),
        (np.zeros(20), ValueError, "sample_weight"),
    ],
)
def test_bad_sample_weight(sample_weight, error, match):
    X = blobs(20, 2, 3)
    with pytest.raises(error, match=match):
        KMeans(3).fit(X, sample_weight=sample_weight)


def test_wrong_number_of_features_at_predict():
    km = KMeans(3, random_state=0).fit(blobs(20, 2, 3))
    for method in (km.predict, km.transform, km.score):
        with pytest.raises(ValueError, match="features"):
            method(np.zeros((4, 3)))


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense data is required"):
        KMeans(2).fit(sparse.random(10, 3, density=0.5, format="csr"))


# --- scikit-learn's API checks ------------------------------------------------


EXPECTED_FAILED_CHECKS = {
    # As for scikit-learn's KMeans: the k-means++ draws depend on the rows, so
    # weights are not equivalent to repeated rows from a random initialisation
    # (they are from the same initial centers: see the tests above).
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
}


@parametrize_with_checks(
    [KMeans(n_clusters=3, random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_api(estimator, check):
    check(estimator)
