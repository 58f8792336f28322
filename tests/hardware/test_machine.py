"""Machine detection: parsers on real tool output, bandwidth arithmetic, the machine card round trip."""
import json

import pytest

from helpers.hardware.machine import (
    GPU,
    MachineCard,
    bandwidth_buffer_bytes,
    bandwidth_rounds,
    copy_bandwidth_gbps,
    describe_machine,
    gpu_report,
    load_machine_card,
    machine_summary,
    measure_copy_bandwidth,
    parse_cpuinfo_model,
    parse_nvidia_smi,
    parse_rocm_smi,
    save_machine_card,
)

NVIDIA_SMI = "NVIDIA GeForce RTX 3090, 24576, 550.54.14\nNVIDIA H100 80GB HBM3, 81559, 550.54.15\n"
ROCM_SMI = json.dumps({
    "card0": {"Card Series": "Radeon RX 7900 XTX", "VRAM Total Memory (B)": "25753026560"},
    "system": {"Driver version": "6.7.0"},
})


def test_parse_nvidia_smi_reads_name_mib_and_driver():
    gpus = parse_nvidia_smi(NVIDIA_SMI)
    assert [g.name for g in gpus] == ["NVIDIA GeForce RTX 3090", "NVIDIA H100 80GB HBM3"]
    assert gpus[0].memory_bytes == 24576 * 2**20
    assert gpus[1].driver == "550.54.15" and gpus[1].backend == "CUDA"


@pytest.mark.parametrize("text", ["", "No devices were found", "garbage, N/A, x"])
def test_parse_nvidia_smi_without_gpus(text):
    assert parse_nvidia_smi(text) == []


def test_parse_rocm_smi():
    (gpu,) = parse_rocm_smi(ROCM_SMI)
    assert gpu.vendor == "AMD" and gpu.name == "Radeon RX 7900 XTX"
    assert gpu.memory_bytes == 25753026560


def test_parse_rocm_smi_not_json():
    assert parse_rocm_smi("ERROR: rocm-smi not configured") == []


def test_parse_cpuinfo_model():
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
    assert parse_cpuinfo_model(text) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert parse_cpuinfo_model("processor : 0\n") == ""


def test_copy_bandwidth_counts_read_and_write():
    assert copy_bandwidth_gbps(10**9, 1.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="seconds"):
        copy_bandwidth_gbps(10**9, 0.0)


def test_buffer_size_bounds():
    assert bandwidth_buffer_bytes(64 * 2**30) == 512 * 2**20
    assert bandwidth_buffer_bytes(2 * 2**30) == 128 * 2**20
    assert bandwidth_buffer_bytes(100 * 2**20) == 64 * 2**20


def test_measured_bandwidth_is_positive_and_finite():
    gbps = measure_copy_bandwidth(16 * 2**20, threads=2, repeats=1)
    assert 0 < gbps < 10_000


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"repeats": 0}])
def test_measure_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        measure_copy_bandwidth(2**20, **kwargs)


def test_describe_save_load_round_trip(tmp_path):
    card = describe_machine(measure_bandwidth=False)
    assert card.logical_cores >= card.physical_cores >= 1
    assert card.ram_total_bytes >= card.ram_available_bytes > 0
    card.gpus = [GPU("NVIDIA", "Test GPU", 8 * 2**30, "CUDA", "1.0")]
    path = save_machine_card(card, tmp_path / "card.json")
    loaded = load_machine_card(path)
    assert loaded == card
    assert isinstance(loaded.gpus[0], GPU)


def test_bandwidth_rounds_take_turns_and_the_card_keeps_them(tmp_path, monkeypatch):
    import helpers.hardware.machine as machine

    order = []
    monkeypatch.setattr(machine, "measure_copy_bandwidth", lambda nbytes, threads, repeats: order.append(threads) or
                        10.0 * threads + len(order))
    measured = bandwidth_rounds(2**20, [1, 4], rounds=3)
    assert order == [1, 4, 1, 4, 1, 4] and measured == {1: [11.0, 13.0, 15.0], 4: [42.0, 44.0, 46.0]}
    with pytest.raises(ValueError, match="rounds must be at least 1, got 0"):
        bandwidth_rounds(2**20, [1], rounds=0)
    card = describe_machine(rounds=2)
    assert len(card.bandwidth_rounds_gbps["1"]) == 2 and card.bandwidth_gbps_one_thread == max(card.bandwidth_rounds_gbps["1"])
    card.llama_cpp_speeds = {"model": "m.gguf", "rounds": 3, "threads": {"1": {"generation tokens/s (median)": 50.0}}}
    assert load_machine_card(save_machine_card(card, tmp_path / "card.json")) == card


