"""Checks for the exercises of notebook 00 (setup check)."""
from helpers.exercises import check_choice, check_number


def check_ram_in_gib(answer, ram_total_bytes: int):
    """Exercise 1: the machine's total RAM in GiB (2**30 bytes)."""
    return check_number(answer, ram_total_bytes / 2**30, rel_tol=0.01, unit="GiB", mistakes=[
        (ram_total_bytes / 1e9, "That is GB (10**9 bytes). A GiB is 2**30 = 1,073,741,824 bytes."),
        (ram_total_bytes / 2**20, "That is MiB; divide by 1024 once more."),
    ])


def check_token_ceiling(answer, bandwidth_gbps: float, model_gb: float, one_thread_gbps: float):
    """Exercise 2: the most tokens/s a model of ``model_gb`` GB can generate at ``bandwidth_gbps``."""
    expected = bandwidth_gbps / model_gb
    return check_number(answer, expected, rel_tol=0.03, unit="tokens/s", mistakes=[
        (bandwidth_gbps * model_gb, "Multiply? Every token reads all the weights once: divide bandwidth by size."),
        (one_thread_gbps / model_gb, "That uses the one-thread bandwidth; llama.cpp reads with all cores."),
        (bandwidth_gbps / (model_gb * 1e9 / 2**30), "The model size here is in GB, like the bandwidth; no GiB needed."),
    ])


def check_fits_in_ram(answer, model_bytes: int, ram_available_bytes: int):
    """Exercise 3: True when the model's weights fit in the RAM available right now."""
    fits = model_bytes < ram_available_bytes
    return check_choice(answer, fits, allowed=(True, False), hints={
        not fits: "Compare the model's size with the RAM *available* now (not total), in the same unit.",
    })
