"""GaussianMixture: against scikit-learn, against the naive EM, and invariants."""

import os
import pickle
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import naive
import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from fastem import GaussianMixture
from fastem._config import n_threads

PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")

# In float64 fastem and scikit-learn agree to ~1e-14 relative (measured); 1e-9
# leaves room for rounding to grow over the iterations and still catches any
# real difference (a wrong term shows up at 1e-3 or above).
RTOL64 = 1e-9
# With float32 data scikit-learn computes in float32 (unit roundoff 6e-8, and
# its sums over a few hundred rows lose a few more digits), while fastem reads
# the float32 values exactly and accumulates in float64. The two then differ
# by scikit-learn's float32 rounding, measured at 1e-7..2e-6 relative for the
# datasets below (max_iter=10): 3e-5 is over ten times that and still four
# orders of magnitude below what a wrong formula would give.
RTOL32 = 3e-5


def _rtol(dtype):
    return RTOL64 if dtype == np.float64 else RTOL32


def _assert_close(actual, expected, rtol, name=""):
    """Relative agreement with an absolute floor at the array's own scale."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


def assert_same_fit(fitted, reference, X, rtol, check_dtype=True, new=None):
    """Fitted attributes and every public method agree with ``reference``.

    The methods are compared on ``X`` and on ``new`` points (by default rows of
    ``X`` plus noise).
    """
    for name in PARAMS:
        actual = getattr(fitted, name)
        expected = getattr(reference, name)
        if check_dtype:
            assert actual.dtype == expected.dtype, name
        _assert_close(actual, expected, rtol, name)
    assert fitted.n_iter_ == reference.n_iter_
    assert fitted.converged_ == reference.converged_
    assert len(fitted.lower_bounds_) == len(reference.lower_bounds_)
    scale = 1.0 + abs(reference.lower_bound_)
    assert fitted.lower_bound_ == pytest.approx(
        reference.lower_bound_, abs=rtol * scale
    )
    assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, atol=rtol * scale)
    # Methods, on the training data and on new points.
    if new is None:
        rng = np.random.default_rng(0)
        new = (X[:50] + rng.normal(0, 0.5, X[:50].shape)).astype(X.dtype)
    for data in (X, new):
        log_prob = reference.score_samples(data)
        atol = rtol * (1.0 + np.abs(log_prob).max())
        assert_allclose(fitted.score_samples(data), log_prob, rtol=rtol, atol=atol)
        assert fitted.score(data) == pytest.approx(reference.score(data), abs=atol)
        n = data.shape[0]
        assert fitted.bic(data) == pytest.approx(reference.bic(data), abs=2 * n * atol)
        assert fitted.aic(data) == pytest.approx(reference.aic(data), abs=2 * n * atol)
        proba = reference.predict_proba(data)
        assert_allclose(fitted.predict_proba(data), proba, atol=100 * rtol)
        # Labels agree except where two components are (nearly) tied.
        sorted_proba = np.sort(np.column_stack([proba, np.zeros(n)]), axis=1)
        clear = sorted_proba[:, -1] - sorted_proba[:, -2] > 1e-3
        assert_array_equal(fitted.predict(data)[clear], reference.predict(data)[clear])


def fit_both(X, **kwargs):
    """Fit fastem and scikit-learn with the same parameters (warnings hushed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**kwargs).fit(X)
        theirs = SklearnGaussianMixture(**kwargs).fit(X)
    return ours, theirs


# --- against scikit-learn --------------------------------------------------------


def test_same_as_sklearn_from_same_start(
    covariance_type, dtype, make_data, make_params, init_kwargs
):
    X = make_data(400, 3, 3, seed=0, dtype=dtype)
    params = make_params(3, 3, covariance_type, seed=1, X=X)
    ours, theirs = fit_both(
        X,
        n_components=3,
        covariance_type=covariance_type,
        tol=0,
        max_iter=10,
        **init_kwargs(params),
    )
    assert ours.n_iter_ == 10 and not ours.converged_
    # fastem's attributes have the data's dtype; scikit-learn's follow its
    # promotions (float64 here, from the float64 initial parameters).
    for name in PARAMS:
        assert getattr(ours, name).dtype == dtype
    assert_same_fit(ours, theirs, X, _rtol(dtype), check_dtype=dtype == np.float64)


def test_dead_component_same_as_sklearn(covariance_type, init_kwargs, make_params):
    """A component far from every row gets responsibilities that underflow to 0.

    scikit-learn's new mean is sum_i r_ik x_i / (nk_k + 10 eps), which sends such
    a component to the origin; fastem's centered update must do the same.
    """
    rng = np.random.default_rng(25)
    X = rng.normal(5.0, 1.0, (200, 2))
    params = make_params(2, 2, covariance_type, seed=25, X=X)
    params["means"][1] = [500.0, -500.0]
    ours, theirs = fit_both(
        X,
        n_components=2,
        covariance_type=covariance_type,
        max_iter=3,
        tol=0,
        **init_kwargs(params),
    )
    # It left (500, -500) for the origin's neighbourhood.
    assert np.abs(theirs.means_[1]).max() < 0.1
    assert_same_fit(ours, theirs, X, RTOL64)


def test_float32_weights_init_accepted_as_by_sklearn(make_data):
    # float32(1/3) * 3 = 1 + 3e-8: normalised to float32 precision.
    X = make_data(100, 2, 3, seed=26)
    weights = np.full(3, 1 / 3, dtype=np.float32)
    ours, theirs = fit_both(X, n_components=3, weights_init=weights, random_state=0)
    assert_same_fit(ours, theirs, X, RTOL64)


