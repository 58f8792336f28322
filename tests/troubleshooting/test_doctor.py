"""The doctor: synthetic machine cards and settings that must (and must not) raise each finding."""
import dataclasses

import pytest

from helpers.course.catalog import get_model
from helpers.hardware.machine import GPU, MachineCard
from helpers.troubleshooting.doctor import diagnose, load_troubleshooting

GIB = 2**30
SMALL = get_model("SmolLM2 135M").architecture
LLAMA_8B = get_model("Llama 3.1 8B").architecture
CPU_BOX = MachineCard(os="Linux", python="3.11", cpu_model="test", physical_cores=4, logical_cores=8,
                      ram_total_bytes=32 * GIB, ram_available_bytes=28 * GIB)
RTX = GPU(vendor="NVIDIA", name="RTX 3090", memory_bytes=24 * GIB, backend="CUDA")
GPU_BOX = dataclasses.replace(CPU_BOX, gpus=[RTX], llama_cpp_gpu_offload=True)


def codes(findings, severity=None):
    return {f.code for f in findings if severity is None or f.severity == severity}


def test_healthy_setups_have_no_errors_or_warnings():
    assert {f.severity for f in diagnose(CPU_BOX, SMALL, "Q4_K_M", 2048, 0, 4)} <= {"info"}
    found = diagnose(GPU_BOX, LLAMA_8B, "Q4_K_M", 8192, -1, 4)
    assert not [f for f in found if f.severity in ("error", "warning")]


def test_no_gpu_but_layers_requested():
    assert "no_gpu_build" in codes(diagnose(CPU_BOX, SMALL, "Q4_K_M", 2048, 99, 4), "warning")


def test_gpu_present_but_build_without_offload():
    box = dataclasses.replace(GPU_BOX, llama_cpp_gpu_offload=False)
    found = diagnose(box, LLAMA_8B, "Q4_K_M", 4096, -1, 4)
    assert "no_gpu_build" in codes(found, "error")
    assert "GGML_CUDA" in next(f.fix for f in found if f.code == "no_gpu_build")
    assert "course.py env --force" in next(f.fix for f in found if f.code == "no_gpu_build")
    rocm = dataclasses.replace(box, gpus=[GPU("AMD", "RX 7900 XTX", 24 * GIB, "ROCm")])
    assert "GGML_HIP" in next(f.fix for f in diagnose(rocm, LLAMA_8B, "Q4_K_M", 4096, -1, 4) if f.code == "no_gpu_build")


def test_too_little_ram():
    tiny_ram = dataclasses.replace(CPU_BOX, ram_available_bytes=2 * GIB)
    assert "ram_too_small" in codes(diagnose(tiny_ram, LLAMA_8B, "Q4_K_M", 4096, 0, 4), "error")
    assert "ram_too_small" not in codes(diagnose(CPU_BOX, LLAMA_8B, "Q4_K_M", 4096, 0, 4))


def test_threads_beyond_cores():
    assert "slow_threads" in codes(diagnose(CPU_BOX, SMALL, "Q4_K_M", 2048, 0, 16), "warning")
    assert "slow_threads" in codes(diagnose(CPU_BOX, SMALL, "Q4_K_M", 2048, 0, 1), "info")


def test_context_beyond_training():
    found = diagnose(CPU_BOX, SMALL, "Q4_K_M", SMALL.max_context * 2, 0, 4)
    assert found[0].severity == "error" and found[0].code == "context_overflow"


def test_the_context_asked_for_is_the_one_planned():
    """llama.cpp allocates the cache for the context asked for, beyond the trained length too: 262,144 tokens
    of Llama 3.1 8B (trained for 131,072) need twice the KV cache, and no longer fit a 24 GiB card."""
    assert LLAMA_8B.max_context == 131072
    trained = diagnose(GPU_BOX, LLAMA_8B, "Q4_K_M", 131072, -1, 4)
    beyond = diagnose(GPU_BOX, LLAMA_8B, "Q4_K_M", 262144, -1, 4)
    assert "context_overflow" not in codes(trained) and "context_overflow" in codes(beyond, "error")
    assert "cuda_oom_llama_cpp" in codes(beyond, "error") and "cuda_oom_llama_cpp" not in codes(trained)
    needs = next(f.message for f in beyond if f.code == "cuda_oom_llama_cpp")
    assert float(needs.split("needs ")[1].split(" GiB")[0]) > 36  # 4.6 GiB of weights + 32 GiB of KV cache


def test_a_plan_inside_the_card_but_not_the_margin_is_a_warning():
    from helpers.memory.vram import memory_plan

    need = memory_plan(LLAMA_8B, "Q4_K_M", 32768, -1).gpu_total
    tight = dataclasses.replace(GPU_BOX, gpus=[dataclasses.replace(RTX, memory_bytes=need + 256 * 2**20)])
    found = diagnose(tight, LLAMA_8B, "Q4_K_M", 32768, -1, 4)
    assert "gpu_memory_tight" in codes(found, "warning") and "cuda_oom_llama_cpp" not in codes(found)
    roomy = dataclasses.replace(GPU_BOX, gpus=[dataclasses.replace(RTX, memory_bytes=need + 2 * GIB)])
    assert "gpu_memory_tight" not in codes(diagnose(roomy, LLAMA_8B, "Q4_K_M", 32768, -1, 4))


def test_gpu_out_of_memory_and_partial_offload():
    big = get_model("Llama 3.1 70B").architecture
    roomy = dataclasses.replace(GPU_BOX, ram_available_bytes=128 * GIB)
    assert "cuda_oom_llama_cpp" in codes(diagnose(roomy, big, "Q4_K_M", 4096, -1, 4), "error")
    assert "slow_partial_offload" in codes(diagnose(roomy, big, "Q4_K_M", 4096, 40, 4), "warning")
    mac = dataclasses.replace(roomy, gpus=[GPU("Apple", "M2", 16 * GIB, "Metal", unified_memory=True)])
    assert "metal_out_of_memory" in codes(diagnose(mac, LLAMA_8B, "Q8_0", 32768, -1, 4), "error")


def test_codes_point_at_catalogue_entries_and_bad_settings_are_refused():
    catalogue = load_troubleshooting()
    for code in ("no_gpu_build", "cuda_oom_llama_cpp", "metal_out_of_memory", "context_overflow", "slow_threads",
                 "slow_partial_offload"):
        assert code in catalogue
    assert all(e["source"].startswith("https://") and e["symptom"] and e["fix"] for e in catalogue.values())
    with pytest.raises(ValueError, match="threads"):
        diagnose(CPU_BOX, SMALL, "Q4_K_M", 2048, 0, 0)


@pytest.mark.parametrize("code, first_bytes", [("gguf_entry_not_found", b"Entry not found"),
                                               ("gguf_bad_magic", b"<!DOCTYPE html><html>")])
def test_the_bad_magic_symptoms_are_what_this_llama_cpp_prints(tmp_path, code, first_bytes):
    from llama_cpp import Llama

    from helpers.llm.context import captured_llama_log

    path = tmp_path / "model.gguf"
    path.write_bytes(first_bytes + b"\0" * 64)
    with captured_llama_log() as log, pytest.raises(ValueError):
        Llama(str(path), verbose=True)
    assert load_troubleshooting()[code]["symptom"] in log.getvalue()
