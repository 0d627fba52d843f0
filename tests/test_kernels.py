"""The public kernel layer (``fastem.kernels``) against ``tests/naive.py``.

The kernels read float32 data as float32 and compute in float64, except the
full family's scatter products (float32 for float32 data, within a proven
bound: ``fastem/_kernels/_single.py``). So they are compared with the naive
float64 reference on the same values (``X`` cast to float64 exactly) at
float64 tolerances whatever the input dtype, that scatter within its bound.
"""

import functools
import math

import naive
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastem import kernels
from fastem._config import n_threads
from fastem.kernels import _gaussian

RTOL = 1e-10

SHAPES = [
    # (n_samples, n_features, n_components)
    (1, 1, 1),  # one row, one feature, one component
    (5, 3, 2),  # fewer rows than one 32-row block, odd d
    (33, 4, 3),  # one full block plus one row, even d
    (64, 1, 3),  # one feature, several components
    (200, 7, 1),  # one component, odd d
    (3000, 16, 2),  # several row chunks, d a multiple of 4
    (300, 17, 3),  # d past a multiple of 4 and of the full tile's 8 rows
]


def _problem(n_samples, n_features, n_components, covariance_type, make_params, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 2.0, (n_samples, n_features)) + 5.0
    params = make_params(n_components, n_features, covariance_type, seed=seed, X=X)
    return X, params


def _args(params, covariance_type):
    """Arguments of the kernels: means, factors, ``log_norm``, family."""
    chol = params["precisions_cholesky"]
    n_features = params["means"].shape[1]
    norm = kernels.log_norm(chol, params["weights"], covariance_type, n_features)
    return (params["means"], chol, norm, covariance_type)


def _naive_args(params, covariance_type):
    """Arguments of the naive references: means, factors, weights, family."""
    return (
        params["means"],
        params["precisions_cholesky"],
        params["weights"],
        covariance_type,
    )


def _fields(stats):
    return stats.nk, stats.sum_dev, stats.scatter, stats.log_likelihood


def _layout(X, dtype, order):
    return np.asarray(X, dtype=dtype, order=order)


def _single(covariance_type, dtype):
    """Whether the kernels form this family's scatter in float32 for ``dtype``."""
    return covariance_type == "full" and np.dtype(dtype) == np.float32


def assert_scatter_within_bound(scatter, expected):
    """The float32 scatter's proven bound (``fastem/_kernels/_single.py``).

    ``|S_ij - exact_ij| <= c sqrt(S_ii S_jj)`` per component, ``c`` the
    bound's factor at the full family's block size.
    """
    from fastem._kernels._single import scatter_error_factor
    from fastem._kernels.full import BLOCK

    scatter = np.asarray(scatter).reshape(-1, *scatter.shape[-2:])
    expected = np.asarray(expected).reshape(scatter.shape)
    diagonal = np.sqrt(np.abs(np.einsum("kii->ki", expected)))
    scale = diagonal[:, :, None] * diagonal[:, None, :]
    bound = scatter_error_factor(BLOCK) * scale + 1e-300
    assert np.all(np.abs(scatter - expected) <= bound)


def _assert_stats_close(stats, expected, single=False):
    nk, sum_dev, scatter, log_likelihood = expected
    scale = float(np.sqrt(np.abs(scatter).max() * max(nk.max(), 1.0))) + 1.0
    assert_allclose(stats.nk, nk, rtol=RTOL, atol=1e-12 * max(nk.sum(), 1.0))
    # sum_dev cancels (it is ~0 near a mean): an absolute floor at its scale.
    assert_allclose(stats.sum_dev, sum_dev, rtol=RTOL, atol=1e-11 * scale)
    if single:  # float32 products: their proven bound
        assert_scatter_within_bound(stats.scatter, scatter)
    else:
        assert_allclose(stats.scatter, scatter, rtol=RTOL, atol=1e-12 * scale**2)
    assert stats.log_likelihood == pytest.approx(log_likelihood, rel=RTOL, abs=1e-9)


# --- suff_stats and log_resp against the reference ---------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-d{}-k{}".format(*s))
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_suff_stats_matches_naive(
    shape, order, weighted, covariance_type, dtype, make_params
):
    X, params = _problem(*shape, covariance_type, make_params, seed=sum(shape))
    X = _layout(X, dtype, order)
    sample_weight = None
    if weighted:
        sample_weight = np.random.default_rng(1).uniform(0.0, 3.0, shape[0])

    stats = kernels.suff_stats(
        X, *_args(params, covariance_type), sample_weight=sample_weight
    )
    expected = naive.suff_stats(
        X.astype(np.float64), *_naive_args(params, covariance_type), sample_weight
    )

    k, d = shape[2], shape[1]
    scatter_shape = {
        "full": (k, d, d),
        "tied": (d, d),
        "diag": (k, d),
        "spherical": (k, d),
    }[covariance_type]
    assert stats.nk.shape == (k,)
    assert stats.sum_dev.shape == (k, d)
    assert stats.scatter.shape == scatter_shape
    _assert_stats_close(stats, expected, _single(covariance_type, dtype))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n{}-d{}-k{}".format(*s))
