"""Sliding-window, mixture-of-experts and latent-attention models: the estimator against llama.cpp itself.

    .venv/bin/python benchmarks/new_architectures.py [--context 4096]

For each family of ``helpers.memory.estimator_check.REDUCED`` (Gemma 3, Qwen3 MoE, gpt-oss with its
experts in MXFP4, DeepSeek V3 with latent attention) a random-weight GGUF of a reduced configuration
is written, quantized by llama.cpp and loaded by llama-cpp-python on the CPU; the file size and the
KV cache and compute buffer llama.cpp reports are set beside the estimator's figures, with the
sliding-window cache both as llama.cpp's tools allocate it (window only) and with ``swa_full``.
Writes benchmarks/results/new_architectures.md.
"""
import argparse
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.memory.estimator_check import REDUCED, check_family  # noqa: E402


def describe(arch) -> str:
    parts = [f"{arch.n_layers} blocks", f"d={arch.hidden}", f"{arch.n_heads}/{arch.n_kv_heads} heads x {arch.head_dim}"]
    if arch.sliding_window:
        parts.append(f"window {arch.sliding_window}, period {arch.swa_period}")
    if arch.is_moe:
        parts.append(f"{arch.n_experts_used} of {arch.n_experts} experts x {arch.expert_width}"
                     + (f" + {arch.n_shared_experts} shared" if arch.n_shared_experts else ""))
    if arch.is_mla:
        parts.append(f"MLA rank {arch.kv_lora_rank} + rope {arch.qk_rope_head_dim}")
    return ", ".join(parts)


def markdown(rows, context: int, command: str) -> str:
    lines = [
        *report_header("New architectures: estimator vs llama.cpp", command,
                       (platform.system(), f"llama.cpp from llama-cpp-python {__import__('llama_cpp').__version__}, "
                        "CPU backend.")),
        f"Random-weight GGUFs of reduced configurations, loaded with n_ctx = {context}, n_ubatch = 512, "
        "one sequence. Sizes in bytes; 'llama.cpp' is what its loader and log report "
        "(KV cache and compute buffer in MiB with two decimals, so about ±0.005 MiB).",
        "",
    ]
    for family, arch in REDUCED.items():
        lines.append(f"* **{family}** ({arch.name}): {describe(arch)}")
    lines += ["", "| family | quant | what | estimated | llama.cpp | error (%) |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['quant']} | {r['what']} | {r['estimated (bytes)']:,.0f} | "
                     f"{r['llama.cpp (bytes)']:,.0f} | {r['error (%)']:+.2f} |")
    worst = max(abs(r["error (%)"]) for r in rows if r["what"].startswith("compute"))
    exact = all(r["estimated (bytes)"] == r["llama.cpp (bytes)"] for r in rows if not r["what"].startswith("compute"))
    lines += ["", f"File sizes, tensor types and KV caches {'all exact' if exact else 'NOT all exact'}; "
              f"largest compute-buffer error {worst:.2f}%.",
              "Latent attention (deepseek2): this llama.cpp caches only the compressed vector and the rotary key "
              "(K cache, no V cache) for files with split attn_k_b/attn_v_b tensors."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for family in REDUCED for row in check_family(family, folder, context=args.context)]
    command = ".venv/bin/python benchmarks/new_architectures.py" + (f" --context {args.context}" if argv else "")
    out = REPO_ROOT / "benchmarks" / "results" / "new_architectures.md"
    write_text_atomic(out, markdown(rows, args.context, command))
    print(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:] or None)