def test_layout_and_integer_data_give_the_same_fit(covariance_type, make_data):
    """F-ordered, non-contiguous, list and integer input: converted, same fit."""
    X = np.round(make_data(200, 3, 3, seed=27) * 10)
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    reference = GaussianMixture(**kwargs).fit(X)
    wide = np.zeros((200, 6))
    wide[:, ::2] = X
    for variant in (
        np.asfortranarray(X),
        wide[:, ::2],
        X.tolist(),
        X.astype(np.int64),
    ):
        gm = GaussianMixture(**kwargs).fit(variant)
        for name in PARAMS:
            assert_array_equal(getattr(gm, name), getattr(reference, name))
        assert_array_equal(gm.predict_proba(variant), reference.predict_proba(X))


def test_one_iteration_matches_naive_em(covariance_type, make_data, make_params):
    """One fit iteration is exactly the textbook E-step + M-step."""
    X = make_data(200, 4, 2, seed=2)
    params = make_params(2, 4, covariance_type, seed=2, X=X)
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        max_iter=1,
        tol=0,
        weights_init=params["weights"],
        means_init=params["means"],
        precisions_init=params["precisions"],
    )
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    expected, lower_bound = naive.em_step(
        X,
        params["weights"],
        params["means"],
        params["precisions_cholesky"],
        covariance_type,
        gm.reg_covar,
    )
    assert_allclose(gm.weights_, expected["weights"], rtol=1e-12)
    _assert_close(gm.means_, expected["means"], 1e-11)
    _assert_close(gm.covariances_, expected["covariances"], 1e-11)
    _assert_close(gm.precisions_cholesky_, expected["precisions_cholesky"], 1e-10)
    assert gm.lower_bound_ == pytest.approx(lower_bound, rel=1e-12)
    assert gm.lower_bounds_ == [gm.lower_bound_]


@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_init_params_same_as_sklearn(init_params, covariance_type, make_data):
    X = make_data(300, 2, 3, seed=3)
    ours, theirs = fit_both(
        X,
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=4,
        max_iter=8,
        tol=0,
    )
    assert_same_fit(ours, theirs, X, RTOL64)


def test_n_init_keeps_the_same_best_as_sklearn(covariance_type, make_data):
    X = make_data(300, 3, 4, seed=5, std=1.5)
    ours, theirs = fit_both(
        X,
        n_components=4,
        covariance_type=covariance_type,
        init_params="random",
        n_init=3,
        random_state=0,
        max_iter=4,
        tol=0,
    )
    assert_same_fit(ours, theirs, X, RTOL64)


def test_converged_flag_and_n_iter_same_as_sklearn(covariance_type, make_data):
    X = make_data(300, 2, 3, seed=6)
    ours, theirs = fit_both(
        X, n_components=3, covariance_type=covariance_type, random_state=0, tol=1e-4
    )
    assert ours.converged_ and theirs.converged_
    assert_same_fit(ours, theirs, X, RTOL64)


def test_warm_start_same_as_sklearn_and_as_one_longer_fit(
    covariance_type, make_data, make_params, init_kwargs
):
    X = make_data(300, 3, 3, seed=7)
    params = make_params(3, 3, covariance_type, seed=7, X=X)
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        max_iter=4,
        tol=0,
        **init_kwargs(params),
    )
    ours = GaussianMixture(warm_start=True, **kwargs)
    theirs = SklearnGaussianMixture(warm_start=True, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = ours.fit(X).lower_bounds_
        ours.fit(X)
        theirs.fit(X).fit(X)
        longer = GaussianMixture(**{**kwargs, "max_iter": 8}).fit(X)
    assert_same_fit(ours, theirs, X, RTOL64)
    # Two warm fits of 4 iterations are one fit of 8.
    assert ours.n_iter_ == 4
    assert_allclose(first + ours.lower_bounds_, longer.lower_bounds_, rtol=1e-13)
    for name in PARAMS:
        _assert_close(getattr(ours, name), getattr(longer, name), 1e-12, name)


@pytest.mark.parametrize("init_params", ["random", "kmeans"])
def test_max_iter_zero_gives_the_initial_parameters(
    init_params, covariance_type, make_data
):
    X = make_data(200, 3, 3, seed=8)
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=1,
        max_iter=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # none with max_iter=0
        ours, theirs = fit_both(X, **kwargs)
    assert ours.n_iter_ == 0 and not ours.converged_
    assert ours.lower_bound_ == -np.inf and ours.lower_bounds_ == []
    assert_same_fit(ours, theirs, X, RTOL64)


def test_max_iter_zero_with_all_initial_parameters(
    covariance_type, make_data, make_params, init_kwargs
):
    # scikit-learn leaves covariances_ unset here (and fails); fastem inverts the
    # given precisions.
    X = make_data(100, 3, 2, seed=9)
    params = make_params(2, 3, covariance_type, seed=9, X=X)
    gm = GaussianMixture(
        2, covariance_type=covariance_type, max_iter=0, **init_kwargs(params)
    ).fit(X)
    assert_allclose(gm.weights_, params["weights"], rtol=1e-15)
    assert_allclose(gm.means_, params["means"], rtol=1e-15)
    _assert_close(gm.precisions_, params["precisions"], 1e-13)
    _assert_close(gm.precisions_cholesky_, params["precisions_cholesky"], 1e-13)
    _assert_close(gm.covariances_, params["covariances"], 1e-12)


def test_verbose_output_has_sklearn_structure(capsys, covariance_type, make_data):
    X = make_data(200, 2, 3, seed=10)
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        random_state=0,
        n_init=2,
        max_iter=5,
        tol=0,
        verbose_interval=2,
    )

    def normalised(text):
        return re.sub(r"-?\d+\.\d+", "#", text)

    for verbose in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GaussianMixture(verbose=verbose, **kwargs).fit(X)
            ours = capsys.readouterr().out
            SklearnGaussianMixture(verbose=verbose, **kwargs).fit(X)
            theirs = capsys.readouterr().out
        assert ours.count("\n") == theirs.count("\n") > 4
        if verbose == 1:
            assert ours == theirs
        else:
            assert normalised(ours) == normalised(theirs)
            # The printed lower bounds and changes (5 decimals) agree too.
            numbers = re.findall(r"(?:ll change|lower bound) (-?\d+\.\d+)", ours)
            expected = re.findall(r"(?:ll change|lower bound) (-?\d+\.\d+)", theirs)
            assert numbers == expected and numbers


