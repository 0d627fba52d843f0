"""Model selection: fit a grid of Gaussian mixtures and rank them by BIC or AIC.

:func:`select_model` fits :class:`fastem.GaussianMixture` for every
``(n_components, covariance_type)`` candidate and returns a
:class:`ModelSelection`: one table row per candidate and the best fitted model.
scikit-learn has no such function; its documentation shows the loop written by
hand (the "Gaussian Mixture Model Selection" example, which fits every candidate
with the same integer ``random_state`` and calls ``bic(X)``).

What the function adds to that loop:

- one scoring pass per candidate gives both criteria (``bic(X)`` and ``aic(X)``
  would each read ``X`` again);
- ``X`` is validated once and the checked array is given to every fit (no copy
  per candidate, no check per candidate; a memmap or another streamed
  array-like is checked in one pass over its blocks, then read block by block
  by each fit);
- candidates run concurrently on Python threads, each fit with its own Numba
  thread count: fastem's compiled kernels release the GIL, so the threads run
  on separate cores. Results do not depend on ``n_jobs``: every candidate's seed
  is fixed before any fit, and fastem's kernels give the same result for any
  thread count;
- a candidate whose fit fails does not end the selection, and non-convergence is
  reported once for the whole grid.
"""

import concurrent.futures
import math
import numbers
import time
import warnings

import numba
import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from . import _dask
from ._config import n_threads
from ._stream import Blocks
from ._validation import check_data
from .gaussian_mixture import GaussianMixture

#: The covariance types :class:`fastem.GaussianMixture` takes.
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: The criteria :func:`select_model` ranks by.
CRITERIA = ("bic", "aic")
#: The columns of :attr:`ModelSelection.table`, in order.
COLUMNS = (
    "n_components",
    "covariance_type",
    "bic",
    "aic",
    "log_likelihood",
    "n_iter",
    "converged",
    "fit_time",
)
#: The start of GaussianMixture's own non-convergence warning, replaced by one
#: summary for the grid.
_NOT_CONVERGED = "Best performing initialization did not converge"


