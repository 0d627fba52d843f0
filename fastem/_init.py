"""Initial responsibilities, a slab of rows at a time.

scikit-learn builds an (n_samples, n_components) responsibility matrix to
initialise a mixture. Here the responsibilities come from a *source*,
``source(start, stop)``, that yields them for a slab of rows (one-hot rows from
labels, or uniform draws taken from the RandomState in
the same order as scikit-learn's single draw), so memory stays
O(slab x n_components) and the same seed gives the same start. The statistics
of a source are :func:`fastem.kernels._stats.stats_from_source`.
"""

import numpy as np


def one_hot_source(labels, n_components):
    """Return a responsibility source with one-hot rows from ``labels``."""

    def source(start, stop):
        resp = np.zeros((stop - start, n_components))
        resp[np.arange(stop - start), labels[start:stop]] = 1.0
        return resp

    return source


def nearest_center_source(X, centers, shift):
    """Return a source with one-hot rows at each row's nearest center.

    The labels a k-means fit ends with, recomputed for each slab instead of
    kept for every row (for data read block by block). ``centers`` are float64
    in the frame shifted by ``shift``, as the k-means kernels take them.
    """
    from .kernels._lloyd import _full_pass

    n_components = centers.shape[0]

    def source(start, stop):
        rows = np.ascontiguousarray(X[start:stop])
        labels = _full_pass(rows, np.empty(0), centers, shift, with_inertia=False)
        resp = np.zeros((stop - start, n_components))
        resp[np.arange(stop - start), labels.labels] = 1.0
        return resp

    return source


def choose_rows(random_state, n_samples, n_components, sample_weight=None):
    """``random_state.choice(n_samples, n_components, replace=False, p=...)``.

    scikit-learn's 'random_from_data' draw, with ``p`` the normalised weights
    when given. Unweighted, ``choice`` shuffles an int64 ``arange(n_samples)``
    and keeps the first rows; the shuffle's draws depend only on its length, so
    shuffling an int32 range instead gives the same rows and leaves
    ``random_state`` in the same state, with half the memory (4 bytes a row,
    freed on return).

    Returns
    -------
    ndarray of shape (n_components,), int64
    """
    if sample_weight is not None:
        p = sample_weight / sample_weight.sum()
        return np.array(
            random_state.choice(n_samples, size=n_components, replace=False, p=p)
        )
    if n_components > n_samples:  # choice's own error
        return random_state.choice(n_samples, size=n_components, replace=False)
    dtype = np.int32 if n_samples < 2**31 else np.int64
    order = np.arange(n_samples, dtype=dtype)
    random_state.shuffle(order)
    return order[:n_components].astype(np.int64)


def uniform_source(random_state, n_samples, n_components):
    """Return a source of row-normalised uniform draws, and a rewind callable.

    The draws are ``random_state.uniform(size=(n_samples, n_components))`` taken
    slab by slab: the same numbers scikit-learn's 'random' initialisation uses.
    Calling ``rewind()`` restarts the stream, so two passes see the same rows
    (and leaves ``random_state`` where one draw of the whole matrix would).
    """
    state = random_state.get_state()

    def rewind():
        random_state.set_state(state)

    def source(start, stop):
        resp = random_state.uniform(size=(stop - start, n_components))
        resp /= resp.sum(axis=1)[:, None]
        return resp

    return source, rewind
