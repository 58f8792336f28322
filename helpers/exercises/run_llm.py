"""Checks for the exercises of notebook 03 (run a local LLM)."""
from helpers.exercises import check_choice, check_number
from helpers.memory.architecture import Architecture
from helpers.memory.vram import kv_cache_bytes

SETTINGS = ("n_ctx", "n_threads", "n_batch", "n_gpu_layers", "seed")
OLLAMA_NAMES = ("num_ctx", "num_thread", "num_batch", "num_gpu", "num_predict")


def kv_cache_gib(n_layers: int, n_kv_heads: int, head_dim: int, n_ctx: int, n_heads: int = None) -> float:
    """F16 KV cache of a model shape at ``n_ctx`` tokens, in GiB (2**30 bytes)."""
    arch = Architecture(name="exercise", n_layers=n_layers, hidden=(n_heads or n_kv_heads) * head_dim,
                        ffn=4 * (n_heads or n_kv_heads) * head_dim, n_heads=n_heads or n_kv_heads,
                        n_kv_heads=n_kv_heads, head_dim=head_dim, vocab=32000, max_context=max(n_ctx, 16))
    return kv_cache_bytes(arch, n_ctx) / 2**30


def check_kv_cache_gib(answer, n_layers: int = 32, n_heads: int = 32, n_kv_heads: int = 8, head_dim: int = 128,
                       n_ctx: int = 8192):
    """03 ex. 1: the F16 KV cache (GiB) of an 8B-class model at ``n_ctx`` tokens."""
    right = kv_cache_gib(n_layers, n_kv_heads, head_dim, n_ctx, n_heads)
    return check_number(answer, right, rel_tol=0.01, unit="GiB", mistakes=[
        (right / 2, "That is only K or only V: the cache stores both, so multiply by 2."),
        (right * n_heads / n_kv_heads, "Use the KV heads (grouped-query attention shares them), not the query heads."),
        (right * 2**30 / 10**9, "That is GB (10^9 bytes); the question asks for GiB (2^30 bytes)."),
        (right * 2, "F16 stores 2 bytes per number, not 4."),
        (right * 2**30, "That is bytes: divide by 2^30 for GiB."),
    ])


def check_setting_for_long_prompt(answer):
    """03 ex. 2: a 3,000-token document is refused with 'exceed context window'; which setting to raise?"""
    return check_choice(answer, "n_ctx", allowed=SETTINGS, hints={
        "n_threads": "Threads change speed, not how many tokens fit in the context window.",
        "n_batch": "n_batch is how many prompt tokens are evaluated per step; the window itself is n_ctx.",
        "n_gpu_layers": "Offloading moves layers to the GPU; the number of tokens that fit stays n_ctx.",
        "seed": "The seed only fixes random sampling.",
    })


def check_ollama_name(answer):
    """03 ex. 3: Ollama's name for llama.cpp's n_gpu_layers."""
    return check_choice(answer, "num_gpu", allowed=OLLAMA_NAMES, hints={
        "num_thread": "num_thread is n_threads (CPU threads).",
        "num_ctx": "num_ctx is n_ctx (context window in tokens).",
        "num_batch": "num_batch is n_batch (prompt tokens per evaluation step).",
        "num_predict": "num_predict is max_tokens (how many tokens to generate).",
    })
