"""Check the size estimator against llama.cpp itself: write a small random-weight llama GGUF,
quantize it with llama.cpp's own quantizer, and compare tensor by tensor with the prediction.

Sizes in bytes. Runs in about a second on a CPU; nothing is downloaded.
"""
import contextlib
import io
from pathlib import Path

from helpers.gguf.header import open_checked
from helpers.memory.architecture import Architecture
from helpers.memory.gguf_size import gguf_file_size, predicted_tensors


def compare_with_file(path, arch: Architecture, mix: str) -> dict:
    """Predicted vs real: per-tensor type agreement and sizes (bytes) of a GGUF file on disk."""
    reader = open_checked(path)
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
