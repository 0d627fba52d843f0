"""k-means++ seeding in O(n_samples) memory, with scikit-learn's random draws.

k-means++ (Arthur and Vassilvitskii, "k-means++: the advantages of careful
seeding", ACM-SIAM Symposium on Discrete Algorithms (SODA), 2007) draws the
first center at random and each next one with probability proportional to the
squared distance of a row to its closest center so far; the greedy variant
scikit-learn runs draws ``2 + log(n_clusters)`` candidates per step and keeps
the one that lowers the potential most.

scikit-learn's :func:`sklearn.cluster.kmeans_plusplus` holds several arrays of
``n_samples`` floats at once (squared row norms, the cumulative potential, the
distances to every candidate) and the callers center a copy of ``X`` first. This
version does the same only while those arrays stay within
:data:`fastem._config.SEED_BYTES` (32 MiB). Beyond that it keeps one: the
squared distance of each row to its closest center, updated by a compiled pass
over ``X`` (:mod:`fastem._kernels.kmeans.seeding`: optionally shifted by a
center, without copying), or, for data that is not one C-contiguous array,
slab by slab in NumPy. It consumes ``random_state`` exactly as scikit-learn
does, computing the same quantities with the same formulas, so for float64 data
it selects the same rows (up to the last-bit rounding of the distances and of
sums over all rows, which can only matter on an exact tie).
"""

import math

import numpy as np

from . import _config
from ._config import slabs
from ._kernels._reduce import merge, n_chunks_for
from ._kernels.kmeans.seeding import seeding_pass


def _rows(X, start, stop, shift):
    rows = np.asarray(X[start:stop], dtype=np.float64)
    return rows if shift is None else rows - shift


def _sq_distances(X, start, stop, shift, centers):
    """Squared distances (len(centers), stop - start), scikit-learn's formula."""
    rows = _rows(X, start, stop, shift)
    return _distances_to(rows, np.einsum("ij,ij->i", rows, rows), centers)


def _distances_to(rows, row_norms, centers):
    """Squared distances of ``rows`` (with squared norms ``row_norms``)."""
    distances = -2.0 * (centers @ rows.T)
    distances += np.einsum("ij,ij->i", centers, centers)[:, None]
    distances += row_norms[None, :]
    np.maximum(distances, 0.0, out=distances)
    return distances


def _weights(sample_weight, start, stop):
    if sample_weight is None:
        return 1.0
    return sample_weight[start:stop]


def _first_center(n_samples, sample_weight, random_state):
    """``random_state.choice(n_samples, p=w / w.sum())`` without arrays of n.

    NumPy draws one uniform ``u`` and returns the number of entries of
    ``cdf = cumsum(p) / cumsum(p)[-1]`` that are <= ``u``; the cumulative sum is
    sequential, so it is rebuilt slab by slab with the running total carried.
    """
    total_weight = n_samples if sample_weight is None else sample_weight.sum()
    u = random_state.random_sample()

    def probabilities(start, stop):
        if sample_weight is None:
            return np.full(stop - start, 1.0 / total_weight)
        return sample_weight[start:stop] / total_weight

    last = 0.0
    for start, stop in slabs(n_samples):
        last = np.cumsum(np.concatenate(([last], probabilities(start, stop))))[-1]
    count = 0
    carry = 0.0
    for start, stop in slabs(n_samples):
        cdf = np.cumsum(np.concatenate(([carry], probabilities(start, stop))))
        carry = cdf[-1]
        count += int(np.count_nonzero(cdf[1:] / last <= u))
    return min(count, n_samples - 1)


def _search_cumulative(values, potential, sample_weight, n_samples):
    """``np.searchsorted(np.cumsum(w * potential), values)`` (side='left')."""
    order = np.argsort(values, kind="stable")
    found = np.full(values.shape[0], n_samples, dtype=np.int64)
    carry = 0.0
    pending = 0
    for start, stop in slabs(n_samples):
        terms = _weights(sample_weight, start, stop) * potential[start:stop]
        cumulative = np.cumsum(np.concatenate(([carry], terms)))[1:]
        carry = cumulative[-1]
        while pending < order.shape[0]:
            value = values[order[pending]]
            if cumulative[-1] < value:
                break
            found[order[pending]] = start + int(np.searchsorted(cumulative, value))
            pending += 1
    return found


