"""The kernel contract: additive statistics, explicit ``log_norm``, entropy,
``m_step`` and ``stats_from_resp``, against ``tests/naive.py`` and scikit-learn.
"""

import math

import naive
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

from fastem import _config, kernels
from fastem._kernels._reduce import chunk_bounds, n_chunks_for
from fastem.kernels import _stats


def _problem(n_samples, n_features, n_components, covariance_type, make_params, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 2.0, (n_samples, n_features)) + 3.0
    params = make_params(n_components, n_features, covariance_type, seed=seed, X=X)
    norm = kernels.log_norm(
        params["precisions_cholesky"], params["weights"], covariance_type, n_features
    )
    return X, params, norm


def _call(X, params, norm, covariance_type, **kwargs):
    return kernels.suff_stats(
        X,
        params["means"],
        params["precisions_cholesky"],
        norm,
        covariance_type,
        **kwargs,
    )


def _fields(stats):
    return (stats.nk, stats.sum_dev, stats.scatter, stats.log_likelihood, stats.weight)


# --- a + b and merge ---------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_blocks_in_chunk_order_add_bit_identically(
    covariance_type, dtype, weighted, make_params
):
    """Statistics of the kernel's own chunks, merged in chunk order, are the
    one-pass statistics bit for bit."""
    n = 4 * 2048  # four chunks of 2048 rows: each block is one chunk itself
    X, params, norm = _problem(n, 5, 3, covariance_type, make_params, seed=11)
    X = X.astype(dtype)
    sw = np.random.default_rng(2).uniform(0, 2, n) if weighted else None
    whole = _call(X, params, norm, covariance_type, sample_weight=sw, entropy=True)
    size = kernels._gaussian._STATS_SIZE[covariance_type](3, 5)
    n_chunks = n_chunks_for(n, size)
    assert n_chunks == 4
    parts = []
    for chunk in range(n_chunks):
        start, stop = chunk_bounds(n, n_chunks, chunk)
        part_sw = None if sw is None else sw[start:stop]
        parts.append(
            _call(
                X[start:stop],
                params,
                norm,
                covariance_type,
                sample_weight=part_sw,
                entropy=True,
            )
        )
    merged = kernels.merge(parts)
    for a, b in zip(_fields(merged), _fields(whole), strict=True):
        assert_array_equal(a, b)
    assert merged.entropy == whole.entropy
    summed = parts[0] + parts[1] + parts[2] + parts[3]
    assert_array_equal(summed.scatter, whole.scatter)
    assert_array_equal(sum(parts).nk, whole.nk)


def test_blocks_of_any_size_add_up_to_rounding(covariance_type, make_params):
    X, params, norm = _problem(5000, 4, 3, covariance_type, make_params, seed=12)
    whole = _call(X, params, norm, covariance_type)
    pieces = [X[:1], X[1:777], X[777:4000], X[4000:]]
    merged = kernels.merge(_call(p, params, norm, covariance_type) for p in pieces)
    for a, b in zip(_fields(merged), _fields(whole), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-9)


def test_adding_statistics_about_different_means_raises(make_params):
    X, params, norm = _problem(100, 3, 2, "diag", make_params, seed=1)
    a = _call(X, params, norm, "diag")
    b = a.about(a.means + 1.0)
    with pytest.raises(ValueError, match="different means"):
        a + b
    with pytest.raises(ValueError, match="covariance_type"):
        a + _stats.SuffStats("spherical", a.means, a.nk, a.sum_dev, a.scatter, 0, 1)
    with pytest.raises(ValueError, match="entropy"):
        a + _call(X, params, norm, "diag", entropy=True)
    with pytest.raises(ValueError, match="at least one"):
        kernels.merge([])


