"""Data read block by block: memmaps of any dtype and 2-D array-likes.

A fit's statistics are sums over rows, so data that does not fit in memory is the
same computation fed in blocks. :class:`Blocks` wraps an ``np.memmap`` (any real
dtype, C or Fortran order) or any 2-D array-like with ``shape``, ``dtype`` and
row slicing (h5py and zarr datasets, without importing them), and hands the
kernels one block of rows at a time, converted to a C-contiguous float block:

- float64 and float32 data keep their dtype; a C-contiguous float block is a
  view of the memmap (no copy);
- every other dtype (bool, float16, (u)int8 to (u)int64) becomes float64
  blocks: exact up to ``2**53``; a block holding a larger magnitude is
  refused, since its values would be rounded. Not float32, though the small
  integers would fit: the kernels run float32 data's 'full' scatter products
  in float32 (``fastem/_kernels/_single.py``), and these data are float64 to
  the estimator, so their fit is the in-memory float64 fit.

Whatever the block dtype, the *estimator* sees the dtype an in-memory fit would
(float32 for float32 data, float64 for everything else): that is
:attr:`Blocks.dtype`, the dtype of the fitted attributes.

Each block is checked (finite values) the first time a pass reads it, so the
check costs no pass of its own; a bad block found mid-pass raises the same
``ValueError`` as in-memory data would, and the estimators then restore the
state they had before the fit (:func:`transaction`). For a memmap, the pass
asks the operating system to read the next block ahead (``madvise``) while the
kernel works on the current one.

The drivers at the bottom (:func:`suff_stats`, :func:`log_resp`,
:func:`labels`) run one kernel call per block and add the results in block
order; they take an in-memory array too, as a single block, so the estimators
have one code path.
"""

import contextlib
import mmap
import numbers

import numpy as np
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_feature_names,
    _check_n_features,
)

from . import _dask, kernels
from ._dask import DaskData
from ._kernels._moments import column_mean_var as _block_mean_var
from .kernels._lloyd import LloydStep, _assigned_pass, _full_pass

#: Bytes of one converted block of rows (the block buffers of a streamed pass).
BLOCK_BYTES = 1 << 25
#: Fewest rows in a block (so a very wide array still gets blocks worth a call).
MIN_BLOCK_ROWS = 4096

#: Integers of larger magnitude are not all exact in float64.
_EXACT_FLOAT64 = 2**53


def is_streamed(X):
    """Whether ``X`` is read block by block rather than converted whole.

    True for ``np.memmap`` arrays and for objects that are not NumPy arrays but
    have a 2-D ``shape``, a ``dtype`` and ``__getitem__`` (h5py, zarr, ...);
    sparse matrices, lists and DataFrames are not (they go through
    scikit-learn's validation, as before).
    """
    if isinstance(X, Blocks):
        return True
    if isinstance(X, np.memmap):
        return X.ndim == 2  # other shapes get scikit-learn's error messages
    if isinstance(X, np.ndarray):
        return False
    if hasattr(X, "tocsr") or hasattr(X, "iloc") or hasattr(X, "columns"):
        return False  # sparse matrices and DataFrames
    shape = getattr(X, "shape", None)
    if not (
        hasattr(X, "dtype")
        and hasattr(X, "__getitem__")
        and isinstance(shape, tuple)
        and len(shape) == 2
    ):
        return False
    try:  # a dtype NumPy knows (not, e.g., a torch dtype: that goes the old way)
        np.dtype(X.dtype)
    except TypeError:
        return False
    return True


def _block_dtype(dtype, name):
    """Return the float dtype that blocks of ``dtype`` data become (exactly)."""
    dtype = np.dtype(dtype)
    if dtype in (np.float64, np.float32):
        return dtype
    if dtype.kind in "biu" or dtype == np.float16:
        return np.dtype(np.float64)
    raise ValueError(
        f"{name} read block by block must hold real numbers (float64, float32, "
        f"float16, int8/16/32/64, uint8/16/32/64 or bool), got dtype {dtype}."
    )


def check_block(rows, block, estimator_name):
    """Raise scikit-learn's ``ValueError`` for NaN, inf or inexact integers.

    ``rows`` as read, ``block`` their float conversion.
    """
    kind = rows.dtype.kind
    if kind == "f":
        # One reduction, no temporary: a non-finite sum means a non-finite
        # value or an overflow, which the elementwise check then tells.
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(block, axis=None, dtype=np.float64)
        if not np.isfinite(total):
            _assert_all_finite(block, input_name="X", estimator_name=estimator_name)
    elif kind in "iu" and rows.dtype.itemsize >= 8 and rows.size:
        if rows.max() > _EXACT_FLOAT64 or (
            kind == "i" and rows.min() < -_EXACT_FLOAT64
        ):
            raise ValueError(
                f"X holds integers of magnitude above 2**53, which float64 "
                f"cannot represent exactly; {estimator_name} computes in "
                "float64. Scale or convert the data first."
            )


