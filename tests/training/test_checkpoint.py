"""The tiny Llama's folder: saved, checked and loaded (safetensors only)."""
import pytest
import torch

from helpers.training.checkpoint import MODEL_FILES, check_model_dir, load_model, save_model
from helpers.training.tiny_llama import LlamaConfig, TinyLlama
from helpers.training.tokenizer import train_spm_bpe


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    vocab, _ = train_spm_bpe("to be or not to be, that is the question\n" * 20, vocab_size=300)
    model = TinyLlama(LlamaConfig(vocab_size=len(vocab), d_model=16, n_layer=1, n_head=2, n_kv_head=1, d_ff=32, n_ctx=16))
    save_model(model, tmp_path / "m")
    vocab.save(tmp_path / "m" / "vocab.json")
    return model, tmp_path / "m"


def test_saved_model_loads_with_the_same_weights(saved):
    model, folder = saved
    loaded, vocab = load_model(folder)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    assert len(vocab) == model.cfg.vocab_size


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model folder 'nope' does not exist; .*config.json, model.safetensors, vocab.json"):
        load_model(tmp_path / "nope")


@pytest.mark.parametrize("missing", MODEL_FILES)
def test_missing_file_is_named(saved, missing):
    _, folder = saved
    (folder / missing).unlink()
    with pytest.raises(FileNotFoundError, match=rf"lacks {missing};"):
        check_model_dir(folder)
