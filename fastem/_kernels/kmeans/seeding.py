"""The k-means++ pass over in-memory data: candidate potentials, closest distances.

Greedy k-means++ (:mod:`fastem._seeding`) needs, per new center, the potential
``sum_i w_i min(closest_i, d(x_i, c))`` of each of a few candidate centers ``c``
and then, for the chosen one, the new ``closest``. On data too large to keep the
shifted rows and every candidate's distances (scikit-learn's way), NumPy has to
rebuild the shifted rows, their norms and a distance matrix slab by slab, twice
per center. :func:`seeding_pass` does either step in one read of the rows and no
temporary arrays, with scikit-learn's formula for the squared distance,
``max(-2 (x - s).c + ||c||^2 + ||x - s||^2, 0)``, per row.
"""

import numpy as np

from ..._config import jit
from .._reduce import chunk_bounds


@jit
def seeding_pass(
    first,
    last,
    X,
    sample_weight,
    shift,
    candidates,
    candidate_norms,
    closest,
    pots,
    update,
):
    """One k-means++ step over chunks ``first .. last - 1`` of ``pots.shape[0]``.

    Serial and ``nogil`` (:func:`fastem._config.run_chunks` runs ranges of
    chunks on several threads).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
        The data.
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
        Row weights; length 0 means all ones.
    shift : ndarray of shape (n_features,), float64
        Subtracted from every row first.
    candidates : ndarray of shape (n_candidates, n_features), float64
        Candidate centers, in the shifted frame.
    candidate_norms : ndarray of shape (n_candidates,), float64
        Their squared norms.
    closest : ndarray of shape (n_samples,), float64
        Squared distance of every row to its closest center so far (``inf``
        before the first). Updated with ``candidates[0]`` if ``update``.
    pots : ndarray of shape (n_chunks, n_candidates), float64
        Output, per chunk. Without ``update``:
        ``pots[chunk, j] = sum_i w_i min(closest_i, d(x_i, candidates[j]))``;
        with it, ``pots[chunk, 0] = sum_i w_i closest_i`` after the update.
    update : bool
        Move ``closest`` to ``min(closest, d(x, candidates[0]))`` instead of
        only computing the potentials.
    """
    n_samples, n_features = X.shape
    n_chunks, n_candidates = pots.shape
    weighted = sample_weight.shape[0] > 0
    row = np.empty(n_features)
    for chunk in range(first, last):
        start, stop = chunk_bounds(n_samples, n_chunks, chunk)
        for j in range(n_candidates):
            pots[chunk, j] = 0.0
        for i in range(start, stop):
            norm = 0.0
            for f in range(n_features):
                value = np.float64(X[i, f]) - shift[f]
                row[f] = value
                norm += value * value
            weight = sample_weight[i] if weighted else 1.0
            for j in range(n_candidates if not update else 1):
                dot = 0.0
                for f in range(n_features):
                    dot += row[f] * candidates[j, f]
                dist = -2.0 * dot + candidate_norms[j] + norm
                dist = 0.0 if dist < 0.0 else dist
                if closest[i] < dist:
                    dist = closest[i]
                if update:
                    closest[i] = dist
                pots[chunk, j] += weight * dist
