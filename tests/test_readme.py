"""The README's kernel-layer example runs and asserts what it claims."""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _section_code(title):
    text = README.read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _run_and_compare_claims(block, capsys):
    """Run a README block; return what it printed, checked against its comments."""
    exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    # The comments in the block show the output: check them against the run.
    claimed = re.findall(r"print\(.*?\)\s+# (.*)", block)
    assert printed == claimed
    return printed


def test_kernel_layer_example_runs():
    blocks = _section_code("The kernel layer")
    assert len(blocks) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=0 start: ConvergenceWarning
        exec(compile(blocks[0], str(README), "exec"), {})


def test_kernel_layer_example_would_catch_a_wrong_fit():
    code = _section_code("The kernel layer")[0].replace(
        'kernels.m_step(stats, "full", 1e-6)', 'kernels.m_step(stats, "full", 1e-3)'
    )
    with warnings.catch_warnings(), pytest.raises(AssertionError):
        warnings.simplefilter("ignore")
        exec(compile(code, str(README), "exec"), {})


def test_choosing_the_number_of_components_example_prints_what_it_says(capsys):
    blocks = _section_code("Letting the model choose the number of components")
    assert len(blocks) == 1
    assert _run_and_compare_claims(blocks[0], capsys)[-1] == "4"


@pytest.mark.parametrize("index", [0, 1], ids=["memmap", "partial_fit"])
def test_data_larger_than_memory_examples_print_what_they_say(capsys, index):
    blocks = _section_code("Data larger than memory")
    assert len(blocks) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the examples must run cleanly
        exec(compile(blocks[index], str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    claimed = re.findall(r"print\(.*?\)\s+# (.*)", blocks[index])
    assert printed == claimed and len(claimed) == 2


def test_dask_example_prints_what_it_says(tmp_path):
    pytest.importorskip("distributed", reason="Dask is an optional extra")
    blocks = _section_code("Beyond one machine: Dask")
    assert len(blocks) == 1
    script = tmp_path / "dask_example.py"
    script.write_text(blocks[0])
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    claimed = re.findall(r"print\(.*?\)\s+# (.*)", blocks[0])
    assert result.stdout.splitlines() == claimed and len(claimed) == 2


def test_model_files_example_prints_what_it_says(capsys):
    blocks = _section_code("Model files")
    assert len(blocks) == 1
    assert _run_and_compare_claims(blocks[0], capsys) == ["GaussianMixture True"]


def _section(title):
    return README.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_terminal_example_runs_and_prints_what_it_shows(tmp_path):
    section = _section("From the terminal")
    commands = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0].splitlines()
    shown = re.findall(r"```text\n(.*?)```", section, flags=re.S)[0].splitlines()
    bin_dir = str(Path(sys.executable).parent)
    env = dict(
        os.environ,
        PATH=bin_dir + os.pathsep + os.environ["PATH"],
        PYTHONPATH=str(README.parent),
    )
    outputs = {}
    for command in commands:
        result = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (command, result.stderr[-2000:])
        outputs[command.split()[1]] = result.stdout
    printed = outputs["fit"].splitlines()
    timing = re.compile(r"fitted in [0-9.]+ s")
    assert [timing.sub("", line) for line in printed] == [
        timing.sub("", line) for line in shown
    ]
    for name in (
        "blobs.csv",
        "model.npz",
        "labels.npy",
        "proba.csv",
        "table.csv",
        "best.npz",
    ):
        assert (tmp_path / name).stat().st_size > 0


def test_select_model_example_prints_what_it_says(capsys):
    blocks = _section_code("Choosing k and the covariance type: `select_model`")
    assert len(blocks) == 1
    printed = _run_and_compare_claims(blocks[0], capsys)
    assert printed[0] == "{'n_components': 3, 'covariance_type': 'tied'}"


def test_figures_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    blocks = _section_code("Figures: `fastem.plot`")
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {})
    for name in ("fit.png", "select.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