class _Slabs:
    """The distances slab by slab in NumPy: any data, two reads per center.

    The three ways of :func:`kmeans_plusplus` share its loop: ``start`` gives
    the distances to the first center and their potential, ``search`` the rows
    that values of the cumulative potential fall on, ``potentials`` each
    candidate's potential if it were chosen, and ``closest_after`` the
    distances once the best candidate is.
    """

    def __init__(self, X, sample_weight, shift):
        self.X = X
        self.sample_weight = sample_weight
        self.shift = shift

    def _slab_weights(self, start, stop):
        return np.broadcast_to(
            _weights(self.sample_weight, start, stop), (stop - start,)
        )

    def start(self, center):
        """Return ``closest`` and its potential for the first center (1, d)."""
        closest = np.empty(self.X.shape[0])
        potential = 0.0
        for start, stop in slabs(self.X.shape[0]):
            closest[start:stop] = _sq_distances(
                self.X, start, stop, self.shift, center
            )[0]
            potential += float(
                np.dot(closest[start:stop], self._slab_weights(start, stop))
            )
        return closest, potential

    def search(self, values, closest):
        """Rows where ``values`` fall in the cumulative weighted ``closest``."""
        return _search_cumulative(values, closest, self.sample_weight, closest.shape[0])

    def candidates(self, candidate_ids):
        return np.vstack([_rows(self.X, i, i + 1, self.shift) for i in candidate_ids])

    def potentials(self, candidate_ids, closest):
        """Return the candidates (shifted rows) and their potentials."""
        candidates = self.candidates(candidate_ids)
        potentials = np.zeros(candidates.shape[0])
        for start, stop in slabs(self.X.shape[0]):
            distances = _sq_distances(self.X, start, stop, self.shift, candidates)
            np.minimum(closest[start:stop], distances, out=distances)
            potentials += distances @ self._slab_weights(start, stop)
        return candidates, potentials

    def closest_after(self, best, candidates, closest):
        """Return ``closest`` once ``candidates[best]`` is a center."""
        for start, stop in slabs(self.X.shape[0]):
            distances = _sq_distances(
                self.X, start, stop, self.shift, candidates[best : best + 1]
            )
            np.minimum(closest[start:stop], distances[0], out=closest[start:stop])
        return closest


class _InMemory(_Slabs):
    """scikit-learn's way: shifted rows, norms and candidate distances kept.

    Each center then costs one distance computation.
    """

    def __init__(self, X, sample_weight, shift):
        super().__init__(X, sample_weight, shift)
        self.rows = _rows(X, 0, X.shape[0], shift)
        self.row_norms = np.einsum("ij,ij->i", self.rows, self.rows)
        self.weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        self.distances = None

    def start(self, center):
        closest = _distances_to(self.rows, self.row_norms, center)[0]
        return closest, float(closest @ self.weights)

    def search(self, values, closest):
        # One cumulative sum, as scikit-learn's.
        weighted = (
            closest if self.sample_weight is None else self.sample_weight * closest
        )
        return np.searchsorted(np.cumsum(weighted), values)

    def potentials(self, candidate_ids, closest):
        candidates = self.rows[candidate_ids]
        self.distances = _distances_to(self.rows, self.row_norms, candidates)
        np.minimum(closest, self.distances, out=self.distances)
        return candidates, self.distances @ self.weights

    def closest_after(self, best, candidates, closest):
        return self.distances[best]


