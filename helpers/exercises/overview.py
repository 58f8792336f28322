"""Checks for the exercises of notebook 01 (what generative models are)."""
import math

from helpers.exercises import check_number


def check_p_u_after_q(answer, model):
    """Exercise 1: P('u' | 'q') under the bigram model."""
    probabilities = model.next_char_probabilities("q")
    expected = float(probabilities[model.index("u")])
    return check_number(answer, expected, rel_tol=0.01, mistakes=[
        (float(model.counts[model.index("q"), model.index("u")]), "That is a count; divide by the row's total."),
        (100 * expected, "Give a probability between 0 and 1, not a percentage."),
    ])


def check_uniform_bits(answer, alphabet_size: int):
    """Exercise 2: log2(alphabet size)."""
    return check_number(answer, math.log2(alphabet_size), rel_tol=0.01, unit="bits", mistakes=[
        (math.log(alphabet_size), "That is the natural log (nats). Bits use log base 2."),
        (math.log10(alphabet_size), "That is log base 10. Bits use log base 2."),
        (float(alphabet_size), "That is the number of choices (the perplexity); bits are its log2."),
    ])


def check_bytes_for_weights(answer, n_params: float, bits_per_weight: float):
    """Exercise 3: weight bytes in GB (10**9) for n_params at bits_per_weight."""
    expected = n_params * bits_per_weight / 8 / 1e9
    return check_number(answer, expected, rel_tol=0.01, unit="GB", mistakes=[
        (n_params * bits_per_weight / 1e9, "That counts bits. There are 8 bits in a byte."),
        (n_params * bits_per_weight / 8 / 2**30, "That is GiB (2**30 bytes); the question asks for GB (10**9)."),
    ])
