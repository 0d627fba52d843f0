"""Numba's disk cache: one that cannot be written or read never breaks a fit.

Every test runs a new interpreter with its own ``NUMBA_CACHE_DIR`` in
``tmp_path`` (or a copy of the package), so the repository's own caches are
never read or written. A cold compile takes 10-20 s per family on a small
machine, so the fits here are one small family only: a spherical
``GaussianMixture`` on float64 with ``init_params='random_from_data'`` (no
k-means kernels), and ``fastem warmup --family diag --dtype float64``.

A kernel loaded from the cache can differ in the last bit from the same kernel
compiled in memory (measured: the means after one EM iteration), so results
are compared exactly with a fit that compiled in memory too.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastem import _cache

REPOSITORY = Path(__file__).parents[1]
SCRIPT = Path(sys.executable).with_name("fastem")

FIT = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np
    import fastem
    from fastem import _cache
    X = np.random.default_rng(0).normal(size=(300, 3))
    model = fastem.GaussianMixture(
        2, covariance_type="spherical", init_params="random_from_data",
        max_iter=5, random_state=0,
    ).fit(X)
print(json.dumps({
    "fastem": fastem.__file__,
    "lower_bound": model.lower_bound_.hex(),
    "means": [value.hex() for value in model.means_.ravel()],
    "cache_warnings": [
        str(w.message) for w in caught if issubclass(w.category, _cache.CacheWarning)
    ],
    "compiled": sum(len(d.stats.cache_misses) for d in _cache.DISPATCHERS),
    "loaded": sum(len(d.stats.cache_hits) for d in _cache.DISPATCHERS),
    "cache_dirs": _cache.cache_dirs(),
}))
"""


def environment(**changes):
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY), PYTHONDONTWRITEBYTECODE="1")
    env.pop("NUMBA_CACHE_DIR", None)
    env.update({name: str(value) for name, value in changes.items()})
    return env


def run_ok(command, cwd, env, timeout=600):
    """Run ``command`` in ``cwd``, assert that it succeeded, return its result."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return done


def run_fit(cwd, **changes):
    """Run ``FIT`` in ``cwd`` (not the repository, which ``-c`` would import)."""
    done = run_ok([sys.executable, "-c", FIT], cwd, environment(**changes))
    return json.loads(done.stdout.splitlines()[-1])


def package_copy(directory, pycache=True):
    """A copy of fastem; with ``pycache=False`` no ``__pycache__`` can be made.

    A regular file then stands where each ``__pycache__`` would go, so Numba's
    in-tree cache is unusable even for root (whom ``chmod`` does not stop).
    """
    site = directory / "site"
    shutil.copytree(
        REPOSITORY / "fastem",
        site / "fastem",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    if not pycache:
        for path in [site / "fastem", *(site / "fastem").rglob("*")]:
            if path.is_dir():
                (path / "__pycache__").write_text("not a directory")
    return site


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A fit with an empty, writable cache: compiled in memory, then saved."""
    directory = tmp_path_factory.mktemp("reference")
    cache = directory / "numba"
    result = run_fit(directory, NUMBA_CACHE_DIR=cache)
    assert result["cache_warnings"] == [] and result["loaded"] == 0
    assert result["cache_dirs"] and all(
        Path(path).parent == cache for path in result["cache_dirs"]
    )
    return result, cache


def test_no_writable_cache_compiles_in_memory_with_one_warning(tmp_path, reference):
    """Read-only package, NUMBA_CACHE_DIR and home: Numba alone fails at import."""
    site = package_copy(tmp_path, pycache=False)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file: nothing can be made under it")
    result = run_fit(
        tmp_path,
        PYTHONPATH=site,
        NUMBA_CACHE_DIR=blocked / "numba",
        HOME=blocked,
        XDG_CACHE_HOME=blocked / "cache",
    )
    assert Path(result["fastem"]).parent.parent == site
    (message,) = result["cache_warnings"]
    assert "cannot be cached on disk" in message and "NUMBA_CACHE_DIR" in message
    assert "fastem warmup" in message
    assert result["compiled"] > 0 and result["loaded"] == 0
    assert result["cache_dirs"] == []
    expected, _ = reference
    assert result["lower_bound"] == expected["lower_bound"]
    assert result["means"] == expected["means"]


