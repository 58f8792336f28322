"""Load a GGUF model the safe way: look at its header first, then hand it to llama.cpp.

``inspect_gguf`` reads only the header and metadata (``gguf.GGUFReader``, memory-mapped) and
refuses non-GGUF, truncated, corrupt or too-large files with a ValueError naming the file, before
llama.cpp ever opens it, so a bad file cannot take the kernel down.
"""
import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import gguf
import psutil

from helpers.atomic import atomic_path
from helpers.offline import network_allowed

GGUF_MAGIC = b"GGUF"
MEMORY_HEADROOM = 1.2  # a model file needs about its own size in RAM, plus context and buffers


@dataclass
class GGUFInfo:
    """What a GGUF header says. Sizes in bytes."""
    path: str
    version: int
    architecture: str
    tensor_count: int
    file_bytes: int
    context_length: int
    file_type: str
    name: str


def _field(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def inspect_gguf(path, available_bytes=None) -> GGUFInfo:
    """Read a GGUF file's header and metadata without loading the weights.

    ``available_bytes`` defaults to psutil's available memory. Raises FileNotFoundError for a
    missing file and ValueError for a file that is not GGUF (wrong magic, e.g. a PyTorch pickle),
    is truncated or corrupt (tensor data would run past the end of the file), or needs more than
    ``available_bytes`` / 1.2 bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        hint = " (this looks like a zip/PyTorch checkpoint)" if magic[:2] == b"PK" else ""
        raise ValueError(f"{path.name}: not a GGUF file: starts with {magic!r}, expected "
                         f"{GGUF_MAGIC!r}{hint}")
    try:
        reader = gguf.GGUFReader(path, "r")
    except Exception as err:  # the reader raises many types on damaged headers
        raise ValueError(f"{path.name}: corrupt or truncated GGUF header ({err})") from err
    end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size:
        raise ValueError(f"{path.name}: truncated: tensor data ends at byte {end:,} "
                         f"but the file has {size:,} bytes")
    arch = _field(reader, "general.architecture") or "unknown"
    ctx = _field(reader, f"{arch}.context_length")
    ftype = _field(reader, "general.file_type")
    try:
        ftype_name = gguf.LlamaFileType(ftype).name.replace("MOSTLY_", "") if ftype is not None else "unknown"
    except ValueError:
        ftype_name = f"file_type {ftype}"
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    if size * MEMORY_HEADROOM > available:
        raise ValueError(f"{path.name}: {size / 2**30:.2f} GiB file needs about "
                         f"{size * MEMORY_HEADROOM / 2**30:.2f} GiB but only "
                         f"{available / 2**30:.2f} GiB of memory is available")
    return GGUFInfo(path=path.name, version=int(_field(reader, "GGUF.version") or 0),
                    architecture=str(arch), tensor_count=len(reader.tensors), file_bytes=size,
                    context_length=int(ctx) if ctx is not None else 0, file_type=ftype_name,
                    name=str(_field(reader, "general.name") or path.stem))


def load_model(path, n_ctx: int = 256, n_threads: int = 2, n_gpu_layers: int = 0,
               seed: int = 0, logits_all: bool = False, available_bytes=None, **kwargs):
    """A ``llama_cpp.Llama`` for ``path`` after :func:`inspect_gguf` accepted it (verbose off).

    ``available_bytes`` is the memory the file may use (bytes); by default the free RAM, plus the
    GPU's VRAM when layers are offloaded (``n_gpu_layers != 0``).
    """
    import llama_cpp

    if available_bytes is None and n_gpu_layers != 0:
        from helpers.local_llm import gpu_memory_bytes

        available_bytes = psutil.virtual_memory().available + gpu_memory_bytes()
    inspect_gguf(path, available_bytes)
    return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                           n_gpu_layers=n_gpu_layers, seed=seed, logits_all=logits_all,
                           verbose=False, **kwargs)


def stream_tokens(llm, prompt: str, max_tokens: int = 64, temperature: float = 0.0, **kwargs):
    """Yield generated text pieces one at a time (llama-cpp-python's streaming completion)."""
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature,
                                       stream=True, **kwargs):
        yield chunk["choices"][0]["text"]


def download_gguf(url: str, sha256: str, dest) -> Path:
    """Download a GGUF to ``dest``, verify its sha256 (hex), write it atomically.

    The course runs offline: this lifts the course's network guard explicitly
    (``helpers.offline.network_allowed``) for this one download. Tests never call it.
    """
    dest = Path(dest)
    digest = hashlib.sha256()
    with atomic_path(dest) as tmp, network_allowed():
        with urllib.request.urlopen(url) as response, tmp.open("wb") as out:  # noqa: S310
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256.lower():
            raise ValueError(f"{dest.name}: sha256 {digest.hexdigest()} differs from expected {sha256}")
        os.chmod(tmp, 0o644)
    return dest


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
