"""The notebook-17 memory planner redraws and changes its verdict when a control moves."""
import matplotlib

matplotlib.use("Agg")

from helpers.images.memory import estimate  # noqa: E402
from helpers.widgets.image_memory import memory_planner, verdict_html  # noqa: E402


def test_verdict_says_fits_or_not():
    e = estimate("sd15", 512)
    assert "fits" in verdict_html(e, 24) and "does not fit" not in verdict_html(e, 24)
    assert "does not fit" in verdict_html(e, 1)


def test_planner_redraws():
    app = memory_planner("sdxl", 1024, "fp16", 8)
    controls, info, _plot = app.children
    (model, res, dtype), (batch, attention, vram), savers = (c.children for c in controls.children)
    first = info.value
    assert "does not fit" in first  # SDXL's fp32 VAE decode at 1024 px needs more than 8 GiB
    model.value = "sd15"
    assert info.value != first and "fits" in info.value
    res.value = 512
    second = info.value
    dtype.value = "fp32"
    assert info.value != second
    model_offload, sequential = savers[3], savers[4]
    model_offload.value = True
    sequential.value = True
    assert model_offload.value is False  # the two offloads exclude each other


def test_planner_figure_draws_the_peak_parts_against_the_vram_line():
    from helpers.widgets.image_memory import PART_COLOURS, planner_figure

    fig = planner_figure("sdxl", 1024, "fp16", 8.0)
    ax = fig.axes[0]
    e = estimate("sdxl", 1024, 1, "fp16")
    widths = [bar.get_width() for bar in ax.patches]
    assert len(widths) == len(e.parts) and abs(sum(widths) - e.peak_gib) < 1e-9
    assert {bar.get_facecolor() for bar in ax.patches} <= {matplotlib.colors.to_rgba(c) for c in PART_COLOURS.values()}
    assert "does not fit in 8 GiB" in ax.get_title() and "VAE decode" in ax.get_title()
    assert "GiB" in ax.get_xlabel()
    offloaded = planner_figure("sdxl", 1024, "fp16", 8.0, savers=("model_cpu_offload",)).axes[0].get_title()
    assert "fits in 8 GiB" in offloaded and "does not fit" not in offloaded
    matplotlib.pyplot.close("all")


def test_the_verdict_names_only_savers_that_make_it_fit():
    from helpers.widgets.image_memory import savers_that_fit

    e = estimate("sdxl", 1024, 1, "fp16")  # VAE decode peak; SDXL's tile is 1024 px, so tiling cannot help
    assert savers_that_fit(e, 8.0) == ["model_cpu_offload", "sequential_cpu_offload"]
    assert "adding model_cpu_offload or sequential_cpu_offload fits" in verdict_html(e, 8.0)
    assert savers_that_fit(e, 1.0) == [] and "lower the resolution" in verdict_html(e, 1.0)
    offloaded = estimate("sdxl", 1024, 1, "fp16", ("model_cpu_offload",))
    assert "sequential_cpu_offload" not in savers_that_fit(offloaded, 5.0)  # the two offloads exclude each other
