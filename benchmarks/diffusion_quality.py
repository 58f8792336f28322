"""The course's digits diffusion model: quality and speed per scheduler x steps x guidance scale.

    .venv/bin/python benchmarks/diffusion_quality.py [--model-dir data/digits_diffusion] [--n-per-digit 20]

Quality, two ways, ``n-per-digit`` images of each digit per point (seeded):
- recognised: the share (%) of generated images that a classifier trained on real digits (an SVC,
  helpers.images.digits_data.train_judge) reads as the requested digit;
- Frechet distance to the real digits in their 10 leading principal components
  (helpers.images.digits_data.frechet_distance; lower is better), with real held-out digits as the floor.
For DDPM, DDIM and DPM-Solver++ at 1-50 steps (guidance 2), and DDIM at 25 steps for guidance
scales 0-8. Speed: seconds per batch of 16 images (best of 3) per scheduler and step count at
guidance 2. Training time: from the model's train_log.json.
Writes benchmarks/results/diffusion_quality.md and .json (notebook 16 plots the .json).
"""
import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import REPO_ROOT, relative_to_repo  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.hardware.machine import cpu_model  # noqa: E402
from helpers.images.digits_data import (  # noqa: E402
    balanced_sample,
    digit_stats,
    frechet_distance,
    load_digits_16,
    recognised_share,
    split,
    train_judge,
)
from helpers.images.digits_diffusion import SCHEDULERS, SHIPPED_DIR, load_log, load_pipeline, measure_quality, n_parameters  # noqa: E402

STEPS = (1, 2, 3, 5, 10, 25, 50)
GUIDANCE = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
SPEED_STEPS = (10, 25, 50)
RESULTS = REPO_ROOT / "benchmarks" / "results"


def quality(pipe, judge, stats, scheduler: str, steps: int, guidance: float, n_per_digit: int, seed: int) -> dict:
    """One point: share recognised (0-1) and Frechet distance of ``n_per_digit`` images of each digit."""
    row = measure_quality(pipe, judge, scheduler, steps, guidance, n_per_digit, seed, stats=stats)
    return {"scheduler": scheduler, "steps": steps, "guidance": guidance,
            "recognised": row["recognised (share)"], "frechet": row["frechet distance"]}


def batch_seconds(pipe, scheduler: str, steps: int, guidance: float = 2.0, repeats: int = 3) -> float:
    """Best-of-``repeats`` wall-clock seconds to generate 16 images."""
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        pipe(np.arange(16) % 10, num_inference_steps=steps, guidance_scale=guidance, seed=r, scheduler=scheduler)
        best = min(best, time.perf_counter() - start)
    return best


def real_floor(stats, held_out, n_per_digit: int) -> float:
    """Frechet distance of ``n_per_digit`` REAL held-out digits of each digit: the best a sample that size scores."""
    return frechet_distance(stats, balanced_sample(held_out, n_per_digit).images)


