"""Operate a local GGUF model like a runtime does: read its metadata, estimate its memory from the
file itself, refuse it when it cannot fit, then load it; measure what the load really costs.

Sizes are in bytes unless a name says otherwise (MiB = 2**20, GiB = 2**30 bytes, GB = 10**9 bytes; see
``helpers.units``). The memory estimate reuses the course's model of llama.cpp (``helpers.vram``):
weights (read exactly from the file's tensor table) + KV cache + compute buffer.
"""
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import gguf
import psutil

from helpers.architecture import FAMILIES, LIMITS, Architecture
from helpers.llm import inspect_gguf
from helpers.units import GiB, MiB, format_gib
from helpers.vram import DEFAULT_UBATCH, compute_buffer_bytes, kv_cache_bytes


@dataclass(frozen=True)
class GGUFMetadata:
    """What a GGUF header says about a model, before any weight is loaded. Sizes in bytes."""

    file_name: str
    name: str
    architecture: str  # llama.cpp's general.architecture, e.g. "llama", "qwen2"
    file_type: str  # e.g. "Q4_K_M", "F16"
    file_bytes: int
    tensor_bytes: int  # sum of all tensor data
    layer_bytes: tuple  # tensor bytes of each block blk.0, blk.1, ...
    output_bytes: int  # output.weight + output_norm (0 bytes for output.weight when tied)
    embedding_bytes: int  # token_embd.weight
    context_length: int  # tokens the model was trained for
    n_layers: int
    hidden: int
    ffn: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab: int
    chat_template: str  # "" when the file has none
    bos_token: str
    eos_token: str

    def as_rows(self) -> list:
        """(field, value) pairs for a table; sizes as bytes and GiB."""
        return [
            ("name", self.name), ("architecture", self.architecture), ("file type", self.file_type),
            ("file size", f"{self.file_bytes:,} bytes ({format_size(self.file_bytes)})"),
            ("trained context (tokens)", self.context_length), ("blocks (layers)", self.n_layers),
            ("hidden size", self.hidden), ("feed-forward size", self.ffn),
            ("attention heads / KV heads", f"{self.n_heads} / {self.n_kv_heads}"),
            ("head dim", self.head_dim), ("vocabulary (tokens)", self.vocab),
            ("chat template", "yes" if self.chat_template else "none (plain completion only)"),
            ("BOS / EOS token", f"{self.bos_token} / {self.eos_token}"),
        ]


