"""fastem.select_model: the table against explicit loops, the choice, the checks."""

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_info

import fastem
from fastem import GaussianMixture, select_model
from fastem.select import COLUMNS, COVARIANCE_TYPES, ModelSelection

KS = (1, 2, 3)


def blobs(n_per_cluster=60, seed=0):
    """Three well separated 2-D clusters of unequal spreads."""
    rng = np.random.default_rng(seed)
    centers = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    scales = np.array([[1.0, 0.5], [0.4, 0.8], [0.7, 0.7]])
    return np.vstack(
        [
            rng.normal(c, s, (n_per_cluster, 2))
            for c, s in zip(centers, scales, strict=True)
        ]
    )


@pytest.fixture(scope="module")
def X():
    return blobs()


def explicit_loop(X, seeds, ks=KS, types=COVARIANCE_TYPES, **params):
    """The hand-written loop of scikit-learn's model-selection example."""
    rows = {name: [] for name in COLUMNS if name != "fit_time"}
    seeds = iter(seeds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for cov in types:
            for k in ks:
                gm = GaussianMixture(
                    k, covariance_type=cov, random_state=next(seeds), **params
                ).fit(X)
                rows["n_components"].append(k)
                rows["covariance_type"].append(cov)
                rows["bic"].append(gm.bic(X))
                rows["aic"].append(gm.aic(X))
                rows["log_likelihood"].append(X.shape[0] * gm.score(X))
                rows["n_iter"].append(gm.n_iter_)
                rows["converged"].append(gm.converged_)
    return {name: np.array(values) for name, values in rows.items()}


def assert_same_table(table, expected):
    assert_array_equal(table["n_components"], expected["n_components"])
    assert_array_equal(table["covariance_type"], expected["covariance_type"])
    for name in ("bic", "aic", "log_likelihood"):
        assert_allclose(table[name], expected[name], rtol=1e-12, err_msg=name)
    assert_array_equal(table["n_iter"], expected["n_iter"])
    assert_array_equal(table["converged"], expected["converged"])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_table_equals_explicit_loop_int_seed(X, n_jobs):
    result = select_model(X, n_components=KS, random_state=3, n_jobs=n_jobs)
    expected = explicit_loop(X, [3] * 12)
    assert_same_table(result.table, expected)
    # Same code, same floats: the criteria are bit-equal to bic(X) and aic(X).
    assert_array_equal(result.table["bic"], expected["bic"])
    assert_array_equal(result.table["aic"], expected["aic"])
    table = result.table
    assert list(table) == list(COLUMNS)
    assert table["n_components"].dtype == np.int64
    assert table["n_iter"].dtype == np.int64
    assert table["converged"].dtype == bool
    assert table["covariance_type"].dtype.kind == "U"
    for name in ("bic", "aic", "log_likelihood", "fit_time"):
        assert table[name].dtype == np.float64
    assert np.all(table["fit_time"] > 0)
    assert result.n_samples == X.shape[0]


def test_drawn_seeds_follow_table_order(X):
    # A RandomState gives one seed per candidate, drawn in table order.
    result = select_model(
        X, n_components=KS, random_state=np.random.RandomState(7), n_jobs=2
    )
    seeds = np.random.RandomState(7).randint(np.iinfo(np.int32).max, size=12)
    assert_same_table(result.table, explicit_loop(X, seeds))


@pytest.mark.parametrize("random_state", [0, "rs"])
def test_n_jobs_do_not_change_the_table(X, random_state):
    def run(n_jobs):
        state = np.random.RandomState(5) if random_state == "rs" else random_state
        return select_model(
            X,
            n_components=(1, 2, 3, 4),
            random_state=state,
            init_params="k-means++",
            n_jobs=n_jobs,
        )

    one, two = run(1), run(2)
    for name in COLUMNS:
        if name != "fit_time":
            assert_array_equal(one.table[name], two.table[name], err_msg=name)
    assert one.best_index == two.best_index
    assert_array_equal(one.best_estimator.means_, two.best_estimator.means_)


def test_criteria_agree_with_scikit_learn(X):
    # scikit-learn's bic/aic on the very parameters fastem fitted.
    result = select_model(X, n_components=KS, random_state=0)
    rows = [result.best_index, 0, len(result) - 1]
    for row in rows:
        k = int(result.table["n_components"][row])
        cov = str(result.table["covariance_type"][row])
        fitted = GaussianMixture(k, covariance_type=cov, random_state=0).fit(X)
        sk = SkGaussianMixture(k, covariance_type=cov)
        for name in (
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
        ):
            setattr(sk, name, getattr(fitted, name))
        sk.converged_, sk.n_iter_, sk.lower_bound_ = True, 1, 0.0
        assert_allclose(result.table["bic"][row], sk.bic(X), rtol=1e-10)
        assert_allclose(result.table["aic"][row], sk.aic(X), rtol=1e-10)
        assert_allclose(
            result.table["log_likelihood"][row], X.shape[0] * sk.score(X), rtol=1e-10
        )


def test_best_is_the_argmin_and_bic_finds_three_blobs(X):
    result = select_model(X, n_components=range(1, 7), random_state=0)
    assert result.criterion == "bic"
    assert result.best_index == int(np.argmin(result.table["bic"]))
    assert result.best_params["n_components"] == 3
    best = result.best_estimator
    assert isinstance(best, GaussianMixture)
    assert best.n_components == 3
    assert best.covariance_type == result.best_params["covariance_type"]
    assert best.bic(X) == result.table["bic"][result.best_index]

    by_aic = select_model(X, n_components=range(1, 7), random_state=0, criterion="AIC")
    assert by_aic.criterion == "aic"
    assert by_aic.best_index == int(np.argmin(by_aic.table["aic"]))
    assert by_aic.best_estimator.aic(X) == by_aic.table["aic"][by_aic.best_index]
    assert_array_equal(by_aic.table["aic"], result.table["aic"])


def test_single_values_and_order(X):
    result = select_model(
        X, n_components=[3, 1], covariance_types=["spherical", "full"], random_state=0
    )
    assert_array_equal(result.table["n_components"], [3, 1, 3, 1])
    assert_array_equal(
        result.table["covariance_type"], ["spherical", "spherical", "full", "full"]
    )
    one = select_model(X, n_components=np.int64(2), covariance_types="diag")
    assert len(one) == 1 and one.best_params == {
        "n_components": 2,
        "covariance_type": "diag",
    }


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_components=[]), ValueError, "n_components is empty"),
        (dict(n_components=[0, 1]), ValueError, "n_components must be >= 1"),
        (dict(n_components=[1, 2.5]), TypeError, "n_components must hold integers"),
        (dict(n_components=[True]), TypeError, "n_components must hold integers"),
        (dict(n_components="3"), TypeError, "n_components must be an int"),
        (dict(n_components=[2, 2]), ValueError, "n_components holds 2 more than"),
        (dict(n_components=[181]), ValueError, "at most n_samples = 180"),
        (dict(covariance_types=["full", "ful"]), ValueError, "unknown covariance"),
        (dict(covariance_types=[]), ValueError, "covariance_types is empty"),
        (dict(covariance_types=["diag", "diag"]), ValueError, "holds 'diag' more"),
        (dict(criterion="likelihood"), ValueError, "criterion must be 'bic' or"),
        (dict(n_init=0), ValueError, "n_init must be >= 1"),
        (dict(n_init=1.0), TypeError, "n_init must be an int"),
        (dict(n_jobs=0), ValueError, "n_jobs must be None, -1"),
        (dict(n_jobs=-2), ValueError, "n_jobs must be None, -1"),
        (dict(n_jobs="2"), TypeError, "n_jobs must be None or an int"),
        (dict(callback=3), TypeError, "callback must be callable"),
        (dict(max_iter=-1), ValueError, "'max_iter' parameter"),
        (dict(tol=-1.0), ValueError, "'tol' parameter"),
        (dict(init_params="nope"), ValueError, "'init_params' parameter"),
    ],
)
def test_invalid_parameters_raise_before_any_fit(X, monkeypatch, kwargs, error, match):
    def no_fit(*args, **kw):
        raise AssertionError("a candidate was fitted")

    monkeypatch.setattr(GaussianMixture, "fit", no_fit)
    with pytest.raises(error, match=match):
        select_model(X, **kwargs)


