"""The course's tiny Llama in every quant type llama.cpp makes from it: size, quality, speed, memory.

    .venv/bin/python benchmarks/llm_quants.py [--model-dir data/tiny_llama] [--windows 8] [--reps 15]
                                              [--helper-rounds 150]

For each type: file size (bytes), bits per weight (file bytes * 8 / parameters), held-out
perplexity from llama.cpp's own logits (data/shakespeare/heldout.txt, windows of 128 tokens),
prompt-processing and generation speed (tokens/s) with 1 and 2 threads (median and interquartile
range of ``--reps`` repetitions, the quant types interleaved within each repetition so machine load
spreads over all of them), resident memory after loading and after a prompt, measured in a fresh
Python process each (psutil RSS growth, MiB = 2**20 bytes), against the estimate weights (file) + KV
cache + compute buffer (``helpers.memory.vram``) and against the buffers llama.cpp reports.

Also: greedy generation through ``helpers.llm.load.stream_tokens`` against plain llama-cpp-python
streaming on the same loaded model and settings, in ``--helper-rounds`` rounds that alternate which
goes first (median of the per-round ratios and its interquartile range), and the training time from
the model's train_log.json. Writes benchmarks/results/llm_quants.md. Takes a few minutes.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import BUILD_DIR, REPO_ROOT  # noqa: E402
from helpers.course.report import report_header, write_report  # noqa: E402
from helpers.gguf.header import read_header  # noqa: E402
from helpers.llm.load import load_model, perplexity, stream_tokens  # noqa: E402
from helpers.training.corpus import load_split  # noqa: E402
from helpers.training.export import FTYPES, quant_gguf  # noqa: E402
from helpers.training.tokenizer import SpmVocab  # noqa: E402

PROMPT = "KING RICHARD II:\n"
N_PROMPT = 128
N_GEN = 64
N_CTX = 256
HELPER_TOKENS = 200

# Runs in a fresh interpreter: RSS growth of loading one GGUF, then after one prompt (touches the
# compute buffer), plus the buffers llama.cpp logs. Prints one JSON line.
RSS_SCRIPT = r"""
import gc, json, sys
import psutil
sys.path.insert(0, sys.argv[1])
from helpers.llm.context import captured_llama_log, make_llama
from helpers.memory.llama_log import parse_llama_log
import llama_cpp
proc = psutil.Process()
gc.collect()
before = proc.memory_info().rss
with captured_llama_log() as log:
    llm = make_llama(sys.argv[2], int(sys.argv[3]), n_threads=1, verbose=True)
after_load = proc.memory_info().rss
llm.eval([1] + [300] * (int(sys.argv[4]) - 1))
after_prompt = proc.memory_info().rss
b = parse_llama_log(log.getvalue())
print(json.dumps({"load": after_load - before, "prompt": after_prompt - before, "model": b.model_bytes,
                  "kv": b.kv_bytes, "compute": b.compute_bytes, "output": b.output_bytes}))
