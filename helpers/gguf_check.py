"""Check the size estimator against llama.cpp itself: write a small random-weight llama GGUF,
quantize it with llama.cpp's own quantizer, and compare tensor by tensor with the prediction.

Sizes in bytes. Runs in about a second on a CPU; nothing is downloaded.
"""
import contextlib
import io
from pathlib import Path

import numpy as np

from helpers.architecture import Architecture, model_tensors
from helpers.atomic import atomic_path
from helpers.gguf_size import check_mix, gguf_file_size, predicted_tensors
from helpers.synthetic_gguf import add_byte_fallback_vocab, add_hyperparameters


def write_random_llama_gguf(path, arch: Architecture, seed: int = 0) -> Path:
    """An F32 llama GGUF with random weights, ``arch``'s tensors (experts too) and a SentencePiece-style vocab."""
    import gguf

    if arch.family != "llama" or arch.vocab < 300:
        raise ValueError(f"needs a llama-family architecture with vocab >= 300, got {arch.family!r}, {arch.vocab}")
    rng = np.random.default_rng(seed)
    path = Path(path)
    with atomic_path(path) as tmp:
        w = gguf.GGUFWriter(str(tmp), "llama")
        add_hyperparameters(w, arch)
        if arch.is_moe:
            w.add_expert_count(arch.n_experts)
            w.add_expert_used_count(arch.n_experts_used)
        add_byte_fallback_vocab(w, arch.vocab)
        for t in model_tensors(arch):
            shape = tuple(reversed(t.shape))  # numpy order: rows first
            data = np.ones(shape, np.float32) if len(shape) == 1 else rng.standard_normal(shape).astype(np.float32) * 0.02
            w.add_tensor(t.name, data)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return path


def quantize_with_llama_cpp(src, dst, mix: str) -> Path:
    """Quantize ``src`` to ``dst`` with llama.cpp's ``llama_model_quantize`` (mix like "Q4_K_M")."""
    import llama_cpp

    check_mix(mix)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{mix}")
    log = io.StringIO()  # llama.cpp logs every tensor; keep the notebook readable
    with contextlib.redirect_stderr(log):
        code = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if code != 0:
        raise RuntimeError(f"llama.cpp could not quantize {Path(src).name} to {mix}: {log.getvalue()[-500:]}")
    return Path(dst)


def compare_with_file(path, arch: Architecture, mix: str) -> dict:
    """Predicted vs real: per-tensor type agreement and sizes (bytes) of a GGUF file on disk."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    real = {t.name: t.tensor_type.name for t in reader.tensors}
    predicted = {t.name: t.ggml_type for t in predicted_tensors(arch, mix)}
    estimate = gguf_file_size(arch, mix)
    return {
        "mix": mix,
        "tensors": len(real),
        "types that differ": sum(predicted.get(name) != kind for name, kind in real.items()),
        "real file (bytes)": Path(path).stat().st_size,
        "estimated (bytes)": estimate.total_bytes,
        "real tensor data (bytes)": Path(path).stat().st_size - reader.data_offset,
        "estimated tensor data (bytes)": estimate.tensor_data_bytes,
    }


def llama_cpp_buffers(path, context: int, flash_attention: bool = False, ubatch: int = 512) -> dict:
    """Load a GGUF on the CPU with llama.cpp and return the KV cache and compute buffer sizes it reports (bytes)."""
    import re

    import llama_cpp

    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        model = llama_cpp.Llama(str(path), n_ctx=context, n_batch=ubatch, n_ubatch=ubatch, n_threads=1,
                                flash_attn=flash_attention, verbose=True)
        del model
    text = log.getvalue()
    kv = re.findall(r"KV buffer size =\s+([\d.]+) MiB", text)
    compute = re.findall(r"CPU compute buffer size =\s+([\d.]+) MiB", text)
    if not kv or not compute:
        raise RuntimeError("llama.cpp did not report its buffer sizes; is this llama-cpp-python build too old?")
    return {"kv_cache_bytes": float(kv[-1]) * 2**20, "compute_buffer_bytes": float(compute[-1]) * 2**20}
