"""Will it fit? Memory for running a GGUF model with llama.cpp: weights + KV cache + compute + runtime.

The model, term by term (all in bytes; GiB = 2**30 bytes, GB = 10**9 bytes):

* **weights**: the GGUF tensor data, tensor by tensor (``helpers.memory.gguf_size``).
* **KV cache**: per block, cells x bytes per cell, where llama.cpp rounds the context up to a
  multiple of 256 cells (``KV_CELL_PADDING``) and a cell holds K and V: 2 x KV heads x head dim
  numbers (f16: 2 bytes each; q8_0: 34/32; q4_0: 18/32, from their ggml block layouts).
  *Sliding-window* blocks (Gemma 2/3, gpt-oss) keep only ``window + n_ubatch`` cells, padded to
  256, at most the full context (llama.cpp's ``llama_kv_cache_iswa``); with ``swa_full`` they get the
  full context like the others. llama.cpp's own tools (llama-cli, llama-server) leave ``swa_full``
  off; the library's context defaults (so llama-cpp-python's) turn it on: checked, both, against
  the sizes llama.cpp reports. *Latent attention* (DeepSeek's MLA, files converted with split
  ``attn_k_b``/``attn_v_b``) caches only the compressed vector and the rotary key, ``kv_lora_rank +
  qk_rope_head_dim`` numbers per cell, no separate V (llama.cpp's ``build_attn_inp_k``; older
  files with a fused ``attn_kv_b`` run without MLA and cache every head's decompressed K and V).
* **compute buffer**: the scratch memory llama.cpp's graph allocator reserves for one micro-batch of
  ``n_ubatch`` tokens (its log line "compute buffer size"). Buffers are reused between steps, so the
  peak is the largest of three phases, in bytes per micro-batch token:
  attention ``mask + 4 x heads x context + 22 x hidden`` (f32 scores; flash attention never stores them),
  feed-forward ``mask + 12 x FFN + 8 x hidden`` and logits ``4 x vocab + 8 x hidden``, where the
  attention mask is an input alive through every layer (4 bytes per context token, 2 with flash
  attention; a model with sliding-window blocks has a second mask over their cells). For a mixture
  of experts the feed-forward term is ``13 x n_experts_used x expert width`` (shared experts reuse
  that memory; ``feed_forward_bytes_per_token``). Latent attention adds
  ``10 x heads x (kv_lora_rank + qk_rope_head_dim)`` to the attention phase (absorbed queries and
  per-head outputs in the compressed space, f32). The coefficients were fitted to the sizes
  llama.cpp's CPU backend reports for small models of varied shape
  (``helpers.memory.estimator_check.llama_cpp_buffers``; tests keep them within 10% for dense models
  and 5% for the reduced sliding-window, MoE and MLA models of ``estimator_check.REDUCED``); GPU
  backends reserve similar amounts.
  *Weights left in system RAM* beside a GPU (a partial offload, or ``--n-cpu-moe``): for a micro-batch
  of 32 tokens or more the GPU backend still runs their matrix products, and llama.cpp's scheduler
  copies the whole weight tensor into the GPU's compute buffer first (``ggml_backend_sched_split_graph``
  in ggml-backend.cpp; CUDA's ``offload_op``; "the size of the compute buffers will increase
  significantly when offloading a model partially", llama.cpp PR 6083). The largest such tensor is
  added to the phase that uses it (``offload_copy_bytes``): for a large mixture of experts one layer's
  experts are hundreds of MiB, often more than all the activations.
* **flash attention**: llama.cpp's tools (``-fa auto``, the default since late 2025) turn it on where
  the backend supports it; Ollama turns it on model by model (gpt-oss, Qwen3, Gemma 3 among them;
  ``OLLAMA_FLASH_ATTENTION=1`` forces it) and LM Studio has a switch for it; llama-cpp-python's
  ``Llama`` leaves it off unless ``flash_attn=True`` (``RUNTIME_FLASH_ATTENTION``). Plans default to
  llama.cpp's tools (``DEFAULT_FLASH_ATTENTION``), say which they used and what the other needs.
* **runtime overhead**: a CUDA/ROCm/Metal context, cuBLAS workspaces and the like, ~400 MiB on a
  GPU as nvidia-smi shows before any tensor is allocated (``RUNTIME_OVERHEAD_BYTES``).
* **margin**: a plan is called "fits" only when ``FIT_MARGIN_BYTES`` of the card stay free
  (``usable_gpu_bytes``), the margin llama.cpp's ``--fit`` keeps of the memory free when it starts; a
  plan inside the card but not the margin is a *near miss*. Memory the desktop already uses (what
  nvidia-smi lists) comes off on top.

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
# Free memory llama.cpp's --fit leaves on every device by default (--fit-target 1024 MiB, llama.cpp PR
# 16653): room for what the plan does not count (allocator fragmentation, a CUDA graph, a driver's own
# buffers). A desktop whose GPU also drives the screen needs more: the compositor, a browser and a
# video player hold several hundred MiB to a few GiB of the same memory (nvidia-smi lists them).
FIT_MARGIN_BYTES = 1024 * 2**20
# Flash attention by default, per runtime (see the module docstring); plans follow llama.cpp's tools.
RUNTIME_FLASH_ATTENTION = {"llama.cpp (llama-server, llama-cli)": "on where the backend supports it (-fa auto)",
                           "Ollama": "on for the models it lists (gpt-oss, Qwen3, Gemma 3, ...); OLLAMA_FLASH_ATTENTION=1 "
                                     "forces it",
                           "LM Studio": "a switch in the model's load settings",
                           "llama-cpp-python (Llama)": "off unless flash_attn=True"}
DEFAULT_FLASH_ATTENTION = True
OFFLOAD_COPY_MIN_UBATCH = 32  # GPU backends run RAM weights' products themselves from this batch size on
# Share of unified memory the GPU may use by default: Metal's recommendedMaxWorkingSetSize as
# llama.cpp logs it. Two thirds on Macs of up to 32 GiB (16 GiB: 10922.67 MB,
# github.com/abetlen/llama-cpp-python/issues/687; 32 GiB: 21845.34 MB,
# github.com/ggml-org/llama.cpp/pull/2011), three quarters above (64 GiB: 49152 MiB,
# github.com/ggml-org/llama.cpp/issues/1870). ``sudo sysctl iogpu.wired_limit_mb=N`` raises it.
UNIFIED_GPU_FRACTION_SMALL = 2 / 3
UNIFIED_GPU_FRACTION = 0.75  # Macs with more than UNIFIED_SMALL_GIB
UNIFIED_SMALL_GIB = 32
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


def kv_layer_cells(arch: Architecture, layer: int, context: int, swa_full: bool = False,
                   ubatch: int = DEFAULT_UBATCH) -> int:
    """Cache cells llama.cpp allocates for block ``layer`` (per sequence).

    Full-attention blocks: ``kv_cells(context)``. Sliding-window blocks, unless ``swa_full``:
    ``window + ubatch`` rounded up to 256, at most the full size (llama-kv-cache-iswa.cpp).
    """
    full = kv_cells(context)
    if swa_full or not arch.is_swa_layer(layer):
        return full
    ubatch = _positive_int("ubatch", ubatch, high=65536)
    return min(full, -(-(arch.sliding_window + ubatch) // KV_CELL_PADDING) * KV_CELL_PADDING)


def kv_numbers_per_cell(arch: Architecture) -> int:
    """Numbers one cache cell holds in one block: K and V of every KV head, or MLA's compressed vector."""
    if arch.is_mla:
        return arch.kv_lora_rank + arch.qk_rope_head_dim
    return arch.n_kv_heads * (arch.head_dim + arch.value_head_dim)


