"""The will-it-run widget builds, reacts to its controls, and its figure shows the plan."""
import matplotlib
import pandas as pd

matplotlib.use("Agg")

from helpers.course.catalog import get_gpu, get_model  # noqa: E402
from helpers.hardware.machine import GPU as CardGPU  # noqa: E402
from helpers.hardware.machine import MachineCard  # noqa: E402
from helpers.memory.willitrun import assess, best_settings, machine_card_gpu  # noqa: E402
from helpers.widgets.willitrun import (  # noqa: E402
    best_settings_table,
    breakdown_figure,
    verdict_line,
    will_it_run_app,
)


def card(gpus=()):
    return MachineCard(os="Linux", python="3.11", cpu_model="x", physical_cores=2, logical_cores=2,
                       ram_total_bytes=24 * 2**30, ram_available_bytes=20 * 2**30, gpus=list(gpus),
                       bandwidth_gbps_one_thread=10.0, bandwidth_gbps_all_threads=20.0)


def test_app_builds_and_changes_with_its_controls(capsys):
    app = will_it_run_app()  # outside a kernel the Output widget lets prints through to stdout
    assert "YES, fits" in capsys.readouterr().out  # Llama 3.1 8B Q4_K_M 8K on an RTX 3090
    app.children[0].children[0].value = "Llama 3.1 70B"
    assert "NO, needs" in capsys.readouterr().out


def test_machine_card_becomes_a_gpu_option():
    cpu = machine_card_gpu(card())
    assert cpu.kind == "cpu" and cpu.bandwidth_gbps == 20.0 and cpu.memory_bytes == 24 * 2**30
    gpu = machine_card_gpu(card([CardGPU("NVIDIA", "NVIDIA GeForce RTX 3090", 24 * 2**30, "CUDA")]))
    assert gpu.kind == "discrete" and gpu.bandwidth_gbps == get_gpu("RTX 3090").bandwidth_gbps
    app = will_it_run_app(card())
    assert app.children[0].children[1].value == "your machine (CPU)"


def test_figure_and_best_settings():
    arch = get_model("Llama 3.1 8B").architecture
    result = assess(arch, "Q4_K_M", 8192, gpu=get_gpu("RTX 3090"))
    fig = breakdown_figure(result, "RTX 3090")
    assert "fits" in fig.axes[0].get_title()
    best = best_settings(arch, get_gpu("RTX 3060 12GB"), 8192)
    table = best_settings_table(best, 8192)
    contexts = [largest for _, largest, _ in best["table"]]
    assert best["quant"] == next(q for q, largest, _ in best["table"] if largest >= 8192)
    assert contexts == sorted(contexts)  # fewer bits leave room for more context
    speeds = [s for _, largest, s in best["table"] if largest >= 8192]
    assert speeds == sorted(speeds)  # fewer bits read faster
    assert table.loc["F16"].iloc[0] == "does not fit" and pd.isna(table.loc["F16"].iloc[1])
    assert list(table.columns) == ["largest context that fits entirely (tokens)", "estimated tokens/s at 8,192 tokens"]
    legend = fig.axes[0].get_legend()
    assert legend.get_bbox_to_anchor().x0 > fig.axes[0].get_window_extent().x1 - 1  # beside the bars


def test_verdict_line_names_the_context_of_its_speed():
    from helpers.hardware.device_speed import generation_tokens_per_second, typical_error

    arch, gpu = get_model("Llama 3.1 8B").architecture, get_gpu("RTX 3090")
    line = verdict_line(assess(arch, "Q4_K_M", 8192, gpu=gpu))
    speed = generation_tokens_per_second(arch, "Q4_K_M", 8192, gpu)
    band = typical_error(gpu).p90_abs_error
    assert line.startswith("YES, fits") and line.endswith(f"about {speed:.0f} tokens/s (+-{band:.0%}) at 8,192 tokens "
                                                          "of context")
    assert verdict_line(assess(get_model("Llama 3.1 70B").architecture, "Q4_K_M", 8192, gpu=gpu)).startswith("NO, ")


def test_experts_control_shows_for_a_mixture_of_experts_only(capsys):
    from helpers.widgets.willitrun import expert_offload_options

    app = will_it_run_app()
    model, gpu = app.children[0].children
    experts = app.children[2].children[2]
    assert experts.description == "experts in RAM" and experts.disabled and experts.layout.display == "none"
    capsys.readouterr()
    model.value = "Qwen3 30B-A3B"
    assert not experts.disabled and experts.layout.display is None
    assert list(experts.options) == expert_offload_options(get_model("Qwen3 30B-A3B").architecture)
    gpu.value = "RTX 4060 Ti 16GB"
    assert "NO, needs" in capsys.readouterr().out
    experts.value = "auto"
    shown = capsys.readouterr().out
    expected = assess(get_model("Qwen3 30B-A3B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 4060 Ti 16GB"),
                      n_cpu_moe="auto")
    assert expected.n_cpu_moe > 0 and verdict_line(expected) in shown
    model.value = "Llama 3.1 8B"  # dense again: the control hides and resets, the plan has no experts in RAM
    assert experts.value == 0 and experts.disabled and experts.layout.display == "none"
    assert "experts of the first" not in capsys.readouterr().out
    assert expert_offload_options(get_model("Llama 3.1 8B").architecture) == [("none", 0)]


def test_verdict_line_names_the_experts_in_ram():
    arch, gpu = get_model("gpt-oss 120B").architecture, get_gpu("RTX 3090")
    result = assess(arch, "MXFP4_MOE", 8192, gpu=gpu, n_cpu_moe="auto")
    line = verdict_line(result)
    assert line.startswith(f"YES, fits: all blocks and the output layer on the GPU, experts of the first "
                           f"{result.n_cpu_moe} layers in RAM")
    assert line.endswith(f"about {result.tokens_per_second:.0f} tokens/s (+-{result.speed_error_p90:.0%}) at 8,192 tokens "
                         "of context")


def test_on_the_learners_machine_a_split_reads_ram_at_its_measured_bandwidth(capsys):
    mine = card([CardGPU("NVIDIA", "NVIDIA GeForce RTX 4060 Ti 16GB", 16 * 2**30, "CUDA")])
    app = will_it_run_app(mine)
    app.children[0].children[0].value = "Qwen3 30B-A3B"
    capsys.readouterr()
    app.children[2].children[2].value = 12
    expected = assess(get_model("Qwen3 30B-A3B").architecture, "Q4_K_M", 8192, gpu=machine_card_gpu(mine),
                      n_cpu_moe=12, ram_bandwidth_gbps=mine.best_bandwidth_gbps)
    assert expected.ram_bandwidth_gbps == 20.0 and expected.tokens_per_second
    assert verdict_line(expected) in capsys.readouterr().out
