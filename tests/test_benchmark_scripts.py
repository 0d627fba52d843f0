"""The one-question benchmark scripts refuse bad options before measuring."""

import subprocess
import sys
from pathlib import Path

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