def kv_cache_bytes(arch: Architecture, context: int, batch: int = 1, cache_type: str = "f16",
                   n_layers=None, swa_full: bool = False, ubatch: int = DEFAULT_UBATCH) -> int:
    """KV cache bytes: the sum over blocks of cells x numbers per cell x batch x bytes per number.

    Cells per block from :func:`kv_layer_cells` (the context rounded up to 256, or the sliding
    window), numbers per cell from :func:`kv_numbers_per_cell`; for a dense model with full
    attention this is 2 x layers x kv_heads x head_dim x cells x batch x bytes per element.

    ``n_layers`` counts only the last blocks (the ones offloaded to a GPU); default all.
    """
    context = _positive_int("context", context)
    batch = _positive_int("batch", batch, high=MAX_BATCH)
    layers = arch.n_layers if n_layers is None else _positive_int("n_layers", n_layers, low=0, high=arch.n_layers)
    cells = sum(kv_layer_cells(arch, i, context, swa_full, ubatch) for i in range(arch.n_layers - layers, arch.n_layers))
    return math.ceil(cells * kv_numbers_per_cell(arch) * batch * kv_bytes_per_element(cache_type))


def context_where_kv_exceeds(arch: Architecture, nbytes: int, batch: int = 1, cache_type: str = "f16",
                             swa_full: bool = False):
    """The smallest context (tokens) whose KV cache (:func:`kv_cache_bytes`) is larger than ``nbytes`` bytes.

    For example ``nbytes`` = the weights: from this context on the cache outweighs the model. The
    cache grows in steps of 256 cells, so the answer is one token past a multiple of 256 (or 1).
    Returns None when even ``MAX_CONTEXT`` tokens stay at or below ``nbytes``. Not capped at the
    model's trained context: compare with ``arch.max_context`` yourself.
    """
    nbytes = _positive_int("nbytes", nbytes, low=0, high=2**62)
    low, high = 1, MAX_CONTEXT // KV_CELL_PADDING  # in blocks of 256 cells
    if kv_cache_bytes(arch, high * KV_CELL_PADDING, batch, cache_type, swa_full=swa_full) <= nbytes:
        return None
    while low < high:  # the cache never shrinks as the context grows, so bisect
        mid = (low + high) // 2
        if kv_cache_bytes(arch, mid * KV_CELL_PADDING, batch, cache_type, swa_full=swa_full) > nbytes:
            high = mid
        else:
            low = mid + 1
    return (low - 1) * KV_CELL_PADDING + 1


