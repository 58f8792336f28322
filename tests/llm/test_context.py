"""KV cache and context measurements from llama.cpp: log parsing, buffers against the estimator, loss by position."""
import math

import numpy as np
import pytest

from helpers.course.paths import REPO_ROOT
from helpers.llm.context import (
    KV_CACHE_GGML_TYPES,
    architecture_from_gguf,
    bucket_perplexity,
    captured_llama_log,
    ggml_type,
    make_llama,
    measure_context,
    overflow_warning,
    parse_llama_log,
    position_nll,
    sequence_nll,
    trained_context,
)
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes
from helpers.training.tiny_llama import LlamaConfig

MODEL_DIR = REPO_ROOT / "data" / "tiny_llama"
GGUF = MODEL_DIR / "tiny_llama-f16.gguf"

LOG = """llama_context: n_ctx         = 512
llama_context:        CPU  output buffer size =     0.00 MiB
llama_kv_cache:        CPU KV buffer size =    12.00 MiB
llama_kv_cache: size =   12.00 MiB (   512 cells,  24 layers,  1/1 seqs), K (f16):    6.00 MiB, V (f16):    6.00 MiB
llama_context:        CPU compute buffer size =   298.50 MiB
"""


def test_trained_context_and_overflow_warning_from_the_log():
    log = ("print_info: n_ctx_train           = 8192\n"
           "llama_context: n_ctx_seq (16384) > n_ctx_train (8192) -- possible training context overflow\n" + LOG)
    assert trained_context(log) == 8192
    assert overflow_warning(log) == ("llama_context: n_ctx_seq (16384) > n_ctx_train (8192) -- possible training "
                                     "context overflow")
    assert overflow_warning(LOG) == ""
    with pytest.raises(ValueError, match="n_ctx_train"):
        trained_context(LOG)


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


def test_parse_log_reads_bytes():
    b = parse_llama_log(LOG)
    assert b.kv_bytes == 12 * 2**20 and b.k_bytes == b.v_bytes == 6 * 2**20
    assert (b.cells, b.layers, b.k_type, b.v_type) == (512, 24, "f16", "f16")
    assert b.compute_bytes == round(298.5 * 2**20) and b.output_bytes == 0
    with pytest.raises(ValueError, match="kv_cache"):
        parse_llama_log("llama_context: n_ctx = 512\n")


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
    assert m.buffers.compute_bytes == pytest.approx(compute_buffer_bytes(arch, n_ctx, ubatch=min(512, n_ctx)),
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


def test_position_nll_shape_and_buckets():
    llm = make_llama(GGUF, 256, logits_all=True)
    ids = list(np.random.default_rng(0).integers(3, 1024, 200))
    nll = position_nll(llm, ids, 64, max_windows=3)
    assert nll.shape == (63,) and np.all(np.isfinite(nll)) and np.all(nll > 0)
    with pytest.raises(ValueError, match="window"):
        position_nll(llm, ids, 512)
    buckets = bucket_perplexity(np.full(10, math.log(5.0)), 4)
    assert [(a, b) for a, b, _ in buckets] == [(1, 4), (5, 8), (9, 10)]
    assert all(p == pytest.approx(5.0) for _, _, p in buckets)
    with pytest.raises(ValueError, match="bucket"):
        bucket_perplexity([1.0], 0)


def test_sequence_nll_is_position_nll_of_one_window_in_any_batch_size():
    ids = list(np.random.default_rng(1).integers(3, 1024, 200))
    expected = position_nll(make_llama(GGUF, 256, logits_all=True), ids, 200, max_windows=1)
    llm = make_llama(GGUF, 256)  # no logits_all: one batch of logits at a time
    for batch_size in (200, 37):
        assert np.allclose(sequence_nll(llm, ids, batch_size), expected, atol=1e-4)
    assert llm.create_completion("ROMEO:", max_tokens=2, temperature=0.0)["choices"][0]["text"]  # still usable
    with pytest.raises(ValueError, match="n_ctx=256"):
        sequence_nll(llm, ids * 2)
    with pytest.raises(ValueError, match="batch_size"):
        sequence_nll(llm, ids, batch_size=0)
