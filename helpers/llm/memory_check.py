"""Will this GGUF fit? Estimate a model's memory from its own file before loading it, refuse it when it
cannot fit, and measure what the load really costs.

Sizes are in bytes unless a name says otherwise (MiB = 2**20, GiB = 2**30 bytes, GB = 10**9 bytes; see
``helpers.course.units``). The memory estimate reuses the course's model of llama.cpp (``helpers.memory.vram``):
weights (read exactly from the file's tensor table) + KV cache + compute buffer.
"""
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from helpers.course.units import format_size
from helpers.gguf.header import GGUFHeader, check_gguf
from helpers.hardware.machine import gpu_memory_bytes
from helpers.memory.architecture import FAMILIES, LIMITS, Architecture
from helpers.memory.vram import DEFAULT_UBATCH, compute_buffer_bytes, kv_cache_bytes


def _clamp(name: str, value: int) -> int:
    low, high = LIMITS[name]
    return min(max(int(value), low), high)


# llama.cpp's sliding-window layer pattern per family (``hparams.set_swa_pattern(n)`` in src/llama-model.cpp:
# block i is local when i % n < n - 1): Gemma 2 and gpt-oss alternate, Gemma 3 has 5 local blocks then 1 global.
# Files name only the window's size. Other families run every block with full attention (phi3 files may carry
# a window, which llama.cpp ignores).
SWA_PERIOD = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2}
GEMMA2_DEFAULT_WINDOW = 4096  # llama.cpp's window for Gemma 2 files without attention.sliding_window


def _sliding_window(meta: GGUFHeader) -> dict:
    period = SWA_PERIOD.get(meta.architecture, 0)
    window = meta.sliding_window or (GEMMA2_DEFAULT_WINDOW if meta.architecture == "gemma2" else 0)
    if not (period and window):
        return {}
    return {"sliding_window": _clamp("sliding_window", window), "swa_period": period}


def _experts(meta: GGUFHeader) -> dict:
    if meta.n_experts < 2:
        return {}
    ffn = _clamp("ffn", meta.ffn)
    expert_ffn = _clamp("expert_ffn", meta.expert_ffn)
    return {"n_experts": _clamp("n_experts", meta.n_experts), "n_experts_used": _clamp("n_experts_used", meta.n_experts_used),
            "expert_ffn": 0 if expert_ffn == ffn else expert_ffn,
            "n_shared_experts": _clamp("n_shared_experts", meta.n_shared_experts),
            "n_dense_layers": _clamp("n_dense_layers", meta.n_dense_layers)}


def _attention(meta: GGUFHeader) -> dict:
    """Heads and head sizes; for a latent-attention file (both ``*_mla`` head sizes present, llama.cpp's test)
    the per-head sizes and the compressed widths, since its key_length is the compressed vector + rotary key."""
    n_heads = _clamp("n_heads", meta.n_heads)
    if meta.kv_lora_rank and meta.mla_key_head_dim and meta.mla_value_head_dim:
        head_dim = _clamp("head_dim", meta.mla_key_head_dim)
        value_dim = _clamp("v_head_dim", meta.mla_value_head_dim)
        return {"n_heads": n_heads, "n_kv_heads": n_heads, "head_dim": head_dim,
                "v_head_dim": 0 if value_dim == head_dim else value_dim,
                "kv_lora_rank": _clamp("kv_lora_rank", meta.kv_lora_rank),
                "q_lora_rank": _clamp("q_lora_rank", meta.q_lora_rank),
                "qk_rope_head_dim": _clamp("qk_rope_head_dim", meta.rope_dim)}
    n_kv = _clamp("n_kv_heads", meta.n_kv_heads)
    head_dim = _clamp("head_dim", meta.head_dim)
    value_dim = _clamp("v_head_dim", meta.value_head_dim)
    return {"n_heads": n_heads, "n_kv_heads": n_heads if n_heads % n_kv else n_kv, "head_dim": head_dim,
            "v_head_dim": 0 if value_dim == head_dim else value_dim}


