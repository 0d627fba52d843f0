"""Data read block by block: memmaps of every dtype and order, 2-D array-likes.

A streamed fit is the in-memory fit of the same values fed in blocks, so every
test compares the two: the statistics add over blocks, which changes only the
order of the additions (agreement to ~1e-15 relative, measured; the tolerances
below leave room for that rounding to grow over the iterations).
"""

import pickle
import tracemalloc

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from synthetic import blobs

import fastem._stream as stream
from fastem import BayesianGaussianMixture, GaussianMixture, KMeans
from fastem._config import SLAB_ROWS, n_threads

#: Every source dtype the issue names, with the values' scale.
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 4,096 rows at most, so the test data spans several blocks."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(stream, "MIN_BLOCK_ROWS", 512)


def _values(dtype, n_samples=3000, n_features=3, seed=0):
    """Blob data representable in ``dtype`` (integers rounded, kept in range)."""
    X = blobs(n_samples, n_features, 3, seed=seed, std=1.5)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return X.astype(dtype)
    scale = 8 if dtype.itemsize == 1 else 1000
    X = np.rint(X * scale)
    if dtype.kind == "u":
        X -= X.min()
    return X.astype(dtype)


def _memmap(tmp_path, values, order="C", name="x"):
    path = tmp_path / f"{name}.npy"
    array = np.lib.format.open_memmap(
        path,
        mode="w+",
        dtype=values.dtype,
        shape=values.shape,
        fortran_order=order == "F",
    )
    array[:] = values
    array.flush()
    del array
    return np.load(path, mmap_mode="r")


class RowsOnly:
    """A 2-D array-like that only slices rows (as h5py and zarr datasets do).

    It records the largest read, so a test can show the data is never read or
    converted whole, and has no ``__array__``: NumPy cannot convert it.
    """

    def __init__(self, values):
        self._values = values
        self.shape = values.shape
        self.dtype = values.dtype
        self.largest_read = 0

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("RowsOnly takes slices of rows only")
        rows = self._values[key]
        self.largest_read = max(self.largest_read, rows.shape[0])
        return rows.copy()

    def __len__(self):
        return self.shape[0]


def _in_memory(values):
    """What an in-memory fit converts ``values`` to."""
    return values.astype(np.float32 if values.dtype == np.float32 else np.float64)


def _assert_same_mixture(streamed, reference, rtol=1e-9):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        actual, expected = getattr(streamed, name), getattr(reference, name)
        assert actual.dtype == expected.dtype, name
        scale = float(np.abs(expected).max())
        assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert streamed.n_iter_ == reference.n_iter_
    # float32 'full' fits: the scatter's float32 products (2.6e-12 measured).
    single = streamed.means_.dtype == np.float32 and streamed.covariance_type == "full"
    bound_rtol = 1e-10 if single else 1e-12
    assert_allclose(streamed.lower_bound_, reference.lower_bound_, rtol=bound_rtol)


# -- Blocks itself ---------------------------------------------------------------


def test_blocks_cover_the_rows_in_order_and_convert_exactly(tmp_path):
    values = _values("int16", n_samples=2100)
    data = stream.Blocks(_memmap(tmp_path, values), block_rows=500)
    assert data.dtype == np.float64 and data.block_dtype == np.float64
    seen = []
    for start, stop, block in data.blocks():
        assert block.flags.c_contiguous and block.dtype == np.float64
        assert_array_equal(block, values[start:stop])  # exact in float64
        seen.append((start, stop))
    assert seen == [(0, 500), (500, 1000), (1000, 1500), (1500, 2000), (2000, 2100)]
    assert_array_equal(data[[7, 3, 7]], values[[7, 3, 7]])
    assert_array_equal(data[5:9], values[5:9])


