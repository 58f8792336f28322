"""How fast text generation can be: the memory-bandwidth ceiling (roofline) for tokens per second.

Generating one token reads every weight once, and the KV cache of every token before it, so
generation speed is bounded by memory bandwidth / bytes read per token, and falls as the context
grows. Bandwidth in GB/s (10**9 bytes/s), sizes in bytes.
"""
from dataclasses import dataclass

import numpy as np

from helpers.memory.gguf_size import bytes_read_per_token as weight_bytes_per_token
from helpers.memory.vram import kv_cache_bytes


def generation_ceiling_tokens_per_second(bytes_per_token: float, bandwidth_gbps: float) -> float:
    """Upper bound on generated tokens/s when each token reads ``bytes_per_token`` bytes."""
    if not bytes_per_token > 0:
        raise ValueError(f"bytes_per_token must be positive, got {bytes_per_token!r}")
    if not bandwidth_gbps > 0:
        raise ValueError(f"bandwidth_gbps must be positive, got {bandwidth_gbps!r}")
    return bandwidth_gbps * 1e9 / bytes_per_token


# Share of peak memory bandwidth llama.cpp reaches while generating, by kind of memory. From the
# llama.cpp community benchmarks (Llama 2 7B Q4_0, 3.83 GB, tg128): RTX 4090 ~187 tokens/s = 0.7 of
# 1008 GB/s (github.com/ggml-org/llama.cpp/discussions/15013); M1 Max ~61 tokens/s = 0.58 and
# M2 Ultra ~94 tokens/s = 0.45 of 400/800 GB/s (github.com/ggml-org/llama.cpp/discussions/4167);
# dual-channel desktops typically reach 0.6 of the DDR peak.
BANDWIDTH_EFFICIENCY = {"discrete": 0.7, "unified": 0.55, "cpu": 0.6}


def bytes_read_per_token(active_weight_bytes: float, kv_cache_bytes: float = 0.0) -> float:
    """Bytes one generated token reads: the weights it uses plus the KV cache it attends to."""
    if not active_weight_bytes > 0 or not kv_cache_bytes >= 0:
        raise ValueError(f"weight bytes must be > 0 and KV bytes >= 0, got {active_weight_bytes!r}, {kv_cache_bytes!r}")
    return active_weight_bytes + kv_cache_bytes


def estimated_tokens_per_second(bytes_per_token: float, bandwidth_gbps: float, efficiency: float) -> float:
    """Roofline estimate: ``efficiency`` (0-1] x bandwidth / bytes per token."""
    if not 0 < efficiency <= 1:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency!r}")
    return efficiency * generation_ceiling_tokens_per_second(bytes_per_token, bandwidth_gbps)


@dataclass(frozen=True)
class SpeedModel:
    """Seconds per generated token = bytes / (efficiency x bandwidth) + layers x overhead per layer.

    The overhead (seconds per layer) is the part of a token that does not scale with the bytes read:
    every layer runs a few dozen small operations besides its matrix reads (norms, rotary embedding,
    attention over the cache, quantizing the activations for the next matrix), and the threads
    synchronise after each. It dominates for models of a few hundred MB on a CPU and vanishes beside
    the reading time of a multi-GB model.
    """

    efficiency: float  # share of the measured bandwidth the weights stream at, (0, 1]
    overhead_seconds_per_layer: float  # >= 0

    def seconds_per_token(self, bytes_per_token: float, bandwidth_gbps: float, n_layers: int) -> float:
        if not (isinstance(n_layers, (int, np.integer)) and n_layers >= 1):
            raise ValueError(f"n_layers must be a whole number >= 1, got {n_layers!r}")
        reading = 1 / estimated_tokens_per_second(bytes_per_token, bandwidth_gbps, self.efficiency)
        return reading + n_layers * self.overhead_seconds_per_layer

    def tokens_per_second(self, bytes_per_token: float, bandwidth_gbps: float, n_layers: int) -> float:
        return 1 / self.seconds_per_token(bytes_per_token, bandwidth_gbps, n_layers)


