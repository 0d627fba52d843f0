"""Fixed row chunking for the parallel kernels.

Every parallel kernel splits the rows into ``n_chunks`` contiguous chunks, gives
each chunk its own statistics buffer, and sums the buffers in chunk order
afterwards. ``n_chunks`` depends only on the number of rows and on the size of one
buffer, never on the thread count, so a fit gives bit-identical results with 1 or
64 threads.
"""

import numpy as np

from .._config import jit

#: Rows below which another chunk is not worth its buffer.
MIN_CHUNK_ROWS = 2048
#: Upper bound on the chunk count (enough to balance many threads).
MAX_CHUNKS = 64
#: Budget for all chunk buffers together, in float64 values (16 MiB). Big
#: per-chunk buffers (full covariances, d=64, k=32: 1 MiB each) still get about
#: 15 chunks, enough to keep two threads balanced; small ones hit MAX_CHUNKS
#: first (d=16, k=64: 64 chunks, 9 MiB).
BUFFER_BUDGET = 1 << 21


def n_chunks_for(n_samples, buffer_size):
    """Choose the chunk count for ``n_samples`` rows and a buffer size.

    Parameters
    ----------
    n_samples : int
        Number of rows to split.
    buffer_size : int
        Number of float64 values in one chunk's statistics buffer.

    Returns
    -------
    int
        At least 1; at most ``MAX_CHUNKS``; chunks hold at least
        ``MIN_CHUNK_ROWS`` rows where possible; all buffers together stay within
        ``BUFFER_BUDGET`` values unless a single chunk needs more.
    """
    by_rows = -(-n_samples // MIN_CHUNK_ROWS)
    by_memory = max(1, BUFFER_BUDGET // max(1, buffer_size))
    return int(max(1, min(MAX_CHUNKS, by_rows, by_memory)))


@jit
def chunk_bounds(n_samples, n_chunks, chunk):
    """Half-open row range ``[start, stop)`` of chunk ``chunk``."""
    base = n_samples // n_chunks
    extra = n_samples % n_chunks
    start = chunk * base + min(chunk, extra)
    stop = start + base + (1 if chunk < extra else 0)
    return start, stop


def merge(buffers, into=None):
    """Sum per-chunk buffers in chunk order (axis 0), serially.

    Parameters
    ----------
    buffers : ndarray of shape (n_chunks, ...)
        One buffer per chunk.
    into : ndarray, default=None
        The running sum of the chunks before these (added to in place), so that
        buffers arriving in groups merge exactly as one array of them would.

    Returns
    -------
    ndarray
        The sum over chunks, accumulated chunk by chunk in float64.
    """
    first = 0
    if into is None:
        into = np.array(buffers[0], dtype=np.float64, copy=True)
        first = 1
    for chunk in range(first, buffers.shape[0]):
        into += buffers[chunk]
    return into