def test_convergence_warning(covariance_type, make_data):
    X = make_data(200, 2, 3, seed=11)
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=2, tol=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm.fit(X)
    assert not gm.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm.set_params(max_iter=200, tol=1e-3, random_state=0).fit(X)
    assert gm.converged_


def test_sample_same_as_sklearn(covariance_type, make_data):
    X = make_data(300, 3, 3, seed=12)
    ours, theirs = fit_both(
        X, n_components=3, covariance_type=covariance_type, random_state=3, max_iter=5
    )
    # Same parameters (copied), same seed: the same draws, bit for bit.
    for name in ("weights_", "means_", "covariances_"):
        setattr(ours, name, getattr(theirs, name).copy())
    X_ours, y_ours = ours.sample(500)
    X_theirs, y_theirs = theirs.sample(500)
    assert_array_equal(X_ours, X_theirs)
    assert_array_equal(y_ours, y_theirs)
    # The fitted parameters (equal to rounding) give the same draws to rounding.
    fitted = GaussianMixture(
        3, covariance_type=covariance_type, random_state=3, max_iter=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X_fit, y_fit = fitted.fit(X).sample(500)
    assert_array_equal(y_fit, y_theirs)
    assert_allclose(X_fit, X_theirs, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="at least one sample"):
        ours.sample(0)


# --- invariants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_samples, n_features, n_components, std",
    [(500, 2, 3, 1.0), (400, 5, 4, 2.5), (300, 1, 2, 3.0)],
)
def test_lower_bound_never_decreases(
    n_samples, n_features, n_components, std, covariance_type, make_data
):
    X = make_data(n_samples, n_features, n_components, seed=n_features, std=std)
    X = X @ np.random.default_rng(0).normal(size=(n_features, n_features))
    gm = GaussianMixture(
        n_components + 1,
        covariance_type=covariance_type,
        init_params="random",
        random_state=0,
        max_iter=25,
        tol=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    bounds = np.array(gm.lower_bounds_)
    assert len(bounds) == 25 and np.all(np.isfinite(bounds))
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


@pytest.mark.parametrize("max_iter", [1, 3, 100])
def test_fit_predict_equals_fit_then_predict(max_iter, covariance_type, make_data):
    X = make_data(300, 2, 4, seed=13, std=2.0)
    kwargs = dict(
        n_components=4,
        covariance_type=covariance_type,
        max_iter=max_iter,
        random_state=2,
        init_params="random",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = GaussianMixture(**kwargs).fit_predict(X)
        gm = GaussianMixture(**kwargs).fit(X)
    assert_array_equal(labels, gm.predict(X))
    assert labels.dtype.kind == "i"
    assert set(np.unique(labels)) <= set(range(4))


def test_large_offset_keeps_covariances(
    covariance_type, make_data, make_params, init_kwargs
):
    """Data shifted by 1e6 gives the covariances of the unshifted data.

    fastem accumulates second moments about the current means, so the shift
    costs only the rounding of x and mu (~1e-10 absolute at 1e6). scikit-learn's
    tied, diag and spherical M-steps form E[x x^T] - mu mu^T, two numbers of
    ~1e12 whose difference is ~1: there it loses about 6 digits (measured ~5e-4
    relative for these data; its 'full' M-step is centered and stays ~1e-11).
    """
    shift = 1e6
    base = make_data(300, 3, 3, seed=14)
    X = base + shift
    X0 = X - shift  # exactly the values X holds, without the offset
    params = make_params(3, 3, covariance_type, seed=14, X=X0)
    shifted = dict(params, means=params["means"] + shift)
    kwargs = dict(n_components=3, covariance_type=covariance_type, max_iter=10, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(**kwargs, **init_kwargs(shifted)).fit(X)
        reference = GaussianMixture(**kwargs, **init_kwargs(params)).fit(X0)
    _assert_close(ours.covariances_, reference.covariances_, 1e-8)
    assert_allclose(ours.means_ - shift, reference.means_, atol=1e-8)
    assert_allclose(ours.weights_, reference.weights_, rtol=1e-8)

    def relative_error(covariances):
        scale = np.abs(reference.covariances_).max()
        return np.abs(covariances - reference.covariances_).max() / scale

    our_error = relative_error(ours.covariances_)
    assert our_error < 1e-8
    if covariance_type != "full":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                theirs = SklearnGaussianMixture(**kwargs, **init_kwargs(shifted)).fit(X)
            except ValueError:  # its variances went non-positive: even worse
                return
        assert relative_error(theirs.covariances_) > our_error


def test_float32_cover_data_diag_close_to_float64(cover):
    """Real data with large offsets (elevation ~3000) and scales 15..4e6.

    fastem reads the float32 values exactly and accumulates in float64, so the
    float32 fit agrees with the float64 fit to float32 rounding (measured 5e-8
    relative for the variances after 5 iterations).
    """
    X64 = cover
    X32 = X64.astype(np.float32)
    rng = np.random.default_rng(0)
    k = 4
    rows = rng.choice(X64.shape[0], k, replace=False)
    kwargs = dict(
        n_components=k,
        covariance_type="diag",
        max_iter=5,
        tol=0,
        weights_init=np.full(k, 1.0 / k),
        means_init=X64[rows],
        precisions_init=np.tile(1.0 / X64.var(axis=0), (k, 1)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm32 = GaussianMixture(**kwargs).fit(X32)
        gm64 = GaussianMixture(**kwargs).fit(X64)
    assert gm32.covariances_.dtype == np.float32
    assert np.all(np.isfinite(gm32.covariances_))
    assert np.all(gm32.covariances_ > 0)
    assert_allclose(gm32.covariances_, gm64.covariances_, rtol=2e-6)
    assert_allclose(gm32.means_, gm64.means_, rtol=1e-6)
    assert_allclose(gm32.weights_, gm64.weights_, rtol=1e-5)
    assert gm32.lower_bound_ == pytest.approx(gm64.lower_bound_, rel=1e-6)


# --- sample_weight --------------------------------------------------------------------


def _fit_weighted(X, sample_weight, covariance_type, params, init_kwargs, **extra):
    gm = GaussianMixture(
        params["weights"].size,
        covariance_type=covariance_type,
        max_iter=6,
        tol=0,
        **init_kwargs(params),
        **extra,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, sample_weight=sample_weight)


def test_integer_weights_equal_repeated_rows(
    covariance_type, dtype, make_data, make_params, init_kwargs
):
    X = make_data(200, 3, 3, seed=15, dtype=dtype)
    counts = np.random.default_rng(15).integers(0, 4, X.shape[0])  # 0 included
    params = make_params(3, 3, covariance_type, seed=15, X=X)
    weighted = _fit_weighted(X, counts, covariance_type, params, init_kwargs)
    repeated = _fit_weighted(
        np.repeat(X, counts, axis=0), None, covariance_type, params, init_kwargs
    )
    # Both accumulate the same float64 numbers in a different grouping; for
    # float32 'full', float32 scatter products of other groups of rows (within
    # 8.4e-7 of the diagonal's scale; 3e-7 measured).
    single = covariance_type == "full" and dtype == np.float32
    for name in PARAMS:
        rtol = 3e-6 if single else 1e-10
        _assert_close(getattr(weighted, name), getattr(repeated, name), rtol, name)
    rtol = 1e-8 if single else 1e-12
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=rtol)


def test_zero_weight_equals_leaving_the_row_out(
    covariance_type, make_data, make_params, init_kwargs
):
    X = make_data(200, 3, 3, seed=16)
    # The left-out rows are far away: they would change the fit if counted.
    X[:10] += 50.0
    weights = np.ones(X.shape[0])
    weights[:10] = 0.0
    params = make_params(3, 3, covariance_type, seed=16, X=X[10:])
    with_zeros = _fit_weighted(X, weights, covariance_type, params, init_kwargs)
    left_out = _fit_weighted(X[10:], None, covariance_type, params, init_kwargs)
    for name in PARAMS:
        _assert_close(getattr(with_zeros, name), getattr(left_out, name), 1e-12, name)
    assert_allclose(with_zeros.lower_bounds_, left_out.lower_bounds_, rtol=1e-13)


def test_scalar_weight_equals_no_weight(covariance_type, make_data):
    X = make_data(200, 2, 3, seed=17)
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    plain = GaussianMixture(**kwargs).fit(X)
    scalar = GaussianMixture(**kwargs).fit(X, sample_weight=2.5)
    ones = GaussianMixture(**kwargs).fit(X, sample_weight=np.ones(X.shape[0]))
    for name in PARAMS:
        assert_array_equal(getattr(scalar, name), getattr(plain, name))
        _assert_close(getattr(ones, name), getattr(plain, name), 1e-12, name)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_zero_weight_rows_never_seed_a_component(
    init_params, covariance_type, make_data
):
    X = make_data(200, 2, 3, seed=18)
    weights = np.ones(X.shape[0])
    weights[::2] = 0.0
    for seed in range(5):
        gm = GaussianMixture(
            3,
            covariance_type=covariance_type,
            init_params=init_params,
            random_state=seed,
            max_iter=0,
        ).fit(X, sample_weight=weights)
        # Each initial mean is one data row (times 1 / (1 + 10 eps)).
        distances = np.abs(gm.means_[:, None, :] - X[None]).max(axis=2)
        seeds = distances.argmin(axis=1)
        assert_allclose(distances.min(axis=1), 0.0, atol=1e-12)
        assert np.all(weights[seeds] > 0), seeds


def test_weighted_fit_with_every_init(covariance_type, make_data):
    X = make_data(200, 2, 3, seed=18)
    weights = np.random.default_rng(18).uniform(0.0, 2.0, X.shape[0])
    for init_params in ("kmeans", "k-means++", "random", "random_from_data"):
        gm = GaussianMixture(
            3,
            covariance_type=covariance_type,
            init_params=init_params,
            random_state=0,
            max_iter=100,
        ).fit(X, sample_weight=weights)
        assert gm.converged_, init_params
        assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(np.isfinite(gm.precisions_cholesky_))


# --- threads and pickling ------------------------------------------------------------


def test_same_fit_for_one_and_two_threads(always_parallel, covariance_type, make_data):
    X = make_data(5000, 4, 3, seed=19, std=2.0)  # several row chunks
    weights = np.random.default_rng(19).uniform(0.5, 2.0, X.shape[0])
    kwargs = dict(
        n_components=3, covariance_type=covariance_type, random_state=0, max_iter=5
    )
    fits = []
    for count in (1, 2):
        with n_threads(count), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(GaussianMixture(**kwargs).fit(X, sample_weight=weights))
    for name in PARAMS:
        assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    with n_threads(1):
        proba = fits[0].predict_proba(X)
    with n_threads(2):
        assert_array_equal(fits[1].predict_proba(X), proba)


def test_serial_path_gives_the_parallel_result(covariance_type, make_data, monkeypatch):
    """Small calls run on one thread (SERIAL_WORK); the result is the same."""
    from fastem import _config

    X = make_data(5000, 4, 3, seed=21, std=2.0)
    kwargs = dict(
        n_components=3, covariance_type=covariance_type, random_state=0, max_iter=5
    )
    fits = []
    for threshold in (0, 1 << 60):  # never serial, always serial
        monkeypatch.setattr(_config, "SERIAL_WORK", threshold)
        with n_threads(2), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(**kwargs).fit(X)
            fits.append((gm, gm.score_samples(X)))
    (a, score_a), (b, score_b) = fits
    for name in PARAMS:
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.lower_bounds_ == b.lower_bounds_
    assert_array_equal(score_a, score_b)


def _recording_kernel(calls):
    def kernel(first, last, tag):
        calls.append((first, last, tag, threading.get_ident()))

    return kernel


def test_small_calls_run_on_the_calling_thread():
    from fastem import _config

    calls = []
    with n_threads(2):
        _config.run_chunks(
            _recording_kernel(calls), 7, "x", work=_config.SERIAL_WORK - 1
        )
    assert calls == [(0, 7, "x", threading.get_ident())]


@pytest.mark.parametrize("work", [None, 1 << 40])
def test_large_calls_share_the_chunks_among_the_threads(work):
    import numba

    from fastem import _config

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    calls = []
    # The first two ranges wait for each other: they must run at once, on two
    # threads (a time-out breaks the barrier and fails the test).
    both = threading.Barrier(2, timeout=30)

    def kernel(first, last, tag):
        if first < 4:  # the ranges (0, 2) and (2, 4)
            both.wait()
        calls.append((first, last, tag, threading.get_ident()))

    with n_threads(2):
        _config.run_chunks(kernel, 16, "x", work=work)
    spans = sorted(call[:2] for call in calls)
    assert spans == _config.chunk_ranges(16, 8)  # every chunk once, in ranges
    assert {call[2] for call in calls} == {"x"}
    assert len({call[3] for call in calls}) == 2
    assert threading.get_ident() in {call[3] for call in calls}
    calls.clear()
    with n_threads(1):  # the user's own thread count wins
        _config.run_chunks(_recording_kernel(calls), 7, "x", work=work)
    assert calls == [(0, 7, "x", threading.get_ident())]


def _chunks_in_a_forked_child(queue):
    from fastem import _config

    calls = []
    with n_threads(2):
        _config.run_chunks(_recording_kernel(calls), 6, "child")
    queue.put(sorted(call[:2] for call in calls))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own():
    import multiprocessing

    import numba

    from fastem import _config

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    with n_threads(2):  # the parent's pool exists, with its threads
        _config.run_chunks(_recording_kernel([]), 6, "parent")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_chunks_in_a_forked_child, args=(queue,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        child.start()
    try:
        assert queue.get(timeout=60) == _config.chunk_ranges(6, 6)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


def test_a_failing_chunk_range_raises_after_the_others_finish():
    import numba

    from fastem import _config

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    started, finished = [], []

    def kernel(first, last):
        started.append(first)
        if first > 0:
            raise ValueError("chunk failed")
        time.sleep(0.05)
        finished.append(first)

    with n_threads(2), pytest.raises(ValueError, match="chunk failed"):
        _config.run_chunks(kernel, 4)
    assert finished == [0]  # the range running elsewhere was waited for
    assert sorted(started) == [0, 1]  # and no range started after the failure


def test_fits_from_several_python_threads(always_parallel, make_data):
    X = make_data(3000, 3, 3, seed=20, std=2.0)
    jobs = [
        dict(n_components=3, covariance_type=t, random_state=s, max_iter=5)
        for t in COVARIANCE_TYPES
        for s in (0, 1)
    ]

    def fit(kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(**kwargs).fit(X)
        return gm, gm.score_samples(X)

    serial = [fit(kwargs) for kwargs in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(fit, jobs))
    for (a, score_a), (b, score_b) in zip(serial, parallel, strict=True):
        for name in PARAMS:
            assert_array_equal(getattr(a, name), getattr(b, name))
        assert_array_equal(score_a, score_b)


def test_pickle_round_trip(covariance_type, make_data):
    X = make_data(200, 3, 3, seed=21)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    clone = pickle.loads(pickle.dumps(gm))
    for name in PARAMS:
        assert_array_equal(getattr(clone, name), getattr(gm, name))
    assert_array_equal(clone.predict(X), gm.predict(X))
    assert_array_equal(clone.predict_proba(X), gm.predict_proba(X))
    assert_array_equal(clone.score_samples(X), gm.score_samples(X))


# --- bad input ---------------------------------------------------------------------

X_OK = np.random.default_rng(0).normal(size=(20, 3))


def _with(value, row=0, col=0):
    X = X_OK.copy()
    X[row, col] = value
    return X


BAD_X = [
    ("nan", _with(np.nan), ValueError, "NaN"),
    ("inf", _with(np.inf), ValueError, "infinity"),
    ("1-D", X_OK[:, 0], ValueError, "Expected 2D array"),
    ("3-D", X_OK[None], ValueError, "Found array with dim 3"),
    ("empty", np.empty((0, 3)), ValueError, "0 sample"),
    ("no features", np.empty((20, 0)), ValueError, "0 feature"),
    ("one row", X_OK[:1], ValueError, "minimum of 2 is required"),
    ("complex", X_OK + 1j, ValueError, "Complex data not supported"),
    ("strings", np.array([["a", "b"], ["c", "d"]]), ValueError, "convert"),
    ("objects", np.array([[{}, 1.0], [2.0, 3.0]], dtype=object), TypeError, "dict"),
]


@pytest.mark.parametrize(
    "X, error, match", [b[1:] for b in BAD_X], ids=[b[0] for b in BAD_X]
)
def test_bad_X_at_fit(X, error, match):
    for estimator in (GaussianMixture(2), SklearnGaussianMixture(2)):
        with pytest.raises(error, match=match):
            estimator.fit(X)


def test_fewer_samples_than_components():
    message = "Expected n_samples >= n_components but got n_components = 5"
    for estimator in (GaussianMixture(5), SklearnGaussianMixture(5)):
        with pytest.raises(ValueError, match=message):
            estimator.fit(X_OK[:4])


@pytest.mark.parametrize(
    "X, error, match",
    [
        (_with(np.nan), ValueError, "NaN"),
        (X_OK[:, 0], ValueError, "Expected 2D array"),
        (np.ones((5, 4)), ValueError, "X has 4 features, but GaussianMixture is"),
        (np.ones((5, 2)), ValueError, "X has 2 features"),
    ],
)
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score", "score_samples", "bic", "aic"]
)
def test_bad_X_at_predict(method, X, error, match):
    gm = GaussianMixture(2, random_state=0).fit(X_OK)
    with pytest.raises(error, match=match):
        getattr(gm, method)(X)


def test_not_fitted():
    for method in ("predict", "predict_proba", "score_samples", "score"):
        with pytest.raises(NotFittedError):
            getattr(GaussianMixture(2), method)(X_OK)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).sample(3)


@pytest.mark.parametrize(
    "sample_weight, error, match",
    [
        (-np.ones(20), ValueError, "Negative values"),
        (_with(np.nan)[:, 0], ValueError, "finite"),
        (np.full(20, np.inf), ValueError, "finite"),
        (np.ones(19), ValueError, r"sample_weight.shape == \(19,\), expected \(20,\)"),
        (np.ones((20, 1)), ValueError, "sample_weight.shape"),
        (np.array(["a"] * 20), TypeError, "real numbers"),
        (np.zeros(20), ValueError, "at least one positive"),
        (0.0, ValueError, "positive finite number"),
        (-1.0, ValueError, "positive finite number"),
        (np.nan, ValueError, "positive finite number"),
    ],
)
def test_bad_sample_weight(sample_weight, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(2).fit(X_OK, sample_weight=sample_weight)


def test_fewer_weighted_rows_than_components():
    weights = np.zeros(20)
    weights[:2] = 1.0
    with pytest.raises(ValueError, match="positive sample_weight"):
        GaussianMixture(3).fit(X_OK, sample_weight=weights)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"covariance_type": "banana"}, "'covariance_type' parameter"),
        ({"n_components": 0}, "'n_components' parameter"),
        ({"n_components": 1.5}, "'n_components' parameter"),
        ({"tol": -1.0}, "'tol' parameter"),
        ({"reg_covar": -1.0}, "'reg_covar' parameter"),
        ({"max_iter": -1}, "'max_iter' parameter"),
        ({"n_init": 0}, "'n_init' parameter"),
        ({"init_params": "banana"}, "'init_params' parameter"),
    ],
)
def test_bad_hyper_parameters(params, match):
    # scikit-learn's own parameter validation: InvalidParameterError (ValueError).
    for estimator in (GaussianMixture(2), SklearnGaussianMixture(2)):
        with pytest.raises(ValueError, match=match):
            estimator.set_params(**params).fit(X_OK)


def _prec(covariance_type, k=2, d=3):
    return {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]


BAD_INITS = [
    ("weights shape", {"weights_init": [0.5, 0.25, 0.25]}, ValueError,
     r"The parameter 'weights' should have the shape of \(2,\), but got \(3,\)"),
    ("weights range", {"weights_init": [1.5, -0.5]}, ValueError,
     "'weights' should be in the range"),
    ("weights sum", {"weights_init": [0.5, 0.6]}, ValueError,
     "'weights' should be normalized"),
    ("means shape", {"means_init": np.zeros((2, 4))}, ValueError,
     r"The parameter 'means' should have the shape of \(2, 3\)"),
    ("means 1-D", {"means_init": np.zeros(6)}, ValueError,
     "The parameter 'means' should have the shape"),
    ("full precision shape", {"precisions_init": np.stack([np.eye(3)] * 3)},
     ValueError, "The parameter 'full precision' should have the shape"),
    ("full precision not PD",
     {"precisions_init": np.stack([np.eye(3), -np.eye(3)])}, ValueError,
     "'full precision' should be symmetric, positive-definite"),
    ("full precision not symmetric",
     {"precisions_init": np.stack([np.eye(3), np.triu(np.ones((3, 3)))])},
     ValueError, "'full precision' should be symmetric, positive-definite"),
    ("tied precision not PD",
     {"covariance_type": "tied", "precisions_init": np.zeros((3, 3))}, ValueError,
     "'tied precision' should be symmetric, positive-definite"),
    ("diag precision zero",
     {"covariance_type": "diag", "precisions_init": np.zeros((2, 3))}, ValueError,
     "'diag precision' should be positive"),
    ("spherical precision negative",
     {"covariance_type": "spherical", "precisions_init": [1.0, -1.0]}, ValueError,
     "'spherical precision' should be positive"),
    ("spherical precision shape",
     {"covariance_type": "spherical", "precisions_init": np.ones(3)}, ValueError,
     r"'spherical precision' should have the shape of \(2,\)"),
]  # fmt: skip


@pytest.mark.parametrize(
    "params, error, match", [b[1:] for b in BAD_INITS], ids=[b[0] for b in BAD_INITS]
)
def test_bad_initial_parameters(params, error, match):
    # Same error type and message as scikit-learn.
    for estimator in (GaussianMixture(2), SklearnGaussianMixture(2)):
        with pytest.raises(error, match=match):
            estimator.set_params(**params).fit(X_OK)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"means_init": np.full((2, 3), np.nan)}, ValueError, "finite"),
        ({"weights_init": [np.nan, 0.5]}, ValueError, "finite"),
        ({"precisions_init": np.full((2, 3, 3), np.inf)}, ValueError, "finite"),
        ({"means_init": np.array([["a"] * 3] * 2)}, TypeError, "real numbers"),
        ({"weights_init": [0.5 + 1j, 0.5]}, TypeError, "real numbers"),
    ],
)
def test_non_finite_or_non_numeric_initial_parameters(params, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(2).set_params(**params).fit(X_OK)


# --- degenerate data ---------------------------------------------------------------


def _same_outcome(X, **kwargs):
    """Fit both; either both raise the same ValueError or both agree."""
    try:
        theirs = SklearnGaussianMixture(**kwargs).fit(X)
    except ValueError as error:
        with pytest.raises(ValueError) as ours:
            GaussianMixture(**kwargs).fit(X)
        assert str(ours.value) == str(error)
        return None
    ours = GaussianMixture(**kwargs).fit(X)
    assert_same_fit(ours, theirs, X, RTOL64)
    return ours


def test_all_rows_identical(covariance_type):
    X = np.tile([[1.0, -2.0, 3.0]], (30, 1))
    gm = _same_outcome(X, n_components=1, covariance_type=covariance_type)
    # reg_covar keeps the covariance defined: reg_covar on the diagonal.
    assert gm is not None
    expected = {
        "full": 1e-6 * np.eye(3)[None],
        "tied": 1e-6 * np.eye(3),
        "diag": np.full((1, 3), 1e-6),
        "spherical": np.full(1, 1e-6),
    }[covariance_type]
    _assert_close(gm.covariances_, expected, 1e-12)
    assert_allclose(gm.means_, [[1.0, -2.0, 3.0]])


def test_duplicated_points(covariance_type, make_data):
    X = make_data(100, 2, 2, seed=22)
    X = np.vstack([X, np.repeat(X[:5], 20, axis=0)])
    _same_outcome(
        X, n_components=2, covariance_type=covariance_type, random_state=0, max_iter=20
    )


def test_constant_feature(covariance_type, make_data):
    X = make_data(150, 3, 2, seed=23)
    X[:, 1] = 7.0
    kwargs = dict(n_components=2, covariance_type=covariance_type, random_state=0)
    ours, theirs = fit_both(X, **kwargs)
    # fastem's centered statistics give the constant feature a variance of
    # exactly 0 + reg_covar; scikit-learn's tied/diag/spherical M-steps form
    # E[x^2] - mu^2 = 49 - 49 with rounding errors ~1e-14, which are ~1e-8 of
    # reg_covar and feed back into the other parameters at that level.
    if covariance_type == "full":
        assert_array_equal(ours.covariances_[:, 1, 1], ours.reg_covar)
    elif covariance_type == "tied":
        assert ours.covariances_[1, 1] == ours.reg_covar
    elif covariance_type == "diag":
        assert_array_equal(ours.covariances_[:, 1], ours.reg_covar)
    # New points keep the feature constant: off it, the 1e-8 differences of
    # the precision 1/reg_covar are amplified by (x - 7)^2 / reg_covar.
    new = X[:50] + np.random.default_rng(0).normal(0.0, 0.5, (50, 3))
    new[:, 1] = 7.0
    assert_same_fit(ours, theirs, X, 1e-6, new=new)


def test_collapsing_component(covariance_type):
    """A component on one repeated point with reg_covar=0: scikit-learn's error."""
    rng = np.random.default_rng(24)
    X = np.vstack([np.zeros((10, 2)), rng.normal(20.0, 1.0, (40, 2))])
    kwargs = dict(n_components=2, covariance_type=covariance_type, reg_covar=0.0)
    if covariance_type == "tied":  # the shared covariance stays regular
        assert _same_outcome(X, random_state=0, **kwargs) is not None
        return
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(random_state=0, **kwargs).fit(X)
    _same_outcome(X, random_state=0, **kwargs)


# --- the fitted attributes are the model ---------------------------------------


def _naive_model_outputs(X, params, covariance_type):
    lse, resp = naive.log_resp(
        X,
        params["means"],
        params["precisions_cholesky"],
        params["weights"],
        covariance_type,
    )
    return lse, resp


def test_model_built_by_hand_predicts_from_its_attributes(
    covariance_type, make_params, make_data
):
    """scikit-learn's idiom: set the parameters, then predict and sample."""
    X = make_data(200, 3, 3, seed=4)
    params = make_params(3, 3, covariance_type, seed=4, X=X)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    gm.weights_ = params["weights"]
    gm.means_ = params["means"]
    gm.covariances_ = params["covariances"]
    gm.precisions_cholesky_ = params["precisions_cholesky"]
    lse, resp = _naive_model_outputs(X, params, covariance_type)
    assert_allclose(gm.score_samples(X), lse, rtol=1e-11)
    assert_allclose(gm.predict_proba(X), resp, rtol=1e-9, atol=1e-13)
    assert_array_equal(gm.predict(X), resp.argmax(axis=1))
    ref = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(ref, name, getattr(gm, name))
    assert_allclose(gm.sample(50)[0], ref.sample(50)[0], rtol=1e-12)


def test_editing_attributes_after_fit_changes_predictions(
    covariance_type, dtype, make_data, make_params
):
    X = make_data(300, 3, 3, seed=5, dtype=dtype)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    params = make_params(3, 3, covariance_type, seed=6, X=X.astype(np.float64))
    gm.weights_ = params["weights"].astype(dtype)
    gm.means_[...] = params["means"]  # in place
    gm.precisions_cholesky_ = params["precisions_cholesky"].astype(dtype)
    gm.covariances_ = params["covariances"].astype(dtype)
    as_set = {
        "weights": gm.weights_.astype(np.float64),
        "means": gm.means_.astype(np.float64),
        "precisions_cholesky": gm.precisions_cholesky_.astype(np.float64),
    }
    lse, resp = _naive_model_outputs(X.astype(np.float64), as_set, covariance_type)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(gm.score_samples(X), lse, rtol=rtol)
    assert_array_equal(gm.predict(X), resp.argmax(axis=1))


def test_warm_start_continues_from_edited_attributes(covariance_type, make_data):
    X = make_data(300, 3, 3, seed=7)
    gm = GaussianMixture(
        3,
        covariance_type=covariance_type,
        max_iter=2,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
        gm.means_ = gm.means_ + 0.5
        start = {
            "weights": gm.weights_.copy(),
            "means": gm.means_.copy(),
            "precisions_cholesky": gm.precisions_cholesky_.copy(),
        }
        gm.set_params(max_iter=1).fit(X)
    expected, lower_bound = naive.em_step(
        X,
        start["weights"],
        start["means"],
        start["precisions_cholesky"],
        covariance_type,
        gm.reg_covar,
    )
    assert gm.lower_bound_ == pytest.approx(lower_bound, rel=1e-12)
    assert_allclose(gm.means_, expected["means"], rtol=1e-10)


def test_float32_fit_keeps_float64_digits_until_edited(make_data):
    """float32 attributes; the float64 twin is used only while it rounds to them."""
    X = make_data(300, 3, 3, seed=8, dtype=np.float32)
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.means_.dtype == np.float32
    twin = gm._as_float64("means_")
    assert twin.dtype == np.float64
    assert not np.array_equal(twin, gm.means_.astype(np.float64))  # more digits
    gm.means_[0, 0] += 1.0
    assert_array_equal(gm._as_float64("means_"), gm.means_.astype(np.float64))


def test_unknown_init_params_is_an_error(make_data, monkeypatch):
    X = make_data(50, 2, 2)
    with pytest.raises(ValueError, match="init_params"):
        GaussianMixture(2, init_params="bogus").fit(X)
    # Never a silent fallback, even past the parameter validation.
    monkeypatch.setattr(GaussianMixture, "_validate_params", lambda self: None)
    with pytest.raises(ValueError, match="Unimplemented initialization method"):
        GaussianMixture(2, init_params="bogus").fit(X)


def test_hooks_are_abstract():
    from fastem._base import BaseEMMixture

    class Incomplete(BaseEMMixture):
        def _check_parameters(self, X):
            pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_all_initial_parameters_skip_the_initial_pass(
    covariance_type, make_data, make_params, init_kwargs, monkeypatch
):
    """With weights, means and precisions given, no responsibilities are drawn
    and no statistics computed for the start (scikit-learn's test of the same,
    test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters, counts
    calls of its private helper)."""
    import fastem._base

    def fail(*args, **kwargs):
        raise AssertionError("initial statistics computed")

    monkeypatch.setattr(fastem._base, "stats_from_source", fail)
    X = make_data(200, 3, 3, seed=9)
    params = make_params(3, 3, covariance_type, seed=9, X=X)
    gm = GaussianMixture(
        3, covariance_type=covariance_type, max_iter=3, **init_kwargs(params)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    assert gm.n_iter_ == 3
    with pytest.raises(AssertionError, match="initial statistics"):
        GaussianMixture(3, covariance_type=covariance_type, max_iter=1).fit(X)


def test_initialize_from_responsibilities_as_sklearn(covariance_type, make_data):
    """scikit-learn's private ``_initialize(X, resp)`` form (its own tests use it)."""
    X = make_data(200, 3, 3, seed=10)
    resp = np.random.default_rng(0).uniform(size=(200, 3))
    resp /= resp.sum(axis=1, keepdims=True)
    ours = GaussianMixture(3, covariance_type=covariance_type)
    theirs = SklearnGaussianMixture(3, covariance_type=covariance_type)
    ours._initialize(X, resp)
    theirs._initialize(X, resp)
    for name in PARAMS[:4]:  # scikit-learn's _initialize sets no precisions_
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10)
