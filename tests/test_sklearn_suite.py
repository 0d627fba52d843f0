"""scikit-learn's own tests of the mixtures and KMeans, run on fastem.

The test files are copied from the *installed* scikit-learn into a temporary
directory (never into this repository) next to a generated ``conftest.py`` that
calls :func:`fastem.patch_sklearn` before the files are collected, so their
``from sklearn.mixture import GaussianMixture`` binds fastem's class. pytest runs
them in a subprocess twice, with and without the patch; the tests here assert on
the outcome: with fastem, everything passes except :data:`EXPECTED_FAILURES`
(marked ``xfail(strict=True)`` there, so a test that starts passing must be taken
off the list); without it, everything passes (which checks the harness itself).

The two runs take about 7 minutes together on two busy cores (fastem's 290 s,
most of it the many tiny warm-started fits of ``test_monotonic_likelihood``,
``test_init`` and ``test_warm_start``; scikit-learn's 110 s). See the counts side
by side with ``python -m pytest -q -s tests/test_sklearn_suite.py``; leave the
module out of a quick local run with ``--ignore tests/test_sklearn_suite.py``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
import sklearn

import fastem

#: The files, by their path inside the installed ``sklearn`` package.
SUITE = (
    "mixture/tests/test_gaussian_mixture.py",
    "mixture/tests/test_bayesian_mixture.py",
    "mixture/tests/test_mixture.py",
    "cluster/tests/test_k_means.py",
)

#: scikit-learn tests that fail with fastem patched in, with the reason: patterns
#: of pytest node ids (``file.py::test_name[parameters]``) where ``*`` matches any
#: text and nothing else is special. The patched run marks them
#: ``xfail(strict=True)``: fix one and its entry must go.
_SPARSE = (
    "fastem's KMeans takes dense input only: scipy.sparse X raises TypeError "
    "'Sparse data was passed for X, but dense data is required' (fastem/kmeans.py "
    "validates with accept_sparse=False; CSR kernels would be needed)."
)
EXPECTED_FAILURES = {
    # -- Sparse input (KMeans): scikit-learn runs each of these on dense, CSR
    #    matrix and CSR array data; fastem passes the dense ones.
    "test_k_means.py::test_all_init[KMeans-*-sparse_*]": _SPARSE,
    "test_k_means.py::test_dense_sparse[*-KMeans-X_csr*]": _SPARSE,
    "test_k_means.py::test_float_precision[*-KMeans-sparse_*]": _SPARSE,
    "test_k_means.py::test_integer_input[*-KMeans-*-sparse_*]": _SPARSE,
    "test_k_means.py::test_k_means_1_iteration[*-sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_elkan_results[*-sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_empty_cluster_relocated[sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_init_fitted_centers[sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_predict[*-KMeans-*-sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_relocated_clusters[*-sparse_*]": _SPARSE,
    "test_k_means.py::test_kmeans_results[*-sparse_*]": _SPARSE,
    "test_k_means.py::test_predict_dense_sparse[KMeans-*-X_csr*]": _SPARSE,
    "test_k_means.py::test_predict_does_not_change_cluster_centers[csr_*]": _SPARSE,
    "test_k_means.py::test_relocating_with_duplicates[*-sparse_*]": _SPARSE,
    "test_k_means.py::test_scaled_weights[*-KMeans-sparse_*]": _SPARSE,
    "test_k_means.py::test_unit_weights_vs_no_weights[*-KMeans-sparse_*]": _SPARSE,
    # -- A scikit-learn private helper fastem does not call.
    "test_gaussian_mixture.py::"
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters[*]": (
        "the test counts calls of scikit-learn's private "
        "sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters through "
        "a Mock (expects one per M-step, n_iter_ calls); fastem's M-step is its own "
        "(fastem/kernels/_mstep.py, on the kernel's statistics), so the count is 0; "
        "fastem's own tests check that the initialisation does no extra pass."
    ),
}

#: Tests the patched run skips, with the reason (same patterns).
NOT_APPLICABLE = {
    # Run only where array-api-strict is installed (skipped otherwise, in both
    # runs); fastem computes with NumPy and has no array API dispatch.
    "test_gaussian_mixture.py::*array_api*": (
        "fastem has no array API support (array_api_dispatch=True)"
    ),
}

#: Outcomes, in the order of the side-by-side table.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")

#: The generated conftest.py: patch (when asked) before collection, load
#: scikit-learn's fixtures and hooks, mark the expected failures and the tests
#: that do not apply, and write every test's outcome, and the classes the test
#: modules bound to the estimator names, to a JSON file.
CONFTEST = """
import json
import os
import re

