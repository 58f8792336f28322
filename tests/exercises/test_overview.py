"""Notebook 01's checks: right answers pass, the usual wrong answers get the matching hint."""
import math

import pytest

from helpers.exercises import check_choice, check_number
from helpers.exercises.overview import check_bytes_for_weights, check_p_u_after_q, check_uniform_bits
from helpers.textgen.bigram import fit_bigram

MODEL = fit_bigram("quick quiet queen quote qatar " * 5)


def test_check_number_core():
    assert check_number(None, 1.0).message.startswith("not answered")
    assert check_number("5", 5.0).passed is False
    assert check_number(5.05, 5.0, rel_tol=0.02).passed
    assert "too high" in check_number(10.0, 5.0).message
    assert check_number(7.0, 5.0, mistakes=[(7.0, "hint!")]).message == "hint!"
    assert check_choice("x", "y", allowed=("y", "z")).message.startswith("'x' is not one of")


@pytest.mark.parametrize("wrong_type", [1, 1.0, "True", [True], {"a": 1}])
def test_check_choice_refuses_other_types_with_a_message(wrong_type):
    feedback = check_choice(wrong_type, True, allowed=(True, False))
    assert not feedback and "is not one of the allowed answers [True, False]" in feedback.message
    assert check_choice(True, True, allowed=(True, False))
    assert not check_choice(["Q4_K"], "Q4_K", allowed=("Q4_0", "Q4_K"))


def test_p_u_after_q():
    p = MODEL.next_char_probabilities("q")[MODEL.index("u")]
    assert check_p_u_after_q(float(p), MODEL)
    assert "percentage" in check_p_u_after_q(float(100 * p), MODEL).message


@pytest.mark.parametrize("wrong,hint", [(math.log(40), "natural log"), (40.0, "perplexity")])
def test_uniform_bits(wrong, hint):
    assert check_uniform_bits(math.log2(40), 40)
    assert hint in check_uniform_bits(wrong, 40).message


def test_bytes_for_weights():
    assert check_bytes_for_weights(6.0, 3e9, 16)
    assert "8 bits" in check_bytes_for_weights(48.0, 3e9, 16).message
    assert "GiB" in check_bytes_for_weights(6e9 / 2**30, 3e9, 16).message


def test_a_choice_is_matched_without_case_or_surrounding_spaces():
    allowed = ("File truncated", "Adjacent")
    assert check_choice(" file truncated ", "File truncated", allowed=allowed)
    assert check_choice("ADJACENT", "File truncated", allowed=allowed).message == "'Adjacent' is not it; look again."
    assert not check_choice("truncated", "File truncated", allowed=allowed)


def test_a_number_across_zero_gets_no_factor():
    assert check_number(-5.0, 5.0).message == "-5 is too low (a negative number)."
    assert check_number(0.0, 5.0).message == "0 is too low."
    assert "factor" not in check_number(3.0, -2.0).message
