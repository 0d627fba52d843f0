"""Input checks shared by the estimators, with their error texts.

Everything here runs before any compiled kernel, so kernels only ever see finite,
C-contiguous float32/float64 data and well-formed parameters.
"""

import numbers
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data


def check_data(estimator, X, *, reset, ensure_min_samples=1):
    """Validate ``X`` for an estimator and return it as a C-contiguous array.

    float32 input stays float32 (the kernels read it as such and accumulate in
    float64); everything else becomes float64. NaN, inf, complex and string data,
    wrong dimensionality and empty input raise ``ValueError`` (scikit-learn's
    messages); with ``reset=False`` a different number of features raises too.

    A memmap or a non-NumPy 2-D array-like (h5py, zarr) is not converted: it is
    returned as :class:`fastem._stream.Blocks`, read block by block by the
    passes, its shape checked here and its values in the first pass. A
    ``dask.array.Array`` is returned as :class:`fastem._dask.DaskData`, whose
    passes run on the blocks where they live.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator; ``n_features_in_``/``feature_names_in_`` are set on it when
        ``reset`` is true and checked against otherwise.
    X : array-like of shape (n_samples, n_features)
        The data.
    reset : bool
        True in ``fit``, False in ``predict`` and friends.
    ensure_min_samples : int, default=1
        Minimum number of rows.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous, \
            or Blocks or DaskData
    """
    from . import _dask
    from ._stream import as_data, is_streamed

    if _dask.is_dask_array(X):
        return _dask.as_data(
            X, estimator, reset=reset, ensure_min_samples=ensure_min_samples
        )
    if is_streamed(X):
        return as_data(X, estimator, reset=reset, ensure_min_samples=ensure_min_samples)
    X = validate_data(
        estimator,
        X,
        dtype=[np.float64, np.float32],
        order="C",
        ensure_min_samples=ensure_min_samples,
        reset=reset,
    )
    return np.ascontiguousarray(X)


def check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight`` and return it as a float64 array (or ``None``).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
        Non-negative finite weights; a scalar weights every row equally.
    n_samples : int
        Number of rows of ``X``.

    Returns
    -------
    ndarray of shape (n_samples,) or None
        ``None`` when every row has the same weight (the kernels then skip the
        multiplications); the weights otherwise.

    Raises
    ------
    TypeError
        For non-numeric weights.
    ValueError
        For a wrong shape, NaN, inf, negative weights or all weights zero.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(
        sample_weight, bool
    ):
        if not np.isfinite(sample_weight) or sample_weight <= 0:
            raise ValueError(
                "sample_weight must be a positive finite number, an array of "
                f"shape ({n_samples},) or None, got {sample_weight!r}."
            )
        return None
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(
            "sample_weight must contain real numbers, got an array of dtype "
            f"{weights.dtype}."
        )
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {weights.shape}, expected ({n_samples},)."
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite, got NaN or inf.")
    if np.any(weights < 0):
        raise ValueError("Negative values in data passed to sample_weight.")
    if not np.any(weights > 0):
        raise ValueError(
            "sample_weight must have at least one positive entry, got all weights zero."
        )
    return weights


def check_n_components(n_components, n_samples, *, name="n_components"):
    """Raise unless there are at least as many rows as components."""
    if n_samples < n_components:
        raise ValueError(
            f"Expected n_samples >= {name} but got {name} = {n_components}, "
            f"n_samples = {n_samples}"
        )


def check_shape(array, shape, name):
    """Raise ``ValueError`` unless ``array.shape == shape``."""
    if array.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, "
            f"but got {array.shape}"
        )


def check_precision(values, covariance_type):
    """Raise scikit-learn's ``ValueError`` unless ``values`` are valid precisions.

    'full' and 'tied': every trailing (d, d) matrix symmetric positive definite;
    'diag' and 'spherical': every value positive. The message names
    ``'<covariance_type> precision'``, as scikit-learn's does for both
    ``precisions_init`` and ``covariance_prior``.
    """
    if covariance_type in ("full", "tied"):
        for matrix in values.reshape((-1,) + values.shape[-2:]):
            if not (
                np.allclose(matrix, matrix.T)
                and np.all(np.linalg.eigvalsh(matrix) > 0.0)
            ):
                raise ValueError(
                    f"'{covariance_type} precision' should be symmetric, "
                    "positive-definite"
                )
    elif np.any(values <= 0.0):
        raise ValueError(f"'{covariance_type} precision' should be positive")


