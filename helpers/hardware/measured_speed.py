"""Measure llama.cpp speed on this machine: prompt processing and generation, in tokens per second.

Prompt processing evaluates many tokens in one batch (matrix x matrix: compute-bound);
generation evaluates one token at a time (matrix x vector: every weight is read per token,
memory-bandwidth-bound). Times are wall-clock seconds from ``time.perf_counter``.
"""
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SpeedResult:
    """One measurement: token counts, seconds and tokens/s for both phases."""

    model: str  # file name
    threads: int
    prompt_tokens: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float

    @property
    def prompt_tokens_per_second(self) -> float:
        return self.prompt_tokens / self.prompt_seconds

    @property
    def generation_tokens_per_second(self) -> float:
        return self.generated_tokens / self.generation_seconds

    def as_row(self) -> dict:
        return {"model": self.model, "threads": self.threads, "prompt tokens": self.prompt_tokens,
                "prompt tokens/s": self.prompt_tokens_per_second, "generated tokens": self.generated_tokens,
                "generation tokens/s": self.generation_tokens_per_second}


def _check_count(name: str, value: int, low: int = 1, high: int = 1 << 20) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return value


def load_llama(path, threads: int, n_ctx: int, n_gpu_layers: int = 0):
    """A ``llama_cpp.Llama`` for ``path`` (quiet), refusing a missing file first."""
    import llama_cpp

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF file at {path}")
    return llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                           n_gpu_layers=n_gpu_layers, verbose=False)


def measure_speed(path, prompt_tokens: int = 64, generated_tokens: int = 32, threads: int = 2,
                  n_gpu_layers: int = 0, seed: int = 0, llm=None) -> SpeedResult:
    """Time the evaluation of a ``prompt_tokens`` prompt, then ``generated_tokens`` greedy tokens.

    The prompt is random token ids (the speed does not depend on the text). Pass ``llm`` to reuse a
    loaded model (its thread count must be ``threads``).
    """
    _check_count("prompt_tokens", prompt_tokens)
    _check_count("generated_tokens", generated_tokens)
    _check_count("threads", threads, high=1024)
    llm = llm or load_llama(path, threads, prompt_tokens + generated_tokens + 8, n_gpu_layers)
    if prompt_tokens + generated_tokens > llm.n_ctx():
        raise ValueError(f"prompt_tokens + generated_tokens must be <= n_ctx {llm.n_ctx()}, "
                         f"got {prompt_tokens + generated_tokens}")
    rng = np.random.default_rng(seed)
    prompt = [llm.token_bos()] + rng.integers(300, llm.n_vocab(), prompt_tokens - 1).tolist()
    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    prompt_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(generated_tokens):
        llm.eval([llm.sample(top_k=1)])
    generation_seconds = time.perf_counter() - start
    return SpeedResult(Path(path).name, threads, prompt_tokens, prompt_seconds, generated_tokens, generation_seconds)


def best_of(results) -> SpeedResult:
    """The fastest generation among repeated measurements (least disturbed by other processes)."""
    results = list(results)
    if not results:
        raise ValueError("best_of needs at least one SpeedResult")
    return max(results, key=lambda r: r.generation_tokens_per_second)


def interleaved_speeds(path, thread_counts=(1, 2), repeats: int = 5, prompt_tokens: int = 64,
                       generated_tokens: int = 32) -> dict:
    """``{threads: [SpeedResult, ...]}``: every thread count measured ``repeats`` times, in turn.

    One model is loaded per thread count and warmed up once (the first run pages the weights in).
    Taking turns (1, 2, 1, 2, ...) spreads a busy moment of the machine over every thread count
    alike, so their medians stay comparable on a shared machine.
    """
    _check_count("repeats", repeats, high=1000)
    models = {t: load_llama(path, _check_count("threads", t, high=1024), prompt_tokens + generated_tokens + 8)
              for t in thread_counts}
    runs = {t: [] for t in thread_counts}
    for t, llm in models.items():
        measure_speed(path, prompt_tokens, generated_tokens, t, llm=llm)
    for i in range(repeats):
        for t, llm in models.items():
            runs[t].append(measure_speed(path, prompt_tokens, generated_tokens, t, llm=llm, seed=i))
    return runs


