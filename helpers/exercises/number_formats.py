"""Checks for the exercises of notebook 06 (number formats)."""
from helpers.exercises import check_choice, check_number
from helpers.quantization.number_formats import FLOATS


def check_bf16_model_gb(answer, n_params: float):
    """06 ex. 1: size in GB (10**9 bytes) of ``n_params`` weights stored in bf16 (2 bytes each)."""
    right = n_params * 2 / 1e9
    return check_number(answer, right, rel_tol=0.01, unit="GB", mistakes=[
        (n_params * 16 / 1e9, "That counts bits; a bf16 weight is 16 bits = 2 bytes."),
        (n_params * 2 / 2**30, "That is GiB (2**30 bytes); the question asks for GB (10**9 bytes)."),
        (n_params * 4 / 1e9, "That is fp32 (4 bytes per weight); bf16 takes 2."),
    ])


def check_format_for_large_value(answer, value: float):
    """06 ex. 2: which 16-bit format stores ``value`` without overflowing to inf."""
    fits_fp16 = value <= FLOATS["fp16"].max_normal
    right = "fp16" if fits_fp16 else "bf16"
    return check_choice(answer, right, allowed=("fp16", "bf16"), hints={
        "fp16": f"fp16's largest finite value is {FLOATS['fp16'].max_normal:g}: its 5 exponent bits run out.",
        "bf16": "Both fit here; look for the one with more mantissa bits (more precise).",
    })


def check_int8_max_error(answer, max_abs: float):
    """06 ex. 3: worst rounding error of symmetric int8 with scale max_abs/127 (half a step)."""
    step = max_abs / 127
    return check_number(answer, step / 2, rel_tol=0.01, mistakes=[
        (step, "That is a whole step; rounding to the nearest level is off by at most half a step."),
        (max_abs / 255 / 2, "Symmetric int8 uses -127..127, so the step is max|w| / 127, not / 255."),
        (max_abs / 128 / 2, "The scale divides by qmax = 127 (levels -127..127), not 128."),
    ])