@pytest.mark.parametrize(
    "dtype, block_dtype",
    [
        ("float64", np.float64),
        ("float32", np.float32),
        ("float16", np.float64),
        ("bool", np.float64),
        ("int8", np.float64),
        ("uint16", np.float64),
        ("int32", np.float64),
        ("uint32", np.float64),
        ("int64", np.float64),
        ("uint64", np.float64),
    ],
)
def test_block_dtypes_hold_every_value_exactly(dtype, block_dtype):
    assert stream._block_dtype(dtype, "X") == block_dtype
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None and info.bits <= 32:
        extremes = np.array([[info.min, info.max]], dtype=dtype)
        assert_array_equal(extremes.astype(block_dtype).astype(dtype), extremes)


def test_float64_c_memmap_blocks_are_views(tmp_path):
    mm = _memmap(tmp_path, _values("float64"))
    data = stream.Blocks(mm, block_rows=1000)
    for start, _, block in data.blocks():
        assert np.shares_memory(block, mm[start : start + 1])


def test_read_ahead_covers_c_and_fortran_memmaps(tmp_path):
    values = _values("int16", n_samples=5000)
    for order in "CF":
        mm = _memmap(tmp_path, values, order=order, name=f"ra{order}")
        advise = stream._read_ahead_for(mm)
        assert advise is not None
        advise(0, 5000)  # a hint: must not raise, whatever the alignment
        advise(1234, 4321)
    assert stream._read_ahead_for(RowsOnly(values)) is None


# -- GaussianMixture and BayesianGaussianMixture ---------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", ("float64", "float32", *INTEGER_DTYPES))
def test_gaussian_mixture_on_memmap_equals_in_memory(tmp_path, dtype, covariance_type):
    values = _values(dtype)
    mm = _memmap(tmp_path, values)
    kwargs = dict(
        n_components=3,
        covariance_type=covariance_type,
        random_state=0,
        max_iter=15,
        tol=0,
    )
    streamed = GaussianMixture(**kwargs).fit(mm)
    reference = GaussianMixture(**kwargs).fit(_in_memory(values))
    # float32: the fits differ by the float32 rounding of the attributes and
    # ('full') of the scatter's products, whose blocks group other rows.
    rtol = 1e-6 if dtype == "float32" else 1e-9
    _assert_same_mixture(streamed, reference, rtol)
    single = dtype == "float32" and covariance_type == "full"
    assert streamed.n_features_in_ == 3
    new = _in_memory(values[::7])
    new_mm = _memmap(tmp_path, values[::7], name="new")
    assert_array_equal(streamed.predict(new_mm), reference.predict(new))
    assert_allclose(
        streamed.score_samples(new_mm),
        reference.score_samples(new),
        rtol=1e-6 if single else 1e-9,
    )
    assert_allclose(
        streamed.predict_proba(new_mm),
        reference.predict_proba(new),
        rtol=1e-6,
        atol=1e-12,
    )
    assert_allclose(
        streamed.score(mm),
        reference.score(_in_memory(values)),
        rtol=1e-7 if single else 1e-12,
    )


INIT_PARAMS = ("kmeans", "k-means++", "random_from_data", "random")


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("order", "CF")
def test_every_initialisation_streams(tmp_path, init_params, order):
    values = _values("int16")
    mm = _memmap(tmp_path, values, order=order)
    kwargs = dict(n_components=3, init_params=init_params, random_state=1, max_iter=5)
    kwargs["tol"] = 0
    streamed = GaussianMixture(**kwargs).fit(mm)
    reference = GaussianMixture(**kwargs).fit(values.astype(np.float64))
    _assert_same_mixture(streamed, reference)
    assert_array_equal(
        streamed.fit_predict(mm), reference.fit_predict(_in_memory(values))
    )


def test_weighted_fit_streams(tmp_path):
    values = _values("uint8")
    weights = np.random.default_rng(0).integers(0, 4, values.shape[0]).astype(float)
    mm = _memmap(tmp_path, values)
    kwargs = dict(n_components=3, covariance_type="full", random_state=0, max_iter=8)
    kwargs["tol"] = 0
    streamed = GaussianMixture(**kwargs).fit(mm, sample_weight=weights)
    reference = GaussianMixture(**kwargs).fit(_in_memory(values), sample_weight=weights)
    _assert_same_mixture(streamed, reference)


