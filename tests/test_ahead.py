"""The EM pass compiled ahead in a child process (:mod:`fastem._ahead`).

A cold first fit compiles its family's pass in a second process while its
k-means start compiles the Lloyd pass; the fit then loads the pass from Numba's
disk cache. The child must compile exactly the pass the fit calls (same
argument types), and a child that fails or hangs must only cost the time of
compiling in the fit's own process.
"""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cache import environment, run_ok

from fastem import GaussianMixture, _ahead
from fastem._kernels._pass import em_pass, pass_arguments
from fastem.kernels import _gaussian

FAMILIES = ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_child_compiles_the_pass_a_fit_calls(covariance_type, dtype):
    """Argument types of the child's call == those of every E-step's call."""
    k, d = 3, 5
    chol = {
        "full": np.stack([np.eye(d)] * k),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]
    fit_call = pass_arguments(
        np.ones((7, d), dtype=dtype),
        np.ones(7),
        _gaussian._model(covariance_type, np.zeros((k, d)), chol, np.dtype(dtype)),
        np.zeros(k),
        stats_size=11,
        with_entropy=True,
        resp_out=np.empty((7, k)),
    )
    family = "diag" if covariance_type == "spherical" else covariance_type
    child_call = _ahead._pass_arguments(family, dtype)
    assert [em_pass.typeof_pyval(a) for a in child_call] == [
        em_pass.typeof_pyval(a) for a in fit_call
    ]


FIT = """
import json
import numpy as np
from fastem import GaussianMixture
from fastem._kernels._pass import em_pass, pass_arguments
rng = np.random.default_rng(0)
X = np.vstack([rng.normal(c, 1.0, (200, 3)) for c in (0, 4, 8)])
model = GaussianMixture(3, covariance_type="diag", max_iter=3, random_state=0)
model.fit(X)
print(json.dumps({
    "means": [value.hex() for value in model.means_.ravel()],
    "lower_bound": model.lower_bound_.hex(),
    "pass_compiled": len(em_pass.stats.cache_misses),
    "pass_loaded": len(em_pass.stats.cache_hits),
}))
"""


def _fit(tmp_path, cache, **changes):
    env = environment(NUMBA_CACHE_DIR=tmp_path / cache, **changes)
    done = run_ok([sys.executable, "-c", FIT], tmp_path, env)
    return json.loads(done.stdout.splitlines()[-1])


def test_cold_default_fit_loads_the_pass_the_child_compiled(tmp_path):
    """Empty cache: the pass comes from the cache the child wrote, same result."""
    ahead = _fit(tmp_path, "ahead")
    assert (ahead["pass_compiled"], ahead["pass_loaded"]) == (0, 1)
    alone = _fit(tmp_path, "alone", FASTEM_COMPILE_AHEAD="0")
    assert (alone["pass_compiled"], alone["pass_loaded"]) == (1, 0)
    # Compiled in memory and loaded from the cache, the same kernel can differ
    # in the last bit (see tests/test_cache.py); loaded, it is the same code.
    np.testing.assert_allclose(
        [float.fromhex(v) for v in ahead["means"]],
        [float.fromhex(v) for v in alone["means"]],
        rtol=1e-12,
    )
    loaded = _fit(tmp_path, "alone", FASTEM_COMPILE_AHEAD="0")
    assert (loaded["pass_compiled"], loaded["pass_loaded"]) == (0, 1)
    assert loaded["means"] == ahead["means"]
    assert loaded["lower_bound"] == ahead["lower_bound"]


@pytest.fixture
def fake_child(monkeypatch):
    """Make :func:`_ahead.start` launch ``code`` as if the pass needed compiling."""
    launched = []
    real_popen = subprocess.Popen

    def popen(command, **kwargs):
        launched.append(command)
        return real_popen(command, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.delenv(_ahead.ENVIRONMENT_VARIABLE, raising=False)

    def use(code):
        monkeypatch.setattr(_ahead, "_CHILD", code)
        monkeypatch.setattr(_ahead, "_lloyd_needs_compiling", lambda dtype: True)
        monkeypatch.setattr(_ahead, "_pass_needs_compiling", lambda family, dtype: True)
        return launched

    yield use
    for child in _ahead._PENDING.values():
        child.kill()
    _ahead._PENDING.clear()


def _small_fit():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(c, 1.0, (150, 2)) for c in (0, 5)])
    return GaussianMixture(2, covariance_type="diag", max_iter=4, random_state=0).fit(X)


def test_failing_child_leaves_the_fit_as_it_was(fake_child):
    expected = _small_fit()
    launched = fake_child("import sys; sys.exit(3)")
    launched.clear()  # on a cold cache, the fit above launched a real child
    model = _small_fit()
    assert len(launched) == 1  # the k-means start launched it
    assert not _ahead._PENDING  # the first E-step waited for it
    np.testing.assert_array_equal(model.means_, expected.means_)
    assert model.lower_bound_ == expected.lower_bound_


def test_hanging_child_is_stopped_after_the_timeout(fake_child, monkeypatch):
    monkeypatch.setattr(_ahead, "TIMEOUT", 0.3)
    fake_child("import time; time.sleep(60)")
    _ahead.start("tied", np.float32)
    child = _ahead._PENDING[("tied", "float32")]
    began = time.perf_counter()
    _ahead.wait("tied", np.float32)
    assert time.perf_counter() - began < 10
    assert child.poll() is not None  # killed, not left running


_real_lloyd_check = _ahead._lloyd_needs_compiling
_real_pass_check = _ahead._pass_needs_compiling


@pytest.mark.parametrize(
    "case",
    ["disabled", "compiled", "not a float dtype", "started already", "no cache"],
)
def test_no_child_where_it_cannot_help(fake_child, monkeypatch, case):
    launched = fake_child("pass")
    if case == "disabled":
        monkeypatch.setenv(_ahead.ENVIRONMENT_VARIABLE, "0")
    elif case == "no cache":  # the child's work could not reach this process
        monkeypatch.setattr(_ahead, "_pass_needs_compiling", _real_pass_check)
        monkeypatch.setattr(em_pass._cache, "_enabled", False)
        assert _ahead._disk_index(em_pass) is None
    elif case == "compiled":  # this process has the pass and the Lloyd pass
        _small_fit()
        launched.clear()
        monkeypatch.setattr(_ahead, "_lloyd_needs_compiling", _real_lloyd_check)
        monkeypatch.setattr(_ahead, "_pass_needs_compiling", _real_pass_check)
    dtype = np.int64 if case == "not a float dtype" else np.float64
    _ahead.start("diag", dtype)
    if case == "started already":
        assert len(launched) == 1
        _ahead.start("spherical", dtype)  # the same pass
        assert len(launched) == 1
        _ahead.wait("spherical", dtype)
    else:
        assert launched == []


def test_in_process_checks_see_compiled_kernels():
    _small_fit()
    assert not _ahead._pass_needs_compiling("diag", "float64")
    assert not _ahead._lloyd_needs_compiling(np.float64)