def swa_savings(arch: Architecture, context: int, cache_type: str = "f16") -> dict:
    """KV cache bytes with the window only, with ``swa_full``, and as a generic all-layers formula would say.

    The generic formula (2 x layers x kv_heads x head_dim x context, the one most online calculators
    use) ignores both sliding windows and latent attention.
    """
    generic = Architecture(arch.name, arch.n_layers, arch.hidden, arch.ffn, arch.n_heads, arch.n_kv_heads,
                           arch.head_dim, arch.vocab, arch.max_context)
    return {"window only": kv_cache_bytes(arch, context, cache_type=cache_type),
            "swa_full": kv_cache_bytes(arch, context, cache_type=cache_type, swa_full=True),
            "generic formula": kv_cache_bytes(generic, context, cache_type=cache_type)}


def feed_forward_bytes_per_token(arch: Architecture) -> int:
    """Compute-buffer bytes per micro-batch token of the feed-forward phase (f32 activations).

    Dense: ``12 x FFN``. Mixture of experts: ``13 x n_experts_used x expert width`` for the routed
    experts (their outputs are kept per expert before the weighted sum), or the dense FFN's where a
    model has dense blocks and that is larger; shared experts run after and reuse the same memory.
    """
    if not arch.is_moe:
        return 12 * arch.ffn
    routed = 13 * arch.n_experts_used * arch.expert_width
    return max(routed, 12 * arch.ffn if arch.n_dense_layers else 0)


def compute_buffer_bytes(arch: Architecture, context: int, ubatch: int = DEFAULT_UBATCH, *,
                         flash_attention: bool, swa_full: bool = False, ffn_copy_bytes: int = 0,
                         output_copy_bytes: int = 0) -> int:
    """llama.cpp's compute buffer (bytes): the largest of the attention, feed-forward and logits phases.

    ``flash_attention`` must be said (runtimes differ: ``RUNTIME_FLASH_ATTENTION``). ``ffn_copy_bytes``
    and ``output_copy_bytes``: a weight tensor in system RAM that a GPU copies into this buffer to run
    its product (``offload_copy_bytes``), added to the feed-forward or the logits phase; 0 on a CPU.
    """
    cells = kv_cells(context)
    ubatch = min(_positive_int("ubatch", ubatch, high=65536), cells)
    d = arch.hidden
    mask_cells = cells
    if arch.sliding_window:  # a second mask over the sliding-window cache
        mask_cells += kv_layer_cells(arch, 0, context, swa_full, ubatch)
    mask = (2 if flash_attention else 4) * mask_cells  # an input, alive through every layer
    attention = (0 if flash_attention else 4 * arch.n_heads * cells) + 22 * d
    if arch.is_mla:  # absorbed queries, per-head outputs in the compressed space (f32)
        attention += 10 * arch.n_heads * (arch.kv_lora_rank + arch.qk_rope_head_dim)
    feed_forward = feed_forward_bytes_per_token(arch) + 8 * d
    logits = 4 * arch.vocab + 8 * d
    return int(max(ubatch * (mask + attention), ubatch * (mask + feed_forward) + ffn_copy_bytes,
                   ubatch * logits + output_copy_bytes))