def fit_speed_model(bytes_per_token, n_layers, tokens_per_second, bandwidth_gbps: float) -> SpeedModel:
    """Least-squares fit of ``SpeedModel`` to measured (bytes per token, layers, tokens/s) on one machine.

    Seconds per token is linear in the two unknowns: bytes x 1 / (efficiency x bandwidth) + layers x
    overhead. Needs at least two models whose bytes per layer differ. The efficiency is capped at 1 and
    the overhead floored at 0 (each refitting the other), so the model never claims more than the
    bandwidth allows nor a negative time.
    """
    sizes, layers, speeds = (np.asarray(v, dtype=float) for v in (bytes_per_token, n_layers, tokens_per_second))
    if not sizes.shape == layers.shape == speeds.shape or sizes.ndim != 1:
        raise ValueError(f"need three equal-length lists, got {sizes.shape}, {layers.shape} and {speeds.shape}")
    if not (np.all(sizes > 0) and np.all(layers >= 1) and np.all(speeds > 0)) or not bandwidth_gbps > 0:
        raise ValueError("bytes, tokens/s and bandwidth must be positive, layers >= 1")
    if len(np.unique(np.round(sizes / layers))) < 2:
        raise ValueError(f"need at least two models with different bytes per layer, got {(sizes / layers).tolist()}")
    seconds = 1 / speeds
    fastest_slope = 1 / (bandwidth_gbps * 1e9)  # seconds per byte at efficiency 1
    (slope, per_layer), *_ = np.linalg.lstsq(np.column_stack([sizes, layers]), seconds, rcond=None)
    if per_layer < 0:
        slope, per_layer = float(np.sum(sizes * seconds) / np.sum(sizes**2)), 0.0
    if slope < fastest_slope:
        slope = fastest_slope
        per_layer = max(0.0, float(np.sum(layers * (seconds - slope * sizes)) / np.sum(layers**2)))
    return SpeedModel(float(fastest_slope / slope), float(per_layer))


def generation_tokens_per_second(arch, mix: str, context_tokens: int, device, cache_type: str = "f16",
                                 batch: int = 1) -> float:
    """The course's one estimate of generation speed with the whole model in one kind of memory.

    Each generated token reads the weights it uses (``helpers.memory.gguf_size.bytes_read_per_token``)
    and the KV cache of the ``context_tokens`` before it (``helpers.memory.vram.kv_cache_bytes``; 0
    tokens: weights only), at the share ``BANDWIDTH_EFFICIENCY[device.kind]`` of ``device``'s
    bandwidth (a catalog row of ``data/gpus.csv``: a discrete GPU, a unified-memory chip or a CPU).
    ``helpers.memory.willitrun.assess`` and ``helpers.hardware.offload.offload_curve`` (all layers on
    the device) give the same number; the tests hold them to it.
    """
    return estimated_tokens_per_second(weight_and_kv_bytes(arch, mix, context_tokens, cache_type, batch),
                                       device.bandwidth_gbps, BANDWIDTH_EFFICIENCY[device.kind])


def weight_and_kv_bytes(arch, mix: str, context_tokens: int, cache_type: str = "f16", batch: int = 1) -> int:
    """Bytes one generated token reads after ``context_tokens`` tokens: weights + KV cache (bytes)."""
    if not (isinstance(context_tokens, (int, np.integer)) and context_tokens >= 0):
        raise ValueError(f"context_tokens must be a whole number >= 0, got {context_tokens!r}")
    kv = kv_cache_bytes(arch, context_tokens, batch, cache_type) if context_tokens else 0
    return bytes_read_per_token(weight_bytes_per_token(arch, mix), kv)


@dataclass(frozen=True)
class ContextSpeed:
    """One row of :func:`speed_by_context`: bytes read per generated token (bytes) and the estimate (tokens/s)."""

    context_tokens: int
    weight_bytes: int
    kv_cache_bytes: int
    tokens_per_second: float


def speed_by_context(arch, mix: str, device, contexts, cache_type: str = "f16") -> list:
    """:func:`generation_tokens_per_second` of one setup at each of ``contexts`` (tokens), with its bytes."""
    contexts = list(contexts)
    if not contexts:
        raise ValueError("contexts must list at least one context length (tokens)")
    weights = weight_and_kv_bytes(arch, mix, 0, cache_type)
    return [ContextSpeed(c, weights, weight_and_kv_bytes(arch, mix, c, cache_type) - weights,
                         generation_tokens_per_second(arch, mix, c, device, cache_type)) for c in contexts]