class ModelSelection:
    """The result of :func:`select_model`: a table of candidates and the best one.

    Only the best fitted estimator is kept (the others are dropped as soon as
    they are scored, so memory does not grow with the grid); refit a candidate
    from its table row when needed.

    Attributes
    ----------
    table : dict of str -> ndarray of shape (n_candidates,)
        One entry per column, one value per candidate, in the order of the grid
        (covariance type outer, number of components inner, as given):
        ``n_components`` (int64), ``covariance_type`` (str), ``bic``, ``aic``,
        ``log_likelihood`` (the total log-likelihood of ``X`` under the fitted
        model, ``n_samples * score(X)``), ``n_iter`` (int64), ``converged``
        (bool) and ``fit_time`` (seconds of that candidate's fit and scoring,
        float64). A candidate whose fit failed has NaN ``bic``, ``aic`` and
        ``log_likelihood``, ``n_iter`` 0 and ``converged`` False.
        ``pandas.DataFrame(table)`` makes a data frame of it (see
        :meth:`to_frame`), as with scikit-learn's ``cv_results_``.
    criterion : {'bic', 'aic'}
        The column the best candidate minimises.
    best_index : int
        The row of the best candidate (the first one on ties).
    best_estimator : GaussianMixture
        The fitted model of that row.
    best_params : dict
        Its ``n_components`` and ``covariance_type``.
    n_samples : int
        Number of rows of ``X``.
    """

    def __init__(self, table, criterion, best_index, best_estimator, n_samples):
        self.table = table
        self.criterion = criterion
        self.best_index = int(best_index)
        self.best_estimator = best_estimator
        self.n_samples = int(n_samples)

    @property
    def best_params(self):
        """``{'n_components': ..., 'covariance_type': ...}`` of the best row."""
        row = self.best_index
        return {
            "n_components": int(self.table["n_components"][row]),
            "covariance_type": str(self.table["covariance_type"][row]),
        }

    def __len__(self):
        return len(self.table["n_components"])

    def __repr__(self):
        return (
            f"ModelSelection(criterion={self.criterion!r}, "
            f"best_params={self.best_params!r}, n_candidates={len(self)})"
        )

    def __str__(self):
        return self.to_string()

    def to_string(self):
        """Return the table as aligned plain text, the best row marked ``*``.

        Returns
        -------
        text : str
            A header line, one line per candidate, and a last line naming the
            best candidate.
        """
        formats = {
            "n_components": str,
            "covariance_type": str,
            "bic": "{:.2f}".format,
            "aic": "{:.2f}".format,
            "log_likelihood": "{:.2f}".format,
            "n_iter": str,
            "converged": str,
            "fit_time": "{:.3f}".format,
        }
        columns = [
            [name] + [formats[name](value) for value in self.table[name]]
            for name in COLUMNS
        ]
        widths = [max(len(cell) for cell in column) for column in columns]
        lines = []
        for row in range(len(self) + 1):
            mark = "*" if row - 1 == self.best_index else " "
            cells = [
                column[row].ljust(width)
                if name == "covariance_type"
                else column[row].rjust(width)
                for name, column, width in zip(COLUMNS, columns, widths, strict=True)
            ]
            lines.append((mark + " " + "  ".join(cells)).rstrip())
        best = self.best_params
        lines.append(
            f"* lowest {self.criterion.upper()}: n_components="
            f"{best['n_components']}, covariance_type="
            f"{best['covariance_type']!r} (n_samples={self.n_samples})"
        )
        return "\n".join(lines)

    def to_frame(self):
        """Return the table as a :class:`pandas.DataFrame` (one row per candidate).

        Returns
        -------
        frame : pandas.DataFrame
            The columns of :attr:`table`, in order.

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "ModelSelection.to_frame needs pandas (pip install pandas); "
                "the table is also available as a dict of NumPy arrays: "
                "result.table."
            ) from exc
        return pd.DataFrame({name: self.table[name] for name in COLUMNS})


def select_model(
    X,
    n_components=range(1, 11),
    covariance_types=COVARIANCE_TYPES,
    criterion="bic",
    n_init=1,
    random_state=None,
    max_iter=100,
    tol=1e-3,
    reg_covar=1e-6,
    init_params="kmeans",
    n_jobs=None,
    callback=None,
):
    """Fit a Gaussian mixture per (n_components, covariance_type); keep the best.

    Every candidate is a :class:`fastem.GaussianMixture` with the given
    ``n_init``, ``max_iter``, ``tol``, ``reg_covar`` and ``init_params``, fitted
    on ``X`` and scored on ``X`` once: the total log-likelihood ``L`` of that
    pass gives both criteria, with ``p`` the number of free parameters
    (``GaussianMixture._n_parameters``) and ``n`` the number of rows,

    - BIC (Schwarz 1978) ``= -2 L + p log(n)``,
    - AIC (Akaike 1974) ``= -2 L + 2 p``,

    the values ``GaussianMixture.bic(X)`` and ``aic(X)`` return. Lower is
    better. scikit-learn leaves this loop to the user (its "Gaussian Mixture
    Model Selection" example writes it by hand); this function runs the same
    fits, from the same seeds, concurrently.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, validated once (as :meth:`GaussianMixture.fit` would) and then
        shared by every fit without a copy. A memmap or another 2-D array-like
        (h5py, zarr) is never copied: its values are checked in one pass over
        its blocks, then every fit reads it block by block. A Dask array is
        given to every fit as it is; its candidates then run one after the
        other (Dask parallelises each fit).
    n_components : int or iterable of int, default=range(1, 11)
        The numbers of components to try, each in ``[1, n_samples]``.
    covariance_types : str or iterable of str, default=("full", "tied", "diag", \
            "spherical")
        The covariance types to try.
    criterion : {'bic', 'aic'}, default='bic'
        The criterion whose minimum selects the best candidate.
    n_init : int, default=1
        Initialisations per candidate (the best lower bound is kept).
    random_state : int, RandomState instance or None, default=None
        An int is given as it is to every candidate (as scikit-learn's example
        does). Otherwise one seed per candidate is drawn from it, in table
        order, before any fit.
    max_iter : int, default=100
        Maximum EM iterations per initialisation.
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample lower bound.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How each candidate is initialised.
    n_jobs : int or None, default=None
        Candidates fitted at once, on Python threads. None and -1 mean
        ``numba.get_num_threads()`` (by default the number of cores). With
        ``n_jobs > 1`` each fit gets ``numba.get_num_threads() // n_jobs``
        Numba threads (at least one) and the most expensive candidates are
        started first. With ``n_jobs=1`` the candidates run one after the
        other in the calling thread, each with the current Numba thread count
        (so one large fit still uses every core). Either way BLAS is held at
        one thread for the whole selection (threadpoolctl; restored
        afterwards): the fits call it only on (n_features, n_features)
        matrices. Results do not depend on ``n_jobs``.
    callback : callable, default=None
        Called as ``callback(row)`` after each candidate has been fitted and
        scored, from the thread that ran it (not necessarily the calling
        thread; calls may overlap when ``n_jobs > 1``, and come in the order
        the candidates finish). ``row`` is a dict of the candidate's table
        columns (Python scalars) plus ``'index'``, its table row. An exception
        it raises stops the selection.

    Returns
    -------
    result : ModelSelection
        The table of candidates, the best row and its fitted estimator.

    Raises
    ------
    ValueError
        For an invalid parameter (before any fit), for duplicated values in
        ``n_components`` or ``covariance_types`` (rejected: each candidate is
        fitted once), or when every candidate's fit fails.
    TypeError
        For a parameter of the wrong type.

    Warns
    -----
    UserWarning
        One warning naming the candidates whose fit raised ``ValueError`` (for
        instance an ill-defined covariance on degenerate data) and the error;
        their rows hold NaN.
    ConvergenceWarning
        One warning naming the candidates that did not converge (instead of
        one warning per fit).

    See Also
    --------
    GaussianMixture.bic, GaussianMixture.aic : The criteria of one model.

    Notes
    -----
    Candidates run on threads of this process: fastem's kernels release the GIL,
    so with ``n_jobs`` threads up to ``n_jobs`` fits progress at once, without
    the start-up and data transfer of worker processes. The Python parts of a
    fit (its M-step on small arrays, the k-means++ seeding) still take turns
    on the GIL, so the gain is smallest on small data: on 2 cores, 40
    candidates on 1e5 rows of 8 features ran 1.7-1.8x faster on two threads
    than one after the other with one thread, and about as fast on 1e3 rows,
    where a fit is mostly Python. Warnings raised during the selection, from
    any thread, are caught and issued again once each when it ends.

    References
    ----------
    .. [1] G. Schwarz, "Estimating the dimension of a model", The Annals of
       Statistics 6(2), 461-464, 1978.
    .. [2] H. Akaike, "A new look at the statistical model identification",
       IEEE Transactions on Automatic Control 19(6), 716-723, 1974.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import select_model
    >>> rng = np.random.default_rng(0)
    >>> # three clusters with the same covariance
    >>> X = np.vstack([rng.normal(c, [1.0, 0.3], (200, 2)) for c in (-5, 0, 5)])
    >>> result = select_model(X, n_components=range(1, 5), random_state=0)
    >>> result.best_params
    {'n_components': 3, 'covariance_type': 'tied'}
    >>> len(result), result.table["bic"].shape
    (16, (16,))
    >>> bool(result.table["bic"][result.best_index] == result.best_estimator.bic(X))
    True
    """
    grid, criterion, n_init, n_jobs = _check_grid(
        n_components, covariance_types, criterion, n_init, n_jobs, callback
    )
    params = dict(
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        reg_covar=reg_covar,
        init_params=init_params,
    )
    # Checks tol, reg_covar, max_iter, init_params and random_state with
    # GaussianMixture's own constraints and messages, before any fit.
    template = GaussianMixture(
        max(k for k, _ in grid), random_state=random_state, **params
    )
    template._validate_params()
    data, data_for_a_fit, kind = _check_X(template, X)
    n_samples = int(data.shape[0])
    for k, _ in grid:
        if k > n_samples:
            raise ValueError(
                f"select_model: every n_components must be at most n_samples = "
                f"{n_samples}, got n_components = {k}."
            )
    seeds = _seeds(random_state, len(grid))
    if kind == "dask":  # each fit is parallel on the cluster already
        n_jobs = 1
    n_jobs = min(n_jobs, len(grid))

    config = sklearn.get_config()
    if kind == "memory":
        # Checked above: the fits and the scoring skip scikit-learn's finite
        # check (one pass over X each) of the array they share.
        config["assume_finite"] = True
    candidates = [
        _Candidate(index, k, cov, seed)
        for index, ((k, cov), seed) in enumerate(zip(grid, seeds, strict=True))
    ]

    def run(candidate, threads):
        return _fit_candidate(
            candidate, data_for_a_fit(), n_samples, params, config, threads, callback
        )

    # BLAS at one thread for the whole selection (restored afterwards): the
    # fits call it only on (n_features, n_features) matrices, where more
    # threads do not help, and concurrent fits would oversubscribe the cores.
    # It also makes the M-step's BLAS calls the same for every n_jobs.
    with (
        threadpool_limits(limits=1, user_api="blas"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        if n_jobs == 1:
            results = _run_serial(candidates, run)
        else:
            results = _run_threads(candidates, run, n_jobs, n_features=data.shape[1])
        rows, best_index, best = _gather(candidates, results, criterion)
    _reissue(caught)
    _warn_failures(candidates, rows, criterion)
    if max_iter > 0:
        _warn_not_converged(candidates, rows, max_iter)
    table = _table(candidates, rows)
    if hasattr(template, "feature_names_in_"):
        best.feature_names_in_ = template.feature_names_in_
    return ModelSelection(table, criterion, best_index, best, n_samples)


# -- checks ----------------------------------------------------------------------


def _check_grid(n_components, covariance_types, criterion, n_init, n_jobs, callback):
    """Validate the grid and the selection's own parameters; return the grid."""
    if isinstance(n_components, numbers.Integral) and not isinstance(
        n_components, bool
    ):
        n_components = [n_components]
    if isinstance(n_components, str) or not np.iterable(n_components):
        raise TypeError(
            "select_model: n_components must be an int or an iterable of ints, "
            f"got {n_components!r}."
        )
    ks = []
    for k in n_components:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(
                "select_model: n_components must hold integers, got "
                f"{k!r} ({type(k).__name__})."
            )
        if k < 1:
            raise ValueError(
                f"select_model: every n_components must be >= 1, got {int(k)}."
            )
        ks.append(int(k))
    if not ks:
        raise ValueError("select_model: n_components is empty; give at least one.")
    _check_unique(ks, "n_components")

    if isinstance(covariance_types, str):
        covariance_types = [covariance_types]
    if not np.iterable(covariance_types):
        raise TypeError(
            "select_model: covariance_types must be a str or an iterable of str, "
            f"got {covariance_types!r}."
        )
    types = list(covariance_types)
    if not types:
        raise ValueError(
            "select_model: covariance_types is empty; give at least one of "
            f"{COVARIANCE_TYPES}."
        )
    for cov in types:
        if not isinstance(cov, str) or cov not in COVARIANCE_TYPES:
            raise ValueError(
                f"select_model: unknown covariance type {cov!r}; covariance_types "
                f"must hold values from {COVARIANCE_TYPES}."
            )
    types = [str(cov) for cov in types]
    _check_unique(types, "covariance_types")

    if not isinstance(criterion, str) or criterion.lower() not in CRITERIA:
        raise ValueError(
            f"select_model: criterion must be 'bic' or 'aic', got {criterion!r}."
        )
    if isinstance(n_init, bool) or not isinstance(n_init, numbers.Integral):
        raise TypeError(f"select_model: n_init must be an int, got {n_init!r}.")
    if n_init < 1:
        raise ValueError(f"select_model: n_init must be >= 1, got {n_init}.")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral)
    ):
        raise TypeError(f"select_model: n_jobs must be None or an int, got {n_jobs!r}.")
    if n_jobs is not None and not (n_jobs >= 1 or n_jobs == -1):
        raise ValueError(
            "select_model: n_jobs must be None, -1 (as many as Numba threads) "
            f"or >= 1, got {n_jobs}."
        )
    if n_jobs is None or n_jobs == -1:
        n_jobs = numba.get_num_threads()
    if callback is not None and not callable(callback):
        raise TypeError(
            f"select_model: callback must be callable or None, got {callback!r}."
        )
    grid = [(k, cov) for cov in types for k in ks]
    return grid, criterion.lower(), int(n_init), int(n_jobs)


