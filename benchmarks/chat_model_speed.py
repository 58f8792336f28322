"""SmolLM2-135M-Instruct (the course's real chat model) on this CPU: tokens/s at 1 and 2 threads
beside the speed model fitted to published CPU runs.

Prompt processing (64 tokens in one batch) and greedy generation (48 tokens) are timed with
helpers.hardware.measured_speed, thread counts interleaved (1, 2, 1, 2, ...) so that a busy moment
hits both alike; the median and the range over the repetitions are reported. The speed model reads
every weight once per generated token (the tied embedding matrix too: it is the output layer) at
the measured copy bandwidth, with the CPU class's constants of helpers.hardware.device_speed.

    .venv/bin/python benchmarks/chat_model_speed.py [--reps 7]

Writes benchmarks/results/chat_model_speed.md.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.catalog import get_gpu  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.gguf.header import read_header  # noqa: E402
from helpers.hardware.device_speed import speed_model  # noqa: E402
from helpers.hardware.machine import bandwidth_buffer_bytes, measure_copy_bandwidth  # noqa: E402
from helpers.hardware.measured_speed import interleaved_speeds, median_and_range  # noqa: E402
from helpers.llm.chat_model import chat_model_path  # noqa: E402

PROMPT, GENERATED = 64, 48


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    import psutil

    other_work = OtherWork()
    path = chat_model_path()
    header = read_header(path)
    runs = interleaved_speeds(path, (1, 2), args.reps, PROMPT, GENERATED)
    buffer = bandwidth_buffer_bytes(psutil.virtual_memory().available)
    cpu_class = speed_model(get_gpu("CPU desktop DDR5-5600 dual-channel"))  # fitted to published CPU runs
    rows = []
    for t in (1, 2):
        bandwidth = measure_copy_bandwidth(buffer, threads=t, repeats=5)
        roofline = cpu_class.tokens_per_second(header.tensor_bytes, bandwidth, header.n_layers)
        s = median_and_range(runs[t])
        tg = s["generation tokens/s (median)"]
        rows.append(f"| {t} | {s['prompt tokens/s (median)']:.0f} ({s['prompt tokens/s (lowest)']:.0f}-"
                    f"{s['prompt tokens/s (highest)']:.0f}) | {tg:.1f} ({s['generation tokens/s (lowest)']:.1f}-"
                    f"{s['generation tokens/s (highest)']:.1f}) | {bandwidth:.1f} | {roofline:.0f} | {tg / roofline:.2f} |")
        print(rows[-1], flush=True)
    command = ".venv/bin/python benchmarks/chat_model_speed.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    text = "\n".join([
        *report_header("SmolLM2-135M-Instruct Q4_1 on this CPU: measured tokens/s beside the published CPUs' speed model",
                       command, ("llama-cpp-python, CPU build", f"{args.reps} interleaved repetitions after one warm-up "
                                 "each; median (range)."), other_work),
        f"File {path.name}: {header.file_bytes:,} bytes, {header.tensor_bytes:,} bytes of tensors read per generated "
        f"token (tied embeddings: the embedding matrix is the output layer). Prompt {PROMPT} tokens in one batch, "
        f"then {GENERATED} greedy tokens.", "",
        "| threads | prompt tokens/s | generation tokens/s | copy bandwidth (GB/s) | published CPUs' model "
        f"(efficiency {cpu_class.efficiency:.2f}, {cpu_class.overhead_seconds_per_layer * 1e6:.0f} us/layer) | measured / model |",
        "|---:|---:|---:|---:|---:|---:|", *rows, "",
        "A range reaching far below its median marks runs disturbed by other work on the machine; read the "
        "medians. The model's constants come from other people's CPUs, most running many threads; notebook 10 "
        "fits them to this machine.", ""])
    write_text_atomic(ROOT / "benchmarks" / "results" / "chat_model_speed.md", text)


if __name__ == "__main__":
    main()
