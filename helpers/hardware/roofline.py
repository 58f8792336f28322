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
    attention over the cache, the activations prepared for the next matrix). On a CPU the threads
    synchronise after each; on a GPU each is a kernel launch and a wait. It dominates for small models
    on fast memory (a 4 GB model on a 3 TB/s card reads its weights in about 1.3 ms) and vanishes
    beside the reading time of a large model on slow memory.
    """

    efficiency: float  # share of the bandwidth the weights stream at, (0, 1]
    overhead_seconds_per_layer: float  # >= 0

    def seconds_for(self, nbytes: float, bandwidth_gbps: float, n_layers: int) -> float:
        """Seconds one device spends on its share of a token: ``nbytes`` read and ``n_layers`` layers run.

        Either may be 0 (a device that holds only the output layer, or only some experts' bytes).
        """
        if not (nbytes >= 0 and bandwidth_gbps > 0 and isinstance(n_layers, (int, np.integer)) and n_layers >= 0):
            raise ValueError(f"need bytes >= 0, bandwidth > 0 and whole layers >= 0, got {nbytes!r}, "
                             f"{bandwidth_gbps!r}, {n_layers!r}")
        return nbytes / (self.efficiency * bandwidth_gbps * 1e9) + n_layers * self.overhead_seconds_per_layer

    def seconds_per_token(self, bytes_per_token: float, bandwidth_gbps: float, n_layers: int) -> float:
        if not (isinstance(n_layers, (int, np.integer)) and n_layers >= 1):
            raise ValueError(f"n_layers must be a whole number >= 1, got {n_layers!r}")
        reading = 1 / estimated_tokens_per_second(bytes_per_token, bandwidth_gbps, self.efficiency)
        return reading + n_layers * self.overhead_seconds_per_layer

    def tokens_per_second(self, bytes_per_token: float, bandwidth_gbps: float, n_layers: int) -> float:
        return 1 / self.seconds_per_token(bytes_per_token, bandwidth_gbps, n_layers)


def fit_speed_model(bytes_per_token, n_layers, tokens_per_second, bandwidth_gbps) -> SpeedModel:
    """Fit ``SpeedModel`` to measured (bytes per token, layers, tokens/s), minimising the *relative* error.

    ``bandwidth_gbps``: one machine's (a number) or each run's own device (a list, GB/s). Seconds per
    token is linear in the two unknowns: bytes / bandwidth x 1 / efficiency + layers x overhead, so each
    run divided by its own measured seconds gives a least-squares problem in relative terms: a 2%
    miss counts the same on a 5 tokens/s laptop and a 300 tokens/s card. Needs at least two runs whose
    reading time per layer differs. The efficiency is capped at 1 and the overhead floored at 0 (each
    refitting the other), so the model never claims more than the bandwidth allows nor a negative time.
    """
    sizes, layers, speeds = (np.asarray(v, dtype=float) for v in (bytes_per_token, n_layers, tokens_per_second))
    bandwidth = np.asarray(bandwidth_gbps, dtype=float)
    if not sizes.shape == layers.shape == speeds.shape or sizes.ndim != 1 or bandwidth.ndim > 1:
        raise ValueError(f"need three equal-length lists, got {sizes.shape}, {layers.shape} and {speeds.shape}")
    bandwidth = np.broadcast_to(bandwidth, sizes.shape)
    if not (np.all(sizes > 0) and np.all(layers >= 1) and np.all(speeds > 0) and np.all(bandwidth > 0)):
        raise ValueError("bytes, tokens/s and bandwidth must be positive, layers >= 1")
    reading = sizes / (bandwidth * 1e9)  # seconds per token at efficiency 1
    per_layer_reading = reading / layers
    if np.ptp(per_layer_reading) <= 1e-9 * per_layer_reading.max():
        raise ValueError(f"need at least two runs with different bytes per layer, got {(sizes / layers).tolist()}")
    seconds = 1 / speeds
    a, b = reading / seconds, layers / seconds  # each run in units of its own measured time: target 1
    (slope, per_layer), *_ = np.linalg.lstsq(np.column_stack([a, b]), np.ones_like(a), rcond=None)
    if per_layer < 0:
        slope, per_layer = float(np.sum(a) / np.sum(a * a)), 0.0
    if slope < 1:  # faster than the bandwidth allows: efficiency 1, the rest is overhead
        slope = 1.0
        per_layer = max(0.0, float(np.sum(b * (1 - a)) / np.sum(b * b)))
    return SpeedModel(float(1 / slope), float(per_layer))


def weight_and_kv_bytes(arch, mix: str, context_tokens: int, cache_type: str = "f16", batch: int = 1) -> int:
    """Bytes one generated token reads after ``context_tokens`` tokens: weights + KV cache (bytes)."""
    if not (isinstance(context_tokens, (int, np.integer)) and context_tokens >= 0):
        raise ValueError(f"context_tokens must be a whole number >= 0, got {context_tokens!r}")
    kv = kv_cache_bytes(arch, context_tokens, batch, cache_type) if context_tokens else 0
    return bytes_read_per_token(weight_bytes_per_token(arch, mix), kv)
