"""Reading a GGUF's metadata, estimating its memory from the file, refusing what cannot fit."""
import json
from pathlib import Path

import gguf
import pytest

from helpers import local_llm
from helpers.gguf_export import CHAT_TEMPLATE
from helpers.vram import compute_buffer_bytes, kv_cache_bytes

MODEL = Path(__file__).resolve().parent.parent / "data" / "tiny_llama" / "tiny_llama-q8_0.gguf"
CONFIG = json.loads((MODEL.parent / "config.json").read_text())


@pytest.fixture(scope="module")
def meta():
    return local_llm.read_metadata(MODEL)


def test_metadata_matches_the_config_and_the_file(meta):
    assert meta.architecture == "llama" and meta.file_type == "Q8_0"
    assert meta.n_layers == CONFIG["n_layer"] == len(meta.layer_bytes)
    assert (meta.hidden, meta.ffn, meta.n_heads, meta.n_kv_heads) == (
        CONFIG["d_model"], CONFIG["d_ff"], CONFIG["n_head"], CONFIG["n_kv_head"])
    assert meta.head_dim == CONFIG["d_model"] // CONFIG["n_head"] and meta.vocab == CONFIG["vocab_size"]
    assert meta.context_length == CONFIG["n_ctx"] and meta.chat_template == CHAT_TEMPLATE
    assert (meta.bos_token, meta.eos_token) == ("<s>", "</s>")
    reader = gguf.GGUFReader(MODEL)
    assert meta.tensor_bytes == sum(int(t.n_bytes) for t in reader.tensors)
    assert meta.tensor_bytes == sum(meta.layer_bytes) + meta.output_bytes + meta.embedding_bytes
    assert meta.tensor_bytes < meta.file_bytes == MODEL.stat().st_size


def test_estimate_cpu_only_uses_the_vram_model(meta):
    arch = local_llm.architecture_of(meta)
    e = local_llm.estimate_memory(meta, 256)
    assert e.weights == meta.tensor_bytes and e.vram == 0 and not e.on_gpu
    assert e.kv_cache == kv_cache_bytes(arch, 256) == 2 * 4 * 2 * 32 * 256 * 2
    assert e.compute_buffer == compute_buffer_bytes(arch, 256)
    assert e.total == e.ram == e.weights + e.kv_cache + e.compute_buffer


def test_offload_moves_the_last_blocks_then_the_output(meta):
    two = local_llm.estimate_memory(meta, 256, n_gpu_layers=2)
    assert two.weights_gpu == sum(meta.layer_bytes[-2:]) and two.kv_cache_gpu == two.kv_cache // 2
    everything = local_llm.estimate_memory(meta, 256, n_gpu_layers=-1)
    assert everything.weights_gpu == sum(meta.layer_bytes) + meta.output_bytes
    assert everything.weights_cpu == meta.embedding_bytes and everything.kv_cache_cpu == 0
    assert everything.vram > two.vram and everything.total == two.total
    with pytest.raises(ValueError, match="n_gpu_layers"):
        local_llm.estimate_memory(meta, 256, n_gpu_layers=-2)


def test_kv_cache_grows_with_context(meta):
    small, large = (local_llm.estimate_memory(meta, n).kv_cache for n in (256, 1024))
    assert large == 4 * small


def test_check_fits_refuses_more_than_ram_plus_vram(meta):
    need = local_llm.estimate_memory(meta, 256).total
    assert local_llm.check_fits(meta, 256, ram_available_bytes=need, vram_bytes=0).total == need
    with pytest.raises(ValueError, match="tiny_llama-q8_0.gguf: needs about .* RAM \\+ .* VRAM"):
        local_llm.check_fits(meta, 256, ram_available_bytes=need - 1, vram_bytes=0)
    with pytest.raises(ValueError, match="n_ctx"):
        local_llm.check_fits(meta, 0)


def test_check_fits_counts_vram_when_offloading(meta):
    plan = local_llm.estimate_memory(meta, 256, n_gpu_layers=-1)
    assert local_llm.check_fits(meta, 256, -1, ram_available_bytes=plan.ram, vram_bytes=plan.vram)
    with pytest.raises(ValueError, match="offload fewer layers"):
        local_llm.check_fits(meta, 256, -1, ram_available_bytes=10 * plan.total, vram_bytes=plan.vram - 1)
    with pytest.raises(ValueError, match="of RAM"):
        local_llm.check_fits(meta, 256, -1, ram_available_bytes=plan.ram - 1, vram_bytes=10 * plan.total)


def test_bad_files_refused_before_reading(tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(MODEL.read_bytes()[: MODEL.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.gguf"):
        local_llm.read_metadata(cut)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.gguf: not a GGUF"):
        local_llm.read_metadata(text)


def test_load_model_takes_an_explicit_budget():
    from helpers.llm import load_model

    with pytest.raises(ValueError, match="memory is available"):
        load_model(MODEL, available_bytes=1000)


def test_format_size():
    assert local_llm.format_size(3 * 2**20) == "3.00 MiB" and local_llm.format_size(2**31) == "2.00 GiB"


def test_modelfile_and_request_carry_the_settings():
    text = local_llm.ollama_modelfile("some/dir/model.gguf", 4096, 8, -1, 0.7, 42, system="Be brief.",
                                      template="{{ .Prompt }}", stop=["\n\n"])
    lines = text.splitlines()
    assert lines[0] == "FROM ./model.gguf"
    assert {"PARAMETER num_ctx 4096", "PARAMETER num_thread 8", "PARAMETER num_gpu 999",
            "PARAMETER temperature 0.7", "PARAMETER seed 42", 'PARAMETER stop "\\n\\n"',
            'TEMPLATE """{{ .Prompt }}"""', 'SYSTEM """Be brief."""'} <= set(lines)
    with pytest.raises(ValueError, match="n_gpu_layers"):
        local_llm.ollama_modelfile("m.gguf", 256, 2, -5, 0.0, 0)
    with pytest.raises(ValueError, match='"""'):
        local_llm.ollama_modelfile("m.gguf", 256, 2, 0, 0.0, 0, system='say """')
    body = local_llm.ollama_generate_request("m", "Hi", 256, 2, 10, 0.0, 1, 32)
    assert body["options"] == {"num_ctx": 256, "num_thread": 2, "num_gpu": 10, "temperature": 0.0,
                               "seed": 1, "num_predict": 32}
    assert set(local_llm.SETTINGS_MAP) >= {"n_ctx", "n_threads", "n_batch", "n_gpu_layers", "seed"}


@pytest.mark.slow
def test_rss_probe_sees_the_model_load():
    rss = local_llm.measure_load_rss(MODEL, 256, n_threads=1)
    assert 0 < rss["before_load"] < rss["after_load"] <= rss["after_generation"] * 1.05