def test_unknown_covariance_message_lists_valid_ones(X):
    with pytest.raises(ValueError) as info:
        select_model(X, covariance_types=("full", "banded"))
    for name in COVARIANCE_TYPES:
        assert repr(name) in str(info.value)


def test_invalid_data_raises(X):
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_model(bad)
    with pytest.raises(ValueError, match="minimum of 2"):
        select_model(X[:1], n_components=[1])


def test_failing_candidate_gives_nan_row_and_one_warning():
    # Three distinct points, ten copies each: without reg_covar, three
    # components have zero covariances and their fits raise ValueError.
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 10, axis=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_model(
            X,
            n_components=[1, 3],
            covariance_types=("full", "spherical"),
            reg_covar=0.0,
            random_state=0,
            n_jobs=2,
        )
    user = [w for w in caught if w.category is UserWarning]
    assert len(user) == 1
    message = str(user[0].message)
    assert "(n_components=3, 'full')" in message
    assert "(n_components=3, 'spherical')" in message
    assert "ill-defined empirical covariance" in message
    table = result.table
    failed = table["n_components"] == 3
    for name in ("bic", "aic", "log_likelihood"):
        assert np.all(np.isnan(table[name][failed]))
        assert np.all(np.isfinite(table[name][~failed]))
    assert not table["converged"][failed].any()
    assert_array_equal(table["n_iter"][failed], 0)
    assert result.best_params["n_components"] == 1
    assert "nan" in result.to_string()


