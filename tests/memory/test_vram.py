"""Memory planning: KV cache, compute buffer, offload split, budgets, monotonicity."""
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.course.catalog import get_gpu, get_model
from helpers.memory.gguf_size import gguf_file_size
from helpers.memory.vram import (
    DEFAULT_FLASH_ATTENTION,
    FIT_MARGIN_BYTES,
    RUNTIME_OVERHEAD_BYTES,
    compute_buffer_bytes,
    context_where_kv_exceeds,
    judge,
    kv_cache_bytes,
    kv_cells,
    kv_layer_cells,
    largest_context_that_fits,
    memory_plan,
    most_gpu_layers_that_fit,
    most_layers_that_fit,
    offload_copy_bytes,
    swa_savings,
    usable_gpu_bytes,
    weight_split,
)

LLAMA8 = get_model("Llama 3.1 8B").architecture


def test_kv_cache_formula_and_cache_types():
    # 2 (K, V) x 32 layers x 8 KV heads x 128 x 8192 tokens x 2 bytes = 1 GiB
    assert kv_cache_bytes(LLAMA8, 8192) == 2 * 32 * 8 * 128 * 8192 * 2 == 2**30
    assert kv_cache_bytes(LLAMA8, 8192, cache_type="q8_0") == 2**30 // 2 * 34 // 32
    assert kv_cache_bytes(LLAMA8, 8192, cache_type="q4_0") == 2**30 // 2 * 18 // 32
    assert kv_cache_bytes(LLAMA8, 8192, batch=4) == 4 * 2**30


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, 1.5, 10**12, True])
def test_bad_context_is_refused_with_the_range(bad):
    with pytest.raises(ValueError, match=r"context must be a whole number in \[1, "):
        kv_cache_bytes(LLAMA8, bad)


def test_kv_cells_are_padded_to_256():
    assert kv_cells(1) == 256 and kv_cells(256) == 256 and kv_cells(1000) == 1024
    assert kv_cache_bytes(LLAMA8, 1000) == kv_cache_bytes(LLAMA8, 1024)


def test_context_where_kv_exceeds_is_the_first_token_past_the_bytes():
    weights = gguf_file_size(LLAMA8, "Q4_K_M").tensor_data_bytes
    first = context_where_kv_exceeds(LLAMA8, weights)
    assert first % 256 == 1  # the cache grows in steps of 256 cells
    assert kv_cache_bytes(LLAMA8, first) > weights >= kv_cache_bytes(LLAMA8, first - 1)
    assert context_where_kv_exceeds(LLAMA8, 2**30) == 8193  # 1 GiB is exactly 8,192 tokens of f16 cache
    assert context_where_kv_exceeds(LLAMA8, 0) == 1
    assert context_where_kv_exceeds(LLAMA8, 2**30, cache_type="q8_0") > 8193
    assert context_where_kv_exceeds(LLAMA8, 2**50) is None
    gemma = get_model("Gemma 3 27B").architecture  # sliding-window blocks: slower growth, still found
    assert context_where_kv_exceeds(gemma, 2**30) > context_where_kv_exceeds(gemma, 2**30, swa_full=True)
    with pytest.raises(ValueError, match="nbytes"):
        context_where_kv_exceeds(LLAMA8, -1)


def test_unknown_cache_type_is_refused():
    with pytest.raises(ValueError, match="kv cache type must be one of"):
        kv_cache_bytes(LLAMA8, 1024, cache_type="q5_0")


def test_compute_buffer_near_llama_cpp_report_and_smaller_with_flash_attention():
    full = compute_buffer_bytes(LLAMA8, 8192, flash_attention=False)
    assert 500 * 2**20 < full < 650 * 2**20  # llama.cpp logs about 560 MiB here
    assert compute_buffer_bytes(LLAMA8, 8192, flash_attention=True) < full


def test_offload_split_follows_n_gpu_layers():
    total = gguf_file_size(LLAMA8, "Q4_K_M").tensor_data_bytes
    none, all_ = weight_split(LLAMA8, "Q4_K_M", 0), weight_split(LLAMA8, "Q4_K_M", -1)
    assert none.gpu_bytes == 0 and none.cpu_bytes == total
    assert all_.output_on_gpu and all_.gpu_bytes + all_.cpu_bytes == total
    assert all_.cpu_bytes > 0  # token embeddings stay in RAM
    n32 = weight_split(LLAMA8, "Q4_K_M", 32)
    assert n32.layers_on_gpu == 32 and not n32.output_on_gpu


