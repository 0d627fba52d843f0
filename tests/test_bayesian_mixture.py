"""BayesianGaussianMixture: against scikit-learn, the naive update, and invariants."""

import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import naive
import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM

import fastem
from fastem import BayesianGaussianMixture, kernels
from fastem._config import n_threads
from fastem.kernels._variational import log_predictive_density

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")
POSTERIOR = ("weight_concentration_", "degrees_of_freedom_", "mean_precision_")

# Measured agreement with scikit-learn in float64 over 30 iterations: 1e-15 to
# 2e-11 relative (worst: init_params='random', whose near-uniform start makes the
# components nearly interchangeable). 1e-8 is tighter than the 1e-6 the issue
# asks for; a wrong term of the update or the bound shows up at 1e-3 or above.
RTOL = 1e-8


def _data(n_per=150, d=3, seed=0, offset=5.0):
    """Four overlapping blobs, away from the origin."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 3.0, (4, d))
    X = np.vstack([rng.normal(c, 1.0, (n_per, d)) for c in centers])
    return X + offset


def _flat(concentration):
    return (
        np.hstack(concentration)
        if isinstance(concentration, tuple)
        else (np.asarray(concentration))
    )


def _close(actual, expected, rtol, name=""):
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


def _fit_both(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return (
            BayesianGaussianMixture(**kwargs).fit(X),
            SklearnBGM(**kwargs).fit(X),
        )


def _assert_same_fit(ours, theirs, X, rtol):
    for name in PARAMS + ("mean_precision_", "degrees_of_freedom_"):
        _close(getattr(ours, name), getattr(theirs, name), rtol, name)
    _close(_flat(ours.weight_concentration_), _flat(theirs.weight_concentration_), rtol)
    for name in ("weight_concentration_prior_", "mean_precision_prior_"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=rtol)
    _close(ours.mean_prior_, theirs.mean_prior_, rtol, "mean_prior_")
    _close(ours.covariance_prior_, theirs.covariance_prior_, rtol, "covariance_prior_")
    # scikit-learn's 'tied' bound is a 1-element array; fastem's a float.
    expected = np.ravel(theirs.lower_bounds_).astype(np.float64)
    _close(ours.lower_bounds_, expected, rtol, "lower_bounds_")
    assert ours.lower_bound_ == pytest.approx(float(np.ravel(theirs.lower_bound_)[0]))
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    score = theirs.score_samples(X)
    _close(ours.score_samples(X), score, rtol, "score_samples")
    proba = theirs.predict_proba(X)
    assert_allclose(ours.predict_proba(X), proba, atol=1e3 * rtol)
    top = np.sort(proba, axis=1)
    clear = top[:, -1] - top[:, -2] > 1e-3
    assert_array_equal(ours.predict(X)[clear], theirs.predict(X)[clear])


# --- against scikit-learn ----------------------------------------------------------


@pytest.mark.parametrize("init_params", ["random_from_data", "kmeans"])
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_same_as_sklearn_from_same_start(prior_type, init_params, covariance_type):
    X = _data(seed=1)
    kwargs = dict(
        n_components=6,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        init_params=init_params,
        random_state=3,
        tol=0,
        max_iter=30,
    )
    ours, theirs = _fit_both(X, **kwargs)
    _assert_same_fit(ours, theirs, X, RTOL)


@pytest.mark.parametrize("init_params", ["random", "k-means++"])
def test_other_inits_same_as_sklearn(init_params, covariance_type):
    X = _data(seed=2)
    kwargs = dict(
        n_components=5,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=4,
        tol=0,
        max_iter=10,
    )
    _assert_same_fit(*_fit_both(X, **kwargs), X, RTOL)


def test_user_priors_same_as_sklearn(covariance_type):
    X = _data(seed=3, d=2)
    cov_prior = {
        "full": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "tied": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "diag": np.array([2.0, 0.5]),
        "spherical": 1.5,
    }[covariance_type]
    kwargs = dict(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior=0.3,
        mean_precision_prior=0.2,
        mean_prior=[1.0, -1.0],
        degrees_of_freedom_prior=3.5,
        covariance_prior=cov_prior,
        random_state=0,
        tol=0,
        max_iter=15,
    )
    _assert_same_fit(*_fit_both(X, **kwargs), X, RTOL)


def test_n_init_and_convergence_same_as_sklearn(covariance_type):
    X = _data(seed=4)
    kwargs = dict(
        n_components=4, covariance_type=covariance_type, n_init=3, random_state=5
    )
    _assert_same_fit(*_fit_both(X, **kwargs), X, 1e-6)


def test_warm_start_same_as_one_longer_fit(covariance_type):
    X = _data(seed=5)
    kwargs = dict(n_components=4, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm = BayesianGaussianMixture(warm_start=True, max_iter=4, tol=0, **kwargs)
        warm.fit(X).fit(X)
        long = BayesianGaussianMixture(max_iter=8, tol=0, **kwargs).fit(X)
    for name in PARAMS:
        _close(getattr(warm, name), getattr(long, name), 1e-12, name)
    assert warm.lower_bounds_ == pytest.approx(long.lower_bounds_[4:], rel=1e-12)


def test_verbose_output_as_sklearn(capsys):
    X = _data(seed=6)
    kwargs = dict(n_components=3, verbose=1, verbose_interval=2, max_iter=5, tol=0)
    _fit_both(X, **kwargs)
    # Each library printed the same lines: the fastem part equals the sklearn part.
    out = capsys.readouterr().out.splitlines()
    half = len(out) // 2
    assert out[:half] == out[half:] and half > 3


def test_sample_same_as_sklearn(covariance_type):
    X = _data(seed=7)
    ours, theirs = _fit_both(
        X, n_components=3, covariance_type=covariance_type, random_state=2
    )
    Xs, ys = ours.sample(500)
    Xr, yr = theirs.sample(500)
    assert_array_equal(ys, yr)
    assert_allclose(Xs, Xr, rtol=1e-8, atol=1e-8)


# --- the kernel layer against the naive update -------------------------------------


def _prior_dict(prior_type, X, covariance_type):
    d = X.shape[1]
    cov0 = {
        "full": np.cov(X.T),
        "tied": np.cov(X.T),
        "diag": np.diag(np.var(X, axis=0, ddof=1)),
        "spherical": np.var(X, axis=0, ddof=1).mean() * np.eye(d),
    }[covariance_type]
    return {
        "weight_type": prior_type,
        "alpha0": 0.25,
        "beta0": 0.7,
        "m0": X.mean(axis=0) + 0.5,
        "nu0": d + 0.5,
        "cov0": cov0,
    }


def _kernel_prior(prior):
    return kernels.VariationalPrior(
        prior["weight_type"],
        prior["alpha0"],
        prior["beta0"],
        prior["m0"],
        prior["nu0"],
        prior["cov0"],
    )


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_variational_update_matches_naive(prior_type, covariance_type, dtype):
    X = _data(n_per=40, seed=8).astype(dtype)
    rng = np.random.default_rng(8)
    resp = rng.dirichlet(np.ones(4), X.shape[0])
    weights = rng.uniform(0.0, 3.0, X.shape[0])
    prior = _prior_dict(prior_type, X.astype(np.float64), covariance_type)
    expected = naive.variational_update(
        X, resp, covariance_type, 1e-6, prior, sample_weight=weights
    )
    kprior = _kernel_prior(prior)
    if covariance_type == "diag":
        kprior = kprior._replace(covariance=np.diag(prior["cov0"]))
    elif covariance_type == "spherical":
        kprior = kprior._replace(covariance=float(prior["cov0"][0, 0]))
    stats_ = kernels.stats_from_resp(X, resp, covariance_type, sample_weight=weights)
    post = kernels.variational_m_step(stats_, kprior, 1e-6)
    _close(_flat(post.weight_concentration), _flat(expected["concentration"]), 1e-12)
    _close(post.mean_precision, expected["beta"], 1e-12)
    _close(post.means, expected["means"], 1e-12)
    _close(post.degrees_of_freedom, expected["nu"], 1e-12)
    _close(post.covariances, expected["covariances"], 1e-11)
    assert_allclose(
        kernels.expected_log_weights(post.weight_concentration, prior_type),
        naive.expected_log_weights(expected["concentration"], prior_type),
        rtol=1e-12,
    )
    # The E-step's constant makes the pass compute E[log N] (Bishop 10.64).
    k, d = post.means.shape
    precisions = naive.precision_matrices(
        post.precisions_cholesky, covariance_type, k, d
    )
    nu = np.broadcast_to(post.degrees_of_freedom, (k,))
    reference = naive.expected_log_gaussian(
        X, post.means, precisions, post.mean_precision, nu
    )
    log_weights = kernels.expected_log_weights(post.weight_concentration, prior_type)
    norm = log_weights + kernels.log_prob_constant(post, covariance_type)
    lse, resp_k = kernels.log_resp(
        X, post.means, post.precisions_cholesky, norm, covariance_type
    )
    weighted = reference + log_weights
    assert_allclose(lse, logsumexp(weighted, axis=1), rtol=1e-11)
    expected_resp = np.exp(weighted - logsumexp(weighted, axis=1, keepdims=True))
    assert_allclose(resp_k, expected_resp, atol=1e-12)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(prior="prior"), TypeError, "prior must be a VariationalPrior"),
        (dict(reg_covar=-1.0), ValueError, "reg_covar must be a non-negative"),
        (dict(reg_covar="small"), ValueError, "reg_covar must be a non-negative"),
        (dict(prior_type="dirichlet"), ValueError, "weight_concentration_prior_type"),
        (dict(mean=np.zeros(3)), ValueError, r"prior.mean must have shape \(2,\)"),
    ],
)
def test_variational_m_step_rejects_bad_input(change, error, match):
    X = _data(n_per=20, seed=23, d=2)
    resp = np.random.default_rng(23).dirichlet(np.ones(3), X.shape[0])
    stats_ = kernels.stats_from_resp(X, resp, "full")
    prior = kernels.VariationalPrior(
        change.get("prior_type", "dirichlet_process"),
        0.5,
        1.0,
        change.get("mean", np.zeros(2)),
        2.0,
        np.eye(2),
    )
    with pytest.raises(error, match=match):
        kernels.variational_m_step(
            stats_, change.get("prior", prior), change.get("reg_covar", 1e-6)
        )


def test_lower_bound_needs_the_entropy_statistic():
    X = _data(n_per=20, seed=9)
    bgm = BayesianGaussianMixture(n_components=2, max_iter=2).fit(X)
    plain = kernels.suff_stats(
        X, bgm.means_, bgm.precisions_cholesky_, np.zeros(2), "full"
    )
    with pytest.raises(ValueError, match="entropy=True"):
        kernels.lower_bound(plain, bgm._get_parameters(), bgm._prior())
    with pytest.raises(TypeError, match="SuffStats"):
        kernels.variational_m_step("stats", bgm._prior(), 0.0)
    with pytest.raises(TypeError, match="SuffStats"):
        kernels.lower_bound("stats", bgm._get_parameters(), bgm._prior())


# --- invariants ----------------------------------------------------------------------


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_lower_bound_never_decreases(prior_type, covariance_type):
    rng = np.random.default_rng(10)
    X = np.vstack([rng.normal(c, 1.5, (200, 2)) for c in (0.0, 1.5, 3.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm = BayesianGaussianMixture(
            n_components=6,
            covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type,
            init_params="random",
            random_state=0,
            tol=0,
            max_iter=100,
        ).fit(X)
    bounds = np.asarray(bgm.lower_bounds_)
    assert bounds.size == 100
    steps = np.diff(bounds)
    assert np.all(steps >= -1e-9 * np.abs(bounds[1:])), steps.min()
    assert bounds[-1] > bounds[0]  # it did climb


def test_unused_components_are_switched_off():
    rng = np.random.default_rng(11)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.vstack([rng.normal(c, 0.7, (300, 2)) for c in centers])
    bgm = BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-3,
        max_iter=1000,
        random_state=0,
    ).fit(X)
    assert bgm.converged_
    used = bgm.weights_ > 0.01
    assert used.sum() == 3
    # The three used components sit on the three clusters.
    distances = np.linalg.norm(bgm.means_[used][:, None] - centers[None], axis=2)
    assert np.all(distances.min(axis=0) < 0.2)


def test_fit_predict_equals_fit_then_predict(covariance_type):
    X = _data(n_per=30, seed=12)
    kwargs = dict(n_components=5, covariance_type=covariance_type, random_state=1)
    a = BayesianGaussianMixture(max_iter=3, **kwargs)
    b = copy.deepcopy(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert_array_equal(a.fit(X).predict(X), b.fit_predict(X))


def test_translation_keeps_the_fit(covariance_type):
    # Statistics centred on the means: an offset of 1e6 changes nothing but the
    # means (scikit-learn's 'tied' uses raw second moments and loses digits).
    # ('kmeans': the one-row starts of 'random_from_data' reproduce scikit-learn's
    # tied start, which counts the raw x x^T of the unchosen rows.)
    X = _data(seed=13, offset=0.0)
    kwargs = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params="kmeans",
        random_state=0,
        tol=0,
        max_iter=20,
    )
    near = BayesianGaussianMixture(**kwargs).fit(X)
    far = BayesianGaussianMixture(**kwargs).fit(X + 1e6)
    _close(far.means_ - 1e6, near.means_, 1e-8)
    _close(far.covariances_, near.covariances_, 1e-7)
    assert_allclose(far.weights_, near.weights_, rtol=1e-7)
    assert_allclose(far.lower_bounds_, near.lower_bounds_, rtol=1e-9)


def test_float32_data(covariance_type):
    X64 = _data(seed=14)
    X32 = X64.astype(np.float32)
    kwargs = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params="random_from_data",
        random_state=0,
        tol=0,
        max_iter=10,
        mean_prior=X64.mean(axis=0),  # a float64 prior: the output stays float32
    )
    f32 = BayesianGaussianMixture(**kwargs).fit(X32)
    f64 = BayesianGaussianMixture(**kwargs).fit(X32.astype(np.float64))
    for name in PARAMS:
        assert getattr(f32, name).dtype == np.float32, name
        # fastem reads the float32 values exactly and accumulates in float64
        # (full: the scatter's products in float32, within 8.4e-7 of each
        # entry's diagonal scale): the fits differ by the final rounding to
        # float32 and, for full, that bound.
        _close(getattr(f32, name), getattr(f64, name), 1e-6, name)
    assert f32.mean_precision_.dtype == np.float64
    # full: 6e-9 measured (the scatter's float32 products), 1e-16 otherwise.
    rtol = 1e-7 if covariance_type == "full" else 1e-12
    assert_allclose(f32.lower_bounds_, f64.lower_bounds_, rtol=rtol)
    assert f32.score_samples(X32).dtype == np.float32
    assert f32.predict_proba(X32).dtype == np.float32
    assert_array_equal(f32.predict(X32), f64.predict(X32))


def test_integer_weights_equal_repeated_rows(covariance_type):
    X = _data(n_per=50, seed=15)
    counts = np.random.default_rng(15).integers(0, 4, X.shape[0])
    repeated = np.repeat(X, counts, axis=0)
    kwargs = dict(n_components=4, covariance_type=covariance_type, tol=0)
    # The same start for both: one iteration on the repeated rows, copied.
    first = BayesianGaussianMixture(
        warm_start=True, max_iter=1, random_state=0, **kwargs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first.fit(repeated)
        weighted = copy.deepcopy(first).set_params(max_iter=6)
        plain = copy.deepcopy(first).set_params(max_iter=6)
        weighted.fit(X, sample_weight=counts)
        plain.fit(repeated)
    _close(weighted.mean_prior_, np.mean(repeated, axis=0), 1e-13)
    expected_cov = {
        "full": np.cov(repeated.T),
        "tied": np.cov(repeated.T),
        "diag": np.var(repeated, axis=0, ddof=1),
        "spherical": np.var(repeated, axis=0, ddof=1).mean(),
    }[covariance_type]
    _close(weighted.covariance_prior_, expected_cov, 1e-12)
    for name in PARAMS:
        _close(getattr(weighted, name), getattr(plain, name), 1e-10, name)
    assert_allclose(weighted.lower_bounds_, plain.lower_bounds_, rtol=1e-11)


def test_same_fit_for_one_and_two_threads(always_parallel, covariance_type):
    X = _data(n_per=1500, seed=16)  # several row chunks
    kwargs = dict(
        n_components=4, covariance_type=covariance_type, random_state=0, max_iter=5
    )
    fits = []
    for count in (1, 2):
        with n_threads(count), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(BayesianGaussianMixture(**kwargs).fit(X))
    for name in PARAMS:
        assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_


def test_fits_from_several_python_threads(always_parallel):
    X = _data(n_per=300, seed=17)
    jobs = [
        dict(n_components=3, covariance_type=t, random_state=s, max_iter=5)
        for t in COVARIANCE_TYPES
        for s in (0, 1)
    ]

    def fit(kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bgm = BayesianGaussianMixture(**kwargs).fit(X)
        return bgm, bgm.score_samples(X)

    serial = [fit(kwargs) for kwargs in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(fit, jobs))
    for (a, score_a), (b, score_b) in zip(serial, parallel, strict=True):
        for name in PARAMS:
            assert_array_equal(getattr(a, name), getattr(b, name))
        assert_array_equal(score_a, score_b)


def test_pickle_round_trip(covariance_type):
    X = _data(n_per=50, seed=18)
    bgm = BayesianGaussianMixture(
        n_components=3, covariance_type=covariance_type, random_state=0
    ).fit(X)
    clone = pickle.loads(pickle.dumps(bgm))
    for name in PARAMS:
        assert_array_equal(getattr(clone, name), getattr(bgm, name))
    assert_array_equal(clone.score_samples(X), bgm.score_samples(X))
    assert_array_equal(clone.log_predictive_density(X), bgm.log_predictive_density(X))


def test_no_n_by_k_array_in_fit():
    import tracemalloc

    rng = np.random.default_rng(19)
    X = rng.normal(size=(400_000, 4))
    k = 64
    bgm = BayesianGaussianMixture(
        n_components=k, init_params="random_from_data", max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(X[:2000])  # compile outside the measurement
        tracemalloc.start()
        bgm.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # An (n, k) float64 array would be 205 MB. A fit allocates slabs of at most
    # 1 MiB, the statistics and one n-vector (scikit-learn's row permutation
    # behind 'random_from_data', 8 bytes a row): about 5.5 MB here.
    assert peak < 0.05 * X.shape[0] * k * 8, peak / 1e6


# --- the posterior predictive density -----------------------------------------------


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_log_predictive_density_is_a_student_t_mixture(prior_type, covariance_type):
    X = _data(n_per=60, seed=20)
    bgm = BayesianGaussianMixture(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=0,
    ).fit(X)
    k, d = bgm.means_.shape
    precisions = naive.precision_matrices(
        bgm.precisions_cholesky_, covariance_type, k, d
    )
    nu = np.broadcast_to(bgm.degrees_of_freedom_, (k,))
    new = X[::7] + np.random.default_rng(20).normal(0, 2.0, (len(X[::7]), d))
    parts = []
    for j in range(k):
        df = nu[j] + 1 - d
        beta = bgm.mean_precision_[j]
        # Bishop 10.82: L = (nu + 1 - d) beta / (1 + beta) W, W = precision / nu.
        L = df * beta / (1 + beta) * precisions[j] / nu[j]
        t = stats.multivariate_t(loc=bgm.means_[j], shape=np.linalg.inv(L), df=df)
        parts.append(np.log(bgm.weights_[j]) + t.logpdf(new))
    expected = logsumexp(np.column_stack(parts), axis=1)
    assert_allclose(bgm.log_predictive_density(new), expected, rtol=1e-10)
    # scikit-learn's score_samples is a different quantity (issue 10148).
    assert not np.allclose(bgm.score_samples(new), expected)


def test_log_predictive_density_integrates_to_one():
    rng = np.random.default_rng(21)
    X = np.concatenate([rng.normal(-2, 0.5, 40), rng.normal(3, 1.0, 60)])[:, None]
    bgm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    grid = np.linspace(-60, 60, 200_001)[:, None]
    density = np.exp(bgm.log_predictive_density(grid))
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-4)
    # score_samples' exp does not integrate to 1.
    plain = np.exp(bgm.score_samples(grid))
    assert abs(np.trapezoid(plain, grid[:, 0]) - 1.0) > 1e-3


def test_log_predictive_density_in_slabs(monkeypatch):
    X = _data(n_per=40, seed=22)
    bgm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    whole = bgm.log_predictive_density(X)
    monkeypatch.setattr(fastem._config, "SLAB_ROWS", 7)
    params = bgm._get_parameters()
    sliced = log_predictive_density(X, params, bgm.weights_, "full")
    assert_allclose(sliced, whole, rtol=1e-14)


# --- bad input ----------------------------------------------------------------------


X_OK = np.random.default_rng(0).normal(size=(30, 2))

BAD_PRIORS = [
    ({"weight_concentration_prior": 0.0}, "weight_concentration_prior"),
    ({"weight_concentration_prior": -1.0}, "weight_concentration_prior"),
    ({"mean_precision_prior": 0.0}, "mean_precision_prior"),
    ({"degrees_of_freedom_prior": 1.0}, "should be greater than 1"),
    ({"degrees_of_freedom_prior": 0.5}, "should be greater than 1"),
    ({"mean_prior": [0.0, 0.0, 0.0]}, "'means' should have the shape"),
    (
        {"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]},
        "'full precision' should be symmetric, positive-definite",
    ),
    (
        {"covariance_prior": [[1.0, 0.5], [0.0, 1.0]], "covariance_type": "tied"},
        "'tied precision' should be symmetric, positive-definite",
    ),
    ({"covariance_prior": np.eye(3)}, "'full covariance_prior' should have the shape"),
    (
        {"covariance_prior": [1.0, 2.0, 3.0], "covariance_type": "diag"},
        "'diag covariance_prior' should have the shape",
    ),
    (
        {"covariance_prior": [1.0, -2.0], "covariance_type": "diag"},
        "'diag precision' should be positive",
    ),
    (
        {"covariance_prior": -1.0, "covariance_type": "spherical"},
        "covariance_prior",
    ),
    (
        {"weight_concentration_prior_type": "dirichlet"},
        "weight_concentration_prior_type",
    ),
]


def _no_kernel(*args, **kwargs):
    raise AssertionError("a kernel ran before the priors were checked")


@pytest.mark.parametrize("params, match", BAD_PRIORS)
def test_bad_priors_raise_sklearns_errors_before_any_kernel(params, match, monkeypatch):
    with pytest.raises(ValueError, match=match) as theirs:
        SklearnBGM(**params).fit(X_OK)
    monkeypatch.setattr(fastem._base.kernels, "suff_stats", _no_kernel)
    monkeypatch.setattr(fastem._base, "stats_from_source", _no_kernel)
    monkeypatch.setattr(fastem._base, "kmeans_plusplus", _no_kernel)
    bgm = BayesianGaussianMixture(**params)
    with pytest.raises(ValueError) as ours:
        bgm.fit(X_OK)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert not hasattr(bgm, "means_")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"mean_prior": [np.nan, 0.0]}, "'mean_prior' must be finite"),
        ({"covariance_prior": [[np.inf, 0], [0, 1]]}, "must be finite"),
        ({"mean_prior": ["a", "b"]}, "must contain real numbers"),
        (
            {"covariance_prior": [1.0, 2.0], "covariance_type": "spherical"},
            "'spherical covariance_prior' should be a positive number",
        ),
    ],
)
def test_priors_sklearn_does_not_check(params, match):
    # scikit-learn lets these through (to NaN results or a broadcasting error).
    with pytest.raises((ValueError, TypeError), match=match):
        BayesianGaussianMixture(**params).fit(X_OK)


def test_default_covariance_prior_needs_total_weight_above_one():
    with pytest.raises(ValueError, match="total sample_weight above 1"):
        BayesianGaussianMixture().fit(X_OK, sample_weight=np.full(30, 0.01))
    # With a given prior the fit runs.
    BayesianGaussianMixture(covariance_prior=np.eye(2)).fit(
        X_OK, sample_weight=np.full(30, 0.5)
    )


def test_not_fitted():
    bgm = BayesianGaussianMixture()
    for method in (
        "predict",
        "predict_proba",
        "score_samples",
        "score",
        "log_predictive_density",
    ):
        with pytest.raises(Exception, match="not fitted yet"):
            getattr(bgm, method)(X_OK)
