"""Checks for the exercises of notebook 05 (context length)."""
from helpers.exercises import check_choice, check_number
from helpers.memory.vram import kv_bytes_per_element

OVERFLOW_CHOICES = ("error", "truncated", "runs")


def kv_cache_mib(n_layers: int, n_kv_heads: int, head_dim: int, context: int, bytes_per_element: float) -> float:
    """2 (K and V) x layers x KV heads x head dim x context x bytes per element, in MiB (2**20 bytes)."""
    return 2 * n_layers * n_kv_heads * head_dim * context * bytes_per_element / 2**20


def check_kv_cache_mib(answer, n_layers: int, n_heads: int, n_kv_heads: int, head_dim: int, context: int):
    """05 ex. 1: f16 KV cache (MiB) of a model at ``context`` tokens (a multiple of 256: no padding)."""
    right = kv_cache_mib(n_layers, n_kv_heads, head_dim, context, 2)
    return check_number(answer, right, rel_tol=0.01, unit="MiB", mistakes=[
        (right / 2, "That is K or V alone: the cache holds both keys and values (the factor 2)."),
        (right * n_heads / n_kv_heads, "Count the key/value heads, not the query heads: with grouped-query "
                                       "attention several query heads share one KV head."),
        (right * 2, "f16 takes 2 bytes per number, not 4 (that would be f32)."),
        (right / 2 / 2, "Each number takes 2 bytes in f16, and there are both K and V."),
        (right * 2**20 / 10**6, "That is MB (10^6 bytes); the question asks for MiB (2^20 bytes)."),
        (right * 2**20 / 10**9, "Give MiB (2^20 bytes), not GB."),
        (right / 1024, "Give MiB, not GiB (1 GiB = 1,024 MiB)."),
    ])


def check_quantized_kv_mib(answer, f16_mib: float, cache_type: str = "q8_0"):
    """05 ex. 2: the same cache stored as ``cache_type`` (MiB), from its f16 size."""
    per = kv_bytes_per_element(cache_type)
    right = f16_mib * per / 2
    bits = 8 if cache_type == "q8_0" else 4
    return check_number(answer, right, rel_tol=0.005, unit="MiB", mistakes=[
        (f16_mib * bits / 8 / 2, f"{cache_type} stores {bits} bits per number PLUS one f16 scale per block of "
                                 f"32: {per * 32:g} bytes per 32 numbers, not {bits * 4} bytes."),
        (f16_mib, "That is still the f16 size: a quantized cache stores fewer bytes per number."),
        (f16_mib / 2, f"Halving is the rough idea for q8_0, but each block of 32 also carries a 2-byte scale: "
                      f"{per * 32:g} bytes per 32 numbers."),
    ])


def check_prompt_overflow(answer):
    """05 ex. 3: a 300-token prompt into n_ctx=256 with llama-cpp-python: error, truncated or runs?"""
    return check_choice(answer, "error", allowed=OVERFLOW_CHOICES, hints={
        "truncated": "llama-cpp-python never cuts your prompt for you: it raises ValueError "
                     "('Requested tokens (300) exceed context window of 256'). Cutting is your job.",
        "runs": "The cache has 256 cells; a 300-token prompt cannot fit. llama-cpp-python checks before "
                "evaluating and raises ValueError.",
    })


def check_tokens_generated(answer, n_ctx: int, prompt_tokens: int, max_tokens: int):
    """05 ex. 4: how many tokens a completion can generate (llama-cpp-python cuts max_tokens to fit)."""
    right = min(max_tokens, n_ctx - prompt_tokens)
    return check_number(answer, right, rel_tol=0.0, unit="tokens", mistakes=[
        (max_tokens, "max_tokens is an upper bound: prompt and output share the context window, so "
                     "llama-cpp-python lowers it to n_ctx - prompt tokens and stops with finish_reason 'length'."),
        (n_ctx, "The prompt's tokens occupy the window too: only what is left after them can be generated."),
        (right - 1, "Off by one: llama-cpp-python allows exactly n_ctx - prompt tokens."),
        (right + 1, "Off by one: llama-cpp-python allows exactly n_ctx - prompt tokens."),
    ])