@dataclass(frozen=True)
class WeightSplit:
    """Where the weight bytes live for a given ``n_gpu_layers``."""

    gpu_bytes: int
    cpu_bytes: int
    layers_on_gpu: int  # blocks on the GPU
    output_on_gpu: bool


def is_expert_tensor(name: str) -> bool:
    """The routed experts' weights (``ffn_*_exps``), which ``--n-cpu-moe`` keeps in system RAM."""
    return "_exps." in name


def check_n_cpu_moe(arch: Architecture, n_cpu_moe) -> int:
    n = _positive_int("n_cpu_moe", n_cpu_moe, low=0, high=arch.n_layers)
    if n and not arch.is_moe:
        raise ValueError(f"n_cpu_moe needs a mixture of experts; {arch.name!r} has no experts")
    return n


def tensor_placement(arch: Architecture, mix: str, n_gpu_layers: int, imatrix: bool = False,
                     n_cpu_moe: int = 0) -> list:
    """(predicted tensor, on the GPU?) for every tensor, like llama.cpp's ``--n-gpu-layers`` and ``--n-cpu-moe``.

    ``n_gpu_layers`` < 0 means all; the last ``n`` blocks go to the GPU, and ``n > n_layers`` also
    the output layer; the token embeddings stay in system RAM. ``n_cpu_moe``: the expert tensors of
    blocks 0 .. n_cpu_moe - 1 stay in system RAM however many blocks are offloaded (llama.cpp's
    ``--n-cpu-moe N``, the same as ``--override-tensor "blk\\.(0|1|...)\\.ffn_.*_exps\\.=CPU"``).
    """
    n_cpu_moe = check_n_cpu_moe(arch, n_cpu_moe)
    n = arch.n_layers + 1 if n_gpu_layers < 0 else _positive_int("n_gpu_layers", n_gpu_layers, low=0, high=10**6)
    first_gpu_layer = max(arch.n_layers - n, 0)
    out = []
    for t in predicted_tensors(arch, mix, imatrix):
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else None
        if layer is not None:
            on_gpu = layer >= first_gpu_layer and not (layer < n_cpu_moe and is_expert_tensor(t.name))
        else:
            on_gpu = n > arch.n_layers and t.name != "token_embd.weight"
        out.append((t, on_gpu))
    return out


def bytes_read_split(arch: Architecture, mix: str, n_gpu_layers: int = -1, n_cpu_moe: int = 0) -> tuple:
    """Weight bytes one generated token reads on the GPU and in system RAM: (gpu, cpu).

    Every matrix is read once, routed experts only in the share ``n_experts_used / n_experts``
    (an average over tokens: which experts run changes from token to token), token_embd not at all
    unless tied to the output.
    """
    output_on_gpu = n_gpu_layers < 0 or n_gpu_layers > arch.n_layers
    gpu = cpu = 0
    for t, on_gpu in tensor_placement(arch, mix, n_gpu_layers, n_cpu_moe=n_cpu_moe):
        if t.name == "token_embd.weight":
            if not arch.tied_embeddings:
                continue
            on_gpu = output_on_gpu  # tied: the output layer reads the GPU's copy when it is offloaded
        read = t.nbytes * arch.n_experts_used // arch.n_experts if "_exps." in t.name else t.nbytes
        if on_gpu:
            gpu += read
        else:
            cpu += read
    return gpu, cpu


