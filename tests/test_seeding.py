"""k-means++ seeding in O(n) memory against scikit-learn's kmeans_plusplus."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

from fastem import _config, _seeding
from fastem._seeding import kmeans_plusplus


@pytest.fixture(autouse=True, params=["slabs", "compiled", "in-memory"])
def seeding_path(request, monkeypatch):
    # Each of the three ways through the seeding, whatever the data's size:
    # NumPy slabs (several even on small data, so the carried sums are
    # exercised), the compiled pass, and the in-memory path, which keeps the
    # rows and the candidates' distances.
    if request.param != "in-memory":
        monkeypatch.setattr(_config, "SEED_BYTES", 0)
        monkeypatch.setattr(_config, "SLAB_ROWS", 97)
    if request.param == "slabs":
        monkeypatch.setattr(_seeding._Compiled, "takes", staticmethod(lambda X: False))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("weighted", [False, True])
def test_same_rows_as_sklearn(seed, weighted):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 3000))
    d = int(rng.integers(1, 7))
    k = int(rng.integers(1, 25))
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0) + 3.0 * rng.normal(size=d)
    weights = rng.integers(0, 4, n).astype(np.float64) if weighted else None
    if weighted:
        weights[:k] = 1.0
    expected_centers, expected = sklearn_kmeans_plusplus(
        X, k, sample_weight=weights, random_state=np.random.RandomState(seed)
    )
    centers, indices = kmeans_plusplus(
        X, k, sample_weight=weights, random_state=np.random.RandomState(seed)
    )
    assert_array_equal(indices, expected)
    assert_array_equal(centers, expected_centers)


def test_shift_equals_seeding_a_centered_copy():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2000, 4)) + 1e3
    mean = X.mean(axis=0)
    expected_centers, expected = sklearn_kmeans_plusplus(
        X - mean, 9, random_state=np.random.RandomState(3)
    )
    centers, indices = kmeans_plusplus(
        X, 9, random_state=np.random.RandomState(3), shift=mean
    )
    assert_array_equal(indices, expected)
    assert_array_equal(centers, expected_centers)


def test_same_rows_on_one_and_two_threads(seeding_path):
    """Enough work per step for two threads: the chunks fix the sums' order."""
    from fastem._config import n_threads

    rng = np.random.default_rng(11)
    X = rng.normal(size=(60_000, 6)) + 4.0 * rng.integers(0, 5, (60_000, 1))
    weights = rng.uniform(0.5, 2.0, X.shape[0])
    runs = []
    for count in (1, 2):
        with n_threads(count):
            runs.append(
                kmeans_plusplus(
                    X, 12, sample_weight=weights, random_state=np.random.RandomState(4)
                )
            )
    assert_array_equal(runs[0][1], runs[1][1])
    assert_array_equal(runs[0][0], runs[1][0])
    _, expected = sklearn_kmeans_plusplus(
        X, 12, sample_weight=weights, random_state=np.random.RandomState(4)
    )
    assert_array_equal(runs[0][1], expected)


def test_random_state_left_where_sklearn_leaves_it():
    X = np.random.default_rng(1).normal(size=(500, 3))
    ours, theirs = np.random.RandomState(5), np.random.RandomState(5)
    kmeans_plusplus(X, 6, random_state=ours)
    sklearn_kmeans_plusplus(X, 6, random_state=theirs)
    assert ours.random_sample() == theirs.random_sample()


def test_zero_weight_rows_are_never_chosen():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2))
    weights = np.zeros(400)
    weights[::7] = 1.0
    for seed in range(10):
        _, indices = kmeans_plusplus(
            X, 8, sample_weight=weights, random_state=np.random.RandomState(seed)
        )
        assert np.all(weights[indices] > 0)
        assert len(set(indices.tolist())) == 8


def test_one_cluster_and_float32():
    X = np.random.default_rng(3).normal(size=(300, 5)).astype(np.float32)
    centers, indices = kmeans_plusplus(X, 1, random_state=np.random.RandomState(0))
    assert centers.dtype == np.float64
    assert_array_equal(centers[0], X[indices[0]].astype(np.float64))


@pytest.mark.parametrize("n_samples, k", [(1, 1), (10, 3), (1000, 7), (70_001, 64)])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_choose_rows_is_random_state_choice(n_samples, k, seed):
    # 'random_from_data' must draw the rows scikit-learn draws and leave the
    # RandomState where choice leaves it (the next initialisation draws next).
    from fastem._init import choose_rows

    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    got = choose_rows(ours, n_samples, k)
    expected = theirs.choice(n_samples, size=k, replace=False)
    assert_array_equal(got, expected)
    assert got.dtype == np.int64
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)
    weights = np.random.default_rng(seed).uniform(0.1, 1.0, n_samples)
    got = choose_rows(ours, n_samples, k, weights)
    p = weights / weights.sum()
    expected = theirs.choice(n_samples, size=k, replace=False, p=p)
    assert_array_equal(got, expected)
