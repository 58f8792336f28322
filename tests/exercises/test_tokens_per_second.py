"""Exercise checks of notebook 10: right answers pass, typical mistakes get their hint."""
from helpers.exercises.tokens_per_second import check_bound_phase, check_ceiling, check_overhead_speed


def test_bound_phase():
    assert check_bound_phase("generation")
    assert "reused" in check_bound_phase("prompt processing").message
    assert not check_bound_phase(None)


def test_ceiling():
    assert check_ceiling(50, 1e9, 50)
    assert "factor 8" in check_ceiling(400, 1e9, 50).message
    assert "decimal" in check_ceiling(50 * 1e9 / 2**30, 1e9, 50).message
    assert "inverse" in check_ceiling(0.02, 1e9, 50).message


def test_overhead_speed():
    # 4e8 bytes at 0.5 x 40 GB/s = 20 ms, + 25 layers x 0.2 ms = 25 ms -> 40 tokens/s
    assert check_overhead_speed(40, 4e8, 40, 0.5, 0.0002, 25)
    assert "fixed overhead" in check_overhead_speed(50, 4e8, 40, 0.5, 0.0002, 25).message
    assert "layers x overhead" in check_overhead_speed(49.5, 4e8, 40, 0.5, 0.0002, 25).message  # one layer's only
    assert "milliseconds" in check_overhead_speed(0.2, 4e8, 40, 0.5, 0.0002, 25).message
    assert "too" in check_overhead_speed(10, 4e8, 40, 0.5, 0.0002, 25).message