def test_every_candidate_failing_raises():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 10, axis=0)
    with pytest.raises(ValueError, match="every candidate failed"):
        select_model(
            X, n_components=[3], covariance_types="full", reg_covar=0.0, n_jobs=1
        )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_one_summary_convergence_warning(X, n_jobs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_model(
            X, n_components=KS, max_iter=1, tol=0.0, random_state=0, n_jobs=n_jobs
        )
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1
    message = str(convergence[0].message)
    assert "12 of 12 candidates did not converge" in message
    assert "(n_components=3, 'tied')" in message
    assert convergence[0].filename == __file__
    assert not result.table["converged"].any()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        select_model(X, n_components=KS, random_state=0, n_jobs=n_jobs)


def test_callback_once_per_candidate_with_its_row(X):
    calls = []
    lock = threading.Lock()

    def callback(row):
        with lock:
            calls.append((row, threading.current_thread().name))

    result = select_model(
        X, n_components=KS, random_state=0, n_jobs=2, callback=callback
    )
    assert sorted(row["index"] for row, _ in calls) == list(range(12))
    for row, thread in calls:
        assert set(row) == set(COLUMNS) | {"index"}
        i = row["index"]
        assert row["n_components"] == result.table["n_components"][i]
        assert row["bic"] == result.table["bic"][i]
        assert row["fit_time"] == result.table["fit_time"][i]
        assert thread.startswith("fastem-select")

    serial = []
    select_model(X, n_components=KS, random_state=0, n_jobs=1, callback=serial.append)
    assert [row["index"] for row in serial] == list(range(12))


def test_callback_error_stops_the_selection(X):
    def callback(row):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        select_model(X, n_components=KS, n_jobs=2, callback=callback)


def test_to_string_marks_the_best_row(X):
    result = select_model(X, n_components=KS, random_state=0)
    lines = result.to_string().splitlines()
    assert str(result) == result.to_string()
    assert lines[0].split() == list(COLUMNS)
    rows = lines[1 : 1 + len(result)]
    assert [line.startswith("*") for line in rows] == [
        i == result.best_index for i in range(len(result))
    ]
    assert len({len(line) for line in lines[: 1 + len(result)]}) == 1  # aligned
    best = rows[result.best_index].split()
    assert best[1:3] == [
        str(result.best_params["n_components"]),
        result.best_params["covariance_type"],
    ]
    assert "lowest BIC" in lines[-1]
    assert "ModelSelection(criterion='bic'" in repr(result)


def test_to_frame(X, monkeypatch):
    pd = pytest.importorskip("pandas")
    result = select_model(X, n_components=KS, random_state=0)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 12
    assert_array_equal(frame["bic"].to_numpy(), result.table["bic"])
    assert frame["covariance_type"].iloc[0] == "full"
    pd.testing.assert_frame_equal(frame, pd.DataFrame(result.table))

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        result.to_frame()


def test_data_is_validated_once_and_never_copied(X, monkeypatch):
    seen = []
    original_fit = GaussianMixture.fit

    def fit(self, data, *args, **kwargs):
        seen.append(data)
        return original_fit(self, data, *args, **kwargs)

    monkeypatch.setattr(GaussianMixture, "fit", fit)
    select_model(X, n_components=KS, random_state=0, n_jobs=2)
    assert len(seen) == 12
    assert all(np.shares_memory(data, X) for data in seen)

    X_f = np.asfortranarray(X)  # converted once, then shared
    seen.clear()
    select_model(X_f, n_components=KS, random_state=0, n_jobs=2)
    assert all(data is seen[0] for data in seen)


def test_memmap_and_float32(X, tmp_path):
    expected = select_model(X, n_components=KS, random_state=0)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    result = select_model(mm, n_components=KS, random_state=0, n_jobs=2)
    for name in ("bic", "aic", "log_likelihood", "n_iter"):
        assert_allclose(result.table[name], expected.table[name], rtol=1e-12)

    seen = []
    original_fit = GaussianMixture.fit

    def fit(self, data, *args, **kwargs):
        seen.append(data)
        return original_fit(self, data, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GaussianMixture, "fit", fit)
        select_model(mm, n_components=KS, random_state=0, n_jobs=2)
    assert len(seen) == 12
    assert len({id(data) for data in seen}) == 12  # one block reader per fit
    assert all(data.array is mm and data._checked.all() for data in seen)

    bad = np.memmap(tmp_path / "bad.dat", dtype=np.float64, mode="w+", shape=X.shape)
    bad[:] = X
    bad[-1, 0] = np.inf
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GaussianMixture, "fit", None)  # no fit may start
        with pytest.raises(ValueError, match="infinity"):
            select_model(bad, n_components=KS)

    X32 = X.astype(np.float32)
    result = select_model(X32, n_components=KS, random_state=0, n_jobs=2)
    assert result.best_estimator.means_.dtype == np.float32
    assert_allclose(result.table["bic"], expected.table["bic"], rtol=1e-4)