def test_tied_output_offload_copies_the_embeddings():
    arch = get_model("Llama 3.2 1B").architecture
    split = weight_split(arch, "Q4_K_M", -1)
    assert split.gpu_bytes + split.cpu_bytes > gguf_file_size(arch, "Q4_K_M").tensor_data_bytes


def test_seed_claims():
    # "7B at 4-bit is about 5 GB", "70B at 4-bit about 40 GB"
    assert 4.0e9 < gguf_file_size(get_model("Qwen2.5 7B").architecture, "Q4_K_M").total_bytes < 5.5e9
    assert 38e9 < gguf_file_size(get_model("Llama 3.1 70B").architecture, "Q4_K_M").total_bytes < 45e9
    # Llama 3.1 8B Q4_K_M with 8K context fits a 24 GB RTX 3090
    plan = memory_plan(LLAMA8, "Q4_K_M", 8192)
    assert judge(plan, usable_gpu_bytes(get_gpu("RTX 3090"))).fits
    assert plan.overhead_gpu == RUNTIME_OVERHEAD_BYTES


def test_verdicts_and_searches():
    plan = memory_plan(get_model("Llama 3.1 70B").architecture, "Q4_K_M", 8192)
    verdict = judge(plan, 24 * 2**30)
    assert not verdict.fits and not verdict.near_miss and "GiB on the GPU" in verdict.reason
    layers = most_gpu_layers_that_fit(get_model("Llama 3.1 70B").architecture, "Q4_K_M", 8192, 24 * 2**30)
    assert 30 < layers < 60
    ctx = largest_context_that_fits(LLAMA8, "Q4_K_M", 8 * 2**30)
    assert ctx % 256 == 0
    assert memory_plan(LLAMA8, "Q4_K_M", ctx).gpu_total <= 8 * 2**30 < memory_plan(LLAMA8, "Q4_K_M", ctx + 256).gpu_total
    assert usable_gpu_bytes(get_gpu("Apple M2 Max 96GB")) == int(96 * 2**30 * 0.75) - FIT_MARGIN_BYTES
    assert usable_gpu_bytes(get_gpu("RTX 3090")) == 23 * 2**30  # 24 GiB less llama.cpp's --fit margin of 1 GiB
    assert usable_gpu_bytes(get_gpu("CPU desktop DDR4-3200 dual-channel")) == 0


MODELS = st.sampled_from(["Llama 3.2 1B", "Qwen2.5 0.5B", "Gemma 2 2B", "Phi-3.5 mini", "SmolLM2 135M"])


@settings(max_examples=40, deadline=None)
@given(MODELS, st.integers(1, 8192), st.integers(1, 8192), st.sampled_from(["f16", "q8_0", "q4_0"]))
def test_more_context_never_needs_less_memory(name, a, b, cache):
    arch = get_model(name).architecture
    small, large = sorted((a, b))
    assert memory_plan(arch, "Q4_K_M", small, cache_type=cache).total <= memory_plan(arch, "Q4_K_M", large,
                                                                                     cache_type=cache).total


@settings(max_examples=40, deadline=None)
@given(MODELS, st.integers(0, 40), st.integers(0, 40))
def test_more_gpu_layers_never_use_less_vram(name, a, b):
    arch = get_model(name).architecture
    few, many = sorted((a, b))
    assert memory_plan(arch, "Q4_K_M", 2048, few).gpu_total <= memory_plan(arch, "Q4_K_M", 2048, many).gpu_total


SHAPES = [dict(), dict(vocab=4096), dict(ffn=2048), dict(hidden=512, head_dim=128), dict(n_heads=8, head_dim=32)]


