"""vLLM's KV cache under pressure: sizing a cache in tokens, reading its size back, the /metrics series,
and one real vLLM whose small cache makes it pre-empt requests.

The live test needs vLLM's own environment (.venv-vllm, `make vllm-env`); without it it is skipped.
"""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.llm.context import architecture_from_gguf
from helpers.serving.kv_pressure import (
    VLLM_SERIES,
    PressureRun,
    cache_tokens_in_log,
    kv_cache_gib_for_tokens,
    measure_pressure,
    pressure_rows,
)

LOG = """(APIServer pid=32100) INFO 12-07 14:34:51 [api_server.py:1896] vLLM API server version 0.32.0
(EngineCore pid=32119) INFO 12-07 14:35:00 [kv_cache_utils.py:2327] CPU KV cache size: {tokens} tokens, \
Maximum concurrency for 512 tokens per request: 2.00x
(APIServer pid=32100) INFO 12-07 14:35:02 [launcher.py:46] Route: /metrics, Methods: GET
"""
PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
           "Describe a cat.", "Tell a story about a robot.", "What is rain?"]


def _scrape(time_s, running, waiting, usage, preemptions):
    values = dict(zip(VLLM_SERIES, (running, waiting, usage, preemptions)))
    return {"time_s": time_s, **values}


def test_cache_size_is_two_16_bit_numbers_per_layer_kv_head_and_head_dimension_per_token():
    arch = architecture_from_gguf(chat_model_path())
    bytes_per_token = 2 * arch.n_layers * arch.n_kv_heads * arch.head_dim * 2
    for tokens in (1, 128, 1024, 46592):
        assert kv_cache_gib_for_tokens(arch, tokens) * 2**30 == tokens * bytes_per_token
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=f"tokens must be a whole number >= 1, got {bad}"):
            kv_cache_gib_for_tokens(arch, bad)


def test_cache_size_read_from_the_log_last_line_wins():
    assert cache_tokens_in_log(LOG.format(tokens="1,024")) == 1024
    assert cache_tokens_in_log(LOG.format(tokens="46,592")) == 46592
    assert cache_tokens_in_log(LOG.format(tokens="46,592") + LOG.format(tokens="512")) == 512
    with pytest.raises(ValueError, match="no 'KV cache size: N tokens' line"):
        cache_tokens_in_log(LOG.splitlines()[0])


def test_rows_count_time_from_the_first_scrape_and_name_the_series():
    samples = [_scrape(100.0, 0, 0, 0.0, 0), _scrape(100.25, 4, 2, 1.0, 1), _scrape(100.5, 3, 3, 0.875, 3),
               _scrape(101.0, 0, 0, 0.0, 3)]
    rows = pressure_rows(iter(samples))
    assert [r["time (s)"] for r in rows] == [s["time_s"] - 100.0 for s in samples]
    assert rows[1] == {"time (s)": 0.25, "running requests": 4, "waiting requests": 2, "KV cache in use (share)": 1.0,
                       "pre-emptions so far": 1}
    assert [r["pre-emptions so far"] for r in rows] == [s["vllm:num_preemptions_total"] for s in samples]
    with pytest.raises(ValueError, match="no scrapes given"):
        pressure_rows([])


def test_run_row_has_the_cache_the_summary_the_most_running_and_waiting_and_the_last_preemption_count():
    samples = [_scrape(5.0, 1, 0, 0.25, 0), _scrape(5.5, 4, 2, 1.0, 2), _scrape(6.0, 2, 5, 1.0, 4),
               _scrape(6.5, 0, 0, 0.0, 7)]
    summary = {"requests": 6, "output throughput (tokens/s)": 80.0}
    run = PressureRun(cache_tokens=1024, summary=summary, series=pressure_rows(samples))
    assert run.row() == {"KV cache (tokens)": 1024, **summary, "most running": 4, "most waiting": 5, "pre-emptions": 7}


@pytest.mark.vllm
def test_a_cache_too_small_for_the_load_preempts_and_every_request_still_completes():
    # vLLM's CPU build hands out 128-token blocks: 1,024 tokens are 8 blocks, and 6 requests of about
    # 45 prompt + 200 reply tokens need 2 blocks each, 12 in all
    arch = architecture_from_gguf(chat_model_path())
    run = measure_pressure(chat_model_path(), "smollm2", PROMPTS, kv_cache_gib_for_tokens(arch, 1024), clients=6,
                           reply_tokens=200)
    row = run.row()
    assert run.cache_tokens == row["KV cache (tokens)"] == 1024
    assert row["requests"] == 6
    assert row["pre-emptions"] > 0
    assert row["most waiting"] >= 1
    assert all(0.0 <= r["KV cache in use (share)"] <= 1.0 for r in run.series)
