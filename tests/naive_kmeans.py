"""Plain-NumPy references for the k-means kernels: slow, obviously correct."""

import numpy as np


def lloyd_step(X, centers, sample_weight=None):
    """Labels, per-cluster weighted sums and weights, and inertia of one step."""
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    n_samples = X.shape[0]
    n_clusters = centers.shape[0]
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    labels = np.empty(n_samples, dtype=np.int32)
    dist = np.empty(n_samples)
    for i in range(n_samples):
        d2 = ((X[i] - centers) ** 2).sum(axis=1)
        labels[i] = np.argmin(d2)
        dist[i] = d2[labels[i]]
    sums = np.zeros_like(centers)
    weights = np.zeros(n_clusters)
    for i in range(n_samples):
        sums[labels[i]] += w[i] * X[i]
        weights[labels[i]] += w[i]
    return labels, sums, weights, float(np.dot(w, dist))


def distances(X, centers):
    """Euclidean distance of every row to every center."""
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    return np.sqrt(((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))


def lloyd(X, centers, sample_weight=None, n_iter=10):
    """``n_iter`` plain Lloyd iterations (no empty clusters expected).

    Returns the centers after the last update and the labels against them.
    """
    centers = np.asarray(centers, dtype=np.float64)
    for _ in range(n_iter):
        _, sums, weights, _ = lloyd_step(X, centers, sample_weight)
        assert np.all(weights > 0), "the reference does not relocate clusters"
        centers = sums / weights[:, None]
    labels, _, _, inertia = lloyd_step(X, centers, sample_weight)
    return centers, labels, inertia
