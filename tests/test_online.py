"""partial_fit: stepwise online EM for GaussianMixture and KMeans (fastem._online)."""

import copy
import pickle
import warnings

import naive
import naive_kmeans
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from fastem import GaussianMixture, KMeans
from fastem._online import parameter_statistics, step_size
from fastem.kernels import m_step

PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")
NAIVE_NAMES = {
    "weights_": "weights",
    "means_": "means",
    "covariances_": "covariances",
    "precisions_cholesky_": "precisions_cholesky",
}
INITS = ("kmeans", "k-means++", "random", "random_from_data")


def _assert_close(actual, expected, rtol, name=""):
    """Relative agreement with an absolute floor at the array's own scale."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


def _assert_same_params(actual, expected, rtol):
    for name in PARAMS:
        _assert_close(getattr(actual, name), getattr(expected, name), rtol, name)


def mixture(n_samples, n_components=5, n_features=6, seed=0):
    """Rows of a Gaussian mixture with correlated, unequal covariances, shuffled.

    Means drawn with spread 4 and covariances of scale ~1: the components are
    separated but their tails overlap, and the weights are uneven.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 4.0, (n_components, n_features))
    weights = rng.dirichlet(np.full(n_components, 5.0))
    parts = []
    for mean, count in zip(means, rng.multinomial(n_samples, weights), strict=True):
        a = rng.normal(0.0, 1.0, (n_features, n_features)) / np.sqrt(n_features)
        cov = a @ a.T + 0.3 * np.eye(n_features)
        parts.append(rng.multivariate_normal(mean, cov, count))
    X = np.vstack(parts)
    return X[rng.permutation(n_samples)]


@pytest.fixture(scope="module")
def big():
    """200,000 rows of a 5-component mixture in 6 dimensions."""
    return mixture(200_000)


def _stream(estimator, X, n_passes, n_batches, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    for _ in range(n_passes):
        for batch in np.array_split(X[rng.permutation(X.shape[0])], n_batches):
            estimator.partial_fit(batch, **kwargs)
    return estimator


def _fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


# --- the schedule -----------------------------------------------------------------


def test_step_size_schedule():
    assert step_size(1, 0.7, 0.0) == 1.0
    assert step_size(1, 1.0, 0.0) == 1.0
    assert step_size(3, 1.0, 0.0) == pytest.approx(1 / 3)
    assert step_size(5, 0.7, 10.0) == pytest.approx(15.0**-0.7, rel=1e-15)
    steps = [step_size(t, 0.51, 0.0) for t in range(1, 100)]
    assert np.all(np.diff(steps) < 0) and 0 < steps[-1] < 1


def test_parameter_statistics_give_the_parameters_back(covariance_type, make_params):
    params = make_params(3, 4, covariance_type, seed=2)
    stats = parameter_statistics(
        params["weights"],
        params["means"],
        params["covariances"],
        covariance_type,
        1e-3,
    )
    back = m_step(stats, covariance_type, 1e-3)
    _assert_close(back.weights, params["weights"], 1e-14)
    _assert_close(back.means, params["means"], 1e-14)
    _assert_close(back.covariances, params["covariances"], 1e-14)
    # Mass = the weights' sum: unnormalised weights weigh less.
    assert stats.nk.sum() == pytest.approx(1.0)


# --- GaussianMixture: against batch EM ---------------------------------------------


def test_stream_reaches_the_batch_fit_log_likelihood(big, covariance_type):
    """Three passes of 100 shuffled mini-batches: within 1% of the batch fit."""
    reference = GaussianMixture(5, covariance_type=covariance_type, random_state=0)
    reference.fit(big)
    online = GaussianMixture(5, covariance_type=covariance_type, random_state=0)
    _stream(online, big, n_passes=3, n_batches=100)
    assert online.n_iter_ == 300 and len(online.lower_bounds_) == 300
    assert not online.converged_
    expected = reference.score(big)
    assert abs(online.score(big) - expected) <= 0.01 * abs(expected)
    # The batch lower bounds are of the model before each update: the last ones
    # are close to the final fit's mean log-likelihood too.
    assert np.mean(online.lower_bounds_[-100:]) == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("init_params", INITS)
def test_one_full_batch_with_unit_step_is_one_em_iteration(
    covariance_type, init_params, make_data
):
    """learning_offset=0: g_1 = 1, so the first call is fit(max_iter=1)."""
    X = make_data(600, 4, 3, seed=3)
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=0,
    )
    online = GaussianMixture(learning_offset=0.0, **kwargs).partial_fit(X)
    batch = _fit(GaussianMixture(max_iter=1, tol=0, **kwargs), X)
    _assert_same_params(online, batch, 1e-12)
    assert online.lower_bound_ == pytest.approx(batch.lower_bound_, rel=1e-13)
    assert online.lower_bounds_ == [online.lower_bound_]
    assert online.n_iter_ == 1 and online.converged_ is False


