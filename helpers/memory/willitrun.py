"""Will it run? One answer for a model, a quantization, a context and a GPU, from the command line.

    python -m helpers.memory.willitrun --model "Llama 3.1 8B" --quant Q4_K_M --ctx 8192 --gpu "RTX 3090"
    python -m helpers.memory.willitrun --layers 32 --hidden 4096 --ffn 14336 --heads 32 --kv-heads 8 \\
        --head-dim 128 --vocab 128256 --vram-gib 8 --n-gpu-layers auto --json
    python -m helpers.memory.willitrun --model "Qwen3 30B-A3B" --ctx 8192 --gpu "RTX 4060 Ti 16GB" --n-cpu-moe auto
    python -m helpers.memory.willitrun --gguf model.gguf --gpu "RTX 3060 12GB"
    python -m helpers.memory.willitrun --hf Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf --gpu "RTX 3060 12GB"

A file (``--gguf`` on disk, ``--hf owner/repo:file.gguf[@revision]`` or ``--url`` on a hub, read by
range requests: only its header travels, and the bytes transferred are reported) is planned from its
own tensor table, the same plan for a local or remote copy.

Memory is reported in bytes (JSON) and GiB (2**30 bytes, text); ``--vram-gib`` is in GiB too,
the unit nvidia-smi and vendors' "24 GB" cards use (``--vram-gb`` is its old name); a plan keeps
llama.cpp's ``--fit`` margin free (``helpers.memory.vram.FIT_MARGIN_BYTES``) and says which
flash-attention setting it assumed (on, as llama.cpp's tools run by default) and what the other would need. Speed is the
device class's fitted speed model (``helpers.hardware.device_speed``) at a full context; a mixture of
experts reads only the experts each token uses. A plan split between the GPU and system RAM
(``--n-gpu-layers`` below all, or a mixture of experts' ``--n-cpu-moe N``: the expert tensors of the
first N blocks stay in RAM) reads each side at its own bandwidth and adds the times
(``helpers.hardware.offload``); system RAM is the catalog's ``SYSTEM_RAM`` unless
``--ram-bandwidth-gbps`` says otherwise. A file's split gets no speed (its header has no per-block expert
sizes). A file's sliding window, experts and latent attention come from its own keys
(``helpers.llm.memory_check.architecture_of``).
"""
import argparse
import json
import math
import sys
from dataclasses import dataclass, replace

from helpers.course.catalog import DEFAULT_SYSTEM_RAM, GPU, get_gpu, get_model, load_gpus, load_models
from helpers.gguf.header import read_header
from helpers.hardware.device_speed import speed_model, tokens_per_second, typical_error
from helpers.hardware.offload import offload_seconds_per_token
from helpers.hub.ranges import HubError, parse_hub_spec
from helpers.hub.remote_gguf import read_hub_header, read_remote_header
from helpers.llm.memory_check import architecture_of
from helpers.memory.architecture import LIMITS, Architecture, parameter_count
from helpers.memory.gguf_size import bytes_read_per_token, check_mix, gguf_file_size, mix_names
from helpers.memory.vram import (
    DEFAULT_FLASH_ATTENTION,
    KV_CACHE_TYPES,
    bytes_read_split,
    check_n_cpu_moe,
    file_memory_plan,
    judge,
    kv_cache_bytes,
    largest_context_that_fits,
    memory_plan,
    most_gpu_layers_that_fit,
    most_layers_that_fit,
    plan_budget_bytes,
    usable_gpu_bytes,
)

MAX_VRAM_GIB = 4096.0
# System RAM for a GPU/RAM split when none is named (data/gpus.csv); its device class also gives the
# speed model of a CPU run (helpers.hardware.device_speed).
SYSTEM_RAM = DEFAULT_SYSTEM_RAM


@dataclass(frozen=True)
class _UnnamedGPU:
    """A GPU known only by its memory (``--vram-gib``): estimated as a consumer card."""

    device_class: str = "nvidia-consumer"


DEFAULT_GPU_CLASS = _UnnamedGPU()


