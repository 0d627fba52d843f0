"""``fastem demo`` on small data."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem import GaussianMixture, _demo
from fastem._bench.data import make_blobs


@pytest.fixture(scope="module")
def small():
    return make_blobs(600, 2, 3)


def test_demo_parser():
    args = _demo._demo_parser().parse_args([])
    assert (args.n_samples, args.n_features, args.n_components) == (1_000_000, 8, 8)
    assert args.max_iter == _demo.DEMO_ITERATIONS and not args.no_sklearn
    args = _demo._demo_parser().parse_args(
        ["--n-samples", "500", "--n-components", "2", "--no-sklearn"]
    )
    assert (args.n_samples, args.n_components, args.no_sklearn) == (500, 2, True)
    with pytest.raises(SystemExit):
        _demo._demo_parser().parse_args(["--n-samples", "many"])


def test_demo_data_is_the_sample_image():
    pytest.importorskip("PIL")
    X, name, task = _demo._load_demo_data()
    assert X.shape == (427 * 640, 3)
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert name.startswith("china.jpg pixels") and task == "color quantization"


def test_demo_data_without_pillow(monkeypatch, capsys):
    monkeypatch.setattr(_demo, "_load_image_pixels", lambda: (None, None))
    X, name, task = _demo._load_demo_data()
    assert X.shape == (1797, 64) and task == "digit clusters"
    assert "pip install pillow" in capsys.readouterr().out


def test_progress_fit_and_summary(small, capsys):
    gm, seconds = _demo._progress_fit(small, 3, "full", 100, 0)
    assert isinstance(gm, GaussianMixture) and gm.converged_ and seconds > 0
    ref = GaussianMixture(3, covariance_type="full", random_state=0).fit(small)
    assert_allclose(gm.lower_bound_, ref.lower_bound_, rtol=1e-12)
    progress = capsys.readouterr().out
    assert progress.count("Iteration") == gm.n_iter_  # verbose=3, every iteration
    _demo._summary(gm, small)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"  converged: True after {gm.n_iter_} iterations"
    assert lines[1] == f"  lower bound (mean log-likelihood): {gm.lower_bound_:.6f}"
    assert lines[2] == f"  BIC: {gm.bic(small):.1f}"
    heaviest = [float(line.split(":")[0]) for line in lines[4:]]
    assert heaviest == sorted(np.round(gm.weights_, 3), reverse=True)


def test_time_fit(small):
    seconds, model = _demo._time_fit(lambda: GaussianMixture(2, max_iter=3), small, 2)
    assert seconds > 0 and model.n_iter_ == 3


def test_compare_agrees_with_sklearn(small, capsys):
    reference = GaussianMixture(3, random_state=0).fit(small)
    _demo._compare(small, reference, 4)
    out = capsys.readouterr().out
    assert "4 EM iterations from the same start, tol=0:" in out
    assert re.search(r"fastem +[0-9.]+ s +\([0-9.]+ ms/iter\)", out)
    assert re.search(r"best of 1 and 2 BLAS threads: [12]\)", out)
    difference = float(out.rsplit("fitted means: ", 1)[1].rstrip(")\n"))
    assert difference < 1e-8


def test_demo_end_to_end_on_small_data(small, monkeypatch, capsys):
    monkeypatch.setattr(_demo, "_load_demo_data", lambda: (small, "tiny", "test"))
    argv = ["--n-samples", "800", "--n-features", "2", "--n-components", "3"]
    assert _demo.demo([*argv, "--no-sklearn"]) == 0
    out = capsys.readouterr().out
    assert "== Real data: tiny, 600 x 2 (test) ==" in out
    assert "== Generated data: 800 x 2, 3 blobs, full covariances ==" in out
    assert "EM iterations from the same start" not in out  # --no-sklearn
    assert out.rstrip().splitlines()[-1].startswith("Demo finished in ")