@pytest.mark.parametrize("given", ["all", "means", "means and precisions"])
def test_one_full_batch_from_given_initial_parameters(
    covariance_type, given, make_data, make_params, init_kwargs
):
    X = make_data(500, 3, 3, seed=4)
    params = make_params(3, 3, covariance_type, seed=4, X=X)
    inits = init_kwargs(params)
    if given == "means":
        inits = {"means_init": inits["means_init"]}
    elif given == "means and precisions":
        del inits["weights_init"]
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=1)
    online = GaussianMixture(learning_offset=0.0, **kwargs, **inits).partial_fit(X)
    batch = _fit(GaussianMixture(max_iter=1, tol=0, **kwargs, **inits), X)
    _assert_same_params(online, batch, 1e-12)
    assert online.lower_bound_ == pytest.approx(batch.lower_bound_, rel=1e-13)


@pytest.mark.parametrize("decay, offset", [(0.7, 10.0), (0.6, 2.5), (1.0, 0.0)])
def test_stream_matches_naive_stepwise_em(
    covariance_type, decay, offset, make_data, make_params, init_kwargs
):
    """Batches of different sizes, one weighted, against raw-moment stepwise EM."""
    X = make_data(900, 3, 3, seed=5)
    sizes = [200, 37, 3, 400, 260]
    batches = np.split(X, np.cumsum(sizes)[:-1])
    weights = [None, None, None, np.random.default_rng(5).uniform(0, 3, 400), None]
    params = make_params(3, 3, covariance_type, seed=5, X=X)
    gm = GaussianMixture(
        3,
        covariance_type=covariance_type,
        reg_covar=1e-4,
        learning_decay=decay,
        learning_offset=offset,
        **init_kwargs(params),
    )
    expected = naive.stepwise_em(
        batches,
        params["weights"],
        params["means"],
        params["covariances"],
        covariance_type,
        1e-4,
        decay,
        offset,
        sample_weights=weights,
    )
    for step, (batch, w, (reference, lower_bound)) in enumerate(
        zip(batches, weights, expected, strict=True), start=1
    ):
        gm.partial_fit(batch, sample_weight=w)
        for name, key in NAIVE_NAMES.items():
            _assert_close(getattr(gm, name), reference[key], 1e-10, (step, name))
        assert gm.lower_bound_ == pytest.approx(lower_bound, rel=1e-12)
        assert gm.n_iter_ == step


def test_data_driven_start_weighs_its_seed_rows_only(make_data):
    """A 'k-means++' start weighs n_components / n: its weights_ sum to that.

    The naive stream started from the initial parameters (fit with max_iter=0
    on the first batch) with those weights as they are reproduces partial_fit.
    """
    X = make_data(800, 3, 4, seed=6)
    batches = np.array_split(X, 4)
    kwargs = dict(n_components=4, init_params="k-means++", random_state=3)
    start = _fit(GaussianMixture(max_iter=0, **kwargs), batches[0])
    assert start.weights_.sum() == pytest.approx(4 / 200)
    expected = naive.stepwise_em(
        batches,
        start.weights_,
        start.means_,
        start.covariances_,
        "full",
        1e-6,
        0.7,
        10.0,
    )
    gm = GaussianMixture(**kwargs)
    for batch, (reference, _) in zip(batches, expected, strict=True):
        gm.partial_fit(batch)
        for name, key in NAIVE_NAMES.items():
            _assert_close(getattr(gm, name), reference[key], 1e-9, name)


def test_lower_bound_is_the_batch_score_before_the_update(make_data):
    X = make_data(600, 3, 3, seed=7)
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:200])
    for batch in (X[200:400], X[400:]):
        before = gm.score(batch)
        gm.partial_fit(batch)
        assert gm.lower_bound_ == pytest.approx(before, rel=1e-12)
        assert gm.lower_bounds_[-1] == gm.lower_bound_
    assert gm.n_iter_ == 3 and len(gm.lower_bounds_) == 3


