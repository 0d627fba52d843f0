"""Register-blocked multiply-add tiles, written in LLVM IR.

LLVM vectorises Numba's loops one innermost loop at a time. For a small matrix
product that means either memory-resident partial sums (a load and a store per
multiply-add) or, when the reduction loop is innermost, vectorising that loop
with gathers. The tiles here are what a BLAS micro-kernel would use
instead: float64 vector accumulators (8 to 16) held in registers across the
whole reduction, so that the two FMA units stay busy.

- :func:`squared_tile` (the full family's E-step): ``TILE_COLUMNS`` rows of
  data (2 vectors of 4 lanes, or with AVX-512 4 vectors of 8: 8 or 32 rows)
  against 4 columns of a triangular factor, fed per step by ``VECTORS`` vector
  loads and four broadcasts; the squared distances are added into the
  log-densities straight from the registers. :func:`triangular_tile` (the
  tied family's ``U^T x``) stores the same sums; :func:`difference_tile` (the
  tied family's deviations) subtracts them, without the triangle, from another
  array.
- :func:`product_tile` (the scatters, the tied family's first moments): 2 x 4
  (with AVX-512 4 x 4) sums of products of rows, reduced along the rows with 4
  (8) lanes per accumulator, fed per step by 6 (8) vector loads;
  :func:`symmetric_tile` the lower triangle of a 4 x 4 diagonal block (10
  accumulators, 4 loads).
- :func:`transpose_rows` (every family's block load): 4 x 4 blocks of the data
  transposed in registers.

They are ``@intrinsic``s: their IR goes straight into the calling kernel,
compiled and cached with it.
"""

import os

import numpy as np
from llvmlite import binding, ir
from numba import config, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

_F64 = ir.DoubleType()
_F32 = ir.FloatType()
_V4 = ir.VectorType(_F64, 4)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def vector_width():
    """Float64 lanes of the tiles' vectors: 8 where the CPU has AVX-512, else 4.

    The CPU is the one Numba compiles for (``NUMBA_CPU_NAME`` and
    ``NUMBA_CPU_FEATURES`` if set, else this machine); Numba's cache keeps
    kernels per CPU, so a cached kernel always has this machine's width.
    ``FASTEM_VECTOR_WIDTH=4`` (or ``8``) overrides it.
    """
    wanted = os.environ.get("FASTEM_VECTOR_WIDTH", "").strip()
    if wanted:
        if wanted not in ("4", "8"):
            raise ValueError(f"FASTEM_VECTOR_WIDTH must be 4 or 8, got {wanted!r}.")
        return int(wanted)
    if config.CPU_NAME and config.CPU_NAME != "host":
        features = config.CPU_FEATURES or ""
    else:
        features = config.CPU_FEATURES or binding.get_host_cpu_features().flatten()
    return 8 if "+avx512f" in features.split(",") else 4


#: Lanes per vector (float64) of every tile: 8 with AVX-512, else 4. The row
#: products (:func:`product_tile`, :func:`symmetric_tile`) accumulate ``WIDTH``
#: rows per lane group and read rows that must start on a ``8 * WIDTH``-byte
#: boundary to be fast (the pass's arrays come from :func:`aligned_zeros`).
WIDTH = vector_width()
_VW = ir.VectorType(_F64, WIDTH)
#: The float32 row products' vectors: twice as many lanes, the same bytes.
_VS = ir.VectorType(_F32, 2 * WIDTH)
#: Vectors of data rows per tile step, each multiplied by 4 broadcast factors:
#: 4 x 4 = 16 accumulators where AVX-512 gives 32 vector registers, else 2 x 4
#: = 8 (16 registers). An FMA's latency here is 4-5 cycles and two issue per
#: cycle, so 8 accumulators leave the units idle part of the time: at n=1e6,
#: d=16, k=16, the full pass took 0.89x the time of 2 x 8-wide and 0.92x of
#: 2 x 4-wide (0.84x at d=64, k=32); the tied pass is level.
VECTORS = 4 if WIDTH == 8 else 2
#: Columns of the tile (``VECTORS`` vectors) and rows (broadcast scalars).
TILE_COLUMNS = WIDTH * VECTORS
#: Rows of :func:`product_tile` (against 4): 4 x 4 = 16 accumulators with
#: AVX-512's 32 vector registers, else 2 x 4 = 8.
PRODUCT_ROWS = 4 if WIDTH == 8 else 2
TILE_ROWS = 4


