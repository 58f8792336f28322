"""Hardware widgets build, react, and their figures show the curve."""
import matplotlib
import pytest

matplotlib.use("Agg")

from helpers.widgets.hardware import offload_app, offload_figure  # noqa: E402


def test_offload_figure_marks_the_best_setting():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.device_speed import speed_model
    from helpers.hardware.offload import best_fitting_point, offload_curve
    from helpers.memory.vram import usable_gpu_bytes

    arch, gpu, ram = (get_model("Llama 3.1 70B").architecture, get_gpu("RTX 3090"),
                      get_gpu("CPU desktop DDR5-5600 dual-channel"))
    fig = offload_figure("Llama 3.1 70B", "Q4_K_M", 4096, "RTX 3090", "CPU desktop DDR5-5600 dual-channel")
    ax = fig.axes[0]
    best = best_fitting_point(offload_curve(arch, "Q4_K_M", 4096, gpu.bandwidth_gbps, ram.bandwidth_gbps,
                                            speed_model(gpu), speed_model(ram)), usable_gpu_bytes(gpu))
    assert 30 < best.n_gpu_layers < 80  # a 70B on a 24 GB card: about half its 80 blocks
    assert f"best that fits: {best.n_gpu_layers} layers, {best.tokens_per_second:.1f} tok/s" in ax.texts[0].get_text()
    assert ax.get_yscale() == "log"


def test_offload_app_reacts():
    app = offload_app()
    app.children[0].value = "Llama 3.1 8B"
    app.update()
    assert app.kwargs["model"] == "Llama 3.1 8B"


def test_ranking_and_cost_tables():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.ranking import assess_device, rank_devices
    from helpers.widgets.hardware import cost_table, ranking_table

    arch = get_model("Llama 3.1 8B").architecture
    table = ranking_table(rank_devices(arch, "Q4_K_M", 8192, budget_usd=1000))
    assert list(table["tokens/s"]) == sorted(table["tokens/s"], reverse=True)
    labelled = ranking_table(rank_devices(arch, "Q4_K_M", 8192, budget_usd=1000), 8192)
    assert list(labelled.columns[-4:]) == ["tokens/s at 8,192 tokens of context", "90% of its class's published runs within",
                                           "published runs of this card", "tokens/s at 8,192 tokens of context per $1000"]
    runs = labelled["published runs of this card"]
    assert runs["RTX 3080"] >= 2 and runs["RTX 4060 8GB"] == 0  # in the record, or predicted from its class alone
    assert all(cell.startswith("+-") and cell.endswith("%") for cell in labelled["90% of its class's published runs within"])
    costs = cost_table(assess_device(arch, "Q4_K_M", 4096, get_gpu("RTX 3090")), 0.3, 8, 3)
    assert costs.index[0] == "RTX 3090 (local)" and costs.iloc[0]["total $/M output tokens"] > 0
    assert len(costs) > 1


def test_hardware_and_cost_apps_build(capsys):
    from helpers.widgets.hardware import cost_app, hardware_app

    app = hardware_app()
    app.children[0].value = "Qwen2.5 7B"
    app.update()
    assert app.kwargs["model"] == "Qwen2.5 7B"
    cost = cost_app()
    cost.children[1].value = "Apple M1 16GB"
    cost.children[0].value = "Llama 3.1 70B"
    cost.update()
    assert "does not run" in capsys.readouterr().out


def test_static_views_are_what_the_apps_show():
    from helpers.course.catalog import get_gpu, get_model
    from helpers.hardware.ranking import assess_device, rank_devices
    from helpers.widgets.hardware import cost_table, device_cost_table, hardware_table, ranking_table

    arch = get_model("Llama 3.1 8B").architecture
    table = hardware_table("Llama 3.1 8B", "Q4_K_M", 8192, 2000, True)
    expected = ranking_table(rank_devices(arch, "Q4_K_M", 8192, budget_usd=2000, require_fit=True), 8192).head(12)
    assert table.equals(expected) and 0 < len(table) <= 12
    assert (table["fits entirely"] == "yes").all() and (table["price (USD)"] <= 2000).all()
    costs = device_cost_table("Llama 3.1 8B", "RTX 3090", 0.3, 8, 3)
    assert costs.equals(cost_table(assess_device(arch, "Q4_K_M", 4096, get_gpu("RTX 3090")), 0.3, 8, 3))
    with pytest.raises(ValueError, match="does not run on Apple M1 16GB"):
        device_cost_table("Llama 3.1 70B", "Apple M1 16GB", 0.3, 8, 3)
