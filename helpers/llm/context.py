"""Context length, measured: the KV cache llama.cpp allocates, what a long context costs, loss by position.

llama.cpp reports its buffers in its log ("KV buffer size = 12.00 MiB", "compute buffer size =
...", MiB = 2**20 bytes, two decimals). llama-cpp-python passes that C log through a Python callback
that prints to ``sys.stderr``, so :func:`captured_llama_log` can collect it without touching file
descriptors. :mod:`helpers.memory.llama_log` turns the lines into bytes; :func:`measure_context`
loads a GGUF with a given ``n_ctx`` and KV cache type and returns what llama.cpp allocated next to
the growth of this process's resident memory (RSS, bytes). :func:`window_nll` and :func:`bucket_spread` measure
the loss by position over many windows of a text, with its spread.

All sizes are in bytes unless a name says MiB (2**20 bytes).
"""
import contextlib
import io
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from helpers.gguf.header import read_header
from helpers.llm.load import check_file_fits, log_softmax
from helpers.llm.memory_check import architecture_of, rss_bytes
from helpers.memory.architecture import FAMILIES, Architecture
from helpers.memory.llama_log import LlamaBuffers, overflow_warning, parse_llama_log, trained_context

# llama.cpp's ggml type ids for the KV cache types the course uses (ggml.h: enum ggml_type).
KV_CACHE_GGML_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}


def ggml_type(cache_type: str) -> int:
    """llama.cpp's type id for a KV cache type name ("f16", "q8_0", "q4_0", "f32")."""
    if cache_type not in KV_CACHE_GGML_TYPES:
        raise ValueError(f"cache_type must be one of {sorted(KV_CACHE_GGML_TYPES)}, got {cache_type!r}")
    return KV_CACHE_GGML_TYPES[cache_type]


@contextlib.contextmanager
def captured_llama_log():
    """Collect what llama.cpp logs inside the block into a StringIO (yielded); quiet again after.

    Create the ``Llama`` with ``verbose=True`` inside the block: llama-cpp-python then routes the C
    library's log through its Python callback to ``sys.stderr``, which is redirected here. Nothing
    touches file descriptors, so it is safe in Jupyter.
    """
    from llama_cpp import _logger

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        _logger.set_verbose(False)  # errors only, like Llama(verbose=False)


@dataclass(frozen=True)
class ContextMeasurement:
    """One context configuration as llama.cpp created it. Bytes; ``n_ctx`` is llama.cpp's (padded)."""

    n_ctx_requested: int
    n_ctx: int
    k_type: str
    v_type: str
    flash_attention: bool
    buffers: LlamaBuffers
    rss_growth_bytes: int  # resident memory after load minus before (weights pages + buffers)
    n_ctx_train: int  # the trained context llama.cpp read from the file (tokens)
    warning: str  # llama.cpp's log line when n_ctx exceeds n_ctx_train, else ""


_CHECKED = set()


def _checked(path) -> None:
    """:func:`helpers.llm.load.check_file_fits` once per file version (reading a 150k-token vocabulary takes seconds)."""
    stat = Path(path).stat() if Path(path).is_file() else None
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns) if stat else None
    if key not in _CHECKED:
        check_file_fits(path)  # raises for a missing, foreign, damaged or too-large file
        _CHECKED.add(key)


def make_llama(path, n_ctx: int, k_type: str = "f16", v_type: str = None, flash_attention: bool = False,
               n_threads: int = 1, verbose: bool = False, **kwargs):
    """A ``llama_cpp.Llama`` on the CPU with KV cache types by name (``v_type`` defaults to ``k_type``).

    A quantized V cache needs ``flash_attention=True``: llama.cpp refuses the context otherwise and
    llama-cpp-python raises ValueError("Failed to create llama_context").
    """
    import llama_cpp

    if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or not 1 <= n_ctx <= 10_000_000:
        raise ValueError(f"n_ctx must be a whole number in [1, 10000000], got {n_ctx!r}")
    v_type = k_type if v_type is None else v_type
    _checked(path)
    return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_batch=min(512, n_ctx), n_threads=n_threads,
                           n_threads_batch=n_threads, n_gpu_layers=0, type_k=ggml_type(k_type),
                           type_v=ggml_type(v_type), flash_attn=flash_attention, verbose=verbose, **kwargs)


def measure_context(path, n_ctx: int, k_type: str = "f16", v_type: str = None,
                    flash_attention: bool = False) -> ContextMeasurement:
    """Load ``path`` with ``n_ctx`` and the given KV cache types; what llama.cpp allocated and RSS growth.

    The model is freed before returning. Raises ValueError (from llama-cpp-python) when llama.cpp
    refuses the configuration, e.g. a quantized V cache without flash attention.
    """
    v_type = k_type if v_type is None else v_type
    before = rss_bytes()
    with captured_llama_log() as log:
        llm = make_llama(path, n_ctx, k_type, v_type, flash_attention, verbose=True)
        grown = rss_bytes() - before
        actual = llm.n_ctx()
        llm.close()
        del llm
    text = log.getvalue()
    return ContextMeasurement(n_ctx, actual, k_type, v_type, flash_attention, parse_llama_log(text), grown,
                              trained_context(text), overflow_warning(text))


