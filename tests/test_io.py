"""Model files: save and load round trips, and every kind of bad file refused."""

import json
import os
import pickle
import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from synthetic import blobs

import fastem._io as fio
from fastem import BayesianGaussianMixture, GaussianMixture, KMeans, load


@pytest.fixture(scope="module")
def X():
    return blobs(400, 3, 3, seed=0, std=1.0)


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X)


def _models(X):
    models = [
        _fit(GaussianMixture(3, covariance_type=c, random_state=0), X)
        for c in COVARIANCE_TYPES
    ]
    models.append(
        _fit(
            BayesianGaussianMixture(
                n_components=4, covariance_type="full", random_state=0
            ),
            X,
        )
    )
    models.append(
        _fit(
            BayesianGaussianMixture(
                n_components=4,
                weight_concentration_prior_type="dirichlet_distribution",
                covariance_type="diag",
                random_state=0,
            ),
            X,
        )
    )
    models.append(_fit(GaussianMixture(3, random_state=0), X.astype(np.float32)))
    models.append(KMeans(3, random_state=0).fit(X))
    return models


def _same_predictions(loaded, saved, X):
    assert type(loaded) is type(saved)
    assert loaded.get_params().keys() == saved.get_params().keys()
    for name, value in saved.get_params().items():
        assert_array_equal(loaded.get_params()[name], value)
    assert_array_equal(loaded.predict(X), saved.predict(X))
    if isinstance(saved, KMeans):
        assert_array_equal(loaded.transform(X), saved.transform(X))
        assert_array_equal(loaded.labels_, saved.labels_)
        assert loaded.inertia_ == saved.inertia_
    else:
        assert_array_equal(loaded.predict_proba(X), saved.predict_proba(X))
        assert_array_equal(loaded.score_samples(X), saved.score_samples(X))
        assert loaded.lower_bound_ == saved.lower_bound_
        assert loaded.lower_bounds_ == saved.lower_bounds_
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            value = getattr(loaded, name)
            assert value.dtype == getattr(saved, name).dtype
            assert_array_equal(value, getattr(saved, name))


def test_round_trip_predicts_exactly_as_the_saved_model(X, tmp_path):
    for index, model in enumerate(_models(X)):
        path = tmp_path / f"model{index}.npz"
        model.save(path)
        loaded = load(path)
        float32 = getattr(model, "means_", X).dtype == np.float32
        _same_predictions(loaded, model, X.astype(np.float32) if float32 else X)
        assert os.listdir(tmp_path).count(path.name) == 1
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_feature_names_init_arrays_and_partial_fit_state_survive(X, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    means_init = X[:3].copy()
    model = _fit(GaussianMixture(3, means_init=means_init, random_state=0), frame)
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    assert_array_equal(loaded.means_init, means_init)
    stream = GaussianMixture(3, random_state=0)
    for batch in np.array_split(X, 4):
        stream.partial_fit(batch)
    stream.save(tmp_path / "s.npz")
    resumed = load(tmp_path / "s.npz").partial_fit(X[:50])
    assert_array_equal(resumed.means_, stream.partial_fit(X[:50]).means_)


def test_the_file_holds_no_pickle_and_plain_json(X, tmp_path):
    model = _fit(GaussianMixture(2, random_state=0), X)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        meta = json.loads(archive["__fastem__"].tobytes())
        assert all(archive[name].dtype.kind in "biuf" for name in archive.files)
    assert meta["format"] == "fastem-model" and meta["format_version"] == 1
    assert meta["class"] == "GaussianMixture"
    assert meta["params"]["n_components"] == {"json": 2}


def test_save_refuses_unfitted_and_callable_init(X, tmp_path):
    with pytest.raises(NotFittedError):
        GaussianMixture(2).save(tmp_path / "m.npz")
    model = KMeans(2, init=lambda X, k, random_state: X[:k], n_init=1).fit(X)
    with pytest.raises(ValueError, match="parameter 'init'.*no portable form"):
        model.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_random_state_instance_is_saved_as_none_with_a_warning(X, tmp_path):
    model = _fit(GaussianMixture(2, random_state=np.random.RandomState(0)), X)
    with pytest.warns(UserWarning, match="saved as None"):
        model.save(tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").random_state is None


def test_a_failed_write_leaves_the_old_file_and_no_temporary(X, tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    _fit(GaussianMixture(2, random_state=0), X).save(path)
    before = path.read_bytes()

    def crash(stream, **arrays):
        stream.write(b"PK half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(fio.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        _fit(GaussianMixture(3, random_state=1), X).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


# -- bad files -----------------------------------------------------------------------


@pytest.fixture
def saved(X, tmp_path):
    path = tmp_path / "m.npz"
    _fit(GaussianMixture(2, random_state=0), X).save(path)
    return path


def _rewrite(path, edit):
    """Apply ``edit(meta, arrays)`` to a model file and write it back (no checks)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays.pop("__fastem__").tobytes())
    edit(meta, arrays)
    arrays["__fastem__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def _array_of(meta, name):
    return meta["attributes"][name]["array"]


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.npz")


def test_truncated_and_garbage_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated|not a readable"):
        load(saved)
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(ValueError, match=r"g\.npz"):
        load(garbage)


def test_a_pickle_inside_is_never_unpickled(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, __fastem__=np.array([{"class": "GaussianMixture"}], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects"):
        load(path)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(GaussianMixture(2)))
    with pytest.raises(ValueError, match="plain.pkl"):
        load(plain)


def test_other_npz_and_versions_are_refused(saved, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    with pytest.raises(ValueError, match="not a fastem model file"):
        load(other)
    _rewrite(saved, lambda meta, arrays: meta.update(format_version=2))
    with pytest.raises(ValueError, match="format version 2, written by a newer fastem"):
        load(saved)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m, a: m.update({"class": "os.system"}), "names class 'os.system'"),
        (
            lambda m, a: m["params"].update(n_components={"json": -1}),
            "n_components",
        ),
        (
            lambda m, a: a.update({_array_of(m, "means_"): np.ones((3, 3))}),
            r"means_ has shape \(3, 3\), expected \(2, 3\)",
        ),
        (
            lambda m, a: a[_array_of(m, "means_")].__setitem__((0, 0), np.nan),
            "means_ holds NaN",
        ),
        (
            lambda m, a: a[_array_of(m, "precisions_cholesky_")].__setitem__(
                (0, 1, 1), -1.0
            ),
            "not positive definite",
        ),
        (
            lambda m, a: a[_array_of(m, "precisions_")].__setitem__((0, 0, 0), 1e3),
            "precisions_ does not match",
        ),
        (
            lambda m, a: a[_array_of(m, "covariances_")].__setitem__((1, 2, 2), 9.0),
            "covariances_ is not the inverse",
        ),
        (
            lambda m, a: a[_array_of(m, "weights_")].__setitem__(0, 0.9),
            "sum to 1",
        ),
        (
            lambda m, a: m["attributes"].update(n_features_in_={"json": 4}),
            r"expected \(2, 4\)",
        ),
        (lambda m, a: a.pop(_array_of(m, "means_")), "missing array"),
    ],
    ids=[
        "class",
        "parameter",
        "shape",
        "nan",
        "factor",
        "precisions",
        "covariances",
        "weights",
        "width",
        "missing",
    ],
)
def test_tampered_files_name_the_problem(saved, edit, message):
    _rewrite(saved, edit)
    with pytest.raises(ValueError, match=message):
        load(saved)