@pytest.mark.parametrize("order", ["C", "F"])
def test_log_resp_matches_naive(shape, order, covariance_type, dtype, make_params):
    X, params = _problem(*shape, covariance_type, make_params, seed=sum(shape) + 1)
    X = _layout(X, dtype, order)

    log_prob_norm, resp = kernels.log_resp(X, *_args(params, covariance_type))
    lse_only, no_resp = kernels.log_resp(
        X, *_args(params, covariance_type), return_resp=False
    )
    expected_lse, expected_resp = naive.log_resp(
        X.astype(np.float64), *_naive_args(params, covariance_type)
    )

    assert resp.shape == (shape[0], shape[2])
    assert no_resp is None
    assert_allclose(log_prob_norm, expected_lse, rtol=RTOL, atol=1e-10)
    assert_array_equal(lse_only, log_prob_norm)
    assert_allclose(resp, expected_resp, rtol=1e-9, atol=1e-12)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-13)
    labels = kernels.labels(X, *_args(params, covariance_type))
    # Ties aside (none here: random parameters), labels are the argmax.
    assert_array_equal(labels, expected_resp.argmax(axis=1))


def test_far_components_take_zero_not_subnormal_responsibility(covariance_type):
    """Where NumPy's responsibilities are subnormal, the kernels' are exactly 0.

    Two clusters 38 standard deviations apart: each row's responsibility for
    the far component is exp(-722) (subnormal) in the reference. The pass
    flushes it to 0, and nothing it reports moves beyond the usual tolerances.
    """
    rng = np.random.default_rng(5)
    n, d = 400, 2
    means = np.array([[0.0, 0.0], [38.0, 0.0]])
    X = means[rng.integers(0, 2, n)] + rng.uniform(-0.05, 0.05, (n, d))
    weights = np.array([0.5, 0.5])
    chol = {
        "full": np.stack([np.eye(d)] * 2),
        "tied": np.eye(d),
        "diag": np.ones((2, d)),
        "spherical": np.ones(2),
    }[covariance_type]
    params = {"means": means, "precisions_cholesky": chol, "weights": weights}

    lse, resp = kernels.log_resp(X, *_args(params, covariance_type))
    expected_lse, expected_resp = naive.log_resp(
        X, *_naive_args(params, covariance_type)
    )
    tiny = np.finfo(np.float64).tiny
    far = expected_resp < 1e-300
    assert far.sum() == n  # one far component per row
    assert np.all((expected_resp[far] > 0) & (expected_resp[far] < tiny))
    assert_array_equal(resp[far], 0.0)
    assert np.all(resp[~far] >= tiny)
    assert_allclose(lse, expected_lse, rtol=RTOL)
    stats = kernels.suff_stats(X, *_args(params, covariance_type))
    _assert_stats_close(
        stats, naive.suff_stats(X, *_naive_args(params, covariance_type))
    )


def test_log_norm_matches_naive(covariance_type, make_params):
    k, d = 3, 5
    params = make_params(k, d, covariance_type, seed=7)
    precisions = naive.precision_matrices(
        params["precisions_cholesky"], covariance_type, k, d
    )
    expected = [
        math.log(params["weights"][j])
        + 0.5 * np.linalg.slogdet(precisions[j])[1]
        - 0.5 * d * math.log(2 * math.pi)
        for j in range(k)
    ]
    actual = kernels.log_norm(
        params["precisions_cholesky"], params["weights"], covariance_type, d
    )
    assert_allclose(actual, expected, rtol=1e-12)


# --- the pass's exp --------------------------------------------------------------


def test_exp_nonpositive_within_one_ulp_of_numpy():
    """The log-sum-exp's vectorisable exp over its whole range; 0 where subnormal."""
    from fastem._kernels._exp import FLUSH_BELOW, exp_nonpositive

    x = np.concatenate(
        [
            -np.logspace(-300, np.log10(745.5), 3000),
            np.linspace(-745.5, 0.0, 3001),
            [0.0, -0.0, -1e-320, -707.99, -708.0, -708.01, -708.39, -744.4],
        ]
    )
    got = np.array([exp_nonpositive(value) for value in x])
    expected = np.exp(x)
    kept = x >= FLUSH_BELOW
    assert np.all(np.abs(got - expected)[kept] <= np.spacing(expected[kept]))
    assert np.all(got[kept] >= np.finfo(np.float64).tiny)  # never subnormal
    assert np.all(got[~kept] == 0.0)
    assert np.all(expected[~kept] < 3.3e-308)
    assert exp_nonpositive(0.0) == 1.0
    assert exp_nonpositive(-746.0) == 0.0
    assert exp_nonpositive(-1e300) == 0.0
    assert exp_nonpositive(-np.inf) == 0.0
    assert np.isnan(exp_nonpositive(np.nan))