@dataclass(frozen=True)
class Assessment:
    """Everything the CLI and the widget show about one configuration."""

    model: str
    quant: str
    context: int
    kv_cache_type: str
    n_layers: int
    file_bytes: int
    verdict: object  # helpers.memory.vram.Verdict
    tokens_per_second: object  # float, or None when it cannot be estimated (unknown bandwidth, a file's split)
    n_cpu_moe: int = 0  # blocks whose expert tensors stay in system RAM (llama.cpp's --n-cpu-moe)
    ram_bandwidth_gbps: object = None  # GB/s of the system RAM a split's speed assumed; None without a split
    gpu_bytes_other_flash_attention: int = 0  # the plan's GPU total with flash attention switched the other way
    speed_error_p90: object = None  # 90% of the device class's published runs were within this (0.16 = 16%)

    def as_dict(self) -> dict:
        plan = self.verdict.plan
        return {
            "model": self.model, "quant": self.quant, "context": self.context,
            "kv_cache_type": self.kv_cache_type, "file_bytes": self.file_bytes,
            "weights_bytes": plan.weights_gpu + plan.weights_cpu,
            "kv_cache_bytes": plan.kv_gpu + plan.kv_cpu,
            "compute_buffer_bytes": plan.compute_gpu + plan.compute_cpu,
            "overhead_bytes": plan.overhead_gpu,
            "total_bytes": plan.total, "gpu_bytes": plan.gpu_total, "cpu_bytes": plan.cpu_total,
            "gpu_budget_bytes": self.verdict.gpu_budget_bytes,
            "fits": self.verdict.fits, "layers_on_gpu": plan.layers_on_gpu, "n_layers": self.n_layers,
            "output_on_gpu": plan.output_on_gpu, "n_cpu_moe": self.n_cpu_moe,
            "ram_bandwidth_gbps": self.ram_bandwidth_gbps,
            "estimated_tokens_per_second": self.tokens_per_second, "reason": self.verdict.reason,
            "flash_attention": plan.flash_attention, "near_miss": self.verdict.near_miss,
            "gpu_bytes_other_flash_attention": self.gpu_bytes_other_flash_attention,
            "speed_error_p90": self.speed_error_p90,
        }


def _gpu_budget(arch: Architecture, name: str, context: int, gpu, gpu_budget_bytes, n_gpu_layers):
    """(usable GPU bytes, n_gpu_layers) after checking the context and the budget; 0 layers on a CPU."""
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ValueError(f"context must be a whole number of tokens, at least 1, got {context!r}")
    if context > arch.max_context:
        raise ValueError(f"context {context} exceeds {name}'s trained maximum of {arch.max_context} tokens")
    if gpu is None and not (isinstance(gpu_budget_bytes, (int, float)) and 0 <= gpu_budget_bytes <= MAX_VRAM_GIB * 2**30):
        raise ValueError(f"give a catalog gpu or gpu_budget_bytes in [0, {MAX_VRAM_GIB:g} GiB], got {gpu_budget_bytes!r}")
    budget = usable_gpu_bytes(gpu) if gpu is not None else plan_budget_bytes(gpu_budget_bytes)
    if gpu is not None and gpu.kind == "cpu" or budget == 0:
        n_gpu_layers = 0
    return budget, n_gpu_layers


