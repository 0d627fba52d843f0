"""The one-question benchmark scripts refuse bad options before measuring."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["small_sizes", "--iterations", "0"], "--iterations and --repeats"),
        (["small_sizes", "--repeats", "-1"], "--iterations and --repeats"),
        (["small_sizes", "--iterations", "many"], "invalid int value"),
        (["cold_start", "--kinds", "full,bogus"], "--kinds: unknown bogus"),
        (["pass_stages", "--kinds", "spherical"], "--kinds: unknown spherical"),
        (["pass_stages", "--d", "0"], "--d, --k and --rows must be at least 1"),
        (["pass_stages", "--ghz", "0"], "--ghz positive"),
        (["pass_stages", "--dtype", "float16"], "invalid choice"),
        (["float32_speedup", "--cases", "full:1e3:4"], "expected kind:n:d:k"),
        (["float32_speedup", "--cases", "banana:1e3:4:2"], "expected kind:n:d:k"),
        (["float32_speedup", "--cases", "full:0:4:2"], "expected kind:n:d:k"),
        (["float32_speedup", "--repeats", "0"], "--repeats must be at least 1"),
        (["float32_speedup", "--spread", "-1"], "--spread at least 0"),
        (["machine_bounds", "--rows", "9"], "unrecognized arguments"),
    ],
)
def test_bad_options_are_refused_with_a_message(arguments, message):
    script, *options = arguments
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script}", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_pass_stages_prints_the_fma_bound_and_each_stage_share_of_it():
    from benchmarks.pass_stages import multiply_adds

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pass_stages"]
        + ["--kinds", "full,tied,diag", "--d", "3", "--k", "2", "--rows", "2000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first, *lines = done.stdout.splitlines()
    bound = float(first.split("FMA bound: ")[1].split()[0])
    assert bound > 0
    assert len(lines) == 12
    for line in lines:
        kind, stage = line.split()[0], line.split()[4].rstrip(":")
        ns = float(line.split("(")[1].split()[0])
        if kind == "diag" or stage == "exp":
            assert "GFLOP/s" not in line
            continue
        density, statistics = multiply_adds(kind, 3, 2)
        flops = {"density": density, "statistics": statistics}.get(
            stage, density + statistics
        )
        rate = float(line.split(", ")[1].split()[0])
        share = float(line.split("(")[2].split("%")[0])
        # the printed rate is 2 FLOPs per multiply-add over the printed time
        assert rate == pytest.approx(2 * flops / ns, rel=0.01, abs=0.06)
        assert share == pytest.approx(100 * rate / bound, abs=1.0)


def test_pass_stages_gives_float32_hooks_no_share_of_the_float64_bound():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pass_stages"]
        + ["--kinds", "full", "--d", "8", "--k", "2", "--rows", "2000"]
        + ["--dtype", "float32"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FMA bound: ")
    assert len(lines) == 5
    assert all("float32" in line and "GFLOP/s" not in line for line in lines[1:])


def test_machine_bounds_loops_compute_the_products_they_are_timed_for():
    from benchmarks import machine_bounds as bounds
    from fastem._kernels._tile import WIDTH

    steps, value = 1000, 0.25
    chains = bounds._run_chains(steps, value)
    assert chains == pytest.approx(bounds.CHAINS * steps * value * (value + 1))

    b = np.arange(bounds.KERNEL_DEPTH)[:, None]
    c = np.arange(bounds.KERNEL_VECTORS * WIDTH)[None, :]
    rows = 1e-3 * (b - c)
    broadcast = rows[:, : bounds.KERNEL_ROWS]  # one scalar per accumulator row
    lane_zero = rows[:, ::WIDTH]  # lane 0 of each vector of columns
    expected = 3 * (broadcast.T @ lane_zero).sum()
    assert bounds._run_micro_kernel(3) == pytest.approx(expected, rel=1e-12)
