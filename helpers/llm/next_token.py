"""The next-token distribution of a model running in llama.cpp: its logits after a prompt, the likeliest tokens.

llama.cpp returns one logit per vocabulary token for the last token it evaluated; softmax turns them
into the probabilities the samplers of notebook 02 reshape (``helpers.textgen.sampling``).
"""
from dataclasses import dataclass

import numpy as np

from helpers.llm.prompting import token_pieces
from helpers.textgen.sampling import softmax


@dataclass(frozen=True)
class TokenChoice:
    """One candidate next token: its id, the text it stands for, its logit and probability (0..1)."""

    token_id: int
    piece: str
    logit: float
    probability: float


def next_token_logits(llm, ids) -> np.ndarray:
    """llama.cpp's logits for the token after ``ids`` (float64, one per vocabulary token).

    Evaluates ``ids`` from an empty cache in ``llm`` (a ``llama_cpp.Llama``, with or without
    ``logits_all``) and copies the last position's logits. ValueError for an empty prompt, a prompt
    longer than the context, or an id outside the vocabulary.
    """
    import llama_cpp

    ids = [int(i) for i in ids]
    if not ids or len(ids) > llm.n_ctx():
        raise ValueError(f"need 1 to n_ctx={llm.n_ctx()} token ids, got {len(ids)}")
    bad = [i for i in ids if not 0 <= i < llm.n_vocab()]
    if bad:
        raise ValueError(f"token ids must be in [0, {llm.n_vocab()}), got {bad[:5]}")
    llm.reset()
    llm.eval(ids)
    row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)


def top_tokens(llm, logits, k: int = 10) -> list:
    """The ``k`` most likely tokens under ``logits`` as :class:`TokenChoice`, most likely first (ties by id)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape != (llm.n_vocab(),):
        raise ValueError(f"logits must hold one value per vocabulary token ({llm.n_vocab()}), got shape {logits.shape}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= logits.size:
        raise ValueError(f"k must be a whole number in [1, {logits.size}], got {k!r}")
    probs = softmax(logits)
    best = [int(i) for i in np.argsort(-logits, kind="stable")[:k]]
    return [TokenChoice(i, piece, float(logits[i]), float(probs[i]))
            for i, piece in zip(best, token_pieces(llm, best))]


def vocabulary_pieces(llm) -> list:
    """The text of every vocabulary token, indexed by id (special tokens as written)."""
    return token_pieces(llm, range(llm.n_vocab()))
