"""Initial parameters from initial responsibilities, slab by slab.

scikit-learn builds an (n_samples, n_components) responsibility matrix to
initialise a mixture. Here the responsibilities come from a *source* that yields
them a slab of rows at a time (one-hot rows from labels, or uniform draws taken
from the RandomState in the same order as scikit-learn's single draw), so memory
stays O(slab x n_components) and the same seed gives the same start.
"""

import numpy as np

from ._mstep import NK_EPS

#: Rows per slab of initial responsibilities.
SLAB_ROWS = 4096


def one_hot_source(labels, n_components):
    """Return a responsibility source with one-hot rows from ``labels``."""

    def source(start, stop):
        resp = np.zeros((stop - start, n_components))
        resp[np.arange(stop - start), labels[start:stop]] = 1.0
        return resp

    return source, None


def uniform_source(random_state, n_samples, n_components):
    """Return a source of row-normalised uniform draws, and a rewind callable.

    The draws are ``random_state.uniform(size=(n_samples, n_components))`` taken
    slab by slab: the same numbers scikit-learn's 'random' initialisation uses.
    Calling ``rewind()`` restarts the stream, so two passes see the same rows.
    """
    state = random_state.get_state()

    def rewind():
        random_state.set_state(state)

    def source(start, stop):
        resp = random_state.uniform(size=(stop - start, n_components))
        resp /= resp.sum(axis=1)[:, None]
        return resp

    return source, rewind


def _slabs(n_samples):
    for start in range(0, n_samples, SLAB_ROWS):
        yield start, min(start + SLAB_ROWS, n_samples)


def _weighted(resp, sample_weight, start, stop):
    if sample_weight is None:
        return resp
    return resp * sample_weight[start:stop, None]


def parameters_from_resp(X, sample_weight, source, rewind, covariance_type, reg_covar):
    """Weights, means and covariances given initial responsibilities.

    Two passes: the means, then the scatter about them (no raw moments).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    source : callable
        ``source(start, stop)`` returns the (stop - start, n_components)
        responsibilities of those rows; called over the rows in order, twice.
    rewind : callable or None
        Called before the second pass when the source is a random stream.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float

    Returns
    -------
    weights : ndarray of shape (n_components,)
        ``(nk + 10 eps) / total weight`` as scikit-learn (not renormalised).
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
    """
    n_samples, n_features = X.shape
    nk = None
    sums = None
    if rewind is not None:
        rewind()
    for start, stop in _slabs(n_samples):
        resp = _weighted(source(start, stop), sample_weight, start, stop)
        xs = np.asarray(X[start:stop], dtype=np.float64)
        nk = resp.sum(axis=0) if nk is None else nk + resp.sum(axis=0)
        sums = resp.T @ xs if sums is None else sums + resp.T @ xs
    nk_eps = nk + NK_EPS
    means = sums / nk_eps[:, None]
    n_components = means.shape[0]

    if covariance_type in ("full", "tied"):
        scatter = np.zeros((n_components, n_features, n_features))
    else:
        scatter = np.zeros((n_components, n_features))
    if rewind is not None:
        rewind()
    for start, stop in _slabs(n_samples):
        source_rows = source(start, stop)
        resp = _weighted(source_rows, sample_weight, start, stop)
        xs = np.asarray(X[start:stop], dtype=np.float64)
        for k in range(n_components):
            dev = xs - means[k]
            if covariance_type in ("full", "tied"):
                scatter[k] += (dev * resp[:, k, None]).T @ dev
            else:
                scatter[k] += resp[:, k] @ (dev * dev)
        if covariance_type == "tied":
            # scikit-learn's tied start is X^T X - sum_k nk mu_k mu_k^T, which
            # also counts the rows whose responsibilities do not sum to one
            # (all but k rows for the one-hot 'random_from_data' and
            # 'k-means++' starts) as raw x x^T. Reproduce it: same seed, same
            # start.
            weight = 1.0 if sample_weight is None else sample_weight[start:stop]
            rest = (1.0 - source_rows.sum(axis=1)) * weight
            if np.any(rest != 0.0):
                scatter[0] += (xs * rest[:, None]).T @ xs

    total = n_samples if sample_weight is None else sample_weight.sum()
    weights = nk_eps / total
    diag = np.arange(n_features)
    if covariance_type == "full":
        covariances = scatter / nk_eps[:, None, None]
        covariances[:, diag, diag] += reg_covar
    elif covariance_type == "tied":
        covariances = scatter.sum(axis=0) / nk_eps.sum()
        covariances[diag, diag] += reg_covar
    else:
        covariances = scatter / nk_eps[:, None] + reg_covar
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
    return weights, means, covariances
