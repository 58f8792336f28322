"""Measured quantization error, blockwise scales, importance-weighted scales, quant recommendation."""
import gguf
import numpy as np
import pytest

from helpers.course.catalog import get_model
from helpers.memory.vram import FIT_MARGIN_BYTES, memory_plan
from helpers.quantization import error as qe
from helpers.quantization.block_formats import FORMATS

RNG = np.random.default_rng(0)
W = (RNG.standard_normal((32, 512)) * 0.02).astype(np.float32)


def test_bits_per_weight_agree_with_gguf_constants():
    for fmt in FORMATS:
        block, size = gguf.constants.GGML_QUANT_SIZES[getattr(gguf.GGMLQuantizationType, fmt)]
        assert qe.bits_per_weight(fmt) == size * 8 / block


def test_measure_and_table():
    x = RNG.standard_normal((512, 4))
    m = qe.measure(W, "Q8_0", x)
    assert 0 < m["RMSE"] <= m["max abs error"] and 0 < m["relative output error"] < 0.05
    rows = qe.error_table({"a": W, "b": W[:, :256], "skipped": W[:, :100]}, ["Q4_K", "Q8_0", "Q2_K"])
    assert [r["format"] for r in rows] == ["Q8_0", "Q4_K", "Q2_K"]
    assert rows[0]["RMSE"] < rows[1]["RMSE"] < rows[2]["RMSE"]
    with pytest.raises(ValueError, match="multiple of 256"):
        qe.error_table({"small": W[:, :100]}, ["Q8_0"])


def test_smaller_blocks_smaller_error():
    w = W * np.logspace(-1, 1, 512, dtype=np.float32)  # columns of very different size
    errors = [np.sqrt(np.mean((qe.blockwise_round_trip(w, 4, b) - w) ** 2)) for b in (16, 64, 512, None)]
    assert errors == sorted(errors)
    assert qe.scale_bits_per_weight(32, 10_000) == 0.5
    with pytest.raises(ValueError, match="block must divide"):
        qe.blockwise_round_trip(w, 4, 100)


def test_importance_moves_error_to_unimportant_weights():
    x = RNG.standard_normal(32)
    importance = np.where(np.arange(32) < 4, 100.0, 1.0)
    plain = qe.best_scale(x, np.ones(32), 3)
    weighted = qe.best_scale(x, importance, 3)
    assert qe.weighted_error(x, importance, weighted, 3) <= qe.weighted_error(x, importance, plain, 3)
    assert qe.weighted_error(x, np.ones(32), plain, 3) <= qe.weighted_error(x, np.ones(32), weighted, 3)
    assert qe.best_scale(np.zeros(8), np.ones(8), 4) == 0.0
    with pytest.raises(ValueError, match="importance"):
        qe.best_scale(x, -np.ones(32), 4)


def test_recommendation_walks_down_the_ladder():
    arch = get_model("Llama 3.1 8B").architecture
    picks = [qe.recommend_quant(arch, gib * 2**30)[0] for gib in (2, 6, 8, 24)]
    assert picks[0] is None and picks[-1] == "Q8_0"
    order = [qe.QUANT_LADDER.index(p) for p in picks[1:]]
    assert order == sorted(order, reverse=True)
    mix, need = qe.recommend_quant(arch, 8 * 2**30)
    assert need <= 8 * 2**30 - FIT_MARGIN_BYTES


def test_recommendation_keeps_the_fit_margin_free():
    arch = get_model("Llama 3.1 8B").architecture
    q8_need = memory_plan(arch, "Q8_0", 8192).gpu_total
    assert qe.recommend_quant(arch, q8_need + FIT_MARGIN_BYTES) == ("Q8_0", q8_need)
    mix, need = qe.recommend_quant(arch, q8_need + FIT_MARGIN_BYTES - 1)
    assert mix != "Q8_0" and need < q8_need


@pytest.mark.slow
def test_perplexity_of_a_random_model_and_its_quants(tmp_path):
    from helpers.gguf.quantize import quantize
    from helpers.gguf.random_weights import write_random_llama_gguf
    from helpers.memory.architecture import Architecture

    arch = Architecture(name="ppl", n_layers=1, hidden=64, ffn=128, n_heads=2, n_kv_heads=2, head_dim=32,
                        vocab=320, max_context=128, tokenizer="spm")
    src = write_random_llama_gguf(tmp_path / "f32.gguf", arch)
    text = "the quick brown fox jumps over the lazy dog " * 4
    ppl = qe.gguf_perplexity(src, text, n_ctx=128)
    assert 1 < ppl < 2 * arch.vocab  # random weights: about uniform over the vocabulary
    q8 = qe.gguf_perplexity(quantize(src, tmp_path / "q8.gguf", "Q8_0"), text, n_ctx=128)
    assert abs(q8 - ppl) / ppl < 0.05
    with pytest.raises(ValueError, match="too short"):
        qe.gguf_perplexity(src, "", n_ctx=128)


def test_quality_catalog():
    rows = {r["mix"]: r for r in qe.load_quality_catalog()}
    assert all(m in rows for m in qe.QUANT_LADDER)
    ladder = [rows[m]["perplexity_increase"] for m in qe.QUANT_LADDER]
    assert ladder == sorted(ladder)  # fewer bits, more perplexity
    sizes = [rows[m]["size_gib_at_reference"] for m in qe.QUANT_LADDER]
    assert sizes == sorted(sizes, reverse=True)


def test_quality_catalog_refuses_bad_rows(tmp_path):
    bad = tmp_path / "q.csv"
    bad.write_text("mix,size_gib_at_reference,perplexity_increase,reference_model,source\nQ4_K_M,4.5,-1,x,src\n")
    with pytest.raises(ValueError, match="bad row for 'Q4_K_M'"):
        qe.load_quality_catalog(bad)


def test_storage_type_falls_back_like_llama_cpp():
    assert qe.storage_type("Q4_K", 512) == "Q4_K"
    assert qe.storage_type("Q4_K", 64) == "Q5_0"
    assert qe.storage_type("Q6_K", 96) == "Q8_0"
    assert qe.storage_type("Q4_0", 48) == "F16"


def test_quantized_params_and_classifier_table():
    from helpers.quantization.model_weights import classifier_quality, digits_split, train_digits_mlp

    params = train_digits_mlp(hidden=(64,), max_iter=30, cache_dir=None)
    quantized, used = qe.quantize_params(params, "Q4_K")
    assert used == {"layer1": "Q5_0", "layer2": "Q5_0"}  # rows of 64 weights: not a multiple of 256
    assert np.array_equal(quantized["layer1.bias"], params["layer1.bias"])
    assert not np.array_equal(quantized["layer1"], params["layer1"])
    _, _, x, y = digits_split()
    quality = classifier_quality(params, x, y)
    assert 1 <= quality["perplexity"] < 10 and quality["accuracy"] > 0.8
    rows = {r["format"]: r for r in qe.classifier_quant_table(params, ["Q8_0", "Q2_K"], x, y)}
    assert rows["F32"]["KL divergence from F32"] == 0
    assert 0 < rows["Q8_0"]["KL divergence from F32"] < rows["Q2_K"]["KL divergence from F32"]
