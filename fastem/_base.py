"""The EM loop and the hooks a mixture model fills.

:class:`BaseEMMixture` mirrors scikit-learn's ``BaseMixture`` so results compare
one to one: ``n_init`` keeps the best lower bound, ``warm_start`` continues from
the fitted attributes, ``tol`` applies to the change of the lower bound,
``verbose`` prints the same messages, and a ``ConvergenceWarning`` is raised when
the best initialisation did not converge. It owns initialisation from
responsibilities, prediction, scoring and sampling. A model fills small hooks,
named as in scikit-learn where the meaning is the same:

``_check_parameters(X, sample_weight=None)``
    Validate user-given initial parameters (and priors) against ``X``.
``_initialize(X, stats)``
    Set the fitted attributes from the statistics of the initial
    responsibilities.
``_estimate_log_weights()``
    The per-component ``log pi_k`` (``E[log pi_k]`` for a variational model).
``_estimate_log_prob_parameters()``
    What the compiled E-step needs for ``log p(x | k)``: the means, the
    precision Cholesky factors and the per-component additive constant of the
    log-density. A model's whole E-step is then ``log_norm = log weights +
    constant`` handed to the same compiled pass (:mod:`fastem.kernels`).
``_m_step(stats)``
    Update the fitted attributes from one E-step's statistics.
``_compute_lower_bound(stats)``
    The quantity EM increases (per-sample log-likelihood, or the ELBO),
    called after ``_m_step(stats)`` as in scikit-learn (the ELBO needs the
    updated parameters).
``_get_parameters()``, ``_set_parameters(params)``
    The fitted attributes as a tuple, and back.

The fitted attributes are the model: ``predict``, ``score_samples``,
``sample`` and ``warm_start`` read them, so parameters set by hand (a model built
from known parameters) or edited after a fit are what is used. During a fit they
are float64; for float32 data they are stored as float32 at the end, and a
float64 copy is used instead only while it rounds exactly to the attribute.

Unlike scikit-learn, ``fit`` runs no final E-step (it would only compute labels
that ``fit`` throws away); ``fit_predict`` runs it, so ``fit_predict(X)`` equals
``fit(X).predict(X)``.
"""

import warnings
from abc import ABCMeta, abstractmethod
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _ahead, _dask, _init, _progress, _stream, kernels
from ._config import single_threaded_blas
from ._io import ModelFileMixin
from ._seeding import kmeans_plusplus
from ._validation import check_data, check_n_components, check_sample_weight
from .kernels._stats import stats_from_rows, stats_from_source

#: The initialisations scikit-learn's mixtures offer.
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


