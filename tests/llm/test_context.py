"""KV cache and context measurements from llama.cpp: buffers against the estimator, loss by position."""
import math

import numpy as np
import pytest

from helpers.course.paths import REPO_ROOT
from helpers.llm.context import (
    KV_CACHE_GGML_TYPES,
    architecture_from_gguf,
    bucket_perplexity,
    bucket_spread,
    captured_llama_log,
    first_degraded_bucket,
    ggml_type,
    make_llama,
    measure_context,
    sequence_nll,
    window_nll,
    window_starts,
)
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes
from helpers.training.tiny_llama import LlamaConfig

MODEL_DIR = REPO_ROOT / "data" / "tiny_llama"
GGUF = MODEL_DIR / "tiny_llama-f16.gguf"

@pytest.mark.parametrize("n_ctx", [256, 512])
def test_measurement_says_when_llama_cpp_warns_past_the_trained_context(n_ctx):
    m = measure_context(GGUF, n_ctx)
    trained = architecture_from_gguf(GGUF).max_context
    assert m.n_ctx_train == trained
    assert bool(m.warning) == (n_ctx > trained)
    if m.warning:
        assert f"({n_ctx}) > n_ctx_train ({trained})" in m.warning


def test_ggml_type_ids_match_llama_cpp():
    import llama_cpp

    for name, value in KV_CACHE_GGML_TYPES.items():
        assert getattr(llama_cpp, f"GGML_TYPE_{name.upper()}") == value
    with pytest.raises(ValueError, match="q4_k"):
        ggml_type("q4_k")


def test_architecture_from_gguf_matches_config():
    cfg = LlamaConfig.load(MODEL_DIR / "config.json")
    arch = architecture_from_gguf(GGUF)
    assert (arch.n_layers, arch.hidden, arch.ffn, arch.n_heads, arch.n_kv_heads, arch.head_dim, arch.vocab) == \
        (cfg.n_layer, cfg.d_model, cfg.d_ff, cfg.n_head, cfg.n_kv_head, cfg.head_dim, cfg.vocab_size)
    assert arch.max_context == cfg.n_ctx and arch.family == "llama"


@pytest.mark.parametrize("n_ctx", [100, 256, 700])
def test_measured_kv_cache_matches_estimate(n_ctx):
    m = measure_context(GGUF, n_ctx)
    arch = architecture_from_gguf(GGUF)
    assert m.n_ctx == m.buffers.cells == math.ceil(n_ctx / 256) * 256  # llama.cpp pads to 256 cells
    # the log prints MiB with two decimals: agree within that rounding
    assert abs(m.buffers.kv_bytes - kv_cache_bytes(arch, n_ctx)) <= 0.005 * 2**20
    assert abs(m.buffers.k_bytes + m.buffers.v_bytes - m.buffers.kv_bytes) <= 0.015 * 2**20  # three roundings
    assert m.buffers.compute_bytes == pytest.approx(compute_buffer_bytes(arch, n_ctx, ubatch=min(512, n_ctx), flash_attention=False),
                                                    rel=0.25)


def test_quantized_v_cache_needs_flash_attention():
    with pytest.raises(ValueError, match="llama_context"):
        measure_context(GGUF, 256, "q8_0")
    m = measure_context(GGUF, 256, "q8_0", flash_attention=True)
    arch = architecture_from_gguf(GGUF)
    assert (m.buffers.k_type, m.buffers.v_type) == ("q8_0", "q8_0")
    assert abs(m.buffers.kv_bytes - kv_cache_bytes(arch, 256, cache_type="q8_0")) <= 0.005 * 2**20


def test_log_capture_leaves_llama_cpp_quiet():
    import logging

    from llama_cpp import _logger

    with captured_llama_log() as log:
        llm = make_llama(GGUF, 256, verbose=True)
        llm.close()
    assert "llama_kv_cache" in log.getvalue()
    assert _logger.logger.level == logging.ERROR


def test_make_llama_refuses_bad_context():
    with pytest.raises(ValueError, match="n_ctx"):
        make_llama(GGUF, 0)


def test_window_starts_spread_without_overlap():
    assert window_starts(1000, 100, 10) == list(range(0, 1000, 100))
    starts = window_starts(1000, 100, 3)
    assert starts == [0, 300, 600] and all(b - a >= 100 for a, b in zip(starts, starts[1:]))
    assert window_starts(1050, 100, 1) == [0]
    for bad in (0, 11, 2.0, True):
        with pytest.raises(ValueError, match=r"n_windows must be a whole number in \[1, 10\]"):
            window_starts(1000, 100, bad)