class Blocks:
    """A 2-D array-like read as C-contiguous float blocks of rows.

    Parameters
    ----------
    array : np.memmap or array-like of shape (n_samples, n_features)
        Read only through ``array[start:stop]`` (and single rows for random
        access); never copied whole.
    estimator_name : str
        For the error messages.
    block_rows : int, default=None
        Rows per block; by default as many as fit in ``BLOCK_BYTES`` once
        converted (at least ``MIN_BLOCK_ROWS``).

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, n_features)``.
    dtype : numpy.dtype
        float32 for float32 data, float64 otherwise: the dtype an in-memory fit
        would convert to, and so the dtype of the fitted attributes.
    block_dtype : numpy.dtype
        The dtype of the blocks given to the kernels: ``dtype``.
    """

    ndim = 2

    def __init__(self, array, *, estimator_name="the estimator", block_rows=None):
        self.array = array
        self.shape = tuple(int(size) for size in array.shape)
        self.source_dtype = np.dtype(array.dtype)
        self.block_dtype = _block_dtype(self.source_dtype, "X")
        self.dtype = (
            np.dtype(np.float32)
            if self.source_dtype == np.float32
            else np.dtype(np.float64)
        )
        self.estimator_name = estimator_name
        n_samples, n_features = self.shape
        if block_rows is None:
            row_bytes = max(1, n_features) * self.block_dtype.itemsize
            block_rows = max(MIN_BLOCK_ROWS, BLOCK_BYTES // row_bytes)
        self.block_rows = int(block_rows)
        self.n_blocks = -(-n_samples // self.block_rows) if n_samples else 0
        self._checked = np.zeros(self.n_blocks, dtype=bool)
        self._read_ahead = _read_ahead_for(array)
        self._buffer = None

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (
            f"Blocks({type(self.array).__name__} of shape {self.shape}, "
            f"{self.source_dtype}, {self.n_blocks} blocks of {self.block_rows} rows)"
        )

    # -- conversion and checks -------------------------------------------------

    def _convert(self, rows):
        """Rows as read from the array -> a checked C-contiguous float block."""
        rows = np.asarray(rows)
        _block_dtype(rows.dtype, "X")  # an array-like may convert on read
        block = np.ascontiguousarray(rows, dtype=self.block_dtype)
        self._check(rows, block)
        return block

    def _check(self, rows, block):
        check_block(rows, block, self.estimator_name)

    def __getitem__(self, key):
        """Return converted, checked rows: ``blocks[a:b]`` or ``blocks[indices]``.

        Integer arrays read one row at a time (in any order, repeats allowed),
        which suits the few rows an initialisation picks.
        """
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("Blocks take contiguous row slices only.")
            return self._convert(self.array[start:stop])
        if isinstance(key, numbers.Integral):
            row = int(key) % self.shape[0] if self.shape[0] else int(key)
            return self._convert(self.array[row : row + 1])[0]
        indices = np.asarray(key)
        if indices.dtype.kind not in "iu" or indices.ndim != 1:
            raise IndexError("Blocks take row slices, integers or 1-D integer arrays.")
        block = np.empty((indices.shape[0], self.shape[1]), dtype=self.block_dtype)
        for position, row in enumerate(indices):
            row = int(row) % self.shape[0]
            block[position] = self._convert(self.array[row : row + 1])[0]
        return block

    # -- passes ----------------------------------------------------------------

    def bounds(self):
        """``(start, stop)`` of every block, in order."""
        n_samples = self.shape[0]
        return [
            (start, min(start + self.block_rows, n_samples))
            for start in range(0, n_samples, self.block_rows)
        ]

    def blocks(self):
        """Yield ``(start, stop, block)`` over the rows, in order.

        Each block is checked the first time it is read. For a memmap the next
        block is requested from the operating system before the current one is
        yielded, so reading from disk overlaps the kernel's work. A converted
        block is valid until the next one is requested.
        """
        bounds = self.bounds()
        # One conversion buffer for the whole pass, kept for the next one (a
        # fresh block each time would be page-faulted in again every pass). A
        # second pass running while this one is (nested) gets its own.
        buffer, self._buffer = self._buffer, None
        try:
            for index, (start, stop) in enumerate(bounds):
                if self._read_ahead is not None and index + 1 < len(bounds):
                    self._read_ahead(*bounds[index + 1])
                rows = np.asarray(self.array[start:stop])
                if rows.dtype == self.block_dtype and rows.flags.c_contiguous:
                    block = rows  # a view: no copy
                else:
                    if buffer is None:
                        buffer = np.empty(
                            (self.block_rows, self.shape[1]), dtype=self.block_dtype
                        )
                    block = buffer[: stop - start]
                    np.copyto(block, rows, casting="unsafe")
                if not self._checked[index]:
                    self._check(rows, block)
                    self._checked[index] = True
                yield start, stop, block
        finally:
            self._buffer = buffer


def _read_ahead_for(array):
    """Return ``advise(start, stop)`` asking the OS to page in rows, or None.

    Only for a C- or Fortran-ordered ``np.memmap`` on a system with
    ``madvise(MADV_WILLNEED)``: a hint, which never changes a result.
    """
    handle = getattr(array, "_mmap", None)
    if (
        not isinstance(array, np.memmap)
        or handle is None
        or not hasattr(mmap, "MADV_WILLNEED")
        or not (array.flags.c_contiguous or array.flags.f_contiguous)
        or array.size == 0
    ):
        return None
    try:
        probe = np.frombuffer(handle, dtype=np.uint8, count=1)
    except (TypeError, ValueError):
        return None
    mapping = probe.__array_interface__["data"][0]
    del probe  # release the buffer export at once
    first = np.asarray(array).__array_interface__["data"][0] - mapping
    item = array.itemsize
    row_stride, column_stride = array.strides
    page = mmap.PAGESIZE

    def advise(start, stop):
        if array.flags.c_contiguous:
            ranges = [(first + start * row_stride, (stop - start) * row_stride)]
        else:
            ranges = [
                (first + column * column_stride + start * item, (stop - start) * item)
                for column in range(array.shape[1])
            ]
        for offset, length in ranges:
            aligned = offset - offset % page
            with contextlib.suppress(ValueError, OSError):
                handle.madvise(mmap.MADV_WILLNEED, aligned, length + offset - aligned)

    return advise


def check_min_shape(shape, ensure_min_samples, name):
    """Raise scikit-learn's errors for too few rows or no feature."""
    n_samples, n_features = shape
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={shape}) while a "
            f"minimum of {ensure_min_samples} is required by {name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum "
            f"of 1 is required by {name}."
        )


