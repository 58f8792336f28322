"""Proof that :mod:`helpers.quantization.block_formats` writes the same bytes as llama.cpp.

Write a tiny llama GGUF whose F32 weights are chosen to hit the awkward cases (zero blocks,
constant blocks, all-negative rows, outliers, values so small their scale underflows f16), let
llama.cpp's own ``llama_model_quantize`` convert it to one quantization type for every matrix
(``pure``), read its bytes back with ``gguf.GGUFReader``, and compare them block by block with
:func:`helpers.quantization.block_formats.quantize` on the same floats. :func:`read_tensor` and
:func:`dequantizes_like_gguf` do the reverse check on any real file: its stored bytes, decoded by the
course's dequantizers, against ``gguf.quants.dequantize``. Sizes in bytes; nothing is downloaded.
"""
from pathlib import Path

import numpy as np

from helpers.gguf.header import open_checked
from helpers.gguf.quantize import quantize
from helpers.gguf.random_weights import add_byte_fallback_vocab, add_hyperparameters
from helpers.gguf.writer import write_gguf_file
from helpers.memory.architecture import Architecture, model_tensors
from helpers.quantization.block_formats import check_format

# The llama.cpp file type whose main tensor type is each format (with ``pure`` every matrix gets it).
LLAMA_CPP_FTYPES = {"Q8_0": "Q8_0", "Q4_0": "Q4_0", "Q4_1": "Q4_1", "Q5_0": "Q5_0", "Q5_1": "Q5_1",
                    "Q2_K": "Q2_K", "Q3_K": "Q3_K_S", "Q4_K": "Q4_K_S", "Q5_K": "Q5_K_S", "Q6_K": "Q6_K",
                    "MXFP4": "MXFP4_MOE"}

# Rows of 256 and 512 weights: every K-quant super-block (256) and legacy block (32) fits.
CHECK_ARCH = Architecture(name="quant check", n_layers=1, hidden=256, ffn=512, n_heads=4, n_kv_heads=4,
                          head_dim=64, vocab=320, max_context=64, tokenizer="spm")


def awkward_matrix(rows: int, cols: int, seed: int) -> np.ndarray:
    """A float32 (rows, cols) matrix of weight-like values with the edge cases quantizers trip on."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
    w[0] = 0.0                                   # all zeros
    w[1] = 0.125                                 # constant positive
    w[2] = -0.75                                 # constant negative
    w[3] *= 2000.0                               # large magnitudes (scales near the f16 range)
    w[4] *= 1e-5                                 # tiny: per-block scales underflow to f16 subnormals or 0
    w[5] = np.abs(w[5])                          # all positive
    w[6] = -np.abs(w[6])                         # all negative
    w[7] = rng.standard_t(2, cols).astype(np.float32) * 0.02  # heavy tails
    w[8, ::37] = 0.5                             # sparse outliers
    w[9, : cols // 2] = 0.0                      # half zeros, half normal
    w[10] = np.round(w[10] * 200) / 200          # values on a grid (many exact ties)
    return w


def write_check_gguf(path, arch: Architecture = CHECK_ARCH, seed: int = 0) -> dict:
    """Write an F32 llama GGUF with :func:`awkward_matrix` weights; returns ``{name: float32 array}``."""
    tensors = {}
    for i, t in enumerate(model_tensors(arch)):
        shape = tuple(reversed(t.shape))  # numpy order: rows first
        tensors[t.name] = (np.ones(shape, np.float32) if len(shape) == 1
                           else awkward_matrix(shape[0], shape[1], seed + i))

    def add_metadata(writer):
        add_hyperparameters(writer, arch)
        add_byte_fallback_vocab(writer, arch.vocab)

    write_gguf_file(path, "llama", add_metadata, tensors.items())
    return tensors


def llama_cpp_quantize_pure(src, dst, fmt: str) -> Path:
    """Quantize every matrix of GGUF ``src`` to ``fmt`` with llama.cpp (no importance matrix)."""
    check_format(fmt)
    return quantize(src, dst, LLAMA_CPP_FTYPES[fmt], threads=1, pure=True)


def read_quantized(path) -> dict:
    """``{name: (type name, uint8 bytes of shape (rows, bytes per row))}`` for every tensor of a GGUF."""
    reader = open_checked(path)
    return {t.name: (t.tensor_type.name, np.array(t.data)) for t in reader.tensors}


def read_tensor(path, name: str) -> tuple:
    """``(type name, uint8 bytes of shape (rows, bytes per row))`` of one tensor of a GGUF, as stored."""
    tensors = {t.name: t for t in open_checked(path).tensors}
    if name not in tensors:
        raise ValueError(f"{Path(path).name} has no tensor {name!r}; it has e.g. {sorted(tensors)[:5]}")
    return tensors[name].tensor_type.name, np.array(tensors[name].data)


def dequantizes_like_gguf(data, fmt: str) -> bool:
    """Whether :func:`helpers.quantization.block_formats.dequantize` gives ``gguf.quants.dequantize``'s
    float32 values for ``fmt`` bytes ``data``, bit for bit."""
    import gguf

    from helpers.quantization.block_formats import dequantize

    theirs = np.asarray(gguf.quants.dequantize(data, getattr(gguf.GGMLQuantizationType, fmt)), np.float32)
    return bool(np.array_equal(dequantize(data, fmt).view(np.uint32), theirs.view(np.uint32)))


def compare_with_llama_cpp(fmt: str, workdir, seed: int = 0) -> list:
    """Per matrix: blocks compared, blocks whose bytes differ, and whether both dequantize alike.

    Returns a list of dicts (one per 2-D tensor) with keys ``tensor``, ``type``, ``blocks``,
    ``blocks that differ`` and ``dequantized equal`` (ours vs ``gguf.quants.dequantize`` of
    llama.cpp's bytes, bit for bit).
    """
    from helpers.quantization.block_formats import LAYOUTS, quantize

    layout = check_format(fmt)
    workdir = Path(workdir)
    src = workdir / "check-f32.gguf"
    tensors = write_check_gguf(src, seed=seed)
    dst = llama_cpp_quantize_pure(src, workdir / f"check-{fmt}.gguf", fmt)
    rows = []
    for name, (kind, theirs) in read_quantized(dst).items():
        if tensors[name].ndim != 2:
            continue
        ours = quantize(tensors[name], fmt)
        theirs = theirs.reshape(ours.shape)
        size = LAYOUTS[fmt].bytes_per_block
        differ = (ours.reshape(-1, size) != theirs.reshape(-1, size)).any(axis=-1)
        rows.append({"tensor": name, "type": kind, "blocks": differ.size, "blocks that differ": int(differ.sum()),
                     "dequantized equal": dequantizes_like_gguf(theirs, fmt)})
    if any(r["type"] != layout.name for r in rows):
        raise RuntimeError(f"llama.cpp did not write {fmt} for every matrix: {[r['type'] for r in rows]}")
    return rows