def test_window_nll_shape_and_windows_evaluated_alone():
    llm = make_llama(GGUF, 256, logits_all=True)
    ids = list(np.random.default_rng(0).integers(3, 1024, 200))
    nll = window_nll(llm, ids, 64, n_windows=3)
    assert nll.shape == (3, 63) and np.all(np.isfinite(nll)) and np.all(nll > 0)
    # the second window (tokens 64..127) alone gives the same losses: each window starts from an empty cache
    assert np.allclose(window_nll(llm, ids[64:128], 64, n_windows=1)[0], nll[1], atol=1e-4)
    with pytest.raises(ValueError, match="window"):
        window_nll(llm, ids, 512, n_windows=1)
    with pytest.raises(ValueError, match="n_windows"):
        window_nll(llm, ids, 64, n_windows=4)


def test_bucket_perplexity():
    buckets = bucket_perplexity(np.full(10, math.log(5.0)), 4)
    assert [(a, b) for a, b, _ in buckets] == [(1, 4), (5, 8), (9, 10)]
    assert all(p == pytest.approx(5.0) for _, _, p in buckets)
    with pytest.raises(ValueError, match="bucket"):
        bucket_perplexity([1.0], 0)


def spread_input(rise: float, n_windows: int = 40, seed: int = 0) -> np.ndarray:
    """Losses (nats) of windows of 12 positions: a passage level per window, noise, and ``rise`` from position 9 on."""
    rng = np.random.default_rng(seed)
    nll = rng.normal(4.0, 0.3, (n_windows, 1)) + rng.normal(0.0, 0.05, (n_windows, 12))
    nll[:, 8:] += rise
    return nll


def test_bucket_spread_finds_a_real_rise_and_no_false_one():
    rising = bucket_spread(spread_input(0.2), 4, reference=(1, 4))
    assert [(s.first, s.last) for s in rising] == [(1, 4), (5, 8), (9, 12)]
    assert rising[0].ratio == pytest.approx(1.0) and rising[0].ratio_low == pytest.approx(1.0)
    assert rising[2].ratio == pytest.approx(math.exp(0.2), rel=0.02)
    for s in rising:
        assert s.low < s.perplexity < s.high and s.window_q1 <= s.window_median <= s.window_q3
    assert all(s.ratio_low < s.ratio < s.ratio_high for s in rising[1:])
    assert first_degraded_bucket(rising, after=4) == rising[2]
    flat = bucket_spread(spread_input(0.0), 4, reference=(1, 4))
    assert first_degraded_bucket(flat, after=4) is None
    # the same input and seed give the same intervals; the passage spread is wider than the interval
    assert bucket_spread(spread_input(0.2), 4, reference=(1, 4)) == rising
    assert rising[1].window_q3 - rising[1].window_q1 > rising[1].high - rising[1].low


def test_bucket_spread_refuses_bad_input():
    nll = spread_input(0.0)
    with pytest.raises(ValueError, match="shape"):
        bucket_spread(nll[:1], 4, reference=(1, 4))
    with pytest.raises(ValueError, match="bucket"):
        bucket_spread(nll, 0, reference=(1, 4))
    with pytest.raises(ValueError, match="reference's last position"):
        bucket_spread(nll, 4, reference=(5, 4))
    with pytest.raises(ValueError, match="reference's first position"):
        bucket_spread(nll, 4, reference=(0, 4))
    with pytest.raises(ValueError, match="level"):
        bucket_spread(nll, 4, reference=(1, 4), level=95)


def test_sequence_nll_is_window_nll_of_one_window_in_any_batch_size():
    ids = list(np.random.default_rng(1).integers(3, 1024, 200))
    expected = window_nll(make_llama(GGUF, 256, logits_all=True), ids, 200, n_windows=1)[0]
    llm = make_llama(GGUF, 256)  # no logits_all: one batch of logits at a time
    for batch_size in (200, 37):
        assert np.allclose(sequence_nll(llm, ids, batch_size), expected, atol=1e-4)
    assert llm.create_completion("ROMEO:", max_tokens=2, temperature=0.0)["choices"][0]["text"]  # still usable
    with pytest.raises(ValueError, match="n_ctx=256"):
        sequence_nll(llm, ids * 2)
    with pytest.raises(ValueError, match="batch_size"):
        sequence_nll(llm, ids, batch_size=0)
