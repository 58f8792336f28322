"""Will it fit? Memory for running a GGUF model with llama.cpp: weights + KV cache + compute + runtime.

The model, term by term (all in bytes; GiB = 2**30 bytes, GB = 10**9 bytes):

* **weights**: the GGUF tensor data, tensor by tensor (``helpers.memory.gguf_size``).
* **KV cache**: 2 (K and V) x layers x KV heads x head dim x cells x sequences x bytes per element,
  where llama.cpp rounds the context up to a multiple of 256 cells (``KV_CELL_PADDING``) (f16: 2; q8_0: 34/32;
  q4_0: 18/32, from their ggml block layouts). Sliding-window layers
  (Gemma 2) get a full-size cache too: llama-cpp-python's context defaults keep ``swa_full`` on
  (checked: llama.cpp reports equal SWA and non-SWA caches); llama.cpp's own CLI, with it off,
  caches only the window for those layers, so there this is an upper bound.
* **compute buffer**: the scratch memory llama.cpp's graph allocator reserves for one micro-batch of
  ``n_ubatch`` tokens (its log line "compute buffer size"). Buffers are reused between steps, so the
  peak is the largest of three phases, in bytes per micro-batch token:
  attention ``mask + 4 x heads x context + 22 x hidden`` (f32 scores; flash attention never stores them),
  feed-forward ``mask + 12 x FFN + 8 x hidden`` and logits ``4 x vocab + 8 x hidden``, where the
  attention mask is an input alive through every layer (4 bytes per context token, 2 with flash
  attention). The coefficients were fitted to the sizes llama.cpp's CPU backend reports for small
  models of varied shape (``helpers.memory.estimator_check.llama_cpp_buffers``; a test keeps them within 10%);
  GPU backends reserve similar amounts.
* **runtime overhead**: a CUDA/ROCm/Metal context, cuBLAS workspaces and the like, ~400 MiB on a
  GPU as nvidia-smi shows before any tensor is allocated (``RUNTIME_OVERHEAD_BYTES``).

Offload follows llama.cpp's ``n_gpu_layers``: the *last* n blocks go to the GPU; n = blocks + 1 also
moves the output layer; the token embeddings always stay in system RAM. KV cache of offloaded
blocks lives on the GPU.
"""
import math
from dataclasses import dataclass

from helpers.course.catalog import GPU, load_quant_types
from helpers.memory.architecture import Architecture
from helpers.memory.gguf_size import predicted_tensors

KV_CACHE_TYPES = ("f16", "q8_0", "q4_0", "f32")
RUNTIME_OVERHEAD_BYTES = 400 * 2**20
# Share of unified memory the GPU may use by default (Metal's recommendedMaxWorkingSetSize is
# about two thirds to three quarters of RAM; 0.75 is used here).
UNIFIED_GPU_FRACTION = 0.75
DEFAULT_UBATCH = 512  # llama.cpp's default n_ubatch (tokens per compute step)
KV_CELL_PADDING = 256  # llama.cpp allocates the KV cache in multiples of 256 cells
MAX_CONTEXT = 10_000_000
MAX_BATCH = 4096


def _positive_int(name: str, value, low: int = 1, high: int = MAX_CONTEXT) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return int(value)


def kv_bytes_per_element(cache_type: str) -> float:
    """Bytes per cached K or V number: f16 2, f32 4, q8_0 34/32, q4_0 18/32."""
    if cache_type not in KV_CACHE_TYPES:
        raise ValueError(f"kv cache type must be one of {KV_CACHE_TYPES}, got {cache_type!r}")
    qt = load_quant_types()[cache_type.upper()]
    return qt.bytes_per_block / qt.block_size


