"""Architectures: validation, tensor shapes and parameter counts."""
import math

import pytest

from helpers.course.catalog import get_model
from helpers.memory.architecture import (
    Architecture,
    active_parameter_count,
    layer_tensors,
    model_tensors,
    parameter_count,
    parameters_read_per_token,
)


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


def test_new_families_lay_out_their_own_tensors():
    qwen3 = {t.name: t.shape for t in layer_tensors(get_model("Qwen3 30B-A3B").architecture, 0)}
    assert qwen3["blk.0.ffn_up_exps.weight"] == (2048, 768, 128) and qwen3["blk.0.attn_q_norm.weight"] == (128,)
    gemma = {t.name: t.shape for t in layer_tensors(get_model("Gemma 3 27B").architecture, 0)}
    assert gemma["blk.0.attn_q.weight"] == (5376, 32 * 128)  # head_dim 128, not 5376 / 32 = 168
    oss = {t.name: t.shape for t in layer_tensors(get_model("gpt-oss 20B").architecture, 0)}
    assert oss["blk.0.attn_sinks.weight"] == (64,) and oss["blk.0.ffn_down_exps.bias"] == (2880, 32)
    deepseek = get_model("DeepSeek V3").architecture
    dense = {t.name: t.shape for t in layer_tensors(deepseek, 2)}
    moe = {t.name: t.shape for t in layer_tensors(deepseek, 3)}
    assert dense["blk.2.ffn_up.weight"] == (7168, 18432) and "blk.2.ffn_up_exps.weight" not in dense
    assert moe["blk.3.ffn_up_shexp.weight"] == (7168, 2048) and moe["blk.3.attn_kv_a_mqa.weight"] == (7168, 576)
    assert moe["blk.3.attn_k_b.weight"] == (128, 512, 128) and moe["blk.3.attn_v_b.weight"] == (512, 128, 128)


def test_layer_patterns_follow_llama_cpp():
    gemma = get_model("Gemma 3 1B").architecture
    assert [gemma.is_swa_layer(i) for i in range(12)] == [True] * 5 + [False] + [True] * 5 + [False]
    oss = get_model("gpt-oss 20B").architecture
    assert [oss.is_swa_layer(i) for i in range(4)] == [True, False, True, False]
    assert not any(get_model("Llama 3.1 8B").architecture.is_swa_layer(i) for i in range(32))


@pytest.mark.parametrize("name,active_b", [("Qwen3 30B-A3B", 3.3), ("Qwen3 235B-A22B", 22), ("DeepSeek V3", 37)])
def test_moe_active_parameters_match_the_model_cards(name, active_b):
    assert active_parameter_count(get_model(name).architecture) / 1e9 == pytest.approx(active_b, rel=0.03)


def test_gpt_oss_active_count_excludes_the_embedding_lookup():
    """OpenAI's 3.6B / 5.1B active leave out the embedding matrix (a row lookup, not a matrix product)."""
    for name, active_b in (("gpt-oss 20B", 3.61), ("gpt-oss 120B", 5.13)):
        arch = get_model(name).architecture
        embedding = arch.vocab * arch.hidden
        assert (active_parameter_count(arch) - embedding) / 1e9 == pytest.approx(active_b, rel=0.01)
        assert parameters_read_per_token(arch) / 1e9 == pytest.approx(active_b, rel=0.01)


def test_a_tied_embedding_table_is_read_in_full():
    tied = get_model("Llama 3.2 1B").architecture
    assert tied.tied_embeddings and parameters_read_per_token(tied) == active_parameter_count(tied)
    untied = get_model("Llama 3.1 8B").architecture
    assert active_parameter_count(untied) - parameters_read_per_token(untied) == 128256 * 4096


@pytest.mark.parametrize("bad,match", [(dict(sliding_window=128), "go together"),
                                       (dict(sliding_window=128, swa_period=1), "go together"),
                                       (dict(kv_lora_rank=64), "qk_rope_head_dim"),
                                       (dict(n_dense_layers=1), "needs experts")])
def test_inconsistent_new_fields_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        Architecture("x", 2, 64, 128, 4, 2, 16, 300, **bad)