def architecture_of(meta: GGUFHeader) -> Architecture:
    """The course's ``Architecture`` for a GGUF's shape, read from the keys llama.cpp's loader reads.

    Besides the dense numbers: the sliding window (``attention.sliding_window``, with the family's layer
    pattern, :data:`SWA_PERIOD`), experts (``expert_count``, ``expert_used_count``,
    ``expert_feed_forward_length``, ``expert_shared_count``, ``leading_dense_block_count``) and latent
    attention (``attention.kv_lora_rank``, ``q_lora_rank``, ``key_length_mla``, ``value_length_mla``,
    ``rope.dimension_count``). Architectures the course does not lay out tensor by tensor are treated as
    "llama": the KV cache and compute buffer depend only on the numbers, and the weights come from the file.
    Raises ValueError, naming the file, for numbers no model can have (e.g. more experts used than exist).
    """
    family = meta.architecture if meta.architecture in FAMILIES else "llama"
    try:
        return Architecture(
            name=meta.name, n_layers=_clamp("n_layers", meta.n_layers), hidden=_clamp("hidden", meta.hidden),
            ffn=_clamp("ffn", meta.ffn), vocab=_clamp("vocab", meta.vocab),
            max_context=_clamp("max_context", meta.context_length or 4096), family=family,
            tied_embeddings=meta.output_bytes < meta.embedding_bytes // 2,
            tokenizer="spm" if meta.tokenizer_model == "llama" else "bpe",
            **_attention(meta), **_experts(meta), **_sliding_window(meta))
    except ValueError as err:
        raise ValueError(f"{meta.file_name}: {err}") from None


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated memory of one loaded model (bytes), split between system RAM and the GPU."""

    weights_cpu: int
    weights_gpu: int
    kv_cache_cpu: int
    kv_cache_gpu: int
    compute_buffer: int  # on the GPU when anything is offloaded, else in RAM
    on_gpu: bool

    @property
    def weights(self) -> int:
        return self.weights_cpu + self.weights_gpu

    @property
    def kv_cache(self) -> int:
        return self.kv_cache_cpu + self.kv_cache_gpu

    @property
    def ram(self) -> int:
        return self.weights_cpu + self.kv_cache_cpu + (0 if self.on_gpu else self.compute_buffer)

    @property
    def vram(self) -> int:
        return self.weights_gpu + self.kv_cache_gpu + (self.compute_buffer if self.on_gpu else 0)

    @property
    def total(self) -> int:
        return self.ram + self.vram


def estimate_memory(meta: GGUFHeader, n_ctx: int, n_gpu_layers: int = 0, n_ubatch: int = DEFAULT_UBATCH,
                    cache_type: str = "f16") -> MemoryEstimate:
    """Weights + KV cache + compute buffer for ``n_ctx`` tokens, llama.cpp's way (bytes).

    ``n_gpu_layers`` follows llama.cpp: the last n blocks go to the GPU (their weights and KV
    cache), n > blocks also moves the output layer, -1 means everything; token embeddings stay in
    RAM. The compute buffer is for one micro-batch of ``n_ubatch`` tokens (``helpers.memory.vram``).
    """
    if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int) or n_gpu_layers < -1:
        raise ValueError(f"n_gpu_layers must be -1 (all) or a whole number >= 0, got {n_gpu_layers!r}")
    arch = architecture_of(meta)
    blocks = len(meta.layer_bytes)
    n = blocks + 1 if n_gpu_layers == -1 else n_gpu_layers
    gpu_blocks = min(n, blocks)
    weights_gpu = sum(meta.layer_bytes[blocks - gpu_blocks:]) + (meta.output_bytes if n > blocks else 0)
    kv_total = kv_cache_bytes(arch, n_ctx, cache_type=cache_type)
    kv_gpu = kv_cache_bytes(arch, n_ctx, cache_type=cache_type, n_layers=min(gpu_blocks, arch.n_layers)) \
        if gpu_blocks else 0
    return MemoryEstimate(
        weights_cpu=meta.tensor_bytes - weights_gpu, weights_gpu=weights_gpu,
        kv_cache_cpu=kv_total - kv_gpu, kv_cache_gpu=kv_gpu,
        compute_buffer=compute_buffer_bytes(arch, n_ctx, ubatch=n_ubatch, flash_attention=False),  # Llama's default
        on_gpu=n > 0,
    )


def check_fits(meta: GGUFHeader, n_ctx: int, n_gpu_layers: int = 0, ram_available_bytes=None,
               vram_bytes=None, n_ubatch: int = DEFAULT_UBATCH) -> MemoryEstimate:
    """The memory estimate, or a ValueError when the model cannot fit before anything is loaded.

    Refuses: more RAM than ``ram_available_bytes`` (default: psutil's available memory), more GPU
    memory than ``vram_bytes`` (default: :func:`gpu_memory_bytes`), and in any case a total above
    RAM + VRAM. The message names the file, what it needs and what there is (MiB or GiB).
    """
    if not isinstance(n_ctx, int) or isinstance(n_ctx, bool) or n_ctx < 1:
        raise ValueError(f"n_ctx must be a whole number of tokens >= 1, got {n_ctx!r}")
    estimate = estimate_memory(meta, n_ctx, n_gpu_layers, n_ubatch)
    ram = psutil.virtual_memory().available if ram_available_bytes is None else int(ram_available_bytes)
    vram = (gpu_memory_bytes() if estimate.on_gpu else 0) if vram_bytes is None else int(vram_bytes)
    need = (f"weights {format_size(estimate.weights)} + KV cache {format_size(estimate.kv_cache)} + "
            f"compute buffer {format_size(estimate.compute_buffer)}")
    if estimate.total > ram + vram:
        raise ValueError(f"{meta.file_name}: needs about {format_size(estimate.total)} ({need}) but only "
                         f"{format_size(ram)} of RAM + {format_size(vram)} of VRAM are available: choose a "
                         "smaller quant or model, or a shorter n_ctx")
    if estimate.vram > vram:
        raise ValueError(f"{meta.file_name}: n_gpu_layers={n_gpu_layers} needs {format_size(estimate.vram)} "
                         f"on the GPU but {format_size(vram)} is available: offload fewer layers")
    if estimate.ram > ram:
        raise ValueError(f"{meta.file_name}: needs {format_size(estimate.ram)} of RAM ({need}) but "
                         f"{format_size(ram)} is available: offload more layers, or use a smaller quant or n_ctx")
    return estimate


def rss_bytes() -> int:
    """Resident set size of this Python process (bytes): the RAM it occupies right now."""
    return psutil.Process().memory_info().rss


_RSS_PROBE = """
import json, sys, psutil, llama_cpp
proc = psutil.Process()
path, n_ctx, n_threads, n_batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
before = proc.memory_info().rss
llm = llama_cpp.Llama(path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, n_batch=n_batch,
                      n_ubatch=n_batch, n_gpu_layers=0, verbose=False)
loaded = proc.memory_info().rss
ids = llm.tokenize(b"ROMEO:\\nO, she doth teach the torches to burn bright!", add_bos=True)
llm.eval(ids)
for _ in range(8):
    llm.eval([llm.sample(top_k=1)])
print(json.dumps({"before_load": before, "after_load": loaded, "after_generation": proc.memory_info().rss}))
"""


def measure_load_rss(path, n_ctx: int, n_threads: int = 2, n_batch: int = DEFAULT_UBATCH,
                     timeout_s: float = 120.0) -> dict:
    """RSS (bytes) of a fresh Python process before loading ``path``, after loading, and after a
    short greedy generation (which pages in the weights llama.cpp memory-maps lazily).

    A separate process keeps this notebook's own allocations out of the figures. CPU only.
    """
    path = Path(path)
    check_gguf(path)
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(path), str(int(n_ctx)), str(int(n_threads)),
                          str(int(n_batch))], capture_output=True, text=True, timeout=timeout_s, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"measuring {path.name} failed: {out.stderr.strip()[-400:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