def _check_unique(values, name):
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(
                f"select_model: {name} holds {value!r} more than once; give each "
                "value once (every candidate is fitted once)."
            )
        seen.add(value)


def _check_X(template, X):
    """Validate ``X`` once; return ``(checked, data_for_a_fit, kind)``.

    ``kind`` is 'memory', 'streamed' or 'dask'; ``data_for_a_fit()`` is what one
    candidate's fit and scoring read:

    - in-memory data becomes one C-contiguous float array (scikit-learn's
      checks), shared by every fit;
    - a memmap or another streamed array-like has its shape checked, then its
      values, in one pass over its blocks here; every fit gets a reader of its
      own over the same array (a reader's block buffer is not shared between
      threads), marked as checked, so no fit checks or copies it again;
    - a Dask array is given as it is (each fit persists it and checks its
      blocks where they live).
    """
    checked = check_data(template, X, reset=True, ensure_min_samples=2)
    if isinstance(checked, _dask.DaskData):
        return checked, lambda: X, "dask"
    if isinstance(checked, Blocks):
        for _ in checked.blocks():  # checks every block's values, once
            pass

        def reader():
            blocks = Blocks(
                checked.array,
                estimator_name=checked.estimator_name,
                block_rows=checked.block_rows,
            )
            blocks._checked[:] = True
            return blocks

        return checked, reader, "streamed"
    return checked, lambda: checked, "memory"


