"""Quantize a GGUF file with llama.cpp's own quantizer (``llama_model_quantize``), as llama-quantize does.

A quant is named as llama.cpp names its file types: "Q8_0", "Q4_K_M", "Q2_K", ... ("F32" and "F16"
too). llama.cpp picks each tensor's type for the mix: rows whose length is not a multiple of 256
cannot hold K-quant super-blocks and fall back to a legacy type; ``pure=True`` asks for one type
for every matrix instead.
"""
import ctypes
from pathlib import Path

import llama_cpp
from llama_cpp._utils import suppress_stdout_stderr

from helpers.course.atomic import atomic_path

QUANT_NAMES = tuple(sorted(["F32"] + [name.removeprefix("LLAMA_FTYPE_MOSTLY_") for name in dir(llama_cpp)
                                      if name.startswith("LLAMA_FTYPE_MOSTLY_")]))


def ftype(quant: str) -> int:
    """llama.cpp's file type number (``enum llama_ftype``) for a quant name such as "Q4_K_M"."""
    if quant not in QUANT_NAMES:
        raise ValueError(f"quant {quant!r} unknown; choose from {sorted(QUANT_NAMES)}")
    if quant == "F32":
        return llama_cpp.LLAMA_FTYPE_ALL_F32
    return getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}")


def quantize(src, dst, quant: str, threads: int = 2, pure: bool = False, quiet: bool = True) -> Path:
    """Quantize GGUF ``src`` into ``dst`` (written atomically) and return ``dst``.

    ``quiet`` silences llama.cpp's per-tensor log (read the chosen types back with
    :func:`helpers.gguf.header.read_header` or ``gguf.GGUFReader``).
    """
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype(quant)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"no GGUF at {src}")
    params.nthread = threads
    params.pure = pure
    with atomic_path(dst) as tmp, suppress_stdout_stderr(disable=not quiet):
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:
            raise RuntimeError(f"llama_model_quantize returned {rc} for {src.name} -> {quant}")
    return dst