"""


def n_parameters(folder) -> int:
    cfg = json.loads((Path(folder) / "config.json").read_text())
    d, v, ff, kv = cfg["d_model"], cfg["vocab_size"], cfg["d_ff"], cfg["n_kv_head"] * cfg["d_model"] // cfg["n_head"]
    per_layer = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * ff
    return 2 * v * d + d + cfg["n_layer"] * per_layer


def one_speed(llm, prompt_ids) -> tuple:
    """(prompt tokens/s, generation tokens/s) of one repetition on a loaded model."""
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(prompt_ids)
    pp = len(prompt_ids) / (time.perf_counter() - t0)
    n = 0
    t0 = time.perf_counter()
    for _ in llm.generate(prompt_ids[:8], temp=0.0, reset=True):
        n += 1
        if n == N_GEN:
            break
    return pp, n / (time.perf_counter() - t0)


def speeds(paths: dict, prompt_ids, threads: int, reps: int) -> dict:
    """{quant: ([prompt tokens/s...], [generation tokens/s...])}, quant types interleaved per repetition."""
    models = {q: load_model(p, n_ctx=N_CTX, n_threads=threads) for q, p in paths.items()}
    out = {q: ([], []) for q in paths}
    for llm in models.values():  # one warm-up each
        one_speed(llm, prompt_ids)
    for r in range(reps):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for q in order:
            pp, tg = one_speed(models[q], prompt_ids)
            out[q][0].append(pp)
            out[q][1].append(tg)
    for llm in models.values():
        llm.close()
    return out


def rss_in_fresh_process(path) -> dict:
    """RSS growth after load and after a prompt, and llama.cpp's buffers (bytes), in a new interpreter."""
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(REPO_ROOT), str(path), str(N_CTX), str(N_PROMPT)],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def helper_overhead(path, rounds: int, threads: int = 1) -> dict:
    """Generation tokens/s: helpers.llm.load.stream_tokens vs llama-cpp-python streaming, same model and settings.

    Each round runs both, alternating which goes first; returns both samples and per-round ratios.
    Rates count streamed chunks (one per token, plus a last one that carries finish_reason).
    """
    llm = load_model(path, n_ctx=N_CTX, n_threads=threads)

    def helper():
        return sum(1 for _ in stream_tokens(llm, PROMPT, max_tokens=HELPER_TOKENS))

    def plain():
        return sum(1 for chunk in llm.create_completion(PROMPT, max_tokens=HELPER_TOKENS, temperature=0.0,
                                                         stream=True))

    helper(), plain()  # warm-up
    rates = {helper: [], plain: []}
    for r in range(rounds):
        for run in ((helper, plain) if r % 2 == 0 else (plain, helper)):
            t0 = time.perf_counter()
            n = run()
            rates[run].append(n / (time.perf_counter() - t0))
    llm.close()
    ratios = [h / p for h, p in zip(rates[helper], rates[plain])]
    return {"helper": rates[helper], "plain": rates[plain], "ratios": ratios, "tokens": n, "threads": threads}


class _ReplayLlama:
    """Stands in for a Llama: create_completion replays prepared chunks, so only the caller's own cost is left."""

    def __init__(self, chunks):
        self.chunks = chunks

    def create_completion(self, prompt, **kwargs):
        return iter(self.chunks)


