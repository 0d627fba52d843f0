"""Dask arrays: every pass runs where the blocks live; the client does the math.

A fit's statistics are sums over rows (:class:`fastem.kernels.SuffStats`), so a
Dask array needs no cluster code of fastem's own. The driver here hands Dask,
whatever scheduler is current (a ``distributed.Client`` if one is active,
otherwise Dask's default), one task per block of rows:

- ``fit`` persists ``X`` once (converted to a float block dtype and checked for
  NaN/inf on the way, as :mod:`fastem._stream` does for memmaps);
- each pass (an E-step, a Lloyd pass, a column moment) runs the same compiled
  kernel on every block, where the block is, and returns only the small
  statistics: ``k (d^2 + d + 1)`` numbers per block for a full mixture;
- the statistics are added in a tree with a fixed fan-in (:data:`SPLIT_EVERY`)
  and a fixed order (block order), so the result does not depend on which
  worker ran which block or when it finished;
- the M-step runs on the client, and the parameters go out as one small task
  that every block task depends on.

``predict``, ``predict_proba``, ``score_samples`` (and KMeans's ``predict``,
``transform``) return Dask arrays built with ``map_blocks``: ``X`` is never
gathered. Only the rows an initialisation picks come to the client.

Inside a task the kernels run on as many Numba threads as the worker's share of
its machine's cores (:func:`task_threads`): one when Dask runs a task per core
(the default of ``LocalCluster`` and of the threaded scheduler), more when the
workers on a machine have fewer threads than it has cores. Two thread pools on
the same cores spin against each other (measured in the README).

This module imports Dask only when a Dask array is passed: ``import fastem``
does not import it.
"""

import copy
import functools
import math
import operator
import sys
import uuid

import numba
import numpy as np

from . import kernels
from ._config import n_threads
from ._kernels._moments import column_mean_var as _block_mean_var
from .kernels._lloyd import _assigned_pass, _distance_matrix, _full_pass
from .kernels._stats import NK_EPS, SuffStats, stats_from_rows, stats_from_source

#: Statistics are added this many at a time, in block order, up a tree.
SPLIT_EVERY = 8

#: Numba threads a task's kernel uses; None: :func:`task_threads` decides.
TASK_THREADS = None

