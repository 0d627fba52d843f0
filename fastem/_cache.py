"""Numba's on-disk cache of fastem's kernels, and what fastem does when it fails.

Every kernel is compiled with ``cache=True`` (see :func:`fastem._config.jit`):
Numba keeps, per compiled function, an index (``<module>.<name>-<line>.pyXY.nbi``)
and one data file per signature (``.nbc``), so only the first process on a
machine pays for compilation. When a kernel is decorated (at ``import fastem``)
Numba picks its cache directory, per source file, as the first of:

1. ``$NUMBA_CACHE_DIR/<dir>_<hash>``, if ``NUMBA_CACHE_DIR`` is set;
2. the ``__pycache__`` directory next to the module;
3. Numba's user-wide directory, ``$XDG_CACHE_HOME/numba/<dir>_<hash>``
   (``~/.cache/numba/...`` on Linux);

skipping any it cannot *write* (it creates a temporary file to check): a
read-only directory is skipped even when it holds every kernel.

What Numba 0.68 does when the cache cannot be used, and what fastem does:

- **No directory can be written** (read-only install, unwritable home): Numba
  raises ``RuntimeError("cannot cache function ...: no locator available")``
  while decorating, i.e. ``import fastem`` fails. fastem compiles in memory
  instead (every new process compiles again) and warns once.
- **``NUMBA_CACHE_DIR`` cannot be written**: Numba silently uses the next
  directory of the list. fastem warns once, saying which directory is used.
- **A corrupt index or data file** (empty, truncated, garbage, damaged
  bitcode): Numba raises ``EOFError``, ``pickle.UnpicklingError`` or
  ``RuntimeError("LLVM bitcode parsing error")`` at the kernel's first call.
  fastem compiles the kernel, rewrites its cache entry and warns once.
- **A cache written by another Numba version, or a missing data file**: Numba
  recompiles and rewrites the entry without a word; so does fastem.
- **The directory cannot be written when a new kernel is saved** (it became
  read-only after import, the disk is full): Numba raises ``OSError`` at the
  kernel's first call. fastem keeps the compiled kernel, stops caching that
  function and warns once.

Warnings about anything else (Numba's own performance or deprecation
warnings) pass through untouched.
"""

import functools
import inspect
import os
import threading
import warnings

import numba
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher

__all__ = ["CacheWarning", "cache_dirs", "njit"]


class CacheWarning(UserWarning):
    """Numba's disk cache could not be used as intended for fastem's kernels.

    The fit still runs: the kernels are compiled in memory (and compiled again
    by every new process) or recompiled and rewritten.
    """


#: ``usable``: None until known, then whether kernels can be cached on disk.
_STATE = {"usable": None, "warned": set()}
_LOCK = threading.Lock()

#: Every dispatcher made by :func:`njit` (what ``fastem warmup`` reports on).
DISPATCHERS = []


def _warn_once(kind, message):
    """Warn with a :class:`CacheWarning`, once per process for each ``kind``."""
    with _LOCK:
        if kind in _STATE["warned"]:
            return
        _STATE["warned"].add(kind)
    warnings.warn(" ".join(message.split()), CacheWarning, stacklevel=2)


def _places():
    """Where Numba looks for a writable cache directory, as a phrase."""
    places = [f"the __pycache__ directories in {os.path.dirname(__file__)}"]
    if numba.config.CACHE_DIR:
        places.insert(0, f"NUMBA_CACHE_DIR={numba.config.CACHE_DIR}")
    places.append(user_wide_dir() or "Numba's user-wide cache directory")
    return ", ".join(places[:-1]) + " or " + places[-1]


def _no_cache(error):
    _STATE["usable"] = False
    _warn_once(
        "location",
        f"fastem's compiled kernels cannot be cached on disk: Numba can write to "
        f"none of {_places()} ({_error(error)}). They are compiled in memory, "
        f"again in every new process (tens of seconds per covariance type). Set "
        f"NUMBA_CACHE_DIR to a directory this user can write, then run "
        f"`fastem warmup` once.",
    )


def _error(error):
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


#: The compiled kernels' sources: every cache entry depends on all of them.
_KERNELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_kernels")


def sources_stamp(directory=_KERNELS_DIR):
    """Return the path, modification time and size of each ``.py`` file below.

    Numba checks a cached kernel only against its own source file, but a kernel
    compiles the code it calls into itself: the fused pass holds each family's
    hooks (``full.py``, ``diag.py``, ``tied.py``) and the IR tile
    (``_tile.py``). A checkout that changed only one of those would otherwise
    run the old machine code. Every kernel's cache entry carries this stamp, so
    a change to any kernel source recompiles them all once.

    Parameters
    ----------
    directory : str, default: ``fastem/_kernels``

    Returns
    -------
    tuple of (str, float, int)
        In a fixed order (files of a directory, then its subdirectories, each
        sorted); paths relative to ``directory``.
    """
    stamps = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                status = os.stat(path)
                relative = os.path.relpath(path, directory)
                stamps.append((relative, status.st_mtime, status.st_size))
    return tuple(stamps)


