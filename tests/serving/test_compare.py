from types import SimpleNamespace

import pytest

from helpers.serving import compare
from helpers.serving.compare import OUTPUT_THROUGHPUT, measure_in_turns, measure_one, median_over_rounds, request_bodies, tool_for


def test_bodies_cycle_through_the_prompts_with_replies_of_equal_length():
    bodies = request_bodies(["a", "b"], "m", 3, 16)
    assert [b["messages"][0]["content"] for b in bodies] == ["a", "b", "a"]
    assert all(b["max_tokens"] == 16 and b["ignore_eos"] and b["temperature"] == 0.0 for b in bodies)
    with pytest.raises(ValueError, match="no prompts"):
        request_bodies([], "m", 1, 16)


def _row(server, clients, round_number, speed, ttft):
    return {"server": server, "clients": clients, "round": round_number, OUTPUT_THROUGHPUT: speed, "TTFT p50 (ms)": ttft}


def test_median_over_rounds_per_server_and_client_count_with_the_spread():
    rows = [_row("a", 1, 0, 30.0, 50), _row("b", 1, 0, 60.0, 20), _row("a", 1, 1, 40.0, 70), _row("b", 1, 1, 20.0, 10),
            _row("a", 1, 2, 35.0, 60), _row("b", 1, 2, 50.0, 30)]
    a, b = median_over_rounds(rows)
    assert (a["server"], a["clients"], a[OUTPUT_THROUGHPUT], a["TTFT p50 (ms)"]) == ("a", 1, 35.0, 60)
    assert a["output throughput spread (tokens/s)"] == "30 to 40" and b["output throughput spread (tokens/s)"] == "20 to 60"
    assert "round" not in a


def test_an_unknown_tool_is_refused_by_name():
    with pytest.raises(ValueError, match="tool must be one of .*, got 'guidellm'"):
        measure_one(_server("llama-server"), "m", ["a"], [1], 8, None, "guidellm")


def test_rounds_must_be_a_positive_whole_number():
    with pytest.raises(ValueError, match="rounds must be a whole number >= 1, got 0"):
        measure_in_turns({}, "m", ["a"], [1], 8, 0)


def _server(kind):
    return SimpleNamespace(settings=SimpleNamespace(kind=kind))


@pytest.mark.parametrize("env_ready", [True, False])
def test_vllm_bench_serve_measures_the_servers_that_accept_it_where_vllm_is_installed(monkeypatch, env_ready):
    monkeypatch.setattr(compare, "vllm_env_ready", lambda: env_ready)
    bench = "vllm bench serve" if env_ready else "run_clients"
    assert [tool_for(_server(kind)) for kind in ("llama-cpp-python", "llama-server", "vllm")] == ["run_clients", bench, bench]
    assert tool_for(_server("vllm"), bench_serve=False) == "run_clients"


def test_two_servers_in_turns_give_a_row_per_round_server_and_count(chat_server):
    rows = measure_in_turns({"x": chat_server, "y": chat_server}, "smollm2", ["Say hi."], [1, 2], 6, 2, settle_s=0)
    assert [(r["round"], r["server"], r["clients"]) for r in rows] == [
        (0, "x", 1), (0, "x", 2), (0, "y", 1), (0, "y", 2), (1, "x", 1), (1, "x", 2), (1, "y", 1), (1, "y", 2)]
    assert all(r["requests"] == r["clients"] and r[OUTPUT_THROUGHPUT] > 0 for r in rows)