def as_data(X, estimator, *, reset, ensure_min_samples=1):
    """Wrap streamed input in :class:`Blocks` after scikit-learn's shape checks.

    Sets or checks ``n_features_in_`` (and clears ``feature_names_in_``) as
    ``validate_data`` would; the values are checked block by block later.
    """
    if isinstance(X, Blocks):
        data = X
    else:
        data = Blocks(X, estimator_name=type(estimator).__name__)
    check_min_shape(data.shape, ensure_min_samples, type(estimator).__name__)
    _check_feature_names(estimator, X, reset=reset)
    _check_n_features(estimator, data, reset=reset)
    return data


@contextlib.contextmanager
def transaction(estimator):
    """Restore ``estimator``'s attributes if the body raises.

    A fit that fails part-way (a bad block found mid-pass, a kernel error, an
    interrupt) leaves the estimator as it was before the call: unfitted, or
    with its previous fit, never half-updated.
    """
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


# -- drivers: one kernel call per block ---------------------------------------


def row_blocks(X):
    """Yield ``(start, stop, block)``: the blocks of :class:`Blocks`, or X whole."""
    if isinstance(X, Blocks):
        yield from X.blocks()
    else:
        yield 0, X.shape[0], X


def _weights(sample_weight, start, stop):
    return None if sample_weight is None else sample_weight[start:stop]


def kernel_weights(sample_weight, start, stop):
    """Return rows ``[start, stop)`` of k-means kernel weights (empty: unweighted)."""
    return sample_weight[start:stop] if sample_weight.shape[0] else sample_weight


def suff_stats(X, means, chol, log_norm, covariance_type, sample_weight, *, entropy):
    """:func:`fastem.kernels.suff_stats` over every block, added in block order."""
    if isinstance(X, DaskData):
        return _dask.suff_stats(
            X, means, chol, log_norm, covariance_type, entropy=entropy
        )
    total = None
    for start, stop, block in row_blocks(X):
        stats = kernels.suff_stats(
            block,
            means,
            chol,
            log_norm,
            covariance_type,
            _weights(sample_weight, start, stop),
            entropy=entropy,
        )
        total = stats if total is None else total + stats
    total.dtype = np.dtype(X.dtype)
    return total