# --- GaussianMixture: fit and partial_fit together ---------------------------------


def test_partial_fit_after_fit_continues_from_the_fitted_model(covariance_type):
    X = mixture(21_000, n_components=3, n_features=4, seed=8)
    X, more = X[:20_000], X[20_000:]
    fitted = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    fitted.fit(X)
    before = copy.deepcopy(fitted)
    score = fitted.score(more)
    fitted.partial_fit(more)
    # The first step's E-step used the fitted parameters; a new stream started.
    assert fitted.lower_bound_ == pytest.approx(score, rel=1e-12)
    assert fitted.n_iter_ == 1 and fitted.lower_bounds_ == [fitted.lower_bound_]
    # It is stepwise EM from the fitted parameters with mass 1, counter at 0 ...
    ((reference, _),) = naive.stepwise_em(
        [more],
        before.weights_,
        before.means_,
        before.covariances_,
        covariance_type,
        before.reg_covar,
        0.7,
        10.0,
    )
    for name, key in NAIVE_NAMES.items():
        _assert_close(getattr(fitted, name), reference[key], 1e-10, name)
    # ... so more data of the same distribution moves the model only a little.
    scale = np.abs(before.means_).max()
    assert np.abs(fitted.means_ - before.means_).max() < 0.02 * scale
    assert fitted.score(X) == pytest.approx(before.score(X), rel=2e-3)


def test_partial_fit_after_fit_with_unit_step_is_one_em_iteration(covariance_type):
    X = mixture(5_000, n_components=3, n_features=3, seed=9)
    fitted = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    fitted.fit(X[:4000])
    reference = _fit(
        GaussianMixture(
            3,
            covariance_type=covariance_type,
            max_iter=1,
            tol=0,
            weights_init=fitted.weights_,
            means_init=fitted.means_,
            precisions_init=fitted.precisions_,
        ),
        X[4000:],
    )
    fitted.set_params(learning_offset=0.0).partial_fit(X[4000:])
    _assert_same_params(fitted, reference, 1e-10)


def test_fit_after_partial_fit_starts_from_scratch(make_data):
    X = make_data(600, 3, 3, seed=10)
    gm = GaussianMixture(3, random_state=0)
    _stream(gm, X, 1, 3)
    fresh = GaussianMixture(3, random_state=0).fit(X)
    gm.fit(X)
    for name in PARAMS:
        assert_array_equal(getattr(gm, name), getattr(fresh, name))
    assert gm.n_iter_ == fresh.n_iter_ and gm.lower_bounds_ == fresh.lower_bounds_
    # ... and the next partial_fit starts a new stream from the fitted model.
    gm.partial_fit(X[:100])
    assert gm.n_iter_ == 1 and len(gm.lower_bounds_) == 1


def test_warm_start_fit_after_partial_fit_continues_from_it(make_data):
    X = make_data(600, 3, 3, seed=11)
    gm = GaussianMixture(3, random_state=0, warm_start=True, max_iter=2, tol=0)
    _stream(gm, X, 1, 3)
    reference = GaussianMixture(
        3,
        max_iter=2,
        tol=0,
        weights_init=gm.weights_,
        means_init=gm.means_,
        precisions_init=gm.precisions_,
    )
    _fit(reference, X)
    _fit(gm, X)
    _assert_same_params(gm, reference, 1e-10)


def test_edited_attributes_start_a_new_stream(make_data):
    X = make_data(600, 3, 3, seed=12)
    gm = GaussianMixture(3, random_state=0)
    _stream(gm, X, 1, 3)
    assert gm.n_iter_ == 3
    gm.means_[0] += 0.5  # edited in place
    edited = copy.deepcopy(gm)
    gm.partial_fit(X[:200])
    assert gm.n_iter_ == 1
    ((reference, _),) = naive.stepwise_em(
        [X[:200]],
        edited.weights_,
        edited.means_,
        edited.covariances_,
        "full",
        1e-6,
        0.7,
        10.0,
    )
    for name, key in NAIVE_NAMES.items():
        _assert_close(getattr(gm, name), reference[key], 1e-10, name)