def test_unwritable_numba_cache_dir_is_named_in_one_warning(tmp_path):
    """Numba alone passes over NUMBA_CACHE_DIR silently (here: to __pycache__)."""
    site = package_copy(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file")
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import fastem.kernels  # decorates the kernels\n"
        "from fastem._cache import CacheWarning, cache_dirs\n"
        "for w in caught:\n"
        "    if issubclass(w.category, CacheWarning): print('warning:', w.message)\n"
        "print('\\n'.join(cache_dirs()))\n"
    )
    done = run_ok(
        [sys.executable, "-c", code],
        tmp_path,
        environment(PYTHONPATH=site, NUMBA_CACHE_DIR=blocked / "sub"),
    )
    warning, *directories = done.stdout.splitlines()
    assert warning.startswith(f"warning: NUMBA_CACHE_DIR={blocked / 'sub'} cannot")
    assert directories and all(
        Path(path).name == "__pycache__" and site in Path(path).parents
        for path in directories
    )


def test_corrupt_cache_is_recompiled_and_rewritten(tmp_path, reference):
    """Damaged files: Numba alone raises EOFError/UnpicklingError at the first call.

    The top-level kernel's data files are garbage and every other index is
    empty, so both a data and an index failure occur; one warning in all.
    """
    expected, cache = reference
    damaged = tmp_path / "numba"
    shutil.copytree(cache, damaged)
    for path in damaged.rglob("*.nb[ic]"):
        if path.suffix == ".nbc" and ".em_pass-" in path.name:
            path.write_bytes(b"garbage" * 20)
        elif path.suffix == ".nbi" and ".em_pass-" not in path.name:
            path.write_bytes(b"")
    result = run_fit(tmp_path, NUMBA_CACHE_DIR=damaged)
    (message,) = result["cache_warnings"]
    assert "cannot be read" in message and "compiled again" in message
    assert result["lower_bound"] == expected["lower_bound"]
    assert result["means"] == expected["means"]
    # The cache was rewritten: the next process loads everything it calls.
    again = run_fit(tmp_path, NUMBA_CACHE_DIR=damaged)
    assert again["cache_warnings"] == []
    assert again["compiled"] == 0 and again["loaded"] > 0


def test_warmup_fills_an_empty_cache_that_the_next_run_loads(tmp_path):
    """``fastem warmup --family diag --dtype float64``, then the module form."""
    cache = tmp_path / "numba"
    options = ["--family", "diag", "--dtype", "float64"]
    env = environment(NUMBA_CACHE_DIR=cache)
    first = run_ok([str(SCRIPT), "warmup", *options], tmp_path, env, timeout=900)
    files = {path: path.stat().st_mtime_ns for path in cache.rglob("*.nb[ic]")}
    assert any(path.suffix == ".nbi" for path in files)
    assert any(path.suffix == ".nbc" for path in files)
    lines = first.stdout.splitlines()
    assert lines[0].split()[0] == "diag" and "float64" in lines[0]
    assert lines[-1].startswith(f"cache: {cache} (NUMBA_CACHE_DIR; {len(files)} files")

    second = run_ok(
        [sys.executable, "-m", "fastem.warmup", *options], tmp_path, env, timeout=900
    )
    assert second.stdout.splitlines()[-1] == lines[-1]
    # Loaded, not compiled: Numba writes a cache file only after compiling.
    assert {path: path.stat().st_mtime_ns for path in cache.rglob("*.nb[ic]")} == files


def test_kernel_cache_entries_depend_on_every_kernel_source(tmp_path):
    """The fused pass holds the families' code: a change to any kernel file,
    not only the pass's own, must make Numba's cached copy stale."""
    (tmp_path / "pass.py").write_text("x = 1\n")
    (tmp_path / "family").mkdir()
    (tmp_path / "family" / "full.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not a source\n")
    before = _cache.sources_stamp(str(tmp_path))
    assert sorted(path for path, *_ in before) == ["family/full.py", "pass.py"]
    status = os.stat(tmp_path / "family" / "full.py")
    later = status.st_mtime_ns + 2_000_000_000
    os.utime(tmp_path / "family" / "full.py", ns=(later, later))
    assert _cache.sources_stamp(str(tmp_path)) != before

    from fastem._kernels._pass import em_pass

    if not isinstance(em_pass._cache, _cache._GuardedCache):  # pragma: no cover
        pytest.skip("kernels are not cached on disk in this environment")
    own, kernels, width = em_pass._cache._cache_file._source_stamp
    assert kernels == _cache.sources_stamp()
    from fastem._kernels._tile import WIDTH

    assert width == WIDTH
    assert {"full.py", "diag.py", "tied.py", "_tile.py"} <= {p for p, *_ in kernels}
