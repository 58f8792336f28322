"""Widget for notebook 07: pick a GGUF format, or your own bits and block size, and see the error
histogram of a real weight matrix and what the choice does to file size."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from helpers.quantization.block_formats import FORMATS, LAYOUTS, round_trip
from helpers.quantization.error import blockwise_round_trip, scale_bits_per_weight

CUSTOM = "custom: bits + block"
BLOCK_CHOICES = (("16", 16), ("32", 32), ("64", 64), ("128", 128), ("256", 256), ("whole row", -1),
                 ("whole tensor", None))


def quantized_view(w, fmt: str, bits: int = 4, block=32):
    """``(round-tripped w, bits per weight)`` for a GGUF format, or for ``CUSTOM`` int ``bits`` / ``block``.

    ``block=-1`` means one scale per row, ``None`` one per tensor; custom scales are counted as f16.
    """
    w = np.asarray(w, np.float32)
    if fmt != CUSTOM:
        return round_trip(w, fmt), LAYOUTS[fmt].bits_per_weight
    size = w.shape[1] if block == -1 else block
    return blockwise_round_trip(w, bits, size), bits + scale_bits_per_weight(size, w.size)


def draw_error_histogram(w, back, title: str, ax=None):
    ax = ax or plt.gca()
    err = (back - w).ravel()
    ax.hist(err, bins=120, color="#3182bd")
    ax.set_yscale("log")
    ax.set_xlabel("quantization error per weight (stored - original)")
    ax.set_ylabel("count (log)")
    ax.set_title(title)


def quantization_playground(w, n_params_model: float = 8e9):
    """Format dropdown, bits slider and block dropdown; histogram plus size of ``w`` and of a model."""
    fmt = widgets.Dropdown(options=[*FORMATS, CUSTOM], value="Q4_K", description="format")
    bits = widgets.IntSlider(value=4, min=2, max=8, description="bits")
    block = widgets.Dropdown(options=BLOCK_CHOICES, value=32, description="block")
    plot = widgets.Output()
    info = widgets.HTML()

    def redraw(_=None):
        custom = fmt.value == CUSTOM
        bits.disabled = block.disabled = not custom
        back, bpw = quantized_view(w, fmt.value, bits.value, block.value)
        rmse = float(np.sqrt(np.mean((back - w) ** 2)))
        info.value = (f"<b>{bpw:.3f} bits per weight</b>; RMSE {rmse:.3g}; this matrix {w.size * bpw / 8:,.0f} bytes "
                      f"(fp16: {w.size * 2:,} bytes); a {n_params_model / 1e9:g}B-parameter model: "
                      f"{n_params_model * bpw / 8 / 1e9:.2f} GB (10^9 bytes)")
        with plot:
            plot.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(7, 2.8))
            draw_error_histogram(w, back, fmt.value if not custom else f"int{bits.value}, block {block.label}", ax)
            plt.show()

    for control in (fmt, bits, block):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([fmt, bits, block]), info, plot])
