"""Compile a family's EM pass in a second process while the fit starts.

A first fit on a machine whose Numba cache is empty compiles two large kernels,
one after the other: the Lloyd pass of the default k-means start, then the
family's fused EM pass (each 2-3.5 s). Numba compiles under one lock per
process, so threads cannot share that work; a second process can. When a
mixture fit is about to run its k-means start and the pass it will need next
is neither compiled in this process nor in Numba's disk cache, :func:`start`
launches ``python -c`` (this interpreter, this fastem) to compile just that
pass into the cache; the fit compiles the k-means kernels meanwhile, and its
first E-step (:func:`wait`) waits for the child, then loads the pass from the
cache. Two cores then do in parallel what one did in sequence.

The child only writes Numba's cache, as a second Python process of the same
user would; nothing of its result is trusted beyond what Numba's cache checks
(the signature, the CPU and the source stamps). If it fails, is slow past
:data:`TIMEOUT` or cannot start, the fit compiles in its own process as before,
so results never depend on it: the machine code is the same either way.

No child starts when the cache cannot be written (see :mod:`fastem._cache`),
when ``sys.executable`` is unknown, or when ``FASTEM_COMPILE_AHEAD=0`` is set.
"""

import os
import subprocess
import sys
import threading

import numpy as np

#: Seconds a fit waits for the child before compiling the pass itself.
TIMEOUT = 300.0

#: Set to ``0`` to never start a child process.
ENVIRONMENT_VARIABLE = "FASTEM_COMPILE_AHEAD"

_FAMILY = {"full": "full", "tied": "tied", "diag": "diag", "spherical": "diag"}
_LOCK = threading.Lock()
#: Running children by (family, dtype name).
_PENDING = {}

_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from fastem._ahead import compile_pass; compile_pass(sys.argv[2], sys.argv[3])"
)


def _key(covariance_type, dtype):
    return _FAMILY[covariance_type], np.dtype(dtype).name


def _pass_arguments(family, dtype):
    """Arguments of a pass over no chunks, typed as every E-step types them.

    Built from the kernel modules alone (not :mod:`fastem.kernels`, whose
    imports would slow the child's start), with the pass's own
    :func:`fastem._kernels._pass.pass_arguments`.
    """
    import importlib

    from ._kernels._pass import pass_arguments

    module = importlib.import_module(f"._kernels.{family}", __package__)
    n_components, n_features = 2, 2
    chol = {
        "full": np.stack([np.eye(n_features)] * n_components),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
    }[family]
    model = module.prepare_model(np.zeros((n_components, n_features)), chol, dtype)
    X = np.zeros((1, n_features), dtype=dtype)
    return pass_arguments(X, np.empty(0), model, np.zeros(n_components))


def compile_pass(family, dtype):
    """Compile the EM pass of ``family`` for ``dtype`` data (into the disk cache).

    What the child process runs: a call of the pass over no chunks.

    Parameters
    ----------
    family : {'full', 'tied', 'diag'}
    dtype : {'float32', 'float64'}
    """
    from ._kernels._pass import em_pass

    em_pass(0, 0, *_pass_arguments(family, dtype))


def _disk_index(dispatcher):
    """Return the keys of ``dispatcher``'s disk cache index (None: no cache)."""
    from ._cache import _GuardedCache

    cache = dispatcher._cache
    if not isinstance(cache, _GuardedCache) or not cache._enabled:
        return None
    return cache._cache_file._load_index()


def _pass_needs_compiling(family, dtype):
    """Whether the pass is neither compiled in this process nor in the disk cache."""
    from ._kernels._pass import em_pass

    arguments = (0, 0, *_pass_arguments(family, dtype))
    signature = tuple(em_pass.typeof_pyval(value) for value in arguments)
    index = _disk_index(em_pass)
    if signature in em_pass.overloads or index is None:
        return False  # compiled, or no disk cache to share a child's work
    key = em_pass._cache._index_key(signature, em_pass.targetctx.codegen())
    return key not in index


def _lloyd_needs_compiling(dtype):
    """Whether the fit's k-means start will compile its Lloyd pass for ``dtype``.

    Only then does the fit have work of its own while the child compiles; a
    pass loaded from the cache takes a tenth of a second, and the fit would
    just wait for the child instead of compiling the pass itself.
    """
    from numba import from_dtype

    from ._kernels.kmeans.lloyd import lloyd_chunks

    wanted = from_dtype(np.dtype(dtype))

    def for_dtype(signature):
        return getattr(signature[2], "dtype", None) == wanted

    if any(map(for_dtype, lloyd_chunks.overloads)):
        return False
    index = _disk_index(lloyd_chunks) or {}
    magic = lloyd_chunks.targetctx.codegen().magic_tuple()
    return not any(for_dtype(key[0]) and key[1] == magic for key in index)


def start(covariance_type, dtype):
    """Start compiling the pass for ``dtype`` data in a child, if that helps.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    dtype : numpy dtype
        The data's (float32 or float64).
    """
    if os.environ.get(ENVIRONMENT_VARIABLE, "1").strip() == "0" or not sys.executable:
        return
    if dtype not in (np.float32, np.float64) or covariance_type not in _FAMILY:
        return
    family, name = _key(covariance_type, dtype)
    with _LOCK:
        if (family, name) in _PENDING:
            return
        try:
            if not (
                _lloyd_needs_compiling(np.dtype(name))
                and _pass_needs_compiling(family, name)
            ):
                return
            package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, package_parent, family, name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except Exception:  # Numba's internals moved, no process: compile here
            return
        _PENDING[family, name] = child


def wait(covariance_type, dtype):
    """Wait for a child compiling the pass for ``dtype`` data, if one runs.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    dtype : numpy dtype
    """
    if not _PENDING:
        return
    with _LOCK:
        child = _PENDING.pop(_key(covariance_type, dtype), None)
    if child is None:
        return
    try:
        child.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