def architecture_from_gguf(path, name: str = None) -> Architecture:
    """The :class:`Architecture` a GGUF file's metadata describes (``helpers.llm.memory_check.architecture_of``,
    the one mapping from a header), for a family the course lays out; ``name`` replaces the file's own."""
    header = read_header(path)
    if header.architecture not in FAMILIES:
        raise ValueError(f"{Path(path).name}: architecture must be one of {FAMILIES}, got {header.architecture!r}")
    return replace(architecture_of(header), name=name or header.name,
                   tokenizer="spm" if header.tokenizer_model == "llama" else "bpe")


def window_starts(n_tokens: int, window: int, n_windows: int) -> list:
    """First token index of ``n_windows`` non-overlapping windows of ``window`` tokens, spread evenly.

    The text holds ``n_tokens // window`` such windows; asking for more raises ValueError (they
    would overlap and no longer be independent samples of the text).
    """
    fit = int(n_tokens) // int(window)
    if isinstance(n_windows, bool) or not isinstance(n_windows, int) or not 1 <= n_windows <= fit:
        raise ValueError(f"n_windows must be a whole number in [1, {fit}] ({n_tokens} tokens hold {fit} "
                         f"windows of {window}), got {n_windows!r}")
    return [k * fit // n_windows * window for k in range(n_windows)]


def window_nll(llm, ids, window: int, n_windows: int) -> np.ndarray:
    """Negative log-likelihood (nats) at every position of ``n_windows`` windows: shape (n_windows, window - 1).

    ``llm`` must be made with ``logits_all=True`` and ``n_ctx >= window``. The windows do not overlap
    and are spread evenly over ``ids`` (:func:`window_starts`); each is evaluated from an empty
    cache, so position p has exactly p tokens of context before it. Entry [w, i] is the loss of
    predicting the token at position i + 1 of window w.
    """
    window = int(window)
    if window < 2 or window > llm.n_ctx():
        raise ValueError(f"window must be in [2, n_ctx={llm.n_ctx()}], got {window}")
    if len(ids) < window:
        raise ValueError(f"need at least window={window} tokens, got {len(ids)}")
    out = np.empty((n_windows, window - 1))
    for row, start in enumerate(window_starts(len(ids), window, n_windows)):
        chunk = [int(i) for i in ids[start:start + window]]
        llm.reset()
        llm.eval(chunk)
        logp = log_softmax(np.array(llm.scores[:window - 1]))
        out[row] = -logp[np.arange(window - 1), chunk[1:]]
    return out


def sequence_nll(llm, ids, batch_size: int = 512) -> np.ndarray:
    """Negative log-likelihood (nats) of ids[1:], each token given every token before it, in one pass.

    Unlike :func:`window_nll` this evaluates one long sequence from an empty cache (positions
    0..len-1, so it can run past the trained context when ``llm.n_ctx()`` allows) and keeps only one
    batch of logits at a time: llama-cpp-python's ``logits_all`` would hold n_ctx x vocabulary float32
    numbers (2 GB at 10,240 tokens of a 49,152-token vocabulary). ``llm`` may be made without
    ``logits_all``. Entry i is the loss of the token at position i + 1.
    """
    import llama_cpp

    ids = [int(i) for i in ids]
    if not 2 <= len(ids) <= llm.n_ctx():
        raise ValueError(f"need 2 to n_ctx={llm.n_ctx()} token ids, got {len(ids)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= llm.n_batch:
        raise ValueError(f"batch_size must be a whole number in [1, n_batch={llm.n_batch}], got {batch_size!r}")
    n_vocab, memory = llm.n_vocab(), llama_cpp.llama_get_memory(llm.ctx)
    batch = llama_cpp.llama_batch_init(batch_size, 0, 1)
    llm.reset()
    llama_cpp.llama_memory_clear(memory, True)
    nll = np.empty(len(ids) - 1)
    try:
        for start in range(0, len(ids) - 1, batch_size):
            chunk = ids[start:min(start + batch_size, len(ids) - 1)]
            batch.n_tokens = len(chunk)
            for i, token in enumerate(chunk):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, start + i, 1, True
                batch.seq_id[i][0] = 0
            if llama_cpp.llama_decode(llm.ctx, batch) != 0:
                raise RuntimeError(f"llama_decode failed at position {start}")
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(len(chunk), n_vocab))
            targets = ids[start + 1:start + 1 + len(chunk)]
            nll[start:start + len(chunk)] = -log_softmax(logits)[np.arange(len(chunk)), targets]
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_memory_clear(memory, True)
    return nll


def bucket_perplexity(nll, bucket: int) -> list:
    """Perplexity per bucket of ``bucket`` positions: [(first position, last position, perplexity)].

    ``nll[i]`` is the loss (nats) of the token at position i + 1 (see :func:`sequence_nll`).
    """
    nll = np.asarray(nll, dtype=np.float64)
    if bucket < 1:
        raise ValueError(f"bucket must be a positive number of positions, got {bucket!r}")
    out = []
    for start in range(0, len(nll), bucket):
        part = nll[start:start + bucket]
        out.append((start + 1, start + len(part), float(math.exp(part.mean()))))
    return out


@dataclass(frozen=True)
class BucketSpread:
    """The loss in one bucket of positions over many windows, as perplexities (e^mean loss in nats).

    ``low``/``high`` and ``ratio_low``/``ratio_high`` bound the interval a bootstrap over windows
    gives (windows drawn again with replacement); the quartiles describe the windows themselves
    (how much passages differ). ``ratio`` compares the bucket with the reference positions of the
    same windows, so passage difficulty cancels out.
    """

    first: int  # first position in the bucket (1-based: position p has p tokens before it)
    last: int
    perplexity: float  # over every window and position in the bucket
    low: float
    high: float
    window_q1: float  # quartiles of the windows' own perplexities in this bucket
    window_median: float
    window_q3: float
    ratio: float  # perplexity / the reference positions' perplexity
    ratio_low: float
    ratio_high: float


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return int(value)


def bucket_spread(nll_by_window, bucket: int, reference: tuple, level: float = 0.95, resamples: int = 2000,
                  seed: int = 0) -> list:
    """:class:`BucketSpread` for every bucket of ``bucket`` positions of ``nll_by_window`` (see :func:`window_nll`).

    ``nll_by_window[w, i]``: loss (nats) at position i + 1 of window w. ``reference``: (first, last)
    positions whose perplexity every bucket is compared with (e.g. the second half of the training
    sequence length). Intervals: the central ``level`` share of ``resamples`` bootstrap draws of the
    windows (a seeded generator, so the same input gives the same intervals); the ratio uses the same
    draw for the bucket and the reference (a paired comparison).
    """
    nll = np.asarray(nll_by_window, dtype=np.float64)
    if nll.ndim != 2 or nll.shape[0] < 2 or nll.shape[1] < 1:
        raise ValueError(f"nll_by_window must be (windows >= 2, positions >= 1), got shape {nll.shape}")
    n_windows, n_positions = nll.shape
    bucket = _whole("bucket", bucket, 1, n_positions)
    first_ref = _whole("reference's first position", reference[0], 1, n_positions)
    last_ref = _whole("reference's last position", reference[1], first_ref, n_positions)
    resamples = _whole("resamples", resamples, 100, 10**6)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (0.95 for a 95% interval), got {level!r}")
    picks = np.random.default_rng(seed).integers(0, n_windows, (resamples, n_windows))
    ref = nll[:, first_ref - 1:last_ref].mean(axis=1)
    ref_drawn = ref[picks].mean(axis=1)
    tails = [50 * (1 - level), 100 - 50 * (1 - level)]
    out = []
    for start in range(0, n_positions, bucket):
        per_window = nll[:, start:start + bucket].mean(axis=1)
        drawn = per_window[picks].mean(axis=1)
        low, high = np.exp(np.percentile(drawn, tails))
        ratio_low, ratio_high = np.exp(np.percentile(drawn - ref_drawn, tails))
        q1, median, q3 = np.percentile(np.exp(per_window), [25, 50, 75])
        out.append(BucketSpread(
            first=start + 1, last=min(start + bucket, n_positions), perplexity=float(np.exp(per_window.mean())),
            low=float(low), high=float(high), window_q1=float(q1), window_median=float(median),
            window_q3=float(q3), ratio=float(np.exp(per_window.mean() - ref.mean())),
            ratio_low=float(ratio_low), ratio_high=float(ratio_high)))
    return out


def first_degraded_bucket(spreads: list, after: int):
    """The first bucket starting past position ``after`` whose whole ratio interval lies above 1, or None.

    That is the first bucket clearly worse than the reference positions (its interval's lower
    bound exceeds the reference level); ``spreads`` from :func:`bucket_spread`.
    """
    return next((s for s in spreads if s.first > after and s.ratio_low > 1), None)


def prompt_tokens_per_second(llm, ids, repeats: int = 3) -> float:
    """Prompt processing speed (tokens/s): best of ``repeats`` evaluations of ``ids`` from an empty cache."""
    best = 0.0
    for _ in range(repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(list(ids))
        best = max(best, len(ids) / (time.perf_counter() - t0))
    return best
