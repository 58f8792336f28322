"""Architectures: validation, tensor shapes and parameter counts."""
import math

import pytest

from helpers.course.catalog import get_model
from helpers.memory.architecture import Architecture, active_parameter_count, layer_tensors, model_tensors, parameter_count


def test_llama_3_1_8b_tensor_shapes_and_count():
    arch = get_model("Llama 3.1 8B").architecture
    shapes = {t.name: t.shape for t in layer_tensors(arch, 0)}
    assert shapes["blk.0.attn_k.weight"] == (4096, 1024)  # 8 KV heads x 128
    assert shapes["blk.0.ffn_down.weight"] == (14336, 4096)
    assert len(model_tensors(arch)) == 3 + 32 * 9
    assert parameter_count(arch) == 8_030_261_248


def test_tied_models_have_no_output_matrix_and_moe_active_share():
    assert "output.weight" not in {t.name for t in model_tensors(get_model("Gemma 2 2B").architecture)}
    mixtral = get_model("Mixtral 8x7B").architecture
    assert active_parameter_count(mixtral) / 1e9 == pytest.approx(12.9, rel=0.02)  # "12.9B active"


@pytest.mark.parametrize("field,value", [("n_layers", 0), ("hidden", -4), ("vocab", math.nan), ("ffn", math.inf),
                                         ("n_heads", 10**9), ("n_layers", 2.5), ("n_layers", True)])
def test_bad_numbers_are_refused_with_the_allowed_range(field, value):
    good = dict(name="x", n_layers=2, hidden=64, ffn=128, n_heads=4, n_kv_heads=2, head_dim=16, vocab=300)
    good[field] = value
    with pytest.raises(ValueError, match=rf"{field} must be an integer in \["):
        Architecture(**good)


def test_inconsistent_heads_and_families_are_refused():
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        Architecture("x", 2, 64, 128, n_heads=5, n_kv_heads=2, head_dim=16, vocab=300)
    with pytest.raises(ValueError, match="family must be one of"):
        Architecture("x", 2, 64, 128, 4, 2, 16, 300, family="gpt2")