def markdown(res: dict, header: list) -> str:
    """The results as a Markdown page under ``header`` (``helpers.course.report.report_header``'s lines)."""
    n = res["n_per_digit"]
    by_steps = {(r["scheduler"], r["steps"]): r for r in res["by_steps"]}
    ddim25 = next(r for r in res["by_guidance"] if r["guidance"] == 2.0)
    lines = [
        *header,
        f"Model: `{res['model']}`, {res['parameters']:,} parameters, preset `{res['preset']}`; training took "
        f"{res['training_seconds']:.0f} s with {res['training_threads']} thread(s) (from its train_log.json).",
        "",
        f"Judge: SVC trained on {res['judge_train']} real digits; it recognises {100 * res['judge_held_out']:.1f}% "
        f"of the {res['judge_held_out_n']} held-out real digits.",
        "",
        f"Each point: {10 * n} images ({n} of each digit), seed {res['seed']}. **recognised**: share (%) the judge "
        "reads as the requested digit. **FD**: Frechet distance to the real digits in 10 principal components "
        f"(lower is better); {10 * n} real held-out digits score {res['real_floor']:.2f}, the mark of real handwriting "
        "for this sample size (a reference, not a bound: the statistics are the training digits').",
        "",
        "## By scheduler and steps (guidance 2)",
        "",
        "| steps | " + " | ".join(f"{s} recognised | {s} FD" for s in SCHEDULERS) + " |",
        "| ---: | " + " | ".join("---: | ---:" for _ in SCHEDULERS) + " |",
    ]
    for steps in res["steps"]:
        cells = [f"{100 * by_steps[s, steps]['recognised']:.1f} | {by_steps[s, steps]['frechet']:.2f}" for s in SCHEDULERS]
        lines.append(f"| {steps} | " + " | ".join(cells) + " |")
    lines += ["", "## By guidance scale (DDIM, 25 steps)", "", "| guidance | recognised (%) | FD |", "| ---: | ---: | ---: |"]
    for r in res["by_guidance"]:
        lines.append(f"| {r['guidance']:g} | {100 * r['recognised']:.1f} | {r['frechet']:.2f} |")
    target = "met" if ddim25["recognised"] >= 0.9 else "NOT met"
    lines += [
        "",
        f"Target (at least 90% recognised at 25 DDIM steps, guidance 2): {target} ({100 * ddim25['recognised']:.1f}%).",
        "",
        "## Seconds per batch of 16 images (guidance 2, best of 3)",
        "",
        "| scheduler | " + " | ".join(f"{s} steps" for s in SPEED_STEPS) + " |",
        "| --- | " + " | ".join("---:" for _ in SPEED_STEPS) + " |",
    ]
    for name in SCHEDULERS:
        lines.append(f"| {name} | " + " | ".join(f"{res['seconds_per_16'][name][str(s)]:.2f}" for s in SPEED_STEPS) + " |")
    lines += ["", "Time is set by the number of UNet evaluations (steps x 2 with guidance), not by the "
              "scheduler's own arithmetic.", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(SHIPPED_DIR))
    parser.add_argument("--n-per-digit", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    other_work = OtherWork()
    torch.set_num_threads(args.threads)
    model_dir = Path(args.model_dir)
    pipe = load_pipeline(model_dir)
    train_part, held_out = split(load_digits_16())
    judge, stats = train_judge(train_part), digit_stats(train_part)

    def point(*key):
        row = quality(pipe, judge, stats, *key, args.n_per_digit, args.seed)
        print(f"{key}: recognised {100 * row['recognised']:5.1f}%  FD {row['frechet']:.2f}", flush=True)
        return row

    by_steps = [point(name, steps, 2.0) for name in SCHEDULERS for steps in STEPS]
    by_guidance = [point("DDIM", 25, g) for g in GUIDANCE]
    speed = {name: {str(s): batch_seconds(pipe, name, s) for s in SPEED_STEPS} for name in SCHEDULERS}
    log = load_log(model_dir)
    res = {
        "command": f".venv/bin/python benchmarks/diffusion_quality.py --n-per-digit {args.n_per_digit} "
                   f"--threads {args.threads}",
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}", "cpu": cpu_model(), "threads": args.threads,
        "torch": torch.__version__, "model": relative_to_repo(model_dir), "parameters": n_parameters(pipe.unet),
        "preset": log["preset"], "training_seconds": log["training_seconds"], "training_threads": log["threads"],
        "judge_train": len(train_part), "judge_held_out": recognised_share(judge, held_out.images, held_out.labels),
        "judge_held_out_n": len(held_out), "n_per_digit": args.n_per_digit, "seed": args.seed,
        "real_floor": real_floor(stats, held_out, args.n_per_digit), "steps": list(STEPS),
        "by_steps": by_steps, "by_guidance": by_guidance, "seconds_per_16": speed,
    }
    write_text_atomic(RESULTS / "diffusion_quality.json", json.dumps(res, indent=1) + "\n")
    header = report_header("Digits diffusion model: quality and speed by scheduler, steps and guidance", res["command"],
                           (f"{res['cpu']}, {res['threads']} torch thread(s), no GPU, torch {res['torch']}.",), other_work)
    write_text_atomic(RESULTS / "diffusion_quality.md", markdown(res, header))
    print(f"wrote {relative_to_repo(RESULTS / 'diffusion_quality.md')} and .json")


if __name__ == "__main__":
    main()