def test_about_moves_statistics_exactly(covariance_type, make_params):
    """Statistics about m, moved to m', equal a pass about m' (same resp)."""
    X, params, norm = _problem(3000, 4, 3, covariance_type, make_params, seed=13)
    stats = _call(X, params, norm, covariance_type)
    new_means = params["means"] + np.random.default_rng(0).normal(0, 2, (3, 4))
    moved = stats.about(new_means)
    # The responsibilities depend on the means: compute the reference about
    # new_means with the old responsibilities, directly.
    _, resp = naive.log_resp(
        X,
        params["means"],
        params["precisions_cholesky"],
        params["weights"],
        covariance_type,
    )
    sum_dev = np.stack([resp[:, k] @ (X - new_means[k]) for k in range(3)])
    full = np.stack(
        [
            (resp[:, k, None] * (X - new_means[k])).T @ (X - new_means[k])
            for k in range(3)
        ]
    )
    expected = {
        "full": full,
        "tied": full.sum(axis=0),
        "diag": np.stack([np.diag(s) for s in full]),
        "spherical": np.stack([np.diag(s) for s in full]),
    }[covariance_type]
    assert_allclose(moved.sum_dev, sum_dev, rtol=1e-10, atol=1e-9)
    assert_allclose(moved.scatter, expected, rtol=1e-10)
    assert_array_equal(moved.nk, stats.nk)
    assert moved.log_likelihood == stats.log_likelihood


# --- log_norm, entropy, labels ----------------------------------------------------


def test_log_norm_is_an_explicit_constant(covariance_type, make_params):
    """Adding c_k to log_norm changes the responsibilities as weights would."""
    X, params, norm = _problem(400, 3, 3, covariance_type, make_params, seed=3)
    shift = np.array([0.3, -1.0, 2.0])
    lse, resp = kernels.log_resp(
        X,
        params["means"],
        params["precisions_cholesky"],
        norm + shift,
        covariance_type,
    )
    weights = params["weights"] * np.exp(shift)
    expected_lse, expected_resp = naive.log_resp(
        X, params["means"], params["precisions_cholesky"], weights, covariance_type
    )
    assert_allclose(lse, expected_lse, rtol=1e-11)
    assert_allclose(resp, expected_resp, rtol=1e-9, atol=1e-13)
    labels = kernels.labels(
        X,
        params["means"],
        params["precisions_cholesky"],
        norm + shift,
        covariance_type,
    )
    assert_array_equal(labels, expected_resp.argmax(axis=1))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_entropy_matches_naive(covariance_type, dtype, weighted, make_params):
    X, params, norm = _problem(2500, 4, 3, covariance_type, make_params, seed=4)
    X = X.astype(dtype)
    sw = np.random.default_rng(5).uniform(0, 3, 2500) if weighted else None
    stats = _call(X, params, norm, covariance_type, sample_weight=sw, entropy=True)
    _, resp = naive.log_resp(
        X.astype(np.float64),
        params["means"],
        params["precisions_cholesky"],
        params["weights"],
        covariance_type,
    )
    w = np.ones(2500) if sw is None else sw
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(resp > 0, resp * np.log(resp), 0.0)
    expected = float(w @ terms.sum(axis=1))
    assert expected < 0
    assert stats.entropy == pytest.approx(expected, rel=1e-9)
    assert _call(X, params, norm, covariance_type).entropy is None
    assert stats.weight == pytest.approx(w.sum(), rel=1e-14)


def test_zero_weight_component_has_no_entropy_nan(make_params):
    X, params, _ = _problem(300, 2, 2, "diag", make_params, seed=5)
    norm = kernels.log_norm(params["precisions_cholesky"], [1.0, 0.0], "diag", 2)
    assert norm[1] == -np.inf
    stats = _call(X, params, norm, "diag", entropy=True)
    assert stats.entropy == 0.0
    assert stats.nk[1] == 0.0


