"""K-means clustering (Lloyd), a drop-in for :class:`sklearn.cluster.KMeans`."""

import functools
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _dask, _online, _progress, _stream
from ._config import single_threaded_blas, slabs
from ._dask import DaskData
from ._init import choose_rows
from ._io import ModelFileMixin
from ._seeding import kmeans_plusplus
from ._validation import (
    KMEANS_CONSTRAINTS,
    as_float_array,
    check_data,
    check_sample_weight,
)
from .kernels._lloyd import (
    LloydState,
    _assigned_pass,
    _carried_pass,
    _distance_matrix,
    _full_pass,
    _same_clustering,
)

__all__ = ["KMeans"]


def _is_array_like(value):
    """Whether ``init`` is an array of centers (not a string, not a callable)."""
    if isinstance(value, str) or callable(value):
        return False
    return hasattr(value, "__len__") or hasattr(value, "__array__")


def _tolerance(X, tol):
    """``tol`` scaled by the mean per-feature variance of X (scikit-learn's).

    The variance is taken in float64 by a parallel two-pass kernel, so no
    temporary of X's size is made (``np.var`` would make one).
    """
    if tol == 0:
        return 0.0
    return float(np.mean(_stream.column_mean_var(X)[1]) * tol)


class KMeans(
    ModelFileMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
):
    """K-means clustering with Lloyd's algorithm [1]_ on a fused compiled kernel.

    A drop-in for :class:`sklearn.cluster.KMeans`: same parameters, methods and
    fitted attributes. Each iteration is one parallel pass over the data that
    assigns every row to its nearest center and accumulates the per-cluster
    weighted sums, in float64 even for float32 data and with results that do not
    depend on the number of threads. With the same ``random_state`` the initial
    centers are scikit-learn's, and so are the iterations (empty clusters are
    relocated and convergence is declared the same way).

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form, as well as the number of centers.
    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Initialisation: scikit-learn's greedy k-means++ [3]_ (``'k-means++'``),
        ``n_clusters`` rows drawn at random (``'random'``), an array of initial
        centers, or a callable ``init(X, n_clusters, random_state=rs)`` returning
        one. As in scikit-learn, the k-means++ seeding and the callable see the
        data with its column means subtracted. On a Dask array ``'k-means++'``
        runs k-means|| (Bahmani et al., 2012) on the workers: exact k-means++
        would take ``n_clusters`` passes over the data, one per center, where
        k-means|| takes 5 rounds drawing about ``2 * n_clusters`` candidate rows
        each, weights them by the rows nearest to them and clusters them into
        ``n_clusters`` centers in memory. ``'random'`` draws the same kind of
        rows as in memory (a different stream); callables need data in memory.
    n_init : 'auto' or int, default='auto'
        Number of runs from different initial centers; the run with the lowest
        inertia is kept. ``'auto'`` means 1 for ``'k-means++'`` and array
        initialisation, 10 for ``'random'`` and callables.
    max_iter : int, default=300
        Maximum number of iterations of a single run.
    tol : float, default=1e-4
        Convergence tolerance on the squared shift of the centers between two
        iterations, relative to the mean per-feature variance of the data.
    verbose : int, default=0
        Verbosity.
    random_state : int, RandomState instance or None, default=None
        Random number generation for the initialisation.
    copy_x : bool, default=True
        Accepted for compatibility. fastem never modifies ``X`` (it subtracts the
        column means inside the kernel instead of from a copy of the data).
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Accepted for compatibility; both run the same Lloyd iterations. For
        larger problems (``n_clusters * n_features >= 128``) fastem skips, as
        Elkan's and Hamerly's [2]_ algorithms do, the rows whose distance bounds prove
        that their label cannot change; labels and centers are those of the
        plain iteration.
    learning_decay : float, default=0.7
        :meth:`partial_fit` only (a fastem addition): the exponent ``a`` in
        (0.5, 1] of the step size ``(t + learning_offset) ** -a`` given to batch
        ``t``, as in :class:`fastem.GaussianMixture`.
    learning_offset : float, default=10.0
        :meth:`partial_fit` only (a fastem addition): the offset ``t0 >= 0`` of
        the step size. With 0 the first step after :meth:`fit` forgets the
        fitted centers (one Lloyd iteration on the batch).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centers, in the dtype of the data.
    labels_ : ndarray of shape (n_samples,), dtype int32
        Label of every training row.
    inertia_ : float
        Weighted sum of squared distances of the rows to their closest center.
    n_iter_ : int
        Number of iterations run (of the kept run).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during :meth:`fit`, when they are all strings.

    See Also
    --------
    sklearn.cluster.KMeans : The estimator this one replaces.
    fastem.GaussianMixture : Soft assignments with full covariances.

    Notes
    -----
    Differences from scikit-learn: the arithmetic is float64 for float32 data
    too (``cluster_centers_`` is returned in the data's dtype); sparse input is
    not supported; ``algorithm='elkan'`` runs Lloyd's iterations.

    Each iteration is one pass of :mod:`fastem.kernels` (a ``LloydState`` and
    its passes), which other drivers (streaming, Dask) can run the same way.

    References
    ----------
    .. [1] S. P. Lloyd, "Least squares quantization in PCM", IEEE Transactions
       on Information Theory 28(2), 129-137, 1982.
    .. [2] G. Hamerly, "Making k-means even faster", SIAM International
       Conference on Data Mining (SDM), 130-140, 2010.
    .. [3] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
       seeding", ACM-SIAM Symposium on Discrete Algorithms (SODA), 1027-1035,
       2007.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> kmeans = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> kmeans.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> kmeans.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> kmeans.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> float(kmeans.inertia_)
    16.0
    """

    _parameter_constraints = KMEANS_CONSTRAINTS

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    def _resolve_n_init(self):
        """Return the number of runs (scikit-learn's 'auto' rule and warning)."""
        if self.n_init == "auto":
            uses_draws = callable(self.init) or (
                isinstance(self.init, str) and self.init == "random"
            )
            n_init = 10 if uses_draws else 1
        else:
            n_init = self.n_init
        if _is_array_like(self.init) and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init "
                f"in {self.__class__.__name__} instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            n_init = 1
        return n_init

    @staticmethod
    def _check_center_shape(centers, n_clusters, n_features):
        """Raise scikit-learn's errors for initial centers of the wrong shape."""
        if centers.ndim != 2:
            raise ValueError(
                "The initial centers must be a 2-D array of shape (n_clusters, "
                f"n_features), got an array of shape {centers.shape}."
            )
        if centers.shape[0] != n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of clusters {n_clusters}."
            )
        if centers.shape[1] != n_features:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of features of the data {n_features}."
            )

    def _init_centroids(
        self,
        X,
        x_squared_norms,
        init,
        random_state,
        sample_weight,
        init_size=None,
        n_centroids=None,
    ):
        """Return initial centers of ``X`` by ``init`` (scikit-learn's private helper).

        Kept for code (and scikit-learn's tests) that call it; ``fit`` uses
        :meth:`_initial_centers`. ``x_squared_norms`` and ``init_size`` are
        accepted and unused.

        Returns
        -------
        ndarray of shape (n_centroids, n_features)
            In ``X``'s coordinates and dtype.
        """
        n_clusters = self.n_clusters if n_centroids is None else n_centroids
        X = np.asarray(X)
        weights = None if sample_weight is None else np.asarray(sample_weight)
        if isinstance(init, str) and init == "k-means++":
            centers, _ = kmeans_plusplus(
                X,
                n_clusters,
                sample_weight=None if weights is None else weights.astype(np.float64),
                random_state=random_state,
            )
        elif isinstance(init, str) and init == "random":
            p = None if weights is None else weights / weights.sum()
            seeds = random_state.choice(X.shape[0], size=n_clusters, replace=False, p=p)
            centers = X[seeds]
        elif callable(init):
            centers = check_array(
                init(X, n_clusters, random_state=random_state), dtype=X.dtype
            )
        else:
            centers = check_array(init, dtype=X.dtype)
        self._check_center_shape(np.asarray(centers), n_clusters, X.shape[1])
        return np.asarray(centers, dtype=X.dtype)

    def _initial_centers(self, X, X_mean, init_weight, random_state, n_init):
        """Draw the initial centers of every run, centered on ``X_mean``.

        The runs draw nothing from ``random_state``, so drawing every run's
        initialisation first consumes it exactly as scikit-learn does.
        """
        n_clusters = self.n_clusters
        init = self.init
        if _is_array_like(init):
            centers = as_float_array(init, "init", dtype=X.dtype)
            self._check_center_shape(centers, n_clusters, X.shape[1])
            return [centers.astype(np.float64) - X_mean.astype(np.float64)]
        if isinstance(init, str) and init == "random" and isinstance(X, DaskData):
            # k distinct rows without an n-sized probability vector.
            return [
                (X[choose_rows(random_state, X.shape[0], n_clusters)] - X_mean).astype(
                    np.float64
                )
                for _ in range(n_init)
            ]
        if isinstance(init, str) and init == "random":
            if init_weight is None:
                init_weight = np.ones(X.shape[0], dtype=X.dtype)
            p = init_weight / init_weight.sum()
            result = []
            for _ in range(n_init):
                seeds = random_state.choice(
                    X.shape[0], size=n_clusters, replace=False, p=p
                )
                result.append((X[seeds] - X_mean).astype(np.float64))
            return result
        # k-means++ and callables see the centered data, as in scikit-learn.
        result = []
        if callable(init):
            if isinstance(X, (_stream.Blocks, DaskData)):
                raise ValueError(
                    "A callable init needs the data in memory; for data read block "
                    "by block (a memmap, an array-like or a Dask array) pass "
                    "'k-means++', 'random' or an array of centers."
                )
            # A user's callable needs the centered data itself.
            X_centered = X - X_mean
            for _ in range(n_init):
                centers = init(X_centered, n_clusters, random_state=random_state)
                centers = check_array(centers, dtype=X.dtype, order="C", copy=True)
                self._check_center_shape(centers, n_clusters, X.shape[1])
                result.append(np.asarray(centers, dtype=np.float64))
            return result
        if isinstance(X, DaskData):
            return [
                _kmeans_parallel_centers(X, n_clusters, random_state, X_mean)
                for _ in range(n_init)
            ]
        # k-means++ on the centered data, read slab by slab: no copy of X.
        weights = None if init_weight is None else init_weight.astype(np.float64)
        for _ in range(n_init):
            centers, _ = kmeans_plusplus(
                X,
                n_clusters,
                sample_weight=weights,
                random_state=random_state,
                shift=X_mean.astype(np.float64),
            )
            result.append(centers)
        return result

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows. float32 data stays float32. A memmap or 2-D
            array-like is read block by block; a ``dask.array.Array`` (or Dask
            DataFrame) is fitted where its blocks live, with ``labels_`` a lazy
            Dask array (:mod:`fastem._dask`).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows; ``None`` weights every row equally. Not used by
            a callable or array ``init``.

        Returns
        -------
        self : KMeans
            The fitted estimator.
        """
        # BLAS at one thread for the whole fit, as the mixtures do.
        with _stream.transaction(self), single_threaded_blas():
            return self._fit(X, sample_weight)

    def _fit(self, X, sample_weight, *, keep_labels=True, with_inertia=True):
        """Fit; without ``keep_labels`` (streamed data only) set no ``labels_``.

        Without ``with_inertia`` (one in-memory run whose labels are all that is
        used: a mixture's start) ``inertia_`` is NaN and its pass is skipped.
        """
        X = check_data(self, X, reset=True)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        weights = check_sample_weight(sample_weight, n_samples)
        if isinstance(X, DaskData):
            _dask.check_no_sample_weight(weights)
            X.persist()  # every pass reads the blocks where they are
        n_init = self._resolve_n_init()
        self._n_init = n_init
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. Using "
                "'lloyd' instead.",
                RuntimeWarning,
                stacklevel=2,
            )
        tol = _tolerance(X, self.tol)
        random_state = check_random_state(self.random_state)

        # The kernels take distances around the column means (as scikit-learn
        # does on a centered copy) without copying the data.
        X_mean = _stream.column_mean(X)
        shift = X_mean.astype(np.float64)
        init_weight = None if weights is None else weights.astype(X.dtype)
        starts = self._initial_centers(X, X_mean, init_weight, random_state, n_init)
        kernel_weights = np.empty(0) if weights is None else weights

        best = None
        on_iteration = functools.partial(_progress.report, self, "iteration")
        for init, centers_init in enumerate(starts):
            if self.verbose:
                print("Initialization complete")
            _progress.report(
                self, "init", init=init, n_init=n_init, max_iter=self.max_iter
            )
            lloyd = (
                functools.partial(_lloyd_blocks, keep_labels=keep_labels)
                if isinstance(X, (_stream.Blocks, DaskData))
                else functools.partial(_lloyd, with_inertia=with_inertia or n_init > 1)
            )
            run = lloyd(
                X,
                kernel_weights,
                centers_init,
                shift,
                self.max_iter,
                tol,
                self.verbose,
                on_iteration=on_iteration,
            )
            _progress.report(self, "end", n_iter=run[3])
            labels, inertia = run[0], run[1]
            if best is None or (
                inertia < best[1]
                and (
                    labels is None
                    or not _same_clustering(labels, best[0], self.n_clusters)
                )
            ):
                best = run
        labels, inertia, centers, n_iter, distinct = best
        if distinct is None:  # counted for the kept run only
            distinct = _count_distinct(labels, self.n_clusters)
        self._centers64 = (centers, shift)  # float64, in the frame of ``shift``
        if keep_labels and isinstance(X, DaskData):
            # Lazy, on the input's graph: computed when asked for, and not
            # keeping the persisted blocks in the workers' memory.
            labels = _dask.kmeans_labels(X.unpersisted(), centers, shift)
        if keep_labels:
            if distinct < self.n_clusters:
                warnings.warn(
                    f"Number of distinct clusters ({distinct}) found smaller than "
                    f"n_clusters ({self.n_clusters}). Possibly due to duplicate "
                    "points in X.",
                    ConvergenceWarning,
                    # _fit, fit, scikit-learn's _fit_context wrapper, caller
                    stacklevel=4,
                )
            self.labels_ = labels
        self.cluster_centers_ = (centers + shift).astype(X.dtype)
        self._n_features_out = self.cluster_centers_.shape[0]
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self

    def _centers_for_kernel(self):
        """Fitted centers in float64 around their mean, and that mean."""
        centers = self.cluster_centers_.astype(np.float64)
        shift = centers.mean(axis=0)
        return centers - shift, shift

    def predict(self, X):
        """Predict the closest cluster of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            Index of the closest center of every row.
        """
        check_is_fitted(self)
        X = check_data(self, X, reset=False)
        centers, shift = self._centers_for_kernel()
        if isinstance(X, DaskData):
            return _dask.kmeans_labels(X, centers, shift)
        labels = np.empty(X.shape[0], dtype=np.int32)
        return _stream.lloyd_pass(X, np.empty(0), centers, shift, labels).labels

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the label of every training row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int32
            ``labels_`` of the fitted model.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Distances of every row to every cluster center.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distances, in the dtype of ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = check_data(self, X, reset=False)
        centers, shift = self._centers_for_kernel()
        if isinstance(X, DaskData):
            return _dask.kmeans_transform(X, centers, shift)
        if not isinstance(X, _stream.Blocks):
            return _distance_matrix(X, centers, shift)
        out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
        for start, stop, block in X.blocks():
            out[start:stop] = _distance_matrix(block, centers, shift)
        return out

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of the rows to the centers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distances to the fitted centers.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the k-means objective (the inertia) of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances to the closest centers.
        """
        check_is_fitted(self)
        X = check_data(self, X, reset=False)
        weights = check_sample_weight(sample_weight, X.shape[0])
        if isinstance(X, DaskData):
            _dask.check_no_sample_weight(weights)
        weights = np.empty(0) if weights is None else weights
        centers, shift = self._centers_for_kernel()
        return -_stream.lloyd_pass(X, weights, centers, shift, inertia="direct").inertia

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centers with one batch of rows (online k-means).

        The hard-assignment limit of :meth:`fastem.GaussianMixture.partial_fit`
        (see :mod:`fastem._online`): batch ``t`` assigns its rows to the
        current centers; its per-cluster weights and weighted sums, divided by
        the batch's total weight, are mixed into running ones, ``s <- (1 - g_t)
        s + g_t s_batch`` with ``g_t = (t + learning_offset) **
        -learning_decay``, and each center becomes its running sum over its
        running weight. A cluster with no running weight keeps its center.

        The first call draws the initial centers from its batch as :meth:`fit`
        does with one run (``init``, ``random_state``; ``n_init`` is not used).
        As in scikit-learn's ``MiniBatchKMeans``, those centers carry no weight,
        so the first step is one Lloyd iteration on the first batch, and
        clusters are not relocated. A call on a model fitted by :meth:`fit`, or
        whose ``cluster_centers_`` changed since the last ``partial_fit``,
        starts a new stream (step counter 0) in which each center weighs the
        fraction of ``labels_`` in its cluster. ``max_iter``, ``tol``,
        ``verbose``, ``copy_x`` and ``algorithm`` are not used.

        A batch that is rejected (wrong width, NaN or inf, empty, not 2-D, bad
        ``sample_weight``) raises and leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of rows; the first needs at least ``n_clusters`` rows.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights. Each batch weighs ``g_t`` in total.

        Returns
        -------
        self : KMeans
            The updated estimator, with ``cluster_centers_`` (in the batch's
            dtype), ``n_iter_`` the number of steps of the stream
            (``MiniBatchKMeans`` calls it ``n_steps_``), and ``labels_`` and
            ``inertia_`` of the batch under the centers before its update (the
            assignment the update used: no second pass over the batch, unlike
            ``MiniBatchKMeans``, which labels it again after the update).

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import KMeans
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (5000, 2)), rng.normal(8, 1, (5000, 2))])
        >>> km = KMeans(2, random_state=0)
        >>> for batch in np.array_split(rng.permutation(X), 20):
        ...     km = km.partial_fit(batch)
        >>> km.n_iter_, np.sort(km.cluster_centers_[:, 0]).round(1)
        (20, array([0., 8.]))
        """
        _online.kmeans_partial_fit(self, X, sample_weight)
        return self


def _kmeans_parallel_centers(X, n_clusters, random_state, X_mean):
    """Return initial centers for a Dask array: k-means|| candidates, reclustered.

    The weighted candidates (:func:`fastem._dask.kmeans_parallel`, in the frame
    centered on ``X_mean``) are clustered in memory by a weighted k-means
    (k-means++ start, Lloyd's iterations): step 8 of Bahmani et al.'s
    algorithm.
    """
    shift = X_mean.astype(np.float64)
    candidates, weights = _dask.kmeans_parallel(X, n_clusters, random_state, shift)
    if candidates.shape[0] <= n_clusters:  # fewer distinct rows than clusters
        return np.resize(candidates, (n_clusters, candidates.shape[1]))
    local = KMeans(n_clusters=n_clusters, n_init=1, random_state=random_state)
    local._fit(candidates, weights)
    centers, local_shift = local._centers64
    return centers + local_shift


def _relocate_empty_clusters(X, sample_weight, centers, shift, labels, step):
    """Move empty clusters onto the rows farthest from their centers.

    scikit-learn's rule: the ``n_empty`` rows farthest from their (old) center
    seed the empty clusters, in order of decreasing distance; each such row's
    contribution moves from its own cluster's sums to the empty cluster's, while
    its label stays. Nothing moves when every row sits on its center.
    """
    empty = np.flatnonzero(step.weights == 0)
    n_empty = empty.shape[0]
    farthest = _farthest_rows(X, sample_weight, centers, shift, labels, n_empty)
    if farthest is None:
        return
    for new_cluster, row in zip(empty, farthest, strict=True):
        weight = sample_weight[row] if sample_weight.shape[0] else 1.0
        row_values = X[row].astype(np.float64)
        if labels is None:  # streamed without labels: the row's nearest center
            old_cluster = _full_pass(
                np.ascontiguousarray(X[row : row + 1]),
                np.empty(0),
                centers,
                shift,
                with_inertia=False,
            ).labels[0]
        else:
            old_cluster = labels[row]
        value = (row_values - shift) * weight
        step.sums[old_cluster] -= value
        step.sums[new_cluster] = value
        step.weights[new_cluster] = weight
        step.weights[old_cluster] -= weight


def _count_distinct(labels, n_clusters):
    """Return the number of distinct labels, counted in slabs.

    ``np.bincount`` converts its input to int64 first: on int32 labels that is
    a temporary twice their size (the largest allocation of a streamed fit).
    """
    counts = np.zeros(n_clusters, dtype=np.int64)
    for start, stop in slabs(labels.shape[0]):
        counts += np.bincount(labels[start:stop], minlength=n_clusters)
    return int(np.count_nonzero(counts))


def _farthest_rows(X, sample_weight, centers, shift, labels, count):
    """Return the ``count`` rows farthest from their centers, farthest first.

    None when every row sits on its center. ``labels`` is an int32 array of
    every row's label, or, for streamed data, None: each block's labels are
    then recomputed from ``centers`` (the centers they were assigned with).
    """
    if isinstance(X, DaskData):
        return _dask.farthest_rows(X, centers, shift, count)
    if not isinstance(X, _stream.Blocks):
        distances, _ = _assigned_pass(X, sample_weight, centers, shift, labels)
        if distances.max() == 0:
            return None
        return np.argpartition(distances, -count)[: -count - 1 : -1]
    best_rows = np.empty(0, dtype=np.int64)
    best_distances = np.empty(0)
    for start, stop, block in X.blocks():
        weights = _stream.kernel_weights(sample_weight, start, stop)
        if labels is None:
            block_labels = _full_pass(
                block, weights, centers, shift, with_inertia=False
            ).labels
        else:
            block_labels = labels[start:stop]
        distances, _ = _assigned_pass(block, weights, centers, shift, block_labels)
        keep = min(count, distances.shape[0])
        top = np.argpartition(distances, -keep)[-keep:]
        best_rows = np.concatenate([best_rows, top + start])
        best_distances = np.concatenate([best_distances, distances[top]])
        order = np.argsort(-best_distances, kind="stable")[:count]
        best_rows, best_distances = best_rows[order], best_distances[order]
    if best_distances[0] == 0:
        return None
    return best_rows


def _lloyd_blocks(
    X,
    sample_weight,
    centers,
    shift,
    max_iter,
    tol,
    verbose,
    *,
    keep_labels=True,
    on_iteration=None,
):
    """:func:`_lloyd` over data read block by block (:class:`fastem._stream.Blocks`).

    Every iteration is one full pass per block (no per-row bounds: they would
    be n-sized state), the block sums added in block order. The labels do not
    change exactly when the recomputed centers equal the previous ones bit for
    bit (the sums are then over the same rows in the same order), which is how
    strict convergence is told here without a second labels array. Without
    ``keep_labels`` (or for Dask data) no n-sized array is made at all and
    the labels returned are None (the caller reads them back from the
    centers); the number of distinct clusters then comes from the final
    pass's weights, and is None when the labels are returned. ``on_iteration``,
    if given, is called after every iteration as in :func:`_lloyd`.
    """
    dask_data = isinstance(X, DaskData)
    keep = keep_labels and not dask_data  # a Dask fit's labels are lazy
    labels = np.empty(X.shape[0], dtype=np.int32) if keep else None

    def one_pass(centers, with_inertia):
        return _stream.lloyd_pass(
            X,
            sample_weight,
            centers,
            shift,
            labels,
            inertia="direct" if with_inertia else None,
        )

    for iteration in range(max_iter):
        step = one_pass(centers, with_inertia=bool(verbose))
        if verbose:
            print(f"Iteration {iteration}, inertia {step.inertia}.")
        if not np.all(step.weights > 0):
            _relocate_empty_clusters(X, sample_weight, centers, shift, labels, step)
        centers_new = _average_centers(step.sums, step.weights)
        center_shift_total = float(((centers_new - centers) ** 2).sum())
        strict = iteration > 0 and np.array_equal(centers_new, centers)
        centers = centers_new
        if on_iteration is not None:
            on_iteration(n_iter=iteration + 1, center_shift=center_shift_total)
        if _converged(iteration, strict, center_shift_total, tol, verbose):
            break
    # The labels (if kept) and the inertia of the returned centers: one more
    # pass in every case (after a strict convergence it gives the same labels).
    final = one_pass(centers, with_inertia=True)
    # Without labels (unweighted Dask data, or not reported): the clusters
    # with rows; with labels, the caller counts them for the kept run.
    distinct = None if labels is not None else int(np.count_nonzero(final.weights > 0))
    return labels, final.inertia, centers, iteration + 1, distinct


def _lloyd(
    X,
    sample_weight,
    centers,
    shift,
    max_iter,
    tol,
    verbose,
    *,
    on_iteration=None,
    with_inertia=True,
):
    """One k-means run from ``centers`` (frame shifted by ``shift``).

    Returns ``(labels, inertia, centers, n_iter, None)`` with scikit-learn's
    semantics (the last item, the number of distinct clusters, is counted from
    the labels by the caller for the run it keeps): the loop stops when the
    labels do not change (strict convergence) or when the squared center shift
    is within ``tol``; unless it converged strictly, the rows are re-assigned
    to the final centers, and the inertia is that of the returned labels and
    centers. ``on_iteration``, if given, is called after every iteration with
    the keywords ``n_iter`` and ``center_shift`` (see :mod:`fastem._progress`).
    Without ``with_inertia`` the returned inertia is NaN (one pass fewer).
    """
    strict = False
    # Every pass updates the sums with the rows that changed cluster (unless
    # weighted). For larger problems Hamerly's bounds also skip the rows whose
    # label cannot change (the labels are those of the full pass).
    state = LloydState(X, centers.shape[0], shift=shift)
    for iteration in range(max_iter):
        step = _carried_pass(X, sample_weight, centers, state)
        if verbose:
            _, inertia = _assigned_pass(X, sample_weight, centers, shift, step.labels)
            print(f"Iteration {iteration}, inertia {inertia}.")
        if not np.all(step.weights > 0):
            _relocate_empty_clusters(
                X, sample_weight, centers, shift, step.labels, step
            )
        centers_new = _average_centers(step.sums, step.weights)
        center_shift = np.sqrt(((centers_new - centers) ** 2).sum(axis=1))
        center_shift_total = float((center_shift**2).sum())
        centers = centers_new
        if on_iteration is not None:
            on_iteration(n_iter=iteration + 1, center_shift=center_shift_total)
        labels = step.labels
        strict = state.n_changed == 0
        if _converged(iteration, strict, center_shift_total, tol, verbose):
            break
    if not strict:
        labels = _carried_pass(X, sample_weight, centers, state).labels
    # The inertia of the returned labels and centers, from the direct distance.
    inertia = np.nan
    if with_inertia:
        _, inertia = _assigned_pass(X, sample_weight, centers, shift, labels)
    return labels.copy(), inertia, centers, iteration + 1, None


def _converged(iteration, strict, center_shift_total, tol, verbose):
    """Whether a Lloyd run stops: scikit-learn's two tests and messages."""
    if strict:
        if verbose:
            print(f"Converged at iteration {iteration}: strict convergence.")
        return True
    if center_shift_total <= tol:
        if verbose:
            print(
                f"Converged at iteration {iteration}: center shift "
                f"{center_shift_total} within tolerance {tol}."
            )
        return True
    return False


def _average_centers(sums, weights):
    """Weighted means; a cluster without weight goes onto the heaviest one."""
    positive = weights > 0
    centers = sums * (1.0 / np.where(positive, weights, 1.0))[:, None]
    if not positive.all():
        centers[~positive] = centers[np.argmax(weights)]
    return centers