#: k-means|| (Bahmani et al. 2012): rounds, and candidates drawn per round per
#: cluster (the paper's ``l = 2k`` with 5 rounds, among the settings it
#: evaluates).
KMEANS_PARALLEL_ROUNDS = 5
KMEANS_PARALLEL_OVERSAMPLING = 2.0


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array`` or :class:`DaskData` (no Dask import)."""
    if isinstance(X, DaskData):
        return True
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def is_dask_dataframe(X):
    """Whether ``X`` is a ``dask.dataframe.DataFrame`` (without importing Dask)."""
    module = sys.modules.get("dask.dataframe")
    return module is not None and isinstance(X, module.DataFrame)


# -- the data ------------------------------------------------------------------


class DaskData:
    """A checked 2-D Dask array whose blocks are whole rows.

    Parameters
    ----------
    array : dask.array.Array of shape (n_samples, n_features)
        Real dtype, row chunks of known sizes, one chunk along the features.
    estimator_name : str
        For the error messages.

    Attributes
    ----------
    array : dask.array.Array
        The rows converted to :attr:`block_dtype` and checked (finite values,
        exact integers) block by block when computed.
    shape : tuple of int
    dtype : numpy.dtype
        float32 for float32 data, float64 otherwise (the fitted attributes').
    block_dtype : numpy.dtype
        The dtype of the blocks the kernels see (as :class:`fastem._stream.Blocks`).
    starts : list of int
        First row of every block.
    """

    ndim = 2

    def __init__(self, array, *, estimator_name="the estimator"):
        from ._stream import _block_dtype

        self.source_dtype = np.dtype(array.dtype)
        self.block_dtype = _block_dtype(self.source_dtype, "X")
        self.dtype = np.dtype(
            np.float32 if self.source_dtype == np.float32 else np.float64
        )
        self.shape = tuple(int(size) for size in array.shape)
        self.estimator_name = estimator_name
        self.array = array.map_blocks(
            _checked_block,
            block_dtype=self.block_dtype,
            estimator_name=estimator_name,
            dtype=self.block_dtype,
        )
        self._lazy = self.array
        rows = array.chunks[0]
        self.starts = [int(start) for start in np.cumsum((0,) + rows[:-1])]
        self.row_chunks = tuple(int(size) for size in rows)

    @property
    def n_blocks(self):
        """Number of blocks of rows."""
        return len(self.row_chunks)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (
            f"DaskData(shape={self.shape}, {self.source_dtype}, {self.n_blocks} blocks)"
        )

    def persist(self):
        """Keep the converted blocks in the workers' memory (``fit``'s passes)."""
        self.array = self.array.persist()
        return self

    @property
    def threads(self):
        """Numba threads per task: :data:`TASK_THREADS` or :func:`task_threads`."""
        if TASK_THREADS is not None:
            return TASK_THREADS
        if getattr(self, "_threads", None) is None:
            self._threads = task_threads()
        return self._threads

    def unpersisted(self):
        """Return the same data as a lazy graph (holding no worker memory)."""
        lazy = copy.copy(self)
        lazy.array = self._lazy
        return lazy

    def delayed_blocks(self):
        """Return one ``Delayed`` per block, in row order."""
        return list(self.array.to_delayed().ravel())

    def __getitem__(self, key):
        """Gather rows to the client: ``data[a:b]``, ``data[i]`` or ``data[indices]``.

        Only for the few rows an initialisation or an empty cluster needs.
        """
        if isinstance(key, slice):
            return np.ascontiguousarray(self.array[key].compute())
        indices = np.asarray(key)
        if indices.ndim == 0:
            return self[np.array([int(indices)])][0]
        import dask

        indices = indices.astype(np.int64) % self.shape[0]
        ends = np.cumsum(self.row_chunks)
        owner = np.searchsorted(ends, indices, side="right")
        blocks = self.delayed_blocks()
        picks = [
            dask.delayed(_take_rows)(blocks[i], indices[owner == i] - self.starts[i])
            for i in np.unique(owner)
        ]
        rows = np.empty((indices.shape[0], self.shape[1]), dtype=self.block_dtype)
        for i, taken in zip(np.unique(owner), dask.compute(*picks), strict=True):
            rows[owner == i] = taken
        return rows


def _take_rows(block, local_indices):
    return block[local_indices]


def _checked_block(rows, *, block_dtype, estimator_name):
    """Convert one block to ``block_dtype`` and check it (runs on a worker)."""
    from ._stream import check_block

    rows = np.asarray(rows)
    block = np.ascontiguousarray(rows, dtype=block_dtype)
    check_block(rows, block, estimator_name)
    return block


def as_data(X, estimator, *, reset, ensure_min_samples=1):
    """Check a Dask array's shape and chunks and wrap it in :class:`DaskData`.

    Sets or checks ``n_features_in_`` as ``validate_data`` would. The values
    are checked block by block when the first pass computes them. A Dask
    DataFrame is taken as its array of rows (``to_dask_array(lengths=True)``,
    which counts each partition's rows), its column names as the feature names.
    """
    from sklearn.utils.validation import _check_feature_names, _check_n_features

    from ._stream import check_min_shape

    name = type(estimator).__name__
    if is_dask_dataframe(X):
        # the frame's empty pandas prototype carries its column names
        _check_feature_names(estimator, X._meta, reset=reset)
        X = X.to_dask_array(lengths=True)
    else:
        _check_feature_names(estimator, X, reset=reset)
    if isinstance(X, DaskData):
        data = X
    else:
        _check_dask_array(X, name)
        data = DaskData(X, estimator_name=name)
    check_min_shape(data.shape, ensure_min_samples, name)
    _check_n_features(estimator, data, reset=reset)
    return data


def _check_dask_array(X, name):
    """Raise ``ValueError`` for a Dask array whose blocks are not whole rows."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array for {name}, got a {X.ndim}-D array of "
            f"shape {X.shape}. Reshape it, e.g. X.reshape(-1, 1) for one feature."
        )
    if any(math.isnan(size) for size in X.chunks[0]) or math.isnan(X.shape[0]):
        raise ValueError(
            f"X has unknown chunk sizes along its rows (chunks={X.chunks}); "
            f"{name} needs them to place every row. Call "
            "X.compute_chunk_sizes() first."
        )
    if len(X.chunks[1]) != 1:
        raise ValueError(
            f"X is split into {len(X.chunks[1])} chunks along its features "
            f"(chunks along axis 1: {X.chunks[1]}); {name} needs whole rows in "
            "every block. Rechunk it first: X.rechunk({1: -1})."
        )
    try:
        np.dtype(X.dtype)
    except TypeError:
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}.") from None


