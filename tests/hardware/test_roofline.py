"""Roofline speed: the ceiling, bytes per token and the efficiency-scaled estimate."""
import math

import pytest

from helpers.hardware.roofline import (
    bytes_read_per_token,
    estimated_tokens_per_second,
    generation_ceiling_tokens_per_second,
)


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
    with pytest.raises(ValueError, match="efficiency"):
        estimated_tokens_per_second(per_token, 1000, 1.5)
    with pytest.raises(ValueError):
        bytes_read_per_token(4e9, -1)


def test_speed_model_recovers_known_efficiency_and_overhead_per_layer():
    from helpers.hardware.roofline import SpeedModel, fit_speed_model

    truth = SpeedModel(efficiency=0.45, overhead_seconds_per_layer=0.0003)
    sizes, layers = [1e8, 3e8, 6e8, 1.2e9], [30, 32, 24, 16]
    speeds = [truth.tokens_per_second(b, 40, n) for b, n in zip(sizes, layers)]
    fitted = fit_speed_model(sizes, layers, speeds, 40)
    assert fitted.efficiency == pytest.approx(0.45, rel=1e-6)
    assert fitted.overhead_seconds_per_layer == pytest.approx(0.0003, rel=1e-6)
    assert truth.tokens_per_second(1e8, 40, 30) < estimated_tokens_per_second(1e8, 40, 0.45)
    assert truth.tokens_per_second(1e8, 40, 30) < truth.tokens_per_second(1e8, 40, 16)  # deeper is slower


def test_speed_model_fit_takes_each_runs_own_bandwidth_and_weighs_errors_relatively():
    from helpers.hardware.roofline import SpeedModel, fit_speed_model

    truth = SpeedModel(efficiency=0.8, overhead_seconds_per_layer=100e-6)
    sizes, layers, bandwidths = [4e9, 4e9, 1e9, 40e9], [32, 32, 16, 80], [1000, 3350, 100, 800]
    speeds = [truth.tokens_per_second(b, w, n) for b, w, n in zip(sizes, bandwidths, layers)]
    fitted = fit_speed_model(sizes, layers, speeds, bandwidths)
    assert fitted == pytest.approx(truth) or (fitted.efficiency == pytest.approx(0.8)
                                               and fitted.overhead_seconds_per_layer == pytest.approx(100e-6))
    noisy = [s * f for s, f in zip(speeds, (1.1, 0.9, 1.1, 0.9))]  # +-10% on a 2 tok/s and a 400 tok/s run alike
    refit = fit_speed_model(sizes, layers, noisy, bandwidths)
    errors = [refit.tokens_per_second(b, w, n) / s - 1 for b, w, n, s in zip(sizes, bandwidths, layers, noisy)]
    assert max(abs(e) for e in errors) < 0.2


def test_speed_model_refuses_a_layer_count_that_is_not_a_whole_number():
    from helpers.hardware.roofline import SpeedModel

    for bad in (0, 2.5, None):
        with pytest.raises(ValueError, match="n_layers"):
            SpeedModel(0.5, 0.0003).seconds_per_token(1e8, 40, bad)


def test_speed_model_fit_refuses_one_shape_and_never_goes_negative_or_past_the_bandwidth():
    from helpers.hardware.roofline import fit_speed_model

    with pytest.raises(ValueError, match="bytes per layer"):
        fit_speed_model([1e8, 2e8], [10, 20], [10, 6], 40)  # same bytes per layer: the two terms are confounded
    deeper_is_faster = fit_speed_model([1e8, 2e8], [30, 10], [100, 40], 40)  # would need a negative overhead
    assert deeper_is_faster.overhead_seconds_per_layer == 0 and 0 < deeper_is_faster.efficiency <= 1
    too_fast = fit_speed_model([1e9, 2e9], [10, 30], [1000, 500], 40)  # 1 GB at 1000 tok/s: 25x the bandwidth
    assert too_fast.efficiency == 1 and too_fast.overhead_seconds_per_layer == 0


def test_one_estimate_by_context_agrees_with_willitrun_and_the_offload_curve():
    """Three routes to 'all layers on one device' give one number: the notebooks may quote any of them."""
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.device_speed import generation_tokens_per_second, speed_model
    from helpers.hardware.offload import offload_curve
    from helpers.hardware.ranking import assess_device
    from helpers.memory.willitrun import assess

    arch = get_model("Llama 3.1 8B").architecture
    for device in (get_gpu("RTX 3090"), get_gpu("Apple M2 Max 96GB"), get_gpu("CPU desktop DDR5-5600 dual-channel")):
        for context in (512, 4096, 8192):
            one = generation_tokens_per_second(arch, "Q4_K_M", context, device)
            assert assess(arch, "Q4_K_M", context, gpu=device).tokens_per_second == pytest.approx(one, rel=1e-9)
            assert assess_device(arch, "Q4_K_M", context, device).tokens_per_second == pytest.approx(one, rel=1e-9)
    gpu = get_gpu("RTX 3090")
    ram = speed_model(get_gpu("CPU desktop DDR5-5600 dual-channel"))
    full = offload_curve(arch, "Q4_K_M", 4096, gpu.bandwidth_gbps, 89.6, speed_model(gpu), ram)[-1].tokens_per_second
    assert full == pytest.approx(generation_tokens_per_second(arch, "Q4_K_M", 4096, gpu), rel=1e-9)


def test_speed_falls_as_the_kv_cache_grows():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.device_speed import speed_by_context, speed_model
    from helpers.memory.gguf_size import bytes_read_per_token as weight_bytes
    from helpers.memory.vram import kv_cache_bytes

    arch, gpu = get_model("Llama 3.1 8B").architecture, get_gpu("RTX 3090")
    rows = speed_by_context(arch, "Q4_K_M", gpu, [0, 512, 4096, 32768])
    assert [r.kv_cache_bytes for r in rows] == [0] + [kv_cache_bytes(arch, c) for c in (512, 4096, 32768)]
    assert rows[2].kv_cache_bytes == 4096 * 2 * 32 * 8 * 128 * 2  # K and V, 32 layers, 8 KV heads of 128, f16
    speeds = [r.tokens_per_second for r in rows]
    assert speeds == sorted(speeds, reverse=True)
    assert rows[0].weight_bytes == weight_bytes(arch, "Q4_K_M")
    empty = speed_model(gpu).tokens_per_second(weight_bytes(arch, "Q4_K_M"), 936, 32)  # empty context: weights only
    assert speeds[0] == pytest.approx(empty)
    with pytest.raises(ValueError, match="context_tokens"):
        speed_by_context(arch, "Q4_K_M", gpu, [-1])
    with pytest.raises(ValueError, match="at least one"):
        speed_by_context(arch, "Q4_K_M", gpu, [])
