"""Hardware widgets build, react, and their figures show the curve."""
import matplotlib

matplotlib.use("Agg")

from helpers.widgets_hardware import offload_app, offload_figure  # noqa: E402


def test_offload_figure_marks_the_best_setting():
    fig = offload_figure("Llama 3.1 70B", "Q4_K_M", 4096, "RTX 3090", "CPU desktop DDR5-5600 dual-channel")
    ax = fig.axes[0]
    assert "best that fits: 46 layers" in ax.texts[0].get_text()
    assert ax.get_yscale() == "log"


def test_offload_app_reacts():
    app = offload_app()
    app.children[0].value = "Llama 3.1 8B"
    app.update()
    assert app.kwargs["model"] == "Llama 3.1 8B"
