import pytest

from helpers.exercises.serving_at_scale import check_break_even, check_goodput, check_tpot
from helpers.serving.speculative import speedup

REQUESTS = [(0.4, 60), (0.8, 90), (1.2, 50), (0.3, 120), (0.6, 95), (1.5, 80)]


def test_tpot_check_accepts_milliseconds_and_explains_mistakes():
    assert check_tpot(100, 0.5, 1.5, 11)
    assert "wait for the first token" in check_tpot(1000 * 1.5 / 11, 0.5, 1.5, 11).message
    assert "tokens - 1" in check_tpot(1000 / 11, 0.5, 1.5, 11).message
    assert "milliseconds" in check_tpot(0.1, 0.5, 1.5, 11).message
    assert not check_tpot(None, 0.5, 1.5, 11)


def test_goodput_check_counts_requests_within_both_limits():
    assert check_goodput(3 / 10, REQUESTS, 10.0, 1.0, 100)
    assert "request throughput" in check_goodput(0.6, REQUESTS, 10.0, 1.0, 100).message
    assert "TPOT limit" in check_goodput(0.4, REQUESTS, 10.0, 1.0, 100).message
    assert "TTFT limit" in check_goodput(0.5, REQUESTS, 10.0, 1.0, 100).message
    assert "a rate" in check_goodput(3, REQUESTS, 10.0, 1.0, 100).message


def test_break_even_check_is_where_the_speed_up_is_one():
    assert check_break_even(0.455, 4, 0.2)
    assert speedup(0.455, 4, 0.2) == pytest.approx(1.0, abs=0.01)
    assert "draft's cost" in check_break_even(0.0, 4, 0.2).message
    assert not check_break_even(0.9, 4, 0.2)
