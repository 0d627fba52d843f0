"""Online EM: ``partial_fit`` for :class:`GaussianMixture` and :class:`KMeans`.

Stepwise EM [1]_ [2]_ averages sufficient statistics, never parameters. Batch
``t = 1, 2, ...`` runs one E-step with the current parameters ``theta_{t-1}`` and
mixes its statistics, divided by the batch's total weight (per-sample statistics,
so that batches of different sizes mix alike), into the running ones::

    s_t = (1 - g_t) s_{t-1} + g_t s(batch_t; theta_{t-1}) / w(batch_t)
    g_t = (t + learning_offset) ** -learning_decay
    theta_t = M(s_t)

``M`` is the M-step of ``fit`` (:func:`fastem.kernels.m_step`, with the same
``reg_covar``, which keeps small early batches well posed). The statistics are
:class:`~fastem.kernels.SuffStats`, centered on means: the running statistics are
moved exactly to the means of each E-step (:meth:`SuffStats.about`) before they
mix, and accumulate in float64 whatever the batches' dtype.

Where the stream starts, ``s_0``:

- A Gaussian mixture starts from statistics of its current parameters,
  :func:`parameter_statistics`: ``M(s_0)`` gives those parameters back, and
  ``s_0`` carries the mass ``sum(weights_)``. On the first call the parameters
  are the initialisation of ``fit`` on the first batch, whose weights, as in
  scikit-learn, are the initial responsibilities' totals over the batch: mass 1
  for 'kmeans', 'random' and given ``weights_init``, but ``n_components / n``
  for the one-hot starts 'k-means++' and 'random_from_data' (a few rows of the
  batch), which then hardly weigh on ``s_1``. After ``fit`` (or edits to the
  fitted attributes) they are the fitted parameters, with mass 1.
- k-means starts, on the first call, from initial centers with no weight (as
  scikit-learn's ``MiniBatchKMeans``): the first step is a Lloyd iteration on
  the first batch for any step size. After ``fit``, the fitted centers weigh
  the fraction of the training rows in their cluster (``labels_``).

With ``learning_offset=0`` the first step size is 1: ``s_0`` is forgotten and
the first ``partial_fit`` is one EM (or Lloyd) iteration on its batch.

References
----------
.. [1] O. Cappe and E. Moulines, "On-line expectation-maximization algorithm for
   latent data models", Journal of the Royal Statistical Society: Series B
   71(3), 593-613, 2009 (the stepwise update of the statistics, and its
   convergence for step sizes with sum g_t = inf, sum g_t^2 < inf).
.. [2] P. Liang and D. Klein, "Online EM for unsupervised models", NAACL-HLT,
   611-619, 2009 (stepwise EM with g_t = (t + t0)^-a, 0.5 < a <= 1, and
   mini-batches).
"""

import numpy as np
from sklearn.utils import check_random_state

from . import _dask, kernels
from ._config import single_threaded_blas
from ._stream import column_mean, lloyd_pass, transaction
from ._validation import check_data, check_sample_weight
from .kernels._stats import SuffStats

__all__ = [
    "gaussian_mixture_partial_fit",
    "kmeans_partial_fit",
    "parameter_statistics",
    "step_size",
    "stepwise_update",
]


def step_size(step, learning_decay, learning_offset):
    """Return the weight ``g_t = (t + t0) ** -a`` of the batch of step ``t``.

    Parameters
    ----------
    step : int
        ``t``, counted from 1 for the first batch of a stream.
    learning_decay : float
        ``a``, in (0.5, 1].
    learning_offset : float
        ``t0``, at least 0.

    Returns
    -------
    float
        In (0, 1]; 1 for the first step when ``learning_offset`` is 0.

    Examples
    --------
    >>> step_size(1, 0.7, 0.0), round(step_size(1, 0.7, 10.0), 4)
    (1.0, 0.1866)
    """
    return float((step + learning_offset) ** -learning_decay)


