"""Checks for the exercises of notebook 10 (tokens per second)."""
from helpers.exercises import check_choice, check_number
from helpers.hardware.roofline import SpeedModel, generation_ceiling_tokens_per_second

PHASES = ("prompt processing", "generation")


def check_bound_phase(answer):
    """10 ex. 1: which phase is limited by memory bandwidth?"""
    return check_choice(answer, "generation", allowed=PHASES, hints={
        "prompt processing": "Prompt processing multiplies each weight matrix by many tokens at once: every byte read "
                             "is reused many times, so arithmetic, not memory, is the limit.",
    })


def check_ceiling(answer, bytes_per_token: float, bandwidth_gbps: float):
    """10 ex. 2: roofline ceiling in tokens/s = bandwidth / bytes read per token."""
    right = generation_ceiling_tokens_per_second(bytes_per_token, bandwidth_gbps)
    return check_number(answer, right, rel_tol=0.03, unit="tokens/s", mistakes=[
        (right * 8, "Bandwidth is in bytes per second and the file size in bytes: no factor 8 for bits."),
        (right * 1e9 / 2**30, "GB/s means 10**9 bytes per second; keep bytes and GB in the same decimal unit."),
        (1 / right, "That is seconds per token; tokens per second is its inverse."),
    ])


def check_overhead_speed(answer, bytes_per_token: float, bandwidth_gbps: float, efficiency: float,
                         overhead_s_per_layer: float, n_layers: int):
    """10 ex. 3: tokens/s with the speed model (reading time at efficiency x bandwidth + layers x overhead)."""
    right = SpeedModel(efficiency, overhead_s_per_layer).tokens_per_second(bytes_per_token, bandwidth_gbps, n_layers)
    reading = 1 / SpeedModel(efficiency, 0).tokens_per_second(bytes_per_token, bandwidth_gbps, n_layers)
    return check_number(answer, right, rel_tol=0.03, unit="tokens/s", mistakes=[
        (1 / reading, "That leaves out the fixed overhead (or counts one layer's only): add layers x overhead "
                      "per layer to the reading time before inverting."),
        (1 / (reading + n_layers * overhead_s_per_layer * 1e3), "The overhead is given in seconds in the speed model; "
                                                                 "convert milliseconds to seconds."),
    ])
