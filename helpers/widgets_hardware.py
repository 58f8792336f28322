"""Widgets and figures for notebooks 11-13: the offload curve, the hardware ranking and the cost model.
The math lives in ``helpers.offload``, ``helpers.hardware`` and ``helpers.cost``."""
import ipywidgets as widgets
import matplotlib.pyplot as plt

from helpers.catalog import get_gpu, get_model, load_gpus, load_models
from helpers.offload import best_fitting_point, offload_curve
from helpers.vram import usable_gpu_bytes

CPU_MEMORY = {g.name: g.bandwidth_gbps for g in load_gpus().values() if g.kind == "cpu"}


def offload_figure(model: str, quant: str, context: int, gpu_name: str, ram_name: str):
    """Tokens/s (estimated) against n_gpu_layers, the settings that fit marked; returns the figure."""
    arch, gpu = get_model(model).architecture, get_gpu(gpu_name)
    points = offload_curve(arch, quant, context, gpu.bandwidth_gbps, CPU_MEMORY[ram_name])
    budget = usable_gpu_bytes(gpu)
    best = best_fitting_point(points, budget)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot([p.n_gpu_layers for p in points], [p.tokens_per_second for p in points], color="0.6", label="estimate")
    fit = [p for p in points if p.gpu_memory_bytes <= budget]
    ax.plot([p.n_gpu_layers for p in fit], [p.tokens_per_second for p in fit], "o", ms=3, label=f"fits {gpu_name}")
    ax.annotate(f"best that fits: {best.n_gpu_layers} layers, {best.tokens_per_second:.1f} tok/s",
                (best.n_gpu_layers, best.tokens_per_second), xytext=(5, 15), textcoords="offset points", fontsize=8)
    ax.set(yscale="log", xlabel="n_gpu_layers (blocks on the GPU; n_layers + 1 adds the output layer)",
           ylabel="generation tokens/s (log)", title=f"{model} {quant}, {context} tokens, {gpu_name} + {ram_name}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def offload_app():
    """Pick model, quant, context, GPU and RAM; see the offload curve."""
    return widgets.interactive(
        lambda model, quant, context, gpu, ram: (offload_figure(model, quant, context, gpu, ram), plt.show()),
        model=widgets.Dropdown(options=sorted(load_models()), value="Llama 3.1 70B"),
        quant=widgets.Dropdown(options=["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"], value="Q4_K_M"),
        context=widgets.Dropdown(options=[2048, 4096, 8192, 16384, 32768], value=4096),
        gpu=widgets.Dropdown(options=[g.name for g in load_gpus().values() if g.kind == "discrete"], value="RTX 3090"),
        ram=widgets.Dropdown(options=sorted(CPU_MEMORY), value="CPU desktop DDR5-5600 dual-channel"))
