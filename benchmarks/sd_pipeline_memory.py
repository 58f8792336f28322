"""diffusers' real Stable Diffusion pipeline (the course's tiny random-weight one): memory per phase and
per memory saver, measured, beside the course's image-memory estimator.

    .venv/bin/python benchmarks/sd_pipeline_memory.py [--resolution 64 --resolution 256] [--folder PATH]

For each resolution and each saver that runs on this machine (none, then one at a time), a fresh
pipeline generates a batch of 2 images in 2 DDIM steps with classifier-free guidance, once to warm up
and once measured (helpers.images.sd_pipeline.measure_savers: torch.profiler's allocator events, split
into text encoding / denoising / VAE decode). Writes benchmarks/results/sd_pipeline_memory.md.
"""
import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import REPO_ROOT, relative_to_repo  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.images import sd_pipeline as sdp  # noqa: E402

BATCH, STEPS = 2, 2


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, action="append", help="pixels per side; repeat (default 64 and 256)")
    parser.add_argument("--folder", help="a Stable Diffusion folder (default: the tiny pipeline)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "sd_pipeline_memory.md"))
    args = parser.parse_args(argv)
    other_work = OtherWork()
    import diffusers
    import torch
    import transformers

    resolutions = args.resolution or [64, 256]
    folder = sdp.pipeline_folder(args.folder)
    device = sdp.accelerator()
    counts = sdp.component_counts(folder)
    estimate = sdp.estimate_folder(folder, resolutions[0], BATCH, "fp32")
    command = " ".join(["python benchmarks/sd_pipeline_memory.py"] + (argv if argv is not None else sys.argv[1:]))
    machine = (f"device {device}, {torch.get_num_threads()} threads available (generation on 1), torch "
               f"{torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}, "
               f"Python {platform.python_version()}")
    lines = ["Memory figures are allocator bytes and do not depend on load; the seconds do.", "",
             f"Pipeline: `{relative_to_repo(folder)}` (StableDiffusionPipeline: CLIPTextModel + CLIPTokenizer, "
             "UNet2DConditionModel, AutoencoderKL, DDIM; random weights, fp32). "
             f"Batch {BATCH}, {STEPS} steps, guidance 7.5 (the UNet sees 4 latents). MiB = 2^20 bytes.", "",
             "## Weights: safetensors headers vs the estimator", "",
             "| component | parameters | bytes in the file | estimator's bytes (model offload, its phase) | equal |",
             "| --- | ---: | ---: | ---: | --- |"]
    offload = sdp.estimate_folder(folder, resolutions[0], BATCH, "fp32", savers=("model_cpu_offload",))
    phase_of = {"clip_text": "text encoding", "unet": "denoising", "vae": "VAE decode"}
    for c in counts.values():
        est = offload.phase_parts[phase_of[c.kind]]["weights on GPU"]
        lines.append(f"| {c.component} | {c.params:,} | {c.tensor_bytes:,} | {est:,} | {est == c.tensor_bytes} |")
    total = sum(c.tensor_bytes for c in counts.values())
    every = estimate.phase_parts["denoising"]["weights on GPU"]
    lines += [f"| all | {sum(c.params for c in counts.values()):,} | {total:,} | {every:,} (all resident) | "
              f"{every == total} |", "",
              "## Activations per phase: measured peak above the weights vs the estimator (sdpa attention)", "",
              "The estimate leaves out the GPU runtime overhead (400 MiB), which a CPU does not have. "
              "'measured peak' includes the weights (and CLIP's position-id buffer) held from the start.", "",
              "| resolution | savers | phase | measured MiB | estimated MiB | estimate / measured "
              "| measured peak MiB | estimated peak MiB | seconds |",
              "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for resolution in resolutions:
        for row in sdp.measure_savers(folder, resolution, BATCH, STEPS, device=device):
            ratio = (f"{row['estimated MiB'] / row['measured MiB']:.2f}"
                     if row["measured MiB"] > 0.01 and row["estimated MiB"] > 0 else "-")
            lines.append(f"| {resolution} | {row['savers']} | {row['phase']} | {row['measured MiB']:.3f} | "
                         f"{row['estimated MiB']:.3f} | {ratio} | {row['measured peak MiB']:.3f} | "
                         f"{row['estimated peak MiB']:.3f} | {row['seconds']:.2f} |")
    if device == "cpu":
        lines += ["", "sequential_cpu_offload is not measured: it needs a GPU (refused on a CPU-only machine)."]
    header = report_header("diffusers' Stable Diffusion pipeline: memory per phase and saver, measured vs estimated",
                           f".venv/bin/{command}", (machine,), other_work)
    write_text_atomic(args.out, "\n".join(header + lines) + "\n")
    print(f"wrote {relative_to_repo(Path(args.out))}")


if __name__ == "__main__":
    main()