def _value(reader, key, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    value = field.contents()
    if isinstance(value, list):  # per-layer arrays (e.g. head_count_kv of some models): the largest
        numbers = [v for v in value if isinstance(v, (int, float))]
        return max(numbers) if numbers else default
    return value


def read_metadata(path) -> GGUFMetadata:
    """Read a GGUF's metadata and tensor table (memory-mapped; no weights are loaded).

    The file is first checked by ``helpers.llm.inspect_gguf`` (magic, header, truncation), so a
    non-GGUF or damaged file raises ValueError naming the file. Memory is checked separately by
    :func:`check_fits`, which knows the context and the offload settings.
    """
    path = Path(path)
    info = inspect_gguf(path, available_bytes=float("inf"))
    reader = gguf.GGUFReader(path, "r")
    arch = info.architecture
    layer_bytes, output_bytes, embedding_bytes = {}, 0, 0
    for t in reader.tensors:
        if t.name.startswith("blk."):
            i = int(t.name.split(".")[1])
            layer_bytes[i] = layer_bytes.get(i, 0) + int(t.n_bytes)
        elif t.name == "token_embd.weight":
            embedding_bytes += int(t.n_bytes)
        else:
            output_bytes += int(t.n_bytes)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = len(tokens.data) if tokens is not None else int(_value(reader, f"{arch}.vocab_size", 0))
    hidden = int(_value(reader, f"{arch}.embedding_length", 0))
    n_heads = int(_value(reader, f"{arch}.attention.head_count", 1))
    head_dim = int(_value(reader, f"{arch}.attention.key_length", hidden // max(n_heads, 1)))

    def token_text(key):
        index = _value(reader, key)
        if tokens is None or index is None or not 0 <= int(index) < vocab:
            return ""
        return tokens.contents(int(index))

    return GGUFMetadata(
        file_name=path.name, name=info.name, architecture=arch, file_type=info.file_type,
        file_bytes=info.file_bytes, tensor_bytes=sum(int(t.n_bytes) for t in reader.tensors),
        layer_bytes=tuple(layer_bytes[i] for i in sorted(layer_bytes)), output_bytes=output_bytes,
        embedding_bytes=embedding_bytes, context_length=info.context_length,
        n_layers=int(_value(reader, f"{arch}.block_count", len(layer_bytes))), hidden=hidden,
        ffn=int(_value(reader, f"{arch}.feed_forward_length", 4 * hidden)), n_heads=n_heads,
        n_kv_heads=int(_value(reader, f"{arch}.attention.head_count_kv", n_heads)), head_dim=head_dim,
        vocab=vocab, chat_template=str(_value(reader, "tokenizer.chat_template", "") or ""),
        bos_token=token_text("tokenizer.ggml.bos_token_id"), eos_token=token_text("tokenizer.ggml.eos_token_id"),
    )


def format_size(nbytes: float) -> str:
    """'3.52 MiB' below 1 GiB, '4.58 GiB' above (binary units: MiB = 2**20, GiB = 2**30 bytes)."""
    return format_gib(nbytes) if abs(nbytes) >= GiB else f"{nbytes / MiB:.2f} MiB"


def _clamp(name: str, value: int) -> int:
    low, high = LIMITS[name]
    return min(max(int(value), low), high)


def architecture_of(meta: GGUFMetadata) -> Architecture:
    """The course's ``Architecture`` for a GGUF's shape (memory terms only need its numbers).

    Architectures the course does not lay out tensor by tensor are treated as "llama": the KV
    cache and compute buffer depend only on the numbers, and the weights come from the file.
    """
    n_heads = _clamp("n_heads", meta.n_heads)
    n_kv = _clamp("n_kv_heads", meta.n_kv_heads)
    if n_heads % n_kv:
        n_kv = n_heads
    return Architecture(
        name=meta.name, n_layers=_clamp("n_layers", meta.n_layers), hidden=_clamp("hidden", meta.hidden),
        ffn=_clamp("ffn", meta.ffn), n_heads=n_heads, n_kv_heads=n_kv, head_dim=_clamp("head_dim", meta.head_dim),
        vocab=_clamp("vocab", meta.vocab), max_context=_clamp("max_context", meta.context_length or 4096),
        family=meta.architecture if meta.architecture in FAMILIES else "llama",
        tied_embeddings=meta.output_bytes < meta.embedding_bytes // 2,
    )


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


def estimate_memory(meta: GGUFMetadata, n_ctx: int, n_gpu_layers: int = 0, n_ubatch: int = DEFAULT_UBATCH,
                    cache_type: str = "f16") -> MemoryEstimate:
    """Weights + KV cache + compute buffer for ``n_ctx`` tokens, llama.cpp's way (bytes).

    ``n_gpu_layers`` follows llama.cpp: the last n blocks go to the GPU (their weights and KV
    cache), n > blocks also moves the output layer, -1 means everything; token embeddings stay in
    RAM. The compute buffer is for one micro-batch of ``n_ubatch`` tokens (``helpers.vram``).
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
        compute_buffer=compute_buffer_bytes(arch, n_ctx, ubatch=n_ubatch), on_gpu=n > 0,
    )


def gpu_memory_bytes() -> int:
    """VRAM llama.cpp could offload to on this machine (bytes): 0 without a GPU build or GPU."""
    from helpers.machine import detect_gpus, llama_cpp_gpu_offload

    if not llama_cpp_gpu_offload():
        return 0
    return sum(g.memory_bytes for g in detect_gpus(psutil.virtual_memory().total) if not g.unified_memory)


def check_fits(meta: GGUFMetadata, n_ctx: int, n_gpu_layers: int = 0, ram_available_bytes=None,
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
    inspect_gguf(path)
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(path), str(int(n_ctx)), str(int(n_threads)),
                          str(int(n_batch))], capture_output=True, text=True, timeout=timeout_s, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"measuring {path.name} failed: {out.stderr.strip()[-400:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the same settings in other runtimes (text only: nothing here runs or installs them) -------------

# llama-cpp-python argument -> (llama.cpp CLI / llama-server flag, Ollama name, LM Studio setting)
SETTINGS_MAP = {
    "model_path": ("-m model.gguf", "FROM ./model.gguf (Modelfile)", "the model you pick in My Models"),
    "n_ctx": ("-c / --ctx-size", "num_ctx", "Context Length"),
    "n_threads": ("-t / --threads", "num_thread", "CPU Thread Pool Size"),
    "n_batch": ("-b / --batch-size", "num_batch", "Evaluation Batch Size"),
    "n_gpu_layers": ("-ngl / --n-gpu-layers", "num_gpu (layers, not GPUs)", "GPU Offload (layers slider)"),
    "seed": ("-s / --seed", "seed", "Seed"),
    "temperature": ("--temp", "temperature", "Temperature"),
    "max_tokens": ("-n / --n-predict", "num_predict", "Limit Response Length"),
    "stop": ("-r / --reverse-prompt (CLI); stop in the request (server)", "stop", "Stop Strings"),
    "chat template": ("read from the GGUF; --chat-template to override", "TEMPLATE (Go template syntax)",
                      "Prompt Template (read from the GGUF, editable)"),
    "system prompt": ("a system message in the request", "SYSTEM", "System Prompt"),
}


def _modelfile_string(text: str) -> str:
    if '"""' in text:
        raise ValueError('text for a Modelfile may not contain """')
    return f'"""{text}"""'


def ollama_modelfile(model_file: str, n_ctx: int, n_threads: int, n_gpu_layers: int, temperature: float,
                     seed: int, system: str = "", template: str = "", stop=()) -> str:
    """An Ollama Modelfile with the same settings as a llama-cpp-python load (text; nothing runs).

    ``model_file`` is written as ``FROM ./<file name>``: put the Modelfile beside the GGUF, then
    ``ollama create <name> -f Modelfile`` and ``ollama run <name>``.
    """
    for name, value in (("n_ctx", n_ctx), ("n_threads", n_threads), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int) or n_gpu_layers < -1:
        raise ValueError(f"n_gpu_layers must be -1 (all) or a whole number >= 0, got {n_gpu_layers!r}")
    lines = [f"FROM ./{Path(model_file).name}",
             f"PARAMETER num_ctx {n_ctx}",
             f"PARAMETER num_thread {n_threads}",
             f"PARAMETER num_gpu {999 if n_gpu_layers == -1 else n_gpu_layers}",
             f"PARAMETER temperature {temperature:g}",
             f"PARAMETER seed {seed}"]
    lines += [f"PARAMETER stop {json.dumps(s)}" for s in stop]
    if template:
        lines.append(f"TEMPLATE {_modelfile_string(template)}")
    if system:
        lines.append(f"SYSTEM {_modelfile_string(system)}")
    return "\n".join(lines) + "\n"


def ollama_generate_request(model: str, prompt: str, n_ctx: int, n_threads: int, n_gpu_layers: int,
                            temperature: float, seed: int, max_tokens: int) -> dict:
    """The JSON body of Ollama's REST ``POST /api/generate`` with the same settings as ``options``."""
    return {"model": model, "prompt": prompt, "stream": False,
            "options": {"num_ctx": n_ctx, "num_thread": n_threads,
                        "num_gpu": 999 if n_gpu_layers == -1 else n_gpu_layers,
                        "temperature": temperature, "seed": seed, "num_predict": max_tokens}}
