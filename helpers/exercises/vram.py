"""Checks for the exercises of notebooks 08 (VRAM math) and 09 (will it run?)."""
from helpers.exercises import check_choice, check_number
from helpers.hardware.roofline import generation_ceiling_tokens_per_second
from helpers.memory.vram import kv_cache_bytes


def check_kv_cache_gib(answer, arch, context: int):
    """08 ex. 1: KV cache of ``arch`` at ``context`` tokens, f16, one sequence, in GiB (2**30 bytes)."""
    right = kv_cache_bytes(arch, context)
    per_head_dim = arch.n_layers * arch.head_dim * context * 2
    return check_number(answer, right / 2**30, rel_tol=0.01, unit="GiB", mistakes=[
        (right / 2 / 2**30, "Half of it: the cache keeps two tensors per layer, K *and* V."),
        (2 * per_head_dim * arch.n_heads / 2**30, "That uses all attention heads; only the KV heads are cached "
                                                    "(grouped-query attention)."),
        (right / 1e9, "That is GB (10**9 bytes); the question asks for GiB (2**30 bytes)."),
    ])


def check_q8_0_bytes_per_weight(answer):
    """08 ex. 2: bytes per weight of Q8_0 (block of 32 int8 values + one f16 scale)."""
    return check_number(answer, 34 / 32, rel_tol=0.001, unit="bytes", mistakes=[
        (1.0, "Each block of 32 weights also stores a 2-byte f16 scale: (32 + 2) / 32."),
        (8.5, "That is bits per weight; divide by 8 for bytes."),
        (2 / 32, "That is the scale alone; add the 32 one-byte quants."),
    ])


def check_fits_choice(answer, fits: bool):
    """08 ex. 3: True/False, does the configuration fit entirely on the GPU?"""
    return check_choice(answer, fits, allowed=(True, False), hints={
        (not fits): "Add every term: weights, KV cache at that context, compute buffer and runtime overhead, "
                    "and compare with the card's GiB.",
    })


def check_best_quant(answer, best: str, allowed):
    """09 ex. 1: the mix with the most bits that still fits."""
    allowed = tuple(allowed)
    hints = {q: (f"{q} fits, but a mix with more bits fits too." if allowed.index(q) > allowed.index(best)
                 else f"{q} does not fit: check the table's largest context against the context asked for.")
             for q in allowed if q != best} if best in allowed else {}
    return check_choice(answer, best, allowed=allowed, hints=hints)


def check_tokens_per_second(answer, bytes_per_token: float, bandwidth_gbps: float, efficiency: float,
                            seconds_per_layer: float = 0.0, n_layers: int = 0):
    """09 ex. 2: speed model = 1 / (bytes / (efficiency x bandwidth) + layers x time per layer) (tokens/s)."""
    ceiling = generation_ceiling_tokens_per_second(bytes_per_token, bandwidth_gbps)
    reading_s = 1 / (efficiency * ceiling)
    right = 1 / (reading_s + n_layers * seconds_per_layer)
    return check_number(answer, right, rel_tol=0.03, unit="tokens/s", mistakes=[
        (ceiling, "That is the ceiling; real runs reach only a share of peak bandwidth, and each layer takes time too."),
        (1 / reading_s, "That counts only the reading; add the fixed time of every layer to the seconds per token."),
        (efficiency * ceiling * 1e9 / 2**30, "Keep bytes and GB/s in the same decimal unit (10**9), not GiB."),
        (efficiency * bandwidth_gbps * bytes_per_token / 1e9, "Divide bandwidth by the bytes per token, not multiply."),
    ])