def check_no_sample_weight(sample_weight):
    """Raise: row weights with a Dask array are not supported yet."""
    if sample_weight is not None:
        raise ValueError(
            "sample_weight is not supported with a Dask array X; pass "
            "sample_weight=None (or repeat the rows you want to weigh more)."
        )


# -- the engine: one task per block, a fixed-order tree of additions -----------


def task_threads():
    """Numba threads for a task: each worker's share of its machine's cores.

    With a ``distributed.Client``: ``{worker address: cores of its machine //
    threads of all workers on that machine}`` (at least 1), asked of the
    workers once per fit. With Dask's local schedulers, which run a task per
    core: 1.
    """
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return 1
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(_available_cores)
    per_host = {}
    for address, info in workers.items():
        host = info.get("host", address)
        per_host[host] = per_host.get(host, 0) + int(info["nthreads"])
    return {
        address: max(1, cores.get(address, 1) // per_host[info.get("host", address)])
        for address, info in workers.items()
    }


def _available_cores():
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads_here(threads):
    """Resolve :func:`task_threads`'s answer inside the running task.

    Never more than Numba's pool in this process (``NUMBA_NUM_THREADS``).
    """
    if isinstance(threads, dict):
        from distributed import get_worker

        try:
            threads = threads.get(get_worker().address, 1)
        except ValueError:  # not in a worker
            threads = 1
    return max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))


def _run_block(function, block, start, shared, threads):
    """Run ``function(block, start, *shared)`` on ``threads`` Numba threads."""
    with n_threads(_threads_here(threads)):
        return function(block, start, *shared)


def _combine_in_order(combine, values):
    return functools.reduce(combine, values)


