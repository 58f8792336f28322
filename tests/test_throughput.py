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


def test_speed_model_recovers_known_efficiency_and_overhead():
    from helpers.throughput import SpeedModel, fit_speed_model

    truth = SpeedModel(efficiency=0.45, overhead_seconds=0.004)
    sizes = [1e8, 3e8, 6e8, 1.2e9]
    speeds = [truth.tokens_per_second(b, 40) for b in sizes]
    fitted = fit_speed_model(sizes, speeds, 40)
    assert fitted.efficiency == pytest.approx(0.45, rel=1e-6)
    assert fitted.overhead_seconds == pytest.approx(0.004, rel=1e-6)
    assert truth.tokens_per_second(1e8, 40) < estimated_tokens_per_second(1e8, 40, 0.45)


def test_speed_model_fit_refuses_one_size_and_never_goes_negative():
    from helpers.throughput import fit_speed_model

    with pytest.raises(ValueError, match="distinct"):
        fit_speed_model([1e8, 1e8], [10, 11], 40)
    fitted = fit_speed_model([1e8, 2e8], [100, 40], 40)  # slower than linear: negative intercept
    assert fitted.overhead_seconds == 0 and 0 < fitted.efficiency <= 1
