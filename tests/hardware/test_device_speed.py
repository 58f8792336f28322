"""One speed model for every device, fitted per class to the published record, and held to it."""
import pytest

from helpers.course.catalog import DEVICE_CLASSES, get_device, get_gpu, get_model
from helpers.hardware.device_speed import (
    check_published,
    class_speed_models,
    error_by_class,
    fit_runs,
    generation_runs,
    generation_tokens_per_second,
    held_out_errors,
    prompt_checks,
    run_features,
    speed_by_context,
    speed_model,
    time_per_token,
)
from helpers.hardware.published_speeds import load_published_speeds
from helpers.hardware.roofline import SpeedModel


def test_every_class_has_a_model_within_physics():
    models = class_speed_models()
    assert set(models) == set(DEVICE_CLASSES)
    for model, fitted_on in models.values():
        assert 0 < model.efficiency <= 1 and model.overhead_seconds_per_layer >= 0
        assert fitted_on


def test_held_out_the_record_is_met_overall_and_for_the_well_covered_classes():
    """Leave-one-device-out: 80% of runs within +-20%; classes with 4 or more devices median within 15%."""
    errors = {e.device_class: e for e in error_by_class(check_published(leave_device_out=True))}
    assert errors["all"].within_tolerance >= 0.80
    for name in ("nvidia-consumer", "nvidia-datacenter", "nvidia-workstation", "apple"):
        assert errors[name].devices >= 4 and errors[name].median_abs_error <= 0.15, name
    assert held_out_errors()["all"] == errors["all"]


def test_an_h100_is_not_three_times_a_4090_for_an_8b_model():
    """The old single-efficiency roofline said 412 tokens/s for an H100 SXM; the published H100 PCIe run is 145.6."""
    arch = get_model("Llama 3.1 8B").architecture
    h100, rtx4090 = get_gpu("H100 SXM"), get_gpu("RTX 4090")
    ratio = generation_tokens_per_second(arch, "Q4_K_M", 256, h100) / generation_tokens_per_second(arch, "Q4_K_M", 256, rtx4090)
    assert ratio < 0.6 * h100.bandwidth_gbps / rtx4090.bandwidth_gbps
    published = next(r for r in load_published_speeds() if r.device == "H100 PCIe" and r.mix == "Q4_K_M"
                     and r.model == "Llama 3.1 8B" and r.phase == "generation")
    held_out = next(c for c in check_published(leave_device_out=True) if c.published == published)
    assert abs(held_out.error) < 0.2
    split = time_per_token(arch, "Q4_K_M", 256, h100)
    assert split.layer_seconds > 0.3 * split.total_seconds  # the fixed cost per layer is a large part of a token


def test_the_one_estimate_is_the_class_model_at_the_catalog_bandwidth():
    arch = get_model("Qwen2.5 7B").architecture
    for name in ("RTX 3090", "Apple M2 Max 96GB", "CPU desktop DDR5-5600 dual-channel"):
        gpu = get_gpu(name)
        rows = speed_by_context(arch, "Q4_K_M", gpu, [0, 4096])
        nbytes = rows[1].weight_bytes + rows[1].kv_cache_bytes
        assert rows[1].tokens_per_second == pytest.approx(speed_model(gpu).tokens_per_second(nbytes, gpu.bandwidth_gbps, 28))
        assert rows[0].tokens_per_second > rows[1].tokens_per_second  # the cache is read too


def test_the_fit_recovers_a_known_model_from_runs_on_several_devices():
    """Synthetic runs made by a known model on devices of different bandwidth are fitted back exactly."""
    truth = SpeedModel(0.6, 150e-6)
    real = generation_runs()[:12]
    fake = [r.__class__(**{**r.__dict__, "tokens_per_second": truth.tokens_per_second(
        run_features(r)[0], run_features(r)[2], run_features(r)[1])}) for r in real]
    fitted = fit_runs(fake)
    assert fitted.efficiency == pytest.approx(0.6, rel=1e-6)
    assert fitted.overhead_seconds_per_layer == pytest.approx(150e-6, rel=1e-6)


def test_a_run_outside_the_model_is_kept_but_never_fitted():
    rows = load_published_speeds()
    outside = [r for r in rows if r.not_fitted_because]
    assert outside and not set(outside) & set(generation_runs())
    assert set(outside) & set(generation_runs(fitted_only=False))


def test_prompt_speed_scales_with_flops_on_one_device():
    checks = prompt_checks()
    assert len(checks) >= 20
    errors = sorted(abs(c.error) for c in checks)
    assert errors[len(errors) // 2] < 0.3  # median: compute-bound scaling holds roughly, not exactly


def test_a_benchmark_only_device_cannot_be_bought():
    from helpers.course.catalog import load_gpus

    assert "H100 PCIe" not in load_gpus() and get_device("H100 PCIe").kind == "discrete"


def test_prompt_rate_comes_from_published_runs_or_the_fp16_rate():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.device_speed import prompt_flops_per_second, prompt_tokens_per_second
    from helpers.memory.architecture import active_parameter_count

    arch = get_model("Llama 3.1 8B").architecture
    rate, source = prompt_tokens_per_second(arch, get_gpu("RTX 3090"))
    assert rate == pytest.approx(prompt_flops_per_second("RTX 3090") / (2 * active_parameter_count(arch)))
    assert "published" in source
    card = get_gpu("RTX 4060 8GB")
    rate, source = prompt_tokens_per_second(arch, card)
    assert rate == pytest.approx(card.fp16_tflops * 1e12 / (2 * active_parameter_count(arch))) and "fp16" in source
