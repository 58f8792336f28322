"""Checks for the exercises of notebook 11 (offload)."""
from helpers.exercises import check_number
from helpers.hardware.offload import offload_seconds_per_token
from helpers.hardware.roofline import SpeedModel


def check_offload_speed(answer, gpu_bytes, cpu_bytes, gpu_bw, cpu_bw, gpu_eff, cpu_eff):
    """11 ex. 1: tokens/s of a split model = 1 / (GPU time + CPU time), reading time only."""
    right = 1 / offload_seconds_per_token(gpu_bytes, cpu_bytes, gpu_bw, cpu_bw, SpeedModel(gpu_eff, 0),
                                          SpeedModel(cpu_eff, 0))
    gpu_t = gpu_bytes / (gpu_eff * gpu_bw * 1e9)
    cpu_t = cpu_bytes / (cpu_eff * cpu_bw * 1e9)
    return check_number(answer, right, rel_tol=0.03, unit="tokens/s", mistakes=[
        (1 / gpu_t + 1 / cpu_t, "Speeds do not add: the two parts run one after the other, so their *times* add."),
        (1 / cpu_t, "That counts only the CPU part; the GPU part takes time too."),
        (1 / gpu_t, "That is the speed if everything fitted on the GPU."),
    ])


def check_per_gpu_gib(answer, total_bytes: int, n_gpus: int):
    """11 ex. 2: weights per GPU (GiB) with an even --tensor-split."""
    right = total_bytes / n_gpus / 2**30
    return check_number(answer, right, rel_tol=0.02, unit="GiB", mistakes=[
        (total_bytes / 2**30, "That is the whole model: an even split divides it between the GPUs."),
        (total_bytes / n_gpus / 1e9, "That is GB (10**9 bytes); the question asks for GiB (2**30)."),
    ])
