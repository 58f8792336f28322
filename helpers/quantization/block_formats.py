"""GGUF block quantization, written to be read: one function per format and direction.

A GGUF tensor of a quantized type is a sequence of fixed-size *blocks*. Each block holds
``weights_per_block`` weights as small integers plus the few floats (scales, minimums) needed to
turn them back into numbers. The layouts below are llama.cpp's ``block_*`` structs from
``ggml-common.h``; byte offsets are from the start of a block, all numbers little-endian.

The quantizers follow llama.cpp's reference C code (``quantize_row_*_ref`` in ``ggml-quants.c``)
operation by operation in float32, so their bytes are identical to what ``llama-quantize``
writes without an importance matrix; the dequantizers match ``gguf.quants.dequantize`` bit for
bit. Arithmetic order matters for that: sums run element by element, in the C loop's order.

Every function works on many blocks at once: input floats of shape ``(..., n)`` with ``n`` a
multiple of the block size; output bytes of shape ``(..., n // weights_per_block * bytes_per_block)``
(``uint8``), the same shapes ``gguf.quants`` uses.
"""
from dataclasses import dataclass

import numpy as np

QK = 32  # weights per block of the "legacy" formats Q4_0 ... Q8_0
QK_K = 256  # weights per super-block of the K-quants
GROUP_MAX_EPS = np.float32(1e-15)  # ggml treats a group whose largest |x| is below this as all zeros


@dataclass(frozen=True)
class Field:
    """One field of a block: name, byte offset, size in bytes, and what it holds."""

    name: str
    offset: int
    nbytes: int
    meaning: str


@dataclass(frozen=True)
class BlockLayout:
    """The byte layout of one block of a GGUF quantization type."""

    name: str
    weights_per_block: int
    fields: tuple

    @property
    def bytes_per_block(self) -> int:
        return sum(f.nbytes for f in self.fields)

    @property
    def bits_per_weight(self) -> float:
        """Storage bits per weight, scales included: 8 * bytes_per_block / weights_per_block."""
        return 8 * self.bytes_per_block / self.weights_per_block


def _layout(name, weights, *fields):
    offset, out = 0, []
    for field_name, nbytes, meaning in fields:
        out.append(Field(field_name, offset, nbytes, meaning))
        offset += nbytes
    return BlockLayout(name, weights, tuple(out))


LAYOUTS = {
    "Q8_0": _layout("Q8_0", QK, ("d", 2, "f16 scale"), ("qs", 32, "int8 quants, x = d*q")),
    "Q4_0": _layout("Q4_0", QK, ("d", 2, "f16 scale"),
                    ("qs", 16, "4-bit quants q in 0..15, x = d*(q-8); byte j: weight j (low nibble), j+16 (high)")),
    "Q4_1": _layout("Q4_1", QK, ("d", 2, "f16 scale"), ("m", 2, "f16 minimum"),
                    ("qs", 16, "4-bit quants, x = d*q + m; nibbles as Q4_0")),
    "Q5_0": _layout("Q5_0", QK, ("d", 2, "f16 scale"), ("qh", 4, "fifth bit of each quant, bit j = weight j"),
                    ("qs", 16, "low 4 bits, nibbles as Q4_0; x = d*(q-16)")),
    "Q5_1": _layout("Q5_1", QK, ("d", 2, "f16 scale"), ("m", 2, "f16 minimum"),
                    ("qh", 4, "fifth bit of each quant"), ("qs", 16, "low 4 bits; x = d*q + m")),
    "Q2_K": _layout("Q2_K", QK_K, ("scales", 16, "per 16 weights: 4-bit scale (low) and 4-bit min (high)"),
                    ("qs", 64, "2-bit quants, 4 per byte"), ("d", 2, "f16 super-block scale of the scales"),
                    ("dmin", 2, "f16 super-block scale of the mins")),
    "Q3_K": _layout("Q3_K", QK_K, ("hmask", 32, "third (high) bit of each quant"),
                    ("qs", 64, "low 2 bits of the quants, 4 per byte"),
                    ("scales", 12, "16 six-bit signed scales, packed"), ("d", 2, "f16 super-block scale")),
    "Q4_K": _layout("Q4_K", QK_K, ("d", 2, "f16 super-block scale of the scales"),
                    ("dmin", 2, "f16 super-block scale of the mins"),
                    ("scales", 12, "8 scales and 8 mins of 6 bits each, packed"),
                    ("qs", 128, "4-bit quants; x = d*sc*q - dmin*m per 32 weights")),
    "Q5_K": _layout("Q5_K", QK_K, ("d", 2, "f16 super-block scale of the scales"),
                    ("dmin", 2, "f16 super-block scale of the mins"),
                    ("scales", 12, "8 scales and 8 mins of 6 bits each, packed as Q4_K"),
                    ("qh", 32, "fifth bit of each quant"), ("qs", 128, "low 4 bits")),
    "Q6_K": _layout("Q6_K", QK_K, ("ql", 128, "low 4 bits of the quants"), ("qh", 64, "high 2 bits of the quants"),
                    ("scales", 16, "int8 scale per 16 weights"),
                    ("d", 2, "f16 super-block scale; x = d*scale*(q-32)")),
    "MXFP4": _layout("MXFP4", QK, ("e", 1, "E8M0 shared scale: a power of two, 2**(e-127)"),
                     ("qs", 16, "4-bit E2M1 codes (sign, 2 exponent bits, 1 mantissa bit); nibbles as Q4_0")),
}
FORMATS = tuple(LAYOUTS)


