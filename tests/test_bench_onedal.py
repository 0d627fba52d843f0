"""oneDAL as an optional backend of ``fastem bench`` (fastem/_bench/onedal*.py).

Most tests need no daal4py: the conversion of the start, the reasons a case is
skipped, the report without oneDAL. The real runs need an interpreter that imports
daal4py, named by ``$FASTEM_ONEDAL_PYTHON``, and are skipped without it (as on
CI).
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem import GaussianMixture
from fastem._bench import (
    backends,
    cases,
    command,
    data,
    machine,
    onedal,
    onedal_child,
    render,
    results,
    timing,
)

DAL_PYTHON = os.environ.get(onedal.ONEDAL_PYTHON_ENV, "")
needs_daal4py = pytest.mark.skipif(
    not (DAL_PYTHON and Path(DAL_PYTHON).is_file()),
    reason=f"set {onedal.ONEDAL_PYTHON_ENV} to a Python that imports daal4py",
)


# --- the start oneDAL takes ----------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_covariances_are_the_inverse_initial_precisions(covariance_type, dtype):
    X = data.make_blobs(500, 4, 3, dtype=dtype)
    init = data.initial_parameters(X, 3, covariance_type)
    covariances = onedal.onedal_covariances(init, covariance_type)
    precisions = init["precisions_init"].astype(np.float64)
    assert covariances.dtype == np.float64
    if covariance_type == "full":
        assert covariances.shape == (3, 4, 4)
        assert_allclose(covariances, np.linalg.inv(precisions), rtol=1e-5)
        assert_allclose(covariances, covariances.transpose(0, 2, 1), rtol=1e-12)
    else:
        assert covariances.shape == (3, 4)
        assert_allclose(covariances, 1.0 / precisions, rtol=1e-5)
    if dtype == "float64":  # the covariance the start was built from, exactly
        cov = np.cov(X, rowvar=False) + data.REG_COVAR * np.eye(4)
        ref = cov if covariance_type == "full" else np.diag(cov)
        assert_allclose(
            covariances, np.broadcast_to(ref, covariances.shape), rtol=1e-12
        )


def test_covariances_only_full_or_diag():
    init = data.initial_parameters(data.make_blobs(100, 2, 2), 2, "tied")
    with pytest.raises(ValueError, match="'full' or 'diag' covariances, got 'tied'"):
        onedal.onedal_covariances(init, "tied")


def test_session_writes_the_start_the_child_reads(tmp_path):
    X = data.make_blobs(300, 3, 2, dtype="float32")
    init = data.initial_parameters(X, 2, "diag")
    with onedal.OneDALSession("python", X, init, "diag", 2) as session:
        folder = session._folder.name
        spec, X_read, (weights, means, covariances) = onedal_child.load_start(folder)
    assert not Path(folder).exists()  # removed on leaving the block
    assert spec == {"covariance_type": "diag", "reg_covar": 1e-6, "threads": 2}
    np.testing.assert_array_equal(X_read, X)
    assert weights.shape == (1, 2) and weights.dtype == np.float32
    np.testing.assert_array_equal(means, init["means_init"])
    assert [c.shape for c in covariances] == [(1, 3), (1, 3)]
    expected = onedal.onedal_covariances(init, "diag").astype(np.float32)
    assert_allclose(np.vstack(covariances), expected)


# --- skipped with a reason -----------------------------------------------------


def test_no_interpreter_gives_the_reason():
    found = onedal.find_onedal("/nonexistent/python")
    assert found.versions == {}
    assert found.reason == (
        "oneDAL unavailable: /nonexistent/python cannot import daal4py: "
        "FileNotFoundError: [Errno 2] No such file or directory: "
        "'/nonexistent/python'"
    )


@pytest.mark.parametrize("garbage", ["directory", "not python", "prints text"])
def test_an_interpreter_that_is_no_python_gives_the_reason(tmp_path, garbage):
    """A folder, a program that fails, a program whose output is not JSON."""
    path = tmp_path / "python"
    if garbage == "directory":
        path.mkdir()
    else:
        body = "exit 3" if garbage == "not python" else "echo hello; exit 0"
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    found = onedal.find_onedal(str(path))
    assert found.versions == {}
    assert found.reason.startswith(
        f"oneDAL unavailable: {path} cannot import daal4py: "
    )
    assert "\n" not in found.reason


def test_the_environment_variable_names_the_interpreter(monkeypatch):
    monkeypatch.setenv(onedal.ONEDAL_PYTHON_ENV, "/nonexistent/env-python")
    found = onedal.find_onedal()
    assert found.python == "/nonexistent/env-python"
    assert found.reason.endswith("'/nonexistent/env-python'")  # no hint: it was set
    assert onedal.find_onedal("/nonexistent/arg").python == "/nonexistent/arg"


def test_this_interpreter_without_daal4py_gives_the_reason(monkeypatch):
    if importlib.util.find_spec("daal4py") is not None:
        pytest.skip("this interpreter imports daal4py")
    monkeypatch.delenv(onedal.ONEDAL_PYTHON_ENV, raising=False)
    found = onedal.find_onedal()
    assert found.python == sys.executable
    assert found.reason == (
        f"oneDAL unavailable: {sys.executable} cannot import daal4py: "
        "ModuleNotFoundError: No module named 'daal4py' "
        f"(pass --onedal-python or set {onedal.ONEDAL_PYTHON_ENV})"
    )


def test_skip_reasons_per_case():
    ready = onedal.OneDAL("python", versions={"daal4py": "x"})
    reason = onedal.onedal_skip_reason
    for cov in ("full", "diag"):
        for dtype in ("float64", "float32"):
            assert reason(cases.gmm_case(cov, 10, 2, 2, dtype), ready) is None
    assert reason(cases.gmm_case("tied", 10, 2, 2), ready) == (
        "oneDAL EM has no tied covariance"
    )
    assert reason(cases.gmm_case("spherical", 10, 2, 2), ready) == (
        "oneDAL EM has no spherical covariance"
    )
    assert reason(cases.bgmm_case("full", 10, 2, 2), ready) == (
        "oneDAL EM is GaussianMixture only"
    )
    missing = onedal.OneDAL("python", reason="oneDAL unavailable: test")
    assert reason(cases.gmm_case("full", 10, 2, 2), missing) == (
        "oneDAL unavailable: test"
    )


def test_session_notes_gaussian_mixture_skips_only():
    X = data.make_blobs(100, 2, 2)
    ready = onedal.OneDAL("python", versions={"daal4py": "x"})
    notes = []
    for case in (cases.gmm_case("tied", 100, 2, 2), cases.kmeans_case(100, 2, 2)):
        with onedal.onedal_session(case, ready, X, None, 2, notes) as session:
            assert session is None
    with onedal.onedal_session(
        cases.gmm_case("full", 100, 2, 2), None, X, None, 2, notes
    ) as s:
        assert s is None  # oneDAL not wanted at all: no note
    assert notes == ["oneDAL EM has no tied covariance"]


def test_fit_pair_rejects_a_fit_that_stopped_early(monkeypatch):
    X = data.make_blobs(200, 2, 2)
    init = data.initial_parameters(X, 2, "full")
    calls = []

    def child(python, args, timeout=1800):
        calls.append(args[1:])
        return {
            "seconds": [0.1, 0.4],
            "n_iter": [1, 3],
            "log_likelihood": -400.0,
            "means": init["means_init"].tolist(),
        }

    monkeypatch.setattr(onedal, "run_onedal_child", child)
    with onedal.OneDALSession("python", X, init, "full", 2) as session:
        with pytest.raises(onedal.OneDALError, match="em_gmm ran 3 of 4 iterations"):
            session.fit_pair(1, 3)
        out = session.fit_pair(1, 2)
    assert calls == [["1", "3"], ["1", "2"]]  # a and m, as the child reads them
    assert_allclose(out["iteration"], 0.15)
    assert out["fit"] == 0.4 and out["n_iter"] == 3
    assert out["lower_bound"] == -2.0  # the total over the 200 rows


def test_fit_pair_rejects_a_malformed_answer(monkeypatch):
    X = data.make_blobs(200, 2, 2)
    init = data.initial_parameters(X, 2, "full")
    monkeypatch.setattr(onedal, "run_onedal_child", lambda *a, **k: {"n_iter": [1]})
    with onedal.OneDALSession("python", X, init, "full", 2) as session:
        with pytest.raises(onedal.OneDALError, match="unexpected answer"):
            session.fit_pair(1, 2)


def test_unwritable_input_files_become_a_note(monkeypatch):
    """A full disk while writing X: the case gets a note, no folder is left."""
    X = data.make_blobs(100, 2, 2)
    init = data.initial_parameters(X, 2, "full")
    made = []
    real_folder = onedal.tempfile.TemporaryDirectory

    def folder(**kwargs):
        made.append(real_folder(**kwargs))
        return made[-1]

    def no_space(path, array):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onedal.tempfile, "TemporaryDirectory", folder)
    monkeypatch.setattr(onedal.np, "save", no_space)
    ready = onedal.OneDAL("python", versions={"daal4py": "x"})
    notes = []
    case = cases.gmm_case("full", 100, 2, 2)
    with onedal.onedal_session(case, ready, X, init, 2, notes) as session:
        assert session is None
    assert notes == [
        f"oneDAL failed on {case.name}: cannot write its input files: "
        "OSError: [Errno 28] No space left on device"
    ]
    assert not Path(made[0].name).exists()


def test_time_onedal_records_a_failure_as_a_note():
    class Failing:
        def fit_pair(self, a, m):
            raise onedal.OneDALError("em_gmm ran 1 of 2 iterations")

    result = results.CaseResult(cases.gmm_case("full", 10, 2, 2))
    assert timing.time_onedal(Failing(), result, 1, 1, {}) is False
    assert result.notes == [
        "oneDAL failed on gmm-full-1e1x2-k2: em_gmm ran 1 of 2 iterations"
    ]
    assert result.times == {}


def test_main_without_onedal_says_why_and_renders(tmp_path, monkeypatch, capsys):
    tiny = [cases.gmm_case("diag", 1500, 2, 2), cases.gmm_case("tied", 1500, 2, 2)]
    monkeypatch.setattr(command, "select_cases", lambda *args: tiny)
    argv = ["--no-compile", "--no-memory", "--repeats", "1", "--iters", "1"]
    argv += ["--sklearn-threads", "1", "--onedal-python", "/nonexistent/python"]
    argv += ["--json-out", str(tmp_path / "r.json")]
    assert command.main(argv) == 0
    report = capsys.readouterr().out
    lines = report.splitlines()
    assert "| diag, n=1,500 d=2 k=2, f64 | fit (max_iter=2) |" in report
    assert "| GaussianMixture | measure | scikit-learn | fastem | speed-up |" in lines
    assert "oneDAL agreement" not in report and "- daal4py" not in report
    skipped = [line for line in lines if line.startswith("Skipped: ")]
    assert skipped == [
        "Skipped: oneDAL unavailable: /nonexistent/python cannot import daal4py: "
        "FileNotFoundError: [Errno 2] No such file or directory: "
        "'/nonexistent/python'"
    ]  # once, though both cases were skipped
    saved = results.from_json(json.loads((tmp_path / "r.json").read_text()))
    assert render.render_markdown(saved) + "\n" == report


def test_machine_info_names_daal4py_when_reported():
    versions = {"daal4py": "2024.7.0", "python": "3.11.7", "numpy": "2.4.6"}
    info = machine.machine_info(onedal.OneDAL("/x/python", versions=versions))
    assert info["daal4py"] == (
        "2024.7.0 (oneDAL; in /x/python: Python 3.11.7, NumPy 2.4.6)"
    )
    assert "daal4py" not in machine.machine_info(onedal.OneDAL("/x", reason="no"))


def test_child_reports_errors_as_json(capsys):
    assert onedal_child.main(["onedal_child.py", "/nonexistent/folder", "1", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["error"].startswith(("ModuleNotFoundError", "FileNotFoundError"))


# --- real runs (need a Python with daal4py) ------------------------------------


@needs_daal4py
@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_onedal_does_fastems_work_from_the_same_start(covariance_type):
    # Same start, 2 iterations. oneDAL adds no reg_covar to its covariances (its
    # regularizationFactor only acts on ill-conditioned ones): without reg_covar
    # fastem's means match oneDAL's to rounding (measured: 1e-15 to 1e-14); with
    # the benchmark's reg_covar=1e-6, the second E-step sees covariances larger
    # by 1e-6 and the means move by a few 1e-7 (measured 4.4e-7 full, 1.8e-7
    # diag, on unit-scale blobs): the bound 1e-6 leaves room for that, no more.
    found = onedal.find_onedal(DAL_PYTHON)
    assert found.reason is None and found.versions["daal4py"]
    X = data.make_blobs(2000, 4, 3)
    init = data.initial_parameters(X, 3, covariance_type)
    with onedal.OneDALSession(found.python, X, init, covariance_type, 2) as session:
        out = session.fit_pair(1, 1)
    assert out["n_iter"] == 2 and out["means"].shape == (3, 4)
    without_reg = GaussianMixture(
        3,
        covariance_type=covariance_type,
        tol=0.0,
        reg_covar=0.0,
        max_iter=2,
        weights_init=init["weights_init"],
        means_init=init["means_init"],
        precisions_init=init["precisions_init"],
    ).fit(X)
    assert_allclose(out["means"], without_reg.means_, rtol=0, atol=1e-12)
    assert_allclose(out["lower_bound"], without_reg.lower_bound_, rtol=1e-12)
    bench = backends.fit_gmm("fastem", covariance_type, X, init, 2)
    diff = np.abs(out["means"] - bench.means_).max()
    assert 1e-9 < diff < 1e-6  # reg_covar's effect, and nothing more


@needs_daal4py
def test_main_reports_onedal(tmp_path, monkeypatch, capsys):
    tiny = [cases.gmm_case("full", 2000, 4, 3), cases.gmm_case("tied", 2000, 4, 3)]
    monkeypatch.setattr(command, "select_cases", lambda *args: tiny)
    argv = ["--no-compile", "--no-memory", "--repeats", "2", "--iters", "1"]
    argv += ["--sklearn-threads", "1", "--onedal-python", DAL_PYTHON]
    argv += ["--json-out", str(tmp_path / "r.json")]
    assert command.main(argv) == 0
    report = capsys.readouterr().out
    saved = results.from_json(json.loads((tmp_path / "r.json").read_text()))
    full, tied = saved.results
    config = ("onedal", timing.FASTEM_THREADS)
    assert len(full.times["fit"][config]) == len(full.times["iteration"][config]) == 2
    assert config not in full.times["estep"]  # oneDAL has fits only
    assert full.n_iter == {"sklearn": 2, "fastem": 2, "onedal": 2}
    assert 0 < full.means_difference["onedal"] < 1e-6
    assert_allclose(full.quality["onedal"], full.quality["fastem"], rtol=1e-6)
    assert all(c[0] != "onedal" for per in tied.times.values() for c in per)
    assert tied.notes == ["oneDAL EM has no tied covariance"]
    assert "| oneDAL | fastem / oneDAL speed-up |" in report
    assert "|  | fused E-step + statistics |" in report
    assert "| full, n=2,000 d=4 k=3, f64 | 2 | " in report  # agreement table
    assert "Skipped: oneDAL EM has no tied covariance" in report
    assert f"(oneDAL; in {DAL_PYTHON}: Python " in saved.machine["daal4py"]
    assert render.render_markdown(saved) + "\n" == report
