"""The float32 arithmetic path (``fastem/_kernels/_single.py``) for float32 data.

The full family's scatter products run in float32 for float32 data, within a
proven bound of the exact scatter; everything else stays float64. Checked here
against the naive float64 reference on the same values, on data with far
components (whose float32 products would be subnormal), across thread counts,
and for the floating-point state it sets and restores.
"""

import platform

import naive
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from test_kernels import assert_scatter_within_bound

from fastem import kernels
from fastem._config import n_threads


def _blobs(n, d, k, spread, seed, dtype=np.float32):
    """``k`` unit-variance clusters with means ``spread`` apart on average."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, spread, (k, d))
    X = means[rng.integers(0, k, n)] + rng.normal(0.0, 1.0, (n, d))
    chol = np.stack([np.eye(d)] * k)
    return X.astype(dtype), means, chol


def _stats(X, means, chol):
    k, d = means.shape
    norm = kernels.log_norm(chol, np.full(k, 1.0 / k), "full", d)
    return kernels.suff_stats(X, means, chol, norm, "full")


def _reference(X, means, chol):
    k = means.shape[0]
    return naive.suff_stats(
        X.astype(np.float64), means, chol, np.full(k, 1.0 / k), "full"
    )


@pytest.mark.parametrize(
    "n, d, k, spread",
    [(5000, 16, 8, 3.0), (3000, 64, 4, 2.0), (2000, 5, 3, 10.0)],
    ids=["d16", "d64", "d5"],
)
def test_float32_scatter_is_float32_and_within_its_bound(n, d, k, spread):
    """float32 data: the scatter within its bound, the rest as float64 data."""
    X, means, chol = _blobs(n, d, k, spread, seed=d)
    single = _stats(X, means, chol)
    double = _stats(X.astype(np.float64), means, chol)
    nk, sum_dev, scatter, log_likelihood = _reference(X, means, chol)

    assert_scatter_within_bound(single.scatter, scatter)
    # The products are float32: the scatter is not the float64 one.
    assert np.abs(single.scatter - double.scatter).max() > 0
    # Counts, first moments and log-likelihood are float64 arithmetic.
    assert_allclose(single.nk, double.nk, rtol=1e-13)
    assert_allclose(single.sum_dev, double.sum_dev, rtol=1e-11, atol=1e-10)
    assert single.log_likelihood == double.log_likelihood
    assert_allclose(single.nk, nk, rtol=1e-10)
    assert single.log_likelihood == pytest.approx(log_likelihood, rel=1e-10)


def test_float32_far_components_flush_instead_of_going_subnormal():
    """Components 20 standard deviations apart (d=8, past the float64 small
    path): many responsibilities are in (1e-300, 1e-80), where
    ``sqrt(r) (x - mu)`` and its products are float32 subnormals. They are
    flushed to zero; the bound still holds."""
    chol = np.stack([np.eye(8)] * 4)
    means = np.zeros((4, 8))
    means[1:, :3] = 20.0 * np.eye(3)
    rng = np.random.default_rng(2)
    X = (means[rng.integers(0, 4, 4000)] + rng.normal(0, 1, (4000, 8))).astype(
        np.float32
    )
    _, resp = naive.log_resp(
        X.astype(np.float64), means, chol, np.full(4, 0.25), "full"
    )
    tiny = (resp > 1e-300) & (resp < 1e-80)
    assert tiny.sum() > 1000  # the case this test is about
    stats = _stats(X, means, chol)
    nk, sum_dev, scatter, _ = _reference(X, means, chol)
    assert np.all(np.isfinite(stats.scatter))
    assert_scatter_within_bound(stats.scatter, scatter)
    assert_allclose(stats.nk, nk, rtol=1e-10)


def test_float32_products_that_would_overflow_run_in_float64():
    """Data at 3e18: float32 products of ``sqrt(r) (x - mu)`` overflow (their
    16-lane partial sums pass 3.4e38). The pass then runs in float64: finite
    statistics, the float64 ones."""
    X, means, chol = _blobs(3000, 6, 3, 3.0, seed=6, dtype=np.float64)
    scale = 3e18
    X32 = (X * scale).astype(np.float32)
    means = means * scale
    chol = chol / scale
    single = _stats(X32, means, chol)
    double = _stats(X32.astype(np.float64), means, chol)
    assert np.all(np.isfinite(single.scatter))
    assert_allclose(single.scatter, double.scatter, rtol=1e-12)
    assert_allclose(single.nk, double.nk, rtol=1e-13)


def test_float32_scatter_same_for_one_and_two_threads(always_parallel):
    X, means, chol = _blobs(9000, 7, 3, 2.0, seed=3)
    with n_threads(1):
        one = _stats(X, means, chol)
    with n_threads(2):
        two = _stats(X, means, chol)
    for name in ("nk", "sum_dev", "scatter"):
        assert_array_equal(getattr(one, name), getattr(two, name))
    assert one.log_likelihood == two.log_likelihood


def _subnormal_float32():
    """A float32 product NumPy rounds to a subnormal (0 if flushed)."""
    return np.float32(2.0**-120) * np.float32(2.0**-10)


def test_float32_pass_restores_the_floating_point_state():
    """Flush-to-zero only while the statistics run: NumPy's float32 subnormals
    survive in the calling thread after a float32 pass on two threads."""
    assert _subnormal_float32() > 0
    X, means, chol = _blobs(20000, 8, 4, 3.0, seed=4)
    with n_threads(2):
        _stats(X, means, chol)
        kernels.log_resp(X, means, chol, np.zeros(4), "full")
    assert _subnormal_float32() > 0


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="MXCSR (flush to zero) is x86's; elsewhere the flush is a no-op",
)
def test_flush_subnormals_flushes_then_restores():
    """The flush itself: subnormal products become 0 between the two calls,
    and only for a model with float32 arithmetic."""
    from fastem._config import jit
    from fastem._kernels import full
    from fastem._kernels._single import flush_subnormals, restore_subnormals

    @jit(cache=False)
    def products(model, a, b, inside, after):
        state = flush_subnormals(model)
        for i in range(a.shape[0]):
            inside[i] = a[i] * b[i]
        restore_subnormals(model, state)
        for i in range(a.shape[0]):
            after[i] = a[i] * b[i]

    means, chol = np.zeros((1, 2)), np.stack([np.eye(2)])
    a = np.full(40, 2.0**-120, dtype=np.float32)
    b = np.full(40, 2.0**-10, dtype=np.float32)
    for dtype, flushed in ((np.float32, True), (np.float64, False)):
        inside, after = np.ones_like(a), np.ones_like(a)
        products(full.prepare_model(means, chol, dtype), a, b, inside, after)
        assert_array_equal(inside, 0.0 if flushed else 2.0**-130)
        assert_array_equal(after, 2.0**-130)
    assert _subnormal_float32() > 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_fit_agrees_with_the_float64_fit():
    """A whole GaussianMixture fit: float32 data's full fit matches the fit of
    the same values in float64 to float32's own precision."""
    from fastem import GaussianMixture

    X, _, _ = _blobs(6000, 6, 3, 4.0, seed=5)
    params = dict(n_components=3, covariance_type="full", random_state=0, tol=0)
    # 20 iterations at tol=0: any difference has had every chance to grow.
    single = GaussianMixture(max_iter=20, **params).fit(X)
    double = GaussianMixture(max_iter=20, **params).fit(X.astype(np.float64))
    for name in ("weights_", "means_", "covariances_"):
        got, want = getattr(single, name), getattr(double, name)
        assert got.dtype == np.float32
        assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.abs(want).max())
    assert single.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-6)


def test_cached_float32_hook_links_into_new_code_in_a_fresh_process(tmp_path):
    """The hook's MXCSR switch is inline assembly: LLVM parses it again when a
    cached hook is linked into freshly compiled code (``pass_stages`` does
    that). Its parser is set up at import, so a second process, on the first
    one's cache, compiles and runs (it aborted before)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repository = Path(__file__).parents[1]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    command = [sys.executable, "-m", "benchmarks.pass_stages", "--kinds", "full"]
    command += ["--dtype", "float32", "--d", "8", "--k", "2", "--rows", "1000"]
    for _ in range(2):
        done = subprocess.run(
            command,
            cwd=repository,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "all three" in done.stdout