def as_float_array(array, name, dtype=np.float64):
    """Convert a user-given parameter array to a finite float array.

    Parameters
    ----------
    array : array-like
        The user's value.
    name : str
        Its parameter name, for the error message.
    dtype : dtype, default=np.float64
        Target dtype.

    Returns
    -------
    ndarray
        A C-contiguous copy.
    """
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"The parameter '{name}' must contain real numbers, got dtype "
            f"{values.dtype}."
        )
    values = np.array(values, dtype=dtype, order="C", copy=True)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"The parameter '{name}' must be finite, got NaN or inf.")
    return values


# -- parameter constraints -----------------------------------------------------
#
# fastem owns its estimators' constraints: copying them from scikit-learn's class
# at run time finds fastem's own class once ``fastem.patch_sklearn`` has put it
# under scikit-learn's name (and recurses). They are written in scikit-learn's
# vocabulary (``sklearn.utils._param_validation``, already imported by
# ``sklearn.base``), as in scikit-learn 1.9, so the error messages are the same
# word for word; ``tests/test_patch.py`` checks them against the installed
# scikit-learn, key by key, on good and bad values.

#: ``sklearn.mixture._base.BaseMixture._parameter_constraints``.
BASE_MIXTURE_CONSTRAINTS = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "reg_covar": [Interval(Real, 0.0, None, closed="left")],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "n_init": [Interval(Integral, 1, None, closed="left")],
    "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
    "verbose_interval": [Interval(Integral, 1, None, closed="left")],
}

#: fastem's own parameters of ``partial_fit`` (online EM), which scikit-learn's
#: GaussianMixture and KMeans do not have. The step size of update ``t = 1, 2,
#: ...`` is ``(t + learning_offset) ** -learning_decay``:
#:
#: - ``learning_decay`` in (0.5, 1]: the step sizes then sum to infinity while
#:   their squares do not (Robbins and Monro's conditions, under which Cappe and
#:   Moulines 2009 prove convergence); scikit-learn's LatentDirichletAllocation
#:   recommends the same range in its docs but accepts [0, 1].
#: - ``learning_offset`` in [0, inf): with ``t >= 1`` every step size is then in
#:   (0, 1], so the running statistics stay a convex combination (a step above 1
#:   would weight the old statistics negatively and can make a covariance
#:   indefinite); 0 is allowed so that the first step can be 1 (a plain EM
#:   iteration on the first batch), unlike LatentDirichletAllocation's ``>= 1``;
#:   infinity is not (every step would be 0: the model would never learn).
ONLINE_CONSTRAINTS = {
    "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
    "learning_offset": [Interval(Real, 0.0, np.inf, closed="left")],
}

#: ``sklearn.mixture.GaussianMixture._parameter_constraints``, plus
#: :data:`ONLINE_CONSTRAINTS`.
GAUSSIAN_MIXTURE_CONSTRAINTS = {
    **BASE_MIXTURE_CONSTRAINTS,
    "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
    "weights_init": ["array-like", None],
    "means_init": ["array-like", None],
    "precisions_init": ["array-like", None],
    **ONLINE_CONSTRAINTS,
}

#: ``sklearn.mixture.BayesianGaussianMixture._parameter_constraints``.
BAYESIAN_MIXTURE_CONSTRAINTS = {
    **BASE_MIXTURE_CONSTRAINTS,
    "covariance_type": [StrOptions({"spherical", "tied", "diag", "full"})],
    "weight_concentration_prior_type": [
        StrOptions({"dirichlet_process", "dirichlet_distribution"})
    ],
    "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "mean_prior": [None, "array-like"],
    "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
    "covariance_prior": [
        None,
        "array-like",
        Interval(Real, 0.0, None, closed="neither"),
    ],
}

#: ``sklearn.cluster.KMeans._parameter_constraints``, plus
#: :data:`ONLINE_CONSTRAINTS`.
KMEANS_CONSTRAINTS = {
    "n_clusters": [Interval(Integral, 1, None, closed="left")],
    "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
    "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
    "copy_x": ["boolean"],
    "algorithm": [StrOptions({"lloyd", "elkan"})],
    **ONLINE_CONSTRAINTS,
}
