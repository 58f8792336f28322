"""GGUF export: llama.cpp reads our file and computes the same logits as PyTorch."""

import numpy as np
import pytest
import torch
from llama_cpp import GGML_TYPE_F32

from helpers.course.paths import DATA_DIR
from helpers.gguf.header import read_header
from helpers.gguf.quantize import quantize
from helpers.llm.load import load_model
from helpers.training import export
from helpers.training.checkpoint import load_model as load_torch_model
from helpers.training.tiny_llama import LlamaConfig, TinyLlama
from helpers.training.tokenizer import train_spm_bpe

SHIPPED = DATA_DIR / "tiny_llama"
TEXT = "ROMEO:\nwhat light through yonder window breaks\n\n" * 30
PROMPT = "ROMEO:\nwhat light through yonder"


@pytest.fixture(scope="module")
def random_model():
    vocab, _ = train_spm_bpe(TEXT, vocab_size=300, min_char_count=1)
    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=300, d_model=64, n_layer=2, n_head=4, n_kv_head=2, d_ff=256, n_ctx=64)
    model = TinyLlama(cfg).eval()
    with torch.no_grad():  # larger weights than the init so that rope/attention errors show
        for p in model.parameters():
            p.mul_(5.0)
    return model, vocab


def llama_cpp_logits(path, ids):
    """llama.cpp's logits with an F32 KV cache (its default F16 cache rounds keys and values)."""
    llm = load_model(path, n_ctx=256, logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)])


def torch_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids]))[0].numpy()


def test_tensor_names_follow_llama_cpp():
    assert export.tensor_name("tok_embeddings.weight") == "token_embd.weight"
    assert export.tensor_name("layers.3.attn.wk.weight") == "blk.3.attn_k.weight"
    assert export.tensor_name("layers.0.ffn.w2.weight") == "blk.0.ffn_down.weight"
    with pytest.raises(ValueError, match="layers.0.mystery.weight"):
        export.tensor_name("layers.0.mystery.weight")


@pytest.mark.slow
def test_f32_logits_match_pytorch(random_model, tmp_path):
    model, vocab = random_model
    path = export.write_gguf(model, vocab, tmp_path / "m.gguf", "F32")
    ids = vocab.encode(PROMPT, add_bos=True)
    diff = np.abs(llama_cpp_logits(path, ids) - torch_logits(model, ids)).max()
    assert diff < 1e-3, diff


@pytest.mark.slow
def test_swapped_rope_pairing_would_be_caught(random_model, tmp_path):
    """The logit test can fail: permuting q/k rows (HF-style NeoX layout) breaks the match."""
    model, vocab = random_model
    broken = TinyLlama(model.cfg).eval()
    broken.load_state_dict(model.state_dict())
    hd = model.cfg.head_dim
    perm = torch.cat([torch.arange(0, hd, 2), torch.arange(1, hd, 2)])
    with torch.no_grad():
        for layer in broken.layers:
            w = layer.attn.wq.weight.view(model.cfg.n_head, hd, -1)
            layer.attn.wq.weight.copy_(w[:, perm].reshape_as(layer.attn.wq.weight))
    path = export.write_gguf(broken, vocab, tmp_path / "b.gguf", "F32")
    ids = vocab.encode(PROMPT, add_bos=True)
    assert np.abs(llama_cpp_logits(path, ids) - torch_logits(model, ids)).max() > 1e-2


@pytest.mark.slow
def test_quantize_through_llama_cpp(random_model, tmp_path):
    model, vocab = random_model
    src = export.write_gguf(model, vocab, tmp_path / "m.gguf", "F32")
    dst = quantize(src, tmp_path / "q.gguf", "Q8_0")
    assert read_header(dst).file_type == "Q8_0"
    assert dst.stat().st_size < src.stat().st_size / 3





def test_write_gguf_refuses_quant_dtype(random_model, tmp_path):
    model, vocab = random_model
    with pytest.raises(ValueError, match="'Q8_0'"):
        export.write_gguf(model, vocab, tmp_path / "x.gguf", "Q8_0")


@pytest.mark.slow
def test_shipped_model_f32_matches_safetensors(tmp_path):
    model, vocab = load_torch_model(SHIPPED)
    path = export.quant_gguf(SHIPPED, "F32", out_dir=tmp_path)
    ids = vocab.encode("ROMEO:\nBut soft, what light through yonder window breaks?", add_bos=True)
    diff = np.abs(llama_cpp_logits(path, ids) - torch_logits(model, ids)).max()
    assert diff < 1e-3, diff


def test_shipped_files_are_the_documented_ones():
    for quant in export.SHIPPED:
        info = read_header(SHIPPED / export.gguf_name(quant))
        assert info.architecture == "llama" and info.file_type == quant


@pytest.mark.slow
def test_derived_files_are_remade_when_weights_change(tmp_path):
    import os
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(SHIPPED, folder)
    out = tmp_path / "out"
    q4 = export.quant_gguf(folder, "Q4_0", out_dir=out)
    first = q4.stat().st_mtime_ns
    assert export.quant_gguf(folder, "Q4_0", out_dir=out).stat().st_mtime_ns == first  # cached
    weights_time = (folder / "model.safetensors").stat().st_mtime
    for derived in (q4, out / "tiny_llama-f32.gguf"):  # pretend both predate the weights
        os.utime(derived, (weights_time - 100, weights_time - 100))
    export.quant_gguf(folder, "Q4_0", out_dir=out)
    assert q4.stat().st_mtime >= weights_time
    assert (out / "tiny_llama-f32.gguf").stat().st_mtime >= weights_time
