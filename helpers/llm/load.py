"""Load a GGUF model the safe way: check the file first, then hand it to llama.cpp; stream, score.

:func:`check_file_fits` refuses non-GGUF, truncated, corrupt or too-large files with a ValueError
naming the file before llama.cpp ever opens it, so a bad file cannot take the kernel down. Files come
from the course, or from a hub through ``helpers.hub.download`` (verified, resumable).
"""
from pathlib import Path

import psutil

from helpers.gguf.header import check_gguf
from helpers.hardware.machine import gpu_memory_bytes

MEMORY_HEADROOM = 1.2  # a model file needs about its own size in RAM, plus context and buffers


def check_file_fits(path, available_bytes=None) -> None:
    """Refuse ``path`` unless it is a whole GGUF file that fits in ``available_bytes`` / 1.2 bytes.

    ``available_bytes`` defaults to psutil's available memory. Raises FileNotFoundError or
    ValueError (see :func:`helpers.gguf.header.check_gguf`), or ValueError naming the sizes in GiB.
    """
    path = Path(path)
    check_gguf(path)
    size = path.stat().st_size
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    if size * MEMORY_HEADROOM > available:
        raise ValueError(f"{path.name}: {size / 2**30:.2f} GiB file needs about "
                         f"{size * MEMORY_HEADROOM / 2**30:.2f} GiB but only "
                         f"{available / 2**30:.2f} GiB of memory is available")


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(n_ctx, n_threads, n_gpu_layers) -> None:
    """Refuse settings llama.cpp would reject with an opaque message, or silently reinterpret.

    ``n_ctx``: tokens, a whole number >= 0 (0: the model's trained context); ``n_threads``: a whole
    number >= 1; ``n_gpu_layers``: -1 (all) or a whole number >= 0.
    """
    if not _is_whole(n_ctx) or n_ctx < 0:
        raise ValueError(f"n_ctx must be a whole number of tokens >= 0 (0: the model's trained context), "
                         f"got {n_ctx!r}")
    if not _is_whole(n_threads) or n_threads < 1:
        raise ValueError(f"n_threads must be a whole number >= 1 (about one per physical core), got {n_threads!r}")
    if not _is_whole(n_gpu_layers) or n_gpu_layers < -1:
        raise ValueError(f"n_gpu_layers must be -1 (all) or a whole number >= 0, got {n_gpu_layers!r}")


def load_model(path, n_ctx: int = 256, n_threads: int = 2, n_gpu_layers: int = 0,
               seed: int = 0, logits_all: bool = False, available_bytes=None, **kwargs):
    """A ``llama_cpp.Llama`` for ``path`` after :func:`check_file_fits` accepted it (verbose off).

    ``available_bytes`` is the memory the file may use (bytes); by default the free RAM, plus the
    GPU's VRAM when layers are offloaded (``n_gpu_layers != 0``).
    """
    import llama_cpp

    check_settings(n_ctx, n_threads, n_gpu_layers)
    if available_bytes is None and n_gpu_layers != 0:
        available_bytes = psutil.virtual_memory().available + gpu_memory_bytes()
    check_file_fits(path, available_bytes)
    return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                           n_gpu_layers=n_gpu_layers, seed=seed, logits_all=logits_all,
                           verbose=False, **kwargs)


def stream_tokens(llm, prompt: str, max_tokens: int = 64, temperature: float = 0.0, **kwargs):
    """Yield generated text pieces one at a time (llama-cpp-python's streaming completion)."""
    if not _is_whole(max_tokens) or max_tokens < 1:  # llama-cpp-python reads 0 or less as "until the context is full"
        raise ValueError(f"max_tokens must be a whole number of tokens >= 1, got {max_tokens!r}")
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature,
                                       stream=True, **kwargs):
        yield chunk["choices"][0]["text"]


def log_softmax(logits):
    """Row-wise log-softmax of a 2-D numpy array (float64, numerically stable)."""
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def perplexity(llm, ids, window: int = 128, max_windows: int = 8) -> float:
    """Perplexity of token ``ids`` under a Llama made with ``logits_all=True``.

    The text is cut into consecutive windows of ``window`` tokens (at most ``max_windows``); each
    window is evaluated from an empty cache and every token after its first is scored:
    exp(mean negative log-likelihood in nats).
    """
    import numpy as np

    if len(ids) < window + 1:
        raise ValueError(f"need more than window={window} tokens, got {len(ids)}")
    nll, count = 0.0, 0
    for start in range(0, min(len(ids) - window, max_windows * window), window):
        chunk = list(ids[start:start + window])
        llm.reset()
        llm.eval(chunk)
        logp = log_softmax(np.array(llm.scores[:window - 1]))
        nll -= logp[np.arange(window - 1), chunk[1:]].sum()
        count += window - 1
    return float(np.exp(nll / count))
