"""Exercise checks of notebook 03: right answers pass, typical mistakes get their hint."""
from helpers.exercises.run_llm import check_kv_cache_gib, check_ollama_name, check_setting_for_long_prompt


def test_kv_cache_check():
    right = 2 * 32 * 8 * 128 * 8192 * 2 / 2**30
    assert check_kv_cache_gib(right)
    assert "K or only V" in check_kv_cache_gib(right / 2).message
    assert "KV heads" in check_kv_cache_gib(right * 4).message
    assert "GB" in check_kv_cache_gib(right * 2**30 / 1e9).message
    assert "2 bytes" in check_kv_cache_gib(right * 2).message
    assert not check_kv_cache_gib(None)


def test_setting_check():
    assert check_setting_for_long_prompt("n_ctx")
    assert "speed" in check_setting_for_long_prompt("n_threads").message
    assert "n_ctx" in check_setting_for_long_prompt("n_batch").message
    assert "not one of" in check_setting_for_long_prompt("context").message


def test_ollama_name_check():
    assert check_ollama_name("num_gpu")
    assert "n_threads" in check_ollama_name("num_thread").message
    assert "max_tokens" in check_ollama_name("num_predict").message
