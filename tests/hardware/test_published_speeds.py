"""Published speeds: every row sourced, its device's bandwidth sourced, its test and context read right."""
import pytest

from helpers.course.catalog import DEVICE_CLASSES, get_device, load_devices
from helpers.hardware.published_speeds import COLUMNS, load_published_speeds

HEADER = ",".join(COLUMNS) + "\n"
GOOD = "RTX 3090,Llama 3.1 8B,Q4_K_M,tg128,0,100,CUDA,abc (1),0,all,2024-05,https://x,note,\n"


def test_the_record_spans_many_devices_of_every_kind_each_row_sourced():
    rows = load_published_speeds()
    generation = [r for r in rows if r.phase == "generation" and not r.not_fitted_because]
    devices = {r.device for r in rows}
    assert len(rows) >= 100 and len(devices) >= 40
    classes = {get_device(d).device_class for d in devices}
    assert {"nvidia-consumer", "nvidia-datacenter", "amd-consumer", "amd-instinct", "apple", "integrated",
            "cpu"} <= classes <= set(DEVICE_CLASSES)
    assert len({r.model for r in generation}) >= 5 and len({r.mix for r in generation}) >= 5
    assert all(r.source.startswith("https://") and r.tokens_per_second > 0 and r.build for r in rows)
    for name in devices:  # every device's bandwidth has its own source
        assert get_device(name).source.strip()


def test_a_tg_run_stands_for_its_mean_context_after_the_depth():
    bench = {r.test: r for r in load_published_speeds() if r.device == "RTX 3090" and r.source.endswith("3090_v3.ipynb")}
    assert bench["tg512"].mean_context_tokens == 256 and bench["tg8192"].mean_context_tokens == 4096
    deep = [r for r in load_published_speeds() if r.phase == "generation" and r.depth]
    assert deep and all(r.mean_context_tokens == r.depth + r.test_tokens // 2 for r in deep)
    assert all(r.mean_context_tokens is None for r in load_published_speeds() if r.phase != "generation")


def test_devices_live_in_one_file_each_and_their_class_matches_their_memory():
    devices = load_devices()
    assert all(DEVICE_CLASSES[d.device_class] == d.kind for d in devices.values())
    assert get_device("H100 PCIe").bandwidth_gbps < get_device("H100 SXM").bandwidth_gbps  # not the same card


@pytest.mark.parametrize("row, match", [
    (GOOD.replace("RTX 3090", "RTX 9999"), "RTX 9999"),
    (GOOD.replace(",100,", ",0,"), "tokens_per_second > 0"),
    (GOOD.replace("https://x", "see forum"), "https source"),
    (GOOD.replace(",all,", ",20,"), "n_gpu_layers 'all'"),
    (GOOD.replace("tg128", "tg-128"), "test must be"),
    (GOOD.replace(",0,100", ",-5,100"), "depth must be"),
    (GOOD.replace("CUDA", "OpenCL"), "backend must be"),
    (GOOD.replace("Q4_K_M", "Q4_K_XXL"), "Q4_K_XXL"),
    (GOOD.replace("2024-05", "May 2024"), "date"),
])
def test_bad_rows_are_refused_with_their_line(tmp_path, row, match):
    path = tmp_path / "speeds.csv"
    path.write_text(HEADER + GOOD + row)
    assert len(load_published_speeds(_write(tmp_path, HEADER + GOOD))) == 1
    with pytest.raises(ValueError, match=match) as err:
        load_published_speeds(path)
    assert "line 3" in str(err.value) or match in ("RTX 9999", "Q4_K_XXL")


def test_a_file_with_other_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match="columns must be"):
        load_published_speeds(_write(tmp_path, "device,model\nRTX 3090,Llama 3.1 8B\n"))


def _write(tmp_path, text):
    path = tmp_path / "other.csv"
    path.write_text(text)
    return path
