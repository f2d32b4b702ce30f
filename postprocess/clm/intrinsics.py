"""LLVM intrinsics for the CLM kernels: software prefetch of an array row, bit casts of a double, a
branch-free select, and unsigned indices.

* :func:`prefetch_row` (``llvm.prefetch``): on a 10^6-ES lattice the per-ES records do not fit in
  cache; an address known early (the selected ES, the next candidate row) is prefetched so that
  its load overlaps other work instead of stalling later.  A hint only: no effect on results.
* :func:`float_bits`: the IEEE-754 bit pattern of a float64 as an int64 (a bit cast, no
  conversion).  For x > 0 it is monotone in x, so ``bits >> (52 − m)`` is a logarithmic cell index
  (exponent and the top m mantissa bits) that :mod:`.log_bins` turns into a log-histogram bin
  without calling ``log``; :func:`bits_float` is its inverse (used by :mod:`.fast_exp`).

* :func:`cmov`: ``a if cond else b`` as an LLVM ``select`` marked ``!unpredictable``, which the
  x86 back end keeps as a conditional move.  Without the mark LLVM turns a select whose operand is
  a load (the alias-table draw: ``k`` or ``alias[k]``) into a branch, which a random ``cond``
  mispredicts (measured: 7.0 vs 3.8 ns per alias draw).

:func:`aligned_zeros` allocates arrays whose rows of 32 bytes never straddle two cache lines, so
that one prefetch brings a whole row (numpy only guarantees 16-byte alignment).

:data:`U` (``np.uint64``) marks an array index that is never negative: numba then skips the
wrap-around of negative indices (a shift, an and and an add per access with a signed index).  Only
at the index (``a[U(i), c]``): numba's arithmetic of uint64 with int64 is float64.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

U = np.uint64


def _prefetch_codegen(write):
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        row_ = context.cast(builder, args[1], signature.args[1], types.intp)
        index = [row_] + [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer2(context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
                                        cgutils.unpack_tuple(builder, ary.strides), aryty.layout, index)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(int(write)), i32(3), i32(1)])   # rw, keep, data
        return context.get_dummy_value()
    return codegen


@intrinsic
def prefetch_row(typingctx, arr, row):
    """Prefetch, for writing, the cache line holding ``arr[row, 0]`` (1-D: ``arr[row]``; no bounds check)."""
    return types.void(arr, row), _prefetch_codegen(True)


@intrinsic
def prefetch_row_read(typingctx, arr, row):
    """Prefetch, for reading, the cache line holding ``arr[row, 0]`` (1-D: ``arr[row]``)."""
    return types.void(arr, row), _prefetch_codegen(False)


@intrinsic
def float_bits(typingctx, x):
    """The bit pattern of the float64 ``x`` as an int64."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def bits_float(typingctx, x):
    """The float64 whose bit pattern is the int64 ``x`` (inverse of :func:`float_bits`)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def cmov(typingctx, cond, a, b):
    """``a if cond else b`` without a branch (``a`` and ``b`` of the same type)."""
    if a != b or not isinstance(cond, types.Boolean):
        return None

    def codegen(context, builder, signature, args):
        inst = builder.select(args[0], args[1], args[2])
        inst.set_metadata("unpredictable", builder.module.add_metadata([]))
        return inst

    return a(cond, a, b), codegen


def aligned_zeros(shape, dtype=np.float64, align: int = 64) -> np.ndarray:
    """A zeroed C-contiguous array whose data starts on an ``align``-byte boundary."""
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(n_bytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + n_bytes].view(dtype).reshape(shape)
