"""``fastem bench`` (fastem/_bench/) and the asv suite's use of it (benchmarks/).

Tiny problems only: every test runs the real code path in well under a few
seconds once numba's cache is warm. No timing is asserted, only what was run,
counted and printed.
"""

import ast
import dataclasses
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

import fastem
from fastem import kernels
from fastem._bench import (
    backends,
    cases,
    child,
    command,
    compile_time,
    data,
    machine,
    memory,
    render,
    results,
    timing,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "fastem" / "_bench"
#: The modules the asv suite loads from the checkout (see fastem/_bench/__init__).
SHARED = ("data", "backends", "compile_time", "child")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


# --- data --------------------------------------------------------------------


def test_make_blobs_is_seeded_typed_and_contiguous():
    X = data.make_blobs(500, 3, 4)
    assert X.shape == (500, 3) and X.dtype == np.float64
    assert X.flags.c_contiguous
    assert_array_equal(X, data.make_blobs(500, 3, 4))
    assert not np.array_equal(X, data.make_blobs(500, 3, 4, seed=1))
    X32 = data.make_blobs(500, 3, 4, dtype="float32")
    assert X32.dtype == np.float32
    assert_array_equal(X32, X.astype(np.float32))


def test_make_blobs_draws_clusters_of_unequal_spreads():
    # Replay the generator's draws: cluster j has mean centers[j] and covariance
    # T_j^T T_j = diag(scales_j**2), T_j being an orthogonal Q_j times diag(scales_j).
    n, d, k = 40_000, 3, 2
    X = data.make_blobs(n, d, k, seed=5)
    rng = np.random.default_rng(5)
    centers = rng.normal(scale=3.0, size=(k, d))
    scales = []
    for _ in range(k):
        rng.standard_normal((d, d))  # the orthogonal factor's draw
        scales.append(rng.uniform(0.5, 1.5, size=d))
    labels = rng.integers(0, k, size=n)
    for j in range(k):
        rows = X[labels == j]
        assert_allclose(rows.mean(axis=0), centers[j], atol=0.05)
        assert_allclose(np.cov(rows, rowvar=False), np.diag(scales[j] ** 2), atol=0.06)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_initial_parameters_equal_sklearns_arithmetic(covariance_type):
    X = data.make_blobs(300, 3, 2)
    init = data.initial_parameters(X, 4, covariance_type)
    rows = np.random.default_rng(data.SEED).choice(300, size=4, replace=False)
    assert_array_equal(init["means_init"], X[rows])
    assert_array_equal(init["weights_init"], np.full(4, 0.25))
    cov = np.cov(X, rowvar=False) + data.REG_COVAR * np.eye(3)
    covariances = {
        "full": np.repeat(cov[None], 4, axis=0),
        "tied": cov,
        "diag": np.repeat(np.diag(cov)[None], 4, axis=0),
        "spherical": np.full(4, np.diag(cov).mean()),
    }[covariance_type]
    expected = _compute_precision_cholesky(covariances, covariance_type)
    assert_allclose(init["precisions_cholesky"], expected, rtol=1e-12)
    precisions = init["precisions_init"]
    if covariance_type in ("full", "tied"):
        assert_allclose(
            precisions @ covariances,
            np.broadcast_to(np.eye(3), precisions.shape),
            atol=1e-10,
        )
    else:
        assert_allclose(precisions * covariances, 1.0, rtol=1e-12)


def test_initial_parameters_keep_the_dtype():
    X = data.make_blobs(200, 2, 2, dtype="float32")
    init = data.initial_parameters(X, 2, "full")
    assert {a.dtype for a in init.values()} == {np.dtype(np.float32)}


def test_initial_centers_are_distinct_rows():
    X = data.make_blobs(100, 2, 3)
    centers = data.initial_centers(X, 5)
    rows = np.random.default_rng(data.SEED).choice(100, size=5, replace=False)
    assert_array_equal(centers, X[rows])
    assert len(np.unique(centers, axis=0)) == 5


def test_inertia_matches_brute_force_across_chunks():
    X = data.make_blobs(1000, 3, 4)
    centers = data.initial_centers(X, 4)
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    assert_allclose(data.inertia(X, centers, chunk=64), d2.min(axis=1).sum())


def test_load_dataset(tmp_path):
    np.savez(tmp_path / "tiny.npz", x=np.arange(6, dtype=np.int16).reshape(3, 2))
    X = data.load_dataset(tmp_path, "tiny", "float32")
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert_array_equal(X, [[0, 1], [2, 3], [4, 5]])
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        data.load_dataset(tmp_path, "missing")


# --- backends ----------------------------------------------------------------


def _start(covariance_type="full", n=400, d=3, k=3):
    X = data.make_blobs(n, d, k)
    return X, data.initial_parameters(X, k, covariance_type)


def test_suff_stats_call_fits_the_older_signature(monkeypatch):
    X, init = _start("diag")
    seen = {}

    def older(X, means, precisions_cholesky, weights, covariance_type):
        seen.update(weights=weights, covariance_type=covariance_type)
        return "stats"

    monkeypatch.setattr(kernels, "suff_stats", older)
    assert backends.fastem_suff_stats(X, "diag", init) == "stats"
    assert seen["weights"] is init["weights_init"]
    assert seen["covariance_type"] == "diag"


def test_suff_stats_call_fits_the_newer_signature(monkeypatch):
    X, init = _start("full")
    seen = {}

    def newer(
        X, means, precisions_cholesky, log_norm, covariance_type, sample_weight=None
    ):
        seen.update(log_norm=log_norm, sample_weight=sample_weight)
        return "stats"

    monkeypatch.setattr(kernels, "suff_stats", newer)
    assert backends.fastem_suff_stats(X, "full", init) == "stats"
    expected = kernels.log_norm(
        init["precisions_cholesky"], init["weights_init"], "full", X.shape[1]
    )
    assert_array_equal(seen["log_norm"], expected)
    assert seen["sample_weight"] is None


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estep_is_the_same_work_on_both_backends(covariance_type):
    X, init = _start(covariance_type)
    sk_model = backends.sklearn_estep_model(covariance_type, init)
    stats = backends.estep("fastem", covariance_type, X, init)
    nk, means, _ = backends.estep("sklearn", covariance_type, X, init, sk_model)
    # scikit-learn adds 10 * eps to nk before dividing
    assert_allclose(stats.nk + 10 * np.finfo(np.float64).eps, nk, rtol=1e-10)
    fastem_means = init["means_init"] + stats.sum_dev / stats.nk[:, None]
    assert_allclose(fastem_means, means, rtol=1e-9, atol=1e-12)


def test_fit_gmm_runs_max_iter_from_the_start_on_both_backends():
    X, init = _start("full")
    fits = {b: backends.fit_gmm(b, "full", X, init, 3) for b in ("fastem", "sklearn")}
    assert fits["fastem"].n_iter_ == fits["sklearn"].n_iter_ == 3
    assert fits["fastem"].n_components == 3
    assert_allclose(
        fits["fastem"].lower_bound_, fits["sklearn"].lower_bound_, rtol=1e-10
    )
    assert_allclose(fits["fastem"].means_, fits["sklearn"].means_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_bgmm_same_start_and_lower_bounds_on_both_backends(covariance_type):
    X = data.make_blobs(600, 3, 3)
    fits = {
        b: backends.fit_bgmm(b, covariance_type, X, 3, 3) for b in ("fastem", "sklearn")
    }
    ours, ref = fits["fastem"], fits["sklearn"]
    assert ours.init_params == ref.init_params == backends.BGMM_INIT_PARAMS
    assert (ours.tol, ours.n_init, ours.random_state) == (0.0, 1, data.SEED)
    assert ours.n_iter_ == ref.n_iter_ == 3
    bounds = {b: backends.lower_bounds(m) for b, m in fits.items()}
    assert all(type(v) is float for v in bounds["sklearn"])  # 'tied': 1-arrays
    assert len(bounds["fastem"]) == 3
    assert_allclose(bounds["fastem"], bounds["sklearn"], rtol=1e-10)
    assert timing.lower_bounds_difference(bounds) < 1e-10
    assert_allclose(ours.means_, ref.means_, rtol=1e-9, atol=1e-12)
    assert backends.lower_bounds(object()) == []


def test_lower_bounds_difference():
    diff = timing.lower_bounds_difference
    assert diff({"sklearn": [-4.0, -2.0], "fastem": [-4.0, -2.0]}) == 0.0
    assert diff({"sklearn": [-4.0, -2.0], "fastem": [-4.0, -3.0]}) == 0.5
    assert diff({"sklearn": [-4.0, -2.0], "fastem": [-4.0]}) == float("inf")
    assert diff({"sklearn": [-4.0]}) is None
    assert diff({"sklearn": [-4.0], "fastem": []}) is None
    assert diff({"fastem": [-4.0]}) is None


@pytest.mark.parametrize("max_iter, tol", [(2, 0.0), (300, 1e-4)])
def test_fit_kmeans_same_centers_on_both_backends(max_iter, tol):
    X = data.make_blobs(600, 2, 4)
    start = data.initial_centers(X, 4)
    ours, n_ours = backends.fit_kmeans("fastem", X, start, max_iter, tol)
    ref, n_ref = backends.fit_kmeans("sklearn", X, start, max_iter, tol)
    assert n_ours == n_ref
    assert (n_ours == 2) if max_iter == 2 else (2 < n_ours < 300)
    assert_allclose(ours, ref, rtol=1e-10)


def _block_fastem(monkeypatch):
    """Make every ``import fastem...`` fail, as at a commit where it is broken."""
    for name in [m for m in sys.modules if m == "fastem" or m.startswith("fastem.")]:
        monkeypatch.setitem(sys.modules, name, None)


def test_backend_availability(monkeypatch):
    assert backends.fastem_available() is None
    assert backends.fastem_available("KMeans") is None
    for name in backends.FASTEM_NAMES.values():
        assert backends.fastem_available(name) is None
    assert backends.fastem_available("kernels.suff_stats") is None
    reason = backends.fastem_available("kernels.no_such_thing")
    assert reason.startswith("fastem.kernels.no_such_thing unavailable: AttributeError")
    _block_fastem(monkeypatch)
    reason = backends.fastem_available()
    assert reason.startswith("fastem.GaussianMixture unavailable: ModuleNotFoundError")


def test_threads_are_restored():
    import numba

    before = numba.get_num_threads()
    with backends.threads("fastem", 1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


# --- cases -------------------------------------------------------------------


def test_default_cases():
    quick = [c.name for c in cases.default_cases(quick=True)]
    assert quick == [
        "gmm-full-2e4x8-k4",
        "gmm-tied-2e4x8-k4",
        "gmm-diag-2e4x8-k4",
        "gmm-spherical-2e4x8-k4",
        "gmm-full-2e4x8-k4-f32",
        "bgmm-full-2e4x8-k4",
        "bgmm-diag-2e4x8-k4",
        "kmeans-2e4x8-k8-f32",
    ]
    regular = cases.default_cases(real_data=True)
    bgmm = [c for c in regular if c.model == "bgmm"]
    assert [(c.name, c.measures) for c in bgmm] == [
        ("bgmm-full-1e6x16-k16", ("time", "memory")),
        ("bgmm-diag-1e6x16-k16", ("time", "memory")),
        ("bgmm-full-2e5x64-k32", ("time", "memory")),
        ("bgmm-full-1e6x16-k64", ("memory",)),
    ]
    assert [c.name for c in regular][-3:] == [
        "gmm-full-cover-k16",
        "gmm-full-http-k8",
        "gmm-full-shuttle-k8",
    ]
    memory_only = [c for c in regular if c.measures == ("memory",)]
    assert [(c.model, c.n, c.d, c.k) for c in memory_only] == [
        ("gmm", 1_000_000, 16, 64),
        ("bgmm", 1_000_000, 16, 64),
    ]


def test_all_cases_hold_the_defaults_and_the_extras():
    pool = cases.all_cases()
    for case in cases.default_cases(True) + cases.default_cases(False):
        assert pool[case.name] == case
    assert pool["gmm-tied-1e7x16-k16-f32"].n == 10_000_000
    assert pool["kmeans-1e6x2-k8"].dtype == "float64"
    assert pool["bgmm-tied-1e6x16-k16-f32"].model == "bgmm"
    # quick, regular, GMM, BayesianGaussianMixture and k-means extras
    assert len(pool) == 8 + 12 + 12 + 6 + 2
    assert len(cases.all_cases(real_data=True)) == len(pool) + 1 + 3 + 10


def test_select_cases_patterns_order_and_dtype():
    chosen = cases.select_cases("kmeans-1e6x2-*, gmm-full-2e4*,kmeans-1e6x2-k8")
    assert [c.name for c in chosen] == [
        "kmeans-1e6x2-k8-f32",
        "kmeans-1e6x2-k8",
        "gmm-full-2e4x8-k4",
        "gmm-full-2e4x8-k4-f32",
    ]
    as64 = cases.select_cases("kmeans-2e4x8-k8-f32", dtype="float64")
    assert [(c.name, c.dtype) for c in as64] == [("kmeans-2e4x8-k8", "float64")]
    as32 = cases.select_cases(None, quick=True, dtype="float32")
    assert all(c.name.endswith("-f32") and c.dtype == "float32" for c in as32)
    assert len({c.name for c in as32}) == 7  # gmm-full-...-f32 twice
    bgmm = cases.select_cases("bgmm-*-1e6x16-k16,gmm-full-1e6x16-k16")
    assert [c.name for c in bgmm] == [
        "bgmm-full-1e6x16-k16",
        "bgmm-diag-1e6x16-k16",
        "bgmm-tied-1e6x16-k16",
        "bgmm-spherical-1e6x16-k16",
        "gmm-full-1e6x16-k16",  # 'gmm-*' patterns do not pick bgmm cases
    ]
    with pytest.raises(SystemExit, match="no case matches 'nothing-\\*'"):
        cases.select_cases("gmm-full-2e4x8-k4,nothing-*")


def test_find_data_dir_and_case_data(tmp_path):
    assert cases.find_data_dir(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        cases.find_data_dir(tmp_path / "absent")
    np.savez(tmp_path / "shuttle.npz", x=np.ones((5, 2)))
    case = cases.gmm_case("full", 0, 0, 2, "float32", data="shuttle")
    assert case.name == "gmm-full-shuttle-k2-f32"
    X = cases.load_case_data(case, tmp_path)
    assert X.shape == (5, 2) and X.dtype == np.float32
    tiny = cases.kmeans_case(300, 2, 3, "float64")
    assert_array_equal(cases.load_case_data(tiny), data.make_blobs(300, 2, 3))


# --- results and render ------------------------------------------------------


def _synthetic_run(converged=True):
    """A run with every field of every record set (no timing, no fitting)."""
    gmm = results.CaseResult(
        cases.gmm_case("full", 1000, 2, 3),
        shape=(1000, 2, 3),
        times={
            "fit": {("sklearn", 1): [0.004, 0.006], ("sklearn", 2): [0.01, 0.01]},
            "iteration": {("sklearn", 1): [0.001, 0.001]},
            "estep": {("sklearn", 1): [0.5, 0.7], ("fastem", 2): [0.1, 0.1]},
        },
        quality={"sklearn": -3.25, "fastem": -3.2500000001, "onedal": -3.2500004},
        n_iter={"sklearn": 4, "fastem": 4, "onedal": 4},
        memory={"sklearn": {"delta": 100 * 2**20}, "fastem": {"delta": 10 * 2**20}},
        notes=["faiss unavailable: test"],
        probe={1: 0.002, 2: 0.003},
        converged_n_iter={"unused": 1},
        lower_bounds={"sklearn": [-3.5, -3.25], "fastem": [-3.5, -3.2500000001]},
        means_difference={"onedal": 4.4e-7},
    )
    gmm.times["fit"][("fastem", 2)] = [0.001, 0.002]
    gmm.times["fit"][("onedal", 2)] = [0.003, 0.003]
    gmm.times["iteration"][("onedal", 2)] = [0.0006, 0.0007, 0.0005]
    bgmm = results.CaseResult(
        cases.bgmm_case("diag", 1_000_000, 16, 64, measures=("memory",)),
        shape=(1_000_000, 16, 64),
        memory={
            "sklearn": {"delta": 3000 * 2**20, "data_bytes": 128_000_000},
            "fastem": {"delta": 6 * 2**20, "data_bytes": 128_000_000},
        },
    )
    bgmm_timed = results.CaseResult(
        cases.bgmm_case("full", 1000, 2, 3),
        shape=(1000, 2, 3),
        times={
            "iteration": {("sklearn", 2): [0.004], ("fastem", 2): [0.0005]},
            "predict_proba": {("sklearn", 2): [0.002], ("fastem", 2): [0.001]},
        },
        quality={"sklearn": -2500.0, "fastem": -2500.5},
        n_iter={"sklearn": 4, "fastem": 4},
        lower_bounds={"sklearn": [-2600.0, -2500.0], "fastem": [-2600.0, -2500.5]},
    )
    gmm.times["iteration"][("fastem", 2)] = [0.0002, 0.0002]
    km = results.CaseResult(
        cases.kmeans_case(1000, 2, 3),
        shape=(1000, 2, 3),
        times={
            "fit": {("sklearn", 1): [0.003], ("fastem", 2): [0.001]},
            "converged": {("sklearn", 1): [0.03], ("fastem", 2): [0.005]},
        },
        quality={"sklearn": 1234.5, "fastem": 1234.5},
        n_iter={"sklearn": 4, "fastem": 4},
        converged_n_iter={"sklearn": 10, "fastem": 9} if converged else {},
    )
    compile_times = (
        {
            "fastem cold": [{"import": 1.0, "first_fit": 20.0, "total": 21.0}],
            "fastem warm": [],
            "sklearn": [{"import": 0.5, "first_fit": 0.01, "total": 0.51}],
        },
        None,
    )
    machine = {"cpu": "Test CPU", "cores": 2}
    return results.Run(
        [gmm, bgmm, bgmm_timed, km], compile_times, machine, "fastem bench", 1, 3, 2
    )


def test_json_round_trip_keeps_every_field():
    run = _synthetic_run()
    gmm = run.results[0]
    for field in dataclasses.fields(results.CaseResult):  # a new field is covered
        assert getattr(gmm, field.name), f"set {field.name} in _synthetic_run"
    for field in dataclasses.fields(results.Run):
        assert getattr(run, field.name), f"set {field.name} in _synthetic_run"
    back = results.from_json(json.loads(json.dumps(results.to_json(run))))
    assert back == run
    assert render.render_markdown(back) == render.render_markdown(run)


def test_json_without_compile_times_or_converged_iterations():
    run = _synthetic_run(converged=False)
    run.compile_times = None
    saved = results.to_json(run)
    assert "compile" not in saved
    for item in saved["cases"]:  # a file written before these were saved
        del item["converged_n_iter"], item["lower_bounds"], item["means_difference"]
    back = results.from_json(json.loads(json.dumps(saved)))
    assert back.compile_times is None
    assert back.results[-1].converged_n_iter == {}
    assert back.results[0].lower_bounds == {}
    assert back.results[0].means_difference == {}
    report = render.render_markdown(back)
    assert "(tol=0.0001; n/a / n/a it)" in report
    assert "| -1.00e-10 | n/a | 2.0 ms / 3.0 ms |" in report


def test_render_rows():
    lines = render.render_markdown(_synthetic_run()).splitlines()
    assert lines[0] == "### fastem vs scikit-learn"
    assert lines[2] == "Command: `fastem bench`"
    assert "Medians of 2 repeat(s)" in lines[4]
    assert "one iteration = (time at max_iter=4 - time at max_iter=1) / 3" in lines[4]
    expected = [
        "| full, n=1,000 d=2 k=3, f64 | fit (max_iter=4) | 5.0 ms (1 thr) | 1.5 ms "
        "| 3.3x | 3.0 ms | 2.0x |",
        "|  | one EM iteration | 1.0 ms (1 thr) | 200 us | 5.0x | 600 us | 3.0x |",
        "|  | fused E-step + statistics | 600.0 ms (1 thr) | 100.0 ms | 6.0x |  |  |",
        "|  | peak memory of fit | 100 MiB | 10 MiB | 10.0x less |  |  |",
        "| full, n=1,000 d=2 k=3, f64 | 4 / 4 | -3.2500000000 | -3.2500000001 "
        "| -1.00e-10 | 3.1e-11 (agree) | 2.0 ms / 3.0 ms |",
        "| BayesianGaussianMixture | measure | scikit-learn | fastem | speed-up |",
        "| diag, n=1,000,000 d=16 k=64, f64 | peak memory of fit "
        "| 3,000 MiB (2457.6% of X) | 6 MiB (4.9% of X) | 500.0x less |",
        "| full, n=1,000 d=2 k=3, f64 | one variational iteration | 4.0 ms (2 thr) "
        "| 500 us | 8.0x |",
        "|  | predict_proba | 2.0 ms (2 thr) | 1.0 ms | 2.0x |",
        "| full, n=1,000 d=2 k=3, f64 | 4 / 4 | -2500.0000000000 | -2500.5000000000 "
        "| -5.00e-01 | 2.0e-04 (DIFFER) | n/a |",
        "| k-means, n=1,000 d=2 k=3, f32 | fit (max_iter=4) | 3.0 ms (1 thr) "
        "| 1.0 ms | 3.0x | n/a |",
        "|  | fit to convergence (tol=0.0001; 10 / 9 it) | 30.0 ms (1 thr) | 5.0 ms "
        "| 6.0x | n/a |",
        "| | inertia | sklearn 1.234500e+03 (4 it) / fastem 1.234500e+03 (4 it) "
        "| | | |",
        "| fastem, numba cache cold | 1.00 s | 20.00 s | 21.00 s |",
        "| fastem, numba cache warm | n/a | n/a | n/a |",
        "| scikit-learn | 500.0 ms | 10.0 ms | 510.0 ms |",
        "Skipped: faiss unavailable: test",
        "- cpu: Test CPU",
        "- cores: 2",
    ]
    for line in expected:
        assert line in lines
    assert lines.index(expected[0]) < lines.index(expected[4])  # timing, quality
    assert lines.index(expected[4]) < lines.index(expected[5])  # GMM, then BGM
    assert lines.index(expected[9]) < lines.index(expected[10])  # BGM, k-means
    assert "the same `random_state`" in lines[4]  # BGM's start is explained
    run = _synthetic_run()
    run.results = [r for r in run.results if r.case.model != "bgmm"]
    assert "random_state" not in render.render_markdown(run)
    # oneDAL: two columns in the GaussianMixture table only, then its agreement
    header = (
        "| GaussianMixture | measure | scikit-learn | fastem | speed-up | oneDAL "
        "| fastem / oneDAL speed-up |"
    )
    agreement = (
        "| full, n=1,000 d=2 k=3, f64 | 4 | -3.2500004000 | -4.00e-07 | 4.4e-07 |"
    )
    assert lines.index(header) < lines.index(expected[0])
    assert lines.index(expected[4]) < lines.index(agreement) < lines.index(expected[5])
    assert "its own interpreter" in lines[4] and "reg_covar=1e-06" in lines[4]
    for res in run.results:  # without oneDAL: no oneDAL column, table or text
        for per in res.times.values():
            per.pop(("onedal", 2), None)
        res.quality.pop("onedal", None)
    report = render.render_markdown(run)
    assert (
        "| GaussianMixture | measure | scikit-learn | fastem | speed-up |\n" in report
    )
    assert "oneDAL" not in report


def test_best_sklearn_takes_the_faster_median():
    per = {("sklearn", 1): [3.0, 1.0, 2.0], ("sklearn", 2): [1.5], ("fastem", 2): [0.1]}
    assert render.best_sklearn(per) == (1.5, 2)
    assert render.best_sklearn({("fastem", 2): [0.1]}) == (None, None)
    assert render.fmt_mib(None) == "n/a"
    assert render.fmt_mib(2**19) == "< 1 MiB"
    assert render.fmt_mib(3 * 2**30) == "3,072 MiB"


# --- timing: tiny real runs --------------------------------------------------


def test_run_case_gmm_tiny():
    case = cases.gmm_case("full", 2000, 3, 3)
    log = []
    res = timing.run_case(case, 1, 1, 1, log=log.append, sklearn_threads="1")
    pairs = {("sklearn", 1), ("fastem", timing.FASTEM_THREADS)}
    measures = ("fit", "iteration", "predict_proba", "score_samples", "estep")
    assert set(res.times) == set(measures)
    for measure in measures:
        assert set(res.times[measure]) == pairs
        assert all(len(v) == 1 for v in res.times[measure].values())
        if measure != "iteration":  # a difference of two times: may be <= 0
            assert all(v[0] > 0 for v in res.times[measure].values())
    assert res.shape == (2000, 3, 3)
    assert res.n_iter == {"sklearn": 2, "fastem": 2}
    assert_allclose(res.quality["fastem"], res.quality["sklearn"], rtol=1e-10)
    assert res.probe == {} and res.notes == [] and res.converged_n_iter == {}
    assert log == [f"  {case.name}: repeat 1/1 done"]


def test_run_case_bgmm_tiny_through_json_and_render():
    case = cases.bgmm_case("diag", 2000, 3, 3)
    log = []
    res = timing.run_case(case, 1, 1, 1, log=log.append, sklearn_threads="1")
    pairs = {("sklearn", 1), ("fastem", timing.FASTEM_THREADS)}
    measures = ("fit", "iteration", "predict_proba", "score_samples")
    assert set(res.times) == set(measures)  # no fused E-step row
    for measure in measures:
        assert set(res.times[measure]) == pairs
    assert res.n_iter == {"sklearn": 2, "fastem": 2}
    assert_allclose(res.quality["fastem"], res.quality["sklearn"], rtol=1e-10)
    assert {b: len(v) for b, v in res.lower_bounds.items()} == {
        "sklearn": 2,
        "fastem": 2,
    }
    assert timing.lower_bounds_difference(res.lower_bounds) <= timing.AGREEMENT_RTOL
    assert log == [f"  {case.name}: repeat 1/1 done"]  # no disagreement warning
    run = results.Run([res], None, {"cpu": "x"}, "fastem bench", 1, 1, 1)
    report = render.render_markdown(run)
    assert "| BayesianGaussianMixture | measure |" in report
    assert "|  | one variational iteration |" in report
    assert "(agree) | n/a |" in report
    back = results.from_json(json.loads(json.dumps(results.to_json(run))))
    assert render.render_markdown(back) == report


@pytest.mark.parametrize("fails_at", ["warm-up", "timed fit", "second repeat"])
def test_run_case_leaves_out_a_peer_that_raises(monkeypatch, fails_at):
    """scikit-learn's float32 fit can raise where fastem's does not (a
    covariance not positive definite): the case is timed without it, the
    reason in the notes, and the report renders."""
    case = cases.gmm_case("full", 2000, 3, 3)
    real = timing.fit_case
    calls = []

    def failing(case, backend, *args):
        if backend == "sklearn":
            calls.append(backend)  # the warm-up, then two fits per repeat
            failing_call = {"warm-up": 1, "timed fit": 2, "second repeat": 4}
            if len(calls) == failing_call[fails_at]:
                raise ValueError("ill-defined empirical covariance\nmore text")
        return real(case, backend, *args)

    monkeypatch.setattr(timing, "fit_case", failing)
    res = timing.run_case(case, 1, 1, 2, log=lambda msg: None, sklearn_threads="1")
    assert res.notes == [
        "sklearn failed on this case (ValueError: ill-defined empirical "
        "covariance); timed without it"
    ]
    fastem = ("fastem", timing.FASTEM_THREADS)
    assert set(res.times["fit"]) == {fastem}
    assert len(res.times["fit"][fastem]) == 2  # both repeats
    assert set(res.times["predict_proba"]) == {fastem}
    assert set(res.quality) == set(res.n_iter) == {"fastem"}
    run = results.Run([res], None, {"cpu": "x"}, "fastem bench", 1, 1, 1)
    assert "sklearn failed on this case" in render.render_markdown(run)


def test_run_case_does_not_hide_fastem_errors(monkeypatch):
    case = cases.gmm_case("full", 2000, 3, 3)
    real = timing.fit_case

    def failing(case, backend, *args):
        if backend == "fastem":
            raise ValueError("a fastem bug")
        return real(case, backend, *args)

    monkeypatch.setattr(timing, "fit_case", failing)
    with pytest.raises(ValueError, match="a fastem bug"):
        timing.run_case(case, 1, 1, 1, log=lambda msg: None, sklearn_threads="1")


def test_run_case_warns_when_lower_bounds_differ(monkeypatch):
    case = cases.bgmm_case("spherical", 1000, 2, 2)
    real = timing.lower_bounds

    def shifted(model):  # fastem's lower bounds off by 1e-3 (relative)
        values = real(model)
        if type(model).__module__.startswith("fastem"):
            values = [v * (1 + 1e-3) for v in values]
        return values

    monkeypatch.setattr(timing, "lower_bounds", shifted)
    log = []
    timing.run_case(case, 1, 1, 1, log=log.append, sklearn_threads="1")
    assert log[0].startswith(f"  WARNING {case.name}: lower_bounds_ differ")
    assert "1.00e-03" in log[0]


def test_run_case_kmeans_tiny_through_json_and_render():
    case = cases.kmeans_case(2000, 3, 4, "float64")
    res = timing.run_case(case, 1, 1, 1, log=lambda msg: None)  # thread probe
    assert set(res.probe) == set(timing.SKLEARN_THREADS)
    best = min(res.probe, key=res.probe.get)
    assert set(res.times["converged"]) == {("sklearn", best), ("fastem", 2)}
    its = res.converged_n_iter
    assert its["sklearn"] == its["fastem"] > 2
    assert res.n_iter == {"sklearn": 2, "fastem": 2}
    assert_allclose(res.quality["fastem"], res.quality["sklearn"], rtol=1e-10)
    assert any("faiss" in note for note in res.notes)  # float64: never faiss
    run = results.Run([res], None, {"cpu": "x"}, "fastem bench", 1, 1, 1)
    report = render.render_markdown(run)
    row = f"fit to convergence (tol=0.0001; {its['sklearn']} / {its['fastem']} it)"
    assert row in report
    back = results.from_json(json.loads(json.dumps(results.to_json(run))))
    assert render.render_markdown(back) == report


# --- fresh processes ---------------------------------------------------------


def test_peak_rss_sees_an_allocation():
    meter = memory.PeakRSS()
    block = np.ones(40 * 2**20 // 8)
    assert block.sum() > 0
    del block
    assert meter.peak() - meter.baseline > 30 * 2**20
    assert meter.method in ("VmHWM", "sampled")


def test_measure_memory_in_a_child():
    case = cases.gmm_case("diag", 3000, 4, 2)
    out = memory.measure_memory(case, "sklearn", 1)
    assert out["data_bytes"] == 3000 * 4 * 8
    assert out["peak"] >= out["baseline"] > 0
    assert out["delta"] == out["peak"] - out["baseline"]


@pytest.mark.parametrize("backend", ["sklearn", "fastem"])
def test_measure_bgmm_memory_in_a_child(backend):
    case = cases.bgmm_case("full", 3000, 4, 3)
    out = memory.measure_memory(case, backend, 1)
    assert out["data_bytes"] == 3000 * 4 * 8
    assert out["delta"] == out["peak"] - out["baseline"] >= 0


def test_measure_compile_of_sklearn_in_a_child():
    out = compile_time.measure_compile("sklearn")
    assert set(out) == {"import", "first_fit", "total"}
    assert_allclose(out["total"], out["import"] + out["first_fit"], rtol=1e-6)


def test_run_compile_cold_then_warm_in_one_cache(monkeypatch):
    calls = []

    def fake(backend, covariance_type="full", cache_dir=None):
        calls.append((backend, cache_dir))
        return {"import": 1.0, "first_fit": 2.0, "total": 3.0}

    monkeypatch.setattr(compile_time, "measure_compile", fake)
    times, reason = compile_time.run_compile(2, log=lambda msg: None)
    assert reason is None
    assert {key: len(v) for key, v in times.items()} == {
        "fastem cold": 2,
        "fastem warm": 2,
        "sklearn": 2,
    }
    assert [b for b, _ in calls] == ["fastem", "fastem", "sklearn"] * 2
    assert calls[0][1] == calls[1][1] != calls[3][1]  # fresh cache per repeat
    assert calls[2][1] is None


def test_child_env_finds_this_fastem():
    env = child.child_env({"EXTRA": "1"})
    root = str(Path(fastem.__file__).resolve().parents[1])
    assert env["PYTHONPATH"].split(os.pathsep)[0] == root
    assert env["EXTRA"] == "1"


def test_machine_info():
    info = machine.machine_info()
    assert info["numpy"] == np.__version__
    assert info["cores"] == os.cpu_count()
    assert info["fastem"].startswith(fastem.__version__)
    assert set(info) >= {"cpu", "python", "numba", "scikit-learn", "blas"}


# --- the command line --------------------------------------------------------


def test_parser_defaults_and_choices():
    args = command.make_parser().parse_args([])
    assert (args.quick, args.repeats, args.iters, args.warmup_iters) == (
        False,
        None,
        None,
        1,
    )
    assert args.sklearn_threads == "probe" and args.cases is None
    args = command.make_parser().parse_args(
        ["--quick", "--cases", "kmeans-*", "--dtype", "float32", "--no-memory"]
    )
    assert (args.quick, args.cases, args.dtype, args.no_memory) == (
        True,
        "kmeans-*",
        "float32",
        True,
    )
    with pytest.raises(SystemExit):
        command.make_parser().parse_args(["--dtype", "float16"])


def test_list_cases(capsys):
    assert command.main(["--list-cases", "--data-dir", str(ROOT)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(cases.all_cases(True))
    assert out[0].endswith("('time', 'memory')")


def test_render_a_saved_run(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(results.to_json(_synthetic_run())))
    md = tmp_path / "run.md"
    assert command.main(["--render", str(path), "--markdown-out", str(md)]) == 0
    report = render.render_markdown(_synthetic_run())
    assert capsys.readouterr().out == report + "\n"
    assert md.read_text() == report


def test_main_runs_a_tiny_case_end_to_end(tmp_path, monkeypatch, capsys):
    tiny = cases.gmm_case("diag", 1500, 2, 2)
    monkeypatch.setattr(command, "select_cases", lambda *args: [tiny])
    memory_calls = []

    def fake_memory(case, backend, count, max_iter, data_dir):
        memory_calls.append((case.name, backend, count, max_iter))
        return {"delta": 2**21 if backend == "sklearn" else 2**20}

    monkeypatch.setattr(command, "measure_memory", fake_memory)
    argv = ["--no-compile", "--repeats", "1", "--iters", "1", "--sklearn-threads", "2"]
    argv += ["--json-out", str(tmp_path / "r.json")]
    assert command.main(argv) == 0
    report = capsys.readouterr().out
    assert memory_calls == [
        (tiny.name, "sklearn", 2, memory.MEMORY_ITER),
        (tiny.name, "fastem", 2, memory.MEMORY_ITER),
    ]
    assert "| diag, n=1,500 d=2 k=2, f64 | fit (max_iter=2) |" in report
    assert "|  | peak memory of fit | 2 MiB | 1 MiB | 2.0x less |" in report
    assert "Command: `fastem bench --no-compile --repeats 1" in report
    saved = results.from_json(json.loads((tmp_path / "r.json").read_text()))
    assert saved.results[0].case == tiny
    assert render.render_markdown(saved) + "\n" == report


# --- the asv suite: loads the shared modules from the checkout ----------------


def _imports(node):
    """Yield ``(module, level)`` of each import statement under ``node``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            yield from ((alias.name, 0) for alias in sub.names)
        elif isinstance(sub, ast.ImportFrom):
            yield sub.module or "", sub.level


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_import_no_fastem_internals(name):
    tree = ast.parse((BENCH_DIR / f"{name}.py").read_text())
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = [node for node in tree.body if not isinstance(node, scopes)]
    for node in top:  # module level: no fastem at all, siblings only
        for module, level in _imports(node):
            if level:
                assert level == 1 and module in SHARED, module
            else:
                assert module.split(".")[0] != "fastem", module
    for module, level in _imports(tree):  # inside functions: public names only
        if not level and module.split(".")[0] == "fastem":
            assert module in ("fastem", "fastem.kernels"), module


def _load_asv_common():
    spec = importlib.util.spec_from_file_location(
        "_asv_common_under_test", ROOT / "benchmarks" / "common.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_asv_common_uses_the_checkouts_protocol_without_fastem(monkeypatch):
    _block_fastem(monkeypatch)  # an old, broken commit
    for name in [m for m in sys.modules if m.startswith("_fastem_bench_checkout")]:
        monkeypatch.delitem(sys.modules, name)
    common = _load_asv_common()
    assert Path(common.data.__file__) == BENCH_DIR / "data.py"
    assert common.backends.__name__ == "_fastem_bench_checkout.backends"
    with pytest.raises(NotImplementedError, match="fastem.GaussianMixture"):
        common.require("fastem")
    with pytest.raises(NotImplementedError, match="fastem.kernels.suff_stats"):
        common.require("fastem", "kernels.suff_stats")
    common.require("sklearn")
    X = common.blobs(500, 2, 3)
    assert common.blobs(500, 2, 3) is X  # cached
    assert_array_equal(X, data.make_blobs(500, 2, 3))
    init = common.initial_parameters(X, 3, "diag")
    model = common.fit_gmm("sklearn", "diag", X, init, 2)
    assert model.n_iter_ == 2
    with pytest.raises(NotImplementedError, match="BayesianGaussianMixture"):
        common.require("fastem", "BayesianGaussianMixture")
    bgmm = common.fit_bgmm("sklearn", "tied", X, 3, 2)
    assert bgmm.n_iter_ == 2 and len(common.lower_bounds(bgmm)) == 2
    threads = common.Threads("sklearn", 1)
    threads.restore()


def test_asv_bgmm_cases_parse():
    common = _load_asv_common()
    for case in common.BGMM_CASES + common.BGMM_MEMORY_CASES:
        covariance_type, n, d, k = common.parse_case(case)
        assert covariance_type in COVARIANCE_TYPES and min(n, d, k) > 0
    assert {common.parse_case(c)[0] for c in common.BGMM_CASES} == {"full", "diag"}


def test_asv_estep_benchmark_setup_runs_fastem():
    common = _load_asv_common()
    X = common.blobs(300, 2, 2, "float32")
    init = common.initial_parameters(X, 2, "tied")
    stats = common.estep("fastem", "tied", X, init)
    assert_allclose(stats.nk.sum(), 300, rtol=1e-6)
    assert common.CONVERGED_TOL == backends.CONVERGED_TOL == 1e-4
