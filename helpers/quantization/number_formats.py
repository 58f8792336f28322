"""Number formats a model's weights can be stored in: fp32, fp16, bf16 and scaled int8 / int4.

A binary float is ``sign * 1.mantissa * 2**(exponent - bias)``. Everything about its range and
precision follows from two numbers, the exponent and mantissa widths, so the property table is
computed from those, not typed in. Integers carry no exponent: an int8 weight is ``scale * q``
with one float ``scale`` shared by many weights (a tensor, a row or a block).
Pure numpy; values are plain numbers, sizes in bits.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point layout: 1 sign bit, ``exponent_bits``, ``mantissa_bits``."""

    name: str
    exponent_bits: int
    mantissa_bits: int

    @property
    def bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def max_normal(self) -> float:
        """Largest finite value: all-ones mantissa, largest exponent below the inf/NaN code."""
        return (2 - 2.0 ** -self.mantissa_bits) * 2.0 ** self.bias

    @property
    def min_normal(self) -> float:
        return 2.0 ** (1 - self.bias)

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (1 - self.bias - self.mantissa_bits)

    @property
    def epsilon(self) -> float:
        """Gap between 1 and the next representable number: relative precision."""
        return 2.0 ** -self.mantissa_bits

    @property
    def decimal_digits(self) -> float:
        """About how many significant decimal digits survive: log10(2**(mantissa_bits + 1))."""
        return (self.mantissa_bits + 1) * np.log10(2)


@dataclass(frozen=True)
class IntFormat:
    """A signed integer used with a float scale: ``x ~ scale * q`` with ``|q| <= 2**(bits-1) - 1``."""

    name: str
    bits: int

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def levels(self) -> int:
        """Distinct values used by symmetric quantization (-qmax..qmax)."""
        return 2 * self.qmax + 1


FLOATS = {"fp32": FloatFormat("fp32", 8, 23), "fp16": FloatFormat("fp16", 5, 10), "bf16": FloatFormat("bf16", 8, 7)}
INTS = {"int8": IntFormat("int8", 8), "int4": IntFormat("int4", 4)}
FORMAT_NAMES = (*FLOATS, *INTS)


def check_float_format(name: str) -> FloatFormat:
    if name not in FLOATS:
        raise ValueError(f"unknown float format {name!r}; choose one of {list(FLOATS)}")
    return FLOATS[name]


def format_table() -> list:
    """One dict per format: bits, exponent/mantissa widths, largest/smallest normal, epsilon, digits.

    Integer formats are described relative to their scale: their "epsilon" is one step, i.e.
    ``1/qmax`` of the largest magnitude they represent.
    """
    rows = []
    for f in FLOATS.values():
        rows.append({"format": f.name, "bits": f.bits, "exponent bits": f.exponent_bits,
                     "mantissa bits": f.mantissa_bits, "max": f.max_normal, "min normal": f.min_normal,
                     "min subnormal": f.min_subnormal, "epsilon": f.epsilon,
                     "decimal digits": round(f.decimal_digits, 1)})
    for i in INTS.values():
        rows.append({"format": i.name, "bits": i.bits, "exponent bits": 0, "mantissa bits": i.bits - 1,
                     "max": float(i.qmax), "min normal": 1.0, "min subnormal": 1.0,
                     "epsilon": 1 / i.qmax, "decimal digits": round(np.log10(i.levels), 1)})
    return rows


def spacing(values, name: str) -> np.ndarray:
    """Distance from each |value| to the next larger representable number of float format ``name``."""
    f = check_float_format(name)
    a = np.abs(np.asarray(values, dtype=np.float64))
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(np.where(a > 0, a, f.min_normal)))
    exponent = np.maximum(exponent, 1 - f.bias)  # below min normal the gap stays at the subnormal step
    return 2.0 ** (exponent - f.mantissa_bits)


def round_to_bf16(x) -> np.ndarray:
    """float32 -> nearest bfloat16 (ties to even), returned as float32. Bit manipulation only.

    bf16 is the top 16 bits of a float32. Add 0x7FFF plus the lowest kept bit, then drop the low
    16 bits: that rounds to nearest with ties to even. NaN stays a (quiet) NaN.
    """
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    rounded = np.where(is_nan, (u & 0xFFFF0000) | 0x00400000, rounded)
    return (rounded & 0xFFFFFFFF).astype(np.uint32).view(np.float32)


def round_to_format(x, name: str) -> np.ndarray:
    """``x`` stored in float format ``name`` and read back, as float32 (fp32 leaves it unchanged)."""
    check_float_format(name)
    x = np.asarray(x, dtype=np.float32)
    if name == "fp16":
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    if name == "bf16":
        return round_to_bf16(x)
    return x.copy()


def bit_fields(value: float, name: str) -> tuple:
    """``(sign, exponent, mantissa)`` bit strings of ``value`` stored in float format ``name``."""
    f = check_float_format(name)
    bits32 = int(np.float32(round_to_format(np.float32(value), name)).view(np.uint32))
    if name == "fp16":
        with np.errstate(over="ignore"):  # beyond 65504 the stored value is inf, whose bits we show
            bits = int(np.float16(value).view(np.uint16))
        text = format(bits, "016b")
    else:
        text = format(bits32, "032b")[: f.bits]
    return text[0], text[1: 1 + f.exponent_bits], text[1 + f.exponent_bits:]


def quantize_int(x, bits: int, axis=None):
    """Symmetric absmax integer quantization: ``(q, scale)`` with ``x ~ scale * q``.

    ``axis=None``: one scale for the whole array; ``axis=1``: one scale per row (and so on).
    ``scale = max|x| / qmax``; an all-zero slice gets scale 1 so that q = 0.
    """
    if bits not in (2, 3, 4, 5, 6, 7, 8):
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}")
    x = np.asarray(x, dtype=np.float32)
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(x).max(axis=axis, keepdims=axis is not None)
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scale), -qmax, qmax).astype(np.int8)
    return q, scale


def int_round_trip(x, bits: int, axis=None) -> np.ndarray:
    """``x`` after symmetric ``bits``-bit quantization and back (float32)."""
    q, scale = quantize_int(x, bits, axis)
    return q.astype(np.float32) * scale


def relative_error(x, approx) -> np.ndarray:
    """|approx - x| / |x| element-wise (NaN where x is 0)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x != 0, np.abs(np.asarray(approx, np.float64) - x) / np.abs(x), np.nan)


def row_ranges(w) -> np.ndarray:
    """max |w| of each row of a 2-D matrix: how different a per-row scale would be per row."""
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {w.shape}")
    return np.abs(w).max(axis=1)


def outlier_share(w, k: float = 6.0) -> float:
    """Fraction of weights more than ``k`` standard deviations from the mean."""
    w = np.asarray(w, dtype=np.float64)
    return float(np.mean(np.abs(w - w.mean()) > k * w.std()))
