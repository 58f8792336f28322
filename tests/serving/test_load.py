import math

import pytest

from helpers.serving.load import MAX_CLIENTS, LoadResult, RequestTiming, run_clients


def test_request_speed_counts_the_tokens_after_the_first():
    t = RequestTiming(0, first_token_s=0.5, total_s=5.5, tokens=101, text="")
    assert t.generation_tokens_per_second == pytest.approx(20.0)
    assert math.isnan(RequestTiming(0, 0.5, 0.5, 1, "").generation_tokens_per_second)


def test_aggregate_is_all_tokens_over_the_wall_time():
    result = LoadResult((RequestTiming(0, 0.1, 2.0, 40, ""), RequestTiming(1, 1.0, 4.0, 40, "")), wall_s=4.0)
    assert result.aggregate_tokens_per_second == pytest.approx(20.0)
    assert result.worst_first_token_s == 1.0 and result.clients == 2
    assert set(result.row()) >= {"clients", "median TTFT (s)", "per request (tokens/s)", "aggregate (tokens/s)"}


def test_client_count_and_time_are_bounded():
    with pytest.raises(ValueError, match=f"between 1 and {MAX_CLIENTS} clients, got 0"):
        run_clients("http://127.0.0.1:9/v1", [])
    with pytest.raises(ValueError, match="timeout_s must be in"):
        run_clients("http://127.0.0.1:9/v1", [{}], timeout_s=10_000)


def test_a_client_error_is_raised_after_every_thread_ended():
    with pytest.raises(OSError):  # nothing listens on the discard port
        run_clients("http://127.0.0.1:9/v1", [{"model": "m", "messages": []}] * 3, timeout_s=5)