def assess(arch: Architecture, quant: str, context: int, gpu: GPU = None, gpu_budget_bytes=None,
           n_gpu_layers=-1, cache_type: str = "f16", batch: int = 1,
           flash_attention: bool = DEFAULT_FLASH_ATTENTION,
           bandwidth_gbps=None, n_cpu_moe=0, ram_bandwidth_gbps=None) -> Assessment:
    """Plan memory and judge it. ``gpu`` from the catalog, or ``gpu_budget_bytes`` alone (the card's memory:
    the plan keeps ``FIT_MARGIN_BYTES`` of either free). ``flash_attention``: llama.cpp's tools' default, on.

    ``n_gpu_layers``: -1 all, "auto" the most that fit, or a number. A ``cpu`` catalog entry runs with 0.
    ``n_cpu_moe`` (a mixture of experts only): 0, a number of blocks whose expert tensors stay in system
    RAM (llama.cpp's ``--n-cpu-moe``), or "auto" the fewest that fit the GPU with the other tensors on it.
    ``bandwidth_gbps``: the GPU's (default the catalog's); ``ram_bandwidth_gbps``: system RAM's for a
    split (default the GPU's own memory when unified, else the catalog's ``SYSTEM_RAM``), both GB/s.
    """
    check_mix(quant)
    budget, n_gpu_layers = _gpu_budget(arch, arch.name, context, gpu, gpu_budget_bytes, n_gpu_layers)
    options = dict(batch=batch, cache_type=cache_type, flash_attention=flash_attention)
    if n_cpu_moe == "auto":
        if n_gpu_layers == "auto":
            raise ValueError("n_gpu_layers and n_cpu_moe cannot both be 'auto': fix one of them")
        check_n_cpu_moe(arch, arch.n_layers)  # refuses a dense model by name
        n_cpu_moe = fewest_cpu_moe_that_fit(arch, quant, context, budget, n_gpu_layers, **options)
    elif isinstance(n_cpu_moe, str):
        raise ValueError(f"n_cpu_moe must be a whole number in [0, {arch.n_layers}] or 'auto', got {n_cpu_moe!r}")
    n_cpu_moe = check_n_cpu_moe(arch, n_cpu_moe)
    if n_gpu_layers == "auto":
        n_gpu_layers = most_gpu_layers_that_fit(arch, quant, context, budget, n_cpu_moe=n_cpu_moe, **options)
    plan = memory_plan(arch, quant, context, n_gpu_layers, n_cpu_moe=n_cpu_moe, **options)
    ram_budget = gpu.memory_bytes if gpu is not None and gpu.kind == "cpu" else 0
    verdict = _name_experts_in_ram(judge(plan, budget, ram_budget), arch, n_cpu_moe)
    speed, ram_gbps = None, None  # no speed for a plan that cannot load
    if verdict.fits and _is_split(plan, n_cpu_moe):
        speed, ram_gbps = _split_speed(arch, quant, plan, n_gpu_layers, n_cpu_moe, gpu, bandwidth_gbps,
                                       ram_bandwidth_gbps)
    elif verdict.fits:
        speed = _speed(arch, bytes_read_per_token(arch, quant), context, cache_type, batch, plan, gpu, bandwidth_gbps)
    other = memory_plan(arch, quant, context, n_gpu_layers, n_cpu_moe=n_cpu_moe,
                        **{**options, "flash_attention": not flash_attention}).gpu_total
    return Assessment(arch.name, quant, context, cache_type, arch.n_layers, gguf_file_size(arch, quant).total_bytes,
                      _name_flash_attention(verdict, flash_attention, other), speed, n_cpu_moe, ram_gbps, other,
                      _speed_error(speed, plan, gpu))


def fewest_cpu_moe_that_fit(arch: Architecture, quant: str, context: int, gpu_budget_bytes: int,
                            n_gpu_layers=-1, **options) -> int:
    """The smallest ``n_cpu_moe`` (0 .. n_layers) whose plan's GPU share fits ``gpu_budget_bytes`` (bytes).

    n_layers (every expert in RAM) when none fits; ``options`` as :func:`helpers.memory.vram.memory_plan`'s.
    """
    for n in range(arch.n_layers + 1):
        if memory_plan(arch, quant, context, n_gpu_layers, n_cpu_moe=n, **options).gpu_total <= gpu_budget_bytes:
            return n
    return arch.n_layers


def _name_experts_in_ram(verdict, arch: Architecture, n_cpu_moe: int):
    """The verdict with its reason naming the experts kept in system RAM, and, for a mixture of experts that
    does not fit the GPU, the way out through ``n_cpu_moe``; a dense model's verdict unchanged."""
    if not arch.is_moe:
        return verdict
    reason = verdict.reason
    if n_cpu_moe:
        where = f"experts of the first {n_cpu_moe} layers in RAM"
        reason = f"{reason}, {where}" if verdict.fits else f"{reason} ({where})"
    if verdict.gpu_headroom_bytes < 0 and n_cpu_moe < arch.n_layers:
        reason += "; or keep more experts in system RAM (n_cpu_moe, 'auto' the fewest that fit)"
    return replace(verdict, reason=reason)