@pytest.mark.parametrize("covariance_type", ("full", "diag"))
def test_bayesian_mixture_on_memmap_equals_in_memory(tmp_path, covariance_type):
    values = _values("int16")
    mm = _memmap(tmp_path, values)
    kwargs = dict(
        n_components=5, covariance_type=covariance_type, random_state=0, max_iter=20
    )
    kwargs["tol"] = 0
    streamed = BayesianGaussianMixture(**kwargs).fit(mm)
    reference = BayesianGaussianMixture(**kwargs).fit(_in_memory(values))
    _assert_same_mixture(streamed, reference)
    for name in ("weight_concentration_", "mean_precision_", "degrees_of_freedom_"):
        assert_allclose(
            np.asarray(getattr(streamed, name), dtype=float),
            np.asarray(getattr(reference, name), dtype=float),
            rtol=1e-9,
        )
    assert_allclose(
        streamed.log_predictive_density(mm),
        reference.log_predictive_density(_in_memory(values)),
        rtol=1e-10,
    )


def test_rows_only_array_like_is_never_read_whole():
    values = _values("float32", n_samples=40_000)
    data = RowsOnly(values)
    streamed = GaussianMixture(3, random_state=0, max_iter=5, tol=0).fit(data)
    reference = GaussianMixture(3, random_state=0, max_iter=5, tol=0).fit(values)
    _assert_same_mixture(streamed, reference, rtol=1e-6)
    # Kernel passes read blocks (4,096 rows here); the initialisation reads
    # slabs of at most SLAB_ROWS rows.
    assert data.largest_read <= SLAB_ROWS < values.shape[0]
    assert_array_equal(streamed.predict(data), reference.predict(values))
    kmeans = KMeans(3, random_state=0).fit(data)
    assert_array_equal(kmeans.labels_, KMeans(3, random_state=0).fit(values).labels_)


def test_streamed_fit_allocates_blocks_not_the_data(tmp_path, monkeypatch):
    """No array of X's size (a whole conversion to float64) is ever made."""
    monkeypatch.setattr(stream, "BLOCK_BYTES", 1 << 16)
    values = _values("int16", n_samples=400_000, n_features=4)
    mm = _memmap(tmp_path, values)
    whole_float64 = values.shape[0] * values.shape[1] * 8
    gm = GaussianMixture(4, covariance_type="full", random_state=0, max_iter=3)
    gm.set_params(init_params="k-means++", tol=0)
    gm.fit(mm[:5000])  # compile outside the measurement
    tracemalloc.start()
    try:
        gm.fit(mm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # k-means++ keeps one float64 per row (its distances: a quarter of a float64
    # copy of X here); everything else is O(block) or O(slab) (measured: 0.37
    # of the 12.8 MB a float64 copy of X would take, which alone is 1).
    assert peak < 0.5 * whole_float64


def test_results_do_not_depend_on_the_thread_count(always_parallel, tmp_path):
    mm = _memmap(tmp_path, _values("int16"))
    fits = []
    for threads in (1, 2):
        with n_threads(threads):
            fits.append(GaussianMixture(3, random_state=0, max_iter=10, tol=0).fit(mm))
    for name in ("means_", "covariances_", "weights_"):
        assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))


def test_streamed_estimator_pickles(tmp_path):
    mm = _memmap(tmp_path, _values("int16"))
    gm = GaussianMixture(3, random_state=0).fit(mm)
    clone = pickle.loads(pickle.dumps(gm))
    assert_array_equal(clone.predict(mm), gm.predict(mm))


def test_read_only_data_compiles_no_kernel_of_its_own():
    """The kernels see every input read-only: one compiled variant per dtype."""
    from fastem import _cache

    def compiled():
        return {
            (d.py_func.__qualname__, str(sig))
            for d in _cache.DISPATCHERS
            for sig in d.signatures
        }

    X = np.random.default_rng(0).normal(size=(3000, 3))
    frozen = X.copy()
    frozen.setflags(write=False)
    weights = np.ones(len(X))
    fits = [
        lambda data: GaussianMixture(3, random_state=0).fit(data).predict(data),
        lambda data: GaussianMixture(2, covariance_type="tied").fit(data, weights),
        lambda data: KMeans(3, random_state=0, n_init=1).fit(data).transform(data),
    ]
    for fit in fits:
        fit(X)
    before = compiled()
    for fit in fits:
        fit(frozen)
    assert compiled() == before