def parameter_statistics(weights, means, covariances, covariance_type, reg_covar):
    """Per-sample statistics whose M-step gives the parameters back.

    The starting point ``s_0`` of a stream from given parameters: about
    ``means``, ``nk = weights``, ``sum_dev = 0`` and scatter ``nk (Sigma_k -
    reg_covar I)``, so that :func:`fastem.kernels.m_step` with ``reg_covar``
    returns ``weights`` (normalised), ``means`` and ``covariances`` up to the
    ``10 eps`` it adds to every ``nk``. Its mass, ``sum(weights)``, is how much
    the parameters weigh against the batches that follow.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shaped as ``GaussianMixture.covariances_``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float
        The regularisation the M-step will add back.

    Returns
    -------
    SuffStats
        ``weight`` is the mass, ``log_likelihood`` 0.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.kernels import m_step
    >>> stats = parameter_statistics(
    ...     np.array([0.25, 0.75]), np.array([[0.0], [5.0]]),
    ...     np.array([[1.0], [2.0]]), "diag", 1e-6)
    >>> params = m_step(stats, "diag", 1e-6)
    >>> params.weights, params.covariances
    (array([0.25, 0.75]), array([[1.],
           [2.]]))
    """
    nk = np.array(weights, dtype=np.float64)
    means = np.array(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    n_components, n_features = means.shape
    if covariance_type == "full":
        scatter = covariances - reg_covar * np.eye(n_features)
        scatter = nk[:, None, None] * scatter
    elif covariance_type == "tied":
        scatter = nk.sum() * (covariances - reg_covar * np.eye(n_features))
    elif covariance_type == "diag":
        scatter = nk[:, None] * (covariances - reg_covar)
    else:
        variances = np.broadcast_to(covariances[:, None], (n_components, n_features))
        scatter = nk[:, None] * (variances - reg_covar)
    return SuffStats(
        covariance_type,
        means,
        nk,
        np.zeros_like(means),
        scatter,
        0.0,
        float(nk.sum()),
    )


def stepwise_update(running, batch, step):
    """``(1 - g) running + g batch / batch.weight``, about the batch's means.

    Parameters
    ----------
    running : SuffStats
        The running per-sample statistics, about any means (moved exactly to
        the batch's).
    batch : SuffStats
        One E-step's statistics of a batch (summed over its rows).
    step : float
        The step size ``g`` in (0, 1].

    Returns
    -------
    SuffStats
        About ``batch.means``, in ``batch``'s dtype; ``log_likelihood`` and
        ``weight`` are mixed too (the batch's per sample).
    """
    old = 1.0 - step
    new = step / batch.weight
    running = running.about(batch.means)
    return SuffStats(
        batch.covariance_type,
        batch.means,
        old * running.nk + new * batch.nk,
        old * running.sum_dev + new * batch.sum_dev,
        old * running.scatter + new * batch.scatter,
        old * running.log_likelihood + new * batch.log_likelihood,
        old * running.weight + step,
        dtype=batch.dtype,
    )


def _check_batch(estimator, X, sample_weight, parameter):
    """Check the parameters, a batch and its weights; ``(X, weights, fitted)``.

    ``fitted``: the model has ``parameter`` (its means or centers), whose width
    the batch must then have.
    """
    estimator._validate_params()
    fitted = hasattr(estimator, parameter)
    if _dask.is_dask_array(X):  # a batch is meant to fit in memory
        X = X.compute()
    # n_features_in_ is set by the first call (or one on a model built by hand).
    X = check_data(estimator, X, reset=not hasattr(estimator, "n_features_in_"))
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    if fitted:
        _check_width(X, np.shape(getattr(estimator, parameter))[1])
    return X, sample_weight, fitted


def _check_width(X, n_features):
    """Raise if a model without ``n_features_in_`` gets a batch of another width."""
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the model has {n_features} "
            "(the width of its means or centers)."
        )


def _total_weight(n_samples, sample_weight):
    return float(n_samples if sample_weight is None else sample_weight.sum())


# -- GaussianMixture -------------------------------------------------------------


def gaussian_mixture_partial_fit(estimator, X, sample_weight):
    """One stepwise-EM update of a Gaussian mixture with the batch ``X``.

    What :meth:`fastem.GaussianMixture.partial_fit` runs (see there for the
    attributes). The first call, or the first after the fitted attributes were
    changed by ``fit`` or by hand, starts the stream (step counter 0) from
    :func:`parameter_statistics` of the model's parameters, the first call after
    initialising them on ``X`` as ``fit`` does. If anything raises, the
    estimator is left as it was.
    """
    with transaction(estimator):
        X, sample_weight, fitted = _check_batch(estimator, X, sample_weight, "means_")
        if not fitted:
            estimator._check_fit_input(X, sample_weight)
            random_state = check_random_state(estimator.random_state)
            estimator._initialize_parameters(X, random_state, sample_weight)
        step, running, lower_bounds = _mixture_stream(estimator)

        stats = estimator._e_step(X, sample_weight)
        lower_bound = estimator._compute_lower_bound(stats)
        step += 1
        g = step_size(step, estimator.learning_decay, estimator.learning_offset)
        running = stepwise_update(running, stats, g)
        # The M-step factorises k (d, d) matrices: on several BLAS threads each
        # small call waits for the threads to wake (measured at 16 x 16 on a busy
        # 2-core machine: 7.8 ms against 0.1 ms for one solve_triangular), which
        # is paid once per batch here, against once per pass over all rows in fit.
        with single_threaded_blas():
            params = kernels.m_step(
                running, estimator.covariance_type, estimator.reg_covar
            )
        running = running.about(params.means)

        # Nothing below raises.
        estimator._set_parameters(params)
        # A copy: editing an attribute in place must not edit the record too.
        parameters = tuple(value.copy() for value in estimator._get_parameters())
        estimator._store_dtype(X.dtype)
        estimator.converged_ = False
        estimator.n_iter_ = step
        estimator.lower_bound_ = lower_bound
        estimator._online_state = {
            "step": step,
            "nk": running.nk,
            "sum_dev": running.sum_dev,
            "scatter": running.scatter,
            "parameters": parameters,
        }
        lower_bounds.append(lower_bound)
        estimator.lower_bounds_ = lower_bounds


