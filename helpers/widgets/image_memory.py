"""Widget for notebook 17: model x resolution x dtype x memory savers x your VRAM -> where the memory
goes at the peak, and whether it fits. ``planner_figure`` draws what the widget draws, for one setting
(the static view a notebook keeps without a kernel)."""
import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from helpers.course.units import GiB
from helpers.images.memory import SAVERS, estimate

PART_COLOURS = {"weights on GPU": "#3182bd", "UNet activations": "#31a354", "attention scores": "#e6550d",
                "VAE decode": "#756bb1", "runtime overhead": "#969696"}


def savers_that_fit(e, vram_gib: float) -> list:
    """The savers that, added alone to ``e``'s setting, bring its peak within ``vram_gib`` GiB."""
    helps = []
    for saver in SAVERS:
        if saver in e.savers or {saver, *e.savers} >= {"model_cpu_offload", "sequential_cpu_offload"}:
            continue
        if estimate(e.model, e.resolution, e.batch, e.dtype, (*e.savers, saver), e.attention).fits(vram_gib):
            helps.append(saver)
    return helps


def verdict_html(e, vram_gib: float) -> str:
    """A one-paragraph verdict: peak GiB, its phase, fits or not, and what to try next."""
    peak = e.peak_gib
    phases = ", ".join(f"{p}: {b / GiB:.2f}" for p, b in e.phase_bytes.items())
    if e.fits(vram_gib):
        head = f"<b style='color:#31a354'>fits</b>: peak {peak:.2f} GiB of {vram_gib:g} GiB"
    else:
        helps = savers_that_fit(e, vram_gib)
        tip = f"adding {' or '.join(helps)} fits" if helps else "no one saver more fits: lower the resolution or batch"
        head = f"<b style='color:#de2d26'>does not fit</b>: peak {peak:.2f} GiB > {vram_gib:g} GiB ({tip})"
    return (f"<p>{head}; the peak is in <b>{html.escape(e.peak_phase)}</b>.<br>"
            f"Each phase in GiB (2<sup>30</sup> bytes): {phases}</p>")


def draw_breakdown(e, vram_gib: float, ax=None):
    """One stacked horizontal bar (GiB) of the peak phase's parts, with the VRAM line."""
    ax = ax or plt.gca()
    left = 0.0
    for name, nbytes in e.parts.items():
        width = nbytes / GiB
        ax.barh([0], [width], left=left, color=PART_COLOURS.get(name, "#cccccc"), label=f"{name} ({width:.2f})")
        left += width
    ax.axvline(vram_gib, color="black", linestyle="--", label=f"your VRAM ({vram_gib:g})")
    ax.set_yticks([])
    ax.set_xlabel("GiB (2^30 bytes) at the peak phase")
    ax.set_xlim(0, max(left, vram_gib) * 1.1)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, fontsize=8)


def planner_figure(model: str = "sdxl", resolution: int = 1024, dtype: str = "fp16", vram_gib: float = 8.0,
                   batch: int = 1, attention: str = "sdpa", savers=()):
    """The widget's picture for one setting: the peak phase's parts as one bar (GiB, 2**30 bytes)
    against ``vram_gib``, titled with the setting and the verdict. Returns the matplotlib Figure."""
    e = estimate(model, resolution, batch, dtype, savers, attention)
    fig, ax = plt.subplots(figsize=(8, 2.2))
    draw_breakdown(e, vram_gib, ax)
    name = {"sd15": "SD 1.5", "sdxl": "SDXL"}.get(e.model, e.model)
    verdict = "fits" if e.fits(vram_gib) else "does not fit"
    ax.set_title(f"{name}, {resolution}x{resolution}, {dtype}, batch {batch}, savers: {', '.join(e.savers) or 'none'}: "
                 f"peak {e.peak_gib:.2f} GiB in {e.peak_phase}, {verdict} in {vram_gib:g} GiB", fontsize=9)
    return fig


def memory_planner(model: str = "sdxl", resolution: int = 1024, dtype: str = "fp16", vram_gib: float = 8.0):
    """Dropdowns and checkboxes for the estimate; a breakdown bar and a verdict that follow them."""
    model_w = widgets.Dropdown(options=[("SD 1.5", "sd15"), ("SDXL", "sdxl")], value=model, description="model")
    res_w = widgets.Dropdown(options=[512, 768, 1024, 1536, 2048], value=resolution, description="resolution")
    dtype_w = widgets.Dropdown(options=["fp16", "bf16", "fp32"], value=dtype, description="dtype")
    batch_w = widgets.IntSlider(value=1, min=1, max=8, description="batch")
    attn_w = widgets.Dropdown(options=["sdpa", "naive"], value="sdpa", description="attention")
    vram_w = widgets.FloatSlider(value=vram_gib, min=2, max=48, step=1, description="VRAM GiB")
    saver_ws = {s: widgets.Checkbox(value=False, description=s, indent=False) for s in SAVERS}
    info = widgets.HTML()
    plot = widgets.Output()

    def redraw(change=None):
        if change is not None and change["owner"] is saver_ws["model_cpu_offload"] and change["new"]:
            saver_ws["sequential_cpu_offload"].value = False
        if change is not None and change["owner"] is saver_ws["sequential_cpu_offload"] and change["new"]:
            saver_ws["model_cpu_offload"].value = False
        savers = [s for s, w in saver_ws.items() if w.value]
        e = estimate(model_w.value, res_w.value, batch_w.value, dtype_w.value, savers, attn_w.value)
        info.value = verdict_html(e, vram_w.value)
        with plot:
            plot.clear_output(wait=True)
            fig = planner_figure(model_w.value, res_w.value, dtype_w.value, vram_w.value, batch_w.value,
                                 attn_w.value, savers)
            display(fig)
            plt.close(fig)

    for w in (model_w, res_w, dtype_w, batch_w, attn_w, vram_w, *saver_ws.values()):
        w.observe(redraw, names="value")
    redraw()
    controls = widgets.HBox([widgets.VBox([model_w, res_w, dtype_w]), widgets.VBox([batch_w, attn_w, vram_w]),
                             widgets.VBox(list(saver_ws.values()))])
    return widgets.VBox([controls, info, plot])
