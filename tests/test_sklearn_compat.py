"""The mixtures as scikit-learn estimators: API checks and meta-estimators."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastem import BayesianGaussianMixture, GaussianMixture

EXPECTED_FAILED_CHECKS = {
    # The default 'kmeans' initialisation draws its k-means++ seeds over the
    # rows, so weights are not equivalent to repeated rows from a random start
    # (scikit-learn's KMeans has the same expected failure). From the same
    # initial parameters they are: see test_integer_weights_equal_repeated_rows
    # and test_zero_weight_equals_leaving_the_row_out.
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples when the "
        "initialisation is random."
    ),
}


@parametrize_with_checks(
    [
        GaussianMixture(n_components=2, max_iter=20, random_state=0),
        BayesianGaussianMixture(n_components=2, max_iter=20, random_state=0),
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_api(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _data():
    rng = np.random.default_rng(0)
    return np.vstack(
        [rng.normal(0.0, 1.0, (100, 2)), rng.normal(8.0, 1.0, (100, 2))]
    ) * [1.0, 100.0]


def test_clone_keeps_parameters_and_drops_the_fit():
    X = _data()
    gm = GaussianMixture(3, covariance_type="tied", reg_covar=1e-4, random_state=1)
    gm.fit(X)
    copy = clone(gm)
    assert copy.get_params() == gm.get_params()
    assert not hasattr(copy, "means_")
    assert_array_equal(copy.fit(X).means_, gm.means_)


def test_in_a_pipeline():
    X = _data()
    pipe = make_pipeline(StandardScaler(), GaussianMixture(2, random_state=0))
    labels = pipe.fit_predict(X)
    assert_array_equal(labels, pipe.predict(X))
    assert set(labels[:100]) != set(labels[100:])
    # The same as scikit-learn's GaussianMixture in the same pipeline.
    reference = Pipeline(
        [("scale", StandardScaler()), ("gm", SklearnGaussianMixture(2, random_state=0))]
    ).fit(X)
    assert pipe.score(X) == pytest.approx(reference.score(X), rel=1e-10)
    assert_allclose(pipe.score_samples(X), reference.score_samples(X), rtol=1e-10)


def test_grid_search_picks_the_same_as_sklearn():
    X = _data()
    grid = {"n_components": [1, 2], "covariance_type": ["full", "spherical"]}
    ours = GridSearchCV(GaussianMixture(random_state=0), grid, cv=3).fit(X)
    theirs = GridSearchCV(SklearnGaussianMixture(random_state=0), grid, cv=3).fit(X)
    assert ours.best_params_ == theirs.best_params_
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        theirs.cv_results_["mean_test_score"],
        rtol=1e-9,
    )
