"""The notebook-07 playground: sizes follow the layouts, and the view redraws on change."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from helpers.widgets.quantization import CUSTOM, quantization_playground, quantized_view  # noqa: E402

W = (np.random.default_rng(0).standard_normal((4, 256)) * 0.02).astype(np.float32)


def test_quantized_view_bits():
    assert quantized_view(W, "Q4_K")[1] == 4.5
    back, bpw = quantized_view(W, CUSTOM, bits=4, block=32)
    assert bpw == 4.5 and back.shape == W.shape
    assert quantized_view(W, CUSTOM, bits=8, block=-1)[1] == 8 + 16 / 256
    err_small = np.abs(quantized_view(W, CUSTOM, 4, 16)[0] - W).mean()
    err_tensor = np.abs(quantized_view(W, CUSTOM, 4, None)[0] - W).mean()
    assert err_small < err_tensor


def test_playground_updates():
    app = quantization_playground(W)
    (fmt, bits, _block), info = app.children[0].children, app.children[1]
    assert "4.500 bits" in info.value and bits.disabled
    fmt.value = "Q8_0"
    assert "8.500 bits" in info.value
    fmt.value = CUSTOM
    assert not bits.disabled
    bits.value = 3
    assert "3.500 bits" in info.value
