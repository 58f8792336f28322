"""How fast text generation can be: the memory-bandwidth ceiling (roofline) for tokens per second.

Generating one token reads every weight once, so generation speed is bounded by
memory bandwidth / bytes read per token. Bandwidth in GB/s (10**9 bytes/s), sizes in bytes.
"""
from dataclasses import dataclass

import numpy as np


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
