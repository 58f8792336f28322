"""GGUF size estimator: quant types from struct layouts, mix rules, and real quantized files."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.course.catalog import get_model, layout_bytes, load_quant_types
from helpers.gguf.quantize import quantize
from helpers.gguf.random_weights import write_random_llama_gguf
from helpers.memory.architecture import Architecture, model_tensors
from helpers.memory.estimator_check import compare_with_file
from helpers.memory.gguf_size import (
    GGUF_ALIGNMENT,
    bytes_read_per_token,
    check_mix,
    gguf_file_size,
    is_quantizable,
    metadata_bytes_estimate,
    padded,
    predicted_tensors,
    size_accuracy_rows,
    tensor_category,
    tensor_nbytes,
    use_more_bits,
)

gguf = pytest.importorskip("gguf")


def test_quant_types_match_the_ggml_struct_layouts_and_gguf_constants():
    # block_q4_K: 2 f16 (d, dmin) + 12 scale bytes + 128 quant bytes = 144 bytes per 256 weights
    assert layout_bytes("d:f16 dmin:f16 scales:u8x12 qs:u8x128") == 2 + 2 + 12 + 128
    sizes = gguf.constants.GGML_QUANT_SIZES
    for name, qt in load_quant_types().items():
        ggml_type = gguf.constants.GGMLQuantizationType[name]
        assert int(ggml_type) == qt.ggml_type_id, name
        assert sizes[ggml_type] == (qt.block_size, layout_bytes(qt.layout)), name


def test_layout_with_an_unknown_field_type_is_refused():
    with pytest.raises(ValueError, match="unknown field type 'f8'"):
        layout_bytes("d:f8 qs:u8x16")


def test_bits_per_weight_of_the_main_types():
    types = load_quant_types()
    assert types["Q4_K"].bits_per_weight == 4.5
    assert types["Q8_0"].bits_per_weight == 8.5
    assert types["Q6_K"].bits_per_weight == 6.5625
    assert types["IQ4_XS"].bits_per_weight == 4.25


def test_use_more_bits_follows_llama_cpp_for_32_layers():
    # n/8 = 4: layers 0-3 and 28-31, plus every third from 6: 6, 9, ..., 27
    expected = {0, 1, 2, 3, 28, 29, 30, 31} | set(range(6, 28, 3))
    assert {i for i in range(32) if use_more_bits(i, 32)} == expected


def test_categories_and_what_is_never_quantized():
    assert tensor_category("blk.3.attn_qkv.weight") == "attn_v"
    assert tensor_category("blk.3.ffn_down_exps.weight") == "ffn_down"
    assert tensor_category("output.weight") == "output"
    arch = get_model("Mixtral 8x7B").architecture
    kinds = {t.name.split(".")[-2]: is_quantizable(t) for t in model_tensors(arch)}
    assert kinds["attn_norm"] is False and kinds["ffn_gate_inp"] is False and kinds["ffn_down_exps"] is True


def test_q4_k_m_recipe_on_llama_3_1_8b():
    arch = get_model("Llama 3.1 8B").architecture
    types = {t.name: t.ggml_type for t in predicted_tensors(arch, "Q4_K_M")}
    assert types["output.weight"] == "Q6_K"
    assert types["token_embd.weight"] == "Q4_K"
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.4.attn_v.weight"] == "Q4_K"
    assert types["blk.6.ffn_down.weight"] == "Q6_K" and types["blk.7.ffn_down.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert sum(t == "Q6_K" for n, t in types.items() if "ffn_down" in n) == 16


def test_tied_embeddings_take_the_output_type_and_70b_bumps_attn_v():
    small = get_model("Llama 3.2 1B").architecture
    assert {t.name: t.ggml_type for t in predicted_tensors(small, "Q4_K_M")}["token_embd.weight"] == "Q6_K"
    big = get_model("Llama 3.1 70B").architecture
    types = {t.name: t.ggml_type for t in predicted_tensors(big, "Q4_K_M")}
    assert types["blk.11.attn_v.weight"] == "Q5_K"  # Q4_K bumped for the 70B size class


def test_rows_not_divisible_by_256_fall_back():
    arch = get_model("Qwen2.5 72B").architecture  # FFN 29568 is not a multiple of 256
    types = {t.name: t.ggml_type for t in predicted_tensors(arch, "Q4_K_M")}
    assert types["blk.11.ffn_down.weight"] == "Q5_0"  # Q4_K -> Q5_0
    assert types["blk.0.ffn_down.weight"] == "Q8_0"  # Q6_K -> Q8_0


def test_mixtral_rules_for_eight_experts():
    arch = get_model("Mixtral 8x7B").architecture
    types = {t.name: t.ggml_type for t in predicted_tensors(arch, "Q4_K_M")}
    assert types["blk.5.attn_v.weight"] == "Q8_0" and types["blk.5.attn_k.weight"] == "Q8_0"
    assert types["blk.5.attn_output.weight"] == "Q5_K"
    assert types["blk.5.ffn_gate_inp.weight"] == "F32"


def test_legacy_qkv_rule_changes_only_fused_qkv():
    arch = get_model("Phi-3.5 mini").architecture
    now = {t.name: t.ggml_type for t in predicted_tensors(arch, "Q4_K_M")}
    old = {t.name: t.ggml_type for t in predicted_tensors(arch, "Q4_K_M", legacy_qkv=True)}
    assert old["blk.5.attn_qkv.weight"] == "Q5_K" and now["blk.5.attn_qkv.weight"] == "Q4_K"
    assert {k for k in now if now[k] != old[k]} <= {n for n in now if "attn_qkv" in n}


def test_unknown_mix_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="did you mean 'Q4_K_M'"):
        check_mix("Q4_KM")
    with pytest.raises(ValueError, match="not a multiple"):
        tensor_nbytes((100, 3), "Q4_K")


def test_padding_and_metadata_estimate():
    assert padded(1) == GGUF_ALIGNMENT and padded(64) == 64
    arch = get_model("Llama 3.1 8B").architecture
    meta = metadata_bytes_estimate(arch, predicted_tensors(arch, "Q4_K_M"))
    assert meta % GGUF_ALIGNMENT == 0 and 1e6 < meta < 2e7  # real Llama 3 GGUF headers: ~5-8 MB


def test_published_sizes_within_two_percent_for_stock_recipes():
    rows = size_accuracy_rows()
    assert len(rows) >= 20
    stock = [r for r in rows if "gitee" not in r["source"]]
    assert all(abs(r["error (%)"]) <= 2 for r in stock), [r for r in stock if abs(r["error (%)"]) > 2]


def test_moe_reads_only_the_experts_it_uses():
    arch = get_model("Mixtral 8x7B").architecture
    total = gguf_file_size(arch, "Q4_K_M").tensor_data_bytes
    assert 0.25 * total < bytes_read_per_token(arch, "Q4_K_M") < 0.4 * total


LADDER = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16", "F32"]


@settings(max_examples=30, deadline=None)
@given(layers=st.integers(8, 48), hidden_blocks=st.integers(1, 16), ffn_blocks=st.integers(1, 48),
       kv_heads=st.sampled_from([1, 2, 4, 8]), vocab=st.integers(300, 160_000), tied=st.booleans())
def test_more_bits_never_give_a_smaller_file(layers, hidden_blocks, ffn_blocks, kv_heads, vocab, tied):
    """Along the mix ladder files only grow, for any architecture of 8 or more layers whose rows are
    whole 256-blocks (fewer layers: see the next test)."""
    arch = Architecture("random", n_layers=layers, hidden=256 * hidden_blocks, ffn=256 * ffn_blocks,
                        n_heads=8, n_kv_heads=kv_heads, head_dim=32 * hidden_blocks, vocab=vocab,
                        tied_embeddings=tied)
    sizes = [gguf_file_size(arch, m).total_bytes for m in LADDER]
    assert sizes == sorted(sizes)


def test_few_layers_can_make_q4_k_s_larger_than_q4_k_m():
    """llama.cpp gives Q4_K_S's first four attn_v tensors Q5_K, while Q4_K_M upgrades attn_v to Q6_K
    only on the layers use_more_bits picks (one of three here): with wide attention and a narrow
    feed-forward, the "small" mix is the larger file."""
    arch = Architecture("random", n_layers=3, hidden=768, ffn=256, n_heads=8, n_kv_heads=8, head_dim=96, vocab=300)
    assert gguf_file_size(arch, "Q4_K_S").total_bytes > gguf_file_size(arch, "Q4_K_M").total_bytes


def test_fallbacks_can_break_the_ladder():
    """Qwen2.5 0.5B rows of 896 are not 256-blocks: Q2_K and Q3_K fall back to Q4_0, so Q2_K is not smaller."""
    arch = get_model("Qwen2.5 0.5B").architecture
    assert gguf_file_size(arch, "Q2_K").total_bytes > gguf_file_size(arch, "Q3_K_S").total_bytes


# --- against real files made by llama.cpp's own quantizer ---------------------------------------

TINY = Architecture("tiny", n_layers=8, hidden=256, ffn=512, n_heads=4, n_kv_heads=1, head_dim=64, vocab=512,
                    max_context=256, tokenizer="spm")
TINY_MOE = Architecture("tiny-moe", n_layers=4, hidden=256, ffn=256, n_heads=4, n_kv_heads=2, head_dim=64, vocab=300,
                        max_context=256, n_experts=8, n_experts_used=2, tokenizer="spm")
TINY_TIED_ODD = Architecture("tiny-tied", n_layers=4, hidden=96, ffn=288, n_heads=3, n_kv_heads=1, head_dim=32,
                             vocab=320, max_context=256, tied_embeddings=True, tokenizer="spm")


@pytest.fixture(scope="module")
def source_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf")
    files = {}
    for arch in (TINY, TINY_TIED_ODD, TINY_MOE):
        files[arch.name] = folder / f"{arch.name}-f32.gguf"
        write_random_llama_gguf(files[arch.name], arch)
    return files


@pytest.mark.parametrize("arch", [TINY, TINY_TIED_ODD, TINY_MOE], ids=lambda a: a.name)
@pytest.mark.parametrize("mix", ["Q4_K_M", "Q5_K_M", "Q5_K_S", "Q3_K_L", "Q3_K_M", "Q3_K_S", "Q4_K_S", "Q2_K", "Q6_K",
                                 "Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_XS", "IQ4_NL", "F16"])
def test_predicted_tensors_match_a_real_quantized_file(source_files, tmp_path, arch, mix):
    out = tmp_path / f"{mix}.gguf"
    pytest.importorskip("llama_cpp")
    quantize(source_files[arch.name], out, mix)
    reader = gguf.GGUFReader(str(out))
    real = {t.name: (tuple(int(x) for x in t.shape), t.tensor_type.name, int(t.n_bytes)) for t in reader.tensors}
    predicted = {t.name: (t.shape, t.ggml_type, t.nbytes) for t in predicted_tensors(arch, mix)}
    assert predicted == real
    estimate = gguf_file_size(arch, mix)
    assert estimate.tensor_data_bytes == out.stat().st_size - reader.data_offset
    exact_header = gguf_file_size(arch, mix, metadata_bytes=reader.data_offset)
    assert exact_header.total_bytes == out.stat().st_size
    if arch is TINY:
        assert abs(estimate.total_bytes / out.stat().st_size - 1) < 0.01
    summary = compare_with_file(out, arch, mix)
    assert summary["types that differ"] == 0 and summary["real file (bytes)"] == out.stat().st_size


def test_random_gguf_writer_refuses_other_families(tmp_path):
    with pytest.raises(ValueError, match="llama-family"):
        write_random_llama_gguf(tmp_path / "x.gguf", get_model("Qwen2.5 0.5B").architecture)
