"""Checks for the exercises of notebook 07 (quantization)."""
from helpers.exercises import check_choice, check_number
from helpers.quantization.block_formats import LAYOUTS


def check_bits_per_weight(answer, fmt: str):
    """07 ex. 1: bits per weight of ``fmt`` from its block layout (scales included)."""
    layout = LAYOUTS[fmt]
    quant_bits = sum(f.nbytes for f in layout.fields if f.name in ("qs", "qh", "ql")) * 8 / layout.weights_per_block
    return check_number(answer, layout.bits_per_weight, rel_tol=0.001, unit="bits", mistakes=[
        (quant_bits, "That counts only the quants; the scales and mins stored in the block cost bits too."),
        (layout.bytes_per_block, "That is bytes per block; multiply by 8 and divide by the weights per block."),
        (layout.bits_per_weight / 8, "That is bytes per weight; the question asks for bits."),
    ])


def check_file_gb(answer, n_params: float, fmt: str):
    """07 ex. 2: size in GB (10**9 bytes) of ``n_params`` weights in ``fmt``."""
    bpw = LAYOUTS[fmt].bits_per_weight
    right = n_params * bpw / 8 / 1e9
    return check_number(answer, right, rel_tol=0.01, unit="GB", mistakes=[
        (n_params * bpw / 1e9, "That is gigabits; divide by 8 for bytes."),
        (right * 1e9 / 2**30, "That is GiB (2**30 bytes); the question asks for GB (10**9 bytes)."),
        (n_params * 4 / 8 / 1e9, "4 bits per weight forgets the block scales: use the format's real bits per weight."),
    ])


def check_best_format(answer, best: str, allowed):
    """07 ex. 3: the format with the smallest measured error among ``allowed``."""
    allowed = tuple(allowed)
    return check_choice(answer, best, allowed=allowed, hints={
        name: f"{name} is not the smallest in the table; compare the RMSE column again." for name in allowed if name != best
    })


def check_least_drift(answer, kl: dict, bits: dict):
    """07 ex. 4: the requantized mix with the smallest mean KL divergence from Q4_1.

    ``kl``: {mix: mean KL from Q4_1, nats}; ``bits``: {mix: bits per weight}, for the same mixes.
    """
    if set(kl) != set(bits):
        raise ValueError(f"kl and bits must name the same mixes, got {sorted(kl)} and {sorted(bits)}")
    best = min(kl, key=kl.get)
    hints = {}
    for name in kl:
        drift = f"{name} drifted further (mean KL {kl[name]:.3g} against {kl[best]:.3g} nats)"
        hints[name] = (f"{drift}, although it has more bits per weight ({bits[name]:.3g} against {bits[best]:.3g}): "
                       "rounding onto a grid that does not line up with Q4_1's adds error whatever the bits."
                       if bits[name] > bits[best] else f"{drift}; compare the KL column, not perplexity or size.")
    return check_choice(answer, best, allowed=tuple(kl), hints=hints)