def _seeds(random_state, n_candidates):
    """One seed per candidate, in table order: the int itself, or drawn ones."""
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return [int(random_state)] * n_candidates
    rng = check_random_state(random_state)
    return [
        int(seed) for seed in rng.randint(np.iinfo(np.int32).max, size=n_candidates)
    ]


# -- running the candidates ------------------------------------------------------


class _Candidate:
    __slots__ = ("index", "n_components", "covariance_type", "seed")

    def __init__(self, index, n_components, covariance_type, seed):
        self.index = index
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.seed = seed

    def __str__(self):
        return f"(n_components={self.n_components}, {self.covariance_type!r})"

    def cost(self, n_features):
        """Return a relative cost of one iteration (expensive fits start first)."""
        d = n_features
        per_component = {
            "full": d * (d + 3) / 2,
            "tied": d * (d + 3) / 2,
            "diag": 2 * d,
            "spherical": d + 1,
        }[self.covariance_type]
        return self.n_components * per_component


class _Result:
    __slots__ = ("row", "estimator", "error")

    def __init__(self, row, estimator, error):
        self.row = row
        self.estimator = estimator
        self.error = error


def criteria(estimator, mean_log_likelihood, n_samples):
    """BIC and AIC of a fitted GaussianMixture from one scoring pass.

    The formulas of :meth:`GaussianMixture.bic` and ``aic``, term for term,
    so the floats are those calling them gives, without reading X twice.

    Parameters
    ----------
    estimator : GaussianMixture
        Fitted.
    mean_log_likelihood : float
        ``estimator.score(X)``.
    n_samples : int
        Rows of ``X``.

    Returns
    -------
    bic, aic : float
    """
    n_parameters = estimator._n_parameters()
    fit_term = -2 * mean_log_likelihood * n_samples
    return (
        float(fit_term + n_parameters * np.log(n_samples)),
        float(fit_term + 2 * n_parameters),
    )


