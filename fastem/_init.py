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
