"""Speed when a model does not fit on the GPU: some layers in VRAM, the rest in system RAM.

Each generated token reads the GPU's share of the weights at GPU bandwidth and the CPU's share at
system-RAM bandwidth, one after the other, and each side pays its fixed time for the layers it runs, so
the times add (each side's ``SpeedModel``, fitted per device class in ``helpers.hardware.device_speed``):

    seconds/token = GPU bytes / (GPU efficiency x GPU bandwidth) + GPU layers x GPU time per layer
                  + CPU bytes / (CPU efficiency x RAM bandwidth) + CPU layers x CPU time per layer

Bandwidths in GB/s (10**9 bytes/s), sizes in bytes. The embedding matrix is a lookup of one row
per token, so it is not counted as read unless it doubles as the output matrix (tied embeddings).

A mixture of experts reads only the experts each token is routed to (``n_experts_used`` of
``n_experts``), so its experts can live in system RAM (llama.cpp's ``--n-cpu-moe``) at a small cost:
attention, shared experts and the router stay on the GPU and are read there in full, and the CPU
reads only the used experts' share of the experts it holds (``expert_offload_curve``).
"""
from dataclasses import dataclass

from helpers.hardware.roofline import SpeedModel
from helpers.memory.architecture import Architecture
from helpers.memory.gguf_size import predicted_tensors
from helpers.memory.vram import bytes_read_split, kv_cache_bytes, memory_plan, tensor_placement, weight_split


