"""How fast text generation can be: the memory-bandwidth ceiling (roofline) for tokens per second.

Generating one token reads every weight once, so generation speed is bounded by
memory bandwidth / bytes read per token. Bandwidth in GB/s (10**9 bytes/s), sizes in bytes.
"""


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
