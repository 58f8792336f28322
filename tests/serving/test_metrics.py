"""llama-server's /metrics: parsed with prometheus_client, scraped during a load, turned into rates."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import chat_body
from helpers.serving.load import run_clients
from helpers.serving.metrics import MetricsRecorder, metrics_rows, parse_metrics, read_samples, scrape
from helpers.serving.server import ServerSettings, start_server

TEXT = """# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 31
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
"""
VLLM_TEXT = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="smollm2"} 3.0
# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.
# TYPE vllm:num_preemptions counter
vllm:num_preemptions_total{engine="0",model_name="smollm2"} 5.0
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="smollm2"} 2.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="smollm2"} 6.0
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.0",model_name="smollm2"} 1.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="smollm2"} 8.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="smollm2"} 8.0
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="smollm2"} 19.5
"""


def _sample(time_s, prompt, predicted, busy=0, deferred=0):
    return {"time_s": time_s, "llamacpp:prompt_tokens_total": prompt, "llamacpp:tokens_predicted_total": predicted,
            "llamacpp:requests_processing": busy, "llamacpp:requests_deferred": deferred}


def test_parse_reads_counters_by_their_sample_name_and_gauges():
    assert parse_metrics(TEXT) == {"llamacpp:prompt_tokens_total": 31.0, "llamacpp:requests_processing": 2.0}
    with pytest.raises(ValueError, match="has labels"):
        parse_metrics('# TYPE x gauge\nx{slot="0"} 1\n')


def test_read_samples_picks_named_labelled_samples_and_refuses_a_missing_or_ambiguous_name():
    names = ("vllm:num_requests_running", "vllm:num_preemptions_total", "vllm:e2e_request_latency_seconds_count")
    assert read_samples(VLLM_TEXT, names) == {"vllm:num_requests_running": 3.0, "vllm:num_preemptions_total": 5.0,
                                              "vllm:e2e_request_latency_seconds_count": 8.0}
    assert read_samples(VLLM_TEXT, ["vllm:e2e_request_latency_seconds_sum"]) == {"vllm:e2e_request_latency_seconds_sum": 19.5}
    with pytest.raises(ValueError, match="vllm:num_requests_waiting appears 0 times in the metrics; expected once"):
        read_samples(VLLM_TEXT, ("vllm:num_requests_running", "vllm:num_requests_waiting"))
    with pytest.raises(ValueError, match="vllm:request_success_total appears 2 times in the metrics; expected once"):
        read_samples(VLLM_TEXT, ("vllm:request_success_total",))
    with pytest.raises(ValueError, match="vllm:e2e_request_latency_seconds_bucket appears 2 times"):
        read_samples(VLLM_TEXT, ("vllm:e2e_request_latency_seconds_bucket",))


def test_rows_are_counter_growth_per_second_and_gauges_at_the_interval_end():
    rows = metrics_rows([_sample(10.0, 0, 0), _sample(10.5, 100, 20, busy=2, deferred=1), _sample(11.5, 100, 50)])
    assert rows[0] == {"time (s)": 0.5, "prompt (tokens/s)": 200.0, "generation (tokens/s)": 40.0, "busy slots": 2,
                       "deferred requests": 1}
    assert rows[1]["time (s)"] == 1.5 and rows[1]["generation (tokens/s)"] == 30.0 and rows[1]["prompt (tokens/s)"] == 0.0
    with pytest.raises(ValueError, match="at least two scrapes, got 1"):
        metrics_rows([_sample(0.0, 0, 0)])
    with pytest.raises(ValueError, match="time order"):
        metrics_rows([_sample(1.0, 0, 0), _sample(1.0, 0, 0)])
    with pytest.raises(ValueError, match="interval_s must be at least"):
        MetricsRecorder("http://127.0.0.1:9", interval_s=0.0)


def test_counters_grow_by_the_load_s_tokens_while_scraped(tmp_path):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias="smollm2", n_ctx=1024, n_threads=1,
                              parallel=2, extra_args=("--metrics",))
    bodies = [chat_body([{"role": "user", "content": q}], "smollm2", max_tokens=12)
              for q in ("Name a colour.", "Name a fruit.", "Name a city.")]  # three clients, two slots: one waits
    with start_server(settings, log_dir=tmp_path) as server:
        with MetricsRecorder(server.url, interval_s=0.2) as recorder:
            load = run_clients(server.base_url, bodies)
        last = scrape(server.url)
    first = recorder.samples[0]
    assert len(recorder.samples) >= 2
    generated = last["llamacpp:tokens_predicted_total"] - first["llamacpp:tokens_predicted_total"]
    assert generated >= sum(t.tokens for t in load.timings) > 0
    assert last["llamacpp:prompt_tokens_total"] > first["llamacpp:prompt_tokens_total"]
    rows = metrics_rows(recorder.samples)
    recorded = sum(r["generation (tokens/s)"] * (b["time_s"] - a["time_s"])
                   for r, a, b in zip(rows, recorder.samples, recorder.samples[1:]))
    counted = recorder.samples[-1]["llamacpp:tokens_predicted_total"] - first["llamacpp:tokens_predicted_total"]
    assert recorded == pytest.approx(counted)
    assert all(0 <= r["busy slots"] <= 2 and r["deferred requests"] >= 0 for r in rows)