def _fit_candidate(candidate, X, n_samples, params, config, threads, callback):
    """Fit and score one candidate; a ``ValueError`` gives a NaN row."""
    start = time.perf_counter()
    estimator = GaussianMixture(
        candidate.n_components,
        covariance_type=candidate.covariance_type,
        random_state=candidate.seed,
        **params,
    )
    error = None
    with sklearn.config_context(**config), n_threads(threads):
        try:
            estimator.fit(X)
            mean_log_likelihood = estimator.score(X)
        except ValueError as exc:
            error = exc
    fit_time = time.perf_counter() - start
    row = {
        "n_components": candidate.n_components,
        "covariance_type": candidate.covariance_type,
    }
    if error is None:
        bic, aic = criteria(estimator, mean_log_likelihood, n_samples)
        row.update(
            bic=bic,
            aic=aic,
            log_likelihood=float(mean_log_likelihood * n_samples),
            n_iter=int(estimator.n_iter_),
            converged=bool(estimator.converged_),
        )
    else:
        estimator = None
        row.update(
            bic=math.nan, aic=math.nan, log_likelihood=math.nan, n_iter=0,
            converged=False,
        )  # fmt: skip
    row["fit_time"] = fit_time
    if callback is not None:
        callback({**row, "index": candidate.index})
    return _Result(row, estimator, error)