def test_log_at_least_one_within_two_ulp_of_numpy():
    """The log-sum-exp's vectorisable log, over the sums it gets (>= 1) and
    beyond: 2 ulp below 2 (the division's rounding, then ln 2 + log(m)
    cancelling), 1 ulp from 2 on."""
    from fastem._config import jit
    from fastem._kernels._exp import log_at_least_one

    @jit(cache=False)
    def logs(values):
        out = np.empty_like(values)
        for i in range(values.shape[0]):
            out[i] = log_at_least_one(values[i])
        return out

    rng = np.random.default_rng(7)
    s = np.concatenate(
        [
            1.0 + rng.random(20000) * 1e-9,
            rng.uniform(1.0, np.sqrt(2.0), 20000),
            rng.uniform(np.sqrt(2.0), 2.0, 20000),
            rng.uniform(2.0, 64.0, 20000),
            np.exp(rng.uniform(0.0, 709.0, 20000)),
            rng.uniform(1e-300, 1.0, 2000),  # any positive normal works
            [1.0, np.nextafter(1.0, 2.0), np.sqrt(2.0), 2.0, 1024.0, 1e308],
            [np.nextafter(np.sqrt(2.0), 0.0), np.nextafter(np.sqrt(2.0), 2.0)],
            [np.finfo(np.float64).max, np.finfo(np.float64).tiny],
        ]
    )
    got = logs(s)
    expected = np.log(s)
    error = np.abs(got - expected)
    ulp = np.spacing(np.abs(expected))
    ulp[expected == 0.0] = np.finfo(np.float64).tiny
    assert np.all(error <= 2 * ulp)
    assert np.all(error[s >= 2.0] <= ulp[s >= 2.0])
    edge = logs(np.array([1.0, np.inf, np.nan]))
    assert edge[0] == 0.0 and edge[1] == np.inf and np.isnan(edge[2])


# --- the full family's register tile ---------------------------------------------


@functools.cache
def _compiled(name):
    """A jitted caller of the tile ``name`` of :mod:`fastem._kernels._tile`."""
    from fastem._config import jit
    from fastem._kernels import _tile

    tile = getattr(_tile, name)

    @jit(cache=False)
    def call(*args):
        tile(*args)

    return call