def kv_cells(context: int) -> int:
    """Cache cells llama.cpp allocates for ``context`` tokens: rounded up to a multiple of 256."""
    return -(-_positive_int("context", context) // KV_CELL_PADDING) * KV_CELL_PADDING


def kv_cache_bytes(arch: Architecture, context: int, batch: int = 1, cache_type: str = "f16",
                   n_layers=None) -> int:
    """KV cache bytes: 2 x layers x kv_heads x head_dim x cells x batch x bytes per element.

    cells = ``context`` rounded up to a multiple of ``KV_CELL_PADDING``, as llama.cpp allocates them.

    ``n_layers`` counts only some blocks (the ones offloaded to a GPU); default all.
    """
    context = _positive_int("context", context)
    batch = _positive_int("batch", batch, high=MAX_BATCH)
    layers = arch.n_layers if n_layers is None else _positive_int("n_layers", n_layers, low=0, high=arch.n_layers)
    elements = 2 * layers * arch.n_kv_heads * arch.head_dim * kv_cells(context) * batch
    return math.ceil(elements * kv_bytes_per_element(cache_type))


def compute_buffer_bytes(arch: Architecture, context: int, ubatch: int = DEFAULT_UBATCH,
                         flash_attention: bool = False) -> int:
    """llama.cpp's compute buffer (bytes): the largest of the attention, feed-forward and logits phases."""
    context = kv_cells(context)
    ubatch = min(_positive_int("ubatch", ubatch, high=65536), context)
    d, f = arch.hidden, arch.ffn
    mask = 2 * context if flash_attention else 4 * context  # an input, alive through every layer
    attention = (0 if flash_attention else 4 * arch.n_heads * context) + 22 * d
    feed_forward = 12 * f + 8 * d
    logits = 4 * arch.vocab + 8 * d
    return int(ubatch * max(mask + attention, mask + feed_forward, logits))


@dataclass(frozen=True)
class WeightSplit:
    """Where the weight bytes live for a given ``n_gpu_layers``."""

    gpu_bytes: int
    cpu_bytes: int
    layers_on_gpu: int  # blocks on the GPU
    output_on_gpu: bool


def weight_split(arch: Architecture, mix: str, n_gpu_layers: int, imatrix: bool = False) -> WeightSplit:
    """Split weights between GPU and system RAM like llama.cpp's ``--n-gpu-layers``.

    ``n_gpu_layers`` < 0 means all; the last ``n`` blocks go to the GPU, and ``n > n_layers`` also
    the output layer (with tied embeddings the GPU then holds a copy of token_embd).
    """
    n = arch.n_layers + 1 if n_gpu_layers < 0 else _positive_int("n_gpu_layers", n_gpu_layers, low=0, high=10**6)
    first_gpu_layer = max(arch.n_layers - n, 0)
    output_on_gpu = n > arch.n_layers
    gpu = cpu = 0
    for t in predicted_tensors(arch, mix, imatrix):
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else None
        if layer is not None:
            on_gpu = layer >= first_gpu_layer
        else:
            on_gpu = output_on_gpu and t.name != "token_embd.weight"
        if on_gpu:
            gpu += t.nbytes
        else:
            cpu += t.nbytes
        if t.name == "token_embd.weight" and arch.tied_embeddings and output_on_gpu:
            gpu += t.nbytes
    return WeightSplit(gpu, cpu, min(n, arch.n_layers), output_on_gpu)


@dataclass(frozen=True)
class MemoryPlan:
    """Every term, in bytes, on the GPU and in system RAM."""

    weights_gpu: int
    weights_cpu: int
    kv_gpu: int
    kv_cpu: int
    compute_gpu: int
    compute_cpu: int
    overhead_gpu: int
    layers_on_gpu: int
    output_on_gpu: bool

    @property
    def gpu_total(self) -> int:
        return self.weights_gpu + self.kv_gpu + self.compute_gpu + self.overhead_gpu

    @property
    def cpu_total(self) -> int:
        return self.weights_cpu + self.kv_cpu + self.compute_cpu

    @property
    def total(self) -> int:
        return self.gpu_total + self.cpu_total


def memory_plan(arch: Architecture, mix: str, context: int, n_gpu_layers: int = -1, batch: int = 1,
                cache_type: str = "f16", flash_attention: bool = False, imatrix: bool = False) -> MemoryPlan:
    """All memory terms for running ``arch`` at ``mix`` with ``context`` tokens and ``n_gpu_layers``.

    ``n_gpu_layers=0`` is a CPU-only run: no GPU context, everything in RAM.
    """
    split = weight_split(arch, mix, n_gpu_layers, imatrix)
    kv_total = kv_cache_bytes(arch, context, batch, cache_type)
    kv_gpu = kv_cache_bytes(arch, context, batch, cache_type, n_layers=split.layers_on_gpu) if split.layers_on_gpu else 0
    compute = compute_buffer_bytes(arch, context, flash_attention=flash_attention)
    on_gpu = split.layers_on_gpu > 0 or split.output_on_gpu
    return MemoryPlan(
        weights_gpu=split.gpu_bytes, weights_cpu=split.cpu_bytes,
        kv_gpu=kv_gpu, kv_cpu=kv_total - kv_gpu,
        compute_gpu=compute if on_gpu else 0, compute_cpu=0 if on_gpu else compute,
        overhead_gpu=RUNTIME_OVERHEAD_BYTES if on_gpu else 0,
        layers_on_gpu=split.layers_on_gpu, output_on_gpu=split.output_on_gpu,
    )


def usable_gpu_bytes(gpu: GPU) -> int:
    """Bytes the GPU may use: all VRAM for a discrete card, ``UNIFIED_GPU_FRACTION`` of unified memory."""
    if gpu.kind == "unified":
        return int(gpu.memory_bytes * UNIFIED_GPU_FRACTION)
    return gpu.memory_bytes if gpu.kind == "discrete" else 0


@dataclass(frozen=True)
class Verdict:
    """The answer to "will it run?" for one configuration (bytes; tokens/s estimated)."""

    fits: bool
    plan: MemoryPlan
    gpu_budget_bytes: int
    ram_budget_bytes: int  # 0 when unknown (not checked)
    reason: str

    @property
    def gpu_headroom_bytes(self) -> int:
        return self.gpu_budget_bytes - self.plan.gpu_total


def judge(plan: MemoryPlan, gpu_budget_bytes: int, ram_budget_bytes: int = 0) -> Verdict:
    """Compare a plan with the memory available. ``ram_budget_bytes`` 0 = do not check system RAM."""
    if plan.gpu_total > gpu_budget_bytes:
        need, have = plan.gpu_total / 2**30, gpu_budget_bytes / 2**30
        return Verdict(False, plan, gpu_budget_bytes, ram_budget_bytes,
                       f"needs {need:.2f} GiB on the GPU, {have:.2f} GiB usable: offload fewer layers, "
                       "use a smaller quant or a shorter context")
    if ram_budget_bytes and plan.cpu_total > ram_budget_bytes:
        return Verdict(False, plan, gpu_budget_bytes, ram_budget_bytes,
                       f"needs {plan.cpu_total / 2**30:.2f} GiB of system RAM, {ram_budget_bytes / 2**30:.2f} GiB usable")
    if plan.output_on_gpu:
        where = "all blocks and the output layer on the GPU"
    elif plan.layers_on_gpu:
        where = f"{plan.layers_on_gpu} blocks on the GPU, the rest in system RAM"
    else:
        where = "on the CPU, in system RAM"
    return Verdict(True, plan, gpu_budget_bytes, ram_budget_bytes, f"fits: {where}")


def most_gpu_layers_that_fit(arch: Architecture, mix: str, context: int, gpu_budget_bytes: int, **kwargs) -> int:
    """The largest ``n_gpu_layers`` (0 .. n_layers + 1) whose GPU share fits ``gpu_budget_bytes``."""
    best = 0
    for n in range(1, arch.n_layers + 2):
        if memory_plan(arch, mix, context, n, **kwargs).gpu_total > gpu_budget_bytes:
            break
        best = n
    return best


def largest_context_that_fits(arch: Architecture, mix: str, budget_bytes: int, n_gpu_layers: int = -1,
                              step: int = 256, **kwargs) -> int:
    """Largest context (a multiple of ``step``, at most the model's max) whose memory fits ``budget_bytes``.

    The budget is checked against the GPU total when layers are offloaded, else against the CPU total.
    Returns 0 when not even ``step`` tokens fit.
    """
    def need(ctx):
        plan = memory_plan(arch, mix, ctx, n_gpu_layers, **kwargs)
        return plan.gpu_total if (plan.layers_on_gpu or plan.output_on_gpu) else plan.cpu_total

    low, high = 0, arch.max_context // step
    while low < high:  # memory grows with context, so bisect
        mid = (low + high + 1) // 2
        if need(mid * step) <= budget_bytes:
            low = mid
        else:
            high = mid - 1
    return low * step