def _run_serial(candidates, run):
    """Fit the candidates in table order in this thread (current thread count)."""
    for candidate in candidates:
        yield candidate.index, run(candidate, None)


def _run_threads(candidates, run, n_jobs, n_features):
    """Fit the candidates on ``n_jobs`` threads, the most expensive first.

    Yields ``(index, result)`` as they finish. Each fit gets an equal share of
    the Numba threads (at least one). On an error the candidates not started
    yet are cancelled and the running ones waited for.
    """
    threads = max(1, numba.get_num_threads() // n_jobs)
    order = sorted(candidates, key=lambda c: (-c.cost(n_features), c.index))
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=n_jobs, thread_name_prefix="fastem-select"
    )
    try:
        futures = {
            executor.submit(run, candidate, threads): candidate.index
            for candidate in order
        }
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _gather(candidates, results, criterion):
    """Take the results as they come; keep only the best estimator.

    Returns the results in table order, the best row and its estimator.
    """
    rows = [None] * len(candidates)
    best_index, best_value, best = None, math.inf, None
    for index, result in results:
        rows[index] = result
        value = result.row[criterion]
        if result.error is None and not math.isnan(value):
            if best is None or (value, index) < (best_value, best_index):
                best_index, best_value, best = index, value, result.estimator
        result.estimator = None  # only the best one is kept
    return rows, best_index, best


def _table(candidates, rows):
    """Return the columns of :attr:`ModelSelection.table`, one value per row."""
    table = {
        "n_components": np.array([c.n_components for c in candidates], np.int64),
        "covariance_type": np.array([c.covariance_type for c in candidates]),
    }
    for name, dtype in (
        ("bic", np.float64),
        ("aic", np.float64),
        ("log_likelihood", np.float64),
        ("n_iter", np.int64),
        ("converged", np.bool_),
        ("fit_time", np.float64),
    ):
        table[name] = np.array([result.row[name] for result in rows], dtype=dtype)
    return table


# -- warnings --------------------------------------------------------------------


def _reissue(caught):
    """Issue again, once each, the warnings caught during the fits.

    GaussianMixture's own non-convergence warnings are dropped: one summary
    (:func:`_warn_not_converged`) replaces them.
    """
    seen = set()
    for record in caught:
        message = str(record.message)
        if issubclass(record.category, ConvergenceWarning) and message.startswith(
            _NOT_CONVERGED
        ):
            continue
        key = (record.category, message)
        if key in seen:
            continue
        seen.add(key)
        warnings.warn(record.message, stacklevel=3)


def _warn_failures(candidates, rows, criterion):
    """One ``UserWarning`` naming the failed candidates and their errors.

    Raises ``ValueError`` when no candidate has a usable criterion.
    """
    failed = {}
    for candidate, result in zip(candidates, rows, strict=True):
        if result.error is not None:
            text = f"{type(result.error).__name__}: {result.error}"
            failed.setdefault(text, []).append(str(candidate))
    n_failed = sum(len(names) for names in failed.values())
    if n_failed == len(candidates):
        first = next(result.error for result in rows if result.error is not None)
        raise ValueError(
            f"select_model: the fit of every candidate failed; the first error "
            f"was: {type(first).__name__}: {first}"
        ) from first
    if n_failed:
        groups = "; ".join(
            f"{', '.join(names)}: {text}" for text, names in failed.items()
        )
        warnings.warn(
            f"select_model: the fit of {n_failed} of {len(candidates)} candidates "
            f"raised an error; their rows hold NaN. {groups}",
            UserWarning,
            stacklevel=3,
        )
    if all(math.isnan(result.row[criterion]) for result in rows):
        raise ValueError(
            f"select_model: no candidate has a finite {criterion.upper()}."
        )


def _warn_not_converged(candidates, rows, max_iter):
    """One ``ConvergenceWarning`` naming the fitted candidates that did not converge."""
    names = [
        str(candidate)
        for candidate, result in zip(candidates, rows, strict=True)
        if result.error is None and not result.row["converged"]
    ]
    if names:
        warnings.warn(
            f"select_model: {len(names)} of {len(candidates)} candidates did not "
            f"converge within max_iter={max_iter} iterations: {', '.join(names)}. "
            "Their criteria are those of unconverged fits; try a larger max_iter "
            "or tol, more n_init, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=3,
        )