def weight_split(arch: Architecture, mix: str, n_gpu_layers: int, imatrix: bool = False,
                 n_cpu_moe: int = 0) -> WeightSplit:
    """Split weights between GPU and system RAM (bytes) as :func:`tensor_placement` places them.

    With tied embeddings and the output layer on the GPU, the GPU also holds a copy of token_embd.
    """
    gpu = cpu = 0
    for t, on_gpu in tensor_placement(arch, mix, n_gpu_layers, imatrix, n_cpu_moe):
        if on_gpu:
            gpu += t.nbytes
        else:
            cpu += t.nbytes
    n = arch.n_layers + 1 if n_gpu_layers < 0 else n_gpu_layers
    output_on_gpu = n > arch.n_layers
    if arch.tied_embeddings and output_on_gpu:
        gpu += next(t.nbytes for t in predicted_tensors(arch, mix, imatrix) if t.name == "token_embd.weight")
    return WeightSplit(gpu, cpu, min(n, arch.n_layers), output_on_gpu)


def offload_copy_bytes(arch: Architecture, mix: str, n_gpu_layers: int, imatrix: bool = False,
                       n_cpu_moe: int = 0, ubatch: int = DEFAULT_UBATCH) -> tuple:
    """(feed-forward, output) weight bytes a GPU copies into its compute buffer from system RAM (bytes).

    With some weights in RAM beside a GPU, a micro-batch of ``OFFLOAD_COPY_MIN_UBATCH`` tokens or more
    runs their products on the GPU on a copy of the whole tensor (see the module docstring). The
    buffer is reused, so only the largest block tensor counts, and the output matrix (or the tied
    embeddings serving as it) when it stays in RAM. (0, 0) for a CPU-only plan or all on the GPU.
    """
    placement = tensor_placement(arch, mix, n_gpu_layers, imatrix, n_cpu_moe)
    on_gpu_any = any(on_gpu for _, on_gpu in placement)
    if not on_gpu_any or ubatch < OFFLOAD_COPY_MIN_UBATCH:
        return 0, 0
    in_ram = [t for t, on_gpu in placement if not on_gpu]
    block = max((t.nbytes for t in in_ram if t.name.startswith("blk.") and len(t.shape) > 1), default=0)
    output_name = "token_embd.weight" if arch.tied_embeddings else "output.weight"
    output = sum(t.nbytes for t in in_ram if t.name == output_name)
    return block, output


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
    flash_attention: bool = DEFAULT_FLASH_ATTENTION

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
                cache_type: str = "f16", flash_attention: bool = DEFAULT_FLASH_ATTENTION, imatrix: bool = False,
                swa_full: bool = False, n_cpu_moe: int = 0) -> MemoryPlan:
    """All memory terms for running ``arch`` at ``mix`` with ``context`` tokens and ``n_gpu_layers``.

    ``n_gpu_layers=0`` is a CPU-only run: no GPU context, everything in RAM. ``swa_full``: keep a
    full-size cache for sliding-window blocks. ``n_cpu_moe``: llama.cpp's ``--n-cpu-moe``, the expert
    tensors of the first n blocks stay in system RAM (see :func:`weight_split`). ``flash_attention``:
    llama.cpp's tools' default (on); pass False for llama-cpp-python's ``Llama`` as it comes.
    """
    split = weight_split(arch, mix, n_gpu_layers, imatrix, n_cpu_moe)
    kv_total = kv_cache_bytes(arch, context, batch, cache_type, swa_full=swa_full)
    kv_gpu = kv_cache_bytes(arch, context, batch, cache_type, n_layers=split.layers_on_gpu,
                            swa_full=swa_full) if split.layers_on_gpu else 0
    ffn_copy, output_copy = offload_copy_bytes(arch, mix, n_gpu_layers, imatrix, n_cpu_moe)
    compute = compute_buffer_bytes(arch, context, flash_attention=flash_attention, swa_full=swa_full,
                                   ffn_copy_bytes=ffn_copy, output_copy_bytes=output_copy)
    on_gpu = split.layers_on_gpu > 0 or split.output_on_gpu
    return MemoryPlan(
        weights_gpu=split.gpu_bytes, weights_cpu=split.cpu_bytes,
        kv_gpu=kv_gpu, kv_cpu=kv_total - kv_gpu,
        compute_gpu=compute if on_gpu else 0, compute_cpu=0 if on_gpu else compute,
        overhead_gpu=RUNTIME_OVERHEAD_BYTES if on_gpu else 0,
        layers_on_gpu=split.layers_on_gpu, output_on_gpu=split.output_on_gpu, flash_attention=flash_attention,
    )


