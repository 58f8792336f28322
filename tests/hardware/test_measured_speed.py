"""Speed measurement: structure and positivity only (never a speed threshold)."""
import pytest

from helpers.gguf.random_weights import write_random_gguf
from helpers.hardware.measured_speed import (
    SpeedResult,
    best_of,
    compare_thread_counts,
    interleaved_speeds,
    measure_speed,
    median_and_range,
)
from helpers.memory.architecture import Architecture

TINY = Architecture("tiny", n_layers=2, hidden=64, ffn=128, n_heads=4, n_kv_heads=2, head_dim=16, vocab=320,
                    max_context=256)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_random_gguf(TINY, tmp_path_factory.mktemp("speed") / "tiny.gguf")


def test_measure_speed_returns_positive_rates(tiny_model):
    result = measure_speed(tiny_model, prompt_tokens=8, generated_tokens=4, threads=1)
    assert isinstance(result, SpeedResult)
    assert (result.prompt_tokens, result.generated_tokens, result.threads) == (8, 4, 1)
    assert result.prompt_tokens_per_second > 0 and result.generation_tokens_per_second > 0
    assert result.generation_tokens_per_second == pytest.approx(4 / result.generation_seconds)
    assert set(result.as_row()) >= {"model", "generation tokens/s", "prompt tokens/s"}


def test_best_of_picks_the_fastest_generation():
    slow = SpeedResult("m", 1, 8, 1.0, 4, 2.0)
    fast = SpeedResult("m", 1, 8, 1.0, 4, 1.0)
    assert best_of([slow, fast]) is fast
    with pytest.raises(ValueError):
        best_of([])


def test_refuses_bad_inputs(tiny_model, tmp_path):
    with pytest.raises(FileNotFoundError):
        measure_speed(tmp_path / "missing.gguf")
    with pytest.raises(ValueError, match="prompt_tokens"):
        measure_speed(tiny_model, prompt_tokens=0)
    with pytest.raises(ValueError, match="threads"):
        measure_speed(tiny_model, threads=0)


def test_interleaved_speeds_measure_every_thread_count_in_turn(tiny_model):
    runs = interleaved_speeds(tiny_model, thread_counts=(1, 2), repeats=3, prompt_tokens=8, generated_tokens=4)
    assert sorted(runs) == [1, 2]
    assert [len(v) for v in runs.values()] == [3, 3]
    assert {r.threads for r in runs[2]} == {2} and all(r.generation_seconds > 0 for r in runs[1])
    with pytest.raises(ValueError, match="repeats"):
        interleaved_speeds(tiny_model, repeats=0)


def test_median_and_range():
    def result(gen_seconds):
        return SpeedResult("m", 1, 10, 1.0, 10, gen_seconds)

    summary = median_and_range([result(1.0), result(2.0), result(0.5)])
    assert summary["generation tokens/s (median)"] == 10.0
    assert (summary["generation tokens/s (lowest)"], summary["generation tokens/s (highest)"]) == (5.0, 20.0)
    assert summary["prompt tokens/s (median)"] == 10.0
    with pytest.raises(ValueError, match="at least one"):
        median_and_range([])



def test_compare_thread_counts_calls_a_difference_only_without_overlap():
    def runs(threads, *gen_seconds):
        return [SpeedResult("m", threads, 10, 1.0, 10, s) for s in gen_seconds]

    faster = compare_thread_counts({1: runs(1, 1.0, 1.1, 0.9), 2: runs(2, 0.5, 0.55, 0.45)})
    assert faster.startswith("generation: 2 threads give 2.00x") and "faster with 2 threads" in faster
    assert "slower with 2 threads" in compare_thread_counts({1: runs(1, 0.5, 0.45), 2: runs(2, 1.0, 1.1)})
    assert "cannot tell" in compare_thread_counts({1: runs(1, 1.0, 0.5), 2: runs(2, 0.9, 0.6)})
    with pytest.raises(ValueError, match="phase must be"):
        compare_thread_counts({1: runs(1, 1.0), 2: runs(2, 1.0)}, phase="decode")
    with pytest.raises(ValueError, match="at least two thread counts"):
        compare_thread_counts({1: runs(1, 1.0)})


def _runs():
    from helpers.hardware.measured_speed import SpeedResult

    def result(threads, gen_s):
        return SpeedResult("m.gguf", threads, 64, 0.5, 32, gen_s)
    return {1: [result(1, 0.64), result(1, 0.60), result(1, 0.62)], 2: [result(2, 0.40), result(2, 0.42), result(2, 0.44)]}


def test_the_card_keeps_medians_and_ranges_per_thread_count():
    from helpers.hardware.measured_speed import card_speed, speeds_for_card

    card = speeds_for_card(_runs())
    assert card["model"] == "m.gguf" and card["rounds"] == 3 and set(card["threads"]) == {"1", "2"}
    one = card_speed(card, "m.gguf", 1)
    assert one["generation tokens/s (median)"] == pytest.approx(32 / 0.62)
    assert one["generation tokens/s (lowest)"] == pytest.approx(32 / 0.64) and one["prompt tokens/s (median)"] == 128
    assert card_speed(card, "other.gguf", 1) is None and card_speed(card, "m.gguf", 4) is None


def test_a_new_measurement_is_read_against_the_card():
    from helpers.hardware.measured_speed import compare_with_card, speeds_for_card

    card = speeds_for_card(_runs())
    assert "the same machine" in compare_with_card(52.0, card, "m.gguf", 1)
    assert "outside the card's range" in compare_with_card(30.0, card, "m.gguf", 1)
    assert "run notebook 00" in compare_with_card(52.0, {}, "m.gguf", 1)
    with pytest.raises(ValueError, match="phase must be 'prompt' or 'generation', got 'decode'"):
        compare_with_card(1.0, card, "m.gguf", 1, "decode")