def padded(size):
    """``size`` rounded up to a multiple of the tiles' 4 factor columns."""
    return -(-size // TILE_ROWS) * TILE_ROWS


def column_tiles(matrix, rows=None):
    """Cut a matrix's columns into groups of 4, laid out as the tiles read them.

    Parameters
    ----------
    matrix : ndarray of shape (..., m, d)
    rows : int, default: m
        Rows of the result; the rows past ``m`` are zero.

    Returns
    -------
    ndarray of shape (..., t, rows, 4), C-contiguous
        ``out[..., t, i, jj] = matrix[..., i, 4 t + jj]``, zero past column
        ``d - 1``; ``t`` runs over ``padded(d) / 4`` groups.
    """
    *batch, n_rows, n_columns = matrix.shape
    rows = n_rows if rows is None else rows
    width = padded(n_columns)
    out = np.zeros((*batch, rows, width))
    out[..., :n_rows, :n_columns] = matrix
    out = out.reshape(*batch, rows, width // TILE_ROWS, TILE_ROWS)
    return np.ascontiguousarray(np.swapaxes(out, -3, -2))


def _splat(builder, value):
    """Return a ``WIDTH``-vector of ``value``."""
    first = builder.insert_element(ir.Constant(_VW, ir.Undefined), value, _I32(0))
    mask = ir.Constant(ir.VectorType(_I32, WIDTH), [0] * WIDTH)
    return builder.shuffle_vector(first, ir.Constant(_VW, ir.Undefined), mask)


def _load(builder, pointer, vector=_VW):
    """Load a ``vector`` (unaligned) from a pointer to its element type."""
    return builder.load(builder.bitcast(pointer, vector.as_pointer()), align=8)


def _store(builder, value, pointer):
    """Store a vector (unaligned) at a pointer to its element type."""
    builder.store(value, builder.bitcast(pointer, value.type.as_pointer()), align=8)


def _row_pointer(context, builder, array_type, array, row):
    """Pointer to ``array[row, 0]`` (C-contiguous rows; strides are in bytes)."""
    view = context.make_array(array_type)(context, builder, array)
    stride = cgutils.unpack_tuple(builder, view.strides)[0]
    step = builder.sdiv(stride, _I64(array_type.dtype.bitwidth // 8))
    return builder.gep(view.data, [builder.mul(row, step)]), step


def _c_float64(array, ndim):
    return (
        isinstance(array, types.Array)
        and array.dtype == types.float64
        and array.ndim == ndim
        and array.layout == "C"
    )


def _counted_loop(builder, count, n_values, body, name, vector=_VW):
    """Emit ``for i in range(count)`` carrying ``n_values`` vectors (``WIDTH``).

    The vectors start at zero; ``body(i, values)`` emits one iteration and
    returns the new values. Returns the values after the loop (zeros when
    ``count <= 0``), with the builder placed after it.
    """
    entry = builder.block
    loop = builder.append_basic_block(f"{name}.loop")
    done = builder.append_basic_block(f"{name}.done")
    builder.cbranch(builder.icmp_signed(">", count, _I64(0)), loop, done)
    builder.position_at_end(loop)
    i = builder.phi(_I64)
    i.add_incoming(_I64(0), entry)
    values = []
    for _ in range(n_values):
        phi = builder.phi(vector)
        phi.add_incoming(ir.Constant(vector, [0.0] * vector.count), entry)
        values.append(phi)
    updated = body(i, values)
    end = builder.block
    i_next = builder.add(i, _I64(1))
    i.add_incoming(i_next, end)
    for phi, value in zip(values, updated, strict=True):
        phi.add_incoming(value, end)
    builder.cbranch(builder.icmp_signed("<", i_next, count), loop, done)
    builder.position_at_end(done)
    totals = []
    for value in updated:
        phi = builder.phi(vector)
        phi.add_incoming(ir.Constant(vector, [0.0] * vector.count), entry)
        phi.add_incoming(value, end)
        totals.append(phi)
    return totals


def _tile_sums(context, builder, columns, first, factors, depth, corner=True):
    """Emit the tile's loops; return its sums (``VECTORS j + v``: column ``j``).

    With ``corner``, rows below ``c = 4 floor((depth - 1) / 4)`` multiply all 4
    factor columns and rows ``c .. depth - 1`` are the triangle's corner, where
    row ``c + q`` multiplies only columns ``j >= q``; without it every row
    multiplies all 4. The sums are zero when ``depth <= 0``.

    ``columns`` and ``factors`` are ``(type, value)`` pairs of 2-D arrays.
    """
    column_base, column_step = _row_pointer(context, builder, *columns, _I64(0))
    column_base = builder.gep(column_base, [first])
    factor_base, factor_step = _row_pointer(context, builder, *factors, _I64(0))
    fma = _fma(builder)

    def step(i, sums, skip):
        column = builder.gep(column_base, [builder.mul(i, column_step)])
        loads = [
            _load(builder, builder.gep(column, [_I64(WIDTH * v)]))
            for v in range(VECTORS)
        ]
        factor = builder.gep(factor_base, [builder.mul(i, factor_step)])
        updated = list(sums)
        for j in range(skip, TILE_ROWS):
            u = _splat(builder, builder.load(builder.gep(factor, [_I64(j)])))
            for v in range(VECTORS):
                at = VECTORS * j + v
                updated[at] = builder.call(fma, [loads[v], u, sums[at]])
        return updated

    def merge(pairs):
        """Phi of the sums arriving from each (block, sums) pair."""
        merged = []
        for index in range(VECTORS * TILE_ROWS):
            phi = builder.phi(_VW)
            for block, sums in pairs:
                phi.add_incoming(sums[index], block)
            merged.append(phi)
        return merged

    if corner:
        full_rows = builder.shl(
            builder.ashr(builder.sub(depth, _I64(1)), _I64(2)), _I64(2)
        )
    else:
        full_rows = depth
    sums = _counted_loop(
        builder,
        full_rows,
        VECTORS * TILE_ROWS,
        lambda i, values: step(i, values, 0),
        "tile",
    )
    for q in range(TILE_ROWS if corner else 0):
        row = builder.add(full_rows, _I64(q))
        before = builder.block
        body = builder.append_basic_block(f"tile.corner{q}")
        joined = builder.append_basic_block(f"tile.corner{q}.done")
        inside = builder.and_(
            builder.icmp_signed(">=", row, _I64(0)),
            builder.icmp_signed("<", row, depth),
        )
        builder.cbranch(inside, body, joined)
        builder.position_at_end(body)
        stepped = step(row, sums, q)
        body_end = builder.block
        builder.branch(joined)
        builder.position_at_end(joined)
        sums = merge([(before, sums), (body_end, stepped)])
    return sums


def _check_arguments(name, arrays, integers):
    """Raise a :class:`TypingError` naming what ``name`` takes, unless it fits.

    ``arrays`` maps argument names to ``(type, ndim)``: C-contiguous float64
    arrays of that many dimensions; ``integers`` maps names to types that must
    be int64.
    """
    if not all(_c_float64(array, ndim) for array, ndim in arrays.values()):
        wanted = ", ".join(f"{key} {ndim}-D" for key, (_, ndim) in arrays.items())
        got = ", ".join(str(array) for array, _ in arrays.values())
        raise TypingError(
            f"{name} takes C-contiguous float64 arrays ({wanted}); got {got}"
        )
    if any(value != types.int64 for value in integers.values()):
        got = ", ".join(str(value) for value in integers.values())
        raise TypingError(f"{name} takes int64 {', '.join(integers)}; got {got}")


def _row_vector(name, rows):
    """Return the vector type of a row product's rows: float64 or float32 (``_VS``).

    ``rows`` maps argument names to types: C-contiguous 2-D arrays, all float64
    or all float32; anything else raises a :class:`TypingError` naming them.
    """
    dtypes = {getattr(array, "dtype", None) for array in rows.values()}
    fits = all(
        isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"
        for array in rows.values()
    )
    if fits and dtypes in ({types.float64}, {types.float32}):
        return _VS if dtypes == {types.float32} else _VW
    got = ", ".join(f"{key} {array}" for key, array in rows.items())
    raise TypingError(
        f"{name} takes C-contiguous 2-D arrays {', '.join(rows)}, all float64 or "
        f"all float32; got {got}"
    )


def _tile_sums_of(context, builder, sig, args, corner=True):
    """Return :func:`_tile_sums` for an intrinsic's ``columns, first, factors, depth``.

    They are its first four arguments.
    """
    return _tile_sums(
        context,
        builder,
        (sig.args[0], args[0]),
        args[1],
        (sig.args[2], args[2]),
        args[3],
        corner=corner,
    )


def _row_products(builder, pointers, n_columns, pairs, vector=_VW):
    """Emit ``sum_b row_a[b] row_c[b]`` for each ``(a, c)`` of ``pairs``.

    ``pointers`` point at the rows' first values; ``b`` runs over ``n_columns``
    (a multiple of the lanes of ``vector``) in lanes, one accumulator per pair
    held across the whole loop. Returns the accumulators (zero when
    ``n_columns`` is 0), one per pair, for the caller to sum across lanes
    (:func:`_sum_lanes`, :func:`_sum_single_lanes`). With AVX-512 the
    8-wide lanes pay only on rows that start on 64-byte boundaries: on
    Numba's 32-byte aligned arrays they made the tied pass 4-9% slower; on
    the pass's 64-byte aligned ones (:func:`aligned_zeros`) the full pass took
    0.90x the time at d=16 and 0.85x at d=64, tied 0.95x and 0.92x.
    """
    fma = _fma(builder, vector)
    lanes = vector.count

    def body(step, sums):
        offset = builder.mul(step, _I64(lanes))
        values = [_load(builder, builder.gep(p, [offset]), vector) for p in pointers]
        return [
            builder.call(fma, [values[a], values[c], total])
            for (a, c), total in zip(pairs, sums, strict=True)
        ]

    steps = builder.sdiv(n_columns, _I64(lanes))
    totals = _counted_loop(builder, steps, len(pairs), body, "rows", vector)
    return totals


def _fma(builder, vector=_VW):
    kind = "f32" if vector.element == _F32 else "f64"
    return cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(vector, [vector] * 3),
        f"llvm.fma.v{vector.count}{kind}",
    )


@intrinsic
def squared_tile(typingctx, columns, first, factors, depth, offsets, out):
    """Add ``sum_j (sum_i columns[i, c] factors[i, j] - offsets[j])^2`` into ``out``.

    For the ``T = TILE_COLUMNS`` consecutive columns ``c = first .. first + T - 1``
    of ``columns`` and
    the 4 columns ``j`` of ``factors``, with ``i`` over the first ``depth`` rows
    (none when ``depth <= 0``): ``out[c - first] += ...``. The factors are 4
    columns of an upper-triangular matrix, the first of them column ``4
    floor((depth - 1) / 4)``: ``factors[i, j]`` with ``i > 4 floor((depth - 1) /
    4) + j`` is taken as zero and never read (for a multiple of 4, 6 of the 16
    products of the last 4 rows are skipped; skipping a product with zero
    changes no bit of the sums). Compiled code only. Nothing is
    bounds-checked: the caller guarantees the sizes below.

    Parameters
    ----------
    columns : ndarray of shape (>= depth, >= first + T), float64, C-contiguous
    first : int64
    factors : ndarray of shape (>= depth, 4), float64, C-contiguous
        ``factors[i, j]``.
    depth : int64
    offsets : ndarray of shape (4,), float64, C-contiguous
    out : ndarray of shape (T,), float64, C-contiguous
    """
    _check_arguments(
        "squared_tile",
        {
            "columns": (columns, 2),
            "factors": (factors, 2),
            "offsets": (offsets, 1),
            "out": (out, 1),
        },
        {"first": first, "depth": depth},
    )
    signature = types.void(columns, first, factors, depth, offsets, out)

    def codegen(context, builder, sig, args):
        offsets_v, out_v = args[4:]
        sums = _tile_sums_of(context, builder, sig, args)
        fma = _fma(builder)
        offsets_ptr = context.make_array(sig.args[4])(context, builder, offsets_v).data
        out_ptr = context.make_array(sig.args[5])(context, builder, out_v).data
        places = [builder.gep(out_ptr, [_I64(WIDTH * v)]) for v in range(VECTORS)]
        totals = [_load(builder, place) for place in places]
        for j in range(TILE_ROWS):
            offset = _splat(builder, builder.load(builder.gep(offsets_ptr, [_I64(j)])))
            for v in range(VECTORS):
                y = builder.fsub(sums[VECTORS * j + v], offset)
                totals[v] = builder.call(fma, [y, y, totals[v]])
        for total, place in zip(totals, places, strict=True):
            _store(builder, total, place)
        return context.get_dummy_value()

    return signature, codegen


def _sum_lanes(builder, a, b, c, d):
    """Return ``[sum(a), sum(b), sum(c), sum(d)]`` of four vectors, as a 4-vector.

    Pairwise, in a fixed order: 8 lanes are first folded to 4 (lane ``l`` plus
    lane ``l + 4``), then lanes (0 + 1) + (2 + 3) of each vector.
    """

    def mask(values):
        return ir.Constant(ir.VectorType(_I32, len(values)), values)

    if WIDTH == 8:
        a, b, c, d = (
            builder.fadd(
                builder.shuffle_vector(v, v, mask([0, 1, 2, 3])),
                builder.shuffle_vector(v, v, mask([4, 5, 6, 7])),
            )
            for v in (a, b, c, d)
        )
    ab = builder.fadd(
        builder.shuffle_vector(a, b, mask([0, 4, 2, 6])),
        builder.shuffle_vector(a, b, mask([1, 5, 3, 7])),
    )
    cd = builder.fadd(
        builder.shuffle_vector(c, d, mask([0, 4, 2, 6])),
        builder.shuffle_vector(c, d, mask([1, 5, 3, 7])),
    )
    return builder.fadd(
        builder.shuffle_vector(ab, cd, mask([0, 1, 4, 5])),
        builder.shuffle_vector(ab, cd, mask([2, 3, 6, 7])),
    )


def _sum_single_lanes(builder, a, b, c, d):
    """:func:`_sum_lanes` of four float32 accumulators, as a float64 4-vector.

    Each fold adds the second half of every vector's lanes to its first half,
    in float32 (``log2(2 WIDTH)`` folds, pairs of vectors sharing one vector
    while they fill it); the four sums are then widened exactly. 16 operations
    for four accumulators where widening each first takes 37.
    """

    def fold(x, y, groups, size):
        """Shuffle-add ``groups`` groups of ``size`` lanes to ``size / 2`` each."""
        half = size // 2
        low = [g * size + i for g in range(groups) for i in range(half)]
        high = [g * size + half + i for g in range(groups) for i in range(half)]

        def mask(values):
            return ir.Constant(ir.VectorType(_I32, len(values)), values)

        return builder.fadd(
            builder.shuffle_vector(x, y, mask(low)),
            builder.shuffle_vector(x, y, mask(high)),
        )

    lanes = 2 * WIDTH
    ab = fold(a, b, 2, lanes)  # [a's lanes folded | b's]
    cd = fold(c, d, 2, lanes)
    size = lanes // 2
    total = fold(ab, cd, 4, size)  # four groups of size / 2
    size //= 2
    while size > 1:
        total = fold(total, total, 4, size)
        size //= 2
    return builder.fpext(total, _V4)


@intrinsic
def product_tile(typingctx, left, top, right, first, buffer, at, stride):
    """Add an ``R x 4`` block of row products of two arrays into ``buffer``.

    ``buffer[at + r stride + c] += sum_b left[top + r, b] right[first + c, b]``
    for ``r < R = PRODUCT_ROWS``, ``c = 0 .. 3`` and ``b`` over all
    ``left.shape[1]`` columns. ``4 R`` accumulators (``WIDTH`` columns ``b``
    per lane group) stay in registers across the whole reduction, each step
    loading ``R + 4`` vectors for ``4 R`` fused multiply-adds; the lanes are
    summed once at the end, in a fixed order. Compiled code only. Nothing is
    bounds-checked: the caller guarantees the sizes below.

    Parameters
    ----------
    left : ndarray of shape (>= top + R, m), float64 or float32, C-contiguous
        ``m`` a multiple of ``WIDTH`` (float32: of ``2 WIDTH``, its lanes).
    top : int64
    right : ndarray of shape (>= first + 4, >= m), left's dtype, C-contiguous
    first : int64
    buffer : ndarray of shape (>= at + (R - 1) stride + 4,), float64, C-contiguous
    at, stride : int64
    """
    vector = _row_vector("product_tile", {"left": left, "right": right})
    _check_arguments(
        "product_tile",
        {"buffer": (buffer, 1)},
        {"top": top, "first": first, "at": at, "stride": stride},
    )
    signature = types.void(left, top, right, first, buffer, at, stride)
    n_left = PRODUCT_ROWS

    def codegen(context, builder, sig, args):
        left_v, top_v, right_v, first_v, buffer_v, at_v, stride_v = args
        left_view = context.make_array(sig.args[0])(context, builder, left_v)
        n_columns = cgutils.unpack_tuple(builder, left_view.shape)[1]
        left_base, left_step = _row_pointer(
            context, builder, sig.args[0], left_v, top_v
        )
        right_base, right_step = _row_pointer(
            context, builder, sig.args[2], right_v, first_v
        )
        pointers = [left_base]
        for _ in range(n_left - 1):
            pointers.append(builder.gep(pointers[-1], [left_step]))
        pointers.append(right_base)
        for _ in range(3):
            pointers.append(builder.gep(pointers[-1], [right_step]))
        pairs = [(r, n_left + c) for r in range(n_left) for c in range(4)]
        totals = _row_products(builder, pointers, n_columns, pairs, vector)
        add_lanes = _sum_single_lanes if vector == _VS else _sum_lanes
        out = context.make_array(sig.args[4])(context, builder, buffer_v).data
        for r in range(n_left):
            row_at = builder.add(at_v, builder.mul(_I64(r), stride_v))
            pointer = builder.gep(out, [row_at])
            row = add_lanes(builder, *totals[4 * r : 4 * r + 4])
            _store(builder, builder.fadd(_load(builder, pointer, _V4), row), pointer)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def difference_tile(typingctx, columns, first, factors, depth, base, top, scale, out):
    """Write ``(base - sum_i columns[i] factors[i]) * scale`` for 4 x T entries.

    ``out[top + j, c] = (base[top + j, c] - sum_{i < depth} columns[i, c]
    factors[i, j]) * scale[c]`` for the 4 columns ``j`` of ``factors`` and the
    ``T = TILE_COLUMNS`` consecutive columns ``c = first .. first + T - 1``: a
    small matrix product (the transposed factors times T columns of ``columns``)
    subtracted from
    ``base``, with the same register tile as :func:`squared_tile` but no
    triangle. Compiled code only. Nothing is bounds-checked: the caller
    guarantees the sizes below.

    Parameters
    ----------
    columns : ndarray of shape (>= depth, >= first + T), float64, C-contiguous
    first : int64
    factors : ndarray of shape (>= depth, 4), float64, C-contiguous
    depth : int64
    base, out : ndarray of shape (>= top + 4, >= first + T), float64, C-contiguous
        May be the same array.
    top : int64
    scale : ndarray of shape (>= first + T,), float64, C-contiguous
    """
    _check_arguments(
        "difference_tile",
        {
            "columns": (columns, 2),
            "factors": (factors, 2),
            "base": (base, 2),
            "scale": (scale, 1),
            "out": (out, 2),
        },
        {"first": first, "depth": depth, "top": top},
    )
    signature = types.void(columns, first, factors, depth, base, top, scale, out)

    def codegen(context, builder, sig, args):
        first_v, base_v, top_v, scale_v, out_v = args[1], *args[4:]
        sums = _tile_sums_of(context, builder, sig, args, corner=False)
        base_ptr, base_step = _row_pointer(context, builder, sig.args[4], base_v, top_v)
        out_ptr, out_step = _row_pointer(context, builder, sig.args[7], out_v, top_v)
        base_ptr = builder.gep(base_ptr, [first_v])
        out_ptr = builder.gep(out_ptr, [first_v])
        scale_ptr = context.make_array(sig.args[6])(context, builder, scale_v).data
        scale_ptr = builder.gep(scale_ptr, [first_v])
        scales = [
            _load(builder, builder.gep(scale_ptr, [_I64(WIDTH * v)]))
            for v in range(VECTORS)
        ]
        for j in range(TILE_ROWS):
            row_in = builder.gep(base_ptr, [builder.mul(_I64(j), base_step)])
            row_out = builder.gep(out_ptr, [builder.mul(_I64(j), out_step)])
            for v in range(VECTORS):
                source = builder.gep(row_in, [_I64(WIDTH * v)])
                target = builder.gep(row_out, [_I64(WIDTH * v)])
                value = builder.fsub(_load(builder, source), sums[VECTORS * j + v])
                _store(builder, builder.fmul(value, scales[v]), target)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def triangular_tile(typingctx, columns, first, factors, depth, out, top):
    """Write ``sum_i columns[i, c] factors[i, j]`` for 4 x T entries.

    ``out[top + j, c] = sum_{i < depth} columns[i, c] factors[i, j]`` for the 4
    columns ``j`` of ``factors`` and the ``T = TILE_COLUMNS`` consecutive
    columns ``c = first .. first + T - 1``, with the triangle of
    :func:`squared_tile` (``factors[i, j]`` with ``i > 4 floor((depth - 1) / 4)
    + j`` taken as zero and never read): 4 rows of the product of an
    upper-triangular matrix's transpose with T columns. Compiled code only.
    Nothing is bounds-checked: the caller guarantees the sizes below.

    Parameters
    ----------
    columns : ndarray of shape (>= depth, >= first + T), float64, C-contiguous
    first : int64
    factors : ndarray of shape (>= depth, 4), float64, C-contiguous
    depth : int64
    out : ndarray of shape (>= top + 4, >= first + T), float64, C-contiguous
    top : int64
    """
    _check_arguments(
        "triangular_tile",
        {"columns": (columns, 2), "factors": (factors, 2), "out": (out, 2)},
        {"first": first, "depth": depth, "top": top},
    )
    signature = types.void(columns, first, factors, depth, out, top)

    def codegen(context, builder, sig, args):
        first_v, out_v, top_v = args[1], *args[4:]
        sums = _tile_sums_of(context, builder, sig, args)
        out_ptr, out_step = _row_pointer(context, builder, sig.args[4], out_v, top_v)
        out_ptr = builder.gep(out_ptr, [first_v])
        for j in range(TILE_ROWS):
            row = builder.gep(out_ptr, [builder.mul(_I64(j), out_step)])
            for v in range(VECTORS):
                place = builder.gep(row, [_I64(WIDTH * v)])
                _store(builder, sums[VECTORS * j + v], place)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def symmetric_tile(typingctx, rows, top, buffer, at, stride):
    """Add the lower triangle of a 4 x 4 block of row products into ``buffer``.

    ``buffer[at + a * stride + c] += sum_b rows[top + a, b] rows[top + c, b]``
    for ``c <= a < 4`` (``c > a`` gets ``+0``), ``b`` over all ``rows.shape[1]``
    columns: the diagonal block of a symmetric product, 10 accumulators and 4
    vector loads per step where two :func:`product_tile` calls would spend 16
    and 10. Compiled code only. Nothing is bounds-checked: the caller guarantees
    the sizes below.

    Parameters
    ----------
    rows : ndarray of shape (>= top + 4, m), float64 or float32, C-contiguous
        ``m`` a multiple of ``WIDTH`` (float32: of ``2 WIDTH``, its lanes).
    top : int64
    buffer : ndarray of shape (>= at + 3 stride + 4,), float64, C-contiguous
    at, stride : int64
    """
    vector = _row_vector("symmetric_tile", {"rows": rows})
    _check_arguments(
        "symmetric_tile",
        {"buffer": (buffer, 1)},
        {"top": top, "at": at, "stride": stride},
    )
    signature = types.void(rows, top, buffer, at, stride)
    pairs = [(a, c) for a in range(TILE_ROWS) for c in range(a + 1)]

    def codegen(context, builder, sig, args):
        rows_v, top_v, buffer_v, at_v, stride_v = args
        view = context.make_array(sig.args[0])(context, builder, rows_v)
        n_columns = cgutils.unpack_tuple(builder, view.shape)[1]
        base, step_size = _row_pointer(context, builder, sig.args[0], rows_v, top_v)
        pointers = [base]
        for _ in range(TILE_ROWS - 1):
            pointers.append(builder.gep(pointers[-1], [step_size]))
        sums = _row_products(builder, pointers, n_columns, pairs, vector)
        totals = dict(zip(pairs, sums, strict=True))
        add_lanes = _sum_single_lanes if vector == _VS else _sum_lanes
        zero = ir.Constant(vector, [0.0] * vector.count)
        out = context.make_array(sig.args[2])(context, builder, buffer_v).data
        for a in range(TILE_ROWS):
            lanes = [totals.get((a, c), zero) for c in range(TILE_ROWS)]
            row_at = builder.add(at_v, builder.mul(_I64(a), stride_v))
            pointer = builder.gep(out, [row_at])
            row = add_lanes(builder, *lanes)
            _store(builder, builder.fadd(_load(builder, pointer, _V4), row), pointer)
        return context.get_dummy_value()

    return signature, codegen


def _transpose4(builder, a, b, c, d):
    """Transpose the 4 x 4 matrix whose rows are the 4-vectors ``a .. d``."""

    def mask(values):
        return ir.Constant(ir.VectorType(_I32, 4), values)

    ab_low = builder.shuffle_vector(a, b, mask([0, 4, 2, 6]))
    ab_high = builder.shuffle_vector(a, b, mask([1, 5, 3, 7]))
    cd_low = builder.shuffle_vector(c, d, mask([0, 4, 2, 6]))
    cd_high = builder.shuffle_vector(c, d, mask([1, 5, 3, 7]))
    return [
        builder.shuffle_vector(ab_low, cd_low, mask([0, 1, 4, 5])),
        builder.shuffle_vector(ab_high, cd_high, mask([0, 1, 4, 5])),
        builder.shuffle_vector(ab_low, cd_low, mask([2, 3, 6, 7])),
        builder.shuffle_vector(ab_high, cd_high, mask([2, 3, 6, 7])),
    ]


@intrinsic
def transpose_rows(typingctx, X, row, xt, column):
    """Copy 4 rows of ``X`` into 4 columns of ``xt``, transposed, in float64.

    ``xt[j, column + b] = X[row + b, j]`` for ``b < 4`` and ``j`` below
    ``X.shape[1]`` rounded down to 4, by 4 x 4 blocks: 4 vector loads, 8
    shuffles and 4 vector stores per 16 values, where a loop of scalars does 16
    loads and 16 stores. float32 data is widened exactly. Compiled code only.
    Nothing is bounds-checked: the caller guarantees the sizes below.

    Parameters
    ----------
    X : ndarray of shape (>= row + 4, d), float32 or float64, C-contiguous
    row : int64
    xt : ndarray of shape (>= d, >= column + 4), float64, C-contiguous
    column : int64
    """
    if not (
        isinstance(X, types.Array)
        and X.dtype in (types.float32, types.float64)
        and X.ndim == 2
        and X.layout == "C"
        and _c_float64(xt, 2)
    ):
        raise TypingError(
            "transpose_rows takes a C-contiguous 2-D float32 or float64 X and a "
            f"C-contiguous 2-D float64 xt; got {X}, {xt}"
        )
    if row != types.int64 or column != types.int64:
        raise TypingError(
            f"transpose_rows takes int64 row, column; got {row}, {column}"
        )
    signature = types.void(X, row, xt, column)
    single = X.dtype == types.float32

    def codegen(context, builder, sig, args):
        x_v, row_v, xt_v, column_v = args
        x_view = context.make_array(sig.args[0])(context, builder, x_v)
        n_features = cgutils.unpack_tuple(builder, x_view.shape)[1]
        groups = builder.sdiv(n_features, _I64(4))
        x_strides = cgutils.unpack_tuple(builder, x_view.strides)
        x_step = builder.sdiv(x_strides[0], _I64(4 if single else 8))
        x_base = builder.gep(x_view.data, [builder.mul(row_v, x_step)])
        x_rows = [x_base]
        for _ in range(3):
            x_rows.append(builder.gep(x_rows[-1], [x_step]))
        xt_base, xt_step = _row_pointer(context, builder, sig.args[2], xt_v, _I64(0))
        xt_base = builder.gep(xt_base, [column_v])
        vector = ir.VectorType(ir.FloatType(), 4) if single else _V4

        def body(group, _):
            feature = builder.mul(group, _I64(4))
            values = []
            for pointer in x_rows:
                source = builder.bitcast(
                    builder.gep(pointer, [feature]), vector.as_pointer()
                )
                value = builder.load(source, align=4 if single else 8)
                values.append(builder.fpext(value, _V4) if single else value)
            for j, value in enumerate(_transpose4(builder, *values)):
                target_row = builder.add(feature, _I64(j))
                target = builder.gep(xt_base, [builder.mul(target_row, xt_step)])
                _store(builder, value, target)
            return []

        _counted_loop(builder, groups, 0, body, "transpose")
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def aligned_zeros(typingctx, rows, columns):
    """Return a new ``(rows, columns)`` float64 C array of zeros, 64-byte aligned.

    ``np.zeros`` in compiled code aligns to 32 bytes, where an 8-wide load
    straddles two cache lines half the time. Its strides are computed from
    the shape as ``np.zeros`` computes them, so a constant ``columns`` gives
    the compiler constant strides. Compiled code only.
    """
    if rows != types.int64 or columns != types.int64:
        raise TypingError(
            f"aligned_zeros takes int64 rows, columns; got {rows}, {columns}"
        )
    array_type = types.Array(types.float64, 2, "C")
    signature = array_type(rows, columns)

    def codegen(context, builder, sig, args):
        from numba.np.arrayobj import populate_array

        rows_v, columns_v = args
        itemsize = _I64(8)
        row_bytes = builder.mul(columns_v, itemsize)
        size = builder.mul(rows_v, row_bytes)
        meminfo = context.nrt.meminfo_alloc_aligned(builder, size, 64)
        data = context.nrt.meminfo_data(builder, meminfo)
        cgutils.memset(builder, data, size, 0)
        array = context.make_array(array_type)(context, builder)
        populate_array(
            array,
            data=builder.bitcast(data, array.data.type),
            shape=cgutils.pack_array(builder, [rows_v, columns_v]),
            strides=cgutils.pack_array(builder, [row_bytes, itemsize]),
            itemsize=itemsize,
            meminfo=meminfo,
        )
        return array._getvalue()

    return signature, codegen


def _add_string_attribute(function, key, value):
    """Add the string attribute ``"key"="value"`` to an llvmlite function.

    llvmlite's ``FunctionAttributes.add`` takes only LLVM's enum attributes;
    the set it derives from emits each member verbatim in the function's
    definition. Should a later llvmlite keep its attributes otherwise, the
    attribute is left out (the loops stay at LLVM's default width) rather than
    the compile failing; ``test_prefer_wide_vectors_gives_loops_the_tiles_width``
    then fails.
    """
    if isinstance(function.attributes, set):
        set.add(function.attributes, f'"{key}"="{value}"')


@intrinsic
def prefer_wide_vectors(typingctx):
    """Let LLVM vectorise the calling function's loops ``WIDTH`` lanes wide.

    LLVM's tuning for Intel's AVX-512 cores prefers 256-bit vectors in the
    loops it vectorises itself (the register tiles above choose their own
    width). The attribute ``"prefer-vector-width"`` of the function being
    compiled lifts that to ``64 WIDTH`` bits (512 with AVX-512; 256, the
    default, without). Call it once, at the top of the function; it emits no
    code. Compiled code only.
    """
    width = str(64 * WIDTH)

    def codegen(context, builder, sig, args):
        _add_string_attribute(builder.function, "prefer-vector-width", width)
        return context.get_dummy_value()

    return types.void(), codegen