def _corner_mask(depth, rows):
    """``mask[i, j]``: whether the tile multiplies ``factors[i, j]``."""
    i, j = np.indices((rows, 4))
    return (i < depth) & (i <= 4 * ((depth - 1) // 4) + j)


def _tile_columns():
    from fastem._kernels._tile import TILE_COLUMNS

    return TILE_COLUMNS


def _lanes():
    from fastem._kernels._tile import WIDTH

    return WIDTH


#: The tiles' columns per call: 8, or 32 where the CPU has AVX-512 (see
#: test_tiles_at_the_other_vector_width for the other width).
T = _tile_columns()


@pytest.mark.parametrize("depth", [0, 1, 2, 4, 5, 9])
@pytest.mark.parametrize("first", [0, T, T + 3])
def test_squared_tile_matches_numpy(depth, first):
    """T columns x 4 factor columns, summed over ``depth`` rows (the last 4 an
    upper-triangular corner), then squared."""
    rng = np.random.default_rng(depth * 100 + first)
    columns = rng.normal(size=(9, 3 * T))
    factors = rng.normal(size=(9, 4))
    offsets = rng.normal(size=4)
    out = rng.normal(size=T)
    mask = _corner_mask(depth, 9)
    y = columns[:, first : first + T].T @ np.where(mask, factors, 0.0) - offsets
    expected = out + (y**2).sum(axis=1)
    factors[~mask] = np.nan  # never read
    _compiled("squared_tile")(columns, first, factors, depth, offsets, out)
    assert_allclose(out, expected, rtol=1e-14, atol=1e-13)


def test_squared_tile_names_what_it_takes():
    from numba.core.errors import TypingError

    call = _compiled("squared_tile")
    columns = np.zeros((4, T))
    with pytest.raises(TypingError, match="C-contiguous float64"):
        call(columns.T.copy().T, 0, np.zeros((4, 4)), 4, np.zeros(4), np.zeros(T))
    with pytest.raises(TypingError, match="int64 first, depth"):
        call(columns, 0.0, np.zeros((4, 4)), 4, np.zeros(4), np.zeros(T))


def test_squared_tile_reads_only_its_rows_and_columns():
    """Rows past ``depth``, the corner's lower triangle and columns outside the
    T never enter the result."""
    columns = np.ones((6, T + 8))
    columns[2:] = np.nan  # past depth
    columns[:, :4] = np.nan  # before first
    columns[:, T + 4 :] = np.nan  # from first + T on
    factors = np.ones((6, 4))
    factors[2:] = np.nan
    factors[~_corner_mask(2, 6)] = np.nan
    out = np.zeros(T)
    _compiled("squared_tile")(columns, 4, factors, 2, np.array([1.0, 0, 0, 2]), out)
    # depth 2: rows 0 and 1 are the corner's first two (columns 0-3 and 1-3).
    assert_array_equal(out, np.full(T, 0.0 + 4 + 4 + 0))


#: Lanes of the row products (4, or 8 with AVX-512): their rows' length is a
#: multiple of it.
L = _lanes()


@pytest.mark.parametrize("n_columns", [0, L, 3 * L, 128])
@pytest.mark.parametrize(("top", "first"), [(0, 0), (3, 1), (4, 2)])
def test_product_tile_matches_numpy(n_columns, top, first):
    """R x 4 sums of row products (R = PRODUCT_ROWS: 2, or 4 with AVX-512),
    added at ``at + r stride``; nothing else of the buffer changes."""
    from fastem._kernels._tile import PRODUCT_ROWS as R

    rng = np.random.default_rng(n_columns + 10 * top + first)
    left = rng.normal(size=(8, n_columns))
    right = rng.normal(size=(7, n_columns))
    buffer = rng.normal(size=40)
    expected = buffer.copy()
    products = left[top : top + R] @ right[first : first + 4].T
    for r in range(R):
        expected[3 + 9 * r : 7 + 9 * r] += products[r]
    _compiled("product_tile")(left, top, right, first, buffer, 3, 9)
    assert_allclose(buffer, expected, rtol=1e-14, atol=1e-13)


def test_product_tile_reads_only_its_rows():
    from fastem._kernels._tile import PRODUCT_ROWS as R

    left = np.full((R + 2, 8), np.nan)
    left[1 : R + 1] = 1.0
    right = np.full((6, 8), np.nan)
    right[2:] = np.arange(4.0)[:, None]
    buffer = np.zeros(4 * R)
    _compiled("product_tile")(left, 1, right, 2, buffer, 0, 4)
    assert_array_equal(buffer, np.tile(8.0 * np.arange(4.0), R))


def test_product_tile_names_what_it_takes():
    from numba.core.errors import TypingError

    call = _compiled("product_tile")
    rows = np.zeros((4, 8))
    with pytest.raises(TypingError, match="all float64 or all float32"):
        call(rows, 0, rows.astype(np.float32), 0, np.zeros(8), 0, 4)
    with pytest.raises(TypingError, match="C-contiguous float64 arrays .buffer"):
        call(rows, 0, rows, 0, np.zeros(8, dtype=np.float32), 0, 4)
    with pytest.raises(TypingError, match="int64 top, first, at, stride"):
        call(rows, 0, rows, 0, np.zeros(8), 0.0, 4)


def _single_bound(left, right):
    """``|computed - exact|`` allowed for float32 row products ``left @ right.T``.

    Each of the ``2 WIDTH`` lanes makes one rounding per fused multiply-add
    over ``n / (2 WIDTH)`` columns, then ``log2(2 WIDTH)`` float32 folds: at most
    ``m`` roundings on any term's path, so ``gamma_m sum |l r|`` (Higham, 3.1).
    The inputs are float32 already: no input rounding here.
    """
    lanes = 2 * _lanes()
    m = left.shape[1] // lanes + lanes.bit_length() - 1
    u = 2.0**-24
    return m * u / (1 - m * u) * (np.abs(left) @ np.abs(right).T) + 1e-300


@pytest.mark.parametrize("n_columns", [0, 2 * L, 128, 256])
def test_product_tile_in_float32_within_its_bound(n_columns):
    """float32 rows: float32 lanes, float64 buffer, Higham's bound; the same
    entries as the float64 tile, nothing else of the buffer changed."""
    from fastem._kernels._tile import PRODUCT_ROWS as R

    rng = np.random.default_rng(n_columns)
    left = rng.normal(size=(8, n_columns)).astype(np.float32)
    right = (rng.normal(size=(7, n_columns)) * 1e3).astype(np.float32)
    buffer = rng.normal(size=40)
    exact = left[1 : 1 + R].astype(np.float64) @ right[2:6].astype(np.float64).T
    bound = _single_bound(left[1 : 1 + R], right[2:6])
    start = buffer.copy()
    _compiled("product_tile")(left, 1, right, 2, buffer, 3, 9)
    expected = start.copy()
    for r in range(R):
        got = buffer[3 + 9 * r : 7 + 9 * r] - start[3 + 9 * r : 7 + 9 * r]
        assert np.all(np.abs(got - exact[r]) <= bound[r] + 1e-12 * np.abs(start).max())
        expected[3 + 9 * r : 7 + 9 * r] = buffer[3 + 9 * r : 7 + 9 * r]
    assert_array_equal(buffer, expected)
    if n_columns >= 128:  # float32 arithmetic, not float64 on float32 values
        assert np.abs(buffer[3:7] - start[3:7] - exact[0]).max() > 0


@pytest.mark.parametrize("n_columns", [0, 2 * L, 128])
def test_symmetric_tile_in_float32_within_its_bound(n_columns):
    rng = np.random.default_rng(n_columns + 1)
    rows = rng.normal(size=(7, n_columns)).astype(np.float32)
    buffer = np.zeros(40)
    _compiled("symmetric_tile")(rows, 2, buffer, 5, 8)
    exact = rows[2:6].astype(np.float64) @ rows[2:6].astype(np.float64).T
    bound = _single_bound(rows[2:6], rows[2:6])
    expected = np.zeros(40)
    for a in range(4):
        for c in range(a + 1):
            at = 5 + 8 * a + c
            assert abs(buffer[at] - exact[a, c]) <= bound[a, c]
            expected[at] = buffer[at]
    assert_array_equal(buffer, expected)  # +0 above the diagonal, nothing else


@pytest.mark.parametrize("depth", [0, 1, 3, 7])
@pytest.mark.parametrize(("first", "top"), [(0, 0), (T, 2)])
def test_difference_tile_matches_numpy(depth, first, top):
    """Writes (base - columns^T factors) * scale into 4 x T entries of out,
    every row of ``columns`` below ``depth`` counted (no triangle), and nothing
    else of ``out``."""
    rng = np.random.default_rng(depth * 10 + first + top)
    columns = rng.normal(size=(8, 3 * T))
    columns[depth:] = np.nan  # never read
    factors = rng.normal(size=(8, 4))
    base = rng.normal(size=(7, 3 * T))
    scale = rng.normal(size=3 * T)
    out = rng.normal(size=(7, 3 * T))
    expected = out.copy()
    product = np.nan_to_num(columns[:depth, first : first + T]).T @ factors[:depth]
    expected[top : top + 4, first : first + T] = (
        base[top : top + 4, first : first + T] - product.T
    ) * scale[first : first + T]
    _compiled("difference_tile")(columns, first, factors, depth, base, top, scale, out)
    assert_allclose(out, expected, rtol=1e-14, atol=1e-13)


def test_difference_tile_in_place():
    """``base`` and ``out`` may be one array."""
    rng = np.random.default_rng(5)
    columns = rng.normal(size=(3, T))
    factors = rng.normal(size=(3, 4))
    rows = rng.normal(size=(4, T))
    expected = rows - factors.T @ columns
    _compiled("difference_tile")(columns, 0, factors, 3, rows, 0, np.ones(T), rows)
    assert_allclose(rows, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("depth", [1, 4, 5, 8])
@pytest.mark.parametrize(("first", "top"), [(0, 0), (2 * T, 4)])
def test_triangular_tile_matches_numpy(depth, first, top):
    """4 x T entries of the product with the corner's lower triangle skipped
    (never read); the rest of ``out`` untouched."""
    rng = np.random.default_rng(depth + first + top)
    columns = rng.normal(size=(9, 3 * T))
    factors = rng.normal(size=(9, 4))
    mask = _corner_mask(depth, 9)
    product = columns[:, first : first + T].T @ np.where(mask, factors, 0.0)
    factors[~mask] = np.nan
    out = rng.normal(size=(9, 3 * T))
    expected = out.copy()
    expected[top : top + 4, first : first + T] = product.T
    _compiled("triangular_tile")(columns, first, factors, depth, out, top)
    assert_allclose(out, expected, rtol=1e-14, atol=1e-13)


@pytest.mark.parametrize("n_columns", [0, L, 128])
@pytest.mark.parametrize("top", [0, 2])
def test_symmetric_tile_matches_numpy(n_columns, top):
    """The lower triangle of a 4 x 4 Gram block added at ``at + a stride + c``;
    the entries above its diagonal and the rest of the buffer unchanged."""
    rng = np.random.default_rng(n_columns + top)
    rows = rng.normal(size=(7, n_columns))
    buffer = rng.normal(size=40)
    expected = buffer.copy()
    gram = rows[top : top + 4] @ rows[top : top + 4].T
    for a in range(4):
        for c in range(a + 1):
            expected[5 + 8 * a + c] += gram[a, c]
    _compiled("symmetric_tile")(rows, top, buffer, 5, 8)
    assert_allclose(buffer, expected, rtol=1e-14, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [3, 4, 9, 16])
def test_transpose_rows_matches_numpy(dtype, n_features):
    """4 rows into 4 columns, the features up to the last multiple of 4, float32
    widened exactly; nothing else of ``xt`` written."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(7, n_features)).astype(dtype)
    xt = np.full((n_features, 12), -1.0)
    expected = xt.copy()
    whole = n_features - n_features % 4
    expected[:whole, 5:9] = X[2:6, :whole].T
    _compiled("transpose_rows")(X, 2, xt, 5)
    assert_array_equal(xt, expected)


@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 8), (1, 1)])
def test_column_tiles_groups_columns_by_four(shape):
    """``out[..., t, i, jj] = matrix[..., i, 4 t + jj]``, zero past the matrix."""
    from fastem._kernels._tile import column_tiles, padded

    matrix = np.random.default_rng(0).normal(size=shape)
    rows = shape[-2] + 2
    out = column_tiles(matrix, rows=rows)
    width = padded(shape[-1])
    assert out.shape == (*shape[:-2], width // 4, rows, 4)
    assert out.flags.c_contiguous
    expected = np.zeros((*shape[:-2], rows, width))
    expected[..., : shape[-2], : shape[-1]] = matrix
    for t in range(width // 4):
        assert_array_equal(out[..., t, :, :], expected[..., 4 * t : 4 * t + 4])


def test_new_tiles_name_what_they_take():
    from numba.core.errors import TypingError

    rows = np.zeros((4, 8))
    row = np.zeros(8)
    with pytest.raises(TypingError, match="difference_tile takes C-contiguous"):
        _compiled("difference_tile")(rows, 0, rows.T, 4, rows, 0, row, rows)
    with pytest.raises(TypingError, match="int64 first, depth, top"):
        _compiled("difference_tile")(rows, 0, rows, 4.0, rows, 0, row, rows)
    with pytest.raises(TypingError, match="triangular_tile takes C-contiguous"):
        _compiled("triangular_tile")(rows, 0, row, 4, rows, 0)
    with pytest.raises(TypingError, match="int64 first, depth, top"):
        _compiled("triangular_tile")(rows, 0, rows, 4, rows, 0.0)
    with pytest.raises(TypingError, match="symmetric_tile takes C-contiguous"):
        _compiled("symmetric_tile")(rows, 0, rows, 0, 4)
    with pytest.raises(TypingError, match="int64 top, at, stride"):
        _compiled("symmetric_tile")(rows, 0, row, 0, 4.0)
    with pytest.raises(TypingError, match="transpose_rows takes a C-contiguous"):
        _compiled("transpose_rows")(rows.astype(np.int64), 0, rows, 0)
    with pytest.raises(TypingError, match="int64 row, column"):
        _compiled("transpose_rows")(rows, 0, rows, 0.5)


# --- corner rows ---------------------------------------------------------------


def test_duplicates_and_a_far_point(covariance_type, dtype, make_params):
    """A row ~1e4 standard deviations from every component: every exp(log p)
    underflows to 0, so only a log-sum-exp gives a finite log-likelihood."""
    rng = np.random.default_rng(3)
    X = rng.normal(0.0, 1.0, (40, 3))
    X = np.vstack([X, X[:5], X[:5], [[1e4, -1e4, 1e4]]]).astype(dtype)
    params = make_params(3, 3, covariance_type, seed=3, X=X[:40])
    args = _args(params, covariance_type)
    ref_args = _naive_args(params, covariance_type)

    log_prob_norm, resp = kernels.log_resp(X, *args)
    expected_lse, expected_resp = naive.log_resp(X.astype(np.float64), *ref_args)
    assert np.all(np.isfinite(log_prob_norm))
    assert np.all(np.isfinite(resp))
    assert log_prob_norm[-1] < -1e6  # truly far away
    assert_allclose(log_prob_norm, expected_lse, rtol=RTOL)
    assert_allclose(resp, expected_resp, rtol=1e-9, atol=1e-12)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-13)
    # Duplicated rows get identical results.
    assert_array_equal(log_prob_norm[40:45], log_prob_norm[:5])
    assert_array_equal(log_prob_norm[45:50], log_prob_norm[:5])
    assert_array_equal(resp[40:45], resp[:5])

    stats = kernels.suff_stats(X, *args)
    for value in _fields(stats):
        assert np.all(np.isfinite(value))
    _assert_stats_close(
        stats,
        naive.suff_stats(X.astype(np.float64), *ref_args),
        _single(covariance_type, dtype),
    )


@pytest.mark.parametrize("n_samples", [1, 5, 33])
def test_more_chunks_than_rows(n_samples, covariance_type, monkeypatch, make_params):
    """Chunks without rows add nothing (forced: the public layer never asks)."""
    monkeypatch.setattr(_gaussian, "n_chunks_for", lambda n_samples, size: 8)
    rng = np.random.default_rng(n_samples)
    X = rng.normal(0.0, 1.0, (n_samples, 3))
    params = make_params(2, 3, covariance_type, seed=n_samples, X=X)
    args = _args(params, covariance_type)
    ref_args = _naive_args(params, covariance_type)
    sample_weight = rng.uniform(0.5, 2.0, n_samples)
    stats = kernels.suff_stats(X, *args, sample_weight=sample_weight)
    _assert_stats_close(stats, naive.suff_stats(X, *ref_args, sample_weight))
    log_prob_norm, resp = kernels.log_resp(X, *args)
    expected_lse, expected_resp = naive.log_resp(X, *ref_args)
    assert_allclose(log_prob_norm, expected_lse, rtol=RTOL)
    assert_allclose(resp, expected_resp, rtol=1e-9, atol=1e-12)


def test_zero_weight_rows_contribute_nothing(covariance_type, make_params):
    rng = np.random.default_rng(4)
    X = rng.normal(0.0, 1.0, (70, 4))
    params = make_params(2, 4, covariance_type, seed=4, X=X)
    args = _args(params, covariance_type)
    weights = np.ones(70)
    weights[::3] = 0.0
    stats = kernels.suff_stats(X, *args, sample_weight=weights)
    kept = kernels.suff_stats(X[weights > 0], *args)
    for a, b in zip(_fields(stats), _fields(kept), strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["tied", "full", "diag", "spherical"])
def test_subnormal_sample_weight(covariance_type, make_params):
    rng = np.random.default_rng(6)
    X = rng.normal(0.0, 1.0, (50, 2))
    params = make_params(2, 2, covariance_type, seed=6, X=X)
    args = _args(params, covariance_type)
    weights = np.ones(50)
    weights[0] = 1e-320
    with np.errstate(invalid="ignore"):
        stats = kernels.suff_stats(X, *args, sample_weight=weights)
    for value in _fields(stats):
        assert np.all(np.isfinite(value))
    ref_args = _naive_args(params, covariance_type)
    _assert_stats_close(stats, naive.suff_stats(X, *ref_args, weights))


def test_suff_stats_same_for_one_and_two_threads(
    always_parallel, covariance_type, make_params
):
    """Fixed chunking: bit-identical statistics whatever the thread count."""
    rng = np.random.default_rng(5)
    X = rng.normal(0.0, 1.0, (9000, 5))
    params = make_params(3, 5, covariance_type, seed=5, X=X)
    args = _args(params, covariance_type)
    sample_weight = rng.uniform(0, 2, 9000)
    with n_threads(1):
        one = kernels.suff_stats(X, *args, sample_weight=sample_weight)
        lse_one, resp_one = kernels.log_resp(X, *args)
    with n_threads(2):
        two = kernels.suff_stats(X, *args, sample_weight=sample_weight)
        lse_two, resp_two = kernels.log_resp(X, *args)
    for a, b in zip(_fields(one), _fields(two), strict=True):
        assert_array_equal(a, b)
    assert_array_equal(lse_one, lse_two)
    assert_array_equal(resp_one, resp_two)


# --- bad input to the public functions -------------------------------------------


def _good(covariance_type="full"):
    X = np.zeros((4, 3))
    params = {
        "full": np.stack([np.eye(3)] * 2),
        "tied": np.eye(3),
        "diag": np.ones((2, 3)),
        "spherical": np.ones(2),
    }[covariance_type]
    return X, np.zeros((2, 3)), params, np.array([0.5, 0.5])


@pytest.mark.parametrize("function", [kernels.suff_stats, kernels.log_resp])
@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"X": np.zeros(4)}, ValueError, "2-D"),
        ({"X": np.zeros((2, 4, 3))}, ValueError, "2-D"),
        ({"X": [[0.0, 0.0, 0.0]]}, ValueError, "NumPy array"),
        ({"X": np.zeros((4, 3), dtype=np.int64)}, TypeError, "float32 or float64"),
        ({"X": np.zeros((4, 3), dtype=complex)}, TypeError, "float32 or float64"),
        ({"means": np.zeros((2, 4))}, ValueError, "means must have shape"),
        ({"means": np.zeros(3)}, ValueError, "means must have shape"),
        ({"chol": np.stack([np.eye(3)] * 3)}, ValueError, "precisions_cholesky"),
        ({"chol": np.eye(3)}, ValueError, "precisions_cholesky"),
        ({"weights": np.ones(3) / 3}, ValueError, "log_norm must have shape"),
        ({"covariance_type": "banana"}, ValueError, "covariance_type must be one"),
    ],
)
def test_kernels_reject_bad_shapes(function, change, error, match):
    X, means, chol, weights = _good()
    X = change.get("X", X)
    means = change.get("means", means)
    chol = change.get("chol", chol)
    weights = change.get("weights", weights)
    covariance_type = change.get("covariance_type", "full")
    with pytest.raises(error, match=match):
        function(X, means, chol, weights, covariance_type)


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_kernels_reject_a_chol_of_another_family(covariance_type):
    X, means, _, weights = _good()
    with pytest.raises(ValueError, match="precisions_cholesky"):
        kernels.suff_stats(X, means, _good("full")[2], weights, covariance_type)


def test_suff_stats_rejects_wrong_sample_weight_length():
    X, means, chol, weights = _good()
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\)"):
        kernels.suff_stats(X, means, chol, weights, "full", np.ones(5))


# --- the tiles' vector width --------------------------------------------------


def test_vector_width_follows_the_cpu_unless_overridden(monkeypatch):
    import llvmlite.binding
    import numba

    from fastem._kernels import _tile

    monkeypatch.delenv("FASTEM_VECTOR_WIDTH", raising=False)
    if numba.config.CPU_NAME is None and numba.config.CPU_FEATURES is None:
        features = llvmlite.binding.get_host_cpu_features().flatten().split(",")
        assert _tile.vector_width() == (8 if "+avx512f" in features else 4)
    assert _tile.TILE_COLUMNS == _tile.WIDTH * _tile.VECTORS
    for wanted in ("4", "8", " 8 "):
        monkeypatch.setenv("FASTEM_VECTOR_WIDTH", wanted)
        assert _tile.vector_width() == int(wanted)
    for wrong in ("16", "avx512", "2"):
        monkeypatch.setenv("FASTEM_VECTOR_WIDTH", wrong)
        with pytest.raises(ValueError, match="FASTEM_VECTOR_WIDTH must be 4 or 8"):
            _tile.vector_width()


def test_tiles_and_passes_at_the_other_vector_width(tmp_path):
    """This machine's tests run one width; the tiles and the full and tied
    passes are checked at the other one too, in a fresh process and cache."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from fastem._kernels._tile import WIDTH

    repository = Path(__file__).parents[1]
    env = dict(
        os.environ,
        FASTEM_VECTOR_WIDTH="4" if WIDTH == 8 else "8",
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),
        PYTHONPATH=str(repository),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"]
        + [str(repository / "tests" / "test_kernels.py"), "-k"]
        + ["(tile or full or tied) and not other_vector_width"],
        cwd=repository,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_prefer_wide_vectors_gives_loops_the_tiles_width():
    """The pass and the hooks ask LLVM for the tiles' width in their own
    loops: 512-bit vectors with AVX-512, where LLVM's tuning prefers 256."""
    import re

    from fastem._config import jit
    from fastem._kernels import _tile
    from fastem._kernels._pass import em_pass

    attribute = f'"prefer-vector-width"="{64 * _tile.WIDTH}"'

    @jit(cache=False)
    def scaled_exp(x, out):
        _tile.prefer_wide_vectors()
        for i in range(x.shape[0]):
            out[i] = np.exp(0.5 * x[i])

    x = -np.linspace(0.0, 5.0, 1000)
    out = np.empty_like(x)
    scaled_exp(x, out)
    np.testing.assert_allclose(out, np.exp(0.5 * x), rtol=1e-15)
    signature = scaled_exp.signatures[0]
    assert attribute in scaled_exp.inspect_llvm(signature)
    registers = set(re.findall(r"%([xyz]mm)\d+", scaled_exp.inspect_asm(signature)))
    assert ("zmm" in registers) == (_tile.WIDTH == 8)
    # The pass, compiled afresh (a cached one keeps no IR) for the diag
    # family, whose hooks are plain loops: no tile, so its 512-bit
    # instructions are the vectoriser's.
    from fastem._kernels import diag
    from fastem._kernels._pass import pass_arguments

    fresh = jit(cache=False)(em_pass.py_func)
    X = np.random.default_rng(0).normal(size=(300, 5))
    model = diag.prepare_model(X[:3].copy(), np.ones((3, 5)))
    arguments = pass_arguments(X, np.empty(0), model, np.zeros(3), stats_size=33)
    fresh(0, 1, *arguments)
    signature = fresh.signatures[0]
    assert attribute in fresh.inspect_llvm(signature)
    registers = set(re.findall(r"%([xyz]mm)\d+", fresh.inspect_asm(signature)))
    assert ("zmm" in registers) == (_tile.WIDTH == 8)


def test_aligned_zeros_are_zeros_on_a_64_byte_boundary():
    from fastem._config import jit
    from fastem._kernels._tile import aligned_zeros

    @jit(cache=False)
    def make(rows, columns):
        array = aligned_zeros(rows, columns)
        return array, array.ctypes.data % 64

    for rows, columns in [(3, 128), (1, 8), (5, 3), (0, 16)]:
        array, offset = make(rows, columns)
        assert offset == 0
        assert array.shape == (rows, columns) and array.flags.c_contiguous
        assert_array_equal(array, np.zeros((rows, columns)))
