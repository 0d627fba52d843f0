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


def stepwise_kmeans(batches, centers, learning_decay, learning_offset):
    """Online k-means with stepwise averaged statistics (unweighted rows).

    Running per-sample cluster weights ``W`` and sums ``S`` start at 0 (the
    initial centers carry no weight); batch ``t = 1, 2, ...`` mixes in its
    per-cluster counts and sums over its number of rows with ``g = (t +
    learning_offset) ** -learning_decay``; each center with ``W > 0`` becomes
    ``S / W``, the others stay. Returns the centers after every batch.
    """
    centers = np.array(centers, dtype=np.float64)
    W = np.zeros(centers.shape[0])
    S = np.zeros_like(centers)
    history = []
    for t, X in enumerate(batches, start=1):
        _, sums, weights, _ = lloyd_step(X, centers)
        g = (t + learning_offset) ** -learning_decay
        W = (1 - g) * W + g * weights / len(X)
        S = (1 - g) * S + g * sums / len(X)
        centers = centers.copy()
        for k in range(len(W)):
            if W[k] > 0:
                centers[k] = S[k] / W[k]
        history.append(centers)
    return history