def test_a_card_of_an_older_version_counts_as_none_and_asks_for_notebook_00_again(tmp_path, capsys):
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"card_version": 1}))
    assert load_machine_card(path) is None
    assert "run notebook 00 again" in capsys.readouterr().out


def test_missing_card_is_none(tmp_path):
    assert load_machine_card(tmp_path / "nope.json") is None


def test_corrupt_card_names_the_file(tmp_path):
    path = tmp_path / "card.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="card.json"):
        load_machine_card(path)


def _card(**changes):
    base = dict(os="Linux", python="3.11", cpu_model="CPU", physical_cores=2, logical_cores=2,
                ram_total_bytes=24 * 2**30, ram_available_bytes=20 * 2**30,
                bandwidth_gbps_one_thread=10.0, bandwidth_gbps_all_threads=15.0)
    return MachineCard(**{**base, **changes})


def test_no_gpu_is_explained_as_normal():
    report = gpu_report(_card())
    assert "No GPU found" in report and "runs on the CPU" in report


def test_gpu_without_llama_offload_is_flagged():
    card = _card(gpus=[GPU("NVIDIA", "RTX 3090", 24 * 2**30, "CUDA")], llama_cpp_gpu_offload=False)
    assert "no GPU backend" in gpu_report(card)


def test_summary_reports_gib_and_best_bandwidth():
    card = _card()
    rows = dict(machine_summary(card))
    assert rows["RAM total"] == "24.0 GiB"
    assert card.best_bandwidth_gbps == 15.0


# --- which llama.cpp backend, and Vulkan GPUs -------------------------------------------------------

VULKANINFO_SUMMARY = """
Devices:
========
GPU0:
\tapiVersion         = 1.3.255
\tdriverVersion      = 23.1.0
\tvendorID           = 0x1002
\tdeviceID           = 0x73bf
\tdeviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
\tdeviceName         = AMD Radeon RX 6800 XT (RADV NAVI21)
GPU1:
\tapiVersion         = 1.3.255
\tvendorID           = 0x10005
\tdeviceType         = PHYSICAL_DEVICE_TYPE_CPU
\tdeviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
GPU2:
\tvendorID           = 0x8086
\tdeviceType         = PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU
\tdeviceName         = Intel(R) Iris(R) Xe Graphics
"""


def test_vulkaninfo_summary_lists_real_gpus_and_leaves_software_renderers_out():
    from helpers.hardware.machine import parse_vulkaninfo_summary

    gpus = parse_vulkaninfo_summary(VULKANINFO_SUMMARY)
    assert [(g.vendor, g.name, g.backend) for g in gpus] == [
        ("AMD", "AMD Radeon RX 6800 XT (RADV NAVI21)", "Vulkan"), ("Intel", "Intel(R) Iris(R) Xe Graphics", "Vulkan")]
    assert gpus[0].driver == "23.1.0" and gpus[0].memory_bytes == 0
    assert parse_vulkaninfo_summary("") == []


def test_system_info_names_the_backends_llama_cpp_was_built_with():
    from helpers.hardware.machine import parse_system_info_backends

    assert parse_system_info_backends("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | "
                                      "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 |") == ("CUDA", "CPU")
    assert parse_system_info_backends("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 |") == ("Metal", "CPU")
    assert parse_system_info_backends("CPU : SSE3 = 1 | AVX2 = 1 | LLAMAFILE = 1 |") == ("CPU",)


def test_ggml_registry_names_map_to_the_course_names():
    from helpers.hardware.machine import ggml_backend_name

    assert [ggml_backend_name(n) for n in ("CUDA", "MTL", "Metal", "ROCm", "HIP", "Vulkan", "SYCL", "CPU")] == [
        "CUDA", "Metal", "Metal", "ROCm", "ROCm", "Vulkan", "SYCL", "CPU"]


def test_the_installed_llama_cpp_reports_its_backends_and_devices():
    import llama_cpp

    from helpers.hardware.machine import llama_cpp_backend

    backend = llama_cpp_backend()
    assert "CPU" in backend.backends and backend.devices
    assert backend.gpu_offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert bool(backend.gpu_backends) == backend.gpu_offload
