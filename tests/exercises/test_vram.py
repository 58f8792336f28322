"""Exercise checks of notebooks 08 and 09: right answers pass, typical mistakes get their hint."""
from helpers.course.catalog import get_model
from helpers.exercises.vram import (
    check_best_quant,
    check_fits_choice,
    check_kv_cache_gib,
    check_q8_0_bytes_per_weight,
    check_tokens_per_second,
)

ARCH = get_model("Llama 3.1 8B").architecture


def test_kv_cache_check():
    assert check_kv_cache_gib(4.0, ARCH, 32768)
    assert "K *and* V" in check_kv_cache_gib(2.0, ARCH, 32768).message
    assert "KV heads" in check_kv_cache_gib(16.0, ARCH, 32768).message
    assert "GB (10**9" in check_kv_cache_gib(4 * 2**30 / 1e9, ARCH, 32768).message
    assert not check_kv_cache_gib(None, ARCH, 32768)


def test_q8_0_check():
    assert check_q8_0_bytes_per_weight(1.0625)
    assert "f16 scale" in check_q8_0_bytes_per_weight(1).message
    assert "bits per weight" in check_q8_0_bytes_per_weight(8.5).message


def test_fits_and_best_quant_checks():
    assert check_fits_choice(False, False)
    assert "Add every term" in check_fits_choice(True, False).message
    ladder = ("Q8_0", "Q6_K", "Q4_K_M")
    assert check_best_quant("Q6_K", "Q6_K", ladder)
    assert "more bits fits too" in check_best_quant("Q4_K_M", "Q6_K", ladder).message
    assert "does not fit" in check_best_quant("Q8_0", "Q6_K", ladder).message


def test_tokens_per_second_check():
    assert check_tokens_per_second(140, 5e9, 1000, 0.7)
    assert "ceiling" in check_tokens_per_second(200, 5e9, 1000, 0.7).message
    assert "GiB" in check_tokens_per_second(140 * 1e9 / 2**30, 5e9, 1000, 0.7).message
    # with 32 layers of 0.1 ms each: 1 / (5e9 / 0.7e12 + 3.2e-3) = 96.7 tokens/s; reading alone is a named mistake
    assert check_tokens_per_second(96.7, 5e9, 1000, 0.7, 1e-4, 32)
    assert "fixed time of every layer" in check_tokens_per_second(140, 5e9, 1000, 0.7, 1e-4, 32).message
