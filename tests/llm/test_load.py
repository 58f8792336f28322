"""Safe loading: bad files are refused with a clear error before llama.cpp sees them."""

import pytest

from helpers.course.paths import DATA_DIR
from helpers.llm import load as llm

SHIPPED = DATA_DIR / "tiny_llama" / "tiny_llama-q4_k_m.gguf"


def test_truncated_file_refused(tmp_path):
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(SHIPPED.read_bytes()[: SHIPPED.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.gguf.*truncated"):
        llm.load_model(bad)


def test_too_large_for_memory_refused():
    with pytest.raises(ValueError, match="only 0.00 GiB"):
        llm.check_file_fits(SHIPPED, available_bytes=1000)


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.gguf"):
        llm.load_model(tmp_path / "nothing.gguf")


@pytest.mark.parametrize("settings, named", [
    ({"n_ctx": -5}, "n_ctx must be a whole number of tokens >= 0.*-5"),
    ({"n_ctx": "256"}, "n_ctx.*'256'"),
    ({"n_threads": 0}, "n_threads must be a whole number >= 1.*got 0"),
    ({"n_threads": 1.5}, "n_threads.*1.5"),
    ({"n_gpu_layers": -2}, "n_gpu_layers must be -1 \\(all\\) or a whole number >= 0, got -2"),
    ({"n_gpu_layers": True}, "n_gpu_layers.*True"),
])
def test_bad_settings_named_before_llama_cpp(settings, named):
    with pytest.raises(ValueError, match=named):
        llm.load_model(SHIPPED, **settings)


def test_good_settings_pass():
    llm.check_settings(0, 1, -1)
    llm.check_settings(256, 2, 0)


@pytest.mark.slow
def test_load_and_stream_greedy_is_repeatable():
    model = llm.load_model(SHIPPED, n_ctx=128)
    first = list(llm.stream_tokens(model, "ROMEO:\n", max_tokens=12))
    model.reset()
    second = list(llm.stream_tokens(model, "ROMEO:\n", max_tokens=12))
    assert first == second and len(first) >= 1


@pytest.mark.slow
def test_perplexity_equals_pytorch_cross_entropy():
    import numpy as np
    import torch
    from llama_cpp import GGML_TYPE_F32

    from helpers.training.checkpoint import load_model as load_torch_model
    from helpers.training.export import quant_gguf

    folder = SHIPPED.parent
    model, vocab = load_torch_model(folder)
    ids = vocab.encode("KING:\nNow is the winter of our discontent made glorious summer. " * 8)
    window = 32
    path = quant_gguf(folder, "F32")
    ours = llm.perplexity(llm.load_model(path, n_ctx=64, logits_all=True, type_k=GGML_TYPE_F32,
                                         type_v=GGML_TYPE_F32), ids, window=window, max_windows=2)
    x = torch.tensor([ids[:window], ids[window:2 * window]])
    with torch.no_grad():
        _, loss = model(x[:, :-1], x[:, 1:])
    assert ours == pytest.approx(float(np.exp(loss.item())), rel=1e-3)


def test_perplexity_needs_enough_tokens():
    with pytest.raises(ValueError, match="window=128"):
        llm.perplexity(None, [1, 2, 3])


def test_log_softmax_rows_sum_to_one():
    import numpy as np

    out = llm.log_softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    assert np.allclose(np.exp(out).sum(axis=1), 1.0)
    assert np.allclose(out[1], np.log(0.5))


@pytest.mark.slow
def test_chat_template_from_metadata_is_applied():
    from helpers.training.export import CHAT_TEMPLATE

    model = llm.load_model(SHIPPED, n_ctx=128)
    assert model.metadata["tokenizer.chat_template"] == CHAT_TEMPLATE
    reply = model.create_chat_completion([{"role": "user", "content": "What news?"}], max_tokens=8,
                                         temperature=0.0)
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["usage"]["prompt_tokens"] == len(model.tokenize(b"USER:\nWhat news?\n\nASSISTANT:\n", add_bos=True))


@pytest.mark.parametrize("max_tokens", [0, -1, 2.5, "48"])
def test_a_max_tokens_that_would_mean_until_the_context_is_full_is_refused(max_tokens):
    model = llm.load_model(SHIPPED, n_ctx=64, n_threads=1)
    with pytest.raises(ValueError, match=rf"max_tokens must be a whole number of tokens >= 1, got {max_tokens!r}"):
        list(llm.stream_tokens(model, "ROMEO:\n", max_tokens=max_tokens))
