"""The README's kernel-layer example runs and asserts what it claims."""

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
