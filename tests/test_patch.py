"""fastem under scikit-learn's names: patch_sklearn, and fastem's own constraints."""

import numbers
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.cluster
import sklearn.cluster._kmeans
import sklearn.mixture
import sklearn.mixture._bayesian_mixture
import sklearn.mixture._gaussian_mixture
from numpy.testing import assert_array_equal
from sklearn.utils._param_validation import (
    InvalidParameterError,
    make_constraint,
    validate_parameter_constraints,
)

import fastem
from fastem import patch_sklearn, sklearn_patched, unpatch_sklearn
from fastem._patch import PATCHES

#: Every (module, name) the patch swaps, with scikit-learn's and fastem's class.
SWAPS = [
    (sklearn.mixture, "GaussianMixture", fastem.GaussianMixture),
    (sklearn.mixture._gaussian_mixture, "GaussianMixture", fastem.GaussianMixture),
    (sklearn.mixture, "BayesianGaussianMixture", fastem.BayesianGaussianMixture),
    (
        sklearn.mixture._bayesian_mixture,
        "BayesianGaussianMixture",
        fastem.BayesianGaussianMixture,
    ),
    (sklearn.cluster, "KMeans", fastem.KMeans),
    (sklearn.cluster._kmeans, "KMeans", fastem.KMeans),
]
ORIGINALS = {
    (module.__name__, name): getattr(module, name) for module, name, _ in SWAPS
}


@pytest.fixture(autouse=True)
def _restore():
    """Leave scikit-learn unpatched whatever a test does."""
    assert not _patched_names()
    yield
    unpatch_sklearn()
    assert not _patched_names()


def _patched_names():
    return {
        (module.__name__, name)
        for module, name, ours in SWAPS
        if getattr(module, name) is ours
    }


def _assert_originals():
    for module, name, _ in SWAPS:
        assert getattr(module, name) is ORIGINALS[(module.__name__, name)]


def _data():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])


def test_the_originals_are_scikit_learns():
    for module, name, ours in SWAPS:
        original = getattr(module, name)
        assert original is not ours
        assert original.__module__.startswith("sklearn.")


def test_patch_swaps_every_name_and_unpatch_restores_them_exactly():
    patch_sklearn()
    assert _patched_names() == set(ORIGINALS)
    unpatch_sklearn()
    _assert_originals()


def test_patching_twice_and_unpatching_twice_are_harmless():
    patch_sklearn()
    patch_sklearn()
    assert _patched_names() == set(ORIGINALS)
    unpatch_sklearn()
    _assert_originals()
    unpatch_sklearn()
    _assert_originals()


def test_patch_by_name():
    patch_sklearn("KMeans")
    assert _patched_names() == {
        ("sklearn.cluster", "KMeans"),
        ("sklearn.cluster._kmeans", "KMeans"),
    }
    patch_sklearn(["GaussianMixture", "BayesianGaussianMixture"])
    assert _patched_names() == set(ORIGINALS)
    unpatch_sklearn(["KMeans", "BayesianGaussianMixture"])
    assert _patched_names() == {
        ("sklearn.mixture", "GaussianMixture"),
        ("sklearn.mixture._gaussian_mixture", "GaussianMixture"),
    }


@pytest.mark.parametrize("function", [patch_sklearn, unpatch_sklearn])
def test_unknown_names_are_refused(function):
    with pytest.raises(ValueError, match="cannot patch 'SVC'.*'GaussianMixture'"):
        function(["KMeans", "SVC"])
    _assert_originals()


def test_context_manager_restores_even_after_an_error():
    with pytest.raises(KeyError):
        with sklearn_patched():
            assert _patched_names() == set(ORIGINALS)
            raise KeyError
    _assert_originals()


def test_context_manager_keeps_what_was_patched_before():
    patch_sklearn(["GaussianMixture", "BayesianGaussianMixture"])
    with sklearn_patched():
        assert _patched_names() == set(ORIGINALS)
        with sklearn_patched("KMeans"):
            assert _patched_names() == set(ORIGINALS)
        assert _patched_names() == set(ORIGINALS)
    assert sklearn.mixture.GaussianMixture is fastem.GaussianMixture
    assert sklearn.cluster.KMeans is ORIGINALS[("sklearn.cluster", "KMeans")]


def test_the_table_covers_fastems_estimators_and_scikit_learns_modules():
    swaps = {(module.__name__, name) for module, name, _ in SWAPS}
    table = {
        (module, name) for name, (_, modules) in PATCHES.items() for module in modules
    }
    assert table == swaps
    for name, (module, _) in PATCHES.items():
        assert getattr(fastem, name).__module__ == module


def test_code_importing_scikit_learns_names_runs_fastem():
    # Regression: fit under scikit-learn's name used to recurse while looking up
    # the parameter constraints on the (patched) scikit-learn class.
    X = _data()
    with sklearn_patched():
        from sklearn.cluster import KMeans
        from sklearn.mixture._gaussian_mixture import GaussianMixture

        gm = GaussianMixture(2, random_state=0).fit(X)
        km = KMeans(2, n_init=1, random_state=0).fit(X)
        # scikit-learn's own function builds a KMeans from its private module.
        centers, labels, inertia = sklearn.cluster.k_means(
            X, 2, n_init=1, random_state=0
        )
        with pytest.raises(InvalidParameterError, match="'n_components' parameter"):
            GaussianMixture(n_components=0).fit(X)
    assert type(gm) is fastem.GaussianMixture
    assert type(km) is fastem.KMeans
    reference = fastem.KMeans(2, n_init=1, random_state=0).fit(X)
    assert_array_equal(labels, reference.labels_)
    assert_array_equal(centers, reference.cluster_centers_)
    assert inertia == reference.inertia_


