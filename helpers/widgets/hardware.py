"""Widgets and figures for notebooks 11-13: the offload curve, the hardware ranking and the cost model.
The math lives in ``helpers.hardware.offload``, ``helpers.hardware.ranking`` and ``helpers.hardware.cost``."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from helpers.course.catalog import get_gpu, get_model, load_gpus, load_models
from helpers.hardware.cost import load_api_prices, local_cost_per_million
from helpers.hardware.device_speed import published_run_count, speed_model
from helpers.hardware.offload import best_fitting_point, offload_curve
from helpers.hardware.ranking import assess_device, rank_devices
from helpers.memory.vram import usable_gpu_bytes

CPU_MEMORY = {g.name: g for g in load_gpus().values() if g.kind == "cpu"}


def offload_figure(model: str, quant: str, context: int, gpu_name: str, ram_name: str):
    """Tokens/s (estimated) against n_gpu_layers, the settings that fit marked; returns the figure."""
    arch, gpu = get_model(model).architecture, get_gpu(gpu_name)
    ram = CPU_MEMORY[ram_name]
    points = offload_curve(arch, quant, context, gpu.bandwidth_gbps, ram.bandwidth_gbps, speed_model(gpu),
                           speed_model(ram))
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


def ranking_table(options, context_tokens: int = None) -> pd.DataFrame:
    """``helpers.hardware.ranking.rank_devices``'s result as a table (tokens/s rounded), the context in the header,
    with how far published runs of each device's class were from the estimate (90% of them within +-X%)."""
    speed = "tokens/s" if context_tokens is None else f"tokens/s at {context_tokens:,} tokens of context"
    return pd.DataFrame([(o.name, o.kind, o.price_usd, "yes" if o.fits_entirely else f"{o.n_gpu_layers} layers",
                          round(o.tokens_per_second, 1), f"+-{o.speed_error_p90:.0%}", published_run_count(o.name),
                          round(o.tokens_per_second_per_1000_usd, 1))
                         for o in options],
                        columns=["device", "kind", "price (USD)", "fits entirely", speed,
                                 "90% of its class's published runs within", "published runs of this card",
                                 f"{speed} per $1000"]
                        ).set_index("device")


def hardware_table(model: str, quant: str, context: int, budget_usd: float, must_fit: bool,
                   rows: int = 12) -> pd.DataFrame:
    """What ``hardware_app`` shows: the ``rows`` fastest devices within the budget (tokens/s estimated)."""
    options = rank_devices(get_model(model).architecture, quant, context, budget_usd=budget_usd, require_fit=must_fit)
    return ranking_table(options, context).head(rows)


def hardware_app():
    """Pick a target model, quant, context and budget; see the devices that run it, fastest first."""
    def show(model, quant, context, budget_usd, must_fit):
        display(hardware_table(model, quant, context, budget_usd, must_fit))
    return widgets.interactive(
        show, model=widgets.Dropdown(options=sorted(load_models()), value="Llama 3.1 8B"),
        quant=widgets.Dropdown(options=["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M"], value="Q4_K_M"),
        context=widgets.Dropdown(options=[2048, 4096, 8192, 16384, 32768], value=8192),
        budget_usd=widgets.IntSlider(value=2000, min=300, max=30000, step=100, description="budget $"),
        must_fit=widgets.Checkbox(value=True, description="must fit entirely"))


def cost_table(option, electricity_usd_per_kwh: float, hours_per_day: float, years: float) -> pd.DataFrame:
    """Local cost per million output tokens for one ``DeviceOption`` beside the API list prices."""
    local = local_cost_per_million(option.price_usd, option.tokens_per_second, option.power_w,
                                   electricity_usd_per_kwh, years, hours_per_day)
    rows = [(f"{option.name} (local)", round(local.hardware_usd_per_million, 3), round(local.energy_usd_per_million, 3),
             round(local.total_usd_per_million, 3), "")]
    rows += [(f"{p.provider} {p.model} (API)", None, None, p.output_usd_per_million, p.date) for p in load_api_prices()]
    return pd.DataFrame(rows, columns=["option", "hardware $/M", "energy $/M", "total $/M output tokens",
                                       "price date"]).set_index("option")


COST_QUANT, COST_CONTEXT = "Q4_K_M", 4096  # the setting cost_app prices (tokens of context)


def device_cost_table(model: str, device: str, electricity_usd_per_kwh: float, hours_per_day: float,
                      years: float) -> pd.DataFrame:
    """What ``cost_app`` shows: ``cost_table`` for ``model`` at Q4_K_M and 4,096 tokens on a catalog ``device``.

    Raises ValueError when the model does not run there at all.
    """
    option = assess_device(get_model(model).architecture, COST_QUANT, COST_CONTEXT, get_gpu(device))
    if option.tokens_per_second <= 0:
        raise ValueError(f"{model} {COST_QUANT} does not run on {device}")
    return cost_table(option, electricity_usd_per_kwh, hours_per_day, years)


def cost_app():
    """Pick a device, model and usage; see dollars per million tokens, local against API."""
    def show(model, device, electricity, hours_per_day, years):
        try:
            display(device_cost_table(model, device, electricity, hours_per_day, years))
        except ValueError as err:
            print(err)
    return widgets.interactive(
        show, model=widgets.Dropdown(options=sorted(load_models()), value="Llama 3.1 8B"),
        device=widgets.Dropdown(options=sorted(load_gpus()), value="RTX 3090"),
        electricity=widgets.FloatSlider(value=0.30, min=0.05, max=0.60, step=0.01, description="$/kWh"),
        hours_per_day=widgets.FloatSlider(value=8, min=0.5, max=24, step=0.5, description="hours/day"),
        years=widgets.FloatSlider(value=3, min=1, max=6, step=0.5, description="years"))
