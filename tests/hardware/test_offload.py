"""Offload speed: times add (reading and each side's layers), the curve rises with layers on the GPU."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.device_speed import speed_model
from helpers.hardware.offload import (
    best_fitting_point,
    embedding_lookup_bytes,
    offload_curve,
    offload_seconds_per_token,
    tensor_split_bytes,
)
from helpers.hardware.roofline import SpeedModel
from helpers.memory.vram import usable_gpu_bytes

LLAMA_8B = get_model("Llama 3.1 8B").architecture
READ_ONLY = SpeedModel(1, 0)  # bytes at the full bandwidth, no time per layer: the times are easy to check
GPU = speed_model(get_gpu("RTX 3090"))
RAM = speed_model(get_gpu("CPU desktop DDR5-5600 dual-channel"))


def test_times_add():
    gpu_only = offload_seconds_per_token(9e9, 0, 900, 50, READ_ONLY, READ_ONLY)
    cpu_only = offload_seconds_per_token(0, 1e9, 900, 50, READ_ONLY, READ_ONLY)
    assert gpu_only == pytest.approx(0.01) and cpu_only == pytest.approx(0.02)
    assert offload_seconds_per_token(9e9, 1e9, 900, 50, READ_ONLY, READ_ONLY) == pytest.approx(0.03)
    per_layer = SpeedModel(1, 1e-3)  # each side also pays 1 ms for each layer it runs
    assert offload_seconds_per_token(9e9, 1e9, 900, 50, per_layer, per_layer, 10, 2) == pytest.approx(0.042)


@pytest.mark.parametrize("kwargs", [dict(gpu_bytes=-1), dict(cpu_bandwidth_gbps=0), dict(gpu_layers=-1)])
def test_refuses_bad_inputs(kwargs):
    args = dict(gpu_bytes=1e9, cpu_bytes=1e9, gpu_bandwidth_gbps=900, cpu_bandwidth_gbps=50, gpu_model=READ_ONLY,
                cpu_model=READ_ONLY) | kwargs
    with pytest.raises(ValueError):
        offload_seconds_per_token(**args)


def test_curve_rises_with_gpu_layers_and_reads_every_weight_once():
    curve = offload_curve(LLAMA_8B, "Q4_K_M", 512, 936, 50, GPU, RAM)
    speeds = [p.tokens_per_second for p in curve]
    assert speeds == sorted(speeds)
    assert len(curve) == LLAMA_8B.n_layers + 2
    totals = {p.gpu_read_bytes + p.cpu_read_bytes for p in curve}
    assert max(totals) - min(totals) < 0.01 * max(totals)
    assert embedding_lookup_bytes(LLAMA_8B, "Q4_K_M") > 0
    assert embedding_lookup_bytes(get_model("Llama 3.2 1B").architecture, "Q4_K_M") == 0


def test_70b_on_a_24gb_card_with_ddr5_is_a_few_tokens_per_second():
    arch = get_model("Llama 3.1 70B").architecture
    ddr5 = get_gpu("CPU desktop DDR5-5600 dual-channel").bandwidth_gbps
    card = get_gpu("RTX 3090")
    best = best_fitting_point(offload_curve(arch, "Q4_K_M", 4096, card.bandwidth_gbps, ddr5, GPU, RAM),
                              usable_gpu_bytes(card))
    assert 0 < best.n_gpu_layers < arch.n_layers
    assert 1.5 < best.tokens_per_second < 5
    assert best_fitting_point(offload_curve(arch, "Q4_K_M", 4096, 936, 50, GPU, RAM), 10).n_gpu_layers == 0  # CPU only
    with pytest.raises(ValueError):
        best_fitting_point([], 10)


@given(st.integers(1, 10**12), st.lists(st.floats(0.1, 10), min_size=1, max_size=8))
def test_tensor_split_never_exceeds_the_total(total, shares):
    parts = tensor_split_bytes(total, shares)
    assert len(parts) == len(shares) and sum(parts) <= total and total - sum(parts) <= len(shares)


def test_sequential_devices_add_and_learners_divide():
    from helpers.hardware.offload import learners_per_server, sequential_seconds_per_token

    assert sequential_seconds_per_token([(9e9, 900, READ_ONLY, 16), (9e9, 900, READ_ONLY, 16)]) == pytest.approx(0.02)
    assert sequential_seconds_per_token([(9e9, 900, GPU, 20), (1e9, 50, RAM, 12)]) == pytest.approx(
        offload_seconds_per_token(9e9, 1e9, 900, 50, GPU, RAM, 20, 12))
    with pytest.raises(ValueError):
        sequential_seconds_per_token([])
    assert learners_per_server(64 * 2**30, 3 * 2**30, 4 * 2**30) == 20
    assert learners_per_server(2**30, 3 * 2**30) == 0
    with pytest.raises(ValueError):
        learners_per_server(2**30, 0)


def test_moe_reads_only_its_routed_experts_and_offloads_them_cheaply():
    from helpers.hardware.offload import expert_offload_curve, fewest_cpu_moe_that_fits
    from helpers.memory.gguf_size import bytes_read_per_token
    from helpers.memory.vram import bytes_read_split

    qwen = get_model("Qwen3 30B-A3B").architecture
    gpu_read, cpu_read = bytes_read_split(qwen, "Q4_K_M")
    assert cpu_read == 0 and gpu_read == bytes_read_per_token(qwen, "Q4_K_M")
    points = expert_offload_curve(qwen, "Q4_K_M", 8192, gpu_bandwidth_gbps=288, cpu_bandwidth_gbps=80,
                                  gpu_model=GPU, cpu_model=RAM)
    assert [p.n_cpu_moe for p in points] == list(range(49))
    assert all(a.gpu_memory_bytes > b.gpu_memory_bytes for a, b in zip(points, points[1:]))
    assert all(a.tokens_per_second > b.tokens_per_second for a, b in zip(points, points[1:]))
    # a 16 GiB card: some experts must go to RAM, and the speed stays far above a dense 30B on the CPU
    fit = fewest_cpu_moe_that_fits(points, 16 * 2**30)
    assert 0 < fit.n_cpu_moe < 48 and fit.gpu_memory_bytes <= 16 * 2**30
    # the CPU side reads only 8 of 128 experts per token: its bytes are a sixteenth of what it holds
    experts_in_ram = fit.cpu_memory_bytes
    assert fit.cpu_read_bytes < experts_in_ram / 10
    with pytest.raises(ValueError, match="needs a mixture of experts"):
        expert_offload_curve(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 8192, 288, 80, GPU, RAM)
    with pytest.raises(ValueError, match="even with every expert in system RAM"):
        fewest_cpu_moe_that_fits(points, 2**30)


def test_layer_offload_of_a_moe_reads_only_the_routed_experts():
    from helpers.memory.gguf_size import bytes_read_per_token
    from helpers.memory.vram import kv_cache_bytes

    qwen = get_model("Qwen3 30B-A3B").architecture
    cpu_only = offload_curve(qwen, "Q4_K_M", 4096, 288, 80, GPU, RAM)[0]
    assert cpu_only.gpu_read_bytes == 0
    assert cpu_only.cpu_read_bytes == bytes_read_per_token(qwen, "Q4_K_M") + kv_cache_bytes(qwen, 4096)
