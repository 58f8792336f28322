"""A model's next-token distribution from llama.cpp: logits, top tokens and their pieces."""
import math

import numpy as np
import pytest

from helpers.course.paths import DATA_DIR
from helpers.llm.context import make_llama
from helpers.llm.next_token import next_token_logits, top_tokens, vocabulary_pieces
from helpers.textgen.sampling import softmax

MODEL = DATA_DIR / "tiny_llama" / "tiny_llama-f16.gguf"
PROMPT = b"ROMEO:\nO, she doth"


@pytest.fixture(scope="module")
def llm():
    return make_llama(MODEL, 256, logits_all=True)


@pytest.fixture(scope="module")
def ids(llm):
    return llm.tokenize(PROMPT, add_bos=True, special=False)


def test_logits_are_llama_cpps_last_row_with_or_without_logits_all(llm, ids):
    z = next_token_logits(llm, ids)
    assert z.shape == (llm.n_vocab(),) and z.dtype == np.float64
    assert np.array_equal(z, np.asarray(llm.scores[len(ids) - 1], dtype=np.float64))
    # without logits_all llama.cpp computes only the last row (a different graph: float32 rounding differs)
    assert np.allclose(z, next_token_logits(make_llama(MODEL, 256), ids), atol=1e-4)
    assert not np.array_equal(z, next_token_logits(llm, ids[:-1]))


def test_logits_refuse_bad_prompts(llm, ids):
    with pytest.raises(ValueError, match="got 0"):
        next_token_logits(llm, [])
    with pytest.raises(ValueError, match="n_ctx=256"):
        next_token_logits(llm, ids * 100)
    with pytest.raises(ValueError, match=r"\[0, 1024\), got \[5000\]"):
        next_token_logits(llm, [1, 5000])


def test_top_tokens_agree_with_llama_cpps_own_logprobs(llm, ids):
    z = next_token_logits(llm, ids)
    best = top_tokens(llm, z, k=5)
    probs = softmax(z)
    assert [c.token_id for c in best] == list(np.argsort(-probs, kind="stable")[:5])
    assert all(a.probability >= b.probability for a, b in zip(best, best[1:]))
    assert all(c.probability == pytest.approx(probs[c.token_id]) and c.logit == z[c.token_id] for c in best)
    # llama-cpp-python computes the same distribution by its own route (completion logprobs)
    out = llm.create_completion(ids, max_tokens=1, temperature=0.0, logprobs=5)
    theirs = out["choices"][0]["logprobs"]["top_logprobs"][0]
    for c in best:
        assert math.exp(theirs[c.piece]) == pytest.approx(c.probability, rel=1e-4)


def test_top_tokens_refuse_bad_arguments(llm, ids):
    z = next_token_logits(llm, ids)
    for k in (0, True, 2.5, z.size + 1):
        with pytest.raises(ValueError, match="k must be"):
            top_tokens(llm, z, k=k)
    with pytest.raises(ValueError, match="one value per vocabulary token"):
        top_tokens(llm, z[:10])


def test_vocabulary_pieces_are_indexed_by_id(llm, ids):
    pieces = vocabulary_pieces(llm)
    assert len(pieces) == llm.n_vocab()
    assert "".join(pieces[i] for i in ids[1:]) == llm.detokenize(ids[1:]).decode()