# --- m_step and stats_from_resp ---------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_m_step_is_one_em_step(covariance_type, weighted, make_params):
    X, params, norm = _problem(2000, 3, 3, covariance_type, make_params, seed=6)
    sw = np.random.default_rng(7).uniform(0, 2, 2000) if weighted else None
    stats = _call(X, params, norm, covariance_type, sample_weight=sw)
    result = kernels.m_step(stats, covariance_type, 1e-6)
    expected, lower_bound = naive.em_step(
        X,
        params["weights"],
        params["means"],
        params["precisions_cholesky"],
        covariance_type,
        1e-6,
        sw,
    )
    assert_allclose(result.weights, expected["weights"], rtol=1e-11)
    assert_allclose(result.means, expected["means"], rtol=1e-11, atol=1e-12)
    assert_allclose(result.covariances, expected["covariances"], rtol=1e-10)
    assert_allclose(
        result.precisions_cholesky,
        expected["precisions_cholesky"],
        rtol=1e-9,
        atol=1e-12,
    )
    assert stats.log_likelihood / stats.weight == pytest.approx(lower_bound, rel=1e-12)


def test_stats_from_resp_matches_sklearn(covariance_type, monkeypatch):
    monkeypatch.setattr(_config, "SLAB_ROWS", 97)  # several slabs of rows
    rng = np.random.default_rng(8)
    X = rng.normal(0, 1, (500, 3)) + 1e3  # offset: centered moments keep digits
    resp = rng.uniform(size=(500, 4))
    resp /= resp.sum(axis=1, keepdims=True)
    stats = kernels.stats_from_resp(X, resp, covariance_type)
    params = kernels.m_step(stats, covariance_type, 1e-6)
    nk, means, covariances = _estimate_gaussian_parameters(
        X - 1e3, resp, 1e-6, covariance_type
    )
    assert_allclose(params.weights, nk / nk.sum(), rtol=1e-12)
    assert_allclose(params.means, means + 1e3, rtol=1e-12)
    assert_allclose(params.covariances, covariances, rtol=1e-9)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_two_block_fit_equals_the_one_array_fit():
    """The README's example: EM on two blocks of rows through the kernel layer
    equals fastem's GaussianMixture on the whole array."""
    from fastem import GaussianMixture

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (4000, 3)), rng.normal(5, 1.5, (4000, 3))])
    gm = GaussianMixture(2, covariance_type="full", max_iter=0, random_state=0).fit(X)
    weights, means, chol = gm.weights_, gm.means_, gm.precisions_cholesky_
    for _ in range(5):
        norm = kernels.log_norm(chol, weights, "full", 3)
        stats = kernels.suff_stats(
            X[:3000], means, chol, norm, "full"
        ) + kernels.suff_stats(X[3000:], means, chol, norm, "full")
        weights, means, _, chol = kernels.m_step(stats, "full", gm.reg_covar)
    ref = GaussianMixture(
        2, covariance_type="full", max_iter=5, tol=0, random_state=0
    ).fit(X)
    assert_allclose(weights, ref.weights_, rtol=1e-12)
    assert_allclose(means, ref.means_, rtol=1e-12)
    assert_allclose(chol, ref.precisions_cholesky_, rtol=1e-10)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda s: kernels.m_step(s, "full", 1e-6), ValueError, "does not match"),
        (lambda s: kernels.m_step(s, "diag", -1.0), ValueError, "reg_covar"),
        (lambda s: kernels.m_step(s, "diag", float("nan")), ValueError, "reg_covar"),
        (lambda s: kernels.m_step(s, "diag", "1e-6"), ValueError, "reg_covar"),
        (lambda s: kernels.m_step((s.nk,), "diag", 1e-6), TypeError, "SuffStats"),
        (lambda s: s.about(np.zeros((3, 2))), ValueError, "means must have shape"),
        (
            lambda s: kernels.stats_from_resp(
                np.zeros((4, 2)), np.ones((3, 2)), "diag"
            ),
            ValueError,
            "resp must have shape",
        ),
        (
            lambda s: kernels.stats_from_resp(np.zeros((4, 2)), np.ones((4, 2)), "x"),
            ValueError,
            "covariance_type",
        ),
    ],
)
def test_contract_rejects_bad_input(call, error, match, make_params):
    X, params, norm = _problem(50, 2, 2, "diag", make_params, seed=9)
    with pytest.raises(error, match=match):
        call(_call(X, params, norm, "diag"))


