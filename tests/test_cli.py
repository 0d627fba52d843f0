"""The ``fastem`` command line: the real console script, in subprocesses.

Good files of every format give the models and outputs the Python API gives;
bad ones give one line on standard error, a non-zero exit status, no
traceback and no output file (not even a temporary one).
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastem
from fastem import _progress, _terminal, cli
from fastem._bench.data import make_blobs

REPOSITORY = Path(__file__).parents[1]
SCRIPT = Path(sys.executable).with_name("fastem")


def run(*args, cwd):
    """Run the console script; return ``(exit status, stdout, stderr)``."""
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY), COLUMNS="100")
    done = subprocess.run(
        [str(SCRIPT), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_line_error(status, out, err, *phrases):
    assert status == 1, (status, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("fastem ")
    assert ": error: " in lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def files_in(directory):
    return sorted(path.name for path in Path(directory).iterdir())


@pytest.fixture(scope="module")
def X():
    return make_blobs(900, 3, 3)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, X):
    """The same data as .npy, .npz, .csv (with and without a header), .parquet."""
    directory = tmp_path_factory.mktemp("data")
    np.save(directory / "data.npy", X)
    np.savez(directory / "data.npz", x=X, y=np.zeros(len(X)))
    np.savetxt(
        directory / "header.csv",
        X,
        delimiter=",",
        fmt="%.17g",
        header="a,b,c",
        comments="",
    )
    np.savetxt(directory / "plain.csv", X, delimiter=",", fmt="%.17g")
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as parquet

    table = pyarrow.table({name: X[:, j] for j, name in enumerate("abc")})
    parquet.write_table(table, directory / "data.parquet")
    return directory


def test_console_script_is_installed():
    assert SCRIPT.exists(), f"{SCRIPT}: pip install -e . installs it"


# -- good files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["data.npy", "data.npz", "header.csv", "plain.csv", "data.parquet"]
)
def test_fit_reads_every_format_and_saves_the_model(data_dir, X, tmp_path, name):
    status, out, err = run(
        "fit", data_dir / name, "-k", 3, "--seed", 0, "-o", "model.npz", cwd=tmp_path
    )
    assert status == 0, err
    # Nothing but progress lines (a cold cache can make this fit take seconds).
    assert all(line.startswith("fastem: ") for line in err.splitlines()), err
    model = fastem.load(tmp_path / "model.npz")
    reference = fastem.GaussianMixture(3, random_state=0).fit(X)
    # The script's kernels may be a different compiled variant (read-only
    # data, or compiled in this run rather than loaded from Numba's cache):
    # the same fit to the last few bits.
    assert_allclose(model.means_, reference.means_, rtol=1e-10)
    assert_array_equal(model.predict(X), reference.predict(X))
    lines = out.splitlines()
    assert lines[0].startswith(f"GaussianMixture on {data_dir / name} (900 x 3)")
    assert f"{reference.lower_bound_:.6f}" in lines[1]
    assert f"BIC {reference.bic(X):.1f}, AIC {reference.aic(X):.1f}" in out
    assert files_in(tmp_path) == ["model.npz"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, data_dir, X):
    """A GaussianMixture and a KMeans model file, fitted by the script."""
    directory = tmp_path_factory.mktemp("models")
    data = data_dir / "data.npy"
    for model, name in (("gmm", "gmm.npz"), ("kmeans", "kmeans.npz")):
        status, _, err = run(
            "fit",
            data,
            "-k",
            3,
            "--model",
            model,
            "--seed",
            1,
            "-o",
            name,
            "-q",
            cwd=directory,
        )
        assert status == 0, err
    return directory


@pytest.mark.parametrize(
    "option, output, method",
    [
        ((), "labels.npy", "predict"),
        (("--proba",), "proba.csv", "predict_proba"),
        (("--score",), "score.npy", "score_samples"),
    ],
)
def test_predict_writes_what_the_api_returns(
    fitted, data_dir, X, tmp_path, option, output, method
):
    status, out, err = run(
        "predict",
        fitted / "gmm.npz",
        data_dir / "header.csv",
        *option,
        "-o",
        output,
        cwd=tmp_path,
    )
    assert status == 0, err
    expected = getattr(fastem.load(fitted / "gmm.npz"), method)(X)
    if output.endswith(".npy"):
        written = np.load(tmp_path / output)
        assert written.dtype == (np.int32 if method == "predict" else np.float64)
    else:
        with open(tmp_path / output) as stream:
            assert stream.readline().strip() == "p0,p1,p2"
        written = np.loadtxt(tmp_path / output, delimiter=",", skiprows=1)
    assert_allclose(written, expected, rtol=1e-12)
    what = {"predict": "labels", "predict_proba": "probabilities"}.get(method, "scores")
    assert out.strip() == f"wrote the {what} of 900 rows to {output}"
    assert files_in(tmp_path) == [output]


def test_kmeans_model_predicts_labels_but_has_no_probabilities(
    fitted, data_dir, X, tmp_path
):
    status, _, err = run(
        "predict",
        fitted / "kmeans.npz",
        data_dir / "data.npy",
        "-o",
        "l.npy",
        "-q",
        cwd=tmp_path,
    )
    assert status == 0, err
    reference = fastem.KMeans(3, random_state=1).fit(X)
    assert_array_equal(np.load(tmp_path / "l.npy"), reference.labels_)
    assert not hasattr(fastem.load(fitted / "kmeans.npz"), "labels_")  # 4 B a row
    status, out, err = run(
        "predict",
        fitted / "kmeans.npz",
        data_dir / "data.npy",
        "--proba",
        "-o",
        "p.npy",
        cwd=tmp_path,
    )
    assert_one_line_error(status, out, err, "--proba needs a mixture model", "KMeans")
    assert files_in(tmp_path) == ["l.npy"]


def test_info_describes_the_model(fitted):
    status, out, err = run("info", "gmm.npz", cwd=fitted)
    assert status == 0, err
    model = fastem.load(fitted / "gmm.npz")
    assert out.startswith("gmm.npz: fastem model file (format 1, written by fastem")
    assert "class: GaussianMixture" in out
    assert "  n_components = 3" in out and "  random_state = 1" in out
    assert f"  converged_ = True, n_iter_ = {model.n_iter_}" in out
    assert f"  lower_bound_ = {model.lower_bound_:.6f}" in out


def test_quiet_prints_nothing(data_dir, tmp_path):
    status, out, err = run(
        "fit",
        data_dir / "data.npy",
        "-k",
        2,
        "--model",
        "bayes",
        "-o",
        "m.npz",
        "-q",
        cwd=tmp_path,
    )
    assert (status, out, err) == (0, "", "")
    assert type(fastem.load(tmp_path / "m.npz")).__name__ == "BayesianGaussianMixture"


def test_help_reads_on_every_command(tmp_path):
    for command in ("fit", "predict", "select", "info"):
        status, out, err = run(command, "--help", cwd=tmp_path)
        assert status == 0 and err == ""
        assert out.startswith(f"usage: fastem {command}")
        assert "examples:" in out or "example:" in out
    status, out, _ = run("--help", cwd=tmp_path)
    for command in ("fit", "predict", "select", "info", "bench", "demo"):
        assert f"    {command} " in out


# -- bad files: one line, non-zero exit, no traceback, no output ---------------------


def write_bad_inputs(directory, X):
    (directory / "nan.csv").write_text("a,b,c\n1,2,3\n4,nan,6\n")
    (directory / "ragged.csv").write_text("1,2,3\n4,5,6\n7,8\n")
    (directory / "text.csv").write_text("1,2,3\n4,five,6\n")
    np.save(directory / "four.npy", np.ones((10, 4)))
    good = directory / "good.npz"
    fastem.GaussianMixture(2, random_state=0).fit(X).save(good)
    (directory / "truncated.npz").write_bytes(good.read_bytes()[:200])
    np.savez(directory / "pickled.npz", __fastem__=np.array([{"a": 1}], dtype=object))
    (directory / "a_file").write_text("")


BAD_CASES = {
    "missing data file": (
        ["fit", "absent.csv", "-k", 2, "-o", "m.npz"],
        ["absent.csv", "no such file"],
    ),
    "NaN in a CSV": (
        ["fit", "nan.csv", "-k", 2, "-o", "m.npz"],
        ["nan.csv: line 3, column 2"],
    ),
    "ragged rows": (
        ["fit", "ragged.csv", "-k", 2, "-o", "m.npz"],
        ["ragged.csv: line 3 has 2 values, the rows before it 3"],
    ),
    "text in a CSV": (
        ["fit", "text.csv", "-k", 2, "-o", "m.npz"],
        ["line 2, column 2: 'five'"],
    ),
    "wrong number of columns": (
        ["predict", "good.npz", "four.npy", "-o", "out.npy"],
        ["four.npy has 4 columns", "fitted on 3"],
    ),
    "corrupt model": (
        ["predict", "truncated.npz", "four.npy", "-o", "out.npy"],
        ["truncated.npz", "corrupt or truncated"],
    ),
    "pickled model": (
        ["info", "pickled.npz"],
        ["pickled Python objects", "never unpickles"],
    ),
    "output directory missing": (
        ["fit", "four.npy", "-k", 2, "-o", "absent/m.npz"],
        ["-o absent/m.npz: directory absent does not exist"],
    ),
    "output under a file": (
        ["predict", "good.npz", "four.npy", "-o", "a_file/out.npy"],
        ["directory a_file does not exist"],
    ),
    "unknown data format": (
        ["fit", "a_file", "-k", 2, "-o", "m.npz"],
        ["unknown data format"],
    ),
    "bad parameter": (
        ["fit", "four.npy", "-k", 0, "-o", "m.npz"],
        ["'n_components' parameter"],
    ),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, X, case):
    write_bad_inputs(tmp_path, X)
    before = files_in(tmp_path)
    argv, phrases = BAD_CASES[case]
    status, out, err = run(*argv, cwd=tmp_path)
    assert_one_line_error(status, out, err, *phrases)
    assert files_in(tmp_path) == before  # no output, no temporary file


def test_usage_error_is_one_line(tmp_path):
    status, out, err = run("fit", "data.npy", "-o", "m.npz", cwd=tmp_path)
    assert status == 2 and out == ""
    assert err.splitlines() == [
        "fastem fit: error: the following arguments are required: -k/--n-components "
        "(see fastem fit --help)"
    ]


def test_failed_predict_keeps_the_previous_output(tmp_path, X):
    write_bad_inputs(tmp_path, X)
    previous = np.arange(5)
    np.save(tmp_path / "out.npy", previous)
    status, out, err = run(
        "predict", "good.npz", "four.npy", "-o", "out.npy", cwd=tmp_path
    )
    assert_one_line_error(status, out, err, "4 columns")
    assert_array_equal(np.load(tmp_path / "out.npy"), previous)


# -- in process: argument parsing and progress ---------------------------------------


@pytest.mark.parametrize(
    "text, values",
    [
        ("1:10", list(range(1, 11))),
        ("2:20:4", [2, 6, 10, 14, 18]),
        ("5", [5]),
        ("2,4,8", [2, 4, 8]),
    ],
)
def test_components_ranges(text, values):
    assert cli._components(text) == values


@pytest.mark.parametrize("text", ["0:3", "a:b", "1:5:0", "", "3:1", "1:2:3:4"])
def test_bad_components_ranges(text):
    with pytest.raises(Exception, match="expected|>= 1"):
        cli._components(text)


def test_covariance_types_option():
    assert cli._covariance_types("all") == cli.COVARIANCE_TYPES
    assert cli._covariance_types("diag,full") == ("diag", "full")
    with pytest.raises(Exception, match="unknown covariance type 'ful'"):
        cli._covariance_types("full,ful")


def test_progress_lines_when_piped(X, monkeypatch):
    monkeypatch.setattr(_terminal, "DELAY", 0.0)
    monkeypatch.setattr(_terminal, "INTERVAL", 0.0)
    stream = io.StringIO()
    model = fastem.GaussianMixture(3, n_init=2, random_state=0)
    progress = _terminal.FitProgress(model, "lines", stream)
    with _progress.observe(progress):
        model.fit(X)
    lines = stream.getvalue().splitlines()
    fit_lines = [line for line in lines if line.startswith("fastem: init 2/2,")]
    assert len(fit_lines) == len(progress.histories[1])
    assert any(line.startswith("fastem: k-means start, iteration 1,") for line in lines)
    best = max(progress.histories, key=lambda history: history[-1])
    assert_allclose(best, model.lower_bounds_, rtol=0)
    assert f"lower bound {model.lower_bounds_[0]:.6f}" in "\n".join(lines)


def test_progress_bar_on_a_terminal(X, monkeypatch):
    monkeypatch.setattr(_terminal, "DELAY", 0.0)
    monkeypatch.setattr(_terminal, "REFRESH", 0.0)
    stream = io.StringIO()
    model = fastem.KMeans(3, random_state=0, n_init=1)
    progress = _terminal.FitProgress(model, "bar", stream)
    with _progress.observe(progress):
        model.fit(X)
    progress.close()
    shown = stream.getvalue()
    assert "fit: " in shown and "center shift" in shown and "\r" in shown
    assert len(progress.histories[0]) == model.n_iter_


def test_display_mode():
    assert _terminal.display_mode(io.StringIO(), quiet=True) == "off"
    assert _terminal.display_mode(io.StringIO(), quiet=False) == "lines"


def test_unknown_command_is_a_usage_error(capsys):
    assert cli.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastem: error: argument COMMAND: invalid choice: 'nope'")
    assert len(err.splitlines()) == 1


def test_no_command_prints_the_help(capsys):
    assert cli.main([]) == 0
    assert capsys.readouterr().out.startswith("usage: fastem [-h] [--version] COMMAND")


def test_warmup_is_a_command(capsys):
    assert cli.main(["--help"]) == 0
    assert "    warmup " in capsys.readouterr().out
    assert cli.main(["warmup", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastem warmup") and "examples:" in out
    assert cli.main(["warmup", "--family", "diag,nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown family 'nope'" in err and len(err.splitlines()) == 1


def test_bench_is_dispatched(capsys):
    assert cli.main(["bench", "--list-cases"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "gmm-full-2e4x8-k4" in names and "kmeans-1e6x2-k8" in names


# -- select and figures ---------------------------------------------------------------


def test_select_prints_the_table_and_saves_best_table_and_figure(data_dir, X, tmp_path):
    pytest.importorskip("matplotlib")
    status, out, err = run(
        "select",
        data_dir / "plain.csv",
        "-k",
        "1:4",
        "--covariance-type",
        "full,diag",
        "--seed",
        0,
        "-o",
        "best.npz",
        "--table",
        "table.csv",
        "--plot",
        "select.png",
        cwd=tmp_path,
    )
    assert status == 0, err
    reference = fastem.select_model(
        X, n_components=range(1, 5), covariance_types=("full", "diag"), random_state=0
    )
    lines = out.splitlines()
    assert lines[0].split() == list(reference.table)
    assert len(lines) == 1 + 8 + 1
    best = reference.best_index
    assert lines[1 + best].startswith("*")
    assert lines[-1] == reference.to_string().splitlines()[-1]
    with open(tmp_path / "table.csv") as stream:
        assert stream.readline().strip() == ",".join(reference.table)
    written = np.genfromtxt(
        tmp_path / "table.csv", delimiter=",", names=True, dtype=None, encoding="utf-8"
    )
    for name in ("n_components", "bic", "aic", "log_likelihood", "n_iter"):
        assert_allclose(written[name], reference.table[name], rtol=1e-10)
    model = fastem.load(tmp_path / "best.npz")
    assert_allclose(model.means_, reference.best_estimator.means_, rtol=1e-10)
    assert (tmp_path / "select.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files_in(tmp_path) == ["best.npz", "select.png", "table.csv"]


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
def test_fit_plot_saves_a_figure(data_dir, tmp_path, model):
    pytest.importorskip("matplotlib")
    status, out, err = run(
        "fit",
        data_dir / "data.npy",
        "-k",
        3,
        "--model",
        model,
        "-o",
        "m.npz",
        "--plot",
        "fit.png",
        cwd=tmp_path,
    )
    assert status == 0, err
    assert out.splitlines()[-1] == "  figure saved to fit.png"
    png = (tmp_path / "fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert files_in(tmp_path) == ["fit.png", "m.npz"]


def test_bad_plot_path_fails_before_fitting(data_dir, tmp_path):
    status, out, err = run(
        "fit",
        data_dir / "data.npy",
        "-k",
        3,
        "-o",
        "m.npz",
        "--plot",
        "fit.jpg",
        cwd=tmp_path,
    )
    assert_one_line_error(status, out, err, "--plot fit.jpg: expected a file name")
    assert files_in(tmp_path) == []


def test_kept_kmeans_history_is_the_run_kept(X):
    model = fastem.KMeans(3, n_init=4, random_state=0)
    progress = _terminal.FitProgress(model, "off")
    with _progress.observe(progress):
        model.fit(X)
    assert len(progress.histories) == 4
    assert len(cli._kept_history(model, progress)) == model.n_iter_
