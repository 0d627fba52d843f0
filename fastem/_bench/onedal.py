"""Intel oneDAL's EM (daal4py ``em_gmm``): an optional GaussianMixture backend.

daal4py does not import next to the scikit-learn that fastem needs, so it runs
in an interpreter of its own (``--onedal-python``, else ``$FASTEM_ONEDAL_PYTHON``,
else this one), one fresh process per repeat (:mod:`.onedal_child`). Each gets
the data and the common start through files in a temporary folder: the same
weights and means as the other backends, and covariances computed from the same
initial precisions (oneDAL takes covariances). oneDAL is never a dependency of
fastem: where no interpreter imports daal4py, the report gives the reason.

What oneDAL does differently from scikit-learn, read in its source
(``cpp/daal/src/algorithms/em/em_gmm_dense_default_batch_impl.i`` and
``..._task.h``, oneDAL 2024); daal4py's docstring says only "Factor for covariance
regularization in case of ill-conditional data":

- ``regularizationFactor`` is not ``reg_covar``. scikit-learn adds ``reg_covar``
  to the diagonal of every covariance at every M-step; oneDAL adds nothing unless
  a covariance fails its Cholesky factorisation ('full') or has a variance below
  1000 times the smallest normal number ('diag'), and then adds
  ``max(factor * smallest eigenvalue above that threshold, -(1 + factor) *
  smallest eigenvalue)`` to its diagonal. Passing ``reg_covar`` as the factor is
  the closest setting; on well-conditioned data it never acts, so from the second
  iteration on oneDAL's covariances are smaller by ``reg_covar`` on the diagonal
  and its means drift from fastem's and scikit-learn's, more with every iteration
  and with d (1e-6 to 1e-4 after 4 iterations at reg_covar=1e-6; reported as the
  agreement, not a failure).
- ``accuracyThreshold`` must be >= 0, and the loop runs while the log-likelihood
  gains *more* than it: at 0 a fit still stops early when the log-likelihood no
  longer increases, hence the check of ``nIterations``.
- ``goalFunction`` is the total log-likelihood from the E-step of the last
  iteration (before its M-step): ``n_samples`` times scikit-learn's
  ``lower_bound_`` after the same iterations.
- The E-step clips log-densities below the row's largest by more than 650
  (float64; 75 for float32) before ``exp``, and the M-step does not add
  scikit-learn's ``10 * eps`` to the component weights (an empty component is
  an error): both below rounding here.

Otherwise the arithmetic is the same: measured on blobs of 2,000 x 4 and k=3,
fastem with ``reg_covar=0`` and oneDAL agree to 1e-15 (means) after 2 and 5
iterations from the same start, 'full' and 'diag'; ``tests/test_bench_onedal.py``
checks 1e-12 after 2.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import linalg

from .child import run_child
from .data import REG_COVAR

#: The environment variable naming the interpreter (``--onedal-python``).
ONEDAL_PYTHON_ENV = "FASTEM_ONEDAL_PYTHON"
#: The covariance types oneDAL's EM has.
ONEDAL_COVARIANCE_TYPES = ("full", "diag")
#: The child script, run by file path in the oneDAL interpreter.
CHILD = Path(__file__).with_name("onedal_child.py")


class OneDALError(RuntimeError):
    """oneDAL could not run, failed, or did not do the work that was asked."""


@dataclass(frozen=True)
class OneDAL:
    """The interpreter that runs oneDAL, and what it reported.

    ``versions`` (daal4py, Python and NumPy there) when it imports daal4py;
    otherwise ``reason``, a line for the report.
    """

    python: str
    versions: dict = field(default_factory=dict)
    reason: str | None = None


def _one_line(exc):
    """Return the last line of an exception's text, with its type."""
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[-1]}"


def run_onedal_child(python, args, timeout=1800):
    """Run :mod:`.onedal_child` with ``args`` in ``python``; return its JSON.

    ``-I`` keeps the child's ``sys.path`` free of this folder, of
    ``PYTHONPATH`` and of the user's site-packages.

    Raises
    ------
    OneDALError
        When the interpreter does not start or exits with an error, and when
        the child reports an error (daal4py not importable, a failed fit).
    """
    try:
        out = run_child(["-I", str(CHILD), *args], timeout=timeout, python=python)
    except (OSError, RuntimeError, ValueError, IndexError) as exc:
        raise OneDALError(_one_line(exc)) from exc
    except subprocess.TimeoutExpired as exc:
        raise OneDALError(f"no answer within {timeout} s") from exc
    if "error" in out:
        raise OneDALError(out["error"])
    return out


def find_onedal(python=None):
    """Return the :class:`OneDAL` of ``python``, or of the default interpreter.

    Parameters
    ----------
    python : str or path, optional
        ``--onedal-python``; when not given, ``$FASTEM_ONEDAL_PYTHON``, else this
        interpreter (``sys.executable``).

    Returns
    -------
    OneDAL
        Never raises: an interpreter that is missing or cannot import daal4py
        gives a ``reason``.
    """
    given = python or os.environ.get(ONEDAL_PYTHON_ENV)
    python = str(given or sys.executable)
    try:
        versions = run_onedal_child(python, ["--versions"], timeout=120)
    except OneDALError as exc:
        hint = "" if given else f" (pass --onedal-python or set {ONEDAL_PYTHON_ENV})"
        reason = f"oneDAL unavailable: {python} cannot import daal4py: {exc}{hint}"
        return OneDAL(python, reason=reason)
    return OneDAL(python, versions=versions)


