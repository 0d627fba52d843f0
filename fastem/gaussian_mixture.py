"""Gaussian mixture model fitted by one-pass compiled EM."""

import math

import numpy as np

from . import _online, kernels
from ._base import BaseEMMixture
from ._validation import (
    GAUSSIAN_MIXTURE_CONSTRAINTS,
    as_float_array,
    check_precision,
    check_shape,
)
from .kernels import _mstep
from .kernels._gaussian import _expected_chol_shape
from .kernels._stats import NK_EPS


class GaussianMixture(BaseEMMixture):
    """Gaussian mixture, a drop-in replacement for scikit-learn's.

    The constructor, methods, fitted attributes and error messages are those of
    :class:`sklearn.mixture.GaussianMixture`; from the same initial parameters
    the fitted parameters agree with scikit-learn's to rounding. Each EM
    iteration is one parallel compiled pass over ``X`` that computes the
    log-densities, responsibilities, log-likelihood and sufficient statistics
    without ever storing an (n_samples, n_components) array, so a fit needs
    almost no memory beyond ``X``. The first fit in a fresh environment compiles
    the kernels (cached on disk afterwards).

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own general covariance matrix; 'tied':
        all components share one; 'diag': each has its own diagonal covariance;
        'spherical': each has its own single variance.
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample mean lower bound.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How the responsibilities are initialised. 'kmeans' runs fastem's own
        compiled Lloyd iterations (:class:`fastem.KMeans`); 'random' and
        'random_from_data' draw from ``random_state`` exactly as scikit-learn
        does.
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions (inverse covariances), shaped by
        ``covariance_type`` as ``precisions_``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` is then
        ignored).
    verbose : int, default=0
        1 prints the initialisation and each iteration, 2 also timings and the
        change of the lower bound.
    verbose_interval : int, default=10
        Iterations between two messages.
    learning_decay : float, default=0.7
        :meth:`partial_fit` only (a fastem addition): the exponent ``a`` in
        (0.5, 1] of the step size ``(t + learning_offset) ** -a`` given to batch
        ``t``. Larger values forget the early batches faster. Called kappa in
        the literature, as in scikit-learn's LatentDirichletAllocation.
    learning_offset : float, default=10.0
        :meth:`partial_fit` only (a fastem addition): the offset ``t0 >= 0`` of
        the step size; larger values make the first steps smaller, so the
        starting model and the early batches weigh more. With 0 the first step
        is 1: the first ``partial_fit`` is then one EM iteration on its batch.
        Called tau_0 in the literature.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixture weights.
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray
        Component covariances, shaped by ``covariance_type``.
    precisions_ : ndarray
        Inverses of the covariances.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of the precisions.
    converged_ : bool
        Whether the best fit converged.
    n_iter_ : int
        Iterations run by the best fit.
    lower_bound_ : float
        Per-sample mean log-likelihood of the best fit (before its last M-step).
    lower_bounds_ : list of float
        The lower bound at each iteration of the best fit.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, for DataFrame input with string columns.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The reference implementation.
    fastem.kernels.suff_stats : The compiled pass one iteration runs.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_[np.argsort(gm.means_[:, 0])]
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])[0] != gm.predict([[0, 0], [12, 3]])[1]
    np.True_
    """

    _parameter_constraints = GAUSSIAN_MIXTURE_CONSTRAINTS

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        super().__init__(
            n_components=n_components,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
        )
        self.covariance_type = covariance_type
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of rows (stepwise online EM).

        Stepwise EM (Cappe and Moulines 2009; Liang and Klein 2009): batch ``t``
        runs one E-step with the current parameters, its sufficient statistics
        divided by the batch's total weight are mixed into running ones,
        ``s <- (1 - g_t) s + g_t s_batch`` with ``g_t = (t + learning_offset)
        ** -learning_decay``, and the parameters become the M-step of ``s``
        (with ``reg_covar``, as in :meth:`fit`). Statistics, not parameters,
        are averaged, in float64 for float32 batches too. See
        :mod:`fastem._online`.

        The first call initialises the model on its batch as :meth:`fit` does
        (``init_params``, ``random_state``, ``weights_init``, ``means_init``,
        ``precisions_init``) and starts the running statistics from those
        parameters, then takes the first step. A call on a model fitted by
        :meth:`fit`, or whose fitted attributes were changed since the last
        ``partial_fit``, starts a new stream (step counter 0) from the model's
        parameters, which then weigh like ``(1 + learning_offset) **
        learning_decay - 1`` times the first batch (about 4.4 with the
        defaults). ``n_init``, ``max_iter``, ``tol``, ``warm_start`` and
        ``verbose`` are not used. A later :meth:`fit` starts from scratch
        (unless ``warm_start``).

        A batch that is rejected (wrong width, NaN or inf, empty, not 2-D, bad
        ``sample_weight``), or whose update fails, raises and leaves the
        estimator exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of rows; the first needs at least ``n_components`` rows.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: an integer weight acts as that many copies
            of the row. Each batch weighs ``g_t`` in total, whatever its size
            or weights.

        Returns
        -------
        self : object
            The updated mixture. It sets the attributes :meth:`fit` sets (the
            parameters in the batch's dtype), with ``converged_`` False,
            ``n_iter_`` the number of steps of the stream, ``lower_bound_`` the
            per-sample mean log-likelihood of the batch under the parameters
            before its update (as :meth:`fit`'s lower bound is), and
            ``lower_bounds_`` those of every step of the stream.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (5000, 2)), rng.normal(8, 1, (5000, 2))])
        >>> gm = GaussianMixture(2, random_state=0)
        >>> for batch in np.array_split(rng.permutation(X), 20):
        ...     gm = gm.partial_fit(batch)
        >>> gm.n_iter_, np.sort(gm.means_[:, 0]).round(1)
        (20, array([0., 8.]))
        """
        _online.gaussian_mixture_partial_fit(self, X, sample_weight)
        return self

    # -- parameter checks -----------------------------------------------------

    def _check_parameters(self, X, sample_weight=None):
        k = self.n_components
        d = X.shape[1]
        self._weights_init = None
        self._means_init = None
        self._precisions_init = None
        if self.weights_init is not None:
            weights = as_float_array(self.weights_init, "weights")
            check_shape(weights, (k,), "weights")
            # scikit-learn's tolerance: float32 weights sum to 1 only to ~1e-7.
            float32_weights = np.asarray(self.weights_init).dtype == np.float32
            atol = 1e-6 if float32_weights else 1e-8
            if np.any(weights < 0.0) or np.any(weights > 1.0):
                raise ValueError(
                    "The parameter 'weights' should be in the range "
                    f"[0, 1], but got max value {np.min(weights):.5f}, "
                    f"min value {np.max(weights):.5f}"
                )
            if not np.allclose(np.abs(1.0 - np.sum(weights)), 0.0, atol=atol):
                raise ValueError(
                    "The parameter 'weights' should be normalized, "
                    f"but got sum(weights) = {np.sum(weights):.5f}"
                )
            self._weights_init = weights
        if self.means_init is not None:
            means = as_float_array(self.means_init, "means")
            check_shape(means, (k, d), "means")
            self._means_init = means
        if self.precisions_init is not None:
            cov_type = self.covariance_type
            name = f"{cov_type} precision"
            precisions = as_float_array(self.precisions_init, name)
            check_shape(precisions, _expected_chol_shape(cov_type, k, d), name)
            check_precision(precisions, cov_type)
            self._precisions_init = precisions

    # -- the model's hooks (see fastem._base) -----------------------------------

    _parameter_names = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "precisions_",
    )

    def _needs_initial_responsibilities(self):
        return (
            self._weights_init is None
            or self._means_init is None
            or self._precisions_init is None
        )

    def _initialize(self, X, stats):
        """Parameters from the initial statistics, then the user's inits.

        As scikit-learn: the weights ``(nk + 10 eps) / n`` (not renormalised),
        the responsibility-weighted means and the covariances about them, each
        replaced by ``weights_init``, ``means_init``, ``precisions_init`` when
        given. ``stats`` is None when all three are given; scikit-learn's form
        ``_initialize(X, resp)``, with an (n_samples, n_components) array of
        responsibilities, works too.
        """
        cov_type = self.covariance_type
        if not hasattr(self, "_weights_init"):
            # Called directly, as scikit-learn's private method (no fit, so no
            # _check_parameters): take the user's inits as they are.
            def given(value):
                return None if value is None else np.asarray(value, dtype=np.float64)

            self._weights_init = given(self.weights_init)
            self._means_init = given(self.means_init)
            self._precisions_init = given(self.precisions_init)
        stats = self._initial_stats(X, stats)
        weights = self._weights_init
        means = self._means_init
        if stats is not None:
            if weights is None:
                weights = (stats.nk + NK_EPS) / stats.weight
            if means is None:
                means = stats.means
        if self._precisions_init is None:
            covariances = _mstep.covariances(stats, self.reg_covar)
            prec_chol = _mstep.precisions_cholesky(
                covariances, cov_type, X.dtype == np.float32
            )
        else:
            prec_chol = _mstep.precisions_cholesky_from_precisions(
                self._precisions_init, cov_type
            )
            covariances = _mstep.covariances_from_precisions(
                self._precisions_init, cov_type
            )
        self._set_parameters(
            (
                np.array(weights, dtype=np.float64),
                np.ascontiguousarray(means, dtype=np.float64),
                covariances,
                prec_chol,
            )
        )

    def _estimate_log_weights(self):
        with np.errstate(divide="ignore"):
            return np.log(self._as_float64("weights_"))

    def _estimate_log_prob_parameters(self):
        means = self._as_float64("means_")
        chol = self._as_float64("precisions_cholesky_")
        n_components, n_features = means.shape
        log_det = kernels.log_det_cholesky(chol, self.covariance_type, n_features)
        constant = log_det - 0.5 * n_features * math.log(2 * math.pi)
        return means, chol, np.broadcast_to(constant, (n_components,))

    def _m_step(self, stats):
        self._set_parameters(
            kernels.m_step(stats, self.covariance_type, self.reg_covar)
        )

    def _compute_lower_bound(self, stats):
        """Return the per-sample mean log-likelihood of the E-step."""
        return float(stats.log_likelihood / stats.weight)

    def _get_parameters(self):
        return tuple(self._as_float64(name) for name in self._parameter_names[:4])

    def _set_parameters(self, params):
        weights, means, covariances, prec_chol = params
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self.precisions_cholesky_ = prec_chol
        self.precisions_ = _mstep.precisions_from_cholesky(
            prec_chol, self.covariance_type
        )
        self._float64_twins = {}

    # -- model selection --------------------------------------------------------

    def _n_parameters(self):
        n_features = self.means_.shape[1]
        k = self.n_components
        cov_params = {
            "full": k * n_features * (n_features + 1) / 2.0,
            "diag": k * n_features,
            "tied": n_features * (n_features + 1) / 2.0,
            "spherical": k,
        }[self.covariance_type]
        return int(cov_params + n_features * k + k - 1)

    def bic(self, X):
        """Bayesian information criterion of the model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        bic : float
            The lower the better.
        """
        n_samples = np.shape(X)[0]
        return -2 * self.score(X) * n_samples + self._n_parameters() * np.log(n_samples)

    def aic(self, X):
        """Akaike information criterion of the model on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        aic : float
            The lower the better.
        """
        return -2 * self.score(X) * np.shape(X)[0] + 2 * self._n_parameters()
