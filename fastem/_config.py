"""Compilation policy and thread control shared by every kernel.

All compiled code in fastem goes through :func:`jit` so that the caching and the
floating-point policy are set in one place:

- ``cache=True``: compiled machine code is kept on disk, so only the first import
  on a machine pays for compilation (``fastem warmup`` pays it ahead of time).
  Where the cache cannot be written or read, kernels compile in memory with one
  :class:`fastem._cache.CacheWarning` instead of failing (see :mod:`fastem._cache`).
- ``fastmath`` allows contraction into FMAs and reassociation (so reductions can be
  vectorised) but never ``nnan``/``ninf``: NaN and inf must stay observable.
- ``error_model="numpy"``: a division by zero gives inf/NaN instead of raising,
  which lets the compiler vectorise loops that divide.

Results do not depend on the number of threads: kernels split the rows into a
number of chunks that depends only on the problem size (see
:mod:`fastem._kernels._reduce`) and merge the chunks in a fixed order.

Thread control lives here too, each piece scoped to a call and restored in
``finally``: :func:`kernel_region` (what every call into a parallel kernel runs
under: the lock for Numba's non-thread-safe ``workqueue`` layer and, for the
kernels that call BLAS from their own threads, a one-thread BLAS limit) and
:func:`n_threads` (Numba's thread count for a block of code).
"""

import contextlib
import threading

import numba

from . import _cache

FASTMATH = frozenset({"contract", "reassoc", "nsz"})

#: Rows per slab wherever a per-row (n_rows x n_components) array is made
#: outside the fused passes (initial responsibilities, k-means++ distances,
#: prediction helpers): memory stays O(SLAB_ROWS x n_components).
SLAB_ROWS = 1 << 14

#: With ``row_bytes``, :func:`slabs` caps each per-slab array at this size
#: (but takes at least ``MIN_SLAB_ROWS`` rows), so many components do not make
#: the slab arrays large next to the data (16,384 rows x 64 components of
#: float64 would be 8 MiB).
SLAB_BYTES = 1 << 20
MIN_SLAB_ROWS = 256


def slabs(n_samples, row_bytes=None):
    """Yield ``(start, stop)`` of consecutive slabs of rows.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    row_bytes : int, default=None
        Bytes per row of the largest per-slab array: slabs then hold at most
        ``SLAB_BYTES`` of it (never fewer than ``MIN_SLAB_ROWS`` rows nor more
        than ``SLAB_ROWS``). None: ``SLAB_ROWS`` rows.
    """
    rows = SLAB_ROWS
    if row_bytes:
        rows = min(SLAB_ROWS, max(MIN_SLAB_ROWS, SLAB_BYTES // int(row_bytes)))
    for start in range(0, n_samples, rows):
        yield start, min(start + rows, n_samples)


_WORKQUEUE_LOCK = threading.Lock()
_BLAS_LOCK = threading.Lock()
_BLAS_STATE = {"controller": None, "depth": 0, "limiter": None}


def jit(*args, parallel=False, **kwargs):
    """Compile a kernel with fastem's policy (a thin wrapper of ``numba.njit``).

    Parameters
    ----------
    *args
        Optional explicit signatures, passed to :func:`numba.njit`.
    parallel : bool, default=False
        Compile ``prange`` loops for parallel execution.
    **kwargs
        Further options for :func:`numba.njit`; they override the defaults.

    Returns
    -------
    decorator or dispatcher
        As :func:`numba.njit`.
    """
    options = {
        "cache": True,
        "nogil": True,
        "fastmath": set(FASTMATH),
        "error_model": "numpy",
        "parallel": parallel,
    }
    options.update(kwargs)
    return _cache.njit(*args, **options)


def _threading_layer():
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return None


#: Below this much work (about one multiply-add per unit: rows x components x
#: the family's per-component cost) a parallel kernel runs on the calling
#: thread alone: about half a millisecond of one core. A parallel region costs
#: a wake-up and a join of the other threads, and when another process holds
#: one of the cores, a wait for the descheduled thread's next time slice
#: (measured here: ~24 ms a call, whatever the size, up to 64,000 x 8 rows).
SERIAL_WORK = 1 << 20


def threads_for(work):
    """Numba threads for a kernel call of ``work`` units: 1 when small, else None.

    None leaves the current count (all cores, or the user's own
    ``numba.set_num_threads``). The kernels' chunking does not depend on the
    thread count, so the result is the same either way, bit for bit.
    """
    if work is not None and work < SERIAL_WORK:
        return 1
    return None


@contextlib.contextmanager
def parallel_region(work=None):
    """Guard a call into a parallel kernel, on one thread if ``work`` is small.

    Numba's ``workqueue`` threading layer is not thread-safe: two Python threads
    entering parallel regions at once abort the process. When that layer is in
    use (or before the layer is known) calls are serialised with a lock; with
    the ``tbb`` or ``omp`` layers they run concurrently.

    Parameters
    ----------
    work : int, default=None
        The call's work (see :data:`SERIAL_WORK`); below the threshold the
        call runs with one Numba thread (:func:`threads_for`).
    """
    with n_threads(threads_for(work)):
        layer = _threading_layer()
        if layer in ("tbb", "omp"):
            yield
            return
        with _WORKQUEUE_LOCK:
            yield


@contextlib.contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while a parallel kernel calls it.

    The kernels call BLAS from each of their own threads; a multi-threaded BLAS
    would oversubscribe the cores (or serialise the calls). Nested and concurrent
    uses share one limit (threadpoolctl), which is lifted when the last one
    exits, also when the kernel raises.
    """
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] == 0:
            if _BLAS_STATE["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _BLAS_STATE["controller"] = ThreadpoolController()
            controller = _BLAS_STATE["controller"]
            _BLAS_STATE["limiter"] = controller.limit(limits=1, user_api="blas")
        _BLAS_STATE["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["depth"] -= 1
            if _BLAS_STATE["depth"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


@contextlib.contextmanager
def kernel_region(*, uses_blas=False, work=None):
    """Run the body (one call into a parallel kernel) under fastem's thread policy.

    Parameters
    ----------
    uses_blas : bool, default=False
        The kernel calls BLAS from its own threads: hold BLAS at one thread
        (:func:`single_threaded_blas`) for the duration of the call.
    work : int, default=None
        The call's work, for :func:`parallel_region`.
    """
    with parallel_region(work):
        if not uses_blas:
            yield
            return
        with single_threaded_blas():
            yield


@contextlib.contextmanager
def n_threads(count):
    """Run the body with ``count`` Numba threads, restoring the previous count.

    Numba's thread count is local to the calling thread, so this does not affect
    fits running in other Python threads.

    Parameters
    ----------
    count : int or None
        Number of threads; ``None`` leaves the current setting.
    """
    if count is None:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
