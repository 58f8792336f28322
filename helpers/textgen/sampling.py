"""Next-token sampling, step by step, in numpy: the knobs every local LLM runtime exposes.

Each filter takes a 1-D array of logits (one per vocabulary token) and returns logits of the same
shape, with removed tokens set to -inf. ``sample`` chains them in llama.cpp's usual order:
repetition penalty, top-k, top-p, min-p, temperature, then a seeded draw.
"""
import numpy as np


def softmax(logits) -> np.ndarray:
    """Probabilities from logits (float64; -inf gives probability 0)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - np.max(z))
    return z / z.sum()


def entropy_bits(probs) -> float:
    """Shannon entropy of a probability vector in bits: how many yes/no questions the next token is worth."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"probs must be a 1-D vector of non-negative numbers summing to 1, got sum {probs.sum()!r}")
    kept = probs[probs > 0]
    return float(-(kept * np.log2(kept)).sum())


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Divide logits by ``temperature`` (> 0). Below 1 sharpens, above 1 flattens."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use greedy for 0), got {temperature!r}")
    return np.asarray(logits, dtype=np.float64) / temperature


def top_k(logits, k: int) -> np.ndarray:
    """Keep the ``k`` highest logits (ties at the border kept); k <= 0 keeps all."""
    z = np.asarray(logits, dtype=np.float64).copy()
    if k <= 0 or k >= z.size:
        return z
    border = np.sort(z)[-k]
    z[z < border] = -np.inf
    return z


def top_p(logits, p: float) -> np.ndarray:
    """Keep the smallest set of most likely tokens whose probabilities add up to at least ``p``; p = 1 keeps all."""
    if not 0 < p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    z = np.asarray(logits, dtype=np.float64).copy()
    if p == 1:  # as llama.cpp: off (a cumulative sum can reach 1 before the last tiny probabilities)
        return z
    order = np.argsort(-z, kind="stable")
    cumulative = np.cumsum(softmax(z)[order])
    keep = order[: int(np.searchsorted(cumulative, p - 1e-12)) + 1]
    out = np.full_like(z, -np.inf)
    out[keep] = z[keep]
    return out


def min_p(logits, p: float) -> np.ndarray:
    """Keep tokens whose probability is at least ``p`` times the most likely token's."""
    if not 0 <= p <= 1:
        raise ValueError(f"min_p must be in [0, 1], got {p!r}")
    z = np.asarray(logits, dtype=np.float64).copy()
    probs = softmax(z)
    z[probs < p * probs.max()] = -np.inf
    return z


def repetition_penalty(logits, previous_ids, penalty: float) -> np.ndarray:
    """Make tokens already in ``previous_ids`` less likely: positive logits / penalty, negative * penalty."""
    if not penalty > 0:
        raise ValueError(f"repetition penalty must be > 0 (1 = off), got {penalty!r}")
    z = np.asarray(logits, dtype=np.float64).copy()
    seen = np.unique(np.asarray(list(previous_ids), dtype=np.int64))
    if seen.size:
        z[seen] = np.where(z[seen] > 0, z[seen] / penalty, z[seen] * penalty)
    return z


def sample(logits, *, temperature: float = 1.0, k: int = 0, p: float = 1.0, min_prob: float = 0.0,
           penalty: float = 1.0, previous_ids=(), rng=None) -> int:
    """One token id. temperature 0 = greedy (argmax after the penalty). ``rng``: numpy Generator."""
    z = repetition_penalty(logits, previous_ids, penalty)
    if temperature == 0:
        return int(np.argmax(z))
    z = min_p(top_p(top_k(z, k), p), min_prob)
    probs = softmax(apply_temperature(z, temperature))
    rng = rng if rng is not None else np.random.default_rng(0)
    return int(rng.choice(probs.size, p=probs))
