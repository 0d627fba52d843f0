#!/usr/bin/env bash
# Smoke check of the benchmark suite, so it never rots (called from .ci/run):
#   1. `asv check` on the current interpreter: every benchmark module imports and
#      every benchmark is well-formed (builds no environment, runs nothing);
#   2. the comparison script end to end on small sizes, one repeat, one iteration;
#   3. the model-selection comparison on a tiny grid.
# Timings are printed, never asserted.
# Usage: benchmarks/smoke.sh   (PYTHON=/path/to/python to choose the interpreter)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python}"

echo "== asv check (current interpreter)"
"$python" -m asv check --python=same

echo "== fastem bench --quick"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
FASTEM_BENCH_PROFILE=quick "$python" benchmarks/compare.py --quick \
    --markdown-out "$out/bench.md" --json-out "$out/bench.json"
test -s "$out/bench.md"

echo "== bench_select (tiny grid)"
"$python" -m benchmarks.bench_select --n 500 --d 2 --k-true 2 --kmax 2 --repeats 1
echo "benchmark smoke check: ok"