def map_reduce(data, function, *shared, combine=operator.add):
    """Run ``function`` on every block where it lives; add the results in a tree.

    Parameters
    ----------
    data : DaskData
    function : callable
        ``function(block, start, *shared)`` with ``block`` a C-contiguous
        float array of rows and ``start`` its first row's index; a module-level
        function (the workers import it).
    *shared
        Small arguments every task gets (sent once, as one task's result).
    combine : callable, default=operator.add
        ``combine(a, b)`` of two results, ``a`` from the earlier rows.

    Returns
    -------
    object
        ``combine`` of every block's result, in block order, grouped
        :data:`SPLIT_EVERY` at a time: one fixed tree, whatever the scheduling.
    """
    import dask

    token = uuid.uuid4().hex  # fresh keys every pass (NumPy's global RNG untouched)
    shared = dask.delayed(shared, traverse=False, name=f"fastem-shared-{token}")
    name = function.__name__.lstrip("_")
    parts = [
        dask.delayed(_run_block, pure=True)(
            function,
            block,
            start,
            shared,
            data.threads,
            dask_key_name=f"fastem-{name}-{token}-{i}",
        )
        for i, (block, start, rows) in enumerate(
            zip(data.delayed_blocks(), data.starts, data.row_chunks, strict=True)
        )
        if rows  # an empty block adds nothing
    ]
    level = 0
    while len(parts) > 1:
        level += 1
        parts = [
            dask.delayed(_combine_in_order, pure=True)(
                combine,
                parts[i : i + SPLIT_EVERY],
                dask_key_name=f"fastem-combine-{token}-{level}-{i // SPLIT_EVERY}",
            )
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
    (result,) = dask.compute(parts[0])
    return result


def map_rows(data, function, *shared, dtype, columns=None):
    """Return a lazy Dask array of ``function(block, start, *shared)`` per block.

    ``columns`` None: one value per row (a 1-D result); an int: that many
    columns.
    """
    import dask
    import dask.array as da

    shared = dask.delayed(shared, traverse=False)
    starts = da.from_array(np.asarray(data.starts, dtype=np.int64), chunks=1)
    if columns is None:
        empty = np.empty(0, dtype=dtype)
        shape = {"drop_axis": 1, "meta": empty}
    else:
        empty = np.empty((0, columns), dtype=dtype)
        shape = {"chunks": (data.row_chunks, (columns,)), "meta": empty}
    return da.map_blocks(
        _run_rows,
        data.array,
        starts[:, None],
        function,
        shared,
        data.threads,
        empty,
        dtype=dtype,
        **shape,
    )


def _run_rows(block, start, function, shared, threads, empty):
    if block.shape[0] == 0:
        return empty
    return _run_block(function, block, int(start.ravel()[0]), shared, threads)


# -- the Gaussian-mixture passes -------------------------------------------------


def _block_suff_stats(block, start, means, chol, log_norm, covariance_type, entropy):
    return kernels.suff_stats(
        block, means, chol, log_norm, covariance_type, None, entropy=entropy
    )


def suff_stats(data, means, chol, log_norm, covariance_type, *, entropy):
    """:func:`fastem.kernels.suff_stats` over every block, added in a fixed tree."""
    total = map_reduce(
        data,
        _block_suff_stats,
        means,
        chol,
        log_norm,
        covariance_type,
        entropy,
    )
    total.dtype = data.dtype
    return total


def _block_lse(block, start, means, chol, log_norm, covariance_type, dtype):
    lse, _ = kernels.log_resp(
        block, means, chol, log_norm, covariance_type, return_resp=False
    )
    return lse.astype(dtype, copy=False)


def _block_resp(block, start, means, chol, log_norm, covariance_type, dtype):
    _, resp = kernels.log_resp(block, means, chol, log_norm, covariance_type)
    return resp.astype(dtype, copy=False)


def _block_labels(block, start, means, chol, log_norm, covariance_type):
    return kernels.labels(block, means, chol, log_norm, covariance_type)


def score_samples(data, means, chol, log_norm, covariance_type):
    """Lazy per-row log-likelihoods, in the data's dtype."""
    params = (means, chol, log_norm, covariance_type, data.dtype)
    return map_rows(data, _block_lse, *params, dtype=data.dtype)


def predict_proba(data, means, chol, log_norm, covariance_type):
    """Lazy responsibilities, (n_samples, n_components) in the data's dtype."""
    params = (means, chol, log_norm, covariance_type, data.dtype)
    return map_rows(
        data, _block_resp, *params, dtype=data.dtype, columns=means.shape[0]
    )


def labels(data, means, chol, log_norm, covariance_type):
    """Lazy most likely components (int64)."""
    params = (means, chol, log_norm, covariance_type)
    return map_rows(data, _block_labels, *params, dtype=np.int64)


def _block_predictive(block, start, params, weights, covariance_type):
    from .kernels._variational import log_predictive_density as density

    return density(block, params, weights, covariance_type)


def log_predictive_density(data, params, weights, covariance_type):
    """Lazy :meth:`BayesianGaussianMixture.log_predictive_density` (float64)."""
    return map_rows(
        data, _block_predictive, params, weights, covariance_type, dtype=np.float64
    )


# -- column moments --------------------------------------------------------------


def _block_moments(block, start):
    mean, var = _block_mean_var(block)
    return block.shape[0], mean, var * block.shape[0]


def _merge_moments(a, b):
    """Chan, Golub and LeVeque's pairwise merge of (count, mean, m2)."""
    count_a, mean_a, m2_a = a
    count_b, mean_b, m2_b = b
    if count_a == 0:
        return b
    if count_b == 0:
        return a
    total = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (count_b / total)
    m2 = m2_a + m2_b + delta * delta * (count_a * count_b / total)
    return total, mean, m2


def column_mean_var(data):
    """Column means and population variances in float64, in one pass."""
    count, mean, m2 = map_reduce(data, _block_moments, combine=_merge_moments)
    return mean, m2 / count


def _block_scatter(block, start, mean, full):
    dev = np.asarray(block, dtype=np.float64) - mean
    return dev.T @ dev if full else np.einsum("ij,ij->j", dev, dev)


def data_covariance(data, mean, covariance_type):
    """:func:`fastem.kernels._variational.data_covariance` over the blocks."""
    full = covariance_type in ("full", "tied")
    scatter = map_reduce(data, _block_scatter, np.asarray(mean, np.float64), full)
    covariance = scatter / (data.shape[0] - 1.0)
    if covariance_type == "spherical":
        return float(covariance.mean())
    return covariance


# -- initial statistics -------------------------------------------------------------


def _combine_about(a, b):
    """Add statistics taken about different means, both moved to their joint mean."""
    if np.array_equal(a.means, b.means):
        return a + b
    sums = a.nk[:, None] * a.means + a.sum_dev + b.nk[:, None] * b.means + b.sum_dev
    means = sums / (a.nk + b.nk + NK_EPS)[:, None]
    return a.about(means) + b.about(means)


def _finish_initial(total, data):
    """Move summed initial statistics to scikit-learn's means ``sums / (nk + eps)``."""
    sums = total.nk[:, None] * total.means + total.sum_dev
    total = total.about(sums / (total.nk + NK_EPS)[:, None])
    total.dtype = data.dtype
    return total


def _block_nearest_stats(block, start, centers, shift, covariance_type):
    step = _full_pass(block, np.empty(0), centers, shift, with_inertia=False)
    n_components = centers.shape[0]

    def source(lo, hi):
        resp = np.zeros((hi - lo, n_components))
        resp[np.arange(hi - lo), step.labels[lo:hi]] = 1.0
        return resp

    return stats_from_source(
        block, None, source, covariance_type, n_components=n_components
    )


def stats_from_nearest(data, centers, shift, covariance_type):
    """Statistics of one-hot responsibilities at each row's nearest center.

    The 'kmeans' start: ``centers`` (float64, in the frame shifted by
    ``shift``) from a k-means fit; its labels are recomputed block by block.
    """
    total = map_reduce(
        data,
        _block_nearest_stats,
        centers,
        shift,
        covariance_type,
        combine=_combine_about,
    )
    return _finish_initial(total, data)


def _block_uniform_stats(block, start, seed, n_components, covariance_type):
    rng = np.random.default_rng([seed, start])
    resp = rng.uniform(size=(block.shape[0], n_components))
    resp /= resp.sum(axis=1)[:, None]
    return stats_from_source(
        block,
        None,
        lambda lo, hi: resp[lo:hi],
        covariance_type,
        n_components=n_components,
    )


def stats_from_uniform(data, random_state, n_components, covariance_type):
    """Return the 'random' start: uniform responsibilities drawn on the workers.

    Each block draws its rows' responsibilities from a generator seeded with
    one number taken from ``random_state`` and the block's first row, so the
    start does not depend on the scheduling (but differs from the in-memory
    draw, which is one sequential stream).
    """
    seed = int(random_state.randint(np.iinfo(np.int32).max))
    total = map_reduce(
        data,
        _block_uniform_stats,
        seed,
        n_components,
        covariance_type,
        combine=_combine_about,
    )
    return _finish_initial(total, data)


def _block_gram(block, start):
    rows = np.asarray(block, dtype=np.float64)
    return rows.T @ rows


def stats_from_chosen_rows(data, rows, covariance_type):
    """One-hot statistics on ``rows`` (k chosen rows, gathered to the client).

    :func:`fastem.kernels._stats.stats_from_rows` on the rows themselves; for
    'tied' the rest of scikit-learn's initial scatter, ``sum_{unchosen} x
    x^T``, is one pass of per-block ``X^T X`` minus the chosen rows' part.
    """
    rows = np.asarray(rows, dtype=np.float64)
    k = rows.shape[0]
    local = stats_from_rows(rows, None, np.arange(k), covariance_type)
    scatter = local.scatter
    if covariance_type == "tied":
        scatter = scatter + map_reduce(data, _block_gram) - rows.T @ rows
    return SuffStats(
        covariance_type,
        local.means,
        local.nk,
        local.sum_dev,
        scatter,
        0.0,
        float(data.shape[0]),
        dtype=data.dtype,
    )


# -- k-means ---------------------------------------------------------------------


def _block_lloyd(block, start, centers, shift, inertia):
    step = _full_pass(
        block, np.empty(0), centers, shift, with_inertia=inertia == "pass"
    )
    total = 0.0
    if inertia == "pass":
        total = step.inertia
    elif inertia == "direct":
        total = _assigned_pass(block, np.empty(0), centers, shift, step.labels)[1]
    return step.sums, step.weights, total


def _add_lloyd(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def lloyd_pass(data, centers, shift, *, inertia=None):
    """One full Lloyd pass on every block: ``(sums, weights, inertia)``."""
    return map_reduce(data, _block_lloyd, centers, shift, inertia, combine=_add_lloyd)


def _block_kmeans_labels(block, start, centers, shift):
    return _full_pass(block, np.empty(0), centers, shift, with_inertia=False).labels


def kmeans_labels(data, centers, shift):
    """Lazy labels of every row: its nearest center (int32)."""
    return map_rows(data, _block_kmeans_labels, centers, shift, dtype=np.int32)


def _block_distances(block, start, centers, shift):
    return _distance_matrix(block, centers, shift)


def kmeans_transform(data, centers, shift):
    """Lazy distances of every row to every center, in the data's dtype."""
    return map_rows(
        data,
        _block_distances,
        centers,
        shift,
        dtype=data.block_dtype,
        columns=centers.shape[0],
    ).astype(data.dtype)


def _block_farthest(block, start, centers, shift, count):
    labels = _block_kmeans_labels(block, start, centers, shift)
    distances, _ = _assigned_pass(block, np.empty(0), centers, shift, labels)
    keep = min(count, distances.shape[0])
    top = np.argpartition(distances, -keep)[-keep:]
    order = np.argsort(-distances[top], kind="stable")
    return top[order] + start, distances[top][order], count


def _merge_farthest(a, b):
    rows = np.concatenate([a[0], b[0]])
    distances = np.concatenate([a[1], b[1]])
    order = np.argsort(-distances, kind="stable")[: a[2]]
    return rows[order], distances[order], a[2]


def farthest_rows(data, centers, shift, count):
    """Return the ``count`` rows farthest from their nearest center, farthest first.

    None when every row sits on its center.
    """
    rows, distances, _ = map_reduce(
        data, _block_farthest, centers, shift, count, combine=_merge_farthest
    )
    if distances[0] == 0:
        return None
    return rows


def _block_min_sq_distances(block, start, candidates, shift, previous):
    """Squared distance of every row to its nearest candidate (running minimum)."""
    if block.shape[0] == 0:
        return np.empty(0)
    step = _full_pass(block, np.empty(0), candidates, shift, with_inertia=False)
    distances, _ = _assigned_pass(block, np.empty(0), candidates, shift, step.labels)
    if previous is not None:
        np.minimum(distances, previous, out=distances)
    return distances


def _block_draw_candidates(block, distances, seed, round_, start, rate):
    """Rows drawn with probability ``min(1, rate * d^2)`` (k-means|| step 4)."""
    rng = np.random.default_rng([seed, round_, start])
    chosen = rng.uniform(size=distances.shape[0]) < rate * distances
    return np.asarray(block[chosen], dtype=np.float64)


def kmeans_parallel(data, n_clusters, random_state, shift):
    """k-means|| candidates and their weights (Bahmani et al. 2012, Alg. 2).

    One row drawn uniformly; then :data:`KMEANS_PARALLEL_ROUNDS` rounds, each
    drawing every row independently with probability ``l d^2(x, C) /
    phi_X(C)`` (``l`` = :data:`KMEANS_PARALLEL_OVERSAMPLING` x ``n_clusters``)
    on the workers, from generators seeded by one draw from ``random_state``,
    the round and the block (so the draw does not depend on the scheduling).
    Each candidate is then weighted by the number of rows nearer to it than
    to any other candidate (step 7), which the caller reclusters into
    ``n_clusters`` (step 8).

    Returns
    -------
    candidates : ndarray of shape (n_candidates, n_features), float64
        In the frame shifted by ``shift``.
    weights : ndarray of shape (n_candidates,), float64
    """
    import dask
    import dask.array as da

    n_samples = data.shape[0]
    first = int(random_state.randint(n_samples))
    candidates = data[[first]].astype(np.float64) - shift
    seed = int(random_state.randint(np.iinfo(np.int32).max))
    rate_per_cost = KMEANS_PARALLEL_OVERSAMPLING * n_clusters
    starts = da.from_array(np.asarray(data.starts, dtype=np.int64), chunks=1)
    starts = starts[:, None]
    distances = None
    new = candidates
    for round_ in range(KMEANS_PARALLEL_ROUNDS):
        if new is not None:  # the running minimum, now with the new candidates
            previous = distances
            distances = da.map_blocks(
                _run_min_sq_distances,
                data.array,
                starts,
                new,
                shift,
                data.threads,
                *([] if previous is None else [previous[:, None]]),
                drop_axis=1,
                dtype=np.float64,
                meta=np.empty(0),
            ).persist()
            del previous
        cost = float(distances.sum().compute())
        if cost == 0:  # every row sits on a candidate already
            break
        draws = [
            dask.delayed(_block_draw_candidates)(
                block, block_distances, seed, round_, start, rate_per_cost / cost
            )
            for block, block_distances, start in zip(
                data.delayed_blocks(),
                distances.to_delayed().ravel(),
                data.starts,
                strict=True,
            )
        ]
        drawn = [rows for rows in dask.compute(*draws) if rows.shape[0]]
        new = np.concatenate(drawn) - shift if drawn else None
        if new is not None:
            candidates = np.concatenate([candidates, new])
    del distances
    _, weights, _ = lloyd_pass(data, candidates, shift)
    return candidates, weights


def _run_min_sq_distances(block, start, candidates, shift, threads, previous=None):
    with n_threads(_threads_here(threads)):
        return _block_min_sq_distances(
            block,
            int(start.ravel()[0]),
            candidates,
            shift,
            None if previous is None else previous.ravel(),
        )
