"""Reading a GGUF's metadata, estimating its memory from the file, refusing what cannot fit."""
import json
from dataclasses import replace

import pytest

from helpers.course.paths import DATA_DIR
from helpers.gguf.header import read_header
from helpers.llm import memory_check
from helpers.memory.estimator_check import REDUCED, reduced_model
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes

MODEL = DATA_DIR / "tiny_llama" / "tiny_llama-q8_0.gguf"
CONFIG = json.loads((MODEL.parent / "config.json").read_text())


@pytest.fixture(scope="module")
def meta():
    return read_header(MODEL)


def test_estimate_cpu_only_uses_the_vram_model(meta):
    arch = memory_check.architecture_of(meta)
    e = memory_check.estimate_memory(meta, 256)
    assert e.weights == meta.tensor_bytes and e.vram == 0 and not e.on_gpu
    assert e.kv_cache == kv_cache_bytes(arch, 256) == 2 * 4 * 2 * 32 * 256 * 2
    assert e.compute_buffer == compute_buffer_bytes(arch, 256, flash_attention=False)  # llama-cpp-python's default
    assert e.total == e.ram == e.weights + e.kv_cache + e.compute_buffer


def test_offload_moves_the_last_blocks_then_the_output(meta):
    two = memory_check.estimate_memory(meta, 256, n_gpu_layers=2)
    assert two.weights_gpu == sum(meta.layer_bytes[-2:]) and two.kv_cache_gpu == two.kv_cache // 2
    everything = memory_check.estimate_memory(meta, 256, n_gpu_layers=-1)
    assert everything.weights_gpu == sum(meta.layer_bytes) + meta.output_bytes
    assert everything.weights_cpu == meta.embedding_bytes and everything.kv_cache_cpu == 0
    assert everything.vram > two.vram and everything.total == two.total
    with pytest.raises(ValueError, match="n_gpu_layers"):
        memory_check.estimate_memory(meta, 256, n_gpu_layers=-2)


def test_kv_cache_grows_with_context(meta):
    small, large = (memory_check.estimate_memory(meta, n).kv_cache for n in (256, 1024))
    assert large == 4 * small


def test_check_fits_refuses_more_than_ram_plus_vram(meta):
    need = memory_check.estimate_memory(meta, 256).total
    assert memory_check.check_fits(meta, 256, ram_available_bytes=need, vram_bytes=0).total == need
    with pytest.raises(ValueError, match="tiny_llama-q8_0.gguf: needs about .* RAM \\+ .* VRAM"):
        memory_check.check_fits(meta, 256, ram_available_bytes=need - 1, vram_bytes=0)
    with pytest.raises(ValueError, match="n_ctx"):
        memory_check.check_fits(meta, 0)


def test_check_fits_counts_vram_when_offloading(meta):
    plan = memory_check.estimate_memory(meta, 256, n_gpu_layers=-1)
    assert memory_check.check_fits(meta, 256, -1, ram_available_bytes=plan.ram, vram_bytes=plan.vram)
    with pytest.raises(ValueError, match="offload fewer layers"):
        memory_check.check_fits(meta, 256, -1, ram_available_bytes=10 * plan.total, vram_bytes=plan.vram - 1)
    with pytest.raises(ValueError, match="of RAM"):
        memory_check.check_fits(meta, 256, -1, ram_available_bytes=plan.ram - 1, vram_bytes=10 * plan.total)


def test_load_model_takes_an_explicit_budget():
    from helpers.llm.load import load_model

    with pytest.raises(ValueError, match="memory is available"):
        load_model(MODEL, available_bytes=1000)


@pytest.mark.slow
def test_rss_probe_sees_the_model_load():
    rss = memory_check.measure_load_rss(MODEL, 256, n_threads=1)
    assert 0 < rss["before_load"] < rss["after_load"] <= rss["after_generation"] * 1.05


@pytest.fixture(scope="module")
def reduced_headers(tmp_path_factory):
    """Headers of random-weight F16 files of each reduced new family (a few MB each)."""
    folder = tmp_path_factory.mktemp("reduced")
    return {family: read_header(reduced_model(family, folder, "F16")) for family in REDUCED}


@pytest.mark.parametrize("family", sorted(REDUCED))
def test_a_files_architecture_is_the_one_it_was_written_from(reduced_headers, family):
    """Sliding window and its pattern, experts, dense leading blocks and latent attention come back from the keys."""
    arch = memory_check.architecture_of(reduced_headers[family])
    assert replace(arch, name=REDUCED[family].name) == REDUCED[family]


def test_the_sliding_window_pattern_is_the_familys(reduced_headers):
    gemma3, gpt_oss = (memory_check.architecture_of(reduced_headers[f]) for f in ("gemma3", "gpt-oss"))
    assert [gemma3.is_swa_layer(i) for i in range(6)] == [True] * 5 + [False]
    assert [gpt_oss.is_swa_layer(i) for i in range(4)] == [True, False, True, False]
    no_key = replace(reduced_headers["gemma3"], sliding_window=0)  # llama.cpp: a Gemma 3 file without one has none
    assert memory_check.architecture_of(no_key).sliding_window == 0
    gemma2 = memory_check.architecture_of(replace(no_key, architecture="gemma2"))  # llama.cpp's Gemma 2 default
    assert (gemma2.sliding_window, gemma2.swa_period) == (memory_check.GEMMA2_DEFAULT_WINDOW, 2)
    phi3 = memory_check.architecture_of(replace(reduced_headers["gemma3"], architecture="phi3"))  # llama.cpp ignores it
    assert phi3.sliding_window == 0 and phi3.family == "phi3"


def test_a_latent_attention_file_without_its_per_head_sizes_runs_as_plain_attention(reduced_headers):
    """Older DeepSeek files (a fused attn_kv_b, no *_mla keys) run without MLA: every head's K and V are cached."""
    old = replace(reduced_headers["deepseek2"], n_kv_heads=8, head_dim=96, value_head_dim=64,
                  mla_key_head_dim=0, mla_value_head_dim=0)
    arch = memory_check.architecture_of(old)
    assert not arch.is_mla and (arch.n_kv_heads, arch.head_dim, arch.value_head_dim) == (8, 96, 64)
    assert kv_cache_bytes(arch, 4096) == 4 * 4096 * 8 * (96 + 64) * 2
    assert kv_cache_bytes(memory_check.architecture_of(reduced_headers["deepseek2"]), 4096) == 4 * 4096 * (128 + 32) * 2


def test_impossible_expert_numbers_are_refused_naming_the_file(reduced_headers):
    header = reduced_headers["qwen3moe"]
    with pytest.raises(ValueError, match=f"{header.file_name}: n_experts_used must be in \\[1, 16\\], got 0"):
        memory_check.architecture_of(replace(header, n_experts_used=0))
    with pytest.raises(ValueError, match=f"{header.file_name}: n_dense_layers must be at most n_layers"):
        memory_check.architecture_of(replace(header, n_dense_layers=9))


def test_a_dense_file_reads_as_before(meta):
    arch = memory_check.architecture_of(meta)
    assert not (arch.is_moe or arch.is_mla or arch.sliding_window) and arch.value_head_dim == arch.head_dim
    assert (arch.n_layers, arch.hidden, arch.n_heads, arch.n_kv_heads) == (
        CONFIG["n_layer"], CONFIG["d_model"], CONFIG["n_head"], CONFIG["n_kv_head"])
