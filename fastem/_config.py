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
``finally``: :func:`run_chunks` (how every kernel runs on several cores),
:func:`single_threaded_blas` (one BLAS thread while fastem owns the cores) and
:func:`n_threads` (Numba's thread count for a block of code).

The kernels are serial, ``nogil`` functions over a range of row chunks;
:func:`run_chunks` splits the chunks among a few threads of a small pool that
fastem keeps (the calling thread takes a share too). Numba's ``parallel=True``
would do the same work, but its parfor lowering made each kernel take several
times as long to compile (cold, the first fit paid tens of seconds), and its
OpenMP or workqueue threads cannot be entered from several Python threads at
once on every layer. The thread count is Numba's: ``numba.set_num_threads`` (or
``NUMBA_NUM_THREADS``) in the calling thread sets how many threads a kernel
uses, so a user's own setting wins.
"""

import concurrent.futures
import contextlib
import os
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

#: k-means++ keeps the shifted rows, their norms and every candidate's distances
#: (as scikit-learn does: one read of the data per center instead of two, and no
#: norms computed again) while those take at most this many bytes; above it, it
#: reads the data in slabs (``fastem._seeding``). 32 MiB covers 1e5 rows of 32
#: features; at 1e6 rows the slabs keep the seeding's memory a few percent of X.
SEED_BYTES = 1 << 25


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
    options = {"cache": True, "parallel": parallel, **hook_options()}
    options.update(kwargs)
    return _cache.njit(*args, **options)


def hook_options():
    """Fastem's compile options for code compiled inside a kernel (overloads).

    Returns
    -------
    dict
        ``nogil``, ``fastmath`` and ``error_model``, as :func:`jit` uses them.
    """
    return {"nogil": True, "fastmath": set(FASTMATH), "error_model": "numpy"}


#: Below this much work (about one multiply-add per unit: rows x components x
#: the family's per-component cost) a kernel runs on the calling thread alone:
#: about half a millisecond of one core. Using more threads costs waking them
#: and waiting for them, and when another process holds one of the cores, a
#: wait for the descheduled thread's next time slice (measured here with
#: Numba's OpenMP threads: ~24 ms a call, whatever the size, up to 64,000 x 8
#: rows; fastem's pool claims ranges of chunks, so such a wait now holds up
#: one range).
SERIAL_WORK = 1 << 20


_POOL = {"executor": None}
_POOL_LOCK = threading.Lock()


def _executor():
    """Return fastem's thread pool, made on first use."""
    with _POOL_LOCK:
        if _POOL["executor"] is None:
            workers = max(1, numba.config.NUMBA_NUM_THREADS - 1)
            _POOL["executor"] = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="fastem"
            )
        return _POOL["executor"]


def _forget_pool_after_fork():
    # A forked child has none of the parent's threads (and maybe a lock some
    # other thread held): it starts a pool and a lock of its own.
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()
    _POOL["executor"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def readonly(array):
    """Return a read-only view of ``array`` (``array`` itself if it is one).

    Numba compiles a kernel once per argument type, and a read-only array (a
    memory map opened with ``mmap_mode="r"``) has a type of its own. The
    kernels never write their input data, so every call passes it read-only:
    one compiled variant per dtype instead of two.
    """
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def chunk_ranges(n_chunks, n_parts):
    """Split chunks ``0 .. n_chunks - 1`` into ``n_parts`` contiguous ranges.

    Returns
    -------
    list of (int, int)
        Half-open ``[first, last)`` ranges, in order, as even as possible.
    """
    return [
        (part * n_chunks // n_parts, (part + 1) * n_chunks // n_parts)
        for part in range(n_parts)
    ]


def threads_for(n_chunks, work=None):
    """Threads a kernel call of ``n_chunks`` chunks and ``work`` units runs on.

    One when ``work`` is below :data:`SERIAL_WORK`; else Numba's thread count
    in the calling thread (all cores, or the user's own
    ``numba.set_num_threads``), at most one per chunk. The kernels' chunking does
    not depend on the thread count, so the result is the same either way, bit
    for bit.
    """
    if work is not None and work < SERIAL_WORK:
        return 1
    return max(1, min(n_chunks, numba.get_num_threads()))


#: Ranges of chunks per thread that a call is cut into. Threads claim ranges
#: one by one, so a thread that the system deschedules (another process on the
#: machine) holds up at most one range, not half of the call; each range is one
#: call into the compiled kernel (~10 us).
RANGES_PER_THREAD = 4


def run_chunks(kernel, n_chunks, *args, work=None):
    """Run ``kernel(first, last, *args)`` over all chunks, on several threads.

    Every kernel splits its rows into ``n_chunks`` fixed chunks (see
    :mod:`fastem._kernels._reduce`) and writes each chunk's results into that
    chunk's slot of its output arrays; which thread runs a chunk changes
    nothing, so results are the same bit for bit for any thread count. The
    calling thread and ``threads - 1`` threads of fastem's pool claim
    consecutive ranges of chunks until none is left.

    Parameters
    ----------
    kernel : callable
        A compiled ``nogil`` kernel taking the half-open chunk range
        ``[first, last)`` first.
    n_chunks : int
        Number of chunks.
    *args
        The kernel's other arguments.
    work : int, default=None
        The call's work (see :data:`SERIAL_WORK`): below the threshold the call
        runs on the calling thread alone.
    """
    threads = threads_for(n_chunks, work)
    if threads == 1:
        kernel(0, n_chunks, *args)
        return
    ranges = iter(chunk_ranges(n_chunks, min(n_chunks, RANGES_PER_THREAD * threads)))
    lock = threading.Lock()
    failed = []  # once a range fails (or Ctrl-C), no more ranges start

    def claim_and_run():
        while True:
            with lock:
                span = None if failed else next(ranges, None)
            if span is None:
                return
            try:
                kernel(*span, *args)
            except BaseException:
                failed.append(True)
                raise

    pool = _executor()
    futures = [pool.submit(claim_and_run) for _ in range(threads - 1)]
    try:
        claim_and_run()
    finally:
        concurrent.futures.wait(futures)
    for future in futures:
        future.result()  # re-raise a worker's exception


@contextlib.contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while fastem's own threads own the cores.

    A fit holds it, so that the M-step's small SciPy/NumPy calls do not wake a
    BLAS thread pool to spin against the kernels' threads on the same cores.
    Nested and concurrent uses share one limit (threadpoolctl), which is lifted
    when the last one exits, also when the body raises.
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