def check_format(name: str) -> BlockLayout:
    """The layout of ``name``, or a ValueError listing the formats this module implements."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown quantization format {name!r}; this module implements {', '.join(FORMATS)}")
    return LAYOUTS[name]


# ----------------------------------------------------------------------------- shared pieces

def _as_blocks(x, weights_per_block: int) -> np.ndarray:
    """Float32 copy of ``x`` as rows of one block each; refuses bad shapes and non-finite values."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0 or x.shape[-1] % weights_per_block != 0:
        raise ValueError(f"the last dimension must be a multiple of {weights_per_block}, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize NaN or infinite values")
    return x.reshape(-1, weights_per_block)


def _as_byte_blocks(data, layout: BlockLayout) -> np.ndarray:
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim == 0 or data.shape[-1] % layout.bytes_per_block != 0:
        raise ValueError(f"{layout.name} data must be uint8 with a last dimension that is a multiple of "
                         f"{layout.bytes_per_block} bytes, got {data.dtype} {data.shape}")
    return data.reshape(-1, layout.bytes_per_block)


def _out_shape(shape, layout: BlockLayout, *, to_bytes: bool) -> tuple:
    n = shape[-1]
    if to_bytes:
        return (*shape[:-1], n // layout.weights_per_block * layout.bytes_per_block)
    return (*shape[:-1], n // layout.bytes_per_block * layout.weights_per_block)


def _f16_bytes(values) -> np.ndarray:
    """float32 values (n,) -> their IEEE half-precision bytes (n, 2), rounded to nearest even."""
    return np.asarray(values, dtype=np.float32).astype(np.float16).reshape(-1, 1).view(np.uint8)


def _f16_values(two_bytes) -> np.ndarray:
    """(n, 2) bytes -> (n, 1) float32 values of the half-precision numbers they hold."""
    return np.ascontiguousarray(two_bytes).view(np.float16).astype(np.float32)


def _nearest_int(v) -> np.ndarray:
    """ggml's ``nearest_int``: round float32 to the nearest integer, ties to even."""
    return np.rint(v).astype(np.int32)


def _round_half_away(v) -> np.ndarray:
    """C's ``roundf``: ties away from zero (computed exactly: no ``+ 0.5`` rounding trap)."""
    a = np.abs(v)
    whole = np.floor(a)
    return np.sign(v) * (whole + np.floor(2 * (a - whole)))


def _c_small_int(v) -> np.ndarray:
    """Float -> integer the way the C code's ``(int8_t)`` casts do on x86: inf and NaN become 0.

    They only occur when a block's scale is a float32 subnormal and ``1/d`` overflows to inf
    (weights near 1e-38); x86's conversion gives INT_MIN there, whose low byte is 0.
    """
    return np.where(np.isfinite(v), v, 0).astype(np.int32)


def _inverse(d) -> np.ndarray:
    """``d ? 1/d : 0`` in float32."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)


def _pack_nibbles(low, high) -> np.ndarray:
    return (low.astype(np.uint8) & 0x0F) | (high.astype(np.uint8) << 4)


def _signed_max(blocks) -> np.ndarray:
    """Per row, the value with the largest magnitude (the first one on ties), sign kept."""
    return np.take_along_axis(blocks, np.abs(blocks).argmax(axis=-1)[:, None], axis=-1)


def _running_sum(terms) -> np.ndarray:
    """Sum along the last axis one element at a time in float32, like a C ``for`` loop does."""
    total = np.zeros(terms.shape[:-1], np.float32)
    for i in range(terms.shape[-1]):
        total = total + terms[..., i]
    return total


# ----------------------------------------------------------------------------- Q8_0

def quantize_q8_0(x) -> np.ndarray:
    """Q8_0, 34 bytes per 32 weights (8.5 bits/weight).

    Block: ``d`` f16 at byte 0, ``qs`` int8[32] at bytes 2..33. ``d = max|x| / 127``,
    ``q = round(x / d)`` (ties away from zero), so the largest weight maps to +-127.
    """
    blocks = _as_blocks(x, QK)
    d = np.abs(blocks).max(axis=-1, keepdims=True) / np.float32(127)
    q = _c_small_int(_round_half_away(blocks * _inverse(d))).astype(np.int8)
    out = np.concatenate([_f16_bytes(d), q.view(np.uint8)], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q8_0"], to_bytes=True))


def dequantize_q8_0(data) -> np.ndarray:
    """Q8_0 bytes -> float32: ``x = d * q``."""
    layout = LAYOUTS["Q8_0"]
    b = _as_byte_blocks(data, layout)
    d = _f16_values(b[:, 0:2])
    q = b[:, 2:34].view(np.int8).astype(np.float32)
    return (q * d).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- Q4_0, Q4_1

def quantize_q4_0(x) -> np.ndarray:
    """Q4_0, 18 bytes per 32 weights (4.5 bits/weight), symmetric.

    Block: ``d`` f16 at byte 0, ``qs`` uint8[16] at bytes 2..17; byte ``j`` holds weight ``j`` in
    its low nibble and weight ``j+16`` in its high nibble. ``d = max / -8`` where ``max`` is the
    weight of largest magnitude *with its sign*, so that weight lands exactly on q = 0 (value -8*d)
    and the 16 levels -8..7 are used without waste. ``q = min(15, trunc(x/d + 8.5))``.
    """
    blocks = _as_blocks(x, QK)
    d = _signed_max(blocks) / np.float32(-8)
    q = np.minimum(15, _c_small_int(np.trunc(blocks * _inverse(d) + np.float32(8.5)))).astype(np.uint8)
    qs = _pack_nibbles(q[:, :16], q[:, 16:])
    out = np.concatenate([_f16_bytes(d), qs], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q4_0"], to_bytes=True))


def _unpack_nibbles(qs) -> np.ndarray:
    """(n, 16) bytes -> (n, 32) values: low nibbles are weights 0..15, high nibbles 16..31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def dequantize_q4_0(data) -> np.ndarray:
    """Q4_0 bytes -> float32: ``x = d * (q - 8)``."""
    layout = LAYOUTS["Q4_0"]
    b = _as_byte_blocks(data, layout)
    d = _f16_values(b[:, 0:2])
    q = _unpack_nibbles(b[:, 2:18]).astype(np.int8) - np.int8(8)
    return (d * q.astype(np.float32)).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


def quantize_q4_1(x) -> np.ndarray:
    """Q4_1, 20 bytes per 32 weights (5.0 bits/weight), asymmetric (scale and minimum).

    Block: ``d`` f16 at byte 0, ``m`` f16 at byte 2, ``qs`` uint8[16] at bytes 4..19 (nibbles as
    Q4_0). ``m = min(x)``, ``d = (max - min) / 15``, ``q = min(15, trunc((x - m)/d + 0.5))``.
    """
    blocks = _as_blocks(x, QK)
    lo = blocks.min(axis=-1, keepdims=True)
    hi = blocks.max(axis=-1, keepdims=True)
    d = (hi - lo) / np.float32(15)
    q = np.minimum(15, _c_small_int(np.trunc((blocks - lo) * _inverse(d) + np.float32(0.5)))).astype(np.uint8)
    out = np.concatenate([_f16_bytes(d), _f16_bytes(lo), _pack_nibbles(q[:, :16], q[:, 16:])], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q4_1"], to_bytes=True))


def q4_1_fields(data):
    """Q4_1 bytes -> the fields of every block: ``d`` (n, 1), ``m`` (n, 1) float32 and levels ``q`` (n, 32) uint8."""
    b = _as_byte_blocks(data, LAYOUTS["Q4_1"])
    return _f16_values(b[:, 0:2]), _f16_values(b[:, 2:4]), _unpack_nibbles(b[:, 4:20])


def dequantize_q4_1(data) -> np.ndarray:
    """Q4_1 bytes -> float32: ``x = d * q + m``."""
    d, m, q = q4_1_fields(data)
    return (d * q.astype(np.float32) + m).reshape(_out_shape(np.shape(data), LAYOUTS["Q4_1"], to_bytes=False))


# ----------------------------------------------------------------------------- Q5_0, Q5_1

def _split_fifth_bit(q):
    """5-bit quants (n, 32) -> (qh (n, 4) bytes: bit j = bit 4 of weight j, qs (n, 16) low nibbles)."""
    qh = np.packbits((q >> 4) & 1, axis=-1, bitorder="little")
    return qh, _pack_nibbles(q[:, :16], q[:, 16:])


def _join_fifth_bit(qh, qs) -> np.ndarray:
    high = np.unpackbits(np.ascontiguousarray(qh), axis=-1, bitorder="little")
    return _unpack_nibbles(qs) | (high << 4)


def quantize_q5_0(x) -> np.ndarray:
    """Q5_0, 22 bytes per 32 weights (5.5 bits/weight), symmetric.

    Block: ``d`` f16 at byte 0, ``qh`` uint32 at bytes 2..5 (bit j = fifth bit of weight j),
    ``qs`` uint8[16] at bytes 6..21 (low 4 bits, nibbles as Q4_0).
    ``d = max / -16``, ``q = min(31, trunc(x/d + 16.5))``.
    """
    blocks = _as_blocks(x, QK)
    d = _signed_max(blocks) / np.float32(-16)
    q = np.minimum(31, _c_small_int(np.trunc(blocks * _inverse(d) + np.float32(16.5)))).astype(np.uint8)
    qh, qs = _split_fifth_bit(q)
    out = np.concatenate([_f16_bytes(d), qh, qs], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q5_0"], to_bytes=True))


def dequantize_q5_0(data) -> np.ndarray:
    """Q5_0 bytes -> float32: ``x = d * (q - 16)``."""
    layout = LAYOUTS["Q5_0"]
    b = _as_byte_blocks(data, layout)
    d = _f16_values(b[:, 0:2])
    q = _join_fifth_bit(b[:, 2:6], b[:, 6:22]).astype(np.int8) - np.int8(16)
    return (d * q.astype(np.float32)).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


def quantize_q5_1(x) -> np.ndarray:
    """Q5_1, 24 bytes per 32 weights (6.0 bits/weight), asymmetric.

    Block: ``d`` f16 at byte 0, ``m`` f16 at byte 2, ``qh`` uint32 at bytes 4..7, ``qs``
    uint8[16] at bytes 8..23. ``d = (max - min) / 31``, ``q = min(31, trunc((x - m)/d + 0.5))``.
    """
    blocks = _as_blocks(x, QK)
    lo = blocks.min(axis=-1, keepdims=True)
    hi = blocks.max(axis=-1, keepdims=True)
    d = (hi - lo) / np.float32(31)
    q = np.minimum(31, _c_small_int(np.trunc((blocks - lo) * _inverse(d) + np.float32(0.5)))).astype(np.uint8)
    qh, qs = _split_fifth_bit(q)
    out = np.concatenate([_f16_bytes(d), _f16_bytes(lo), qh, qs], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q5_1"], to_bytes=True))


def dequantize_q5_1(data) -> np.ndarray:
    """Q5_1 bytes -> float32: ``x = d * q + m``."""
    layout = LAYOUTS["Q5_1"]
    b = _as_byte_blocks(data, layout)
    d, m = _f16_values(b[:, 0:2]), _f16_values(b[:, 2:4])
    q = _join_fifth_bit(b[:, 4:8], b[:, 8:24]).astype(np.float32)
    return (d * q + m).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- K-quant searches

def make_qkx2_quants(x, weights, nmax: int, rmin: float, rdelta: float, nstep: int, use_mad: bool):
    """ggml's ``make_qkx2_quants`` for many groups at once: the best (scale, min) pair per group.

    ``x``, ``weights``: (groups, n) float32. Quantizes ``x ~ scale * L + min`` with ``L`` in
    ``0..nmax`` and ``min <= 0``: starts from the min/max grid, then tries ``nstep + 1`` slightly
    different grids (``nmax + rmin + rdelta*i`` levels across the range), fits scale and min by
    weighted least squares for each, and keeps the one with the smallest weighted error
    (absolute if ``use_mad`` else squared). Returns ``(scale, -min, L)``.
    """
    f32 = np.float32
    groups, n = x.shape
    lo, hi = x[:, 0].copy(), x[:, 0].copy()
    sum_w = weights[:, 0].copy()
    sum_x = sum_w * x[:, 0]
    for i in range(1, n):
        lo = np.where(x[:, i] < lo, x[:, i], lo)
        hi = np.where(x[:, i] > hi, x[:, i], hi)
        sum_w = sum_w + weights[:, i]
        sum_x = sum_x + weights[:, i] * x[:, i]
    lo = np.where(lo > 0, f32(0), lo)
    flat = hi == lo
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = f32(nmax) / (hi - lo)  # flat groups give inf here; they are answered at the end
        scale = f32(1) / iscale

    def grid(inverse_scale, minimum):
        with np.errstate(invalid="ignore"):
            v = inverse_scale[:, None] * (x - minimum[:, None])
        return np.clip(_nearest_int(np.where(flat[:, None], f32(0), v)), 0, nmax).astype(np.float32)

    def error(s, m, levels):
        diff = s[:, None] * levels + m[:, None] - x
        diff = np.abs(diff) if use_mad else diff * diff
        return _running_sum(weights * diff)

    levels = grid(iscale, lo)
    best_error = error(scale, lo, levels)
    best_min = lo  # like the C code, later grids start from the best minimum found so far
    for step in range(nstep + 1 if nstep >= 1 else 0):
        with np.errstate(divide="ignore", invalid="ignore"):
            trial = grid((f32(rmin) + f32(rdelta) * f32(step) + f32(nmax)) / (hi - best_min), best_min)
        sum_l = _running_sum(weights * trial)
        sum_l2 = _running_sum(weights * trial * trial)
        sum_xl = _running_sum(weights * trial * x)
        det = sum_w * sum_l2 - sum_l * sum_l
        with np.errstate(divide="ignore", invalid="ignore"):
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
            clamp = this_min > 0
            this_min = np.where(clamp, f32(0), this_min)
            this_scale = np.where(clamp, sum_xl / sum_l2, this_scale)
            cur_error = error(this_scale, this_min, trial)
        better = (det > 0) & (cur_error < best_error) & ~flat
        levels = np.where(better[:, None], trial, levels)
        best_error = np.where(better, cur_error, best_error)
        scale = np.where(better, this_scale, scale)
        best_min = np.where(better, this_min, best_min)
    scale = np.where(flat, f32(0), scale)
    best_min = np.where(flat, lo, best_min)
    levels = np.where(flat[:, None], f32(0), levels)
    return scale.astype(np.float32), (-best_min).astype(np.float32), levels.astype(np.uint8)


def make_qx_quants_rmse1(x, nmax: int):
    """ggml's ``make_qx_quants(n, nmax, x, L, rmse_type=1, NULL)`` for many groups at once.

    Symmetric: ``x ~ scale * (L - nmax)`` with ``L`` in ``0..2*nmax-1``. Tries 19 grids around
    ``-nmax / max`` and keeps the scale that minimises the error weighted by ``x**2`` (big weights
    count more). Returns ``(scale, L)``; groups whose largest |x| is below 1e-15 get (0, zeros).
    """
    f32 = np.float32
    peak = _signed_max(x)[:, 0]
    zero = np.abs(peak) < GROUP_MAX_EPS
    peak = np.where(zero, f32(1), peak)
    w = x * x

    def fit(inverse_scale):
        q = np.clip(_nearest_int(inverse_scale[:, None] * x), -nmax, nmax - 1).astype(np.float32)
        return q, _running_sum(w * x * q), _running_sum(w * q * q)

    q, sumlx, suml2 = fit(f32(-nmax) / peak)
    levels = q + nmax
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 != 0, sumlx / suml2, f32(0))
        best = scale * sumlx
        for step in (*range(-9, 0), *range(1, 10)):
            q, sumlx, suml2 = fit(-(f32(nmax) + f32(0.1) * f32(step)) / peak)
            better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
            levels = np.where(better[:, None], q + nmax, levels)
            scale = np.where(better, sumlx / suml2, scale)
            best = np.where(better, scale * sumlx, best)
    scale = np.where(zero, f32(0), scale)
    levels = np.where(zero[:, None], f32(0), levels)
    return scale.astype(np.float32), levels.astype(np.uint8)


def make_q3_quants_rmse(x, nmax: int):
    """ggml's ``make_q3_quants(n, nmax, x, L, do_rmse=true)`` for many groups at once.

    Symmetric start ``L = round(-nmax * x / max)`` in ``-nmax..nmax-1``, then up to 5 passes of
    coordinate descent: each quant in turn moves to the level that most improves the
    ``x**2``-weighted least-squares fit. Returns ``(scale, L + nmax)``.
    """
    f32 = np.float32
    peak = _signed_max(x)[:, 0]
    zero = np.abs(peak) < GROUP_MAX_EPS
    iscale = f32(-nmax) / np.where(zero, f32(1), peak)
    levels = np.clip(_nearest_int(iscale[:, None] * x), -nmax, nmax - 1).astype(np.float32)
    w = x * x
    sumlx = _running_sum(w * x * levels)
    suml2 = _running_sum(w * levels * levels)
    for _ in range(5):
        for i in range(x.shape[1]):
            wi, xi, li = w[:, i], x[:, i], levels[:, i]
            slx = sumlx - wi * xi * li  # the fit without quant i
            sl2 = suml2 - wi * li * li
            movable = slx > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                new = np.clip(_nearest_int(np.where(movable, xi * sl2 / slx, f32(0))), -nmax, nmax - 1)
            new = new.astype(np.float32)
            slx = slx + wi * xi * new
            sl2 = sl2 + wi * new * new
            take = movable & (new != li) & (sl2 > 0) & (slx * slx * suml2 > sumlx * sumlx * sl2)
            levels[:, i] = np.where(take, new, li)
            sumlx = np.where(take, slx, sumlx)
            suml2 = np.where(take, sl2, suml2)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 > 0, sumlx / suml2, f32(0))
    scale = np.where(zero, f32(0), scale)
    levels = np.where(zero[:, None], f32(0), levels + nmax)
    return scale.astype(np.float32), levels.astype(np.uint8)


def _unpack_q3_scales(packed) -> np.ndarray:
    """The 12 packed bytes of Q3_K (n, 12) -> 16 signed scales (n, 16) in -32..31."""
    p = np.ascontiguousarray(packed).astype(np.int32)
    low = np.concatenate([p[:, 0:8] & 0x0F, p[:, 0:8] >> 4], axis=-1)
    j = np.arange(16)
    high = (p[:, 8 + j % 4] >> (2 * (j // 4))) & 3
    return (low | (high << 4)) - 32


def quantize_q3_k(x) -> np.ndarray:
    """Q3_K, 110 bytes per 256 weights (3.4375 bits/weight), symmetric.

    Block (16 groups of 16): ``hmask`` uint8[32] at bytes 0..31 (bit ``b`` of byte ``m`` is the
    high bit of weight ``32b + m``), ``qs`` uint8[64] at bytes 32..95 (low 2 bits, packed as
    Q2_K), ``scales`` uint8[12] at bytes 96..107 (16 six-bit scales: low nibbles in bytes 0-7,
    top 2 bits in bytes 8-11), ``d`` f16 at bytes 108..109.
    ``x = d * (sc - 32) * (q - 4)``, ``q`` in 0..7 (q = low 2 bits + 4 * high bit).
    """
    f32 = np.float32
    blocks = _as_blocks(x, QK_K)
    groups = blocks.reshape(-1, 16)
    scales, levels = make_q3_quants_rmse(groups, 4)
    scales = scales.reshape(-1, 16)
    peak = _signed_max(scales)[:, 0]
    has_scale = peak != 0
    iscale = f32(-32) / np.where(has_scale, peak, f32(1))
    l6 = np.clip(_nearest_int(iscale[:, None] * scales).astype(np.int8), -32, 31).astype(np.int32) + 32
    l6 = np.where(has_scale[:, None], l6, 0)
    packed = np.zeros((blocks.shape[0], 12), np.int32)
    packed[:, 0:8] = (l6[:, 0:8] & 0x0F) | ((l6[:, 8:16] & 0x0F) << 4)
    for j in range(16):
        packed[:, 8 + j % 4] |= (l6[:, j] >> 4) << (2 * (j // 4))
    packed = packed.astype(np.uint8)
    d = _f16_bytes(np.where(has_scale, f32(1) / iscale, f32(0)))
    sub_d = (_f16_values(d) * _unpack_q3_scales(packed).astype(np.float32)).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        again = np.clip(_nearest_int(groups / sub_d), -4, 3) + 4
    levels = np.where(sub_d != 0, again, levels).astype(np.uint8).reshape(-1, QK_K)
    hmask = np.zeros((levels.shape[0], 32), np.uint8)
    for b in range(8):
        hmask |= ((levels[:, 32 * b: 32 * b + 32] >> 2) & 1) << b
    low = (levels & 3).reshape(-1, 2, 4, 32)
    qs = (low[:, :, 0] | (low[:, :, 1] << 2) | (low[:, :, 2] << 4) | (low[:, :, 3] << 6)).reshape(-1, 64)
    out = np.concatenate([hmask, qs, packed, d], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q3_K"], to_bytes=True))


def dequantize_q3_k(data) -> np.ndarray:
    """Q3_K bytes -> float32: ``x = (d * sc) * q`` per group of 16, ``q`` in -4..3."""
    layout = LAYOUTS["Q3_K"]
    b = _as_byte_blocks(data, layout)
    hmask = b[:, 0:32]
    qs = b[:, 32:96].reshape(-1, 2, 1, 32)
    sc = _unpack_q3_scales(b[:, 96:108]).astype(np.float32)
    d = _f16_values(b[:, 108:110])
    low = (qs >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)) & 3  # [h, k, l]: weight 128h + 32k + l
    high = np.stack([(hmask >> bit) & 1 for bit in range(8)], axis=1).reshape(-1, 2, 4, 32)
    q = low.astype(np.int8) - ((1 - high) * 4).astype(np.int8)
    scale = (d * sc)[:, :, None]
    return (scale * q.reshape(-1, 16, 16).astype(np.float32)).reshape(
        _out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- Q4_K, Q5_K

def _pack_k_scales(ls, lm) -> np.ndarray:
    """8 six-bit scales and 8 six-bit mins (n, 8) -> the 12 packed bytes of Q4_K/Q5_K.

    Bytes 0-3: scales 0-3 (low 6 bits) + top 2 bits of scales 4-7; bytes 4-7: mins 0-3 + top 2
    bits of mins 4-7; bytes 8-11: low 4 bits of scale 4+j (low nibble) and of min 4+j (high nibble).
    """
    ls, lm = ls.astype(np.uint8), lm.astype(np.uint8)
    out = np.zeros((ls.shape[0], 12), np.uint8)
    out[:, 0:4] = ls[:, 0:4] | ((ls[:, 4:8] >> 4) << 6)
    out[:, 4:8] = lm[:, 0:4] | ((lm[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (ls[:, 4:8] & 0x0F) | ((lm[:, 4:8] & 0x0F) << 4)
    return out


def unpack_k_scales(packed):
    """The 12 packed bytes of Q4_K/Q5_K (n, 12) -> (scales (n, 8), mins (n, 8)) as integers 0..63."""
    p = np.ascontiguousarray(packed)
    sc = np.concatenate([p[:, 0:4] & 63, (p[:, 8:12] & 0x0F) | ((p[:, 0:4] >> 6) << 4)], axis=-1)
    mn = np.concatenate([p[:, 4:8] & 63, (p[:, 8:12] >> 4) | ((p[:, 4:8] >> 6) << 4)], axis=-1)
    return sc, mn


def _quantize_k_with_min(x, nmax: int, rmin: float, nstep: int, name: str):
    """Shared part of Q4_K and Q5_K: 8 groups of 32, each with a 6-bit scale and 6-bit min."""
    f32 = np.float32
    blocks = _as_blocks(x, QK_K)
    groups = blocks.reshape(-1, QK)  # (n_blocks * 8, 32)
    av_x = np.sqrt(_running_sum(groups * groups) / f32(32))
    weights = av_x[:, None] + np.abs(groups)
    scales, mins, levels = make_qkx2_quants(groups, weights, nmax, rmin, 0.1, nstep, False)
    scales, mins = scales.reshape(-1, 8), mins.reshape(-1, 8)
    max_scale = np.maximum(scales.max(axis=-1), 0)
    max_min = np.maximum(mins.max(axis=-1), 0)
    with np.errstate(divide="ignore"):
        inv_scale = np.where(max_scale > 0, f32(63) / max_scale, f32(0))
        inv_min = np.where(max_min > 0, f32(63) / max_min, f32(0))
    ls = np.minimum(63, _nearest_int(inv_scale[:, None] * scales) & 0xFF)
    lm = np.minimum(63, _nearest_int(inv_min[:, None] * mins) & 0xFF)
    d = _f16_bytes(max_scale / f32(63))
    dmin = _f16_bytes(max_min / f32(63))
    # requantize every weight with the rounded scales that will actually be stored
    sub_d = (_f16_values(d) * ls.astype(np.float32)).reshape(-1, 1)
    sub_m = (_f16_values(dmin) * lm.astype(np.float32)).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        again = np.clip(_nearest_int((groups + sub_m) / sub_d), 0, nmax)
    levels = np.where(sub_d != 0, again, levels).astype(np.uint8).reshape(-1, QK_K)
    return blocks, d, dmin, _pack_k_scales(ls, lm), levels


def quantize_q4_k(x) -> np.ndarray:
    """Q4_K, 144 bytes per 256 weights (4.5 bits/weight): the "K" in Q4_K_M.

    Block (a super-block of 8 groups of 32 weights): ``d`` f16 at byte 0, ``dmin`` f16 at byte 2,
    ``scales`` uint8[12] at bytes 4..15 (8 six-bit scales + 8 six-bit mins, see
    :func:`unpack_k_scales`), ``qs`` uint8[128] at bytes 16..143: for each 64 weights, 32 bytes
    with weights 0..31 in the low nibbles and 32..63 in the high nibbles.
    Group ``j``: ``x = d*sc[j]*q - dmin*m[j]``, ``q`` in 0..15. Each group's (scale, min) comes
    from :func:`make_qkx2_quants` with weights ``sqrt(mean(x**2)) + |x|``; the scales are then
    themselves quantized to 6 bits against the super-block's largest.
    """
    blocks, d, dmin, scales, levels = _quantize_k_with_min(x, 15, -1.0, 20, "Q4_K")
    quarters = levels.reshape(-1, 4, 2, 32)  # 4 runs of 64 weights, each split 32 | 32
    qs = _pack_nibbles(quarters[:, :, 0], quarters[:, :, 1]).reshape(-1, 128)
    out = np.concatenate([d, dmin, scales, qs], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q4_K"], to_bytes=True))


def dequantize_q4_k(data) -> np.ndarray:
    """Q4_K bytes -> float32: ``x = (d*sc) * q - dmin*m`` per group of 32."""
    layout = LAYOUTS["Q4_K"]
    b = _as_byte_blocks(data, layout)
    d, dmin = _f16_values(b[:, 0:2]), _f16_values(b[:, 2:4])
    sc, mn = unpack_k_scales(b[:, 4:16])
    qs = b[:, 16:144].reshape(-1, 4, 1, 32)
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.float32)
    scale = (d * sc.astype(np.float32))[:, :, None]
    offset = (dmin * mn.astype(np.float32))[:, :, None]
    return (scale * q - offset).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


def quantize_q5_k(x) -> np.ndarray:
    """Q5_K, 176 bytes per 256 weights (5.5 bits/weight).

    Block: ``d`` f16 at byte 0, ``dmin`` f16 at byte 2, ``scales`` uint8[12] at bytes 4..15 (as
    Q4_K), ``qh`` uint8[32] at bytes 16..47 (fifth bits: byte ``l`` bit ``2k`` for weight
    ``64k + l``, bit ``2k+1`` for weight ``64k + 32 + l``), ``qs`` uint8[128] at bytes 48..175
    (low 4 bits, packed as Q4_K). ``x = d*sc*q - dmin*m``, ``q`` in 0..31.
    """
    blocks, d, dmin, scales, levels = _quantize_k_with_min(x, 31, -0.5, 15, "Q5_K")
    halves = levels.reshape(-1, 8, 32)  # group g covers weights 32g..32g+31
    qh = np.zeros((levels.shape[0], 32), np.uint8)
    for g in range(8):
        qh |= ((halves[:, g] >> 4) & 1) << g
    low = halves & 0x0F
    qs = _pack_nibbles(low[:, 0::2], low[:, 1::2]).reshape(-1, 128)
    out = np.concatenate([d, dmin, scales, qh, qs], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q5_K"], to_bytes=True))


def dequantize_q5_k(data) -> np.ndarray:
    """Q5_K bytes -> float32: ``x = (d*sc) * q - dmin*m`` per group of 32, q = low | fifth bit << 4."""
    layout = LAYOUTS["Q5_K"]
    b = _as_byte_blocks(data, layout)
    d, dmin = _f16_values(b[:, 0:2]), _f16_values(b[:, 2:4])
    sc, mn = unpack_k_scales(b[:, 4:16])
    qh = b[:, 16:48]
    qs = b[:, 48:176].reshape(-1, 4, 1, 32)
    low = np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32)
    high = np.stack([(qh >> g) & 1 for g in range(8)], axis=1)
    q = (low | (high << 4)).astype(np.float32)
    scale = (d * sc.astype(np.float32))[:, :, None]
    offset = (dmin * mn.astype(np.float32))[:, :, None]
    return (scale * q - offset).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- Q6_K

def quantize_q6_k(x) -> np.ndarray:
    """Q6_K, 210 bytes per 256 weights (6.5625 bits/weight), symmetric.

    Block (16 groups of 16 weights): ``ql`` uint8[128] at bytes 0..127 (low 4 bits), ``qh``
    uint8[64] at bytes 128..191 (high 2 bits), ``scales`` int8[16] at bytes 192..207, ``d`` f16
    at bytes 208..209. Per 128 weights (``h`` = 0, 1): ``ql[64h + l]`` holds weights ``l`` (low
    nibble) and ``l + 64`` (high), ``ql[64h + 32 + l]`` weights ``l + 32`` and ``l + 96``;
    ``qh[32h + l]`` holds the top 2 bits of weights ``l, l+32, l+64, l+96`` at bits 0, 2, 4, 6.
    Group ``j``: ``x = d * scales[j] * (q - 32)``, ``q`` in 0..63. Group scales come from
    :func:`make_qx_quants_rmse1` and are quantized to int8 against the largest.
    """
    f32 = np.float32
    blocks = _as_blocks(x, QK_K)
    groups = blocks.reshape(-1, 16)
    scales, levels = make_qx_quants_rmse1(groups, 32)
    scales = scales.reshape(-1, 16)
    peak = _signed_max(scales)[:, 0]
    zero = np.abs(peak) < GROUP_MAX_EPS
    iscale = f32(-128) / np.where(zero, f32(1), peak)
    d = _f16_bytes(f32(1) / iscale)
    sc = np.minimum(127, _nearest_int(iscale[:, None] * scales)).astype(np.int8)
    sub_d = (_f16_values(d) * sc.astype(np.float32)).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        again = np.clip(_nearest_int(groups / sub_d), -32, 31) + 32
    levels = np.where(sub_d != 0, again, levels).astype(np.uint8).reshape(-1, 2, 4, 32)
    # levels[:, h, k, l] is weight 128h + 32k + l
    ql = np.concatenate([_pack_nibbles(levels[:, :, 0], levels[:, :, 2]),
                         _pack_nibbles(levels[:, :, 1], levels[:, :, 3])], axis=-1).reshape(-1, 128)
    top = levels >> 4
    qh = (top[:, :, 0] | (top[:, :, 1] << 2) | (top[:, :, 2] << 4) | (top[:, :, 3] << 6)).reshape(-1, 64)
    out = np.concatenate([ql, qh, sc.view(np.uint8), d], axis=-1)
    out[zero] = 0  # an all-zero super-block is stored as 210 zero bytes
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q6_K"], to_bytes=True))


def dequantize_q6_k(data) -> np.ndarray:
    """Q6_K bytes -> float32: ``x = (d*scale) * (q - 32)`` per group of 16."""
    layout = LAYOUTS["Q6_K"]
    b = _as_byte_blocks(data, layout)
    ql = b[:, 0:128].reshape(-1, 2, 2, 32)  # [h, first/second 32 bytes, l]
    qh = b[:, 128:192].reshape(-1, 2, 1, 32)
    low = np.stack([ql[:, :, 0] & 0x0F, ql[:, :, 1] & 0x0F, ql[:, :, 0] >> 4, ql[:, :, 1] >> 4], axis=2)
    high = (qh >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)) & 3
    q = (low | (high << 4)).astype(np.int8) - np.int8(32)
    sc = b[:, 192:208].view(np.int8).astype(np.float32)
    d = _f16_values(b[:, 208:210])
    scale = (d * sc)[:, :, None]
    return (scale * q.reshape(-1, 16, 16).astype(np.float32)).reshape(
        _out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- Q2_K

def quantize_q2_k(x) -> np.ndarray:
    """Q2_K, 84 bytes per 256 weights (2.625 bits/weight).

    Block (16 groups of 16): ``scales`` uint8[16] at bytes 0..15 (group scale in the low nibble,
    group min in the high nibble), ``qs`` uint8[64] at bytes 16..79 (per 128 weights, byte ``l``
    holds weights ``l, l+32, l+64, l+96`` at bits 0, 2, 4, 6), ``d`` f16 at byte 80, ``dmin`` f16
    at byte 82. ``x = d*sc*q - dmin*m``, ``q`` in 0..3.
    """
    f32 = np.float32
    blocks = _as_blocks(x, QK_K)
    groups = blocks.reshape(-1, 16)
    scales, mins, levels = make_qkx2_quants(groups, np.abs(groups), 3, -0.5, 0.1, 15, True)
    scales, mins = scales.reshape(-1, 16), mins.reshape(-1, 16)
    max_scale = np.maximum(scales.max(axis=-1), 0)
    max_min = np.maximum(mins.max(axis=-1), 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.where(max_scale[:, None] > 0, _nearest_int((f32(15) / max_scale)[:, None] * scales), 0)
        lm = np.where(max_min[:, None] > 0, _nearest_int((f32(15) / max_min)[:, None] * mins), 0)
    packed = ((ls & 0xFF) | ((lm << 4) & 0xFF)).astype(np.uint8)
    d = _f16_bytes(np.where(max_scale > 0, max_scale / f32(15), f32(0)))
    dmin = _f16_bytes(np.where(max_min > 0, max_min / f32(15), f32(0)))
    sub_d = (_f16_values(d) * (packed & 0x0F).astype(np.float32)).reshape(-1, 1)
    sub_m = (_f16_values(dmin) * (packed >> 4).astype(np.float32)).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        again = np.clip(_nearest_int((groups + sub_m) / sub_d), 0, 3)
    levels = np.where(sub_d != 0, again, levels).astype(np.uint8).reshape(-1, 2, 4, 32)
    qs = (levels[:, :, 0] | (levels[:, :, 1] << 2) | (levels[:, :, 2] << 4) | (levels[:, :, 3] << 6)).reshape(-1, 64)
    out = np.concatenate([packed, qs, d, dmin], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["Q2_K"], to_bytes=True))


def dequantize_q2_k(data) -> np.ndarray:
    """Q2_K bytes -> float32: ``x = (d*sc) * q - dmin*m`` per group of 16."""
    layout = LAYOUTS["Q2_K"]
    b = _as_byte_blocks(data, layout)
    packed = b[:, 0:16]
    qs = b[:, 16:80].reshape(-1, 2, 1, 32)
    d, dmin = _f16_values(b[:, 80:82]), _f16_values(b[:, 82:84])
    q = ((qs >> np.array([0, 2, 4, 6], np.uint8).reshape(1, 1, 4, 1)) & 3).reshape(-1, 16, 16).astype(np.float32)
    scale = (d * (packed & 0x0F).astype(np.float32))[:, :, None]
    offset = (dmin * (packed >> 4).astype(np.float32))[:, :, None]
    return (scale * q - offset).reshape(_out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- MXFP4

# The 16 E2M1 values (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives) doubled to integers, by 4-bit
# code; the block scale is stored halved to match (ggml's kvalues_mxfp4 and e8m0_to_fp32_half).
E2M1_DOUBLED = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)


def _e8m0_half(e) -> np.ndarray:
    """Half the E8M0 scale ``2**(e - 127)``, i.e. ``2**(e - 128)``, as float32 (exact for every byte)."""
    return np.ldexp(np.float32(1), e.astype(np.int32) - 128).astype(np.float32)


def quantize_mxfp4(x) -> np.ndarray:
    """MXFP4 (OCP microscaling), 17 bytes per 32 weights (4.25 bits/weight): gpt-oss's expert format.

    Block: ``e`` one E8M0 byte (a power-of-two scale, no mantissa) at byte 0, ``qs`` uint8[16] at
    bytes 1..16 holding 32 four-bit E2M1 codes, nibbles as in Q4_0. ``e = floor(log2(max|x|)) - 2 + 127``
    puts the largest weight near the top E2M1 value 6 (x 2**(e-127)); each weight takes the nearest of
    the 16 E2M1 values (the first on a tie, as ggml's reference).
    """
    blocks = _as_blocks(x, QK)
    amax = np.abs(blocks).max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        e = np.where(amax > 0, np.floor(np.log2(amax)) - 2 + 127, 0).astype(np.uint8)
    levels = _e8m0_half(e)[..., None] * E2M1_DOUBLED  # (n, 1, 16)
    q = np.argmin(np.abs(levels - blocks[..., None]), axis=-1).astype(np.uint8)
    out = np.concatenate([e, _pack_nibbles(q[:, :16], q[:, 16:])], axis=-1)
    return out.reshape(_out_shape(np.shape(x), LAYOUTS["MXFP4"], to_bytes=True))


def dequantize_mxfp4(data) -> np.ndarray:
    """MXFP4 bytes -> float32: ``x = 2**(e-128) x doubled E2M1 value of the code``.

    The largest scales overflow float32 to +-inf, as in ggml and gguf (no trained weights use them).
    """
    layout = LAYOUTS["MXFP4"]
    b = _as_byte_blocks(data, layout)
    q = _unpack_nibbles(b[:, 1:17])
    with np.errstate(over="ignore"):
        x = _e8m0_half(b[:, 0:1]) * E2M1_DOUBLED[q]
    return x.reshape(_out_shape(np.shape(data), layout, to_bytes=False))


# ----------------------------------------------------------------------------- by name

QUANTIZERS = {"Q8_0": quantize_q8_0, "Q4_0": quantize_q4_0, "Q4_1": quantize_q4_1, "Q5_0": quantize_q5_0,
              "Q5_1": quantize_q5_1, "Q2_K": quantize_q2_k, "Q3_K": quantize_q3_k, "Q4_K": quantize_q4_k,
              "Q5_K": quantize_q5_k, "Q6_K": quantize_q6_k, "MXFP4": quantize_mxfp4}
DEQUANTIZERS = {"Q8_0": dequantize_q8_0, "Q4_0": dequantize_q4_0, "Q4_1": dequantize_q4_1,
                "Q5_0": dequantize_q5_0, "Q5_1": dequantize_q5_1, "Q2_K": dequantize_q2_k,
                "Q3_K": dequantize_q3_k, "Q4_K": dequantize_q4_k, "Q5_K": dequantize_q5_k, "Q6_K": dequantize_q6_k,
                "MXFP4": dequantize_mxfp4}


def quantize(x, name: str) -> np.ndarray:
    """Quantize float array ``x`` (last dimension a multiple of the block size) to format ``name``."""
    check_format(name)
    return QUANTIZERS[name](x)


def dequantize(data, name: str) -> np.ndarray:
    """Turn ``name``-format bytes back into float32 weights."""
    check_format(name)
    return DEQUANTIZERS[name](data)


def round_trip(x, name: str) -> np.ndarray:
    """``x`` as the model will see it after quantizing to ``name`` and back (float32)."""
    return dequantize(quantize(x, name), name)