def log_resp(X, means, chol, log_norm, covariance_type, *, return_resp=True):
    """:func:`fastem.kernels.log_resp` over every block, into n-sized outputs.

    For a Dask array: lazy Dask arrays (the responsibilities, or None).
    """
    if isinstance(X, DaskData):
        args = (X, means, chol, log_norm, covariance_type)
        resp = _dask.predict_proba(*args) if return_resp else None
        return _dask.score_samples(*args), resp
    if not isinstance(X, Blocks):
        return kernels.log_resp(
            X, means, chol, log_norm, covariance_type, return_resp=return_resp
        )
    n_samples = X.shape[0]
    lse = np.empty(n_samples)
    resp = np.empty((n_samples, means.shape[0])) if return_resp else None
    for start, stop, block in X.blocks():
        block_lse, block_resp = kernels.log_resp(
            block, means, chol, log_norm, covariance_type, return_resp=return_resp
        )
        lse[start:stop] = block_lse
        if return_resp:
            resp[start:stop] = block_resp
    return lse, resp


def labels(X, means, chol, log_norm, covariance_type):
    """:func:`fastem.kernels.labels` over every block (lazily for Dask)."""
    if isinstance(X, DaskData):
        return _dask.labels(X, means, chol, log_norm, covariance_type)
    if not isinstance(X, Blocks):
        return kernels.labels(X, means, chol, log_norm, covariance_type)
    out = np.empty(X.shape[0], dtype=np.int64)
    for start, stop, block in X.blocks():
        out[start:stop] = kernels.labels(block, means, chol, log_norm, covariance_type)
    return out


def column_mean(X):
    """Column means in ``X.dtype``: ``X.mean(axis=0)``, or over the blocks.

    For blocks the means are summed in float64 (:func:`column_mean_var`) and
    rounded to ``X.dtype`` once.
    """
    if isinstance(X, (Blocks, DaskData)):
        return column_mean_var(X)[0].astype(X.dtype)
    return X.mean(axis=0)


def column_mean_var(X):
    """Column means and population variances in float64, over every block.

    One pass over the blocks: each block's mean and variance (two passes of the
    compiled kernel over the block in memory), merged with Chan, Golub and
    LeVeque's pairwise update so no raw second moment is formed.
    """
    if isinstance(X, DaskData):
        return _dask.column_mean_var(X)
    if not isinstance(X, Blocks):
        return _block_mean_var(X)
    count = 0
    mean = m2 = None
    for start, stop, block in X.blocks():
        block_mean, block_var = _block_mean_var(block)
        rows = stop - start
        if mean is None:
            count, mean, m2 = rows, block_mean, block_var * rows
            continue
        total = count + rows
        delta = block_mean - mean
        mean = mean + delta * (rows / total)
        m2 = m2 + block_var * rows + delta * delta * (count * rows / total)
        count = total
    return mean, m2 / count


def lloyd_pass(X, sample_weight, centers, shift, labels=None, *, inertia=None):
    """One full Lloyd pass per block (X whole if in memory), added in block order.

    Parameters
    ----------
    X : ndarray or Blocks
    sample_weight : ndarray of shape (n_samples,) or (0,)
        As the k-means kernels take it (empty: unweighted).
    centers : ndarray of shape (n_clusters, n_features), float64
        In the frame shifted by ``shift``.
    shift : ndarray of shape (n_features,), float64
    labels : int32 ndarray of shape (n_samples,), default=None
        Filled with every row's label; None: each block's labels go to a
        scratch buffer and are lost (no n-sized array).
    inertia : {None, 'pass', 'direct'}, default=None
        Not computed (0.0); the pass's own (from the distances it compares); or
        the direct ``||x - shift - c||^2`` of every row to its center, one more
        read of each block, which is what ``fit`` and ``score`` report.

    Returns
    -------
    LloydStep
        ``labels`` (the argument), and the sums (in the shifted frame), weights
        and inertia of every block added in block order.
    """
    if isinstance(X, DaskData):  # labels: kmeans_labels, lazily
        sums, weights, total = _dask.lloyd_pass(X, centers, shift, inertia=inertia)
        return LloydStep(None, sums, weights, total)
    sums = weights = scratch = None
    total = 0.0
    for start, stop, block in row_blocks(X):
        block_weights = kernel_weights(sample_weight, start, stop)
        if labels is not None:
            out = labels[start:stop]
        else:
            if scratch is None:  # the first block is the largest
                scratch = np.empty(stop - start, dtype=np.int32)
            out = scratch[: stop - start]
        step = _full_pass(
            block, block_weights, centers, shift, out, with_inertia=inertia == "pass"
        )
        if inertia == "pass":
            total += step.inertia
        elif inertia == "direct":
            total += _assigned_pass(block, block_weights, centers, shift, out)[1]
        sums = step.sums if sums is None else sums + step.sums
        weights = step.weights if weights is None else weights + step.weights
    return LloydStep(labels, sums, weights, total)
