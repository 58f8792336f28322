"""Checks for the exercises of notebook 02 (how text generation works)."""
import numpy as np

from helpers.exercises import check_choice, check_number
from helpers.textgen.sampling import apply_temperature, softmax, top_p


def check_temperature_probability(answer, logits, temperature: float):
    """02 ex. 1: probability of the most likely token after dividing the logits by ``temperature``."""
    z = np.asarray(logits, dtype=np.float64)
    right = softmax(apply_temperature(z, temperature)).max()
    return check_number(answer, right, rel_tol=0.005, mistakes=[
        (softmax(z).max(), "That is the probability at temperature 1: divide the logits by the temperature first."),
        (softmax(z * temperature).max(), "Divide by the temperature, do not multiply."),
        (float(np.max(z / temperature) / np.sum(z / temperature)) if np.sum(z / temperature) else np.nan,
         "Logits are not probabilities: exponentiate them (softmax), then normalise."),
    ])


def check_top_p_count(answer, logits, p: float):
    """02 ex. 2: how many tokens top-p keeps (the smallest set whose probability reaches ``p``)."""
    right = int(np.isfinite(top_p(logits, p)).sum())
    return check_number(answer, right, rel_tol=0.0, unit="tokens", mistakes=[
        (right - 1, "Top-p keeps the token that makes the sum reach p, too: the set's mass must be at least p."),
        (right + 1, "One too many: stop at the first token where the running sum reaches p."),
    ])


def check_greedy_needs_seed(answer):
    """02 ex. 3: does greedy decoding (temperature 0) depend on the seed? (True/False)"""
    return check_choice(answer, False, allowed=(True, False), hints={
        True: "Greedy takes the argmax every step: no random draw, so the seed is never used.",
    })
