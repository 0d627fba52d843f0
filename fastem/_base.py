"""The EM loop shared by the mixture estimators.

It mirrors scikit-learn's ``BaseMixture.fit_predict`` so results compare one to
one: ``n_init`` keeps the best lower bound, ``warm_start`` continues from the
fitted state, ``tol`` applies to the change of the per-sample mean lower bound,
``verbose`` prints the same messages, and a ``ConvergenceWarning`` is raised when
the best initialisation did not converge. Subclasses supply the hooks: set up a
state, one fused EM iteration, and conversion to and from fitted attributes.

Unlike scikit-learn, ``fit`` runs no final E-step (it would only compute labels
that ``fit`` throws away); ``fit_predict`` runs it, so ``fit_predict(X)`` equals
``fit(X).predict(X)``.
"""

import warnings
from abc import abstractmethod
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._validation import check_data, check_n_components, check_sample_weight


class BaseEMMixture(DensityMixin, BaseEstimator):
    """EM fit loop; subclasses implement the model-specific hooks."""

    @abstractmethod
    def _check_init_parameters(self, X):
        """Validate user-given initial parameters against ``X``."""

    @abstractmethod
    def _initial_state(self, X, sample_weight, random_state):
        """Return a fresh model state (a dict of float64 arrays)."""

    @abstractmethod
    def _fitted_state(self):
        """Return the state stored by the last fit (for ``warm_start``)."""

    @abstractmethod
    def _em_iteration(self, X, sample_weight, state):
        """Run one fused E+M iteration: return the new state and lower bound."""

    @abstractmethod
    def _store_state(self, state, dtype):
        """Set the fitted attributes from a state."""

    @abstractmethod
    def _predict_labels(self, X):
        """Most likely component of each row of ``X`` (already validated)."""

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        The model is fitted ``n_init`` times and the parameters with the largest
        lower bound are kept. Each fit iterates until the change of the lower
        bound is below ``tol`` or ``max_iter`` iterations have run. With
        ``warm_start=True`` a second call continues from the fitted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 data is read as float32.
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

    def _fit(self, X, sample_weight):
        self._validate_params()
        X = check_data(self, X, reset=True, ensure_min_samples=2)
        check_n_components(self.n_components, X.shape[0])
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if sample_weight is not None:
            check_n_components(
                self.n_components,
                int(np.count_nonzero(sample_weight)),
                name="n_components (rows with positive sample_weight)",
            )
        self._check_init_parameters(X)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        max_lower_bound = -np.inf
        best_lower_bounds = []
        best_state = None
        best_n_iter = 0
        self.converged_ = False
        random_state = check_random_state(self.random_state)

        for init in range(n_init):
            self._print_verbose_msg_init_beg(init)
            if do_init:
                state = self._initial_state(X, sample_weight, random_state)
                lower_bound = -np.inf
            else:
                state = self._fitted_state()
                lower_bound = self.lower_bound_
            current_lower_bounds = []

            if self.max_iter == 0:
                best_state = state
                best_n_iter = 0
                continue
            converged = False
            for n_iter in range(1, self.max_iter + 1):
                prev_lower_bound = lower_bound
                state, lower_bound = self._em_iteration(X, sample_weight, state)
                current_lower_bounds.append(lower_bound)
                self._last_lower_bound = lower_bound
                change = lower_bound - prev_lower_bound
                self._print_verbose_msg_iter_end(n_iter, change)
                if abs(change) < self.tol:
                    converged = True
                    break
            self._print_verbose_msg_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_state = state
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                self.converged_ = converged

        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._store_state(best_state, X.dtype)
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

    def predict(self, X):
        """Predict the most likely component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        return self._predict_labels(self._check_predict_data(X))

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