def test_log_det_cholesky(covariance_type, make_params):
    params = make_params(3, 4, covariance_type, seed=2)
    precisions = naive.precision_matrices(
        params["precisions_cholesky"], covariance_type, 3, 4
    )
    expected = [0.5 * np.linalg.slogdet(p)[1] for p in precisions]
    actual = kernels.log_det_cholesky(params["precisions_cholesky"], covariance_type, 4)
    assert_allclose(np.broadcast_to(actual, (3,)), expected, rtol=1e-12)
    assert math.isfinite(float(np.sum(actual)))


@pytest.mark.parametrize("entropy", ["yes", 1, None, np.ones(2)])
def test_suff_stats_rejects_a_non_boolean_entropy(entropy, make_params):
    X, params, norm = _problem(20, 2, 2, "diag", make_params, seed=1)
    with pytest.raises(TypeError, match="entropy must be True or False"):
        _call(X, params, norm, "diag", entropy=entropy)


def test_adding_a_non_statistic_raises(make_params):
    X, params, norm = _problem(20, 2, 2, "diag", make_params, seed=1)
    with pytest.raises(TypeError):
        _call(X, params, norm, "diag") + np.ones(2)
    with pytest.raises(TypeError):
        kernels.merge([_call(X, params, norm, "diag"), "garbage"])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("indices", [[7, 250, 3, 499], [7, 250, 7, 0]])
def test_stats_from_rows_equal_a_one_hot_pass(
    covariance_type, weighted, indices, monkeypatch
):
    # The 'random_from_data' and 'k-means++' starts read only the chosen rows;
    # they must give what a full pass over one-hot responsibilities gives.
    monkeypatch.setattr(_config, "SLAB_ROWS", 97)  # several slabs of rows
    rng = np.random.default_rng(9)
    X = rng.normal(0, 1, (500, 3)) + 50.0
    weights = rng.uniform(0.5, 2.0, 500) if weighted else None
    resp = np.zeros((500, 4))
    resp[indices, np.arange(4)] = 1.0
    for tied_raw_rest in (False, True):
        expected = _stats.stats_from_source(
            X,
            weights,
            lambda start, stop: resp[start:stop],
            covariance_type,
            n_components=4,
            tied_raw_rest=tied_raw_rest,
        )
        got = _stats.stats_from_rows(
            X, weights, indices, covariance_type, tied_raw_rest=tied_raw_rest
        )
        assert_array_equal(got.means, expected.means)
        assert_array_equal(got.nk, expected.nk)
        assert got.weight == expected.weight
        assert_allclose(got.sum_dev, expected.sum_dev, rtol=1e-12, atol=1e-25)
        scale = np.abs(expected.scatter).max()
        assert_allclose(got.scatter, expected.scatter, rtol=1e-13, atol=1e-13 * scale)


@pytest.mark.parametrize("entropy", [False, True])
def test_waves_of_chunks_give_the_same_statistics(
    covariance_type, entropy, make_params, monkeypatch
):
    # Bounding the chunk buffers alive at once must not change a bit.
    X, params, norm = _problem(20_011, 5, 6, covariance_type, make_params, seed=10)
    weights = np.random.default_rng(10).uniform(0.0, 2.0, X.shape[0])
    from fastem.kernels import _gaussian

    one = _call(
        X, params, norm, covariance_type, sample_weight=weights, entropy=entropy
    )

    size = _gaussian._STATS_SIZE[covariance_type](6, 5)
    assert n_chunks_for(X.shape[0], size) == 10  # 20,011 rows: 10 uneven chunks
    for wave_chunks in (1, 3, 4, 9):
        monkeypatch.setattr(_gaussian, "WAVE_BYTES", 8 * size * wave_chunks)
        waves = _call(
            X, params, norm, covariance_type, sample_weight=weights, entropy=entropy
        )
        for a, b in zip(_fields(waves), _fields(one), strict=True):
            assert_array_equal(a, b)
        assert waves.entropy == one.entropy
