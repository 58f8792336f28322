"""Roofline speed: the ceiling, bytes per token and the efficiency-scaled estimate."""
import math

import pytest

from helpers.throughput import (BANDWIDTH_EFFICIENCY, bytes_read_per_token, estimated_tokens_per_second,
                                generation_ceiling_tokens_per_second)


def test_ceiling_is_bandwidth_over_bytes():
    assert generation_ceiling_tokens_per_second(5e9, 100) == pytest.approx(20)


@pytest.mark.parametrize("bad", [0, -1, math.nan])
def test_ceiling_refuses_bad_inputs(bad):
    with pytest.raises(ValueError):
        generation_ceiling_tokens_per_second(bad, 100)


def test_estimate_scales_the_ceiling_and_adds_the_kv_cache():
    per_token = bytes_read_per_token(4e9, 1e9)
    assert per_token == 5e9
    assert estimated_tokens_per_second(per_token, 1000, 0.7) == pytest.approx(140)
    assert all(0 < e <= 1 for e in BANDWIDTH_EFFICIENCY.values())
    with pytest.raises(ValueError, match="efficiency"):
        estimated_tokens_per_second(per_token, 1000, 1.5)
    with pytest.raises(ValueError):
        bytes_read_per_token(4e9, -1)
