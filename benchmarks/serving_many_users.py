"""Notebook 20's side-by-side measurement at full size, with vLLM where its environment exists.

llama-cpp-python's server (one request at a time), llama-server with --parallel slots (continuous
batching) and vLLM (continuous batching, PagedAttention; its CPU build, --enforce-eager) on the same
model (the shipped SmolLM2-135M-Instruct Q4_1; vLLM on the same weights dequantized, build/vllm/),
the same prompts and greedy replies of --tokens tokens (ignore_eos), 1 to 16 clients at once, the
servers in turns within each of --reps rounds, one warm-up request each first. Measured by vLLM's
`vllm bench serve` where it can be (llama-server, vLLM), by helpers.serving.load.run_clients where
it cannot (llama-cpp-python's server refuses its request ids); the same metric definitions
(helpers.serving.latency); medians over the rounds. Then, with vLLM: the same load of
--pressure-clients requests of --pressure-tokens tokens against a 1 GiB KV cache and one of
--cache-tokens tokens (pre-emption, from vLLM's /metrics), and vLLM's removed guided_choice field
against structured_outputs. Loopback only; every server is stopped.

    .venv/bin/python benchmarks/serving_many_users.py [--reps 3] [--tokens 64] [--threads 2] [--slots 8]

Writes benchmarks/results/serving_many_users.md.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.report import report_header, write_report  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.llm.context import architecture_from_gguf  # noqa: E402
from helpers.serving.compare import measure_in_turns, median_over_rounds, side_by_side_servers, tool_for, vllm_settings  # noqa: E402
from helpers.serving.constraint_fields import check_constraint_fields  # noqa: E402
from helpers.serving.kv_pressure import kv_cache_gib_for_tokens, measure_pressure  # noqa: E402
from helpers.serving.latency import DEFAULT_SLO, goodput_column  # noqa: E402
from helpers.serving.server import llama_server_available, start_server  # noqa: E402
from helpers.serving.vllm_env import vllm_env_ready  # noqa: E402

ALIAS = "smollm2"
CLIENTS = [1, 2, 4, 8, 16]
PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
           "Describe a cat.", "Tell a story about a robot.", "What is rain?", "Describe a mountain.", "Why is the sky blue?"]
GOODPUT = goodput_column(DEFAULT_SLO)
COLUMNS = ["output throughput (tokens/s)", "output throughput spread (tokens/s)", GOODPUT,
           "TTFT p50 (ms)", "TTFT p95 (ms)", "TPOT p50 (ms)", "TPOT p95 (ms)", "ITL p95 (ms)"]
PRESSURE_COLUMNS = ["KV cache (tokens)", "requests", "output throughput (tokens/s)", GOODPUT, "TTFT p50 (ms)", "TTFT p95 (ms)",
                    "E2EL p95 (ms)", "most running", "most waiting", "pre-emptions"]


def cell(value) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def table(rows, columns, first=()) -> list:
    """Markdown table lines: the ``first`` keys, then ``columns``."""
    keys = [*first, *columns]
    return (["| " + " | ".join(keys) + " |", "|" + "---|" * len(first) + "---:|" * len(columns)]
            + ["| " + " | ".join(cell(row[k]) for k in keys) + " |" for row in rows])


def shown(text: str) -> str:
    """A reply as the table shows it: at most 60 characters, a cut marked."""
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--cache-tokens", type=int, default=1024, help="the small KV cache, tokens")
    parser.add_argument("--pressure-clients", type=int, default=16)
    parser.add_argument("--pressure-tokens", type=int, default=256)
    args = parser.parse_args(argv)
    if not llama_server_available():
        sys.exit("llama-server is not installed (python3 course.py tools)")
    other_work = OtherWork()
    model = chat_model_path()
    with_vllm = vllm_env_ready()
    with side_by_side_servers(model, ALIAS, args.threads, args.slots, with_vllm) as servers:
        tools = {name: tool_for(server) for name, server in servers.items()}
        rows = measure_in_turns(servers, ALIAS, PROMPTS, CLIENTS, args.tokens, args.reps, DEFAULT_SLO)
    pressure, checks = [], []
    if with_vllm:
        caches = {"1 GiB": 1.0, f"{args.cache_tokens:,} tokens": kv_cache_gib_for_tokens(architecture_from_gguf(model),
                                                                                           args.cache_tokens)}
        for label, gib in caches.items():
            run = measure_pressure(model, ALIAS, PROMPTS, gib, args.pressure_clients, args.pressure_tokens)
            pressure.append({"cache asked": label, **run.row()})
        with start_server(vllm_settings(model, ALIAS)) as vllm:
            checks = check_constraint_fields(vllm.base_url, ALIAS, "choice", ("yes", "no"))
    command = "python benchmarks/serving_many_users.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    details = [f"{args.threads} threads per llama.cpp server", f"{args.tokens} greedy tokens per reply (ignore_eos)",
               f"{args.reps} rounds, servers in turns, medians and output throughput's slowest and fastest round",
               "loopback only"]
    lines = report_header("Serving many users: llama-cpp-python, llama-server and vLLM side by side "
                          "(SmolLM2-135M-Instruct)", command, details, other_work)
    lines += ["vLLM: " + ("its CPU build, --enforce-eager, the Q4_1 weights dequantized." if with_vllm else
                          "not measured (.venv-vllm missing)."),
              "Measured by: " + "; ".join(f"{name}: {tool}" for name, tool in tools.items()) + " (llama-cpp-python's "
              "server answers HTTP 400 to vllm bench serve's request ids, which are not UUIDs).", "",
              "Metrics as `vllm bench serve` defines them: TTFT, TPOT = (latency - TTFT) / (tokens - 1), ITL (all gaps "
              "between streamed tokens), goodput = requests per second with TTFT ≤ 1 s and TPOT ≤ 100 ms.", "",
              *table(median_over_rounds(rows), COLUMNS, ("server", "clients")), ""]
    if pressure:
        lines += ["## vLLM when its KV cache runs out", "",
                  f"{args.pressure_clients} requests at once, {args.pressure_tokens} greedy tokens each (ignore_eos), "
                  "512 tokens per request at most, measured by vllm bench serve; running, waiting and pre-emptions "
                  "from vLLM's /metrics, scraped every 0.25 s. KV cache (tokens): what vLLM reported at start.", "",
                  *table(pressure, PRESSURE_COLUMNS, ("cache asked",)), ""]
    if checks:
        lines += ["## vLLM: the removed guided_choice field against structured_outputs (choice yes/no)", "",
                  "| field | HTTP status | reply | follows the constraint |", "|---|---:|---|---|",
                  *[f"| `{c.field}` | {c.status} | {shown(c.text)} | {'yes' if c.followed else 'no'} |" for c in checks], ""]
    write_report("serving_many_users", "\n".join(lines))


if __name__ == "__main__":
    main()