def test_model_built_by_hand_is_continued(covariance_type, make_params, make_data):
    """Parameters set by hand start the stream, with mass sum(weights_)."""
    X = make_data(300, 3, 3, seed=27)
    params = make_params(3, 3, covariance_type, seed=27, X=X)
    gm = GaussianMixture(3, covariance_type=covariance_type)
    gm.weights_ = params["weights"]
    gm.means_ = params["means"]
    gm.covariances_ = params["covariances"]
    gm.precisions_cholesky_ = params["precisions_cholesky"]
    with pytest.raises(ValueError, match="X has 4 features, but the model has 3"):
        gm.partial_fit(np.ones((10, 4)))
    gm.partial_fit(X)
    ((reference, _),) = naive.stepwise_em(
        [X],
        params["weights"],
        params["means"],
        params["covariances"],
        covariance_type,
        1e-6,
        0.7,
        10.0,
    )
    for name, key in NAIVE_NAMES.items():
        _assert_close(getattr(gm, name), reference[key], 1e-10, name)
    assert gm.n_iter_ == 1 and gm.n_features_in_ == 3


def test_kmeans_centers_set_by_hand_weigh_equally():
    X = mixture(400, n_components=2, n_features=2, seed=28)
    centers = X[:2] + 0.1
    km = KMeans(2)
    km.cluster_centers_ = centers
    km.partial_fit(X)
    _, sums, counts, _ = naive_kmeans.lloyd_step(X, centers)
    g = step_size(1, 0.7, 10.0)
    expected = ((1 - g) * 0.5 * centers + g * sums / 400) / (
        (1 - g) * 0.5 + g * counts / 400
    )[:, None]
    _assert_close(km.cluster_centers_, expected, 1e-12)


# --- GaussianMixture: dtypes, weights, pickling ------------------------------------


def test_float32_batches(covariance_type, make_data):
    X = make_data(900, 3, 3, seed=13)
    X32 = X.astype(np.float32)
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    gm32 = GaussianMixture(**kwargs)
    gm64 = GaussianMixture(**kwargs)
    for start in range(0, 900, 300):
        gm32.partial_fit(X32[start : start + 300])
        gm64.partial_fit(X32[start : start + 300].astype(np.float64))
    for name in PARAMS:
        assert getattr(gm32, name).dtype == np.float32, name
    # The running statistics are float64 and so are the parameters behind the
    # float32 attributes: the same numbers as with the float64 copy of the data,
    # up to the kernel's float32 reads and, for 'full', its float32 scatter
    # products (within 8.4e-7 of the diagonal's scale; 7e-7 measured).
    for value in gm32._online_state.values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float64
    rtol = 3e-6 if covariance_type == "full" else 1e-9
    for ours, theirs in zip(
        gm32._get_parameters(), gm64._get_parameters(), strict=True
    ):
        _assert_close(ours, theirs, rtol)
    # A float64 batch next: float64 attributes again.
    gm32.partial_fit(X[:100])
    assert gm32.means_.dtype == np.float64


def test_integer_weights_equal_repeated_rows(
    covariance_type, make_data, make_params, init_kwargs
):
    X = make_data(600, 3, 3, seed=14)
    counts = np.random.default_rng(14).integers(0, 4, X.shape[0])
    params = make_params(3, 3, covariance_type, seed=14, X=X)
    kwargs = dict(n_components=3, covariance_type=covariance_type)
    weighted = GaussianMixture(**kwargs, **init_kwargs(params))
    repeated = GaussianMixture(**kwargs, **init_kwargs(params))
    for part in np.array_split(np.arange(X.shape[0]), 3):
        weighted.partial_fit(X[part], sample_weight=counts[part])
        repeated.partial_fit(np.repeat(X[part], counts[part], axis=0))
        _assert_same_params(weighted, repeated, 1e-10)
        assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-12)


