"""Random-weight GGUF files: tensor names, shapes and types match the size predictor; llama.cpp loads them."""
from concurrent.futures import ThreadPoolExecutor

import gguf
import pytest

from helpers.gguf.random_weights import byte_fallback_vocab, cached_random_gguf, quantize, write_random_gguf
from helpers.memory.architecture import Architecture
from helpers.memory.gguf_size import predicted_tensors

TINY = Architecture("tiny", n_layers=2, hidden=64, ffn=128, n_heads=4, n_kv_heads=2, head_dim=16, vocab=320,
                    max_context=256, tied_embeddings=False)
TINY_TIED = Architecture("tiny tied", n_layers=2, hidden=64, ffn=128, n_heads=4, n_kv_heads=2, head_dim=16,
                         vocab=300, max_context=256, tied_embeddings=True)


def file_tensors(path):
    return [(t.name, tuple(int(x) for x in t.shape), t.tensor_type.name) for t in gguf.GGUFReader(path).tensors]


@pytest.mark.parametrize("arch", [TINY, TINY_TIED])
def test_f16_file_matches_predicted_tensors(tmp_path, arch):
    path = write_random_gguf(arch, tmp_path / "m.gguf")
    expected = [(t.name, tuple(t.shape), t.ggml_type) for t in predicted_tensors(arch, "F16")]
    assert sorted(file_tensors(path)) == sorted(expected)


def test_quantized_file_matches_predicted_types(tmp_path):
    f16 = write_random_gguf(TINY, tmp_path / "m.gguf")
    q8 = quantize(f16, tmp_path / "q8.gguf", "Q8_0", threads=1)
    expected = [(t.name, tuple(t.shape), t.ggml_type) for t in predicted_tensors(TINY, "Q8_0")]
    assert sorted(file_tensors(q8)) == sorted(expected)
    assert q8.stat().st_size < f16.stat().st_size


def test_file_loads_and_generates_in_llama_cpp(tmp_path):
    import llama_cpp

    path = write_random_gguf(TINY, tmp_path / "m.gguf")
    llm = llama_cpp.Llama(str(path), n_ctx=64, n_threads=1, verbose=False)
    assert llm.n_vocab() == TINY.vocab
    llm.eval([1, 300, 301])
    assert 0 <= llm.sample(top_k=1) < TINY.vocab


def test_vocab_has_exactly_the_model_size():
    tokens, scores, types = byte_fallback_vocab(400)
    assert len(tokens) == len(scores) == len(types) == 400
    assert len(set(tokens)) == 400


def test_cache_builds_once_and_reuses(tmp_path):
    first = cached_random_gguf(TINY, "Q8_0", tmp_path)
    mtime = first.stat().st_mtime_ns
    assert cached_random_gguf(TINY, "Q8_0", tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*F16*"))  # the intermediate F16 file is removed
    assert not list(tmp_path.glob("*.tmp"))
    assert not list(tmp_path.glob(".scratch-*"))  # nor its private scratch folder


def test_two_builders_of_the_same_file_at_once_both_succeed(tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda _: cached_random_gguf(TINY, "Q8_0", tmp_path), range(2)))
    assert paths[0] == paths[1] and paths[0].is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [paths[0].name]


def test_refuses_unsupported_inputs(tmp_path):
    with pytest.raises(ValueError, match="family"):
        write_random_gguf(Architecture("p", 1, 64, 128, 4, 4, 16, 320, family="phi3"), tmp_path / "p.gguf")
    with pytest.raises(ValueError, match="vocab"):
        write_random_gguf(Architecture("v", 1, 64, 128, 4, 4, 16, 100), tmp_path / "v.gguf")
    with pytest.raises(ValueError, match="quant"):
        quantize(tmp_path / "x.gguf", tmp_path / "y.gguf", "Q9_9")
    with pytest.raises(FileNotFoundError):
        quantize(tmp_path / "missing.gguf", tmp_path / "y.gguf", "Q8_0")
    assert not (tmp_path / "p.gguf").exists()


def test_new_families_are_written_with_their_keys_and_wrong_expert_settings_refused(tmp_path):
    from helpers.gguf.header import open_checked
    from helpers.gguf.random_weights import check_supported
    from helpers.memory.estimator_check import REDUCED

    path = write_random_gguf(REDUCED["deepseek2"], tmp_path / "ds.gguf")
    fields = open_checked(path).fields
    value = lambda key: fields[key].parts[fields[key].data[0]][0]  # noqa: E731
    assert value("deepseek2.attention.kv_lora_rank") == 128 and value("deepseek2.leading_dense_block_count") == 1
    assert value("deepseek2.attention.key_length") == 128 + 32  # the compressed vector + rotary key
    with pytest.raises(ValueError, match="qwen3moe needs experts"):
        check_supported(Architecture("x", 2, 64, 128, 4, 2, 16, 300, family="qwen3moe"))
    with pytest.raises(ValueError, match="gemma3 needs no experts"):
        check_supported(Architecture("x", 2, 64, 128, 4, 2, 16, 300, family="gemma3", n_experts=4, n_experts_used=2))
