"""Print this core's float64 FMA bound and a register-blocked kernel's rate.

Two loops compiled as fastem's tiles are (LLVM IR through Numba intrinsics, the
tiles' vector width), each the best of 5 runs of about 0.1 s on one thread:

- **FMA bound**: :data:`CHAINS` independent vector FMAs per step, nothing
  loaded or stored: the rate no kernel can pass.
- **Micro-kernel**: what a register-blocked product of the tiles' kind reaches
  with its operands in L1, a bound for them in practice. The block of a matrix
  product ``C += A^T B`` a BLAS micro-kernel computes: 8 rows of ``C`` by 3
  vectors of columns (24 accumulators held in registers), each step of the
  reduction loading 3 vectors and broadcasting 8 scalars from one row of a
  64-row array (the reduction runs over its rows: 12 KiB with AVX-512). Its
  FLOPs are all useful ones; the pass's tiles add horizontal sums, triangle
  corners and the loads of operands from L2. With AVX-512, 4 x 6 and 12 x 2
  measured the same as 8 x 3 (83-86% of the FMA bound in that hour; 8 x 3
  83-92% over a day), 8 x 2 (16 accumulators) 82%, 8 x 1 71%.

Usage::

    python -m benchmarks.machine_bounds
"""

import argparse
import time

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from fastem._kernels._tile import (
    _I32,
    _I64,
    WIDTH,
    _counted_loop,
    _fma,
    _load,
    _row_pointer,
    _splat,
    aligned_zeros,
)

#: Independent FMA chains of the bound's loop: an FMA's latency here is 4-5
#: cycles and two issue per cycle, so 8 chains leave the units idle part of the
#: time; 16 fill them (24 measured the same).
CHAINS = 16
#: The micro-kernel's broadcast rows and vectors of columns (24 accumulators).
KERNEL_ROWS, KERNEL_VECTORS = 8, 3
#: Rows of the micro-kernel's array (its reduction's length).
KERNEL_DEPTH = 64


def _sum_to_scalar(builder, vectors):
    total = vectors[0]
    for vector in vectors[1:]:
        total = builder.fadd(total, vector)
    return builder.extract_element(total, _I32(0))


@intrinsic
def _fma_chains(typingctx, steps, value):
    """Run ``steps`` steps of :data:`CHAINS` FMAs; return a lane of their sum."""

    def codegen(context, builder, signature, args):
        steps_v, value_v = args
        fma = _fma(builder)
        a = _splat(builder, value_v)
        b = _splat(builder, builder.fadd(value_v, ir.Constant(value_v.type, 1.0)))
        sums = _counted_loop(
            builder,
            steps_v,
            CHAINS,
            lambda i, chains: [builder.call(fma, [a, b, c]) for c in chains],
            "chains",
        )
        return _sum_to_scalar(builder, sums)

    return types.float64(types.int64, types.float64), codegen


@intrinsic
def _micro_kernel(typingctx, rows):
    """One reduction over ``rows``' rows; return a lane of the sums' total."""

    def codegen(context, builder, signature, args):
        (rows_v,) = args
        depth = context.get_constant(types.int64, KERNEL_DEPTH)
        base, step = _row_pointer(context, builder, signature.args[0], rows_v, _I64(0))
        fma = _fma(builder)

        def body(b, sums):
            row = builder.gep(base, [builder.mul(b, step)])
            vectors = [
                _load(builder, builder.gep(row, [_I64(WIDTH * v)]))
                for v in range(KERNEL_VECTORS)
            ]
            updated = list(sums)
            for r in range(KERNEL_ROWS):
                scalar = _splat(builder, builder.load(builder.gep(row, [_I64(r)])))
                for v, vector in enumerate(vectors):
                    at = r * KERNEL_VECTORS + v
                    updated[at] = builder.call(fma, [scalar, vector, sums[at]])
            return updated

        sums = _counted_loop(builder, depth, KERNEL_ROWS * KERNEL_VECTORS, body, "mk")
        return _sum_to_scalar(builder, sums)

    return types.float64(rows), codegen


@njit(cache=False)
def _run_chains(steps, value):
    return _fma_chains(steps, value)


@njit(cache=False)
def _run_micro_kernel(repeats):
    rows = aligned_zeros(KERNEL_DEPTH, KERNEL_VECTORS * WIDTH)
    for b in range(KERNEL_DEPTH):
        for c in range(KERNEL_VECTORS * WIDTH):
            rows[b, c] = 1e-3 * (b - c)
    total = 0.0
    for _ in range(repeats):
        total += _micro_kernel(rows)
    return total


def _best_seconds(function, *args):
    times = []
    for _ in range(5):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def fma_bound():
    """Return one core's float64 FMA rate, in GFLOP/s (an FMA is 2 FLOPs)."""
    steps = 10_000_000
    _run_chains(10, 1e-9)
    seconds = _best_seconds(_run_chains, steps, 1e-9)
    return steps * CHAINS * WIDTH * 2 / seconds / 1e9


def micro_kernel_rate():
    """Return the micro-kernel's rate on one core, in GFLOP/s."""
    repeats = 200_000
    _run_micro_kernel(1)
    seconds = _best_seconds(_run_micro_kernel, repeats)
    flops = repeats * KERNEL_DEPTH * KERNEL_ROWS * KERNEL_VECTORS * WIDTH * 2
    return flops / seconds / 1e9


def main(argv=None):
    """Print the two rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    bound = fma_bound()
    print(f"FMA bound: {bound:.1f} GFLOP/s on one core ({WIDTH}-wide FMAs)")
    rate = micro_kernel_rate()
    print(
        f"micro-kernel ({KERNEL_ROWS} x {KERNEL_VECTORS} vectors, operands in L1): "
        f"{rate:.1f} GFLOP/s ({100 * rate / bound:.0f}% of the bound)"
    )


if __name__ == "__main__":
    main()