class BaseEMMixture(ModelFileMixin, DensityMixin, BaseEstimator, metaclass=ABCMeta):
    """EM fit loop, prediction and sampling; subclasses fill the hooks."""

    #: Names of the fitted array attributes stored in the data's dtype.
    _parameter_names = ()

    def __init__(
        self,
        n_components,
        tol,
        reg_covar,
        max_iter,
        n_init,
        init_params,
        random_state,
        warm_start,
        verbose,
        verbose_interval,
    ):
        # The parameters every mixture has (scikit-learn's BaseMixture's).
        self.n_components = n_components
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # -- the hooks --------------------------------------------------------------

    @abstractmethod
    def _check_parameters(self, X, sample_weight=None):
        """Validate user-given initial parameters against ``X``."""

    @abstractmethod
    def _initialize(self, X, stats):
        """Set the parameters from the statistics of the initial responsibilities."""

    @abstractmethod
    def _estimate_log_weights(self):
        """Return the per-component log-weights, shape (n_components,)."""

    @abstractmethod
    def _estimate_log_prob_parameters(self):
        """Return ``(means, precisions_cholesky, constant)`` for the E-step."""

    @abstractmethod
    def _m_step(self, stats):
        """Update the parameters from one E-step's :class:`SuffStats`."""

    @abstractmethod
    def _compute_lower_bound(self, stats):
        """Return the lower bound of the E-step that made ``stats``."""

    @abstractmethod
    def _get_parameters(self):
        """Return the fitted parameters as a tuple of float64 arrays."""

    @abstractmethod
    def _set_parameters(self, params):
        """Set the fitted parameters from a tuple like :meth:`_get_parameters`."""

    #: Whether :meth:`_compute_lower_bound` needs the entropy statistic.
    _lower_bound_needs_entropy = False

    def _needs_initial_responsibilities(self):
        """Whether :meth:`_initialize` needs statistics (False: all params given)."""
        return True

    # -- fitted attributes as float64 -------------------------------------------

    def _as_float64(self, name):
        """Return the attribute ``name`` in float64 (its exact float64 twin if any)."""
        value = getattr(self, name)
        twin = getattr(self, "_float64_twins", {}).get(name)
        if (
            twin is not None
            and isinstance(value, np.ndarray)
            and value.shape == twin.shape
            and np.array_equal(twin.astype(value.dtype), value)
        ):
            return twin
        return np.asarray(value, dtype=np.float64)

    def _store_dtype(self, dtype):
        """Cast the fitted arrays to the data's dtype, keeping float64 twins."""
        self._float64_twins = {}
        if dtype == np.float64:
            return
        for name in self._parameter_names:
            value = getattr(self, name)
            self._float64_twins[name] = value
            setattr(self, name, value.astype(dtype))

    def _log_norm(self):
        """``(means, precisions_cholesky, log_norm)`` of the current model."""
        means, chol, constant = self._estimate_log_prob_parameters()
        return means, chol, self._estimate_log_weights() + constant

    # -- fitting ----------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        The model is fitted ``n_init`` times and the parameters with the largest
        lower bound are kept. Each fit iterates until the change of the lower
        bound is below ``tol`` or ``max_iter`` iterations have run. With
        ``warm_start=True`` a second call continues from the fitted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 data is read as float32. An ``np.memmap`` or
            another 2-D array-like with ``shape``, ``dtype`` and row slicing
            (h5py, zarr), of any real dtype, is read block by block and never
            copied whole (:mod:`fastem._stream`). A ``dask.array.Array`` (or
            Dask DataFrame) is persisted once and every pass runs on its blocks
            where they live (:mod:`fastem._dask`); ``sample_weight`` is not
            supported with it.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: an integer weight acts as that many copies
            of the row, weight 0 as leaving the row out.

        Returns
        -------
        self : object
            The fitted mixture.
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the most likely component of each row.

        Equal to ``fit(X).predict(X)`` for any ``max_iter``, ``tol`` and seed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = self._fit(X, sample_weight)
        return self._predict_labels(X)

    def _check_fit_input(self, X, sample_weight):
        """Raise unless the rows (with positive weight) and the parameters fit."""
        check_n_components(self.n_components, X.shape[0])
        if sample_weight is not None:
            check_n_components(
                self.n_components,
                int(np.count_nonzero(sample_weight)),
                name="n_components (rows with positive sample_weight)",
            )
        self._check_parameters(X, sample_weight=sample_weight)

    def _initialize_parameters(self, X, random_state, sample_weight=None):
        """Draw initial responsibilities by ``init_params``, then :meth:`_initialize`.

        The responsibilities are never an (n_samples, n_components) array: they
        come slab by slab from a source drawing from ``random_state`` exactly
        as scikit-learn does, so the same seed gives the same start.
        (scikit-learn's signature, plus the row weights.)
        """
        n_samples = X.shape[0]
        k = self.n_components
        init = self.init_params
        if init not in INIT_PARAMS:
            raise ValueError(
                f"Unimplemented initialization method {init!r}; init_params must "
                f"be one of {INIT_PARAMS}."
            )
        if not self._needs_initial_responsibilities():
            self._initialize(X, None)
            return
        if isinstance(X, _dask.DaskData):
            self._initialize(X, self._initial_dask_stats(X, random_state))
            return
        rewind = None
        if init == "random":
            source, rewind = _init.uniform_source(random_state, n_samples, k)
        elif init == "kmeans":
            from .kmeans import KMeans

            # A cold cache compiles the k-means kernels, then this family's
            # pass: the pass compiles meanwhile in a second process.
            _ahead.start(self.covariance_type, getattr(X, "dtype", None))
            kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            if isinstance(X, _stream.Blocks):
                # No n-sized labels: a slab's labels are its rows' nearest
                # final centers (what ``labels_`` holds), recomputed per slab.
                kmeans._fit(X, sample_weight, keep_labels=False)
                source = _init.nearest_center_source(X, *kmeans._centers64)
            else:
                # Only the labels are used: no inertia pass.
                kmeans._fit(X, sample_weight, with_inertia=False)
                labels = kmeans.labels_
                source = _init.one_hot_source(labels, k)
        else:
            if init == "k-means++":
                _, indices = kmeans_plusplus(
                    X, k, sample_weight=sample_weight, random_state=random_state
                )
            else:
                indices = _init.choose_rows(random_state, n_samples, k, sample_weight)
            stats = stats_from_rows(
                X,
                sample_weight,
                indices,
                self.covariance_type,
                tied_raw_rest=True,
            )
            self._initialize(X, stats)
            return
        stats = stats_from_source(
            X,
            sample_weight,
            source,
            self.covariance_type,
            n_components=k,
            rewind=rewind,
            tied_raw_rest=True,
        )
        self._initialize(X, stats)

    def _initial_dask_stats(self, X, random_state):
        """Return the initial statistics of a Dask array, computed on its blocks.

        'random_from_data' picks the same rows as in memory (one int32 per row
        on the client while drawing them, as ``choose_rows`` does) and gathers
        only those; 'k-means++' picks its rows by k-means|| on the workers
        (:func:`fastem._dask.kmeans_parallel`) and weighted k-means++ over the
        candidates; 'kmeans' fits :class:`fastem.KMeans` on the Dask array
        (k-means|| start); 'random' draws each block's responsibilities on its
        worker from a seed taken from ``random_state`` (not the in-memory
        stream).
        """
        k = self.n_components
        init = self.init_params
        if init == "random":
            return _dask.stats_from_uniform(X, random_state, k, self.covariance_type)
        if init == "kmeans":
            from .kmeans import KMeans

            kmeans = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            kmeans._fit(X, None, keep_labels=False)
            return _dask.stats_from_nearest(X, *kmeans._centers64, self.covariance_type)
        if init == "k-means++":
            shift = _dask.column_mean_var(X)[0]
            candidates, weights = _dask.kmeans_parallel(X, k, random_state, shift)
            _, picked = kmeans_plusplus(
                candidates, k, sample_weight=weights, random_state=random_state
            )
            rows = candidates[picked] + shift
        else:
            rows = X[_init.choose_rows(random_state, X.shape[0], k)]
        return _dask.stats_from_chosen_rows(X, rows, self.covariance_type)

    def _initial_stats(self, X, stats):
        """``stats``, or the statistics of responsibilities given as an array.

        scikit-learn's private ``_initialize(X, resp)`` takes an (n_samples,
        n_components) array; tests and tools call it directly.
        """
        if not isinstance(stats, np.ndarray):
            return stats
        resp = stats
        return stats_from_source(
            kernels._gaussian.check_X(np.asarray(X)),
            None,
            lambda start, stop: resp[start:stop],
            self.covariance_type,
            n_components=resp.shape[1],
            tied_raw_rest=True,
        )

    def _e_step(self, X, sample_weight):
        """One fused E-step: the statistics about the current means."""
        means, chol, norm = self._log_norm()
        return _stream.suff_stats(
            X,
            means,
            chol,
            norm,
            self.covariance_type,
            sample_weight,
            entropy=self._lower_bound_needs_entropy,
        )

    def _fit(self, X, sample_weight):
        # One owner of the cores: BLAS stays at one thread for the whole fit
        # (the M-step's small matrices gain nothing from more, and its threads
        # would spin against Numba's); restored afterwards.
        with _stream.transaction(self), single_threaded_blas():
            return self._fit_data(X, sample_weight)

    def _fit_data(self, X, sample_weight):
        self._validate_params()
        X = check_data(self, X, reset=True, ensure_min_samples=2)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if isinstance(X, _dask.DaskData):
            _dask.check_no_sample_weight(sample_weight)
            X.persist()  # every pass reads the blocks where they are
        self._check_fit_input(X, sample_weight)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        max_lower_bound = -np.inf
        best_lower_bounds = []
        best_params = None
        best_n_iter = 0
        self.converged_ = False
        random_state = check_random_state(self.random_state)

        for init in range(n_init):
            self._print_verbose_msg_init_beg(init)
            _progress.report(
                self, "init", init=init, n_init=n_init, max_iter=self.max_iter
            )
            if do_init:
                self._initialize_parameters(X, random_state, sample_weight)
                lower_bound = -np.inf
            else:
                self._set_parameters(self._get_parameters())
                lower_bound = self.lower_bound_
            current_lower_bounds = []

            if self.max_iter == 0:
                best_params = self._get_parameters()
                best_n_iter = 0
                continue
            converged = False
            for n_iter in range(1, self.max_iter + 1):
                prev_lower_bound = lower_bound
                stats = self._e_step(X, sample_weight)
                self._m_step(stats)
                lower_bound = self._compute_lower_bound(stats)
                current_lower_bounds.append(lower_bound)
                self._last_lower_bound = lower_bound
                change = lower_bound - prev_lower_bound
                self._print_verbose_msg_iter_end(n_iter, change)
                _progress.report(
                    self,
                    "iteration",
                    n_iter=n_iter,
                    lower_bound=lower_bound,
                    change=change,
                )
                if abs(change) < self.tol:
                    converged = True
                    break
            self._print_verbose_msg_init_end(lower_bound, converged)
            _progress.report(self, "end", converged=converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params = self._get_parameters()
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                self.converged_ = converged

        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        self._set_parameters(best_params)
        self._store_dtype(X.dtype)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        return X

    # -- verbose messages, as scikit-learn prints them -------------------------

    def _print_verbose_msg_init_beg(self, n_init):
        if self.verbose >= 1:
            print(f"Initialization {n_init}")
        if self.verbose >= 2:
            self._init_prev_time = time()
            self._iter_prev_time = self._init_prev_time

    def _print_verbose_msg_iter_end(self, n_iter, diff_ll):
        # verbose >= 3 (a fastem extension) also prints the lower bound itself.
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            elif self.verbose >= 2:
                cur_time = time()
                lapse = cur_time - self._iter_prev_time
                message = (
                    f"  Iteration {n_iter}\t time lapse {lapse:.5f}s\t "
                    f"ll change {diff_ll:.5f}"
                )
                if self.verbose >= 3:
                    message += f"\t lower bound {self._last_lower_bound:.6f}"
                print(message)
                self._iter_prev_time = cur_time

    def _print_verbose_msg_init_end(self, lower_bound, converged):
        converged_msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {converged_msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(
                f"Initialization {converged_msg}. time lapse {t:.5f}s\t lower bound"
                f" {lower_bound:.5f}."
            )

    # -- prediction -------------------------------------------------------------

    def _check_predict_data(self, X):
        check_is_fitted(self)
        return check_data(self, X, reset=False)

    def _predict_labels(self, X):
        means, chol, norm = self._log_norm()
        return _stream.labels(X, means, chol, norm, self.covariance_type)

    def predict(self, X):
        """Predict the most likely component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels (a lazy Dask array for a Dask array ``X``).
        """
        return self._predict_labels(self._check_predict_data(X))

    def predict_proba(self, X):
        """Return the posterior probability of each component for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities, in ``X``'s float dtype. This output is the one
            (n_samples, n_components) array fastem makes: for data larger than
            memory, take it a block of rows at a time (``predict_proba(X[a:b])``)
            or use :meth:`predict` and :meth:`score_samples`. For a Dask array
            ``X``: a lazy Dask array, chunked as ``X``'s rows.
        """
        X = self._check_predict_data(X)
        means, chol, norm = self._log_norm()
        _, resp = _stream.log_resp(X, means, chol, norm, self.covariance_type)
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
            ``log sum_k exp(log pi_k + log p(x | k))`` of each row, in ``X``'s
            float dtype (a lazy Dask array for a Dask array ``X``).
        """
        X = self._check_predict_data(X)
        means, chol, norm = self._log_norm()
        lse, _ = _stream.log_resp(
            X, means, chol, norm, self.covariance_type, return_resp=False
        )
        return lse.astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Compute the per-sample average log-likelihood of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            Mean log-likelihood of the rows of ``X`` under the model.
        """
        return float(np.mean(self.score_samples(X)))

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
        means = self._as_float64("means_")
        covariances = self._as_float64("covariances_")
        n_features = means.shape[1]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self._as_float64("weights_"))
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
