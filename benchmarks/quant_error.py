"""Quantization error per GGUF format, measured on real weight matrices.

    .venv/bin/python benchmarks/quant_error.py [--model PATH] [--seed N]

Quantizes every matrix whose rows are a multiple of 256 weights with helpers.quantization.block_formats (bytes
identical to llama.cpp's reference quantizer) and reports, per format: bits per weight from the
block layout, RMSE and max |error| of the weights, and the relative error of each layer's output
W @ x for random Gaussian inputs. Also checks, on an awkward test matrix set, that our bytes equal
llama.cpp's. Writes benchmarks/results/quant_error.md.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.report import report_header, write_report  # noqa: E402
from helpers.quantization.block_formats import FORMATS  # noqa: E402
from helpers.quantization.error import error_table, k_quant_ready  # noqa: E402
from helpers.quantization.llamacpp_match import compare_with_llama_cpp  # noqa: E402
from helpers.quantization.model_weights import load_weight_matrices  # noqa: E402


def markdown(source, matrices, rows, proof, command) -> str:
    shapes = ", ".join(f"{k} {v.shape[0]}x{v.shape[1]}" for k, v in matrices.items())
    lines = [
        *report_header("Quantization error by GGUF format", command),
        f"Weights: {source}; matrices measured: {shapes} "
        f"({sum(v.size for v in matrices.values()):,} weights).",
        "Output error: ||(W_q - W) x|| / ||W x|| for 8 random Gaussian inputs x, averaged over matrices",
        "weighted by size. RMSE pooled over all weights; max error is the largest anywhere.",
        "",
        "| format | bits per weight | RMSE | max abs error | relative output error |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['format']} | {r['bits per weight']:.4g} | {r['RMSE']:.3e} | {r['max abs error']:.3e} | "
                     f"{r['relative output error']:.3e} |")
    lines += ["", "## Same bytes as llama.cpp", "",
              "Each format: a 1-block llama GGUF of awkward F32 matrices quantized by `llama_model_quantize`",
              "(pure, no imatrix) and by helpers.quantization.block_formats; blocks compared byte for byte.", "",
              "| format | blocks compared | blocks that differ |", "| --- | ---: | ---: |"]
    lines += [f"| {fmt} | {n} | {bad} |" for fmt, n, bad in proof]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help=".safetensors or .gguf file (default: course model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source, matrices = load_weight_matrices(args.model, seed=args.seed)
    matrices = k_quant_ready(matrices)
    rows = error_table(matrices, FORMATS, seed=args.seed)
    proof = []
    with tempfile.TemporaryDirectory() as workdir:
        for fmt in FORMATS:
            result = compare_with_llama_cpp(fmt, workdir, seed=args.seed)
            proof.append((fmt, sum(r["blocks"] for r in result), sum(r["blocks that differ"] for r in result)))
    command = ".venv/bin/python benchmarks/quant_error.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    write_report("quant_error", markdown(source, matrices, rows, proof, command))


if __name__ == "__main__":
    main()
