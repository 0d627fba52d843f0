"""What the command line shows while it works: progress on standard error.

On a terminal, progress is a live tqdm bar; when standard error is not a
terminal (piped, a log file, CI), a plain line at most every
:data:`INTERVAL` seconds; with ``--quiet``, nothing. Either appears only once
the work has taken :data:`DELAY` seconds, so quick fits print no progress.
Standard output stays for results.
"""

import sys
import threading
import time

#: Seconds of work before any progress is shown.
DELAY = 0.5
#: Seconds between two plain progress lines.
INTERVAL = 5.0
#: Seconds between two redraws of a bar.
REFRESH = 0.1


def display_mode(stream, quiet):
    """``'off'`` when quiet, ``'bar'`` on a terminal, else ``'lines'``."""
    if quiet:
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class _Display:
    """A bar or plain lines on ``stream``, shown once ``DELAY`` has passed."""

    def __init__(self, mode, stream):
        self.mode = mode
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.last_line = self.start
        self.bar = None

    def elapsed(self):
        return time.perf_counter() - self.start

    def open_bar(self, description, total, unit):
        self.close_bar()
        if self.mode != "bar":
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            desc=description,
            unit=unit,
            file=self.stream,
            delay=max(0.0, DELAY - self.elapsed()),
            mininterval=REFRESH,
            leave=False,
            dynamic_ncols=True,
            bar_format="{desc}: {bar:20} {n_fmt}/{total_fmt} {unit}{postfix}",
        )

    def update(self, status, line):
        """Advance the bar by one with ``status``, or print ``line`` if due."""
        if self.bar is not None:
            self.bar.set_postfix_str(f"{status}, {self.elapsed():.1f} s", refresh=False)
            self.bar.update(1)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self.start >= DELAY and now - self.last_line >= INTERVAL:
                print(f"{line}, {self.elapsed():.1f} s", file=self.stream, flush=True)
                self.last_line = now

    def close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class FitProgress:
    """Show one fit's progress: an observer for :func:`fastem._progress.observe`.

    Each initialisation of ``model`` gets a bar (iteration, lower bound and
    its change, or KMeans's center shift, and the elapsed time); a KMeans run
    inside it (a mixture's ``'kmeans'`` start) gets its own, labelled
    "k-means start". The top-level iterations' values are kept, one list per
    initialisation, in :attr:`histories`.

    Parameters
    ----------
    model : estimator
        The estimator being fitted.
    mode : {'bar', 'lines', 'off'}
        See :func:`display_mode`.
    stream : file, default=None
        Standard error by default.
    """

    def __init__(self, model, mode, stream=None):
        self.model = model
        self.display = _Display(mode, stream)
        self.histories = []
        self._label = ""
        self._max_iter = 0

    def __call__(self, estimator, kind, fields):
        top = estimator is self.model
        if kind == "init":
            if top:
                self.histories.append([])
                self._label = (
                    f"init {fields['init'] + 1}/{fields['n_init']}"
                    if fields["n_init"] > 1
                    else "fit"
                )
                self._max_iter = fields["max_iter"]
                self.display.close_bar()
            else:
                self.display.open_bar("k-means start", fields["max_iter"], "it")
        elif kind == "iteration":
            if top and self.display.bar is None:
                self.display.open_bar(self._label, self._max_iter, "it")
            if "center_shift" in fields:
                value = fields["center_shift"]
                status = f"center shift {value:.3g}"
            else:
                value = fields["lower_bound"]
                status = f"lower bound {value:.6f}, change {fields['change']:.3g}"
            if top:
                self.histories[-1].append(value)
            label = self._label if top else "k-means start"
            self.display.update(
                status, f"fastem: {label}, iteration {fields['n_iter']}, {status}"
            )
        elif kind == "end":
            self.display.close_bar()

    def close(self):
        """Remove any bar still shown."""
        self.display.close_bar()


class SelectProgress:
    """Show a model selection's progress: a ``callback`` for ``select_model``.

    Called from the threads that fit the candidates, so it takes a lock.

    Parameters
    ----------
    total : int
        Number of candidates.
    criterion : str
        ``'bic'`` or ``'aic'``, for the best-so-far shown.
    mode : {'bar', 'lines', 'off'}
    stream : file, default=None
    """

    def __init__(self, total, criterion, mode, stream=None):
        self.total = total
        self.criterion = criterion
        self.display = _Display(mode, stream)
        self.display.open_bar("candidates", total, "fits")
        self.done = 0
        self.best = None
        self._lock = threading.Lock()

    def __call__(self, row):
        with self._lock:
            self.done += 1
            value = row[self.criterion]
            if value == value and (self.best is None or value < self.best[0]):
                self.best = (value, row["n_components"], row["covariance_type"])
            status = "no candidate fitted yet"
            if self.best is not None:
                value, k, kind = self.best
                status = (
                    f"best so far k={k} {kind} ({self.criterion.upper()} {value:.1f})"
                )
            self.display.update(
                status, f"fastem: {self.done}/{self.total} candidates, {status}"
            )

    def close(self):
        """Remove the bar."""
        self.display.close_bar()
