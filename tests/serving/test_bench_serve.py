"""vllm bench serve against the course's servers: its arguments, its results as the course's rows, a real run.

The live tests need vLLM's own environment (.venv-vllm), which holds the benchmark; without it they are skipped.
"""
import json
import shlex

import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.bench_serve import BenchServeFailed, bench_row, bench_serve_args, command_line, run_bench_serve, write_prompts
from helpers.serving.compare import request_bodies
from helpers.serving.latency import ServiceLevel, bench_summary
from helpers.serving.load import run_clients
from helpers.serving.server import ServerSettings, start_server
from helpers.serving.vllm_weights import hf_tokenizer_dir

ALIAS = "smollm2"


def _option(args, name):
    return args[args.index(name) + 1]


def test_one_run_sends_every_client_at_once_greedy_with_replies_of_equal_length(tmp_path):
    args = bench_serve_args("http://127.0.0.1:8123/v1", ALIAS, "tok", tmp_path / "p.jsonl", 4, 32,
                            ServiceLevel(ttft_s=0.5, tpot_s=0.05), percentiles=(50, 99))
    assert _option(args, "--base-url") == "http://127.0.0.1:8123" and _option(args, "--endpoint") == "/v1/chat/completions"
    assert _option(args, "--num-prompts") == _option(args, "--max-concurrency") == "4"
    assert _option(args, "--request-rate") == "inf" and _option(args, "--temperature") == "0" and "--ignore-eos" in args
    assert _option(args, "--custom-output-len") == "32" and _option(args, "--model") == ALIAS
    assert args[args.index("--goodput") + 1: args.index("--goodput") + 3] == ["ttft:500", "tpot:50"]
    assert _option(args, "--metric-percentiles") == "50,99" and _option(args, "--percentile-metrics") == "ttft,tpot,itl,e2el"
    typed = command_line(args)
    assert typed.splitlines()[:2] == ["vllm bench serve \\", "    --backend openai-chat \\"]
    assert shlex.split(typed.replace("\\\n", ""))[3:] == args  # the shell reads back the same arguments


def test_arguments_out_of_range_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="clients must be a whole number >= 1, got 0"):
        bench_serve_args("http://x", ALIAS, "tok", "p", 0, 8)
    with pytest.raises(ValueError, match="output_tokens must be a whole number >= 1, got 2.5"):
        bench_serve_args("http://x", ALIAS, "tok", "p", 1, 2.5)
    with pytest.raises(ValueError, match="percentiles must be among"):
        bench_serve_args("http://x", ALIAS, "tok", "p", 1, 8, percentiles=(90,))
    with pytest.raises(ValueError, match="non-empty list of non-empty strings"):
        write_prompts(["a", ""], tmp_path / "p.jsonl")


def test_prompts_are_written_as_vllms_custom_dataset(tmp_path):
    path = write_prompts(["Describe a cat.", 'Say "hi".'], tmp_path / "p.jsonl")
    assert [json.loads(line)["prompt"] for line in path.read_text().splitlines()] == ["Describe a cat.", 'Say "hi".']


def _result(**changes):
    result = {"completed": 2, "failed": 0, "request_throughput": 1.5, "output_throughput": 48.0, "request_goodput": 0.75}
    for metric in ("ttft", "tpot", "itl", "e2el"):
        result.update({f"p50_{metric}_ms": 10.0, f"p95_{metric}_ms": 20.0})
    return {**result, **changes}


def test_a_result_becomes_a_row_with_the_courses_columns():
    row = bench_row(_result(p95_itl_ms=33.0))
    assert row["requests"] == 2 and row["output throughput (tokens/s)"] == 48.0 and row["ITL p95 (ms)"] == 33.0
    assert row["goodput (req/s, TTFT ≤ 1 s, TPOT ≤ 100 ms)"] == 0.75
    with pytest.raises(BenchServeFailed, match=r"1 of 3 requests failed \(first: Bad Request\)"):
        bench_row(_result(failed=1, errors=["", "Bad Request", ""]))


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias=ALIAS, n_ctx=1024, n_threads=1,
                              parallel=2)
    with start_server(settings, log_dir=tmp_path_factory.mktemp("server-logs")) as server:
        yield server


@pytest.mark.vllm
def test_the_tokenizer_folder_counts_tokens_as_llama_cpp_does():
    from llama_cpp import Llama
    from tokenizers import Tokenizer

    folder = hf_tokenizer_dir()
    assert not (folder / "model.safetensors").exists() and (folder / "config.json").is_file()
    theirs = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ours = Llama(str(chat_model_path()), vocab_only=True, verbose=False)
    for text in ("Describe a cat.", "Why is the sky blue? Explain in 3 short sentences, please!", "naïve café — 42"):
        assert theirs.encode(text, add_special_tokens=False).ids == ours.tokenize(text.encode(), add_bos=False)


@pytest.mark.vllm
def test_llama_server_is_measured_and_llama_cpp_pythons_server_refuses_the_request_ids(llama_server, chat_server,
                                                                                        tmp_path):
    prompts = write_prompts(["Describe a cat.", "What is rain?"], tmp_path / "prompts.jsonl")
    runs = [bench_serve_args(server.base_url, ALIAS, hf_tokenizer_dir(), prompts, 2, 6)
            for server in (llama_server, chat_server)]
    measured, refused = run_bench_serve(runs, work_dir=tmp_path)
    assert measured["completed"] == 2 and measured["failed"] == 0 and measured["output_lens"] == [6, 6]
    # 5 gaps between the 6 tokens, 1 from the role chunk to the first token's, 1 to the closing chunk
    assert all(len(gaps) == 7 for gaps in measured["itls"])
    ours = run_clients(llama_server.base_url, request_bodies(["Describe a cat."], ALIAS, 2, 6))
    assert list(bench_row(measured)) == list(bench_summary(ours.timings, ours.wall_s))
    assert refused["completed"] == 0 and set(refused["errors"]) == {"Bad Request"}
    with pytest.raises(BenchServeFailed, match="2 of 2 requests failed"):
        bench_row(refused)


@pytest.mark.vllm
def test_a_failing_run_stops_with_the_tools_own_words(tmp_path):
    with pytest.raises(BenchServeFailed, match="vllm bench serve failed"):
        run_bench_serve([["--no-such-option"]], work_dir=tmp_path)