@functools.cache
def _kernels_stamp():
    """:func:`sources_stamp` of the kernel sources, taken once per process.

    Every kernel's cache is made at import; walking the directory for each of
    them (about 0.5 ms apiece, 26 kernels) added 13 ms to start-up.
    """
    return sources_stamp()


class _GuardedCache(FunctionCache):
    """Numba's function cache, where a failure to load or save recompiles.

    Its entries are also invalidated by any change to the kernel sources
    (:func:`sources_stamp`), not only to the function's own file.
    """

    def __init__(self, py_func):
        super().__init__(py_func)
        cache_file = self._cache_file  # Numba 0.68: the index's stamp lives here
        # The tiles' vector width follows the CPU (in Numba's key) unless
        # FASTEM_VECTOR_WIDTH overrides it: the width is in the stamp too.
        from ._kernels._tile import WIDTH

        cache_file._source_stamp = (cache_file._source_stamp, _kernels_stamp(), WIDTH)

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as error:  # a damaged index or data file: compile
            _warn_once(
                "runtime",
                f"Numba's cache of fastem's kernel {self._py_func.__qualname__!r} "
                f"in {self.cache_path} cannot be read ({_error(error)}). The "
                f"kernel is compiled again and its cache rewritten where "
                f"possible. If this repeats, set NUMBA_CACHE_DIR to a fresh "
                f"writable directory and run `fastem warmup`.",
            )
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
            return
        except OSError as error:
            failure = error
        except Exception:  # an unreadable index: start it afresh
            try:
                self.flush()
                super().save_overload(sig, data)
                return
            except Exception as error:
                failure = error
        self.disable()
        _warn_once(
            "runtime",
            f"fastem's kernel {self._py_func.__qualname__!r} cannot be saved in "
            f"Numba's cache {self.cache_path} ({_error(failure)}); it is compiled "
            f"in memory for this process only. Set NUMBA_CACHE_DIR to a "
            f"directory this user can write, then run `fastem warmup` once.",
        )


def _check_cache_dir(cache_path):
    """Warn once when Numba passed over a ``NUMBA_CACHE_DIR`` it cannot write."""
    wanted = numba.config.CACHE_DIR
    if not wanted or "location" in _STATE["warned"]:
        return
    if os.path.normpath(os.path.dirname(cache_path)) != os.path.normpath(wanted):
        _warn_once(
            "location",
            f"NUMBA_CACHE_DIR={wanted} cannot be written (Numba needs write "
            f"access even to read a cache), so Numba caches fastem's kernels in "
            f"{cache_path} and nearby directories instead. Make NUMBA_CACHE_DIR "
            f"writable by this user, or unset it.",
        )


def _enable(dispatcher):
    """Give ``dispatcher`` a disk cache that recompiles on a damaged file."""
    if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT=1
        return dispatcher
    DISPATCHERS.append(dispatcher)
    if _STATE["usable"] is not False:  # after one failure, no more attempts
        try:
            cache = _GuardedCache(dispatcher.py_func)  # runs Numba's locators
        except Exception as error:  # "cannot cache function ...: no locator"
            _no_cache(error)
        else:
            _STATE["usable"] = True
            dispatcher._cache = cache
            _check_cache_dir(cache.cache_path)
    return dispatcher


def njit(*args, cache=True, **options):
    """:func:`numba.njit` whose disk cache cannot break a fit.

    Parameters
    ----------
    *args
        The function, or explicit signatures (compiled at decoration, with
        Numba's plain cache unless the cache is known to be unusable).
    cache : bool, default=True
        Keep the compiled code on disk where Numba can.
    **options
        Further options for :func:`numba.njit`.

    Returns
    -------
    decorator or dispatcher
        As :func:`numba.njit`.
    """
    if not cache or (args and not inspect.isfunction(args[0])):
        cache = bool(cache) and _STATE["usable"] is not False
        return numba.njit(*args, cache=cache, **options)
    if args:
        return _enable(numba.njit(*args, **options))
    return lambda function: _enable(numba.njit(function, **options))


def cache_dirs():
    """List the cache directories of fastem's kernels (decorated so far).

    Returns
    -------
    list of str
        Sorted; empty when nothing can be cached on disk (see
        :class:`CacheWarning`).
    """
    paths = {dispatcher.stats.cache_path for dispatcher in DISPATCHERS}
    return sorted(path for path in paths if path)


def user_wide_dir():
    """Numba's user-wide cache directory (``~/.cache/numba`` on Linux), or None."""
    try:
        from numba.misc.appdirs import AppDirs
    except ImportError:  # pragma: no cover - Numba moved it
        return None
    return AppDirs(appname="numba", appauthor=False).user_cache_dir
