"""Column means and variances of the data, in parallel, in float64.

NumPy's ``X.var(axis=0)`` reads X on one thread and makes a temporary of X's
size; these kernels read it twice (sum, then squared deviations about the mean)
on every thread, in fixed chunks merged in order, without a temporary.
"""

import numpy as np

from .._config import jit, readonly, run_chunks
from ._reduce import chunk_bounds, merge, n_chunks_for


@jit
def _column_sums(first, last, X, center, power, out):
    """``out[chunk, f] = sum over the chunk's rows of (X[i, f] - center[f])**power``.

    For chunks ``first .. last - 1`` of ``out.shape[0]``; ``power`` is 1 or 2;
    the rows are summed in float64.
    """
    n_samples, n_features = X.shape
    n_chunks = out.shape[0]
    for chunk in range(first, last):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        totals = out[chunk]
        for f in range(n_features):
            totals[f] = 0.0
        for i in range(start, stop):
            for f in range(n_features):
                value = np.float64(X[i, f]) - center[f]
                totals[f] += value if power == 1 else value * value


#: Up to this many values NumPy does it (a float64 copy of at most 512 KiB): as
#: fast at that size, and a small fit then needs no compiled kernel for it.
NUMPY_VALUES = 1 << 16


def column_mean_var(X):
    """Return the column means and (population) variances of ``X`` in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
        The data; at least one row.

    Returns
    -------
    mean, var : ndarray of shape (n_features,), float64
        The variance is taken about the mean in a second pass (no cancellation).
        Rows are summed in order, in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem._kernels._moments import column_mean_var
    >>> column_mean_var(np.array([[1.0, 10.0], [3.0, 10.0]]))
    (array([ 2., 10.]), array([1., 0.]))
    """
    n_samples, n_features = X.shape
    if n_samples * n_features <= NUMPY_VALUES:
        values = X.astype(np.float64)
        mean = values.sum(axis=0) / n_samples
        values -= mean
        values *= values
        return mean, values.sum(axis=0) / n_samples
    X = readonly(X)
    n_chunks = n_chunks_for(n_samples, n_features)
    out = np.empty((n_chunks, n_features))
    work = n_samples * n_features
    run_chunks(_column_sums, n_chunks, X, np.zeros(n_features), 1, out, work=work)
    mean = merge(out) / n_samples
    run_chunks(_column_sums, n_chunks, X, mean, 2, out, work=work)
    return mean, merge(out) / n_samples
