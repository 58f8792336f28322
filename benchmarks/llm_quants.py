"""The course's tiny Llama in every quant type llama.cpp makes from it: size, quality, speed.

    .venv/bin/python benchmarks/llm_quants.py [--model-dir data/tiny_llama] [--windows 8]

For each type: file size (bytes), bits per weight (file bytes * 8 / parameters), held-out
perplexity from llama.cpp's own logits (data/shakespeare/heldout.txt, windows of 128 tokens),
prompt-processing and generation speed (tokens/s) with 1 and 2 threads, resident memory after
loading (psutil RSS growth, MiB). Also: training time from the model's train_log.json and greedy
generation through helpers.llm.stream_tokens against plain llama-cpp-python streaming.
Writes benchmarks/results/llm_quants.md.
"""
import argparse
import gc
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.atomic import write_text_atomic  # noqa: E402
from helpers.corpus import load_split  # noqa: E402
from helpers.gguf_export import FTYPES, quant_gguf  # noqa: E402
from helpers.llm import inspect_gguf, load_model, perplexity, stream_tokens  # noqa: E402
from helpers.paths import BUILD_DIR, REPO_ROOT  # noqa: E402
from helpers.tokenizer import SpmVocab  # noqa: E402

PROMPT = "KING RICHARD II:\n"
N_GEN = 64


def n_parameters(folder) -> int:
    cfg = json.loads((Path(folder) / "config.json").read_text())
    d, v, ff, kv = cfg["d_model"], cfg["vocab_size"], cfg["d_ff"], cfg["n_kv_head"] * cfg["d_model"] // cfg["n_head"]
    per_layer = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * ff
    return 2 * v * d + d + cfg["n_layer"] * per_layer


def speed(path, threads: int, prompt_ids) -> tuple:
    """(prompt tokens/s, generation tokens/s) for one thread count, best of 3."""
    llm = load_model(path, n_ctx=256, n_threads=threads)
    pp, tg = [], []
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt_ids)
        pp.append(len(prompt_ids) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        n = 0
        for token in llm.generate(prompt_ids[:8], temp=0.0, reset=True):
            n += 1
            if n == N_GEN:
                break
        tg.append(N_GEN / (time.perf_counter() - t0))
    return max(pp), max(tg)


def rss_after_load(path) -> float:
    """Growth of this process's resident memory when a Llama is loaded (MiB, 2**20 bytes)."""
    gc.collect()
    before = psutil.Process().memory_info().rss
    llm = load_model(path, n_ctx=256)
    grown = psutil.Process().memory_info().rss - before
    del llm
    return grown / 2**20


def helper_overhead(path, n_tokens: int = 200, rounds: int = 7) -> tuple:
    """Generation tokens/s: helpers.llm.stream_tokens vs llama-cpp-python streaming, same settings.

    The two alternate which goes first in each round; best of ``rounds`` for each.
    """
    llm = load_model(path, n_ctx=256, n_threads=2)

    def helper():
        return sum(1 for _ in stream_tokens(llm, PROMPT, max_tokens=n_tokens))

    def plain():
        return sum(1 for _ in llm.create_completion(PROMPT, max_tokens=n_tokens, temperature=0.0, stream=True))

    best = {helper: 0.0, plain: 0.0}
    for r in range(rounds):
        for run in ((helper, plain) if r % 2 == 0 else (plain, helper)):
            t0 = time.perf_counter()
            n = run()
            best[run] = max(best[run], n / (time.perf_counter() - t0))
    return best[helper], best[plain]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO_ROOT / "data" / "tiny_llama"))
    parser.add_argument("--windows", type=int, default=8)
    args = parser.parse_args(argv)
    folder = Path(args.model_dir)
    vocab = SpmVocab.load(folder / "vocab.json")
    heldout_ids = vocab.encode(load_split("heldout")[:200_000], add_bos=False)
    prompt_ids = vocab.encode(load_split("heldout")[:2000], add_bos=True)[:128]
    n_params = n_parameters(folder)
    out_dir = BUILD_DIR / "llm_quants"
    rows = []
    for quant in FTYPES:
        path = quant_gguf(folder, quant, out_dir=out_dir)
        info = inspect_gguf(path)
        ppl = perplexity(load_model(path, n_ctx=256, logits_all=True), heldout_ids, 128, args.windows)
        pp1, tg1 = speed(path, 1, prompt_ids)
        pp2, tg2 = speed(path, 2, prompt_ids)
        rows.append((quant, info.file_bytes, info.file_bytes * 8 / n_params, ppl, pp1, pp2, tg1, tg2,
                     rss_after_load(path)))
        print(rows[-1], flush=True)
    helper, plain = helper_overhead(quant_gguf(folder, "Q8_0", out_dir=out_dir))
    log = json.loads((folder / "train_log.json").read_text())
    command = "python benchmarks/llm_quants.py" + (f" {' '.join(argv)}" if argv else "")
    lines = [
        "# The course's tiny Llama by quant type (llama.cpp via llama-cpp-python)",
        "",
        f"Command: `{command}` · date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M} · "
        f"CPU threads available: {psutil.cpu_count()}",
        "",
        f"Model: {folder.name}, {n_params:,} parameters, preset `{log['preset']}`, trained in "
        f"{log['training_seconds']} s on {log['threads']} threads (tokenizer: {log['tokenizer_seconds']} s).",
        f"Perplexity: held-out plays, {args.windows} windows of 128 tokens, from llama.cpp's logits.",
        "Speed: best of 3; prompt = 128 tokens; generation = 64 greedy tokens. "
        "bpw = file bytes x 8 / parameters (includes metadata and vocabulary).",
        "",
        "| type | file bytes | bits/weight | held-out perplexity | prompt tok/s (1 thr) | "
        "prompt tok/s (2 thr) | gen tok/s (1 thr) | gen tok/s (2 thr) | RSS after load (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]:,} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:,.0f} | {r[5]:,.0f} | "
                     f"{r[6]:,.0f} | {r[7]:,.0f} | {r[8]:.1f} |")
    lines += ["", f"Generation through `helpers.llm.stream_tokens`: {helper:,.0f} tok/s; plain "
              f"`Llama.create_completion(stream=True)`: {plain:,.0f} tok/s "
              f"(helper / plain = {helper / plain:.3f}). Q8_0, 2 threads, 200 tokens, best of 7, alternating order.",
              "", "Timings vary with machine load (the machine was shared while this ran).", ""]
    target = REPO_ROOT / "benchmarks" / "results" / "llm_quants.md"
    write_text_atomic(target, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
