"""Requantization, measured: a quantized model quantized again, compared with the file it came from.

Quality is read from next-token distributions on the same tokens (natural logs, so nats):

* perplexity ``exp(mean NLL)``, NLL = -log p(actual next token);
* KL divergence ``KL(P_ref || P) = sum_v P_ref(v) * (log P_ref(v) - log P(v))`` per position, averaged
  over positions (what ``llama-perplexity --kl-divergence`` reports), 0 when both models agree;
* how often both models rank the same token first.

Size: bits per weight = tensor bytes x 8 / weights, over every tensor (llama.cpp's "BPW"); the file
adds its metadata (vocabulary, chat template) on top. Sizes in bytes.

Where the original weights are at hand, :func:`stacked_error_table` shows the cause: each matrix
quantized straight from them against quantized twice, both measured against the originals.
"""
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.gguf.header import open_checked
from helpers.quantization.block_formats import round_trip


def bits_per_weight(tensor_bytes: int, n_weights: int) -> float:
    """Bits per weight: ``tensor_bytes * 8 / n_weights`` (both positive)."""
    if tensor_bytes <= 0 or n_weights <= 0:
        raise ValueError(f"tensor_bytes and n_weights must be positive, got {tensor_bytes!r} and {n_weights!r}")
    return tensor_bytes * 8 / n_weights


@dataclass(frozen=True)
class FileSize:
    """What a GGUF file holds: bytes on disk, bytes of tensor data, weights, tensor types."""

    file_bytes: int
    tensor_bytes: int
    n_weights: int  # elements of every tensor, norms included
    tensor_types: dict  # {type name: number of tensors}

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight(self.tensor_bytes, self.n_weights)


def file_size(path) -> FileSize:
    """Sizes and tensor types of GGUF ``path`` (header only; bad files refused by ``open_checked``)."""
    tensors = open_checked(path).tensors
    return FileSize(Path(path).stat().st_size, sum(int(t.n_bytes) for t in tensors),
                    sum(int(t.n_elements) for t in tensors),
                    dict(Counter(t.tensor_type.name for t in tensors).most_common()))


def llama_bits_per_weight(llm) -> float:
    """Bits per weight of a loaded ``llama_cpp.Llama`` as llama.cpp counts them (its tensor bytes and
    parameters): :attr:`FileSize.bits_per_weight` without reading the file's header again."""
    import llama_cpp

    return bits_per_weight(int(llama_cpp.llama_model_size(llm.model)), int(llama_cpp.llama_model_n_params(llm.model)))


ROWS_AT_A_TIME = 32  # positions of a (positions, vocab) array worked on at once: float64 copies of a whole
# 256 x 49,152 window are 100 MB each, and a few at once would double a notebook's memory


def kl_divergence(ref_log_probs, log_probs) -> np.ndarray:
    """``KL(P_ref || P)`` in nats for each position (row) of two (positions, vocab) log-probability arrays."""
    if np.shape(ref_log_probs) != np.shape(log_probs) or np.ndim(ref_log_probs) != 2:
        raise ValueError(f"need two (positions, vocab) arrays of one shape, got {np.shape(ref_log_probs)} and "
                         f"{np.shape(log_probs)}")
    out = np.empty(len(ref_log_probs))
    for start in range(0, len(out), ROWS_AT_A_TIME):
        rows = slice(start, start + ROWS_AT_A_TIME)
        ref, other = np.asarray(ref_log_probs[rows], np.float64), np.asarray(log_probs[rows], np.float64)
        out[rows] = (np.exp(ref) * (ref - other)).sum(axis=1)
    return out


def token_nll(log_probs, targets) -> np.ndarray:
    """Negative log-likelihood (nats) of ``targets[i]`` under row ``i`` of ``log_probs`` (positions, vocab)."""
    log_probs = np.asarray(log_probs)
    targets = np.asarray(targets)
    if targets.shape != log_probs.shape[:1]:
        raise ValueError(f"need one target per row: {len(targets)} targets for {len(log_probs)} rows")
    return -log_probs[np.arange(len(targets)), targets].astype(np.float64)


def windows(ids, window: int, max_windows: int) -> list:
    """Up to ``max_windows`` consecutive, non-overlapping slices of ``window`` token ids from the start."""
    if window < 2 or max_windows < 1:
        raise ValueError(f"window must be >= 2 and max_windows >= 1, got {window!r} and {max_windows!r}")
    if len(ids) < window:
        raise ValueError(f"need at least window={window} tokens, got {len(ids)}")
    return [list(ids[i:i + window]) for i in range(0, min(len(ids) - window + 1, max_windows * window), window)]


