"""Dask arrays on a real ``distributed.LocalCluster`` (2 worker processes, 127.0.0.1).

A Dask fit is the in-memory fit with its statistics added per block, in a
fixed tree: from the same initial parameters it agrees with the in-memory fit
to rounding (measured ~1e-15 relative; the tolerances leave room for that to
grow over the iterations), and it is bit-identical whatever the number of
threads per worker or which worker ran which block.
"""

import os
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings

import numba
import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from synthetic import blobs

da = pytest.importorskip("dask.array", reason="Dask is an optional extra")
distributed = pytest.importorskip("distributed", reason="Dask is an optional extra")

import fastem._dask as fdask  # noqa: E402
from fastem import BayesianGaussianMixture, GaussianMixture, KMeans  # noqa: E402

N_SAMPLES, N_FEATURES, N_COMPONENTS, BLOCK_ROWS = 6000, 3, 3, 1000


def _cluster(threads_per_worker=1, n_workers=2):
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, the default client meanwhile."""
    with _cluster() as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    X = blobs(N_SAMPLES, N_FEATURES, N_COMPONENTS, seed=0, std=1.5)
    return X, da.from_array(X, chunks=(BLOCK_ROWS, N_FEATURES))


def _quiet_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning with tol=0
        return estimator.fit(X)


def _gmm(covariance_type="full", **params):
    defaults = dict(init_params="random_from_data", random_state=0, max_iter=8, tol=0)
    return GaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, **{**defaults, **params}
    )


def _assert_same_mixture(fitted, reference, rtol=1e-8):
    assert fitted.n_iter_ == reference.n_iter_
    assert_allclose(fitted.lower_bound_, reference.lower_bound_, rtol=rtol)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_allclose(getattr(fitted, name), getattr(reference, name), rtol=rtol)


# -- the same numbers as in memory --------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_mixture_equals_in_memory_fit(client, data, covariance_type):
    X, Xd = data
    reference = _quiet_fit(_gmm(covariance_type), X)
    fitted = _quiet_fit(_gmm(covariance_type), Xd)
    _assert_same_mixture(fitted, reference)
    assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=1e-8)

    labels = fitted.predict(Xd)
    proba = fitted.predict_proba(Xd)
    log_prob = fitted.score_samples(Xd)
    assert isinstance(labels, da.Array) and isinstance(proba, da.Array)
    assert isinstance(log_prob, da.Array)
    assert proba.chunks == (Xd.chunks[0], (N_COMPONENTS,))
    assert_array_equal(labels.compute(), reference.predict(X))
    assert_allclose(proba.compute(), reference.predict_proba(X), atol=1e-10)
    assert_allclose(log_prob.compute(), reference.score_samples(X), rtol=1e-10)
    score = fitted.score(Xd)
    assert isinstance(score, float)
    assert_allclose(score, reference.score(X), rtol=1e-10)


def test_fit_predict_is_lazy_and_equals_fit_then_predict(client, data):
    X, Xd = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning with tol=0
        labels = _gmm().fit_predict(Xd)
    assert isinstance(labels, da.Array)
    assert_array_equal(labels.compute(), _quiet_fit(_gmm(), X).predict(X))


def test_float32_dask_array_keeps_float32(client, data):
    X, _ = data
    X32 = X.astype(np.float32)
    fitted = _quiet_fit(_gmm(), da.from_array(X32, chunks=(BLOCK_ROWS, N_FEATURES)))
    reference = _quiet_fit(_gmm(), X32)
    assert fitted.means_.dtype == np.float32
    _assert_same_mixture(fitted, reference, rtol=1e-6)


def test_bayesian_mixture_equals_in_memory_fit(client, data):
    X, Xd = data
    params = dict(
        n_components=5,
        init_params="random_from_data",
        random_state=0,
        max_iter=10,
        tol=0,
    )
    reference = _quiet_fit(BayesianGaussianMixture(**params), X)
    fitted = _quiet_fit(BayesianGaussianMixture(**params), Xd)
    assert_allclose(fitted.lower_bound_, reference.lower_bound_, rtol=1e-8)
    assert_allclose(fitted.weights_, reference.weights_, rtol=1e-8)
    assert_allclose(fitted.means_, reference.means_, rtol=1e-8)
    assert_allclose(fitted.mean_prior_, reference.mean_prior_, rtol=1e-12)
    assert_allclose(fitted.covariance_prior_, reference.covariance_prior_, rtol=1e-12)
    density = fitted.log_predictive_density(Xd)
    assert isinstance(density, da.Array)
    assert_allclose(density.compute(), reference.log_predictive_density(X), rtol=1e-9)


def test_kmeans_equals_in_memory_fit(client, data):
    X, Xd = data
    init = X[[0, 1, 2]]
    reference = KMeans(N_COMPONENTS, init=init, n_init=1).fit(X)
    fitted = KMeans(N_COMPONENTS, init=init, n_init=1).fit(Xd)
    assert fitted.n_iter_ == reference.n_iter_
    assert_allclose(fitted.inertia_, reference.inertia_, rtol=1e-8)
    assert_allclose(fitted.cluster_centers_, reference.cluster_centers_, rtol=1e-8)
    assert isinstance(fitted.labels_, da.Array)
    assert_array_equal(fitted.labels_.compute(), reference.labels_)
    assert_array_equal(fitted.predict(Xd).compute(), reference.predict(X))
    assert_allclose(fitted.transform(Xd).compute(), reference.transform(X), rtol=1e-8)
    assert_allclose(fitted.score(Xd), reference.score(X), rtol=1e-8)


def test_kmeans_parallel_start_finds_the_in_memory_optimum(client, data):
    # Blobs: k-means|| + Lloyd and k-means++ + Lloyd both run to the same
    # fixed point (tol=0: until no label changes).
    X, Xd = data
    reference = KMeans(N_COMPONENTS, random_state=0, tol=0).fit(X)
    fitted = KMeans(N_COMPONENTS, random_state=0, tol=0).fit(Xd)
    assert_allclose(fitted.inertia_, reference.inertia_, rtol=1e-8)
    order = np.argsort(fitted.cluster_centers_[:, 0])
    expected = np.sort(reference.cluster_centers_[:, 0])
    assert_allclose(fitted.cluster_centers_[order, 0], expected, rtol=1e-8)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random"])
def test_dask_initialisations_give_a_proper_start(client, data, init_params):
    X, Xd = data
    fitted = _quiet_fit(
        GaussianMixture(
            N_COMPONENTS, init_params=init_params, random_state=0, max_iter=0
        ),
        Xd,
    )
    # (scikit-learn's one-hot starts leave weights summing to k / n_samples)
    assert np.all(fitted.weights_ > 0) and np.all(np.isfinite(fitted.means_))
    lo, hi = X.min(axis=0), X.max(axis=0)
    assert np.all((fitted.means_ >= lo) & (fitted.means_ <= hi))
    if init_params != "random":  # k-means|| seeds on three separated blobs
        X = blobs(3000, N_FEATURES, N_COMPONENTS, seed=1, std=0.3)
        Xd = da.from_array(X, chunks=(BLOCK_ROWS, N_FEATURES))
        params = dict(random_state=0, tol=1e-6)
        converged = _quiet_fit(
            GaussianMixture(N_COMPONENTS, init_params=init_params, **params), Xd
        )
        best = _quiet_fit(GaussianMixture(N_COMPONENTS, **params), X)
        assert converged.converged_ and converged.n_iter_ < 20
        assert_allclose(converged.lower_bound_, best.lower_bound_, rtol=1e-6)


def test_initial_statistics_equal_in_memory_ones(client, data):
    # The 'random_from_data' start reads the same rows; 'tied' adds the raw
    # scatter of the other rows, computed per block on the workers.
    X, Xd = data
    for covariance_type in COVARIANCE_TYPES:
        reference = _gmm(covariance_type, max_iter=0)
        fitted = _gmm(covariance_type, max_iter=0)
        _quiet_fit(reference, X)
        _quiet_fit(fitted, Xd)
        assert_allclose(fitted.covariances_, reference.covariances_, rtol=1e-10)


def test_empty_blocks_are_skipped(client, data):
    X, _ = data
    Xd = da.from_array(X, chunks=((2500, 0, 3500), (N_FEATURES,)))
    fitted = _quiet_fit(_gmm(), Xd)
    _assert_same_mixture(fitted, _quiet_fit(_gmm(), X))
    assert fitted.predict_proba(Xd).compute().shape == (N_SAMPLES, N_COMPONENTS)
    km = KMeans(N_COMPONENTS, random_state=0).fit(Xd)
    assert km.labels_.compute().shape == (N_SAMPLES,)


def test_dask_dataframe_is_taken_as_its_rows_with_feature_names(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, _ = data
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=4)
    fitted = _quiet_fit(_gmm(), frame)
    assert list(fitted.feature_names_in_) == ["a", "b", "c"]
    _assert_same_mixture(fitted, _quiet_fit(_gmm(), X))
    assert_array_equal(fitted.predict(frame).compute(), fitted.predict(X))
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.predict(frame[["b", "a", "c"]])


def test_kmeans_random_init_and_several_runs(client, data):
    X, Xd = data
    fitted = KMeans(N_COMPONENTS, init="random", n_init=3, random_state=0).fit(Xd)
    reference = KMeans(N_COMPONENTS, random_state=0, tol=0).fit(X)
    assert_allclose(fitted.inertia_, reference.inertia_, rtol=1e-3)
    assert fitted.cluster_centers_.shape == (N_COMPONENTS, N_FEATURES)


# -- where the work runs ----------------------------------------------------------


def _given_start(X):
    """Initial parameters, so a fit reads the data only in its E-steps."""
    fitted = GaussianMixture(N_COMPONENTS, random_state=0, max_iter=5).fit(X)
    return dict(
        weights_init=fitted.weights_,
        means_init=fitted.means_,
        precisions_init=fitted.precisions_,
    )


def test_every_iteration_runs_on_the_workers_and_x_stays_there(client):
    n_samples, block_rows, n_iter = 1_600_000, 200_000, 4
    Xd = (
        da.random.RandomState(0).normal(size=(n_samples, 8), chunks=(block_rows, 8))
        + (da.arange(n_samples, chunks=block_rows) % 3 * 4.0)[:, None]
    )
    start = _given_start(Xd[:20_000].compute())
    workers = set(client.scheduler_info()["workers"])
    gathered = []
    original = fdask.DaskData.__getitem__
    fdask.DaskData.__getitem__ = lambda self, key: (
        gathered.append(key) or original(self, key)
    )
    try:
        model = GaussianMixture(N_COMPONENTS, max_iter=n_iter, tol=0, **start)
        _quiet_fit(model, Xd)  # warm: compiled, modules imported
        model = GaussianMixture(N_COMPONENTS, max_iter=n_iter, tol=0, **start)
        tracemalloc.start()
        with distributed.get_task_stream(client) as stream:
            _quiet_fit(model, Xd)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        fdask.DaskData.__getitem__ = original
    assert gathered == []  # no row came to the client
    # The fitted model holds no reference to the persisted blocks.
    km = KMeans(N_COMPONENTS, init=start["means_init"], n_init=1, max_iter=2)
    km.fit(Xd)
    assert not distributed.futures_of(km.labels_)
    assert peak < Xd.nbytes / 10, (peak, Xd.nbytes)
    stats_tasks = [
        record
        for record in stream.data
        if str(record["key"]).startswith("fastem-block_suff_stats")
    ]
    # one statistics task per block per iteration, each run on a worker
    assert len(stats_tasks) == Xd.numblocks[0] * n_iter
    assert {record["worker"] for record in stats_tasks} <= workers
    assert len({record["worker"] for record in stats_tasks}) == 2


def test_a_worker_killed_mid_fit_does_not_change_the_result(client, data, monkeypatch):
    X, _ = data
    Xd = da.from_array(X, chunks=(BLOCK_ROWS, N_FEATURES))
    reference = _quiet_fit(_gmm(max_iter=6), Xd)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    original = fdask.suff_stats
    calls = []

    def kill_at_the_third_e_step(*args, **kwargs):
        calls.append(None)
        if len(calls) == 3:
            os.kill(pids[victim], signal.SIGKILL)
        return original(*args, **kwargs)

    monkeypatch.setattr(fdask, "suff_stats", kill_at_the_third_e_step)
    fitted = _quiet_fit(_gmm(max_iter=6), Xd)
    assert len(calls) == 6
    _assert_same_mixture(fitted, reference, rtol=1e-13)
    client.wait_for_workers(2, timeout=60)
    deadline = time.time() + 60
    while set(client.run(os.getpid).values()) & {pids[victim]}:
        assert time.time() < deadline
        time.sleep(0.5)


def test_threads_per_worker_and_chunking_do_not_change_the_result(client, data):
    X, Xd = data
    one_thread = _quiet_fit(_gmm(), Xd)
    client_one = client
    with _cluster(threads_per_worker=2, n_workers=1) as cluster:
        with distributed.Client(cluster) as client_two:
            two_threads = _quiet_fit(_gmm(), Xd)
            km_two = KMeans(N_COMPONENTS, random_state=0).fit(Xd)
    client_one.as_current()
    for name in ("means_", "covariances_", "weights_"):
        assert_array_equal(getattr(two_threads, name), getattr(one_thread, name))
    assert two_threads.lower_bound_ == one_thread.lower_bound_
    km_one = KMeans(N_COMPONENTS, random_state=0).fit(Xd)
    assert_array_equal(km_two.cluster_centers_, km_one.cluster_centers_)
    del client_two

    rechunked = _quiet_fit(_gmm(), da.from_array(X, chunks=(1500, N_FEATURES)))
    _assert_same_mixture(rechunked, one_thread, rtol=1e-10)


def test_map_reduce_combines_in_block_order(client):
    # A non-commutative combine (concatenation) over more blocks than one
    # level of the tree: the result is in block order.
    Xd = da.arange(40.0, chunks=2).reshape(40, 1).rechunk((2, 1))
    data = fdask.DaskData(Xd)
    result = fdask.map_reduce(
        data, _first_rows, combine=lambda a, b: np.concatenate([a, b])
    )
    assert data.n_blocks == 20 > fdask.SPLIT_EVERY
    assert_array_equal(result, np.arange(0, 40, 2))


def test_tasks_use_their_workers_share_of_the_cores(client):
    # Two one-thread workers on one machine: each task gets half the cores.
    data = fdask.DaskData(da.ones((40, 2), chunks=(10, 2)))
    cores = len(os.sched_getaffinity(0))
    expected = max(1, min(cores // 2, numba.config.NUMBA_NUM_THREADS))
    assert set(data.threads.values()) == {max(1, cores // 2)}
    used = fdask.map_reduce(data, _numba_threads, combine=lambda a, b: a + b)
    assert used == [expected] * 4


def _numba_threads(block, start):
    return [numba.get_num_threads()]


def _first_rows(block, start):
    assert block[0, 0] == start
    return block[:1, 0]


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [GaussianMixture, KMeans])
def test_nan_in_a_block_leaves_the_estimator_as_it_was(client, data, Estimator):
    X, Xd = data
    bad = X.copy()
    bad[4500, 1] = np.nan
    Xbad = da.from_array(bad, chunks=(BLOCK_ROWS, N_FEATURES))
    estimator = Estimator(N_COMPONENTS, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        estimator.fit(Xbad)
    assert not hasattr(estimator, "n_features_in_")
    fitted = Estimator(N_COMPONENTS, random_state=0).fit(Xd)
    before = dict(fitted.__dict__)
    with pytest.raises(ValueError, match="NaN"):
        fitted.fit(Xbad)
    assert fitted.__dict__.keys() == before.keys()
    attribute = "means_" if Estimator is GaussianMixture else "cluster_centers_"
    assert getattr(fitted, attribute) is before[attribute]


def test_unknown_chunk_sizes_are_refused(data):
    _, Xd = data
    unknown = Xd[Xd[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        GaussianMixture(2).fit(unknown)


@pytest.mark.parametrize("Estimator", [GaussianMixture, KMeans])
def test_blocks_split_along_features_are_refused(data, Estimator):
    X, _ = data
    split = da.from_array(X, chunks=(BLOCK_ROWS, 1))
    with pytest.raises(ValueError, match=r"3 chunks along its features.*rechunk"):
        Estimator(2).fit(split)


def test_one_dimensional_dask_array_is_refused():
    with pytest.raises(ValueError, match="2-D Dask array.*reshape"):
        GaussianMixture(2).fit(da.ones(10, chunks=5))


@pytest.mark.parametrize("Estimator", [GaussianMixture, KMeans])
def test_sample_weight_with_dask_is_refused(data, Estimator):
    _, Xd = data
    with pytest.raises(ValueError, match="sample_weight is not supported with a Dask"):
        Estimator(2).fit(Xd, sample_weight=np.ones(N_SAMPLES))


def test_predict_checks_the_width(client, data):
    X, Xd = data
    fitted = _quiet_fit(_gmm(), Xd)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(da.ones((10, N_FEATURES + 1), chunks=5))


# -- no Dask unless asked for; the threading layers ------------------------------


def _run_python(code, **env):
    environment = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


def test_import_fastem_does_not_import_dask():
    result = _run_python(
        "import sys, numpy as np, fastem\n"
        "fastem.GaussianMixture(2, random_state=0).fit(np.random.rand(50, 2))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_workqueue_layer_with_several_dask_threads_does_not_abort():
    # Numba's workqueue layer aborts the process when two threads enter
    # parallel regions at once; fastem's kernels run on its own thread pool
    # (no Numba parallel region), so Dask's threads can fit under that layer.
    code = (
        "import dask, dask.array as da, numpy as np, numba\n"
        "from fastem import GaussianMixture, KMeans\n"
        "X = np.random.default_rng(0).normal(size=(40000, 4))\n"
        "Xd = da.from_array(X, chunks=(2500, 4))\n"
        "with dask.config.set(scheduler='threads', num_workers=4):\n"
        "    a = GaussianMixture(3, random_state=0, init_params='random_from_data',"
        " max_iter=5, tol=0).fit(Xd)\n"
        "    KMeans(3, random_state=0).fit(Xd)\n"
        "b = GaussianMixture(3, random_state=0, init_params='random_from_data',"
        " max_iter=5, tol=0).fit(X)\n"
        "assert np.allclose(a.means_, b.means_, rtol=1e-10)\n"
        "print(numba.threading_layer())\n"
    )
    result = _run_python(code, NUMBA_THREADING_LAYER="workqueue")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "workqueue"


def test_a_dask_fitted_kmeans_saves_without_its_lazy_labels(client, data, tmp_path):
    from fastem import load

    X, Xd = data
    fitted = KMeans(N_COMPONENTS, random_state=0).fit(Xd)
    fitted.save(tmp_path / "km.npz")
    loaded = load(tmp_path / "km.npz")
    assert not hasattr(loaded, "labels_")
    assert_array_equal(loaded.predict(X), fitted.predict(Xd).compute())
    assert loaded.inertia_ == fitted.inertia_


@pytest.mark.parametrize("dtype", [np.complex128, "U3"])
def test_non_real_dask_arrays_are_refused(dtype):
    X = da.from_array(np.ones((20, 2), dtype=dtype), chunks=10)
    with pytest.raises(ValueError, match="real numbers.*got dtype"):
        GaussianMixture(2).fit(X)