def _is_split(plan, n_cpu_moe: int) -> bool:
    """Whether a plan reads weights both on the GPU and in system RAM."""
    all_cpu = plan.layers_on_gpu == 0 and not plan.output_on_gpu
    return not all_cpu and (n_cpu_moe > 0 or not plan.output_on_gpu)


def _split_speed(arch, quant, plan, n_gpu_layers, n_cpu_moe, gpu, bandwidth_gbps, ram_bandwidth_gbps):
    """(tokens/s, RAM GB/s) of a GPU/RAM split: the bytes each side reads (``helpers.memory.vram.bytes_read_split``), the
    KV cache where the plan keeps it, times added; (None, None) when the GPU's bandwidth is unknown."""
    gpu_bandwidth = bandwidth_gbps or (gpu.bandwidth_gbps if gpu is not None else None)
    if gpu_bandwidth is None:
        return None, None
    if ram_bandwidth_gbps is None:
        unified = gpu is not None and gpu.kind == "unified"
        ram_bandwidth_gbps = gpu.bandwidth_gbps if unified else get_gpu(SYSTEM_RAM).bandwidth_gbps
    gpu_read, cpu_read = bytes_read_split(arch, quant, n_gpu_layers, n_cpu_moe)
    gpu_layers = plan.layers_on_gpu
    cpu_layers = n_cpu_moe if n_cpu_moe else arch.n_layers - gpu_layers
    seconds = offload_seconds_per_token(gpu_read + plan.kv_gpu, cpu_read + plan.kv_cpu, gpu_bandwidth,
                                        ram_bandwidth_gbps, speed_model(gpu or DEFAULT_GPU_CLASS), speed_model(get_gpu(SYSTEM_RAM)),
                                        gpu_layers, cpu_layers)
    return 1 / seconds, ram_bandwidth_gbps


def assess_file(header, context: int, gpu: GPU = None, gpu_budget_bytes=None, n_gpu_layers=-1,
                cache_type: str = "f16", batch: int = 1, flash_attention: bool = DEFAULT_FLASH_ATTENTION,
                bandwidth_gbps=None, n_cpu_moe=0) -> Assessment:
    """:func:`assess` for a real GGUF file, from its header (``helpers.gguf.header.read_header``, or
    ``helpers.hub.remote_gguf`` for a file on a hub): weights exact from its tensor table
    (``helpers.memory.vram.file_memory_plan``), the rest from its shape. Same arguments as :func:`assess`,
    except that ``n_cpu_moe`` must be 0: a file's plan places whole blocks (the header sums the experts of
    all blocks, not of each), and a split between GPU and RAM gets no speed estimate.
    """
    if n_cpu_moe != 0:
        raise ValueError(f"n_cpu_moe {n_cpu_moe!r} is not planned for a file (its header has no per-block expert "
                         "sizes): leave it at 0, or plan the model's shape with --model")
    arch = architecture_of(header)
    budget, n_gpu_layers = _gpu_budget(arch, header.file_name, context, gpu, gpu_budget_bytes, n_gpu_layers)
    options = dict(batch=batch, cache_type=cache_type, flash_attention=flash_attention)
    if n_gpu_layers == "auto":
        n_gpu_layers = most_layers_that_fit(lambda n: file_memory_plan(header, arch, context, n, **options),
                                            len(header.layer_bytes), budget)
    plan = file_memory_plan(header, arch, context, n_gpu_layers, **options)
    verdict = judge(plan, budget, gpu.memory_bytes if gpu is not None and gpu.kind == "cpu" else 0)
    per_token = file_bytes_read_per_token(header, arch)
    speed = _speed(arch, per_token, context, cache_type, batch, plan, gpu, bandwidth_gbps) if verdict.fits else None
    other = file_memory_plan(header, arch, context, n_gpu_layers,
                             **{**options, "flash_attention": not flash_attention}).gpu_total
    return Assessment(header.name, header.file_type, context, cache_type, arch.n_layers, header.file_bytes,
                      _name_flash_attention(verdict, flash_attention, other), speed,
                      gpu_bytes_other_flash_attention=other, speed_error_p90=_speed_error(speed, plan, gpu))


