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
    """Seconds per generated token = bytes / (efficiency x bandwidth) + a fixed overhead per token.

    The overhead (seconds) is the part of a token that does not scale with the bytes read: launching
    and synchronising one graph of several hundred small operations, sampling. It dominates for
    models of a few hundred MB on a CPU and vanishes beside the reading time of a multi-GB model.
    """

    efficiency: float  # share of the measured bandwidth the weights stream at, (0, 1]
    overhead_seconds: float  # per token, >= 0

    def seconds_per_token(self, bytes_per_token: float, bandwidth_gbps: float) -> float:
        return 1 / estimated_tokens_per_second(bytes_per_token, bandwidth_gbps, self.efficiency) + self.overhead_seconds

    def tokens_per_second(self, bytes_per_token: float, bandwidth_gbps: float) -> float:
        return 1 / self.seconds_per_token(bytes_per_token, bandwidth_gbps)


def fit_speed_model(bytes_per_token, tokens_per_second, bandwidth_gbps: float) -> SpeedModel:
    """Least-squares fit of ``SpeedModel`` to measured (bytes per token, tokens/s) pairs on one machine.

    Seconds per token is a straight line in bytes: slope 1 / (efficiency x bandwidth), intercept the
    overhead. Needs at least two distinct sizes. The efficiency is capped at 1 and the overhead
    floored at 0, so the model never claims more than the bandwidth allows.
    """
    sizes = np.asarray(bytes_per_token, dtype=float)
    speeds = np.asarray(tokens_per_second, dtype=float)
    if sizes.shape != speeds.shape or sizes.ndim != 1:
        raise ValueError(f"need two equal-length lists, got {sizes.shape} and {speeds.shape}")
    if len(np.unique(sizes)) < 2:
        raise ValueError(f"need at least two distinct model sizes, got {sizes.tolist()}")
    if not (np.all(sizes > 0) and np.all(speeds > 0)) or not bandwidth_gbps > 0:
        raise ValueError("bytes, tokens/s and bandwidth must all be positive")
    slope, intercept = np.polyfit(sizes, 1 / speeds, 1)
    if intercept < 0:  # refit through the origin: no negative overhead
        slope, intercept = float(np.sum(sizes / speeds) / np.sum(sizes**2)), 0.0
    efficiency = min(1.0, 1 / (slope * bandwidth_gbps * 1e9)) if slope > 0 else 1.0
    return SpeedModel(float(efficiency), float(intercept))
