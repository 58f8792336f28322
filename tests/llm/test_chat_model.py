"""The shipped chat model: found without a download, verified by size and SHA-256, refused when altered."""
import hashlib

import pytest

from helpers.gguf.header import read_header
from helpers.llm import chat_model


def small_card(tmp_path, data=b"GGUF" + bytes(range(200))):
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    card = {"name": "Test model", "file": path.name, "file_bytes": len(data), "import_name": "no_such_package_x",
            "package": "no-such-package", "sha256": hashlib.sha256(data).hexdigest(),
            "reinstall": "pip install --force-reinstall --no-deps no-such-package==1.0"}
    return path, card


def test_verify_accepts_the_exact_file(tmp_path):
    path, card = small_card(tmp_path)
    assert chat_model.verify(path, card) == path
    assert chat_model.sha256_of(path, chunk_bytes=7) == card["sha256"]


def test_altered_file_refused_with_the_reinstall_command(tmp_path):
    path, card = small_card(tmp_path)
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 .* differs.*pip install --force-reinstall"):
        chat_model.verify(path, card)


def test_truncated_file_refused_by_size(tmp_path):
    path, card = small_card(tmp_path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="50 bytes, expected 204.*reinstall"):
        chat_model.verify(path, card)


def test_missing_file_and_missing_package_say_how_to_install(tmp_path):
    path, card = small_card(tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="reinstall with: pip install"):
        chat_model.verify(path, card)
    with pytest.raises(FileNotFoundError, match="no-such-package is missing.*pip install"):
        chat_model.installed_path(card)


def test_installed_file_matches_its_card():
    card = chat_model.model_card()
    path = chat_model.chat_model_path()
    header = read_header(path)
    arch = card["architecture"]
    assert path.stat().st_size == card["file_bytes"] == 98_362_432
    assert header.file_type == card["quant_type"] == "Q4_1"
    assert (header.architecture, header.n_layers, header.hidden, header.ffn) == (
        arch["gguf_architecture"], arch["blocks"], arch["hidden"], arch["feed_forward"])
    assert (header.n_heads, header.n_kv_heads, header.head_dim, header.vocab, header.context_length) == (
        arch["heads"], arch["kv_heads"], arch["head_dim"], arch["vocabulary"], arch["trained_context"])
    assert not header.has_output_weight and arch["tied_embeddings"]
    assert "<|im_start|>" in header.chat_template


@pytest.mark.slow
def test_real_model_completes_a_fact_greedily():
    from helpers.llm.load import load_model

    llm = load_model(chat_model.chat_model_path(), n_ctx=128, n_threads=2)
    out = llm.create_completion("The capital of France is", max_tokens=4, temperature=0.0)
    assert "Paris" in out["choices"][0]["text"]