def _name_flash_attention(verdict, flash_attention: bool, other_gpu_bytes: int):
    """A fitting verdict that holds only with flash attention on says so: llama-cpp-python's ``Llama`` runs without
    it unless told (``flash_attn=True``), and then the plan needs ``other_gpu_bytes`` (bytes)."""
    if not (verdict.fits and flash_attention and other_gpu_bytes > verdict.gpu_budget_bytes):
        return verdict
    return replace(verdict, reason=f"{verdict.reason}; only with flash attention on (off it needs "
                                   f"{other_gpu_bytes / 2**30:.2f} GiB: in llama-cpp-python pass flash_attn=True)")


def _speed_error(speed, plan, gpu):
    """The 90% error of the speed's device class (the GPU's, or the CPU's for a CPU-only plan); None without a speed."""
    return None if speed is None else typical_error(_speed_device(plan, gpu)).p90_abs_error


def file_bytes_read_per_token(header, arch: Architecture) -> int:
    """Weight bytes one generated token reads from a GGUF file, from its tensor table (bytes).

    Every weight once, except the token-embedding lookup (one row) unless it is tied to the output; of a
    mixture of experts' routed expert tensors (``ffn_*_exps``, ``header.expert_bytes``) only
    ``n_experts_used`` of ``n_experts`` (``arch``, from :func:`helpers.llm.memory_check.architecture_of`).
    """
    dense = header.tensor_bytes - header.expert_bytes - (header.embedding_bytes if header.has_output_weight else 0)
    experts = header.expert_bytes * arch.n_experts_used // arch.n_experts if arch.is_moe else header.expert_bytes
    return dense + experts


def _speed(arch, weight_bytes_per_token, context, cache_type, batch, plan, gpu, bandwidth_gbps):
    all_gpu = plan.output_on_gpu
    all_cpu = plan.layers_on_gpu == 0 and not plan.output_on_gpu
    if not (all_gpu or all_cpu):
        return None  # a file's split between GPU and RAM: no per-block expert sizes to split by
    if bandwidth_gbps is None:
        if gpu is None or (all_cpu and gpu.kind == "discrete"):
            return None
        bandwidth_gbps = gpu.bandwidth_gbps
    per_token = weight_bytes_per_token + kv_cache_bytes(arch, context, batch, cache_type)
    return tokens_per_second(per_token, arch.n_layers, _speed_device(plan, gpu), bandwidth_gbps)


def _speed_device(plan, gpu):
    """The device whose speed model a plan's speed follows: the system RAM's for a CPU-only plan (unless the
    memory is unified, where CPU and GPU share it), else the GPU's (a consumer card's when only its size is known)."""
    on_cpu = plan.layers_on_gpu == 0 and not plan.output_on_gpu and (gpu is None or gpu.kind != "unified")
    return get_gpu(SYSTEM_RAM) if on_cpu else (gpu or DEFAULT_GPU_CLASS)


# Mixes a learner would pick, from most to fewest bits per weight.
QUANT_LADDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "Q3_K_M", "Q2_K")


def best_settings(arch: Architecture, gpu: GPU, context: int, quants=QUANT_LADDER, cache_type: str = "f16") -> dict:
    """The best configuration that fits ``gpu`` entirely (all layers offloaded; RAM for a cpu machine).

    Returns {"quant": the most-bits mix that fits at ``context`` (None if none does),
    "max_context": the largest context that fits with that mix, "table": [(quant, largest context,
    estimated tokens/s at ``context`` or None where it does not fit)]}: more bits is better quality,
    fewer bits is faster, so the table gives both.
    """
    table = []
    for quant in quants:
        budget = gpu.memory_bytes if gpu.kind == "cpu" else usable_gpu_bytes(gpu)
        ngl = 0 if gpu.kind == "cpu" else -1
        largest = largest_context_that_fits(arch, quant, budget, ngl, cache_type=cache_type)
        speed = assess(arch, quant, context, gpu=gpu, cache_type=cache_type).tokens_per_second if largest >= context else None
        table.append((quant, largest, speed))
    fitting = [(q, ctx) for q, ctx, _ in table if ctx >= context]
    best = fitting[0] if fitting else (None, 0)
    return {"quant": best[0], "max_context": best[1], "table": table}