# -- KMeans ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ("float64", "float32", "int16", "uint32"))
@pytest.mark.parametrize("init", ("k-means++", "random", "array"))
def test_kmeans_on_memmap_equals_in_memory(tmp_path, dtype, init):
    values = _values(dtype, n_features=4)
    mm = _memmap(tmp_path, values)
    memory = _in_memory(values)
    if init == "array":
        init = memory[[0, 1000, 2000, 2500]]
    n_init = 1 if isinstance(init, np.ndarray) else 2
    streamed = KMeans(4, init=init, random_state=0, n_init=n_init).fit(mm)
    reference = KMeans(4, init=init, random_state=0, n_init=n_init).fit(memory)
    assert_array_equal(streamed.labels_, reference.labels_)
    assert streamed.cluster_centers_.dtype == reference.cluster_centers_.dtype
    assert_allclose(
        streamed.cluster_centers_,
        reference.cluster_centers_,
        rtol=1e-6 if dtype == "float32" else 1e-10,
    )
    assert_allclose(streamed.inertia_, reference.inertia_, rtol=1e-10)
    assert streamed.n_iter_ == reference.n_iter_
    assert_array_equal(streamed.predict(mm), reference.predict(memory))
    assert_allclose(streamed.transform(mm), reference.transform(memory), rtol=1e-6)
    assert_allclose(streamed.score(mm), reference.score(memory), rtol=1e-10)


def test_kmeans_relocates_empty_clusters_across_blocks(tmp_path):
    """A cluster left empty takes the farthest row of all blocks, as in memory."""
    values = _values("float64", n_features=2)
    far = np.array([[1e3, 1e3]])
    values = np.vstack([values[:2000], far, values[2000:]])
    mm = _memmap(tmp_path, values)
    init = np.array([[0.0, 0.0], [1e6, 1e6], [5.0, 5.0]])  # the second is empty
    streamed = KMeans(3, init=init, max_iter=5).fit(mm)
    reference = KMeans(3, init=init, max_iter=5).fit(values)
    assert_array_equal(streamed.labels_, reference.labels_)
    assert_allclose(streamed.cluster_centers_, reference.cluster_centers_, rtol=1e-10)
    assert np.any(np.all(streamed.cluster_centers_ == far, axis=1))


def test_kmeans_callable_init_needs_data_in_memory(tmp_path):
    mm = _memmap(tmp_path, _values("float64"))
    kmeans = KMeans(3, init=lambda X, k, random_state: X[:k], n_init=1)
    with pytest.raises(ValueError, match="callable init needs the data in memory"):
        kmeans.fit(mm)
    with pytest.raises(NotFittedError):
        check_is_fitted(kmeans)


# -- bad data: clear errors, estimator left as it was ------------------------------


@pytest.mark.parametrize("bad", (np.nan, np.inf))
@pytest.mark.parametrize(
    "Estimator", (GaussianMixture, BayesianGaussianMixture, KMeans)
)
def test_bad_block_mid_pass_leaves_the_estimator_unfitted(tmp_path, bad, Estimator):
    values = _values("float64")
    values[2900, 1] = bad  # in the last block
    mm = _memmap(tmp_path, values)
    size = "n_clusters" if Estimator is KMeans else "n_components"
    estimator = Estimator(**{size: 3}, random_state=0)
    before = dict(vars(estimator))
    message = "Input X contains NaN" if np.isnan(bad) else "Input X contains infinity"
    with pytest.raises(ValueError, match=message):
        estimator.fit(mm)
    assert vars(estimator) == before
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)


