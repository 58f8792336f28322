"""Exercise checks of notebook 02: right answers pass, typical mistakes get their hint."""
import numpy as np

from helpers.exercises.text_generation import check_greedy_needs_seed, check_temperature_probability, check_top_p_count

LOGITS = [2.0, 1.0, 0.0, -1.0]


def test_temperature_check():
    z = np.array(LOGITS) / 0.5
    right = float(np.exp(z).max() / np.exp(z).sum())
    assert check_temperature_probability(right, LOGITS, 0.5)
    t1 = float(np.exp(LOGITS).max() / np.exp(LOGITS).sum())
    assert "temperature 1" in check_temperature_probability(t1, LOGITS, 0.5).message
    z2 = np.array(LOGITS) * 0.5
    assert "not multiply" in check_temperature_probability(float(np.exp(z2).max() / np.exp(z2).sum()),
                                                            LOGITS, 0.5).message
    assert not check_temperature_probability(None, LOGITS, 0.5)


def test_top_p_check():
    # probabilities about 0.64, 0.24, 0.09, 0.03: p = 0.8 needs the first two
    assert check_top_p_count(2, LOGITS, 0.8)
    assert "reach p, too" in check_top_p_count(1, LOGITS, 0.8).message
    assert "One too many" in check_top_p_count(3, LOGITS, 0.8).message


def test_greedy_seed_check():
    assert check_greedy_needs_seed(False)
    assert "argmax" in check_greedy_needs_seed(True).message


def test_top_p_check_on_a_large_confident_vocabulary():
    # one dominant token, one runner-up, a long flat tail (like a real model after a factual prompt)
    z = np.concatenate([[10.0, 7.5], np.zeros(49150)])
    probs = np.exp(z) / np.exp(z).sum()
    assert 0.25 < probs[0] < 0.35
    assert check_top_p_count(1, z, 0.2)
    assert check_top_p_count(2, z, probs[0] + probs[1] / 2)
    assert "reach p, too" in check_top_p_count(1, z, probs[0] + probs[1] / 2).message
