"""llama.cpp's load log, read: the buffers it allocated, on which device, and the context it was trained for.

llama.cpp prints one line per buffer and device while it loads a model and creates a context
("llama_kv_cache:        CPU KV buffer size =    12.00 MiB", "CUDA0 compute buffer size = ...", MiB =
2**20 bytes, two decimals). Every reader of such a log in the course goes through :func:`buffer_lines`.
Sizes are in bytes unless a name says MiB.
"""
import re
from dataclasses import dataclass

MIB = 2**20

_KV_LINE = re.compile(r"llama_kv_cache:\s+size =\s+([\d.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers.*?"
                      r"K \((\w+)\):\s+([\d.]+) MiB, V \((\w+)\):\s+([\d.]+) MiB")
_BUFFER_LINES = {"model": re.compile(r"(\S+) model buffer size =\s+([\d.]+) MiB"),
                 "KV": re.compile(r"(\S+) KV buffer size =\s+([\d.]+) MiB"),
                 "compute": re.compile(r"(\S+) compute buffer size =\s+([\d.]+) MiB"),
                 "output": re.compile(r"(\S+)\s+output buffer size =\s+([\d.]+) MiB")}
_TRAIN_LINE = re.compile(r"n_ctx_train\s+=\s+(\d+)")
_OVERFLOW_LINE = re.compile(r"^.*\(\d+\) > n_ctx_train \(\d+\).*$", re.MULTILINE)


def buffer_lines(text: str, kind: str) -> list:
    """``[(device, MiB)]`` for every ``kind`` ("model", "KV", "compute", "output") buffer line of a llama.cpp
    log, in log order, device as llama.cpp names it ("CPU", "CUDA0", "CPU_Mapped", "CUDA_Host")."""
    if kind not in _BUFFER_LINES:
        raise ValueError(f"kind must be one of {sorted(_BUFFER_LINES)}, got {kind!r}")
    return [(device, float(mib)) for device, mib in _BUFFER_LINES[kind].findall(text)]


@dataclass(frozen=True)
class LlamaBuffers:
    """Buffers llama.cpp reported while creating a context (bytes, from MiB with two decimals)."""

    kv_bytes: int
    k_bytes: int
    v_bytes: int
    k_type: str
    v_type: str
    cells: int  # KV cache cells: n_ctx rounded up to a multiple of 256
    layers: int
    compute_bytes: int
    output_bytes: int
    model_bytes: int


def _bytes(mib: float) -> int:
    return round(mib * MIB)


def parse_llama_log(text: str) -> LlamaBuffers:
    """The KV cache (the last one created), compute, output and model buffer sizes in a llama.cpp log (bytes).

    Several backends (CPU, CUDA...) are summed. Raises ValueError when the log has no KV cache line
    (the log was not captured, or the context was never created).
    """
    kv = _KV_LINE.findall(text)
    if not kv:
        raise ValueError("no 'llama_kv_cache: size = ...' line in the log: was it captured "
                         "(verbose=True inside captured_llama_log) and was the context created?")
    total, cells, layers, k_type, k_mib, v_type, v_mib = kv[-1]

    def summed(kind):
        return sum(_bytes(mib) for _, mib in buffer_lines(text, kind))

    return LlamaBuffers(kv_bytes=_bytes(float(total)), k_bytes=_bytes(float(k_mib)), v_bytes=_bytes(float(v_mib)),
                        k_type=k_type, v_type=v_type, cells=int(cells), layers=int(layers),
                        compute_bytes=summed("compute"), output_bytes=summed("output"), model_bytes=summed("model"))


def cpu_buffers(text: str) -> dict:
    """``{"kv_cache_bytes", "compute_buffer_bytes"}`` of a model loaded on the CPU: every KV cache added (a
    sliding-window model has two), the CPU compute buffer as last reported. Bytes, as floats."""
    kv = [mib for _, mib in buffer_lines(text, "KV")]
    compute = [mib for device, mib in buffer_lines(text, "compute") if device == "CPU"]
    if not kv or not compute:
        raise RuntimeError("llama.cpp did not report its buffer sizes; is this llama-cpp-python build too old?")
    return {"kv_cache_bytes": sum(kv) * MIB, "compute_buffer_bytes": compute[-1] * MIB}


def buffers_by_device(text: str) -> dict:
    """{"model" | "KV" | "compute": {device: MiB}} from a llama.cpp log, device as llama.cpp names it ("CUDA0",
    "Metal", "CPU_Mapped", "CUDA_Host"): where each buffer went when some of it is on a GPU."""
    return {kind: dict(buffer_lines(text, kind)) for kind in ("model", "KV", "compute")}


def trained_context(text: str) -> int:
    """The trained context (tokens) llama.cpp read from the GGUF, from its log line "n_ctx_train = 8192"."""
    found = _TRAIN_LINE.findall(text)
    if not found:
        raise ValueError("no 'n_ctx_train = ...' line in the log: was it captured with verbose=True?")
    return int(found[-1])


def overflow_warning(text: str) -> str:
    """llama.cpp's warning when the context asked for exceeds the trained one ("" when it did not warn).

    llama.cpp creates the context anyway; this log line is all it says, e.g.
    "llama_context: n_ctx_seq (16384) > n_ctx_train (8192) -- possible training context overflow".
    """
    found = _OVERFLOW_LINE.findall(text)
    return found[-1].strip() if found else ""
