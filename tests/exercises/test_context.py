"""Exercise checks of notebook 05: right answers pass, typical mistakes get their hint."""
from helpers.exercises.context import (
    check_kv_cache_mib,
    check_prompt_overflow,
    check_quantized_kv_mib,
    check_tokens_generated,
    kv_cache_mib,
)

# Llama 3.1 8B: 32 layers, 32 query heads, 8 KV heads, head dim 128; 8,192 tokens
SHAPE = dict(n_layers=32, n_heads=32, n_kv_heads=8, head_dim=128, context=8192)


def test_kv_cache_check():
    assert kv_cache_mib(32, 8, 128, 8192, 2) == 1024
    assert check_kv_cache_mib(1024, **SHAPE)
    assert "keys and values" in check_kv_cache_mib(512, **SHAPE).message
    assert "key/value heads" in check_kv_cache_mib(4096, **SHAPE).message
    assert "not 4" in check_kv_cache_mib(2048, **SHAPE).message
    assert "MB (10^6" in check_kv_cache_mib(1073.74, **SHAPE).message
    assert "GiB" in check_kv_cache_mib(1.0, **SHAPE).message
    assert not check_kv_cache_mib(None, **SHAPE)


def test_quantized_kv_check():
    assert check_quantized_kv_mib(544, 1024, "q8_0")
    assert check_quantized_kv_mib(288, 1024, "q4_0")
    assert "scale" in check_quantized_kv_mib(512, 1024, "q8_0").message
    assert "still the f16" in check_quantized_kv_mib(1024, 1024, "q8_0").message
    assert "scale" in check_quantized_kv_mib(256, 1024, "q4_0").message


def test_overflow_check():
    assert check_prompt_overflow("error")
    assert "never cuts" in check_prompt_overflow("truncated").message
    assert "cannot fit" in check_prompt_overflow("runs").message
    assert "allowed" in check_prompt_overflow("crash").message


def test_tokens_generated_check():
    assert check_tokens_generated(12, 512, 500, 100)
    assert check_tokens_generated(50, 512, 100, 50)
    assert "upper bound" in check_tokens_generated(100, 512, 500, 100).message
    assert "Off by one" in check_tokens_generated(11, 512, 500, 100).message
    assert "occupy" in check_tokens_generated(512, 512, 500, 100).message