def median_and_range(results) -> dict:
    """Median, lowest and highest prompt and generation tokens/s of repeated measurements."""
    results = list(results)
    if not results:
        raise ValueError("median_and_range needs at least one SpeedResult")
    out = {}
    for phase in ("prompt", "generation"):
        values = [getattr(r, f"{phase}_tokens_per_second") for r in results]
        out.update({f"{phase} tokens/s (median)": float(np.median(values)),
                    f"{phase} tokens/s (lowest)": min(values), f"{phase} tokens/s (highest)": max(values)})
    return out


def compare_thread_counts(runs: dict, phase: str = "generation") -> str:
    """One sentence comparing the lowest and highest thread count of ``interleaved_speeds``' runs.

    ``phase`` is "prompt" or "generation". A difference is called only when the ranges (lowest to
    highest of the repetitions) do not overlap; otherwise the sentence says the runs cannot tell.
    """
    if phase not in ("prompt", "generation"):
        raise ValueError(f"phase must be 'prompt' or 'generation', got {phase!r}")
    if len(runs) < 2:
        raise ValueError(f"need runs for at least two thread counts, got {sorted(runs)!r}")
    few, many = min(runs), max(runs)
    a, b = median_and_range(runs[few]), median_and_range(runs[many])
    low, high, median = (f"{phase} tokens/s ({k})" for k in ("lowest", "highest", "median"))
    ratio = b[median] / a[median]
    head = f"{phase}: {many} threads give {ratio:.2f}x the median tokens/s of {few}"
    if b[low] > a[high]:
        return f"{head}; the ranges do not overlap: faster with {many} threads on this machine."
    if b[high] < a[low]:
        return f"{head}; the ranges do not overlap: slower with {many} threads on this machine."
    return f"{head}; the ranges overlap: these runs cannot tell the two apart."


# --- The machine card's reference speeds --------------------------------------------------------

CARD_TOLERANCE = 0.10  # a later run agrees with the card within its range widened by 10% each way


def speeds_for_card(runs: dict) -> dict:
    """What the machine card keeps of :func:`interleaved_speeds`' runs: the file, the rounds, and per
    thread count the median, lowest and highest tokens/s of both phases."""
    if not runs:
        raise ValueError("speeds_for_card needs the runs of at least one thread count")
    first = next(iter(runs.values()))
    return {"model": first[0].model, "rounds": len(first), "prompt_tokens": first[0].prompt_tokens,
            "generated_tokens": first[0].generated_tokens,
            "threads": {str(t): median_and_range(r) for t, r in runs.items()}}


def card_speed(card_speeds: dict, model: str, threads: int):
    """The card's median/lowest/highest tokens/s for ``model`` (file name) at ``threads``, or None."""
    if not card_speeds or card_speeds.get("model") != model:
        return None
    return card_speeds.get("threads", {}).get(str(threads))


def compare_with_card(measured: float, card_speeds: dict, model: str, threads: int, phase: str = "generation") -> str:
    """One sentence setting a speed measured now (tokens/s) beside the machine card's for the same file."""
    if phase not in ("prompt", "generation"):
        raise ValueError(f"phase must be 'prompt' or 'generation', got {phase!r}")
    ref = card_speed(card_speeds, model, threads)
    if ref is None:
        return (f"the machine card has no {phase} speed for {model} at {threads} thread(s): "
                "run notebook 00 to record this machine's reference speeds.")
    median, low, high = (ref[f"{phase} tokens/s ({k})"] for k in ("median", "lowest", "highest"))
    head = (f"machine card (notebook 00): {median:.1f} {phase} tokens/s at {threads} thread(s), "
            f"{low:.1f}-{high:.1f} over {card_speeds['rounds']} rounds; now {measured:.1f} ({measured / median - 1:+.0%})")
    if low * (1 - CARD_TOLERANCE) <= measured <= high * (1 + CARD_TOLERANCE):
        return f"{head}: the same machine, as the card measured it."
    return (f"{head}: outside the card's range; other programs may be using the cores now, or the card "
            "is out of date (run notebook 00 again).")

