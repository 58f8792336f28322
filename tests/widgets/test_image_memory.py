"""The notebook-16 memory planner redraws and changes its verdict when a control moves."""
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