def offload_seconds_per_token(gpu_bytes: float, cpu_bytes: float, gpu_bandwidth_gbps: float,
                              cpu_bandwidth_gbps: float, gpu_model: SpeedModel, cpu_model: SpeedModel,
                              gpu_layers: int = 0, cpu_layers: int = 0) -> float:
    """Seconds per generated token for a split: the GPU's part plus the CPU's part (bytes, GB/s, layers each)."""
    if gpu_bytes < 0 or cpu_bytes < 0 or gpu_bytes + cpu_bytes <= 0:
        raise ValueError(f"bytes must be >= 0 and not both 0, got gpu {gpu_bytes!r}, cpu {cpu_bytes!r}")
    for name, value in (("gpu_bandwidth_gbps", gpu_bandwidth_gbps), ("cpu_bandwidth_gbps", cpu_bandwidth_gbps)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    return (gpu_model.seconds_for(gpu_bytes, gpu_bandwidth_gbps, gpu_layers)
            + cpu_model.seconds_for(cpu_bytes, cpu_bandwidth_gbps, cpu_layers))


def unread_expert_bytes(arch: Architecture, mix: str, n_gpu_layers: int, n_cpu_moe: int = 0) -> tuple:
    """Bytes of routed experts a token does not read, on the GPU and in RAM: (gpu, cpu); (0, 0) for a dense model."""
    gpu = cpu = 0
    for t, on_gpu in tensor_placement(arch, mix, n_gpu_layers, n_cpu_moe=n_cpu_moe):
        if "_exps." in t.name:
            unread = t.nbytes - t.nbytes * arch.n_experts_used // arch.n_experts
            gpu, cpu = (gpu + unread, cpu) if on_gpu else (gpu, cpu + unread)
    return gpu, cpu


def embedding_lookup_bytes(arch: Architecture, mix: str) -> int:
    """Bytes of token_embd that a token does NOT read (0 when the embeddings are tied to the output)."""
    if arch.tied_embeddings:
        return 0
    return next(t.nbytes for t in predicted_tensors(arch, mix) if t.name == "token_embd.weight")


@dataclass(frozen=True)
class OffloadPoint:
    """One ``n_gpu_layers`` setting: bytes read per token on each side, memory on the GPU, speed."""

    n_gpu_layers: int
    gpu_read_bytes: int
    cpu_read_bytes: int
    gpu_memory_bytes: int
    tokens_per_second: float


def offload_curve(arch: Architecture, mix: str, context: int, gpu_bandwidth_gbps: float, cpu_bandwidth_gbps: float,
                  gpu_model: SpeedModel, cpu_model: SpeedModel) -> list:
    """Estimated tokens/s for every ``n_gpu_layers`` from 0 to n_layers + 1 (output layer too).

    The KV cache of the layers on each side is read there too (one sequence, f16 cache, ``context`` tokens);
    a mixture of experts reads only its routed experts' share on either side. ``gpu_model`` and
    ``cpu_model``: the two sides' speed models (``helpers.hardware.device_speed.speed_model``).
    """
    skip = embedding_lookup_bytes(arch, mix)
    points = []
    for n in range(arch.n_layers + 2):
        split = weight_split(arch, mix, n)
        kv_gpu = kv_cache_bytes(arch, context, n_layers=split.layers_on_gpu) if split.layers_on_gpu else 0
        kv_cpu = kv_cache_bytes(arch, context) - kv_gpu
        unread_gpu, unread_cpu = unread_expert_bytes(arch, mix, n)
        gpu_read = split.gpu_bytes - unread_gpu + kv_gpu
        cpu_read = split.cpu_bytes - unread_cpu - skip + kv_cpu
        seconds = offload_seconds_per_token(gpu_read, cpu_read, gpu_bandwidth_gbps, cpu_bandwidth_gbps, gpu_model,
                                            cpu_model, split.layers_on_gpu, arch.n_layers - split.layers_on_gpu)
        points.append(OffloadPoint(n, gpu_read, cpu_read, memory_plan(arch, mix, context, n).gpu_total, 1 / seconds))
    return points


def best_fitting_point(points, gpu_budget_bytes: int) -> OffloadPoint:
    """The fastest point of an ``offload_curve`` whose GPU memory fits ``gpu_budget_bytes`` (bytes)."""
    fitting = [p for p in points if p.gpu_memory_bytes <= gpu_budget_bytes]
    if not fitting:
        raise ValueError(f"no setting fits {gpu_budget_bytes} bytes of GPU memory")
    return max(fitting, key=lambda p: p.tokens_per_second)


def tensor_split_bytes(total_bytes: int, shares) -> list:
    """Bytes per GPU when llama.cpp's ``--tensor-split`` divides ``total_bytes`` in proportion to ``shares``."""
    shares = [float(s) for s in shares]
    if not shares or any(s < 0 for s in shares) or sum(shares) <= 0:
        raise ValueError(f"shares must be non-negative with a positive sum, got {shares!r}")
    return [int(total_bytes * s / sum(shares)) for s in shares]


def sequential_seconds_per_token(parts) -> float:
    """Seconds per token when devices take turns (llama.cpp's layer split, offload): the sum over devices.

    ``parts``: (bytes read on the device, bandwidth in GB/s, its SpeedModel, layers it runs) per device.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("parts must list at least one (bytes, bandwidth_gbps, speed model, layers)")
    return sum(model.seconds_for(nbytes, bandwidth, layers) for nbytes, bandwidth, model, layers in parts)


def learners_per_server(server_bytes: int, per_learner_bytes: int, reserve_bytes: int = 0) -> int:
    """How many learners' kernels fit in ``server_bytes`` of RAM after ``reserve_bytes`` for the system (bytes)."""
    if per_learner_bytes <= 0 or server_bytes < 0 or reserve_bytes < 0:
        raise ValueError(f"need per_learner_bytes > 0 and sizes >= 0, got {server_bytes}, {per_learner_bytes}, "
                         f"{reserve_bytes}")
    return max(0, (server_bytes - reserve_bytes) // per_learner_bytes)


@dataclass(frozen=True)
class ExpertOffloadPoint:
    """One ``--n-cpu-moe`` setting with every block on the GPU: bytes read per token, GPU memory, speed."""

    n_cpu_moe: int
    gpu_read_bytes: int
    cpu_read_bytes: int
    gpu_memory_bytes: int
    cpu_memory_bytes: int
    tokens_per_second: float


def expert_offload_curve(arch: Architecture, mix: str, context: int, gpu_bandwidth_gbps: float,
                         cpu_bandwidth_gbps: float, gpu_model: SpeedModel, cpu_model: SpeedModel) -> list:
    """Estimated tokens/s for ``--n-cpu-moe`` 0 .. n_layers with ``--n-gpu-layers`` all (the usual MoE recipe).

    The KV cache stays on the GPU (every block is offloaded) and is read there (window-only cache,
    f16, ``context`` tokens); the GPU runs every layer, the CPU the experts of the first n.
    """
    if not arch.is_moe:
        raise ValueError(f"expert offload needs a mixture of experts; {arch.name!r} has no experts")
    kv = kv_cache_bytes(arch, context)
    points = []
    for n in range(arch.n_layers + 1):
        gpu_read, cpu_read = bytes_read_split(arch, mix, -1, n)
        seconds = offload_seconds_per_token(gpu_read + kv, cpu_read, gpu_bandwidth_gbps, cpu_bandwidth_gbps,
                                            gpu_model, cpu_model, arch.n_layers, n)
        plan = memory_plan(arch, mix, context, -1, n_cpu_moe=n)
        points.append(ExpertOffloadPoint(n, gpu_read + kv, cpu_read, plan.gpu_total, plan.cpu_total, 1 / seconds))
    return points


def fewest_cpu_moe_that_fits(points, gpu_budget_bytes: int) -> ExpertOffloadPoint:
    """The point of an ``expert_offload_curve`` with the fewest experts in RAM that fits ``gpu_budget_bytes``."""
    for p in points:
        if p.gpu_memory_bytes <= gpu_budget_bytes:
            return p
    raise ValueError(f"even with every expert in system RAM the GPU needs {points[-1].gpu_memory_bytes} bytes, "
                     f"more than {gpu_budget_bytes}")