def machine_card_gpu(card):
    """The learner's machine (``helpers.hardware.machine.MachineCard``) as a catalog-style GPU.

    The first GPU when there is one (bandwidth and device class from the catalog entry whose name it
    contains, else the measured system-memory bandwidth, a floor, and the vendor's usual class);
    otherwise the CPU with its RAM and measured bandwidth.
    """
    measured = max(card.best_bandwidth_gbps, 1.0)
    unknown_price = dict(power_w=1, price_usd=1, price_date="", source="machine card")
    if not card.gpus:
        return GPU("your machine (CPU)", "cpu", card.ram_total_bytes / 2**30, measured, 1.0, "cpu", **unknown_price)
    gpu = card.gpus[0]
    known = [g for name, g in load_gpus().items() if name.lower() in gpu.name.lower()]
    kind = "unified" if gpu.unified_memory else "discrete"
    vendor_class = {"Apple": "apple", "AMD": "amd-consumer"}.get(gpu.vendor, "nvidia-consumer")
    device_class = known[0].device_class if known else ("integrated" if kind == "unified" and gpu.vendor != "Apple"
                                                        else vendor_class)
    return GPU(f"your machine ({gpu.name})", kind, gpu.memory_bytes / 2**30,
               known[0].bandwidth_gbps if known else measured, known[0].fp16_tflops if known else 1.0, device_class,
               **unknown_price)


# --- command line ------------------------------------------------------------------------------

