"""Checks for the exercises of notebook 17 (image models and memory)."""
from helpers.course.units import GB, GiB
from helpers.exercises import check_choice, check_number
from helpers.images.memory import DTYPE_BYTES, component_params


def check_unet_weights_gb(answer, model: str = "sdxl", dtype: str = "fp16"):
    """17 ex. 1: the UNet's weights in GB (10**9 bytes) = computed parameters x bytes per element."""
    n = component_params(model, "unet")
    right = n * DTYPE_BYTES[dtype] / GB
    return check_number(answer, right, rel_tol=0.02, unit="GB", mistakes=[
        (n * DTYPE_BYTES[dtype] / GiB, "That is GiB (2**30 bytes); the question asks GB (10**9 bytes)."),
        (n * 4 / GB, "That is fp32 (4 bytes per parameter); fp16 and bf16 take 2."),
        (n / 1e9, "That is the parameter count in billions: multiply by the bytes per parameter."),
        (n * DTYPE_BYTES[dtype] * 8 / GB, "Bytes, not bits: 2 bytes per fp16 parameter."),
    ])


def check_attention_growth(answer, low: int = 512, high: int = 1024):
    """17 ex. 2: factor by which naive attention scores grow from ``low`` to ``high`` pixels per side."""
    side = high / low
    return check_number(answer, side ** 4, rel_tol=0.01, unit="x", mistakes=[
        (side, "That is the growth of the side length. Count tokens (height x width) first, then square them."),
        (side ** 2, "That is the growth of the number of latent tokens; the score matrix is tokens x tokens."),
        (side ** 8, "Too much: tokens grow by side², and the scores by tokens², so side⁴."),
    ])


def check_checkpoint_format(answer):
    """17 ex. 3: which checkpoint format to prefer ('.safetensors' or '.ckpt')."""
    return check_choice(answer, ".safetensors", allowed=(".safetensors", ".ckpt"), hints={
        ".ckpt": "A .ckpt file is a Python pickle: loading it can run any code its author put in. "
                 ".safetensors holds only tensors and a JSON header.",
    })