def helper_cost_per_token(n: int = 200_000) -> tuple:
    """Seconds per token spent in ``stream_tokens`` itself vs iterating the stream directly (no model)."""
    chunks = [{"choices": [{"text": "x", "finish_reason": None}]}] * n
    fake = _ReplayLlama(chunks)
    best_helper = best_plain = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in stream_tokens(fake, PROMPT):
            pass
        best_helper = min(best_helper, (time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        for chunk in fake.create_completion(PROMPT):
            chunk["choices"][0]["text"]
        best_plain = min(best_plain, (time.perf_counter() - t0) / n)
    return best_helper, best_plain


def quartiles(values) -> tuple:
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def bootstrap_median_ci(values, n: int = 10_000, seed: int = 0) -> tuple:
    """95% bootstrap confidence interval of the median (seeded resampling)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(values, size=(n, len(values)), replace=True), axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def median_iqr(values, fmt: str = ",.0f") -> str:
    q1, q2, q3 = quartiles(values)
    return f"{q2:{fmt}} ({q1:{fmt}}–{q3:{fmt}})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO_ROOT / "data" / "tiny_llama"))
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--helper-rounds", type=int, default=150)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    other_work = OtherWork()
    folder = Path(args.model_dir)
    vocab = SpmVocab.load(folder / "vocab.json")
    heldout_ids = vocab.encode(load_split("heldout")[:200_000], add_bos=False)
    prompt_ids = vocab.encode(load_split("heldout")[:2000], add_bos=True)[:N_PROMPT]
    n_params = n_parameters(folder)
    out_dir = BUILD_DIR / "llm_quants"
    paths = {q: quant_gguf(folder, q, out_dir=out_dir) for q in FTYPES}

    from helpers.llm.context import architecture_from_gguf
    from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes

    arch = architecture_from_gguf(paths["F16"])
    rows = {}
    for quant, path in paths.items():
        info = read_header(path)
        ppl = perplexity(load_model(path, n_ctx=N_CTX, logits_all=True), heldout_ids, 128, args.windows)
        rows[quant] = {"bytes": info.file_bytes, "bpw": info.file_bytes * 8 / n_params, "ppl": ppl,
                       "rss": rss_in_fresh_process(path)}
        print(quant, rows[quant], flush=True)
    for threads in (1, 2):
        for quant, (pp, tg) in speeds(paths, prompt_ids, threads, args.reps).items():
            rows[quant][f"pp{threads}"], rows[quant][f"tg{threads}"] = pp, tg
        print("speed done,", threads, "threads", flush=True)
    helper = helper_overhead(paths["Q8_0"], args.helper_rounds)
    cost_helper, cost_plain = helper_cost_per_token()
    print("helper/plain ratios", quartiles(helper["ratios"]), flush=True)
    log = json.loads((folder / "train_log.json").read_text())
    kv_est = kv_cache_bytes(arch, N_CTX)
    compute_est = compute_buffer_bytes(arch, N_CTX, ubatch=min(512, N_CTX), flash_attention=False)  # llama-cpp-python: off
    elapsed = time.perf_counter() - started
    command = "python benchmarks/llm_quants.py" + (f" {' '.join(argv)}" if argv else "")
    mib = 2**20
    lines = [
        *report_header("The course's tiny Llama by quant type (llama.cpp via llama-cpp-python)", command,
                       ("no GPU", f"run time {elapsed / 60:.1f} min"), other_work),
        "Each speed cell is the "
        f"median of {args.reps} repetitions with the interquartile range (25th–75th percentile) in brackets; "
        "the quant types were interleaved within each repetition so that load falls on all of them alike.",
        "",
        f"Model: {folder.name}, {n_params:,} parameters ({arch.n_layers} layers, d_model {arch.hidden}, "
        f"{arch.n_heads} heads / {arch.n_kv_heads} KV heads, vocabulary {arch.vocab:,}), preset `{log['preset']}`.",
        f"Training time (from `{folder.name}/train_log.json`, not rerun): {log['training_seconds']} s for "
        f"{log['settings']['steps']} steps of {log['settings']['batch_size']} x {log['settings']['seq_len']} tokens "
        f"on {log['threads']} CPU threads; tokenizer: {log['tokenizer_seconds']} s.",
        "",
        "## Size, quality and speed",
        "",
        f"Perplexity: held-out plays, {args.windows} windows of 128 tokens, from llama.cpp's logits. "
        f"Prompt processing: {N_PROMPT} tokens from an empty cache; generation: {N_GEN} greedy tokens "
        f"(tokens/s). bpw = file bytes x 8 / parameters (includes metadata and vocabulary).",
        "",
        "| type | file bytes | bits/weight | held-out perplexity | prompt tok/s, 1 thread | prompt tok/s, 2 threads "
        "| generation tok/s, 1 thread | generation tok/s, 2 threads |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for q, r in rows.items():
        lines.append(f"| {q} | {r['bytes']:,} | {r['bpw']:.2f} | {r['ppl']:.2f} | {median_iqr(r['pp1'])} | "
                     f"{median_iqr(r['pp2'])} | {median_iqr(r['tg1'])} | {median_iqr(r['tg2'])} |")
    if all(np.median(r["tg2"]) < np.median(r["tg1"]) for r in rows.values()):
        lines += ["", "Generation is slower with 2 threads than with 1 for every type: a token of a model this small "
                  "is a fraction of a millisecond of work, split into many small operations after each of which "
                  "the two threads synchronise; that costs more than the second core saves, the more so while "
                  "other jobs compete for the same two cores."]
    lines += [
        "",
        "## Resident memory: measured vs estimated",
        "",
        f"Each file loaded with n_ctx = {N_CTX} in a fresh Python process; RSS growth (MiB, 2^20 bytes) right "
        f"after loading and after evaluating a {N_PROMPT}-token prompt. Estimate = file (llama.cpp maps it and "
        f"reads it in) + KV cache ({kv_est / mib:.2f} MiB, `helpers.memory.vram.kv_cache_bytes`) + compute buffer "
        f"({compute_est / mib:.2f} MiB, `helpers.memory.vram.compute_buffer_bytes`). llama.cpp's own figures "
        "(model + KV + compute + output buffers, from its log) for comparison. At this size the process's "
        "own allocations (thread pools, Python objects) are of the same order as the model, so expect MiB-level "
        "differences; the compute buffer's pages become resident only when a batch writes them.",
        "",
        "| type | RSS growth after load (MiB) | after a prompt (MiB) | estimate (MiB) | llama.cpp buffers (MiB) "
        "| after a prompt minus estimate (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for q, r in rows.items():
        m = r["rss"]
        estimate = r["bytes"] + kv_est + compute_est
        reported = m["model"] + m["kv"] + m["compute"] + m["output"]
        lines.append(f"| {q} | {m['load'] / mib:.1f} | {m['prompt'] / mib:.1f} | {estimate / mib:.1f} | "
                     f"{reported / mib:.1f} | {(m['prompt'] - estimate) / mib:+.1f} |")
    hq1, hq2, hq3 = quartiles(helper["ratios"])
    ci_low, ci_high = bootstrap_median_ci(helper["ratios"])
    lines += [
        "",
        "## The course's streaming helper vs plain llama-cpp-python",
        "",
        f"Q8_0, {helper['threads']} thread (the steadier setting on a busy 2-core machine), greedy, "
        f"{HELPER_TOKENS} tokens per run ({helper['tokens']} streamed chunks: the last carries finish_reason), "
        f"{args.helper_rounds} rounds; each round runs `helpers.llm.load.stream_tokens(llm, prompt)` and "
        "`llm.create_completion(prompt, stream=True)` on the same loaded model, alternating which goes first.",
        "",
        "| | generation tok/s, median (IQR) |",
        "| --- | ---: |",
        f"| `helpers.llm.load.stream_tokens` | {median_iqr(helper['helper'])} |",
        f"| plain `create_completion(stream=True)` | {median_iqr(helper['plain'])} |",
        "",
        f"Per-round ratio helper / plain: median {hq2:.3f} (95% bootstrap interval of the median "
        f"{ci_low:.3f}–{ci_high:.3f}), interquartile range {hq1:.3f}–{hq3:.3f} "
        f"(min {min(helper['ratios']):.3f}, max {max(helper['ratios']):.3f}). "
        + ("Within 5% of plain streaming." if ci_low >= 0.95 else
           "Not shown to be within 5% of plain streaming by this run." if hq2 >= 0.95 else
           "The helper is more than 5% slower here."),
        "",
        "Single runs of a tenth of a second swing by tens of percent on a shared machine, so the helper's own "
        "cost was also measured without a model: replaying prepared chunks, `stream_tokens` takes "
        f"{cost_helper * 1e9:.0f} ns per token against {cost_plain * 1e9:.0f} ns for iterating the stream "
        f"directly, i.e. {(cost_helper - cost_plain) * 1e9:.0f} ns extra per token, "
        f"{100 * (cost_helper - cost_plain) * np.median(helper['plain']):.3f}% of a token's generation time at "
        f"the median plain rate. It adds one generator frame over the same `create_completion(stream=True)` call "
        "with the same settings, and nothing else.",
        "",
    ]
    write_report("llm_quants", "\n".join(lines))


if __name__ == "__main__":
    main()
