"""Reading a GGUF's metadata, estimating its memory from the file, refusing what cannot fit."""
import json

import pytest

from helpers.course.paths import DATA_DIR
from helpers.gguf.header import read_header
from helpers.llm import memory_check
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
    assert e.compute_buffer == compute_buffer_bytes(arch, 256)
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
