"""The blob generator of the test suite (the benchmarks have their own).

Isotropic Gaussian blobs from scikit-learn's ``make_blobs``, seeded, so that every
test can rebuild its data from a few numbers. ``conftest.py`` hands it out as the
``make_data`` fixture; modules that call it directly import it from here.
"""

from sklearn.datasets import make_blobs


def blobs(
    n_samples=300,
    n_features=3,
    n_centers=3,
    seed=0,
    std=1.0,
    dtype=None,
    center_box=(-6, 6),
    return_labels=False,
):
    """Return ``n_samples`` rows from ``n_centers`` isotropic Gaussian blobs.

    The defaults overlap enough that responsibilities are not 0/1; a small
    ``std`` in a wide ``center_box`` gives well-separated clusters. ``dtype``
    None keeps float64. With ``return_labels``, returns ``(X, labels)``.
    """
    X, labels = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_centers,
        cluster_std=std,
        center_box=center_box,
        random_state=seed,
    )
    if dtype is not None:
        X = X.astype(dtype)
    return (X, labels) if return_labels else X
