"""The PyTorch tiny Llama: shapes, causality, RoPE, GQA grouping, parameter counts."""
import pytest
import torch

from helpers.training.tiny_llama import LlamaConfig, TinyLlama, apply_rope, parameter_counts, rope_tables

CFG = LlamaConfig(vocab_size=300, d_model=32, n_layer=2, n_head=4, n_kv_head=2, d_ff=64, n_ctx=16)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TinyLlama(CFG).eval()


def test_logits_shape_and_loss(model):
    idx = torch.randint(0, CFG.vocab_size, (2, 10))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 10, CFG.vocab_size)
    assert 4.0 < loss.item() < 7.5  # near ln(300) = 5.7 at initialisation


def test_causal_future_tokens_do_not_change_past_logits(model):
    a = torch.tensor([[5, 6, 7, 8, 9]])
    b = torch.tensor([[5, 6, 7, 100, 200]])
    with torch.no_grad():
        assert torch.allclose(model(a)[0, :3], model(b)[0, :3], atol=1e-6)
        assert not torch.allclose(model(a)[0, 3], model(b)[0, 3])


def test_rope_rotates_adjacent_pairs_and_keeps_norm():
    cos, sin = rope_tables(4, 3, 10000.0)
    x = torch.tensor([1.0, 0.0, 0.0, 1.0]).expand(1, 1, 3, 4)
    y = apply_rope(x, cos, sin)
    assert torch.allclose(y[0, 0, 1, :2], torch.tensor([cos[1, 0], sin[1, 0]]))
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1))
    assert torch.allclose(y[0, 0, 0], x[0, 0, 0])  # position 0: no rotation


def test_parameter_counts_add_up(model):
    counts = parameter_counts(model)
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())
    per_layer = 2 * 32 + 32 * 32 * 2 + 2 * 32 * 16 + 3 * 32 * 64
    assert counts["layers.0"] == per_layer


def test_too_long_sequence_named(model):
    with pytest.raises(ValueError, match="17 tokens exceeds n_ctx 16"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_bad_head_split_named():
    with pytest.raises(ValueError, match="n_kv_head 3"):
        LlamaConfig(n_head=4, n_kv_head=3)


def test_greedy_generation_is_deterministic(model):
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(model.generate(idx, 5), model.generate(idx, 5))
    assert model.generate(idx, 5).shape == (1, 8)