def file_memory_plan(header, arch: Architecture, context: int, n_gpu_layers: int = -1, batch: int = 1,
                     cache_type: str = "f16", flash_attention: bool = DEFAULT_FLASH_ATTENTION) -> MemoryPlan:
    """:func:`memory_plan` for a real file: weights from its tensor table, not from a predicted mix.

    ``header`` is a ``helpers.gguf.header.GGUFHeader`` (local or read remotely); ``arch`` its shape
    (``helpers.llm.memory_check.architecture_of``) for the KV cache and compute buffer. Offload as in
    :func:`weight_split`: the last n blocks, n > blocks adds the output layer (with a copy of the
    token embeddings when the file ties them), token embeddings stay in RAM. Bytes.
    """
    blocks = len(header.layer_bytes)
    n = blocks + 1 if n_gpu_layers < 0 else _positive_int("n_gpu_layers", n_gpu_layers, low=0, high=10**6)
    layers_on_gpu = min(n, blocks)
    output_on_gpu = n > blocks
    weights_gpu = sum(header.layer_bytes[blocks - layers_on_gpu:])
    weights_cpu = header.tensor_bytes - weights_gpu
    if output_on_gpu:
        weights_gpu += header.output_bytes
        weights_cpu -= header.output_bytes
        if not header.has_output_weight:
            weights_gpu += header.embedding_bytes  # llama.cpp copies tied embeddings to the GPU
    kv_total = kv_cache_bytes(arch, context, batch, cache_type)
    kv_layers = min(layers_on_gpu, arch.n_layers)
    kv_gpu = kv_cache_bytes(arch, context, batch, cache_type, n_layers=kv_layers) if kv_layers else 0
    on_gpu = layers_on_gpu > 0 or output_on_gpu
    # weights in RAM that the GPU copies to run them (offload_copy_bytes); the largest block matrix of the file
    ffn_copy = header.largest_block_matrix_bytes if 0 < layers_on_gpu < blocks else 0
    output_copy = (header.output_bytes or header.embedding_bytes) if on_gpu and not output_on_gpu else 0
    compute = compute_buffer_bytes(arch, context, flash_attention=flash_attention, ffn_copy_bytes=ffn_copy,
                                   output_copy_bytes=output_copy)
    return MemoryPlan(
        weights_gpu=weights_gpu, weights_cpu=weights_cpu, kv_gpu=kv_gpu, kv_cpu=kv_total - kv_gpu,
        compute_gpu=compute if on_gpu else 0, compute_cpu=0 if on_gpu else compute,
        overhead_gpu=RUNTIME_OVERHEAD_BYTES if on_gpu else 0,
        layers_on_gpu=layers_on_gpu, output_on_gpu=output_on_gpu, flash_attention=flash_attention,
    )


def unified_gpu_fraction(memory_bytes: int) -> float:
    """Default share of unified memory (bytes) the Metal GPU may use: 2/3 up to 32 GiB, 3/4 above."""
    return UNIFIED_GPU_FRACTION_SMALL if memory_bytes <= UNIFIED_SMALL_GIB * 2**30 else UNIFIED_GPU_FRACTION


def gpu_capacity_bytes(gpu: GPU) -> int:
    """Bytes the GPU can hold: all VRAM for a discrete card, :func:`unified_gpu_fraction` of unified memory."""
    if gpu.kind == "unified":
        return int(gpu.memory_bytes * unified_gpu_fraction(gpu.memory_bytes))
    return gpu.memory_bytes if gpu.kind == "discrete" else 0


def plan_budget_bytes(capacity_bytes: int, margin_bytes: int = FIT_MARGIN_BYTES) -> int:
    """What a plan may use of ``capacity_bytes`` on a GPU: the capacity less the margin kept free (bytes)."""
    return max(0, int(capacity_bytes) - margin_bytes)


def usable_gpu_bytes(gpu: GPU) -> int:
    """Bytes a plan may use on ``gpu``: :func:`gpu_capacity_bytes` less ``FIT_MARGIN_BYTES`` (0 on a CPU)."""
    capacity = gpu_capacity_bytes(gpu)
    return plan_budget_bytes(capacity) if capacity else 0