class _Compiled(_Slabs):
    """The compiled pass: one read of ``X`` per step and no temporaries.

    For C-contiguous float arrays
    (:func:`~fastem._kernels.kmeans.seeding.seeding_pass`).
    """

    def __init__(self, X, sample_weight, shift):
        super().__init__(X, sample_weight, shift)
        n_samples, n_features = X.shape
        self.X_readonly = _config.readonly(X)
        weights = np.empty(0) if sample_weight is None else sample_weight
        self.kernel_weights = _config.readonly(np.asarray(weights, dtype=np.float64))
        self.kernel_shift = (
            np.zeros(n_features) if shift is None else np.array(shift, float)
        )
        self.n_chunks = n_chunks_for(n_samples, 1)

    @staticmethod
    def takes(X):
        """Whether the pass can read ``X`` as it is (no copy)."""
        return (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.dtype in (np.float32, np.float64)
            and X.flags.c_contiguous
        )

    def step(self, candidates, closest, *, update):
        """Return the candidates' potentials (or the updated potential)."""
        candidates = np.ascontiguousarray(candidates, dtype=np.float64)
        pots = np.empty((self.n_chunks, candidates.shape[0]))
        norms = np.einsum("ij,ij->i", candidates, candidates)
        n_samples, n_features = self.X.shape
        _config.run_chunks(
            seeding_pass,
            self.n_chunks,
            self.X_readonly,
            self.kernel_weights,
            self.kernel_shift,
            candidates,
            norms,
            closest,
            pots,
            update,
            work=n_samples * n_features * (1 if update else candidates.shape[0]),
        )
        return merge(pots)

    def start(self, center):
        closest = np.full(self.X.shape[0], np.inf)
        return closest, float(self.step(center, closest, update=True)[0])

    def potentials(self, candidate_ids, closest):
        candidates = self.candidates(candidate_ids)
        return candidates, self.step(candidates, closest, update=False)

    def closest_after(self, best, candidates, closest):
        self.step(candidates[best : best + 1], closest, update=True)
        return closest


def _way(X, sample_weight, shift, n_local_trials):
    """Choose the way to seed ``X`` (see :func:`kmeans_plusplus`)."""
    n_samples, n_features = X.shape
    kept_bytes = 8 * n_samples * (n_features + 1 + n_local_trials)
    in_ram = isinstance(X, np.ndarray) and not isinstance(X, np.memmap)
    if n_samples <= _config.SLAB_ROWS or (in_ram and kept_bytes <= _config.SEED_BYTES):
        return _InMemory(X, sample_weight, shift)
    if _Compiled.takes(X):
        return _Compiled(X, sample_weight, shift)
    return _Slabs(X, sample_weight, shift)


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, random_state, shift=None):
    """Greedy k-means++ seeding, as :func:`sklearn.cluster.kmeans_plusplus`.

    Arthur and Vassilvitskii's k-means++ (SODA 2007) with scikit-learn's greedy
    candidate selection, reading ``X`` slab by slab.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, float32 or float64 (may be a memmap).
    n_clusters : int
        Number of centers.
    sample_weight : ndarray of shape (n_samples,) or None
        Row weights; None for unit weights.
    random_state : numpy.random.RandomState
        Consumed exactly as scikit-learn's seeding consumes it.
    shift : ndarray of shape (n_features,) or None
        Seed on ``X - shift`` (as scikit-learn's KMeans seeds on centered data)
        without making that copy.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), float64
        The chosen rows of ``X - shift``.
    indices : ndarray of shape (n_clusters,)
        Their row indices.
    """
    n_samples, n_features = X.shape
    n_local_trials = 2 + int(math.log(n_clusters))
    indices = np.empty(n_clusters, dtype=np.int64)
    centers = np.empty((n_clusters, n_features))

    indices[0] = _first_center(n_samples, sample_weight, random_state)
    centers[0] = _rows(X, indices[0], indices[0] + 1, shift)[0]
    # While they fit in SEED_BYTES (most fits), the shifted rows, their norms and
    # the candidates' distances are kept, as scikit-learn does: one distance
    # computation per center. Larger arrays go through the compiled pass (one
    # read of the rows per step, no temporaries); other data (blocks of an
    # array-like, a non-contiguous array) slab by slab, twice per center. Data
    # read in blocks, and memory maps, are read whole only when one slab.
    way = _way(X, sample_weight, shift, n_local_trials)
    closest, current_pot = way.start(centers[:1])
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = way.search(rand_vals, closest)
        np.clip(candidate_ids, None, n_samples - 1, out=candidate_ids)
        candidates, candidates_pot = way.potentials(candidate_ids, closest)
        best = int(np.argmin(candidates_pot))
        current_pot = float(candidates_pot[best])
        if c + 1 < n_clusters:  # the last center's distances are not used
            closest = way.closest_after(best, candidates, closest)
        indices[c] = candidate_ids[best]
        centers[c] = candidates[best]
    return centers, indices
