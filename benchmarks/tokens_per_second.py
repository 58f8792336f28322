"""Predicted vs measured generation tokens/s on this machine's CPU.

Builds random-weight GGUF files of real architectures (cached under build/speed), measures
generation speed with llama.cpp on the CPU, and compares it with the speed model of
helpers.hardware.roofline: seconds/token = bytes read / (efficiency x measured copy bandwidth) + layers x
overhead per layer.
The two machine constants are fitted by least squares; each model's prediction is made
leaving that model out of the fit (leave-one-model-out), so no row predicts itself.

    .venv/bin/python benchmarks/tokens_per_second.py [--quick] [--threads N]

Writes benchmarks/results/tokens_per_second.md (1 thread) or tokens_per_second_Nthreads.md. The same
model against published GPU and CPU runs is benchmarks/device_speed_fit.py.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.catalog import get_gpu, get_model  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.gguf.random_weights import cached_random_gguf  # noqa: E402
from helpers.hardware.device_speed import speed_model  # noqa: E402
from helpers.hardware.machine import bandwidth_buffer_bytes, load_machine_card, measure_copy_bandwidth  # noqa: E402
from helpers.hardware.measured_speed import best_of, load_llama, measure_speed  # noqa: E402
from helpers.hardware.roofline import fit_speed_model  # noqa: E402
from helpers.memory.gguf_size import bytes_read_per_token  # noqa: E402
from helpers.memory.vram import kv_cache_bytes  # noqa: E402

MODELS = ("SmolLM2 135M", "SmolLM2 360M", "Qwen2.5 0.5B", "Llama 3.2 1B")
MIXES = ("Q4_K_M", "Q8_0")
PROMPT, GENERATED, REPEATS = 64, 48, 3
TOLERANCE = 0.35


def machine_bandwidth_gbps(threads: int) -> float:
    """Copy bandwidth (GB/s) for ``threads``: from the machine card (one thread / all threads) or measured now."""
    card = load_machine_card()
    if card is not None and card.bandwidth_gbps_all_threads > 0:
        return card.bandwidth_gbps_one_thread if threads == 1 else card.bandwidth_gbps_all_threads
    import psutil
    return measure_copy_bandwidth(bandwidth_buffer_bytes(psutil.virtual_memory().available), threads=threads)


def measure_all(models, mixes, threads):
    rows = []
    for name in models:
        arch = get_model(name).architecture
        for mix in mixes:
            path = cached_random_gguf(arch, mix, ROOT / "build" / "speed")
            llm = load_llama(path, threads, PROMPT + GENERATED + 8)
            result = best_of(measure_speed(path, PROMPT, GENERATED, threads, llm=llm, seed=i) for i in range(REPEATS))
            del llm
            per_token = bytes_read_per_token(arch, mix) + kv_cache_bytes(arch, PROMPT + GENERATED // 2)
            rows.append(dict(model=name, mix=mix, bytes=per_token, layers=arch.n_layers,
                             measured=result.generation_tokens_per_second,
                             prompt=result.prompt_tokens_per_second))
            print(f"{name} {mix}: {rows[-1]['measured']:.1f} tokens/s", flush=True)
    return rows


def report(rows, bandwidth, threads, command, other_work=None) -> str:
    fit = fit_speed_model([r["bytes"] for r in rows], [r["layers"] for r in rows], [r["measured"] for r in rows], bandwidth)
    cpu_class = speed_model(get_gpu("CPU desktop DDR5-5600 dual-channel"))  # fitted to published CPU runs
    lines = [*report_header("Generation tokens/s: predicted vs measured", command,
                            (f"copy bandwidth {bandwidth:.1f} GB/s ({threads} thread(s)), {threads} llama.cpp thread(s), "
                             f"prompt {PROMPT} tokens, {GENERATED} generated, best of {REPEATS}.",), other_work),
             f"Speed model fitted on all rows: efficiency {fit.efficiency:.3f} of the copy bandwidth, "
             f"overhead {fit.overhead_seconds_per_layer * 1e3:.3f} ms per layer. Each prediction below is made from a "
             f"fit that leaves that model out (both of its mixes).", "",
             "| model | mix | layers | MB read/token | measured tok/s | predicted tok/s | error | published CPUs' model "
             "| within ±35% |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        others = [o for o in rows if o["model"] != r["model"]]
        loo = fit_speed_model([o["bytes"] for o in others], [o["layers"] for o in others],
                              [o["measured"] for o in others], bandwidth)
        predicted = loo.tokens_per_second(r["bytes"], bandwidth, r["layers"])
        naive = cpu_class.tokens_per_second(r["bytes"], bandwidth, r["layers"])
        error = predicted / r["measured"] - 1
        lines.append(f"| {r['model']} | {r['mix']} | {r['layers']} | {r['bytes'] / 1e6:.0f} | {r['measured']:.1f} | {predicted:.1f} | "
                     f"{error:+.0%} | {naive:.1f} | {'yes' if abs(error) <= TOLERANCE else 'NO'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small models, Q4_K_M only")
    parser.add_argument("--threads", type=int, default=1,
                        help="llama.cpp threads (default 1: stable on a machine shared with other work)")
    args = parser.parse_args(argv)
    other_work = OtherWork()
    models, mixes = (MODELS[:2], MIXES[:1]) if args.quick else (MODELS, MIXES)
    bandwidth = machine_bandwidth_gbps(args.threads)
    rows = measure_all(models, mixes, args.threads)
    command = " ".join([".venv/bin/python benchmarks/tokens_per_second.py"] + (argv if argv is not None else sys.argv[1:]))
    text = report(rows, bandwidth, args.threads, command, other_work) if len({r["model"] for r in rows}) > 2 else \
        "\n".join(f"{r['model']} {r['mix']}: {r['measured']:.1f} tokens/s" for r in rows)
    name = "tokens_per_second.md" if args.threads == 1 else f"tokens_per_second_{args.threads}threads.md"
    out = ROOT / "benchmarks" / "results" / name
    write_text_atomic(out, text + "\n")
    print(text)


if __name__ == "__main__":
    main()
