"""Requantization measured: bits per weight, KL divergence, NLL, windows, stacked error, model comparison."""
import numpy as np
import pytest

from helpers.quantization import requantize as rq


def test_bits_per_weight():
    assert rq.bits_per_weight(144, 256) == 4.5  # one Q4_K super-block
    assert rq.bits_per_weight(20 * 1000, 32 * 1000) == 5.0  # Q4_1 blocks
    with pytest.raises(ValueError, match="positive.*0"):
        rq.bits_per_weight(0, 256)


def test_kl_divergence_by_hand():
    p = np.log([[0.5, 0.5], [0.25, 0.75]])
    q = np.log([[0.9, 0.1], [0.25, 0.75]])
    kl = rq.kl_divergence(p, q)
    assert kl[0] == pytest.approx(0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1))
    assert kl[1] == pytest.approx(0.0)
    assert rq.kl_divergence(q, p)[0] != pytest.approx(kl[0])  # not symmetric: the reference comes first
    with pytest.raises(ValueError, match="one shape"):
        rq.kl_divergence(p, q[:1])


def test_kl_divergence_is_never_negative():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 50, 100)) * 3
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    kl = rq.kl_divergence(log_probs[0], log_probs[1])
    assert kl.shape == (50,) and np.all(kl > 0)
    assert np.all(rq.kl_divergence(log_probs[0], log_probs[0]) == 0)


def test_token_nll():
    uniform = np.log(np.full((3, 4), 0.25))
    assert rq.token_nll(uniform, [0, 3, 1]) == pytest.approx([np.log(4)] * 3)
    sure = np.log(np.array([[1e-9, 1 - 1e-9]]))
    assert rq.token_nll(sure, [1])[0] == pytest.approx(0, abs=1e-8)
    with pytest.raises(ValueError, match="one target per row: 2 targets for 3 rows"):
        rq.token_nll(uniform, [0, 1])


def test_windows():
    assert rq.windows(list(range(10)), 4, 5) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert rq.windows(list(range(8)), 4, 5) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert rq.windows(list(range(10)), 4, 1) == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="at least window=4 tokens, got 3"):
        rq.windows([1, 2, 3], 4, 1)
    with pytest.raises(ValueError, match="window must be >= 2"):
        rq.windows([1, 2, 3], 1, 1)


def test_requantizing_stacks_the_errors():
    rng = np.random.default_rng(1)
    matrices = {"a": (rng.standard_normal((16, 256)) * 0.02).astype(np.float32),
                "b": (rng.standard_t(3, (8, 512)) * 0.02).astype(np.float32)}
    rows = {r["target"]: r for r in rq.stacked_error_table(matrices, "Q4_1", ["Q8_0", "Q4_K", "Q2_K", "Q4_1"])}
    via = rows["Q8_0"]["Q4_1 alone"]
    assert rows["Q8_0"]["from the original"] < via / 5  # Q8_0 from the original is far better...
    assert rows["Q8_0"]["from Q4_1"] >= 0.95 * via  # ...but from Q4_1 it keeps Q4_1's error
    assert rows["Q4_K"]["from Q4_1"] > rows["Q4_K"]["from the original"]
    assert rows["Q2_K"]["from Q4_1"] > 2 * via  # a coarser target: its own error dominates
    assert rows["Q4_1"]["from Q4_1"] == pytest.approx(via, rel=0.01)  # the same grid again: nearly free


def test_relative_output_error():
    w = np.eye(2)
    assert rq.relative_output_error(w, w, np.ones((2, 1))) == 0
    assert rq.relative_output_error(w, 1.1 * w, np.ones((2, 1))) == pytest.approx(0.1)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    from helpers.gguf.quantize import quantize
    from helpers.gguf.random_weights import write_random_llama_gguf
    from helpers.memory.architecture import Architecture

    folder = tmp_path_factory.mktemp("requantize")
    arch = Architecture(name="rq", n_layers=1, hidden=256, ffn=512, n_heads=4, n_kv_heads=4, head_dim=64,
                        vocab=320, max_context=128, tokenizer="spm")
    f32 = write_random_llama_gguf(folder / "f32.gguf", arch)
    q4_1 = quantize(f32, folder / "q4_1.gguf", "Q4_1", threads=1)
    return arch, f32, q4_1, quantize(q4_1, folder / "q2_k.gguf", "Q2_K", threads=1, allow_requantize=True)


@pytest.mark.slow
def test_file_size(tiny_files):
    from helpers.memory.architecture import model_tensors

    arch, f32, q4_1, _ = tiny_files
    size = rq.file_size(f32)
    assert size.n_weights == sum(int(np.prod(t.shape)) for t in model_tensors(arch))
    assert size.tensor_bytes == 4 * size.n_weights < size.file_bytes
    assert size.bits_per_weight == 32 and size.tensor_types == {"F32": len(model_tensors(arch))}
    q = rq.file_size(q4_1)
    assert q.n_weights == size.n_weights and "Q4_1" in q.tensor_types and 4 < q.bits_per_weight < 32


@pytest.mark.slow
def test_quality_against_the_reference(tiny_files):
    from helpers.llm.load import load_model, perplexity

    _, _, q4_1, q2_k = tiny_files
    ref_llm = load_model(q4_1, n_ctx=32, n_threads=1, logits_all=True)
    ids = np.random.default_rng(0).integers(3, 320, 100).tolist()
    chunks = rq.windows(ids, 32, 2)
    reference = [rq.next_token_log_probs(ref_llm, chunk) for chunk in chunks]
    ref = rq.reference_quality(chunks, reference)
    assert ref.nll.shape == ref.kl.shape == ref.same_top.shape == (2 * 31,)
    assert ref.mean_kl == 0 and ref.same_top_share == 1
    assert ref.perplexity == pytest.approx(perplexity(ref_llm, ids, 32, 2), rel=1e-5)
    itself = rq.quality_against(ref_llm, chunks, reference)  # evaluated again: the same numbers
    assert np.allclose(itself.nll, ref.nll) and np.allclose(itself.kl, 0, atol=1e-6) and itself.same_top.all()
    q2_llm = load_model(q2_k, n_ctx=32, n_threads=1, logits_all=True)
    other = rq.quality_against(q2_llm, chunks, reference)
    assert other.mean_kl > 0 and np.all(other.kl >= -1e-9) and other.same_top_share < 1
    assert rq.llama_bits_per_weight(q2_llm) == rq.file_size(q2_k).bits_per_weight
    with pytest.raises(ValueError, match="one reference array per window: 1 for 2 windows"):
        rq.quality_against(q2_llm, chunks, reference[:1])