def onedal_skip_reason(case, onedal):
    """Return why ``case`` gets no oneDAL measurement, or ``None`` if it does.

    Only GaussianMixture cases with 'full' or 'diag' covariances (float64 or
    float32: ``em_gmm`` has ``fptype='float'``).
    """
    if onedal.reason:
        return onedal.reason
    if case.model != "gmm":
        return "oneDAL EM is GaussianMixture only"
    if case.covariance_type not in ONEDAL_COVARIANCE_TYPES:
        return f"oneDAL EM has no {case.covariance_type} covariance"
    return None


def onedal_covariances(init, covariance_type):
    """Return the covariances of the initial precisions, as oneDAL takes them.

    Parameters
    ----------
    init : dict
        From :func:`~.data.initial_parameters`; its ``precisions_cholesky``
        (scikit-learn's layout: precision = ``U @ U.T``, ``U`` upper triangular)
        are inverted in float64.
    covariance_type : {'full', 'diag'}

    Returns
    -------
    covariances : ndarray of shape (n_components, n_features, n_features) or \
(n_components, n_features)
        float64: ``inv(U @ U.T) = inv(U).T @ inv(U)``, or ``1 / U**2`` ('diag').

    Examples
    --------
    >>> init = {"precisions_cholesky": np.array([[0.5, 2.0]])}
    >>> onedal_covariances(init, "diag")
    array([[4.  , 0.25]])
    """
    chol = np.asarray(init["precisions_cholesky"], dtype=np.float64)
    if covariance_type == "diag":
        return 1.0 / chol**2
    if covariance_type != "full":
        raise ValueError(
            f"oneDAL takes 'full' or 'diag' covariances, got {covariance_type!r}"
        )
    eye = np.eye(chol.shape[-1])
    inverses = [linalg.solve_triangular(u, eye, lower=False) for u in chol]
    return np.array([v.T @ v for v in inverses])


class OneDALSession:
    """One case's data and start, written for oneDAL's child processes.

    The files live in a temporary folder removed by :meth:`close` (or on leaving
    a ``with`` block). ``X`` is written once; each :meth:`fit_pair` is a fresh
    child that reads it.

    Parameters
    ----------
    python : str
        An interpreter that imports daal4py (:attr:`OneDAL.python`).
    X : ndarray of shape (n_samples, n_features)
    init : dict
        The common start, from :func:`~.data.initial_parameters`.
    covariance_type : {'full', 'diag'}
    threads : int
        oneDAL's thread count (``daalinit``).
    """

    def __init__(self, python, X, init, covariance_type, threads):
        self.python = python
        self.n_samples = X.shape[0]
        self._folder = tempfile.TemporaryDirectory(prefix="fastem-onedal-")
        folder = Path(self._folder.name)
        spec = {
            "covariance_type": covariance_type,
            "reg_covar": REG_COVAR,  # see the module docstring: not the same use
            "threads": threads,
        }
        try:
            np.save(folder / "X.npy", np.ascontiguousarray(X))
            np.save(folder / "weights.npy", np.reshape(init["weights_init"], (1, -1)))
            np.save(folder / "means.npy", init["means_init"])
            covariances = onedal_covariances(init, covariance_type)
            np.save(folder / "covariances.npy", covariances)
            (folder / "spec.json").write_text(json.dumps(spec))
        except OSError as exc:  # a full disk: no oneDAL for this case
            self.close()
            raise OneDALError(
                f"cannot write its input files: {_one_line(exc)}"
            ) from exc

    def fit_pair(self, a, m):
        """Time oneDAL's fits at ``max_iter=a`` and ``a + m`` in a fresh process.

        Returns
        -------
        dict
            ``fit`` (seconds of the longer fit), ``iteration`` (the difference
            over ``m``), ``n_iter`` (``a + m``), ``lower_bound`` (the mean
            log-likelihood, as scikit-learn's ``lower_bound_``) and ``means``
            (array of shape (n_components, n_features)) of the longer fit, and
            ``versions``.

        Raises
        ------
        OneDALError
            When the child fails, or a fit ran other than the iterations asked.
        """
        out = run_onedal_child(self.python, [self._folder.name, str(a), str(m)])
        try:
            return self._result(out, a, m)
        except (KeyError, TypeError, ValueError) as exc:
            raise OneDALError(f"unexpected answer: {_one_line(exc)}") from exc

    def _result(self, out, a, m):
        """Check the child's answer ``out`` and return :meth:`fit_pair`'s dict."""
        for asked, ran in zip((a, a + m), out["n_iter"], strict=True):
            if ran != asked:
                raise OneDALError(
                    f"em_gmm ran {ran} of {asked} iterations (with "
                    "accuracyThreshold=0 it stops once the log-likelihood no "
                    "longer increases)"
                )
        t_a, t_am = out["seconds"]
        return {
            "fit": t_am,
            "iteration": (t_am - t_a) / m,
            "n_iter": a + m,
            "lower_bound": out["log_likelihood"] / self.n_samples,
            "means": np.array(out["means"]),
        }

    def close(self):
        """Remove the temporary folder."""
        self._folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def onedal_session(case, onedal, X, init, threads, notes):
    """Yield a :class:`OneDALSession` for ``case``, or ``None`` when it has none.

    ``onedal`` is ``None`` when oneDAL is not wanted at all; otherwise the reason
    a case is skipped (:func:`onedal_skip_reason`) is appended to ``notes``,
    except for models oneDAL is no backend of (their tables have no oneDAL
    column).
    """
    reason = None if onedal is None else onedal_skip_reason(case, onedal)
    if onedal is None or reason is not None:
        if reason is not None and case.model == "gmm":
            notes.append(reason)
        yield None
        return
    try:
        session = OneDALSession(onedal.python, X, init, case.covariance_type, threads)
    except OneDALError as exc:
        notes.append(f"oneDAL failed on {case.name}: {exc}")
        yield None
        return
    with session:
        yield session
