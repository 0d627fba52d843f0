"""Compilation policy and thread control shared by every kernel.

All compiled code in fastem goes through :func:`jit` so that the caching and the
floating-point policy are set in one place:

- ``cache=True``: compiled machine code is kept on disk, so only the first import
  on a machine pays for compilation.
- ``fastmath`` allows contraction into FMAs and reassociation (so reductions can be
  vectorised) but never ``nnan``/``ninf``: NaN and inf must stay observable.
- ``error_model="numpy"``: a division by zero gives inf/NaN instead of raising,
  which lets the compiler vectorise loops that divide.

Results do not depend on the number of threads: kernels split the rows into a
number of chunks that depends only on the problem size (see
:mod:`fastem._kernels._reduce`) and merge the chunks in a fixed order.
"""

import contextlib
import threading

import numba

FASTMATH = frozenset({"contract", "reassoc", "nsz"})

_WORKQUEUE_LOCK = threading.Lock()


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
    return numba.njit(*args, **options)


def _threading_layer():
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return None


@contextlib.contextmanager
def parallel_region():
    """Guard a call into a parallel kernel.

    Numba's ``workqueue`` threading layer is not thread-safe: two Python threads
    entering parallel regions at once abort the process. When that layer is in
    use (or before the layer is known) calls are serialised with a lock; with
    the ``tbb`` or ``omp`` layers they run concurrently.
    """
    layer = _threading_layer()
    if layer in ("tbb", "omp"):
        yield
        return
    with _WORKQUEUE_LOCK:
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
