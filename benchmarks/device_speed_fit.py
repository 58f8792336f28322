"""The speed model against the published record: every device left out of its own fit, errors by class.

    .venv/bin/python benchmarks/device_speed_fit.py

Fits ``helpers.hardware.device_speed``'s model (seconds per token = bytes / (efficiency x bandwidth) +
layers x time per layer) per device class to the published llama.cpp generation runs of
data/published_speeds.csv, then predicts every run with its own device left out of the fit, and
writes benchmarks/results/device_speed_fit.md. Targets: at least 80% of runs within +-20%, and no
class whose median absolute error is above 15%. Also: prompt processing on the same device, each
model predicted from the device's other models by their FLOPs per token.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.hardware.device_speed import (  # noqa: E402
    TOLERANCE,
    check_published,
    class_speed_models,
    error_by_class,
    generation_runs,
    prompt_checks,
)

CLASS_TARGET = 0.15
ROWS_TARGET = 0.80


def class_table(errors) -> list:
    lines = ["| device class | runs | devices | median abs. error | 90th pct abs. error | within +-20% | "
             "median signed error | median within 15% |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for e in sorted(errors, key=lambda e: (e.device_class == "all", -e.runs)):
        ok = e.median_abs_error <= CLASS_TARGET
        lines.append(f"| {e.device_class} | {e.runs} | {e.devices} | {e.median_abs_error:.1%} | {e.p90_abs_error:.1%} | "
                     f"{e.within_tolerance:.0%} | {e.median_error:+.1%} | {'yes' if ok else 'no'} |")
    return lines


def markdown() -> str:
    held_out = check_published(leave_device_out=True)
    in_sample = check_published()
    errors = error_by_class(held_out)
    overall = next(e for e in errors if e.device_class == "all")
    failing = [e.device_class for e in errors if e.device_class != "all" and e.median_abs_error > CLASS_TARGET]
    outside = generation_runs(fitted_only=False)
    outside = [r for r in outside if r.not_fitted_because]
    lines = [
        *report_header("The speed model against published llama.cpp runs", ".venv/bin/python benchmarks/device_speed_fit.py",
                       ("data: `data/published_speeds.csv` (each run with its source), devices and bandwidths: "
                        "`data/gpus.csv`, `data/benchmark_devices.csv`.",)),
        "Model: seconds per token = bytes read / (efficiency x bandwidth) + layers x time per layer, bytes = the",
        "weights a token reads + the KV cache at the run's mean context (llama-bench tgN after depth d: d + N/2",
        "tokens). One (efficiency, time per layer) per device class, fitted to minimise the relative error.",
        "",
        "## Fitted on every run (what the notebooks use)",
        "",
        "| device class | fitted on | efficiency | time per layer (us) |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, (model, fitted_on) in class_speed_models().items():
        lines.append(f"| {name} | {fitted_on} | {model.efficiency:.3f} | {model.overhead_seconds_per_layer * 1e6:.1f} |")
    lines += [
        "",
        "## Leave one device out (the honest error)",
        "",
        f"Each device's runs predicted from a fit that never saw that device: {overall.runs} generation runs on "
        f"{overall.devices} devices; {overall.within_tolerance:.0%} within +-{TOLERANCE:.0%} (target "
        f"{ROWS_TARGET:.0%}: {'met' if overall.within_tolerance >= ROWS_TARGET else 'not met'}); median absolute "
        f"error {overall.median_abs_error:.1%}. Classes above the {CLASS_TARGET:.0%} median target: "
        f"{', '.join(failing) or 'none'}. A class with a single device is predicted from the other devices with",
        "the same kind of memory (its own fit has nothing left to learn from).",
        "",
        *class_table(errors),
        "",
        "In-sample (fitted on every run, the device included), for comparison:",
        "",
        *class_table(error_by_class(in_sample)),
        "",
        "## Prompt processing (compute-bound), where the data allow",
        "",
        "A device's prompt speed is set by its matrix throughput, which the catalog does not give for every",
        "device; what the data do allow is the scaling on one device: each model's ppN predicted from the",
        "same device's other models (same backend, same build), as their mean FLOPs-per-second times the",
        "model's FLOPs per token (2 x active parameters).",
        "",
    ]
    pp = prompt_checks()
    if pp:
        errs = sorted(abs(c.error) for c in pp)
        lines += [f"{len(pp)} prompt runs on {len({c.published.device for c in pp})} devices: median absolute "
                  f"error {errs[len(errs) // 2]:.1%}, {sum(e <= TOLERANCE for e in errs) / len(errs):.0%} within "
                  f"+-{TOLERANCE:.0%}.", ""]
    lines += [
        "## Every run, device left out",
        "",
        "| device | class | model | mix | test | backend | build | published (tok/s) | predicted | error |",
        "| --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    for c in sorted(held_out, key=lambda c: (c.device_class, c.published.device, c.published.model)):
        p = c.published
        lines.append(f"| {p.device} | {c.device_class} | {p.model} | {p.mix} | {p.test}"
                     f"{f' @ d{p.depth}' if p.depth else ''} | {p.backend} | {p.build} | {p.tokens_per_second:g} | "
                     f"{c.estimate:.1f} | {c.error:+.0%} |")
    if outside:
        lines += ["", "## Kept in the data, not fitted", "",
                  "| device | model | test | published (tok/s) | why not fitted |", "| --- | --- | --- | ---: | --- |"]
        lines += [f"| {r.device} | {r.model} {r.mix} | {r.test} | {r.tokens_per_second:g} | {r.not_fitted_because} |"
                  for r in outside]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = REPO_ROOT / "benchmarks" / "results" / "device_speed_fit.md"
    write_text_atomic(out, markdown())
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
