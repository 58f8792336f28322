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
