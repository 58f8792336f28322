import math

import pytest

from helpers.serving.sizing import (
    READING_TOKENS_PER_SECOND,
    batched_tokens_per_second,
    gpu_workshop_estimate,
    learners_from_measurements,
    learners_served,
)


def row(clients, ttft, each, total):
    return {"clients": clients, "median TTFT (s)": ttft, "per request (tokens/s)": each, "aggregate (tokens/s)": total}


def test_littles_law_by_hand():
    # reply 1 + 200/20 = 11 s, cycle 71 s: 4 in flight serve 4 x 71 / 11 learners
    assert math.isclose(learners_served(4, 1.0, 200, 20.0, 60.0), 4 * 71 / 11)
    assert learners_served(1, 0.0, 100, 10.0, 0.0) == 1  # no think time: one learner per request in flight
    with pytest.raises(ValueError, match="tokens_per_second must be positive, got 0"):
        learners_served(1, 0.0, 100, 0, 1.0)


def test_a_queueing_server_gains_nothing_from_more_clients():
    queued = [row(1, 0.2, 30.0, 30.0), row(2, 0.9, 30.0, 30.0), row(4, 2.5, 30.0, 30.0)]
    one = learners_from_measurements(queued[:1], 200, 60)
    assert learners_from_measurements(queued, 200, 60)["learners"] == pytest.approx(one["learners"])
    # 0.8 x 30 tokens/s x (0.2 + 200/30 + 60) s / 200 tokens
    assert one["learners"] == pytest.approx(0.8 * 30 * (0.2 + 200 / 30 + 60) / 200)


def test_a_batching_server_is_sized_at_its_best_readable_concurrency():
    batched = [row(1, 0.2, 30.0, 30.0), row(4, 0.4, 20.0, 80.0), row(8, 0.6, 4.0, 32.0)]
    best = learners_from_measurements(batched, 200, 60)
    assert best["clients"] == 4  # 8 clients are slower than reading speed
    assert 4.0 < READING_TOKENS_PER_SECOND < 20.0
    assert best["learners"] == pytest.approx(0.8 * 80 * (0.2 + 10 + 60) / 200)


def test_too_slow_for_reading_holds_nobody():
    assert learners_from_measurements([row(1, 0.1, 2.0, 2.0)], 200, 60)["learners"] == 0
    with pytest.raises(ValueError, match="no measurements"):
        learners_from_measurements([], 200, 60)


def test_batched_speed_shares_one_read_of_the_weights_and_one_pass_of_the_layers():
    from helpers.hardware.roofline import SpeedModel

    reading_only, with_layers = SpeedModel(1.0, 0.0), SpeedModel(1.0, 1e-4)
    one = batched_tokens_per_second(4e9, 0.0, 1, 1000, reading_only, 32)
    assert one == pytest.approx(250.0)
    assert batched_tokens_per_second(4e9, 0.0, 8, 1000, reading_only, 32) == pytest.approx(250.0)  # one read per step
    assert batched_tokens_per_second(4e9, 0.5e9, 8, 1000, reading_only, 32) == pytest.approx(1e12 / 8e9)
    # 32 layers at 0.1 ms each add 3.2 ms to every step, shared by all slots: 4 ms + 3.2 ms
    assert batched_tokens_per_second(4e9, 0.0, 8, 1000, with_layers, 32) == pytest.approx(1 / 0.0072)


def test_gpu_estimate_is_bounded_by_memory_speed_and_busy_time():
    small = gpu_workshop_estimate("Llama 3.1 8B", "Q4_K_M", "RTX 3060 12GB")
    big = gpu_workshop_estimate("Llama 3.1 8B", "Q4_K_M", "RTX 4090")
    assert 1 <= small.slots_used <= small.slots_that_fit < big.slots_that_fit
    assert small.tokens_per_second_each >= READING_TOKENS_PER_SECOND
    assert small.learners == min(small.learners_by_slots, small.learners_by_utilization) > 0
    assert big.learners > small.learners and big.prompt_seconds_per_turn < small.prompt_seconds_per_turn
    assert gpu_workshop_estimate("Llama 3.1 70B", "Q4_K_M", "RTX 3060 12GB").learners == 0  # does not fit


def test_prompt_time_comes_from_the_cards_published_prompt_runs_where_there_are_some():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.device_speed import prompt_flops_per_second
    from helpers.memory.architecture import active_parameter_count

    rtx3090 = gpu_workshop_estimate("Llama 3.1 8B", "Q4_K_M", "RTX 3090", prompt_tokens=1000)
    flops = prompt_flops_per_second("RTX 3090")
    assert flops > get_gpu("RTX 3090").fp16_tflops * 1e12  # tensor cores: above the shader rate
    expected = 1000 * 2 * active_parameter_count(get_model("Llama 3.1 8B").architecture) / flops
    assert rtx3090.prompt_seconds_per_turn == pytest.approx(expected) and "published" in rtx3090.prompt_rate_source
    unpublished = gpu_workshop_estimate("Llama 3.1 8B", "Q4_K_M", "RTX 4060 8GB")
    assert prompt_flops_per_second("RTX 4060 8GB") is None and "lower bound on the speed" in unpublished.prompt_rate_source