def test_scalar_weight_equals_no_weight(make_data):
    X = make_data(300, 2, 3, seed=15)
    plain = GaussianMixture(3, random_state=0)
    scaled = GaussianMixture(3, random_state=0)
    for batch in np.array_split(X, 3):
        plain.partial_fit(batch)
        scaled.partial_fit(batch, sample_weight=3.0)
    for name in PARAMS:
        assert_array_equal(getattr(plain, name), getattr(scaled, name))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pickle_mid_stream_continues_identically(covariance_type, dtype, make_data):
    X = make_data(600, 3, 3, seed=16, dtype=dtype)
    batches = np.array_split(X, 6)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for batch in batches[:3]:
        gm.partial_fit(batch)
    copy_ = pickle.loads(pickle.dumps(gm))
    for batch in batches[3:]:
        gm.partial_fit(batch)
        copy_.partial_fit(batch)
    for name in PARAMS:
        assert_array_equal(getattr(copy_, name), getattr(gm, name))
    assert copy_.lower_bounds_ == gm.lower_bounds_ and copy_.n_iter_ == 6


# --- KMeans -----------------------------------------------------------------------


def test_kmeans_stream_reaches_the_fit_inertia(big):
    reference = KMeans(5, random_state=0).fit(big)
    online = KMeans(5, random_state=0)
    _stream(online, big, n_passes=3, n_batches=100)
    assert online.n_iter_ == 300
    assert -online.score(big) <= 1.01 * reference.inertia_


@pytest.mark.parametrize("init", ["k-means++", "random", "array", "callable"])
@pytest.mark.parametrize("offset", [0.0, 10.0])
def test_kmeans_first_call_is_one_lloyd_iteration(init, offset):
    """Initial centers carry no weight: the first step is Lloyd's, any g."""
    X = mixture(3000, n_components=4, n_features=3, seed=17)
    if init == "array":
        init = X[:4] + 0.5
    elif init == "callable":

        def init(X, n_clusters, random_state):
            return X[-n_clusters:] * 0.9

    online = KMeans(4, init=init, n_init=1, random_state=0, learning_offset=offset)
    online.partial_fit(X)
    batch = _fit(KMeans(4, init=init, n_init=1, random_state=0, max_iter=1), X)
    _assert_close(online.cluster_centers_, batch.cluster_centers_, 1e-12)
    assert online.n_iter_ == 1


def test_kmeans_stream_matches_naive_stepwise():
    X = mixture(2000, n_components=4, n_features=3, seed=18)
    batches = np.split(X, [500, 530, 1200])
    init = X[:4]
    expected = naive_kmeans.stepwise_kmeans(batches, init, 0.6, 3.0)
    km = KMeans(4, init=init, n_init=1, learning_decay=0.6, learning_offset=3.0)
    centers = init
    for step, (batch, reference) in enumerate(
        zip(batches, expected, strict=True), start=1
    ):
        labels, _, _, inertia = naive_kmeans.lloyd_step(batch, centers)
        km.partial_fit(batch)
        _assert_close(km.cluster_centers_, reference, 1e-12, step)
        # labels_ and inertia_ are the batch's under the centers before the step.
        assert_array_equal(km.labels_, labels)
        assert km.inertia_ == pytest.approx(inertia, rel=1e-10)
        centers = reference


def test_kmeans_cluster_without_weight_keeps_its_center():
    X = mixture(1000, n_components=3, n_features=2, seed=19)
    init = np.vstack([X[:2], [[1e3, 1e3]]])
    km = KMeans(3, init=init, n_init=1)
    for batch in np.array_split(X, 4):
        km.partial_fit(batch)
    assert_array_equal(km.cluster_centers_[2], [1e3, 1e3])
    assert km._online_state["weights"][2] == 0.0
    assert np.all(np.isfinite(km.cluster_centers_))


def test_kmeans_partial_fit_after_fit_continues_from_the_fitted_centers():
    X = mixture(6000, n_components=4, n_features=3, seed=20)
    km = KMeans(4, random_state=0).fit(X[:5000])
    fitted = km.cluster_centers_.copy()
    weights = np.bincount(km.labels_, minlength=4) / 5000
    batch = X[5000:]
    _, sums, counts, _ = naive_kmeans.lloyd_step(batch, fitted)
    g = step_size(1, 0.7, 10.0)
    expected = ((1 - g) * weights[:, None] * fitted + g * sums / 1000) / (
        (1 - g) * weights + g * counts / 1000
    )[:, None]
    km.partial_fit(batch)
    _assert_close(km.cluster_centers_, expected, 1e-12)
    assert km.n_iter_ == 1
    assert np.abs(km.cluster_centers_ - fitted).max() < 0.05
    # With learning_offset=0 the fitted centers are forgotten: one Lloyd step.
    km = KMeans(4, random_state=0, learning_offset=0.0).fit(X[:5000])
    km.partial_fit(batch)
    _assert_close(km.cluster_centers_, sums / counts[:, None], 1e-12)