def _bounded(kind, low, high, name):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number in [{low}, {high}], got {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be in [{low}, {high}], got {text!r}")
        return value
    return parse


def _ngl(text):
    if text == "auto":
        return text
    return _bounded(int, -1, 100_000, "--n-gpu-layers (or 'auto')")(text)


def _n_cpu_moe(text):
    if text == "auto":
        return text
    return _bounded(int, 0, 100_000, "--n-cpu-moe (or 'auto')")(text)


ARCH_FLAGS = {"layers": "n_layers", "hidden": "hidden", "ffn": "ffn", "heads": "n_heads",
              "kv_heads": "n_kv_heads", "head_dim": "head_dim", "vocab": "vocab"}


class _OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage block stays behind --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists every option)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineErrors(prog="python -m helpers.memory.willitrun", description=__doc__.split("\n")[0])
    p.add_argument("--list-gpus", action="store_true", help="list the GPUs and machines of data/gpus.csv and stop")
    p.add_argument("--list-models", action="store_true", help="list the models of data/models.csv and stop")
    p.add_argument("--model", help="a model of data/models.csv, by name or a unique part of it (or give the "
                                   "architecture flags or a file)")
    p.add_argument("--gguf", help="a GGUF file on disk: planned from its own tensor table")
    p.add_argument("--hf", help="a GGUF on a hub, owner/repo:file.gguf[@revision]: only its header is read")
    p.add_argument("--url", help="a GGUF at a plain URL: only its header is read (range requests)")
    p.add_argument("--endpoint", help="hub base URL for --hf (default $HF_ENDPOINT or https://huggingface.co)")
    for flag, field in ARCH_FLAGS.items():
        low, high = LIMITS[field]
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=_bounded(int, low, high, "--" + flag),
                       help=f"architecture: {field} [{low}, {high}]")
    p.add_argument("--params", type=_bounded(float, 0.001, 5000, "--params"),
                   help="published parameter count in billions (checked against the architecture)")
    p.add_argument("--max-context", type=_bounded(int, 16, 10_000_000, "--max-context"), default=131072)
    p.add_argument("--tied", action="store_true", help="architecture: output shares the token embeddings")
    p.add_argument("--quant", default="Q4_K_M",
                   help=f"one of {', '.join(mix_names())} (a file has its own; ignored with --gguf/--hf/--url)")
    p.add_argument("--ctx", type=_bounded(int, 1, 10_000_000, "--ctx"), default=4096, help="context in tokens")
    p.add_argument("--batch", type=_bounded(int, 1, 4096, "--batch"), default=1, help="parallel sequences")
    p.add_argument("--kv-cache-type", choices=KV_CACHE_TYPES, default="f16")
    p.add_argument("--flash-attn", choices=("on", "off"), default="on",
                   help="flash attention: on (llama.cpp's -fa auto; Ollama for many models) or off (llama-cpp-python's "
                        "Llama as it comes): off needs a larger compute buffer")
    p.add_argument("--gpu", help="a GPU or machine of data/gpus.csv, by name or a unique part of it (\"3060\")")
    p.add_argument("--vram-gib", "--vram-gb", dest="vram_gib", type=_bounded(float, 0.1, MAX_VRAM_GIB, "--vram-gib"),
                   help="the GPU's memory in GiB, 2**30 bytes (what nvidia-smi shows, and what a card sold as "
                        "'12 GB' has; a 1 GiB margin is kept free). --vram-gb is the old name of this flag")
    p.add_argument("--bandwidth-gbps", type=_bounded(float, 1, 20000, "--bandwidth-gbps"),
                   help="memory bandwidth in GB/s for the speed estimate (default: the catalog GPU's)")
    p.add_argument("--n-gpu-layers", type=_ngl, default=-1, help="-1 all (default), 'auto' most that fit, or N")
    p.add_argument("--n-cpu-moe", type=_n_cpu_moe, default=0,
                   help="mixture of experts: keep the expert tensors of the first N blocks in system RAM, "
                        "'auto' the fewest that fit (default 0)")
    p.add_argument("--ram-bandwidth-gbps", type=_bounded(float, 1, 20000, "--ram-bandwidth-gbps"),
                   help=f"system-RAM bandwidth in GB/s for a GPU/RAM split (default {SYSTEM_RAM}'s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def _architecture(args, parser) -> Architecture:
    given = {flag: getattr(args, flag) for flag in ARCH_FLAGS if getattr(args, flag) is not None}
    if args.model:
        if given:
            parser.error("give --model or the architecture flags, not both")
        try:
            return get_model(args.model).architecture
        except ValueError as err:
            parser.error(str(err))
    missing = [f"--{f.replace('_', '-')}" for f in ARCH_FLAGS if f not in given]
    if missing:
        parser.error(f"give --model NAME or all architecture flags; missing {' '.join(missing)}")
    try:
        arch = Architecture(name="custom", tied_embeddings=args.tied, max_context=args.max_context,
                            **{ARCH_FLAGS[f]: v for f, v in given.items()})
    except ValueError as err:
        parser.error(str(err))
    if args.params is not None:
        computed = parameter_count(arch) / 1e9
        if abs(computed / args.params - 1) > 0.1:
            parser.error(f"--params {args.params} B disagrees with the architecture ({computed:.2f} B computed)")
    return arch


def format_text(a: Assessment) -> str:
    d = a.as_dict()

    def gib(key):
        return f"{d[key] / 2**30:8.2f} GiB"

    fa = "on (llama.cpp's default)" if a.verdict.plan.flash_attention else "off"
    lines = [f"{a.model} · {a.quant} · {a.context} tokens · KV cache {a.kv_cache_type} · flash attention {fa}",
             f"  file size        {d['file_bytes'] / 1e9:8.2f} GB",
             f"  weights          {gib('weights_bytes')}"
             + ("  (more than the file: the GPU holds its own copy of the embedding table, which is also the output"
                " layer)" if d["weights_bytes"] > d["file_bytes"] else ""),
             f"  KV cache         {gib('kv_cache_bytes')}",
             f"  compute buffer   {gib('compute_buffer_bytes')}", f"  runtime overhead {gib('overhead_bytes')}",
             f"  total            {gib('total_bytes')}  "
             f"(GPU {d['gpu_bytes'] / 2**30:.2f}, RAM {d['cpu_bytes'] / 2**30:.2f})",
             f"  GPU usable       {gib('gpu_budget_bytes')}  (after a {a.verdict.margin_bytes / 2**30:.2f} GiB margin; "
             f"headroom {a.verdict.gpu_headroom_bytes / 2**30:.2f} GiB)",
             f"  layers on GPU    {d['layers_on_gpu']} of {d['n_layers']}" + (" + output" if d["output_on_gpu"] else "")]
    if d["gpu_bytes"]:
        other = "off" if a.verdict.plan.flash_attention else "on"
        lines.append(f"  flash attn {other:3s}   GPU total {a.gpu_bytes_other_flash_attention / 2**30:.2f} GiB instead")
    if a.n_cpu_moe:
        lines.append(f"  experts in RAM   first {a.n_cpu_moe} of {a.n_layers} layers (--n-cpu-moe {a.n_cpu_moe})")
    lines.append(("YES, " if a.verdict.fits else "NO, ") + a.verdict.reason)
    if a.tokens_per_second is not None:
        where = "" if a.ram_bandwidth_gbps is None else f", GPU + system RAM at {a.ram_bandwidth_gbps:g} GB/s"
        lines.append(f"  estimated speed  {a.tokens_per_second:8.1f} tokens/s (fitted speed model{where}, with the "
                     f"{a.context:,}-token cache full; 90% of the device class's published runs within "
                     f"+-{a.speed_error_p90:.0%}, most at short contexts)")
    return "\n".join(lines)


def _file_header(args, parser):
    """(GGUFHeader, remote read or None) for --gguf / --hf / --url, or (None, None) when none is given."""
    given = [flag for flag in ("gguf", "hf", "url") if getattr(args, flag)]
    if not given:
        return None, None
    if len(given) > 1 or args.model or any(getattr(args, f) is not None for f in ARCH_FLAGS):
        parser.error("give one of --gguf, --hf, --url, --model or the architecture flags")
    try:
        if args.gguf:
            return read_header(args.gguf), None
        remote = read_hub_header(parse_hub_spec(args.hf), args.endpoint) if args.hf else read_remote_header(args.url)
    except HubError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    return remote.header, remote


def catalog_listing(what: str) -> str:
    """The catalog's GPUs (memory, bandwidth, class) or models (parameters, layers, trained context), one per line."""
    if what == "gpus":
        return "\n".join(f"{g.name:40s} {g.memory_gib:6.0f} GiB {g.bandwidth_gbps:7.1f} GB/s  {g.device_class}"
                         for g in load_gpus().values())
    return "\n".join(f"{m.name:32s} {m.params_published_b:7.2f} B params  {m.architecture.n_layers:3d} layers  "
                     f"{m.architecture.max_context:>9,} tokens" for m in load_models().values())


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_gpus or args.list_models:
        print(catalog_listing("gpus" if args.list_gpus else "models"))
        return 0
    args.quant = {m.lower(): m for m in mix_names()}.get(args.quant.lower(), args.quant)  # q4_k_m is Q4_K_M
    header, remote = _file_header(args, parser)
    arch = None if header else _architecture(args, parser)
    if args.gpu and args.vram_gib is not None:
        parser.error("give --gpu or --vram-gib, not both")
    gpu = None
    if args.gpu:
        try:
            gpu = get_gpu(args.gpu)
        except ValueError as err:
            parser.error(str(err))
    if gpu is None and args.vram_gib is None:
        parser.error(f"give --gpu NAME (e.g. {next(iter(load_gpus()))!r}) or --vram-gib")
    options = dict(gpu=gpu, gpu_budget_bytes=None if gpu else int(args.vram_gib * 2**30),
                   n_gpu_layers=args.n_gpu_layers, cache_type=args.kv_cache_type, batch=args.batch,
                   flash_attention=args.flash_attn == "on", bandwidth_gbps=args.bandwidth_gbps, n_cpu_moe=args.n_cpu_moe)
    try:
        if header:
            result = assess_file(header, args.ctx, **options)
        else:
            result = assess(arch, args.quant, args.ctx, ram_bandwidth_gbps=args.ram_bandwidth_gbps, **options)
    except ValueError as err:
        parser.error(str(err))
    out = result.as_dict()
    if remote is not None:
        out.update(url=remote.url, bytes_transferred=remote.bytes_received, requests=remote.requests)
    print(json.dumps(out, indent=2) if args.json else format_text(result) + (
        "" if remote is None else f"\n  header read      {remote.bytes_received:,} bytes in {remote.requests} range requests "
                                  f"({100 * remote.share_transferred:.3f}% of the file)"))
    return 0 if result.verdict.fits else 1


if __name__ == "__main__":
    sys.exit(main())