import pytest

if os.environ["FASTEM_SUITE_PATCH"] == "1":
    import fastem

    fastem.patch_sklearn()

# scikit-learn's fixtures (global_random_seed, global_dtype, ...) and hooks.
pytest_plugins = ["sklearn.conftest"]

_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "xpassed": 3, "failed": 4, "error": 5}
_results = {"tests": {}, "bound": {}}


def _matches(pattern, nodeid):
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), nodeid)


def _first_match(table, nodeid):
    return next((v for k, v in table.items() if _matches(k, nodeid)), None)


def pytest_collection_modifyitems(config, items):
    with open(os.environ["FASTEM_SUITE_MARKS"]) as f:
        marks = json.load(f)
    for item in items:
        reason = _first_match(marks["skip"], item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
        reason = _first_match(marks["xfail"], item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
        names = ("GaussianMixture", "BayesianGaussianMixture", "KMeans")
        _results["bound"][item.nodeid.split("::")[0]] = {
            name: getattr(item.module, name).__module__
            for name in names
            if hasattr(item.module, name)
        }


def _record(nodeid, outcome, text=""):
    old = _results["tests"].get(nodeid)
    if old is None or _RANK[outcome] > _RANK[old["outcome"]]:
        _results["tests"][nodeid] = {"outcome": outcome, "text": text[-3000:]}


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid, "error", report.longreprtext)


def pytest_runtest_logreport(report):
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    else:
        outcome = report.outcome
    text = report.longreprtext if outcome in ("failed", "error", "xfailed") else ""
    _record(report.nodeid, outcome, text)


def pytest_sessionfinish(session):
    with open(os.environ["FASTEM_SUITE_RESULTS"], "w") as f:
        json.dump(_results, f)
"""


def _sources():
    root = Path(sklearn.__file__).parent
    return {Path(path).name: root / path for path in SUITE}


def _run(directory, patch):
    """Run the copied files with or without the patch.

    Returns
    -------
    dict
        ``tests``: outcome and failure text per node id; ``bound``: per file, the
        module of the class each estimator name is bound to in the test module;
        ``seconds``: the wall time of the run.
    """
    name = "fastem" if patch else "sklearn"
    results = directory / f"results-{name}.json"
    marks = directory / f"marks-{name}.json"
    marks.write_text(
        json.dumps(
            {"xfail": EXPECTED_FAILURES, "skip": NOT_APPLICABLE}
            if patch
            else {"xfail": {}, "skip": {}}
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(fastem.__file__).parents[1]), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.update(
        FASTEM_SUITE_PATCH="1" if patch else "0",
        FASTEM_SUITE_MARKS=str(marks),
        FASTEM_SUITE_RESULTS=str(results),
        # scikit-learn's float32 variants too: fastem keeps float32 data float32.
        SKLEARN_RUN_FLOAT32_TESTS="1",
        SKLEARN_SKIP_NETWORK_TESTS="1",
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-c", str(directory / "pytest.ini"), "--rootdir", str(directory)]
    command += sorted(_sources())
    start = time.perf_counter()
    process = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - start
    if not results.exists():
        raise RuntimeError(
            f"pytest did not finish ({name}):\n{process.stdout}\n{process.stderr}"
        )
    return {**json.loads(results.read_text()), "seconds": seconds}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Both runs of the scikit-learn files: ``{"fastem": ..., "sklearn": ...}``."""
    sources = _sources()
    missing = [str(path) for path in sources.values() if not path.exists()]
    if missing:
        pytest.skip(
            "scikit-learn's test files are not installed (a distribution without "
            f"its tests): missing {', '.join(missing)}"
        )
    directory = tmp_path_factory.mktemp("sklearn_suite")
    for name, path in sources.items():
        shutil.copyfile(path, directory / name)
    (directory / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (directory / "pytest.ini").write_text("[pytest]\n")
    runs = {"fastem": _run(directory, True), "sklearn": _run(directory, False)}
    print(f"\nscikit-learn {sklearn.__version__}'s tests:\n{_table(runs)}")
    return runs


FILES = sorted(Path(path).name for path in SUITE)


def _counts(run, file):
    return Counter(
        value["outcome"]
        for nodeid, value in run["tests"].items()
        if nodeid.split("::")[0] == file
    )


def _table(runs):
    """The per-file outcome counts of both runs, side by side."""
    lines = [f"{'':25}{'':8}" + "".join(f"{o:>9}" for o in OUTCOMES)]
    for file in FILES:
        for name, run in runs.items():
            counts = _counts(run, file)
            lines.append(
                f"{file:25}{name:8}" + "".join(f"{counts[o]:>9}" for o in OUTCOMES)
            )
    times = ", ".join(f"{name} {run['seconds']:.0f} s" for name, run in runs.items())
    return "\n".join([*lines, f"wall time: {times}"])


def _problems(run, file):
    return {
        nodeid: value
        for nodeid, value in run["tests"].items()
        if nodeid.split("::")[0] == file
        and value["outcome"] in ("failed", "error", "xpassed")
    }


def _report(problems):
    return "\n\n".join(
        f"{nodeid} [{value['outcome']}]\n{value['text'][-1500:]}"
        for nodeid, value in sorted(problems.items())
    )


def _matches(pattern, nodeid):
    """Whether a node id matches a pattern of :data:`EXPECTED_FAILURES`."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), nodeid)


@pytest.mark.parametrize("file", FILES)
def test_sklearn_tests_pass_with_fastem(suite, file):
    problems = _problems(suite["fastem"], file)
    assert not problems, (
        f"{len(problems)} of scikit-learn's tests in {file} fail with fastem "
        "patched in (one reported as '[XPASS(strict)]' now passes: take it off "
        "EXPECTED_FAILURES):\n\n" + _report(problems)
    )
    assert _counts(suite["fastem"], file)["passed"] > 0


@pytest.mark.parametrize("file", FILES)
def test_sklearn_tests_pass_without_the_patch(suite, file):
    # Checks the harness: it runs scikit-learn's tests as scikit-learn's CI does.
    problems = _problems(suite["sklearn"], file)
    assert not problems, _report(problems)
    assert _counts(suite["sklearn"], file)["passed"] > 0


@pytest.mark.parametrize("file", FILES)
def test_the_test_modules_bound_the_patched_names(suite, file):
    fastem_modules = {
        "fastem.gaussian_mixture",
        "fastem.bayesian_mixture",
        "fastem.kmeans",
    }
    patched = suite["fastem"]["bound"][file]
    plain = suite["sklearn"]["bound"][file]
    assert patched and set(patched.values()) <= fastem_modules
    assert plain.keys() == patched.keys()
    assert not set(plain.values()) & fastem_modules


def test_every_expected_failure_names_a_test(suite):
    stale = [
        pattern
        for pattern in EXPECTED_FAILURES
        if not any(_matches(pattern, nodeid) for nodeid in suite["fastem"]["tests"])
    ]
    assert not stale, f"EXPECTED_FAILURES entries matching no test: {stale}"