def test_kmeans_fit_after_partial_fit_starts_from_scratch():
    X = mixture(1200, n_components=3, n_features=2, seed=21)
    km = _stream(KMeans(3, random_state=0), X, 1, 4)
    fresh = KMeans(3, random_state=0).fit(X)
    km.fit(X)
    assert_array_equal(km.cluster_centers_, fresh.cluster_centers_)
    assert_array_equal(km.labels_, fresh.labels_)
    km.partial_fit(X[:100])
    assert km.n_iter_ == 1


def test_kmeans_float32_batches():
    X = mixture(1200, n_components=3, n_features=2, seed=22)
    km32 = KMeans(3, init=X[:3], n_init=1)
    km64 = KMeans(3, init=X[:3], n_init=1)
    for batch in np.array_split(X.astype(np.float32), 4):
        km32.partial_fit(batch)
        km64.partial_fit(batch.astype(np.float64))
    assert km32.cluster_centers_.dtype == np.float32
    assert km32._online_state["centers"].dtype == np.float64
    assert_allclose(km32._online_state["centers"], km64.cluster_centers_, rtol=1e-12)
    assert_array_equal(km32.cluster_centers_, km64.cluster_centers_.astype(np.float32))


def test_kmeans_integer_weights_equal_repeated_rows():
    X = mixture(900, n_components=3, n_features=2, seed=23)
    counts = np.random.default_rng(23).integers(0, 4, X.shape[0])
    weighted = KMeans(3, init=X[:3], n_init=1)
    repeated = KMeans(3, init=X[:3], n_init=1)
    for part in np.array_split(np.arange(X.shape[0]), 3):
        weighted.partial_fit(X[part], sample_weight=counts[part])
        repeated.partial_fit(np.repeat(X[part], counts[part], axis=0))
        _assert_close(weighted.cluster_centers_, repeated.cluster_centers_, 1e-12)
        assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-12)


def test_kmeans_pickle_mid_stream_continues_identically():
    X = mixture(1200, n_components=3, n_features=2, seed=24).astype(np.float32)
    batches = np.array_split(X, 6)
    km = KMeans(3, random_state=0)
    for batch in batches[:3]:
        km.partial_fit(batch)
    copy_ = pickle.loads(pickle.dumps(km))
    for batch in batches[3:]:
        km.partial_fit(batch)
        copy_.partial_fit(batch)
    assert_array_equal(copy_.cluster_centers_, km.cluster_centers_)
    assert copy_.inertia_ == km.inertia_ and copy_.n_iter_ == 6


# --- bad batches leave the estimator as it was -------------------------------------

ROWS = np.random.default_rng(25).normal(size=(40, 3))


def _with(value):
    X = ROWS.copy()
    X[3, 1] = value
    return X


BAD_BATCHES = [
    ("nan", _with(np.nan), None, ValueError, "NaN"),
    ("inf", _with(np.inf), None, ValueError, "infinity"),
    ("empty", np.empty((0, 3)), None, ValueError, "0 sample"),
    ("1-D", ROWS[:, 0], None, ValueError, "Expected 2D array"),
    ("3-D", ROWS[None], None, ValueError, "Found array with dim 3"),
    ("strings", np.array([["a", "b", "c"]] * 4), None, ValueError, "convert"),
    ("wide", np.ones((40, 4)), None, ValueError, "4 features"),
    ("weights shape", ROWS, np.ones(39), ValueError, "sample_weight.shape"),
    ("weights nan", ROWS, np.r_[np.nan, np.ones(39)], ValueError, "finite"),
    ("weights negative", ROWS, np.r_[-1.0, np.ones(39)], ValueError, "Negative"),
    ("weights zero", ROWS, np.zeros(40), ValueError, "positive entry"),
    ("weights text", ROWS, np.array(["1"] * 40), TypeError, "real numbers"),
]


def _snapshot(estimator):
    return pickle.dumps(vars(estimator))


def _assert_unchanged(estimator, snapshot):
    """Every attribute as before, bit for bit (values, dtypes, keys)."""
    assert pickle.dumps(vars(estimator)) == snapshot


