"""Image-model memory: the estimator of helpers.images.memory against measured forward passes.

    .venv/bin/python benchmarks/image_memory.py [--real-unet]

Builds UNet2DConditionModel / AutoencoderKL modules in fp32 on the CPU (random weights: memory does
not depend on their values), runs one forward pass (UNet) or decode (VAE) on one thread and records
the peak of PyTorch's CPU allocator during the pass with torch.profiler's memory events
(helpers.images.memory.measure_forward_peak). Each row sets that beside the estimator's activation
term for the same pass, and the real weight bytes beside the count from the meta device.
Modules: the small configs of notebook 17, SD 1.5's real VAE config, and (with --real-unet, about
4 GB of RAM) SD 1.5's real UNet config at small latents. Writes benchmarks/results/image_memory.md.
"""
import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.images import memory as im  # noqa: E402


def cases(real_unet: bool) -> list:
    sd15 = im.find_model("sd15")["components"]
    rows = [("small UNet", "unet", im.SMALL_UNET, s, a) for s, a in
            ((32, "naive"), (48, "naive"), (64, "naive"), (64, "sdpa"), (128, "sdpa"))]
    rows += [("small VAE", "vae", im.SMALL_VAE, s, "sdpa") for s in (128, 256, 512)]
    rows += [("SD 1.5 VAE (real config)", "vae", sd15["vae"]["config"], s, "sdpa") for s in (128, 256)]
    if real_unet:
        rows += [("SD 1.5 UNet (real config)", "unet", sd15["unet"]["config"], s, "sdpa") for s in (32, 48, 64)]
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-unet", action="store_true", help="also SD 1.5's real UNet config (~4 GB RAM)")
    args = parser.parse_args(argv)
    other_work = OtherWork()
    import torch

    machine = (f"{torch.get_num_threads()} threads available (passes run on 1), torch {torch.__version__}, "
               f"Python {platform.python_version()}")
    lines = ["The memory figures are allocator bytes and do not depend on load; the seconds column does.", "",
             "Measured: peak bytes held by PyTorch's CPU allocator during one fp32 pass above what it held "
             "before (torch.profiler, profile_memory=True; a warm-up pass first). Estimated: "
             "`helpers.images.memory.predicted_forward_peak` (UNet: skip connections + working set + naive "
             "attention scores; VAE: K_VAE_DECODE feature maps of the largest decoder map + the image). "
             "UNet size = latent side; VAE size = image side. MB = 10^6 bytes.", "",
             "| module | size | attention | weights: real bytes = meta count x 4 | measured MB | estimated MB "
             "| estimate / measured | seconds |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    for label, kind, config, size, attention in cases(args.real_unet):
        start = time.perf_counter()
        got = im.measure_forward_peak(kind, config, size, size, 1, attention)
        seconds = time.perf_counter() - start
        predicted = im.predicted_forward_peak(kind, config, size, size, 1, attention)
        counted = 4 * im.count_params(im.build_module(kind, config))
        lines.append(f"| {label} | {size} | {attention} | {got['weights_bytes'] == counted} "
                     f"({got['weights_bytes']:,}) | {got['peak_bytes'] / 1e6:.1f} | {predicted / 1e6:.1f} | "
                     f"{predicted / got['peak_bytes']:.2f} | {seconds:.1f} |")
        print(lines[-1], flush=True)
    lines += ["", "Reading the table:", "",
              "- Weights: the real bytes equal 4 x the parameters counted on the meta device in every row.",
              "- Small UNet with naive attention: the quadratic score term dominates and the estimate is "
              "within a few percent; with SDPA the working-set term is about 20% high.",
              "- VAE decode: K_VAE_DECODE was set from SD 1.5's real VAE config (the rows above); the small "
              "VAE follows within about 15%.",
              "- SD 1.5's real UNet (when run): the measured peak has a part of about 0.1 GB that does not "
              "grow with the latent (most likely weight copies made by the CPU's convolution kernels; not "
              "checked op by op), and it grows far less "
              "than the estimate's working-set term (K_ATTN_WORK feature maps). The estimate is therefore "
              "generous for the real UNet's activations; at SD 1.5's 512x512 these are small next to "
              "the 1.7 GB of fp16 weights either way.",
              "- A GPU differs: cuDNN workspaces, cuBLAS handles and the caching allocator's slack are "
              "not in these CPU figures."]
    out = REPO_ROOT / "benchmarks" / "results" / "image_memory.md"
    header = report_header("Image-model memory: estimate against measured forward passes",
                           f".venv/bin/python benchmarks/image_memory.py{' --real-unet' if args.real_unet else ''}",
                           (machine,), other_work)
    write_text_atomic(out, "\n".join(header + lines) + "\n")
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