@dataclass(frozen=True)
class Verdict:
    """The answer to "will it run?" for one configuration (bytes; tokens/s estimated).

    ``gpu_budget_bytes`` is what the plan may use, the margin already taken off; a plan above it but
    within the margin is a *near miss*: it would load, with less free memory than llama.cpp's ``--fit``
    keeps, and fail as soon as anything else wants GPU memory.
    """

    fits: bool
    plan: MemoryPlan
    gpu_budget_bytes: int
    ram_budget_bytes: int  # 0 when unknown (not checked)
    reason: str
    margin_bytes: int = FIT_MARGIN_BYTES

    @property
    def gpu_headroom_bytes(self) -> int:
        """Budget left after the plan (bytes, margin not counted); negative when it does not fit."""
        return self.gpu_budget_bytes - self.plan.gpu_total

    @property
    def near_miss(self) -> bool:
        return not self.fits and -self.margin_bytes <= self.gpu_headroom_bytes < 0


def judge(plan: MemoryPlan, gpu_budget_bytes: int, ram_budget_bytes: int = 0,
          margin_bytes: int = FIT_MARGIN_BYTES) -> Verdict:
    """Compare a plan with the memory available: ``gpu_budget_bytes`` after the margin (``usable_gpu_bytes``),
    ``ram_budget_bytes`` 0 = do not check system RAM."""
    need, gib = plan.gpu_total, 2**30
    if need > gpu_budget_bytes + margin_bytes:
        return Verdict(False, plan, gpu_budget_bytes, ram_budget_bytes,
                       f"needs {need / gib:.2f} GiB on the GPU, {(gpu_budget_bytes + margin_bytes) / gib:.2f} GiB "
                       f"there ({gpu_budget_bytes / gib:.2f} GiB after the {margin_bytes / gib:.2f} GiB margin): "
                       "offload fewer layers, use a smaller quant or a shorter context", margin_bytes)
    if need > gpu_budget_bytes:
        free = gpu_budget_bytes + margin_bytes - need
        return Verdict(False, plan, gpu_budget_bytes, ram_budget_bytes,
                       f"near miss: needs {need / gib:.2f} GiB on the GPU, leaving {free / gib:.2f} GiB free, less "
                       f"than the {margin_bytes / gib:.2f} GiB margin llama.cpp's --fit keeps (more on a desktop "
                       "whose GPU also drives the screen): shorten the context or offload one layer fewer",
                       margin_bytes)
    if ram_budget_bytes and plan.cpu_total > ram_budget_bytes:
        return Verdict(False, plan, gpu_budget_bytes, ram_budget_bytes,
                       f"needs {plan.cpu_total / gib:.2f} GiB of system RAM, {ram_budget_bytes / gib:.2f} GiB usable",
                       margin_bytes)
    if plan.output_on_gpu:
        where = "all blocks and the output layer on the GPU"
    elif plan.layers_on_gpu:
        where = f"{plan.layers_on_gpu} blocks on the GPU, the rest in system RAM"
    else:
        where = "on the CPU, in system RAM"
    return Verdict(True, plan, gpu_budget_bytes, ram_budget_bytes, f"fits: {where}", margin_bytes)


def most_layers_that_fit(plan_for, n_blocks: int, gpu_budget_bytes: int) -> int:
    """The largest ``n_gpu_layers`` (0 .. n_blocks + 1) whose plan, ``plan_for(n_gpu_layers)`` (a
    :class:`MemoryPlan`), keeps its GPU share within ``gpu_budget_bytes`` (bytes).

    Every setting is tried: all blocks but the output can need more than all of them, because a GPU
    copies an output matrix left in RAM into its compute buffer (``offload_copy_bytes``).
    """
    fitting = [n for n in range(1, n_blocks + 2) if plan_for(n).gpu_total <= gpu_budget_bytes]
    return max(fitting, default=0)


def most_gpu_layers_that_fit(arch: Architecture, mix: str, context: int, gpu_budget_bytes: int, **kwargs) -> int:
    """:func:`most_layers_that_fit` for ``arch`` at ``mix``: the largest ``n_gpu_layers`` (0 .. n_layers + 1)
    whose :func:`memory_plan` (``kwargs`` passed on) fits ``gpu_budget_bytes`` on the GPU."""
    return most_layers_that_fit(lambda n: memory_plan(arch, mix, context, n, **kwargs), arch.n_layers,
                                gpu_budget_bytes)


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