ESTIMATORS = [
    pytest.param(lambda: GaussianMixture(3, random_state=0), id="GaussianMixture"),
    pytest.param(lambda: KMeans(3, random_state=0), id="KMeans"),
]


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("later", [False, True], ids=["first call", "later call"])
@pytest.mark.parametrize(
    "X, sample_weight, error, match",
    [b[1:] for b in BAD_BATCHES],
    ids=[b[0] for b in BAD_BATCHES],
)
def test_bad_batch_leaves_the_estimator_unchanged(
    make, later, X, sample_weight, error, match
):
    estimator = make()
    if later:
        estimator.partial_fit(ROWS).partial_fit(ROWS[:10])
    elif match == "4 features":
        pytest.skip("any width is right for a first call")
    snapshot = _snapshot(estimator)
    with pytest.raises(error, match=match):
        estimator.partial_fit(X, sample_weight=sample_weight)
    _assert_unchanged(estimator, snapshot)
    if not later:
        assert not hasattr(estimator, "n_features_in_")
    else:  # still usable, and the stream goes on
        estimator.partial_fit(ROWS[:5])
        assert estimator.n_iter_ == 3


@pytest.mark.parametrize("make", ESTIMATORS)
def test_first_batch_needs_enough_rows(make):
    estimator = make()
    snapshot = _snapshot(estimator)
    with pytest.raises(ValueError, match="n_samples"):
        estimator.partial_fit(ROWS[:2])
    _assert_unchanged(estimator, snapshot)
    # ... later batches need only one row.
    estimator.partial_fit(ROWS).partial_fit(ROWS[:1])
    assert estimator.n_iter_ == 2


def test_failed_update_leaves_the_estimator_unchanged():
    """An M-step that fails (collapsed covariance) raises and changes nothing."""
    gm = GaussianMixture(2, reg_covar=0.0, random_state=0).fit(ROWS)
    gm.set_params(learning_offset=0.0)  # a new stream: g_1 = 1
    snapshot = _snapshot(gm)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        gm.partial_fit(np.ones((5, 3)))
    _assert_unchanged(gm, snapshot)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"learning_decay": 0.5}, r"'learning_decay' parameter .* range \(0.5, 1.0\]"),
        ({"learning_decay": 1.5}, "learning_decay"),
        ({"learning_decay": "0.7"}, "learning_decay"),
        ({"learning_offset": -1.0}, r"'learning_offset' parameter .* \[0.0, inf\)"),
        ({"learning_offset": np.inf}, "learning_offset"),
    ],
)
def test_bad_learning_parameters(make, params, match):
    estimator = make().set_params(**params)
    snapshot = _snapshot(estimator)
    with pytest.raises(InvalidParameterError, match=match):
        estimator.partial_fit(ROWS)
    _assert_unchanged(estimator, snapshot)
    with pytest.raises(InvalidParameterError, match=match):
        estimator.fit(ROWS)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_learning_parameters_in_get_params_clone_and_repr(make):
    estimator = make().set_params(learning_decay=1.0, learning_offset=0)
    params = estimator.get_params()
    assert params["learning_decay"] == 1.0 and params["learning_offset"] == 0
    assert clone(estimator).get_params() == params
    assert "learning_decay=1.0" in repr(estimator)
    assert "learning_" not in repr(make())


# --- dask-ml ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: GaussianMixture(3, covariance_type="diag", random_state=0),
            id="GaussianMixture",
        ),
        pytest.param(lambda: KMeans(3, random_state=0), id="KMeans"),
    ],
)
def test_dask_ml_incremental_calls_partial_fit_per_block(make):
    pytest.importorskip("dask_ml", reason="dask-ml is not installed (optional)")
    import dask.array as da
    from dask_ml.wrappers import Incremental

    X = mixture(4000, n_components=3, n_features=3, seed=26)
    dX = da.from_array(X, chunks=(500, 3))
    wrapped = Incremental(make(), shuffle_blocks=False).fit(dX)
    manual = make()
    for start in range(0, 4000, 500):
        manual.partial_fit(X[start : start + 500])
    fitted = wrapped.estimator_
    assert fitted.n_iter_ == 8
    for name in ("means_", "covariances_", "cluster_centers_"):
        if hasattr(manual, name):
            assert_array_equal(getattr(fitted, name), getattr(manual, name))
    assert_array_equal(wrapped.predict(dX).compute(), manual.predict(X))
