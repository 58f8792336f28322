"""Quantize a GGUF file with llama.cpp's own quantizer (``llama_model_quantize``), as llama-quantize does.

A quant is named as llama.cpp names its file types: "Q8_0", "Q4_K_M", "Q2_K", ... ("F32" and "F16"
too). llama.cpp picks each tensor's type for the mix: rows whose length is not a multiple of 256
cannot hold K-quant super-blocks and fall back to a legacy type; ``pure=True`` asks for one type
for every matrix instead.

Quantize from the original weights (F32, F16, BF16). A file whose tensors are already quantized
has lost what the first rounding threw away; quantizing it again rounds those rounded values onto
a second grid, and the two errors stack. llama.cpp therefore refuses such a source unless asked
(``llama-quantize --allow-requantize``, here ``allow_requantize=True``).
"""
import ctypes
from pathlib import Path

import llama_cpp
from llama_cpp._utils import suppress_stdout_stderr

from helpers.course.atomic import atomic_path
from helpers.gguf.header import open_checked

QUANT_NAMES = tuple(sorted(["F32"] + [name.removeprefix("LLAMA_FTYPE_MOSTLY_") for name in dir(llama_cpp)
                                      if name.startswith("LLAMA_FTYPE_MOSTLY_")]))
UNQUANTIZED_TYPES = frozenset({"F64", "F32", "F16", "BF16", "I8", "I16", "I32", "I64"})


def ftype(quant: str) -> int:
    """llama.cpp's file type number (``enum llama_ftype``) for a quant name such as "Q4_K_M"."""
    if quant not in QUANT_NAMES:
        raise ValueError(f"quant {quant!r} unknown; choose from {sorted(QUANT_NAMES)}")
    if quant == "F32":
        return llama_cpp.LLAMA_FTYPE_ALL_F32
    return getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}")


def quantized_types(path) -> set:
    """The quantized tensor types in GGUF ``path`` (e.g. {"Q4_1", "Q8_0"}); empty for F32/F16/BF16 files."""
    return {t.tensor_type.name for t in open_checked(path).tensors} - UNQUANTIZED_TYPES


def quantize(src, dst, quant: str, threads: int = 2, pure: bool = False, quiet: bool = True,
             allow_requantize: bool = False) -> Path:
    """Quantize GGUF ``src`` into ``dst`` (written atomically) and return ``dst``.

    ``quiet`` silences llama.cpp's per-tensor log (read the chosen types back with
    :func:`helpers.gguf.header.read_header` or :func:`helpers.gguf.header.open_checked`).
    ``allow_requantize``: let llama.cpp dequantize already-quantized tensors and quantize them
    again (errors stack; see the module docstring). Without it a quantized source is refused with a
    ValueError naming its types.
    """
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype(quant)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"no GGUF at {src}")
    params.nthread = threads
    params.pure = pure
    params.allow_requantize = allow_requantize
    with atomic_path(dst) as tmp:
        with suppress_stdout_stderr(disable=not quiet):
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:  # raised inside atomic_path, so dst is left as it was
            raise _failure(src, quant, rc, allow_requantize)
    return dst


def _failure(src: Path, quant: str, rc: int, allow_requantize: bool) -> Exception:
    """Why llama_model_quantize failed: a refused requantization (ValueError) or anything else."""
    already = quantized_types(src)
    if already and not allow_requantize:
        return ValueError(f"{src.name} holds already-quantized tensors ({', '.join(sorted(already))}) and llama.cpp "
                          f"refuses to requantize them to {quant}: quantize from the original F16/BF16/F32 file, "
                          "or pass allow_requantize=True to accept the stacked rounding error")
    return RuntimeError(f"llama_model_quantize returned {rc} for {src.name} -> {quant}")