def _mixture_stream(estimator):
    """``(step, running statistics, lower bounds so far)`` to continue from.

    The stored stream if the fitted attributes are still the parameters it
    produced; otherwise a new one from the attributes.
    """
    parameters = estimator._get_parameters()
    state = getattr(estimator, "_online_state", None)
    if state is not None and _same_arrays(state["parameters"], parameters):
        running = SuffStats(
            estimator.covariance_type,
            parameters[1],
            state["nk"],
            state["sum_dev"],
            state["scatter"],
            0.0,
            1.0,
        )
        return state["step"], running, estimator.lower_bounds_
    weights, means, covariances, _ = parameters
    running = parameter_statistics(
        weights, means, covariances, estimator.covariance_type, estimator.reg_covar
    )
    return 0, running, []


def _same_arrays(first, second):
    return len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )


# -- KMeans ----------------------------------------------------------------------


def kmeans_partial_fit(estimator, X, sample_weight):
    """One stepwise update of k-means centers with the batch ``X``.

    The hard-assignment limit of :func:`gaussian_mixture_partial_fit`: the
    running statistics are the per-sample cluster weights and weighted sums,
    the centers their ratio; a cluster with no running weight keeps its center.
    What :meth:`fastem.KMeans.partial_fit` runs (see there for the attributes).
    If anything raises, the estimator is left as it was.
    """
    with transaction(estimator):
        X, sample_weight, fitted = _check_batch(
            estimator, X, sample_weight, "cluster_centers_"
        )
        if fitted:
            step, centers, weights, sums = _kmeans_stream(estimator)
        else:
            centers = _initial_kmeans_centers(estimator, X, sample_weight)
            step = 0
            weights = np.zeros(estimator.n_clusters)
            sums = np.zeros_like(centers)

        lloyd = _lloyd_statistics(X, sample_weight, centers)
        total = _total_weight(X.shape[0], sample_weight)
        step += 1
        g = step_size(step, estimator.learning_decay, estimator.learning_offset)
        new = g / total
        weights = (1.0 - g) * weights + new * lloyd.weights
        sums = (1.0 - g) * sums + new * lloyd.sums
        live = weights > 0
        centers = centers.copy()
        centers[live] = sums[live] * (1.0 / weights[live])[:, None]

        # Nothing below raises.
        estimator.cluster_centers_ = centers.astype(X.dtype)
        estimator._n_features_out = centers.shape[0]
        estimator.labels_ = lloyd.labels
        estimator.inertia_ = lloyd.inertia
        estimator.n_iter_ = step
        estimator._online_state = {
            "step": step,
            "weights": weights,
            "sums": sums,
            "centers": centers,
        }


def _lloyd_statistics(X, sample_weight, centers):
    """One Lloyd pass over the batch (in blocks if streamed), sums unshifted."""
    shift = centers.mean(axis=0)
    labels = np.empty(X.shape[0], dtype=np.int32)
    step = lloyd_pass(
        X,
        np.empty(0) if sample_weight is None else sample_weight,
        centers - shift,
        shift,
        labels,
        inertia="pass",
    )
    return step._replace(sums=step.sums + step.weights[:, None] * shift)


def _initial_kmeans_centers(estimator, X, sample_weight):
    """``fit``'s initial centers (one run) on the first batch, in float64."""
    n_clusters = estimator.n_clusters
    if X.shape[0] < n_clusters:
        raise ValueError(
            f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}."
        )
    random_state = check_random_state(estimator.random_state)
    X_mean = column_mean(X)
    init_weight = None if sample_weight is None else sample_weight.astype(X.dtype)
    (centers,) = estimator._initial_centers(X, X_mean, init_weight, random_state, 1)
    return centers + X_mean.astype(np.float64)


def _kmeans_stream(estimator):
    """``(step, centers, weights, sums)`` to continue from (see _mixture_stream).

    A new stream gives each fitted center the fraction of ``labels_`` in its
    cluster (``1 / n_clusters`` each without usable labels).
    """
    attribute = np.asarray(estimator.cluster_centers_)
    state = getattr(estimator, "_online_state", None)
    if (
        state is not None
        and state["centers"].shape == attribute.shape
        and np.array_equal(state["centers"].astype(attribute.dtype), attribute)
    ):
        return state["step"], state["centers"], state["weights"], state["sums"]
    centers = attribute.astype(np.float64)
    n_clusters = centers.shape[0]
    labels = np.asarray(getattr(estimator, "labels_", []))
    if (
        labels.ndim == 1
        and labels.size
        and labels.dtype.kind in "iu"
        and labels.min() >= 0
        and labels.max() < n_clusters
    ):
        weights = np.bincount(labels, minlength=n_clusters) / labels.size
    else:
        weights = np.full(n_clusters, 1.0 / n_clusters)
    return 0, centers, weights, weights[:, None] * centers
