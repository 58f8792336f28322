"""One tensor of a real GGUF read as stored, and the course's dequantizer against gguf's."""
import numpy as np
import pytest

from helpers.quantization import block_formats as quants
from helpers.quantization.llamacpp_match import dequantizes_like_gguf, read_tensor


def test_q4_1_fields_rebuild_the_block():
    x = np.linspace(-1, 2, 64, dtype=np.float32).reshape(1, 64)
    d, m, q = quants.q4_1_fields(quants.quantize_q4_1(x))
    assert d.shape == m.shape == (2, 1) and q.shape == (2, 32) and q.dtype == np.uint8
    assert q.min() == 0 and q.max() == 15  # the block's minimum and maximum are levels 0 and 15
    assert np.array_equal((d * q + m).reshape(1, 64), quants.dequantize_q4_1(quants.quantize_q4_1(x)))
    with pytest.raises(ValueError, match="multiple of 20 bytes"):
        quants.q4_1_fields(np.zeros(21, np.uint8))


def test_dequantizes_like_gguf():
    x = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)
    for fmt in ("Q4_1", "Q8_0", "Q4_K"):
        assert dequantizes_like_gguf(quants.quantize(x, fmt), fmt)


@pytest.mark.slow
def test_real_chat_model_tensor():
    from helpers.llm.chat_model import chat_model_path

    kind, data = read_tensor(chat_model_path(), "blk.0.attn_q.weight")
    assert kind == "Q4_1" and data.dtype == np.uint8 and data.shape == (576, 576 // 32 * 20)
    assert dequantizes_like_gguf(data, kind)
    _, _, levels = quants.q4_1_fields(data)
    assert levels.max() <= 15
    with pytest.raises(ValueError, match="no tensor 'blk.99.attn_q.weight'"):
        read_tensor(chat_model_path(), "blk.99.attn_q.weight")