def test_importing_fastem_does_not_import_sklearn_cluster_or_mixture():
    code = (
        "import sys, fastem; "
        "print(sorted(m for m in ('sklearn.cluster', 'sklearn.mixture') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(fastem.__file__).parents[1],
    ).stdout
    assert out.strip() == "[]"


# -- fastem's parameter constraints are scikit-learn's --------------------------

PAIRS = [
    (fastem.GaussianMixture, ORIGINALS[("sklearn.mixture", "GaussianMixture")]),
    (
        fastem.BayesianGaussianMixture,
        ORIGINALS[("sklearn.mixture", "BayesianGaussianMixture")],
    ),
    (fastem.KMeans, ORIGINALS[("sklearn.cluster", "KMeans")]),
]

#: Good and bad values for every parameter: each is tried on each parameter.
VALUES = [
    None,
    True,
    False,
    0,
    1,
    2,
    -1,
    np.int64(3),
    0.0,
    1e-3,
    0.5,
    1.0,
    -0.5,
    np.float32(0.25),
    np.inf,
    -np.inf,
    np.nan,
    "auto",
    "warn",
    "k-means++",
    "random",
    "kmeans",
    "random_from_data",
    "full",
    "tied",
    "diag",
    "spherical",
    "dirichlet_process",
    "dirichlet_distribution",
    "lloyd",
    "elkan",
    "bogus",
    "",
    np.random.RandomState(0),
    np.random.default_rng(0),
    [0.5, 0.5],
    [[1.0, 2.0], [3.0, 4.0]],
    np.zeros((2, 2)),
    (1, 2),
    lambda X, n_clusters, random_state: X[:n_clusters],
    object(),
]


def _sorted_sets(text):
    """``text`` with the items of every ``{...}`` sorted.

    A StrOptions lists its set in iteration order, which for strings changes with
    the process's hash seed (in scikit-learn's own messages too).
    """
    return re.sub(
        r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}", text
    )


def _outcome(constraints, name, value, caller):
    try:
        validate_parameter_constraints(constraints, {name: value}, caller)
    except InvalidParameterError as error:
        return _sorted_sets(str(error))
    return "valid"


def _describe(constraint):
    constraint = make_constraint(constraint)
    return type(constraint), _sorted_sets(str(constraint))


#: The parameters fastem's estimators have and scikit-learn's do not, listed
#: explicitly: any other difference in the keys is a mistake.
FASTEM_ONLY = {
    fastem.GaussianMixture: {"learning_decay", "learning_offset"},
    fastem.BayesianGaussianMixture: set(),
    fastem.KMeans: {"learning_decay", "learning_offset"},
}


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=lambda c: c.__module__)
def test_constraints_are_fastems_own_and_equal_scikit_learns(ours, theirs):
    mine = ours._parameter_constraints
    reference = theirs._parameter_constraints
    assert mine is not reference
    assert reference.keys() <= mine.keys()
    assert mine.keys() - reference.keys() == FASTEM_ONLY[ours]
    assert mine.keys() == ours().get_params().keys()
    for name in reference:
        assert list(map(_describe, mine[name])) == list(
            map(_describe, reference[name])
        ), name
        for value in VALUES:
            caller = theirs.__name__
            assert _outcome(mine, name, value, caller) == _outcome(
                reference, name, value, caller
            ), (name, value)


#: The rule of each fastem-only parameter, on a real number.
FASTEM_ONLY_RULES = {
    "learning_decay": lambda value: 0.5 < value <= 1.0,
    "learning_offset": lambda value: 0.0 <= value < np.inf,
}


@pytest.mark.parametrize("ours", [c for c in FASTEM_ONLY if FASTEM_ONLY[c]])
def test_fastem_only_constraints(ours):
    constraints = ours._parameter_constraints
    for name in FASTEM_ONLY[ours]:
        rule = FASTEM_ONLY_RULES[name]
        for value in [*VALUES, 0.51, 0.7, 10.0, 1e300]:
            valid = isinstance(value, numbers.Real) and bool(rule(value))
            outcome = _outcome(constraints, name, value, ours.__name__)
            assert (outcome == "valid") == valid, (name, value, outcome)
            if not valid:
                assert f"The '{name}' parameter of {ours.__name__} must be" in (outcome)


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=lambda c: c.__module__)
def test_invalid_parameters_raise_scikit_learns_errors(ours, theirs):
    X = _data()
    for params in [
        {"n_init": 0},
        {"init": "bogus"} if ours is fastem.KMeans else {"covariance_type": "bogus"},
        {"max_iter": -1},
        {"tol": -1.0},
        {"verbose": "loud"},
        {"random_state": "seed"},
    ]:
        with pytest.raises(InvalidParameterError) as expected:
            theirs(**params).fit(X)
        with pytest.raises(InvalidParameterError) as got:
            ours(**params).fit(X)
        assert _sorted_sets(str(got.value)) == _sorted_sets(str(expected.value))