@pytest.mark.parametrize("change", SHAPES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "base")
def test_kv_cache_and_compute_buffer_against_llama_cpp(tmp_path, change):
    pytest.importorskip("llama_cpp")
    from helpers.gguf.random_weights import write_random_llama_gguf
    from helpers.memory.architecture import Architecture
    from helpers.memory.estimator_check import llama_cpp_buffers

    arch = Architecture(**{**dict(name="tiny", n_layers=2, hidden=256, ffn=512, n_heads=4, n_kv_heads=1,
                                  head_dim=64, vocab=512, max_context=4096, tokenizer="spm"), **change})
    path = write_random_llama_gguf(tmp_path / "tiny.gguf", arch)
    for context, flash in ((512, False), (1000, False), (2048, False), (2048, True)):
        real = llama_cpp_buffers(path, context, flash_attention=flash)
        assert kv_cache_bytes(arch, context) == pytest.approx(real["kv_cache_bytes"], abs=0.006 * 2**20)  # log: 0.01 MiB
        estimate = compute_buffer_bytes(arch, context, flash_attention=flash)
        assert estimate == pytest.approx(real["compute_buffer_bytes"], rel=0.1), (context, flash)


def test_sliding_window_blocks_cache_the_window_plus_a_micro_batch():
    gemma = get_model("Gemma 3 27B").architecture  # window 1024, 5 local : 1 global, 62 blocks
    assert kv_layer_cells(gemma, 0, 32768) == 1024 + 512 == 1536  # already a multiple of 256
    assert kv_layer_cells(gemma, 5, 32768) == 32768 and kv_layer_cells(gemma, 0, 32768, swa_full=True) == 32768
    assert kv_layer_cells(gemma, 0, 1000) == 1024  # never more than the full cache
    assert kv_layer_cells(get_model("gpt-oss 20B").architecture, 0, 8192) == 768  # 128 + 512 -> 768
    n_global = sum(not gemma.is_swa_layer(i) for i in range(62))
    per_cell = 2 * 16 * 128 * 2
    assert n_global == 10
    assert kv_cache_bytes(gemma, 32768) == (10 * 32768 + 52 * 1536) * per_cell
    assert kv_cache_bytes(gemma, 32768, swa_full=True) == 62 * 32768 * per_cell


def test_latent_attention_caches_the_compressed_vector_only():
    deepseek = get_model("DeepSeek V3").architecture
    assert kv_cache_bytes(deepseek, 8192) == 61 * (512 + 64) * 8192 * 2
    generic = swa_savings(deepseek, 8192)["generic formula"]  # every head's K and V
    assert generic == 2 * 61 * 128 * 192 * 8192 * 2 and generic / kv_cache_bytes(deepseek, 8192) > 80


def test_swa_savings_against_the_generic_formula():
    savings = swa_savings(get_model("Gemma 3 12B").architecture, 32768)
    assert savings["swa_full"] == savings["generic formula"]
    assert savings["generic formula"] / savings["window only"] > 4
    llama = swa_savings(LLAMA8, 8192)
    assert llama["window only"] == llama["swa_full"] == llama["generic formula"] == 2**30


def test_experts_kept_in_ram_with_n_cpu_moe():
    qwen = get_model("Qwen3 30B-A3B").architecture
    everything = weight_split(qwen, "Q4_K_M", -1)
    some = weight_split(qwen, "Q4_K_M", -1, n_cpu_moe=10)
    assert some.gpu_bytes + some.cpu_bytes == everything.gpu_bytes + everything.cpu_bytes
    token_embd = everything.cpu_bytes
    experts_of_ten_blocks = some.cpu_bytes - token_embd
    assert 0.19 < experts_of_ten_blocks / (everything.gpu_bytes + token_embd) < 0.21  # 10 of 48 blocks, ~all weights
    plan = memory_plan(qwen, "Q4_K_M", 8192, n_cpu_moe=10)
    assert plan.weights_gpu == some.gpu_bytes and plan.layers_on_gpu == 48
    with pytest.raises(ValueError, match="n_cpu_moe needs a mixture of experts"):
        weight_split(LLAMA8, "Q4_K_M", -1, n_cpu_moe=1)
    with pytest.raises(ValueError, match=r"n_cpu_moe must be a whole number in \[0, 48\]"):
        weight_split(qwen, "Q4_K_M", -1, n_cpu_moe=49)


def test_unified_memory_share_follows_metals_working_set():
    from helpers.memory.vram import unified_gpu_fraction

    assert unified_gpu_fraction(16 * 2**30) * 16384 == pytest.approx(10922.67, abs=0.01)  # MB in llama.cpp's log
    assert unified_gpu_fraction(32 * 2**30) * 32768 == pytest.approx(21845.33, abs=0.01)
    assert unified_gpu_fraction(64 * 2**30) * 65536 == 49152
    assert usable_gpu_bytes(get_gpu("Apple M1 16GB")) < 0.7 * get_gpu("Apple M1 16GB").memory_bytes


