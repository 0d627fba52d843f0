"""Progress events of a fit, for whoever is watching (the command line's bars).

An observer is installed for a block of code with :func:`observe`; the fit
loops call :func:`report` at the start of each initialisation, after each
iteration and at the end of each initialisation. Without an observer a report
costs one context-variable lookup. The observer lives in a
:class:`contextvars.ContextVar`, so fits in other threads (which start with an
empty context) are not seen, and nothing is added to the estimators'
parameters.

Events are ``observer(estimator, kind, fields)`` with ``kind`` one of

- ``"init"``: ``init`` (0-based), ``n_init``, ``max_iter``;
- ``"iteration"``: ``n_iter`` (1-based) and, for the mixtures,
  ``lower_bound`` and ``change`` (from the previous iteration; ``inf`` at the
  first), for KMeans ``center_shift`` (the total squared shift its tolerance
  is tested on);
- ``"end"``: for the mixtures ``converged``, for KMeans ``n_iter``.

A mixture started with ``init_params='kmeans'`` runs a KMeans fit inside its
own, whose events arrive with that KMeans as ``estimator``.
"""

import contextlib
import contextvars

_OBSERVER = contextvars.ContextVar("fastem_progress_observer", default=None)


@contextlib.contextmanager
def observe(observer):
    """Send the progress events of the fits run in the body to ``observer``.

    Parameters
    ----------
    observer : callable or None
        Called as ``observer(estimator, kind, fields)``; None stops observing.
    """
    token = _OBSERVER.set(observer)
    try:
        yield
    finally:
        _OBSERVER.reset(token)


def report(estimator, kind, **fields):
    """Pass one event to the current observer, if there is one."""
    observer = _OBSERVER.get()
    if observer is not None:
        observer(estimator, kind, fields)
