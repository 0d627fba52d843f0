"""Variational Bayesian Gaussian mixture on the same compiled pass as EM."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _dask
from ._base import BaseEMMixture
from ._validation import (
    BAYESIAN_MIXTURE_CONSTRAINTS,
    as_float_array,
    check_precision,
    check_shape,
)
from .kernels import _mstep
from .kernels._variational import (
    VariationalParameters,
    VariationalPrior,
    data_covariance,
    data_mean,
    expected_log_weights,
    log_predictive_density,
    log_prob_constant,
    lower_bound,
    mixture_weights,
    variational_m_step,
)


class BayesianGaussianMixture(BaseEMMixture):
    """Variational Bayesian Gaussian mixture, a drop-in for scikit-learn's.

    The constructor, methods, fitted attributes and error messages are those of
    :class:`sklearn.mixture.BayesianGaussianMixture`, and from the same initial
    parameters the fit agrees with scikit-learn's to rounding. The weights have
    a Dirichlet-process (stick-breaking) or Dirichlet prior, each component a
    Normal-Wishart prior; variational inference maximises the evidence lower
    bound (ELBO). With a small ``weight_concentration_prior`` the fit switches
    off the components the data do not need, so ``n_components`` is an upper
    bound on the number of clusters.

    Each iteration is the same parallel compiled pass as
    :class:`fastem.GaussianMixture`'s, with the variational expectations as
    per-component constants: no (n_samples, n_components) array is made during
    ``fit``. The M-step is the conjugate update (:func:`fastem.kernels.\
variational_m_step`) from statistics centred on the component means, so data
    far from the origin and float32 data keep their digits.

    Parameters
    ----------
    n_components : int, default=1
        The number of components offered (an upper bound on those used).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of the components' covariances.
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the sample
        covariances.
    max_iter : int, default=100
        The number of iterations to perform.
    n_init : int, default=1
        The number of initialisations; the one with the largest lower bound is
        kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How the responsibilities are initialised, as in
        :class:`fastem.GaussianMixture`.
    weight_concentration_prior_type : {'dirichlet_process', \
'dirichlet_distribution'}, default='dirichlet_process'
        Stick-breaking (an infinite mixture truncated at ``n_components``) or a
        finite symmetric Dirichlet.
    weight_concentration_prior : float or None, default=None
        The concentration of the weights' prior (``1 / n_components`` when
        None); smaller values leave more components empty.
    mean_precision_prior : float or None, default=None
        How strongly the means are pulled towards ``mean_prior`` (1 when None).
    mean_prior : array-like of shape (n_features,), default=None
        The prior mean of the means (the data's mean when None).
    degrees_of_freedom_prior : float or None, default=None
        The Wishart's degrees of freedom, greater than ``n_features - 1``
        (``n_features`` when None).
    covariance_prior : float or array-like, default=None
        The prior of the covariances (the data's covariance when None):
        (n_features, n_features) for 'full' and 'tied', (n_features,) for
        'diag', a number for 'spherical'.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` is ignored).
    verbose : int, default=0
        1 prints the initialisation and each iteration, 2 also timings and the
        change of the lower bound.
    verbose_interval : int, default=10
        Iterations between two messages.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected mixture weights, ``E[pi_k]``.
    means_ : ndarray of shape (n_components, n_features)
        Posterior means of the component means.
    covariances_ : ndarray
        ``W_k^-1 / nu_k``, whose inverse is ``E[Lambda_k]``, shaped by
        ``covariance_type``.
    precisions_ : ndarray
        Inverses of ``covariances_``.
    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factors of ``precisions_``.
    weight_concentration_prior_ : float
        The weights' prior concentration used.
    weight_concentration_ : ndarray of shape (n_components,) or tuple
        The Dirichlet's posterior parameters, or for the Dirichlet process the
        two parameters of each stick's Beta.
    mean_precision_prior_ : float
        ``beta_0``.
    mean_precision_ : ndarray of shape (n_components,)
        ``beta_k``.
    mean_prior_ : ndarray of shape (n_features,)
        ``m_0``.
    degrees_of_freedom_prior_ : float
        ``nu_0``.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
        ``nu_k`` (one number for 'tied').
    covariance_prior_ : float or ndarray
        ``W_0^-1``.
    converged_ : bool
        Whether the best fit converged.
    n_iter_ : int
        Iterations run by the best fit.
    lower_bound_ : float
        The ELBO of the best fit, as scikit-learn computes it (constant terms
        dropped), at its last iteration.
    lower_bounds_ : list of float
        The lower bound at each iteration of the best fit.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, for DataFrame input with string columns.

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : The reference implementation.
    GaussianMixture : Maximum-likelihood EM on the same kernels.

    Notes
    -----
    For float32 data, ``weights_``, ``means_``, ``covariances_``,
    ``precisions_`` and ``precisions_cholesky_`` are float32 (computed from
    float64 statistics); the concentration parameters, ``mean_precision_`` and
    ``degrees_of_freedom_`` are effective counts and stay float64, as do the
    priors computed from the data.

    ``score_samples`` is scikit-learn's ``log sum_k exp(E[log pi_k] + E[log
    N(x | mu_k, Lambda_k^-1)])``, which is not a density of the data;
    :meth:`log_predictive_density` gives the posterior predictive density.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import BayesianGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.5, (200, 2)) for c in (0, 5, 10)])
    >>> bgm = BayesianGaussianMixture(n_components=8, weight_concentration_prior=0.01,
    ...                               max_iter=500, random_state=0).fit(X)
    >>> int(np.sum(bgm.weights_ > 0.01))
    3
    """

    _parameter_constraints = BAYESIAN_MIXTURE_CONSTRAINTS
    _lower_bound_needs_entropy = True
    _parameter_names = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "precisions_",
    )

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
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
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior

    # -- the priors -----------------------------------------------------------

    def _check_parameters(self, X, sample_weight=None):
        """Set the ``*_prior_`` attributes, checking the user's priors.

        As scikit-learn: ``1 / n_components``, 1, the data's mean,
        ``n_features`` and the data's covariance by default (weighted by
        ``sample_weight`` when given), with scikit-learn's error messages.
        """
        n_features = X.shape[1]
        if self.weight_concentration_prior is None:
            self.weight_concentration_prior_ = 1.0 / self.n_components
        else:
            self.weight_concentration_prior_ = self.weight_concentration_prior
        if self.mean_precision_prior is None:
            self.mean_precision_prior_ = 1.0
        else:
            self.mean_precision_prior_ = self.mean_precision_prior
        if self.mean_prior is None:
            self.mean_prior_ = data_mean(X, sample_weight)
        else:
            self.mean_prior_ = as_float_array(self.mean_prior, "mean_prior")
            check_shape(self.mean_prior_, (n_features,), "means")
        dof = self.degrees_of_freedom_prior
        if dof is None:
            self.degrees_of_freedom_prior_ = n_features
        elif dof > n_features - 1.0:
            self.degrees_of_freedom_prior_ = dof
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{n_features - 1}, but got {dof:.3f}."
            )
        if self.covariance_prior is None:
            self.covariance_prior_ = self._default_covariance_prior(X, sample_weight)
        else:
            self.covariance_prior_ = self._checked_covariance_prior(n_features)

    def _default_covariance_prior(self, X, sample_weight):
        """Return the data's covariance, taken about the data's own mean."""
        if sample_weight is not None and sample_weight.sum() <= 1.0:
            raise ValueError(
                "The default covariance_prior (the data's covariance) needs "
                "a total sample_weight above 1, got "
                f"{sample_weight.sum():.3g}; pass covariance_prior."
            )
        if self.mean_prior is None:  # mean_prior_ is the data's mean already
            mean = self.mean_prior_
        else:
            mean = data_mean(X, sample_weight)
        return data_covariance(X, sample_weight, mean, self.covariance_type)

    def _checked_covariance_prior(self, n_features):
        cov_type = self.covariance_type
        if cov_type == "spherical":
            value = as_float_array(self.covariance_prior, "covariance_prior")
            if value.size != 1 or not value.ravel()[0] > 0.0:
                raise ValueError(
                    "The parameter 'spherical covariance_prior' should be a "
                    f"positive number, got {self.covariance_prior!r}."
                )
            return float(value.ravel()[0])
        prior = as_float_array(self.covariance_prior, f"{cov_type} covariance_prior")
        shape = (n_features,) * (2 if cov_type in ("full", "tied") else 1)
        check_shape(prior, shape, f"{cov_type} covariance_prior")
        check_precision(prior, cov_type)
        return prior

    def _prior(self):
        return VariationalPrior(
            self.weight_concentration_prior_type,
            float(self.weight_concentration_prior_),
            float(self.mean_precision_prior_),
            np.asarray(self.mean_prior_, dtype=np.float64),
            float(self.degrees_of_freedom_prior_),
            np.asarray(self.covariance_prior_, dtype=np.float64),
        )

    # -- the model's hooks (see fastem._base) -----------------------------------

    def _initialize(self, X, stats):
        """Set the posterior to one update from the initial responsibilities.

        ``stats`` are their statistics (or, as scikit-learn's private method
        takes it, an (n_samples, n_components) array of responsibilities).
        """
        stats = self._initial_stats(X, stats)
        self._set_parameters(variational_m_step(stats, self._prior(), self.reg_covar))

    def _estimate_log_weights(self):
        return expected_log_weights(
            self.weight_concentration_, self.weight_concentration_prior_type
        )

    def _estimate_log_prob_parameters(self):
        params = self._get_parameters()
        constant = log_prob_constant(params, self.covariance_type)
        return params.means, params.precisions_cholesky, constant

    def _m_step(self, stats):
        self._set_parameters(variational_m_step(stats, self._prior(), self.reg_covar))

    def _compute_lower_bound(self, stats):
        """Return the ELBO after the M-step on ``stats`` (scikit-learn's terms)."""
        return lower_bound(stats, self._get_parameters(), self._prior())

    def _get_parameters(self):
        return VariationalParameters(
            self.weight_concentration_,
            self.mean_precision_,
            self._as_float64("means_"),
            self.degrees_of_freedom_,
            self._as_float64("covariances_"),
            self._as_float64("precisions_cholesky_"),
        )

    def _set_parameters(self, params):
        (
            self.weight_concentration_,
            self.mean_precision_,
            self.means_,
            self.degrees_of_freedom_,
            self.covariances_,
            self.precisions_cholesky_,
        ) = params
        self.weights_ = mixture_weights(
            self.weight_concentration_, self.weight_concentration_prior_type
        )
        self.precisions_ = _mstep.precisions_from_cholesky(
            self.precisions_cholesky_, self.covariance_type
        )
        self._float64_twins = {}

    # -- beyond scikit-learn ------------------------------------------------------

    def log_predictive_density(self, X):
        """Log of the posterior predictive density of each row.

        ``log p(x | training data)`` under the variational posterior: the
        mixture ``sum_k E[pi_k] St(x | m_k, L_k, nu_k + 1 - d)`` of multivariate
        Student-t densities with precision ``L_k = (nu_k + 1 - d) beta_k /
        (1 + beta_k) W_k`` (Bishop 2006, eq. 10.81-10.82). Unlike
        :meth:`score_samples` (scikit-learn's ``E[log pi] + E[log N]``, kept
        for drop-in equality, see scikit-learn issue 10148) it is a normalised
        density of ``x``. Computed in slabs of rows with NumPy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            In ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = self._check_predict_data(X)
        compute = (
            _dask.log_predictive_density
            if isinstance(X, _dask.DaskData)
            else log_predictive_density
        )
        density = compute(
            X,
            self._get_parameters(),
            self._as_float64("weights_"),
            self.covariance_type,
        )
        return density.astype(X.dtype, copy=False)