def test_plans_follow_the_tools_flash_attention_default_and_say_so():
    """llama.cpp's tools (-fa auto), Ollama and LM Studio run with flash attention: at 128K tokens the
    compute buffer without it is tens of times larger (its f32 attention scores)."""
    on, off = memory_plan(LLAMA8, "Q4_K_M", 131072), memory_plan(LLAMA8, "Q4_K_M", 131072, flash_attention=False)
    assert DEFAULT_FLASH_ATTENTION and on.flash_attention and not off.flash_attention
    assert off.compute_gpu > 20 * on.compute_gpu and on.kv_gpu == off.kv_gpu
    assert on.compute_gpu < 0.3 * 2**30 < 8 * 2**30 < off.compute_gpu


def test_a_plan_inside_the_card_but_not_the_margin_is_a_near_miss():
    plan = memory_plan(LLAMA8, "Q4_K_M", 8192)
    budget_for = {"roomy": plan.gpu_total + 2 * 2**30, "tight": plan.gpu_total + 2**20, "over": plan.gpu_total - 2**20}
    roomy, tight, over = (judge(plan, b - FIT_MARGIN_BYTES) for b in budget_for.values())
    assert roomy.fits and not roomy.near_miss
    assert not tight.fits and tight.near_miss and "near miss" in tight.reason and "0.00 GiB free" in tight.reason
    assert not over.fits and not over.near_miss


def test_weights_left_in_ram_are_copied_into_the_gpus_compute_buffer():
    """A partial offload (or --n-cpu-moe) makes the GPU run RAM weights' products on a copy of the tensor:
    for a large mixture of experts one layer's experts outweigh every activation."""
    qwen = get_model("Qwen3 235B-A22B").architecture
    assert offload_copy_bytes(qwen, "Q4_K_M", -1) == (0, 0)  # all on the GPU: nothing to copy
    assert offload_copy_bytes(qwen, "Q4_K_M", 0) == (0, 0)  # CPU only: no GPU to copy to
    experts, output = offload_copy_bytes(qwen, "Q4_K_M", -1, n_cpu_moe=10)
    assert experts > 200 * 2**20 and output == 0
    all_gpu = memory_plan(qwen, "Q4_K_M", 4096, -1)
    some_in_ram = memory_plan(qwen, "Q4_K_M", 4096, -1, n_cpu_moe=10)
    assert some_in_ram.compute_gpu > experts > all_gpu.compute_gpu  # the copy alone outweighs the activations
    dense_split = memory_plan(LLAMA8, "Q4_K_M", 4096, 20)
    assert dense_split.compute_gpu > memory_plan(LLAMA8, "Q4_K_M", 4096, -1).compute_gpu
    assert offload_copy_bytes(LLAMA8, "Q4_K_M", 32)[1] > 300 * 2**20  # the output matrix left in RAM


def test_most_layers_that_fit_looks_past_a_setting_that_does_not():
    """All blocks with the output in RAM can need more GPU memory than all of them (the output's copy)."""
    budget = memory_plan(LLAMA8, "Q4_K_M", 4096, -1).gpu_total
    assert most_gpu_layers_that_fit(LLAMA8, "Q4_K_M", 4096, budget) == LLAMA8.n_layers + 1


def test_one_layer_search_over_any_plan():
    """The search takes any plan function: a file's (assess_file) or a predicted model's."""
    gpu_bytes = {1: 10, 2: 20, 3: 40, 4: 35}  # 3 blocks; 4 = all and the output: less than 3 without it

    def plan_for(n):
        return SimpleNamespace(gpu_total=gpu_bytes[n])

    assert [most_layers_that_fit(plan_for, 3, budget) for budget in (5, 10, 25, 35, 40)] == [0, 1, 2, 4, 4]
    assert most_gpu_layers_that_fit(LLAMA8, "Q4_K_M", 4096, 6 * 2**30) == most_layers_that_fit(
        lambda n: memory_plan(LLAMA8, "Q4_K_M", 4096, n), LLAMA8.n_layers, 6 * 2**30)
