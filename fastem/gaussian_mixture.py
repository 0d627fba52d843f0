"""Gaussian mixture model fitted by one-pass compiled EM."""

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _init, _mstep, kernels
from ._base import BaseEMMixture
from ._seeding import kmeans_plusplus
from ._validation import GAUSSIAN_MIXTURE_CONSTRAINTS, as_float_array, check_shape


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
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # -- parameter checks -----------------------------------------------------

    def _check_init_parameters(self, X):
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
            shape = {
                "full": (k, d, d),
                "tied": (d, d),
                "diag": (k, d),
                "spherical": (k,),
            }[cov_type]
            check_shape(precisions, shape, name)
            if cov_type in ("full", "tied"):
                stack = precisions if cov_type == "full" else precisions[None]
                for matrix in stack:
                    if not (
                        np.allclose(matrix, matrix.T)
                        and np.all(np.linalg.eigvalsh(matrix) > 0.0)
                    ):
                        raise ValueError(
                            f"'{cov_type} precision' should be symmetric, "
                            "positive-definite"
                        )
            elif np.any(precisions <= 0.0):
                raise ValueError(f"'{cov_type} precision' should be positive")
            self._precisions_init = precisions

    # -- initialisation -------------------------------------------------------

    def _initial_responsibilities(self, X, sample_weight, random_state):
        n_samples = X.shape[0]
        k = self.n_components
        if self.init_params == "random":
            return _init.uniform_source(random_state, n_samples, k)
        if self.init_params == "kmeans":
            from .kmeans import KMeans

            labels = (
                KMeans(n_clusters=k, n_init=1, random_state=random_state)
                .fit(X, sample_weight=sample_weight)
                .labels_
            )
            return _init.one_hot_source(labels, k)
        if self.init_params == "k-means++":
            _, indices = kmeans_plusplus(
                X, k, sample_weight=sample_weight, random_state=random_state
            )
        elif sample_weight is None:
            indices = random_state.choice(n_samples, size=k, replace=False)
        else:
            indices = random_state.choice(
                n_samples, size=k, replace=False, p=sample_weight / sample_weight.sum()
            )
        # One-hot rows for the k chosen rows only: no array of n_samples.
        order = np.argsort(indices)
        rows = np.asarray(indices)[order]
        components = np.arange(k)[order]

        def source(start, stop):
            resp = np.zeros((stop - start, k))
            lo, hi = np.searchsorted(rows, [start, stop])
            resp[rows[lo:hi] - start, components[lo:hi]] = 1.0
            return resp

        return source, None

    def _initial_state(self, X, sample_weight, random_state):
        cov_type = self.covariance_type
        weights = self._weights_init
        means = self._means_init
        covariances = None
        if weights is None or means is None or self._precisions_init is None:
            source, rewind = self._initial_responsibilities(
                X, sample_weight, random_state
            )
            weights_r, means_r, covariances = _init.parameters_from_resp(
                X, sample_weight, source, rewind, cov_type, self.reg_covar
            )
            weights = weights_r if weights is None else weights
            means = means_r if means is None else means
        if self._precisions_init is None:
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
        return {
            "weights": np.array(weights, dtype=np.float64),
            "means": np.ascontiguousarray(means, dtype=np.float64),
            "covariances": covariances,
            "precisions_cholesky": prec_chol,
        }

    def _fitted_state(self):
        state = getattr(self, "_state", None)
        if state is not None:
            return state
        return {
            "weights": np.asarray(self.weights_, dtype=np.float64),
            "means": np.asarray(self.means_, dtype=np.float64),
            "covariances": np.asarray(self.covariances_, dtype=np.float64),
            "precisions_cholesky": np.asarray(
                self.precisions_cholesky_, dtype=np.float64
            ),
        }

    # -- one EM iteration -----------------------------------------------------

    def _em_iteration(self, X, sample_weight, state):
        cov_type = self.covariance_type
        stats = kernels.suff_stats(
            X,
            state["means"],
            state["precisions_cholesky"],
            state["weights"],
            cov_type,
            sample_weight,
        )
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        lower_bound = stats.log_likelihood / total_weight
        weights, means, covariances = _mstep.update(
            stats, state["means"], cov_type, self.reg_covar
        )
        prec_chol = _mstep.precisions_cholesky(
            covariances, cov_type, X.dtype == np.float32
        )
        new_state = {
            "weights": weights / weights.sum(),
            "means": means,
            "covariances": covariances,
            "precisions_cholesky": prec_chol,
        }
        return new_state, float(lower_bound)

    def _store_state(self, state, dtype):
        self._state = state
        self.weights_ = state["weights"].astype(dtype)
        self.means_ = state["means"].astype(dtype)
        self.covariances_ = state["covariances"].astype(dtype)
        self.precisions_cholesky_ = state["precisions_cholesky"].astype(dtype)
        self.precisions_ = _mstep.precisions_from_cholesky(
            state["precisions_cholesky"], self.covariance_type
        ).astype(dtype)

    # -- prediction -----------------------------------------------------------

    def _model_arrays(self):
        state = self._fitted_state()
        return (state["means"], state["precisions_cholesky"], state["weights"])

    def _predict_labels(self, X):
        means, chol, weights = self._model_arrays()
        return kernels.labels(X, means, chol, weights, self.covariance_type)

    def predict_proba(self, X):
        """Return the posterior probability of each component for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities, in ``X``'s float dtype.
        """
        X = self._check_predict_data(X)
        means, chol, weights = self._model_arrays()
        _, resp = kernels.log_resp(X, means, chol, weights, self.covariance_type)
        return resp.astype(X.dtype, copy=False)

    def score_samples(self, X):
        """Compute the log-likelihood of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ``log p(x)`` of each row, in ``X``'s float dtype.
        """
        X = self._check_predict_data(X)
        means, chol, weights = self._model_arrays()
        lse, _ = kernels.log_resp(
            X, means, chol, weights, self.covariance_type, return_resp=False
        )
        return lse.astype(X.dtype, copy=False)

    def sample(self, n_samples=1):
        """Generate random samples from the fitted mixture.

        Draws from ``random_state`` in the same order as scikit-learn, so the same
        seed gives the same samples.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples, float64.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling "
                "requires at least one sample."
            )
        n_features = self.means_.shape[1]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, np.asarray(self.weights_, np.float64))
        means = np.asarray(self.means_, dtype=np.float64)
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        if self.covariance_type == "full":
            parts = [
                rng.multivariate_normal(mean, cov, int(count))
                for mean, cov, count in zip(means, covariances, counts, strict=True)
            ]
        elif self.covariance_type == "tied":
            parts = [
                rng.multivariate_normal(mean, covariances, int(count))
                for mean, count in zip(means, counts, strict=True)
            ]
        else:
            parts = [
                mean + rng.standard_normal(size=(count, n_features)) * np.sqrt(cov)
                for mean, cov, count in zip(means, covariances, counts, strict=True)
            ]
        y = np.concatenate(
            [np.full(int(count), k, dtype=np.int64) for k, count in enumerate(counts)]
        )
        return np.vstack(parts), y

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
