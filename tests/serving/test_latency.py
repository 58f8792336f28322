import math

import pytest

from helpers.serving.latency import ServiceLevel, bench_summary, goodput, inter_token_gaps, meets, percentile, time_per_output_token
from helpers.serving.load import RequestTiming


def timing(first, total, tokens, pieces=()):
    return RequestTiming(0, first, total, tokens, "", tuple(pieces))


def test_tpot_is_the_time_after_the_first_token_per_later_token():
    assert time_per_output_token(0.5, 5.5, 101) == pytest.approx(0.05)
    assert math.isnan(time_per_output_token(0.5, 0.5, 1))


def test_itl_is_every_gap_between_pieces_and_refuses_disorder():
    assert inter_token_gaps([0.2, 0.3, 0.6]) == pytest.approx([0.1, 0.3])
    assert inter_token_gaps([0.2]) == []
    with pytest.raises(ValueError, match="must not decrease"):
        inter_token_gaps([0.3, 0.2])


def test_percentile_interpolates_and_skips_nan():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert percentile([1.0, float("nan"), 3.0], 50) == 2.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="between 0 and 100, got 120"):
        percentile([1], 120)


def test_goodput_counts_only_requests_within_both_limits():
    level = ServiceLevel(ttft_s=1.0, tpot_s=0.1)
    fast = timing(0.5, 2.5, 21)  # TPOT 0.1 s: within
    slow_start = timing(1.5, 2.5, 21)  # TTFT over
    slow_tokens = timing(0.5, 4.5, 21)  # TPOT 0.2 s: over
    assert meets(fast, level) and not meets(slow_start, level) and not meets(slow_tokens, level)
    assert goodput([fast, slow_start, slow_tokens], 2.0, level) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tpot_s must be a positive number"):
        ServiceLevel(tpot_s=0)


def test_summary_pools_itl_over_requests_and_reports_milliseconds():
    a = timing(0.1, 0.4, 4, [0.1, 0.2, 0.3, 0.4])
    b = timing(0.3, 1.2, 4, [0.3, 0.4, 0.5, 1.2])  # one stall of 0.7 s
    row = bench_summary([a, b], wall_s=2.0, level=ServiceLevel(ttft_s=1.0, tpot_s=0.15))
    assert row["requests"] == 2 and row["request throughput (req/s)"] == 1.0
    assert row["output throughput (tokens/s)"] == 4.0
    assert row["TTFT p50 (ms)"] == pytest.approx(200)
    assert row["TPOT p50 (ms)"] == pytest.approx(200)  # (100 + 300) / 2
    assert row["ITL p50 (ms)"] == pytest.approx(100)  # five gaps of 0.1 s, one of 0.7 s
    assert row["ITL p95 (ms)"] == pytest.approx(100 + 0.75 * 600)  # the stall shows in ITL's tail
    assert row["E2EL p95 (ms)"] == pytest.approx(1000 * (0.4 + 0.95 * 0.8))
    assert row["goodput (req/s, TTFT ≤ 1 s, TPOT ≤ 150 ms)"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no timed requests"):
        bench_summary([], 1.0)
    with pytest.raises(ValueError, match="percentiles must be among"):
        bench_summary([a], 1.0, percentiles=(90,))


def test_run_clients_records_every_piece_s_arrival(chat_server):
    from helpers.serving.client import chat_body
    from helpers.serving.load import run_clients

    body = chat_body([{"role": "user", "content": "Count from one to five."}], "smollm2", max_tokens=12)
    result = run_clients(chat_server.base_url, [body, body])
    for t in result.timings:
        assert len(t.piece_s) == t.tokens >= 2
        assert t.piece_s[0] == t.first_token_s and t.piece_s[-1] <= t.total_s
        assert list(t.piece_s) == sorted(t.piece_s)
