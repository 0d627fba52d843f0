"""What a fit carries from one Lloyd pass to the next: sums, bounds, center moves.

Sums from the rows that changed
-------------------------------
Without sample weights, a fit's passes keep their per-chunk sums and weights
(:class:`LloydSums`) and update them with the rows whose label changed,
instead of summing every row again: the weights (counts) stay exact, the sums
differ from a fresh sum by rounding only, and rows whose label the bounds
proved are not read at all. Weighted passes recompute the sums, over the rows
in order.

Bounds
------
:class:`LloydBounds` adds Hamerly's per-row bounds (see :mod:`.bounded`) and the
centers they hold for; :func:`center_geometry` gives the center moves and
half-gaps that carry the bounds to the next centers.
"""

import numpy as np

from ..._config import jit
from .._reduce import merge


@jit
def clear_emptied(chunk_sums, chunk_weights):
    """Zero the sums of clusters left without rows (no rounding residue)."""
    for j in range(chunk_weights.shape[0]):
        if chunk_weights[j] == 0.0:
            for f in range(chunk_sums.shape[1]):
                chunk_sums[j, f] = 0.0


class LloydSums:
    """Per-chunk statistics carried from one Lloyd pass to the next.

    Attributes
    ----------
    sums, weights : ndarray of shape (n_chunks, n_clusters, n_features) and
        (n_chunks, n_clusters), or None
        Per-chunk statistics of the last pass's labels (``None`` before the
        first pass, and after a weighted one: weighted passes recompute them).
    n_changed : int or None
        Rows whose label the last pass changed, if it updated the statistics.
    """

    def __init__(self):
        self.sums = None
        self.weights = None
        self.n_changed = None

    def prepare(self, n_chunks, n_clusters, n_features, recompute):
        """Return whether the next pass can update the statistics.

        It can unless ``recompute`` (weighted rows, or no labels to update
        from) or there are none yet; then they are allocated afresh.
        """
        if self.sums is not None and not recompute:
            return True
        self.sums = np.empty((n_chunks, n_clusters, n_features))
        self.weights = np.empty((n_chunks, n_clusters))
        return False

    def merged(self, weighted, changed, update):
        """Return the merged sums and weights (then forget them if weighted).

        Records in ``n_changed`` how many rows changed cluster since the last
        pass when the pass updated the statistics (``None`` otherwise).
        """
        self.n_changed = int(changed.sum()) if update else None
        result = merge(self.sums), merge(self.weights)
        if weighted:
            self.sums = self.weights = None
        return result


class LloydBounds(LloydSums):
    """Distance bounds carried from one Lloyd pass to the next (Hamerly 2010).

    Parameters
    ----------
    n_samples : int
        Number of rows.

    Attributes
    ----------
    upper, lower : ndarray of shape (n_samples,), float32
        Upper bound of each row's distance to its center, lower bound of its
        distance to every other center, for the centers of the last pass
        (rounded up and down to float32).
    centers : ndarray of shape (n_clusters, n_features) or None
        The centers of the last pass (``None`` before the first one).
    sums, weights : ndarray of shape (n_chunks, n_clusters, n_features) and
        (n_chunks, n_clusters), or None
        Per-chunk statistics of the last pass's labels, updated from pass to
        pass when the rows are unweighted.
    """

    def __init__(self, n_samples):
        super().__init__()
        # float32, rounded outwards: half the memory and traffic of float64.
        self.upper = np.empty(n_samples, dtype=np.float32)
        self.lower = np.empty(n_samples, dtype=np.float32)
        self.centers = None


def center_geometry(previous, centers):
    """Return the center moves since ``previous``, largest other moves, half-gaps.

    Moves are rounded up and half-gaps down (relative ``1e-12``, far above the
    rounding of these small sums), so the bounds stay valid.
    """
    n_clusters = centers.shape[0]
    if previous is None:
        moves = np.zeros(n_clusters)
    else:
        moves = np.sqrt(((centers - previous) ** 2).sum(axis=1)) * (1.0 + 1e-12)
    if n_clusters == 1:
        return moves, np.zeros(1), np.full(1, np.inf)
    order = np.argsort(moves)
    other_moves = np.full(n_clusters, moves[order[-1]])
    other_moves[order[-1]] = moves[order[-2]]
    gaps = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(gaps, np.inf)
    half_gaps = 0.5 * np.sqrt(gaps.min(axis=1)) * (1.0 - 1e-12)
    return moves, other_moves, half_gaps
