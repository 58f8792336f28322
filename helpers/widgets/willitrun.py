"""The "Will it run?" widget: pick a model, quant, context and GPU (and, for a mixture of experts, how
many blocks keep their experts in system RAM); see the memory bar, the verdict and the best settings
that fit. The math lives in ``helpers.memory.willitrun`` / ``helpers.memory.vram``."""
import matplotlib.pyplot as plt
import pandas as pd

from helpers.course.catalog import get_model, load_gpus, load_models
from helpers.memory.vram import KV_CACHE_TYPES
from helpers.memory.willitrun import QUANT_LADDER, assess, best_settings, machine_card_gpu

TERMS = (("weights", "#3182bd"), ("KV cache", "#fd8d3c"), ("compute buffer", "#74c476"), ("runtime", "#9e9ac8"))
CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


def breakdown_figure(result, gpu_name: str = ""):
    """Stacked bars (GiB, 2**30 bytes) of what goes on the GPU and in system RAM, with the GPU's usable line."""
    plan = result.verdict.plan
    rows = {"GPU": (plan.weights_gpu, plan.kv_gpu, plan.compute_gpu, plan.overhead_gpu),
            "system RAM": (plan.weights_cpu, plan.kv_cpu, plan.compute_cpu, 0)}
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    for y, (where, values) in enumerate(rows.items()):
        left = 0.0
        for (label, color), value in zip(TERMS, values):
            ax.barh(where, value / 2**30, left=left, color=color, label=label if y == 0 else None)
            left += value / 2**30
    if result.verdict.gpu_budget_bytes:
        usable = result.verdict.gpu_budget_bytes / 2**30
        ax.axvline(usable, color="k", ls="--", lw=1, label="GPU usable (1 GiB kept free)")
        ax.axvline(usable + result.verdict.margin_bytes / 2**30, color="k", ls=":", lw=1, label="GPU memory")
    ax.set_xlabel("memory (GiB, 2³⁰ bytes)")
    verdict = "fits" if result.verdict.fits else ("near miss" if result.verdict.near_miss else "does not fit")
    ax.set_title(f"{result.model} {result.quant}, {result.context} tokens {('on ' + gpu_name) if gpu_name else ''}"
                 f": {verdict}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # beside the bars, not on them
    fig.tight_layout()
    return fig


def expert_offload_options(arch) -> list:
    """(label, ``n_cpu_moe``) choices for a model: none, the fewest that fit, or the first N blocks' experts
    in system RAM; only "none" for a dense model."""
    if not arch.is_moe:
        return [("none", 0)]
    return [("none", 0), ("fewest that fit", "auto")] + [(f"first {n} layers", n) for n in range(1, arch.n_layers + 1)]


def verdict_line(result) -> str:
    """The verdict in one line (it names any experts kept in RAM), with the speed estimate and its context."""
    speed = result.tokens_per_second
    return (("YES, " if result.verdict.fits else "NO, ") + result.verdict.reason +
            (f" · about {speed:.0f} tokens/s (+-{result.speed_error_p90:.0%}) at {result.context:,} tokens of context"
             if speed else ""))


def best_settings_table(best: dict, context: int = None) -> pd.DataFrame:
    """``helpers.memory.willitrun.best_settings``'s table: largest context that fits entirely for each quant
    ("does not fit" rather than 0), and the estimated speed at ``context`` where it fits."""
    speed = "estimated tokens/s" + (f" at {context:,} tokens" if context else "")
    return pd.DataFrame([(q, f"{largest:,}" if largest else "does not fit", round(s, 1) if s else None)
                         for q, largest, s in best["table"]],
                        columns=["quant", "largest context that fits entirely (tokens)", speed]).set_index("quant")


def will_it_run_app(card=None):
    """The interactive app (ipywidgets). ``card``: the learner's machine card, added as a GPU option."""
    import ipywidgets as w
    from IPython.display import display

    gpus = dict(load_gpus())
    mine = None
    if card is not None:
        mine = machine_card_gpu(card)
        gpus = {mine.name: mine, **gpus}
    full = {"style": {"description_width": "initial"}}  # labels whole, never cut
    model = w.Dropdown(options=list(load_models()), value="Llama 3.1 8B", description="model", **full)
    quant = w.Dropdown(options=list(QUANT_LADDER), value="Q4_K_M", description="quant", **full)
    context = w.SelectionSlider(options=list(CONTEXTS), value=8192, description="context (tokens)", **full)
    gpu = w.Dropdown(options=list(gpus), value=next(iter(gpus)) if card is not None else "RTX 3090",
                     description="GPU", **full)
    cache = w.Dropdown(options=list(KV_CACHE_TYPES), value="f16", description="KV cache", **full)
    offload = w.Dropdown(options=[("all layers", -1), ("as many as fit", "auto")], value=-1, description="offload",
                         **full)
    experts = w.Dropdown(options=[("none", 0)], value=0, description="experts in RAM", **full)
    out = w.Output()
    switching = []  # non-empty while a model change rebuilds the experts control

    def show_experts(arch):
        switching.append(True)
        experts.options = expert_offload_options(arch)
        experts.value = 0
        switching.pop()
        experts.disabled = not arch.is_moe
        experts.layout.display = None if arch.is_moe else "none"

    def render(_=None):
        if switching:
            return
        out.clear_output(wait=True)
        arch, chosen = get_model(model.value).architecture, gpus[gpu.value]
        ram_gbps = card.best_bandwidth_gbps if mine is not None and chosen is mine else None
        with out:
            try:
                result = assess(arch, quant.value, min(context.value, arch.max_context), gpu=chosen,
                                n_gpu_layers=offload.value, cache_type=cache.value, n_cpu_moe=experts.value,
                                ram_bandwidth_gbps=ram_gbps)
            except ValueError as err:
                print(err)
                return
            fig = breakdown_figure(result, chosen.name)
            display(fig)
            plt.close(fig)
            print(verdict_line(result))
            ctx = min(context.value, arch.max_context)
            best = best_settings(arch, chosen, ctx, cache_type=cache.value)
            entirely = "entirely on the device" + (" (every expert too)" if arch.is_moe else "")
            print(f"most bits that fit {entirely}: {best['quant']} up to {best['max_context']:,} tokens; fewer bits "
                  "run faster (below)" if best["quant"] else f"no quant fits this context {entirely}")
            display(best_settings_table(best, ctx))

    model.observe(lambda change: show_experts(get_model(change["new"]).architecture), names="value")
    for control in (model, quant, context, gpu, cache, offload, experts):
        control.observe(render, names="value")
    show_experts(get_model(model.value).architecture)
    render()
    return w.VBox([w.HBox([model, gpu]), w.HBox([quant, cache]), w.HBox([context, offload, experts]), out])

