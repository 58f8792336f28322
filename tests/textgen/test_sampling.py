"""Sampling filters: properties that must hold for any logits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers.textgen import sampling

LOGITS = arrays(np.float64, st.integers(2, 40), elements=st.floats(-20, 20))


@given(LOGITS, st.integers(1, 50))
@settings(max_examples=100, deadline=None)
def test_top_k_keeps_at_least_k_and_the_best(z, k):
    out = sampling.top_k(z, k)
    kept = np.isfinite(out)
    assert kept.sum() >= min(k, z.size)
    assert kept[np.argmax(z)]
    assert np.all(out[kept] == z[kept])


@given(LOGITS, st.floats(0.01, 1.0))
@settings(max_examples=100, deadline=None)
def test_top_p_kept_mass_reaches_p_and_is_minimal(z, p):
    kept = np.isfinite(sampling.top_p(z, p))
    probs = sampling.softmax(z)
    assert probs[kept].sum() >= p - 1e-9
    smallest_kept = probs[kept].min()
    assert probs[kept].sum() - smallest_kept < p + 1e-9


@given(LOGITS, st.floats(0.0, 1.0))
@settings(max_examples=100, deadline=None)
def test_min_p_threshold(z, p):
    kept = np.isfinite(sampling.min_p(z, p))
    probs = sampling.softmax(z)
    assert kept[np.argmax(z)]
    assert np.all(probs[kept] >= p * probs.max() - 1e-12)


def test_temperature_sharpens_and_flattens():
    z = np.array([2.0, 1.0, 0.0])
    assert sampling.softmax(sampling.apply_temperature(z, 0.5))[0] > sampling.softmax(z)[0]
    assert sampling.softmax(sampling.apply_temperature(z, 2.0))[0] < sampling.softmax(z)[0]
    with pytest.raises(ValueError, match="got 0"):
        sampling.apply_temperature(z, 0)


def test_repetition_penalty_lowers_seen_tokens_both_signs():
    out = sampling.repetition_penalty(np.array([2.0, -2.0, 1.0]), [0, 1], 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0]


def test_greedy_and_seeded_sampling():
    z = np.array([0.1, 3.0, 0.2])
    assert sampling.sample(z, temperature=0) == 1
    draws = lambda seed: [sampling.sample(z, rng=np.random.default_rng(seed)) for _ in range(5)]  # noqa: E731
    assert draws(7) == draws(7)
    assert sampling.sample(z, temperature=1.0, k=1, rng=np.random.default_rng(1)) == 1


def test_bad_values_named():
    with pytest.raises(ValueError, match="top_p"):
        sampling.top_p(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match="min_p"):
        sampling.min_p(np.zeros(3), -0.1)
    with pytest.raises(ValueError, match="repetition penalty"):
        sampling.repetition_penalty(np.zeros(3), [0], 0)


def test_entropy_in_bits():
    assert sampling.entropy_bits(np.full(4, 0.25)) == pytest.approx(2.0)
    assert sampling.entropy_bits([0.0, 1.0, 0.0]) == 0.0
    assert sampling.entropy_bits(sampling.softmax([2.0, 1.0, 0.0])) < np.log2(3)
    for bad in ([0.5, 0.4], [1.5, -0.5], [[0.5, 0.5]]):
        with pytest.raises(ValueError, match="summing to 1"):
            sampling.entropy_bits(bad)


def test_top_p_one_keeps_every_token_even_a_vanishing_tail():
    z = np.concatenate([[40.0], np.full(100, -40.0)])  # the tail's total mass is far below 1e-12
    assert np.isfinite(sampling.top_p(z, 1.0)).all()
    assert np.isfinite(sampling.top_p(z, 0.999)).sum() == 1