def next_token_log_probs(llm, ids) -> np.ndarray:
    """Log-probabilities (len(ids) - 1, vocab), float32, of the token after each of ``ids`` but the last.

    ``llm``: a ``llama_cpp.Llama`` made with ``logits_all=True``; evaluated from an empty cache.
    """
    from helpers.llm.load import log_softmax

    llm.reset()
    llm.eval(list(ids))
    scores = llm.scores[:len(ids) - 1]
    out = np.empty(scores.shape, np.float32)
    for start in range(0, len(out), ROWS_AT_A_TIME):
        out[start:start + ROWS_AT_A_TIME] = log_softmax(scores[start:start + ROWS_AT_A_TIME])
    return out


@dataclass(frozen=True)
class TokenQuality:
    """Per-position measurements of one model against the reference; means over positions."""

    nll: np.ndarray  # nats, of the actual next token
    kl: np.ndarray  # nats, KL(P_ref || P_model)
    same_top: np.ndarray  # bool: both models rank the same token first

    @property
    def perplexity(self) -> float:
        return float(np.exp(self.nll.mean()))

    @property
    def mean_kl(self) -> float:
        return float(self.kl.mean())

    @property
    def same_top_share(self) -> float:
        return float(self.same_top.mean())


def quality_against(llm, chunks, reference) -> TokenQuality:
    """Score loaded model ``llm`` on token windows ``chunks`` against the reference's log-probabilities.

    ``reference``: one array per window, from :func:`next_token_log_probs` of the reference model on
    the same window. Each window is evaluated from an empty cache (``logits_all=True``) and every
    token after its first is scored; one window of ``llm``'s log-probabilities is held at a time.
    """
    if len(reference) != len(chunks):
        raise ValueError(f"need one reference array per window: {len(reference)} for {len(chunks)} windows")
    parts = []
    for chunk, ref in zip(chunks, reference):
        log_probs = next_token_log_probs(llm, chunk)
        parts.append((token_nll(log_probs, chunk[1:]), kl_divergence(ref, log_probs),
                      ref.argmax(axis=1) == log_probs.argmax(axis=1)))
    return TokenQuality(*(np.concatenate(column) for column in zip(*parts)))


def reference_quality(chunks, reference) -> TokenQuality:
    """The reference model's own :class:`TokenQuality` (KL 0, same top token everywhere), without evaluating again."""
    if len(reference) != len(chunks):
        raise ValueError(f"need one reference array per window: {len(reference)} for {len(chunks)} windows")
    nll = np.concatenate([token_nll(ref, chunk[1:]) for chunk, ref in zip(chunks, reference)])
    return TokenQuality(nll, np.zeros_like(nll), np.ones(len(nll), dtype=bool))


def relative_output_error(w, back, x) -> float:
    """``||(back - w) @ x|| / ||w @ x||``: how far a layer's output moves when ``w`` is stored as ``back``."""
    w = np.asarray(w, np.float64)
    return float(np.linalg.norm((np.asarray(back, np.float64) - w) @ x) / np.linalg.norm(w @ x))


def stacked_error_table(matrices: dict, via: str, targets, seed: int = 0, n_inputs: int = 8) -> list:
    """Quantize each matrix to every target directly and via ``via`` first (a requantization).

    Both are measured against the original weights: the relative error of a layer's output
    (:func:`relative_output_error`, random inputs), weight-count-weighted over the matrices. Each
    row: target, the error from the original, the error through ``via``, and ``via``'s own error.
    Rows must hold whole blocks of every format named.
    """
    rng = np.random.default_rng(seed)
    inputs = {k: rng.standard_normal((w.shape[1], n_inputs)) for k, w in matrices.items()}
    total = sum(w.size for w in matrices.values())
    first = {k: round_trip(w, via) for k, w in matrices.items()}

    def pooled(stored: dict) -> float:
        return sum(w.size * relative_output_error(w, stored[k], inputs[k]) for k, w in matrices.items()) / total

    via_error = pooled(first)
    return [{"target": fmt, "from the original": pooled({k: round_trip(w, fmt) for k, w in matrices.items()}),
             f"from {via}": pooled({k: round_trip(first[k], fmt) for k in matrices}), f"{via} alone": via_error}
            for fmt in targets]