def test_bad_block_keeps_the_previous_fit(tmp_path):
    good = _values("float64")
    bad = good.copy()
    bad[-1, 0] = np.nan
    gm = GaussianMixture(3, random_state=0).fit(good)
    means = gm.means_.copy()
    attributes = set(vars(gm))
    with pytest.raises(ValueError, match="NaN"):
        gm.fit(_memmap(tmp_path, bad))
    assert set(vars(gm)) == attributes
    assert_array_equal(gm.means_, means)
    assert gm.n_features_in_ == 3


def test_huge_int64_values_are_refused(tmp_path):
    values = _values("int64")
    values[-1, 0] = 2**53 + 1
    with pytest.raises(ValueError, match=r"above 2\*\*53"):
        GaussianMixture(2).fit(_memmap(tmp_path, values))


def test_non_real_dtypes_are_refused(tmp_path):
    values = _values("float64").astype(np.complex128)
    with pytest.raises(ValueError, match="must hold real numbers.*complex128"):
        GaussianMixture(2).fit(_memmap(tmp_path, values))


def test_shape_errors_are_scikit_learns(tmp_path):
    gm = GaussianMixture(2, random_state=0).fit(_memmap(tmp_path, _values("int16")))
    wide = _memmap(tmp_path, np.zeros((10, 4), dtype=np.int16), name="wide")
    with pytest.raises(ValueError, match="X has 4 features, but GaussianMixture is "):
        gm.predict(wide)
    empty = _memmap(tmp_path, np.zeros((0, 3), dtype=np.int16), name="empty")
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        GaussianMixture(2).fit(empty)
    with pytest.raises(ValueError, match="Expected n_samples >= n_components"):
        GaussianMixture(20).fit(_memmap(tmp_path, _values("int16")[:10], name="few"))


# -- partial_fit on batches read block by block ----------------------------------


def test_partial_fit_streams_a_memmap_batch(tmp_path):
    values = _values("int16", n_samples=6000)
    memory = _in_memory(values)
    streamed = GaussianMixture(3, random_state=0, learning_offset=0.0)
    reference = GaussianMixture(3, random_state=0, learning_offset=0.0)
    for start in (0, 3000):
        batch = _memmap(tmp_path, values[start : start + 3000], name=f"b{start}")
        streamed.partial_fit(batch)
        reference.partial_fit(memory[start : start + 3000])
    _assert_same_mixture(streamed, reference)

    kmeans = KMeans(3, random_state=0, learning_offset=0.0)
    kmeans_reference = KMeans(3, random_state=0, learning_offset=0.0)
    for start in (0, 3000):
        batch = _memmap(tmp_path, values[start : start + 3000], name=f"k{start}")
        kmeans.partial_fit(batch)
        kmeans_reference.partial_fit(memory[start : start + 3000])
    assert_allclose(
        kmeans.cluster_centers_, kmeans_reference.cluster_centers_, rtol=1e-10
    )
    assert_array_equal(kmeans.labels_, kmeans_reference.labels_)
    assert_allclose(kmeans.inertia_, kmeans_reference.inertia_, rtol=1e-10)


def test_partial_fit_rejects_a_bad_memmap_batch_unchanged(tmp_path):
    values = _values("float64")
    gm = GaussianMixture(3, random_state=0).partial_fit(values[:1000])
    before = pickle.dumps(gm)
    bad = values[1000:].copy()
    bad[-1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gm.partial_fit(_memmap(tmp_path, bad))
    assert pickle.dumps(gm) == before


def test_what_is_streamed(tmp_path):
    import scipy.sparse

    values = _values("float64", n_samples=10)
    assert stream.is_streamed(_memmap(tmp_path, values))
    assert stream.is_streamed(RowsOnly(values))
    assert not stream.is_streamed(values)
    assert not stream.is_streamed(values.tolist())
    assert not stream.is_streamed(scipy.sparse.csr_matrix(values))
    assert not stream.is_streamed(RowsOnly(values[:, 0]))  # 1-D: scikit-learn's error
    one_d = _memmap(tmp_path, values[:, 0].copy(), name="one_d")
    assert not stream.is_streamed(one_d)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        GaussianMixture(2).fit(one_d)