def test_dataframe_keeps_feature_names(X):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b"])
    result = select_model(frame, n_components=KS, random_state=0)
    assert_array_equal(result.best_estimator.feature_names_in_, ["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result.best_estimator.predict(frame)


def test_blas_limits_are_restored(X):
    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    select_model(X, n_components=KS, random_state=0, n_jobs=2)
    select_model(X, n_components=KS, random_state=0, n_jobs=1)
    after = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    assert before == after


def test_public_name():
    assert fastem.select_model is select_model
    assert "select_model" in fastem.__all__
    assert isinstance(select_model(blobs(20), n_components=1), ModelSelection)


def test_dask_array_runs_each_fit_on_the_blocks(X):
    da = pytest.importorskip("dask.array")
    X_dask = da.from_array(X, chunks=60)
    result = select_model(
        X_dask, n_components=(1, 3), covariance_types="diag", random_state=0
    )
    expected = explicit_loop(X_dask, [0, 0], ks=(1, 3), types=("diag",))
    assert_same_table(result.table, expected)
    assert result.best_params == {"n_components": 3, "covariance_type": "diag"}


def test_threads_under_the_workqueue_layer(X):
    # Numba's workqueue layer is not thread-safe (two threads in parallel
    # regions at once abort the process); fastem's kernels run on its own
    # thread pool, never in a Numba parallel region, so the threads work under
    # that layer too and give the same table.
    code = (
        "import json, sys, numpy as np, numba\n"
        "from fastem import select_model\n"
        "X = np.array(json.loads(sys.stdin.read()))\n"
        "tables = [\n"
        "    select_model(X, n_components=(1, 2, 3), random_state=0, n_jobs=jobs)\n"
        "    .table['bic'].tolist() for jobs in (2, 1)\n"
        "]\n"
        "print(json.dumps([numba.threading_layer(), tables]))\n"
    )
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(X.tolist()),
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(fastem.__file__).parents[1],  # this checkout's fastem
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    layer, (threaded, serial) = json.loads(out.stdout)
    assert layer == "workqueue"
    assert threaded == serial
    expected = select_model(X, n_components=KS, random_state=0).table["bic"]
    assert_allclose(threaded, expected, rtol=1e-12)
