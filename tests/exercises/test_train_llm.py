"""Exercise checks of notebook 19: right answers pass, typical mistakes get their hint."""
import math

from helpers.exercises.train_llm import check_layer_parameters, check_rope_pairing, check_uniform_perplexity
from helpers.training.tiny_llama import LlamaConfig, TinyLlama


def test_layer_parameters_check_agrees_with_the_model():
    cfg = LlamaConfig(vocab_size=300, d_model=128, n_head=4, n_kv_head=2, d_ff=512, n_layer=1)
    right = sum(p.numel() for p in TinyLlama(cfg).layers[0].parameters())
    assert check_layer_parameters(right, 128, 4, 2, 512)
    assert "grouped-query" in check_layer_parameters(right + 2 * 128 * 64, 128, 4, 2, 512).message
    assert "three matrices" in check_layer_parameters(right - 128 * 512, 128, 4, 2, 512).message
    assert "RMSNorm" in check_layer_parameters(right - 256, 128, 4, 2, 512).message
    assert not check_layer_parameters(None, 128, 4, 2, 512)


def test_uniform_perplexity_check():
    assert check_uniform_perplexity(1024, 1024)
    assert "exp(loss)" in check_uniform_perplexity(math.log(1024), 1024).message
    assert "bits" in check_uniform_perplexity(10, 1024).message
    assert "inverse" in check_uniform_perplexity(1 / 1024, 1024).message


def test_rope_pairing_check():
    assert check_rope_pairing("adjacent")
    assert "NeoX" in check_rope_pairing("halves").message
    assert not check_rope_pairing("diagonal")
