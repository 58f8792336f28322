"""Exercise checks of notebook 11."""
from helpers.exercises.offload import check_offload_speed, check_per_gpu_gib


def test_offload_speed():
    # GPU: 9e9 B at 1 x 900 GB/s = 10 ms; CPU: 1e9 B at 1 x 50 GB/s = 20 ms -> 30 ms -> 33.3 tok/s
    args = (9e9, 1e9, 900, 50, 1, 1)
    assert check_offload_speed(1 / 0.03, *args)
    assert "times* add" in check_offload_speed(150, *args).message
    assert "only the CPU" in check_offload_speed(50, *args).message
    assert "fitted on the GPU" in check_offload_speed(100, *args).message


def test_per_gpu():
    assert check_per_gpu_gib(20, 40 * 2**30, 2)
    assert "whole model" in check_per_gpu_gib(40, 40 * 2**30, 2).message
    assert "GB (10**9" in check_per_gpu_gib(20 * 2**30 / 1e9, 40 * 2**30, 2).message
