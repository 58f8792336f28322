import math

import pytest

from helpers.serving.load import MAX_CLIENTS, LoadResult, RequestTiming, median_rows, run_clients


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


def _row(clients, aggregate, ttft=0.1):
    return {"clients": clients, "median TTFT (s)": ttft, "worst TTFT (s)": ttft, "per request (tokens/s)": 50.0,
            "aggregate (tokens/s)": aggregate, "wall (s)": 1.0}


def test_median_rows_take_each_column_s_median_over_the_rounds():
    rounds = [[_row(1, 40.0, 0.3), _row(2, 90.0)], [_row(1, 50.0, 0.1), _row(2, 60.0)], [_row(1, 45.0, 0.2), _row(2, 80.0)]]
    rows = median_rows(rounds)
    assert [r["clients"] for r in rows] == [1, 2]
    assert rows[0]["aggregate (tokens/s)"] == 45.0 and rows[0]["median TTFT (s)"] == 0.2
    assert rows[1]["aggregate (tokens/s)"] == 80.0
    assert rows[0]["aggregate spread (tokens/s)"] == "40 to 50" and rows[1]["aggregate spread (tokens/s)"] == "60 to 90"


def test_median_rows_refuse_rounds_that_measured_different_concurrencies():
    with pytest.raises(ValueError, match=r"round 1 measured clients \[1\], round 0 measured \[1, 2\]"):
        median_rows([[_row(1, 40.0), _row(2, 80.0)], [_row(1, 40.0)]])
    with pytest.raises(ValueError, match="no rounds given"):
        median_rows([])
