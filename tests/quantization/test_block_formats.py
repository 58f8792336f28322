"""GGUF block quantization: bit-exact against gguf's numpy code and byte-identical to llama.cpp."""
import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers.quantization import block_formats as quants
from helpers.quantization.llamacpp_match import CHECK_ARCH, awkward_matrix, compare_with_llama_cpp

LEGACY = ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1")  # gguf 0.19.0 quantizes these itself
K_QUANTS = ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")  # gguf only dequantizes these


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@st.composite
def weight_rows(draw, block: int):
    """(rows, n) float32 arrays: mixtures of normal values, zeros, constants, huge and tiny scales."""
    rows = draw(st.integers(1, 3))
    blocks = draw(st.integers(1, 3 if block == 32 else 2))
    values = draw(arrays(np.float32, (rows, blocks * block),
                         elements=st.floats(-4, 4, width=32, allow_subnormal=False)))
    kind = draw(st.sampled_from(["as is", "zeros", "constant", "negative", "huge", "tiny", "one outlier"]))
    if kind == "zeros":
        values[:, : block] = 0
    elif kind == "constant":
        values[:] = draw(st.floats(-100, 100, width=32))
    elif kind == "negative":
        values = -np.abs(values)
    elif kind == "huge":
        values *= np.float32(1000)
    elif kind == "tiny":
        values *= np.float32(1e-6)
    elif kind == "one outlier":
        values[0, draw(st.integers(0, values.shape[1] - 1))] = np.float32(50)
    return values


def test_layouts_match_gguf_sizes():
    for name, layout in quants.LAYOUTS.items():
        assert gguf.constants.GGML_QUANT_SIZES[getattr(T, name)] == (layout.weights_per_block, layout.bytes_per_block)
        offsets = [f.offset for f in layout.fields]
        assert offsets == [sum(f.nbytes for f in layout.fields[:i]) for i in range(len(layout.fields))]
    assert quants.LAYOUTS["Q4_K"].bits_per_weight == 4.5
    assert quants.LAYOUTS["Q6_K"].bits_per_weight == 6.5625


@pytest.mark.parametrize("name", LEGACY)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_legacy_quantizers_are_bit_exact_with_gguf(name, data):
    x = data.draw(weight_rows(32))
    ours = quants.quantize(x, name)
    assert np.array_equal(ours, gguf.quants.quantize(x, getattr(T, name)))
    assert same_bits(quants.dequantize(ours, name), gguf.quants.dequantize(ours, getattr(T, name)))


@pytest.mark.parametrize("name", K_QUANTS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_k_quant_dequantizers_are_bit_exact_with_gguf(name, data):
    x = data.draw(weight_rows(256))
    ours = quants.quantize(x, name)
    assert ours.shape == gguf.quants.quant_shape_to_byte_shape(x.shape, getattr(T, name))
    back = quants.dequantize(ours, name)
    assert same_bits(back, gguf.quants.dequantize(ours, getattr(T, name)))
    # a loose sanity bound: no weight moves by more than its super-block's range, zero included
    blocks, err = x.reshape(-1, 256), np.abs(back - x).reshape(-1, 256)
    span = np.maximum(blocks.max(axis=1), 0) - np.minimum(blocks.min(axis=1), 0)
    # slack: scales below f16's smallest subnormal (2**-24) round up, by at most 64 levels * 16 steps
    assert np.all(err.max(axis=1) <= span * np.float32(1.01) + 64 * 16 * 2.0**-24)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # random f16 fields hold NaN and inf
@pytest.mark.parametrize("name", quants.FORMATS)
def test_dequantizers_read_arbitrary_bytes_like_gguf(name):
    layout = quants.LAYOUTS[name]
    raw = np.random.default_rng(1).integers(0, 256, (3, 4 * layout.bytes_per_block), dtype=np.uint8)
    np.testing.assert_array_equal(quants.dequantize(raw, name), gguf.quants.dequantize(raw, getattr(T, name)))


@pytest.mark.parametrize("name", quants.FORMATS)
def test_zeros_stay_zero(name):
    x = np.zeros((2, 512), np.float32)
    assert np.array_equal(quants.round_trip(x, name), x)


def test_more_bits_less_error_on_gaussian_weights():
    x = (np.random.default_rng(0).standard_normal((16, 1024)) * 0.02).astype(np.float32)
    rmse = {n: float(np.sqrt(np.mean((quants.round_trip(x, n) - x) ** 2))) for n in quants.FORMATS}
    order = ["Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K"]
    assert [rmse[n] for n in order] == sorted(rmse[n] for n in order)
    assert rmse["Q4_1"] < rmse["Q4_0"] and rmse["Q5_1"] < rmse["Q5_0"]


def test_k_scales_pack_and_unpack():
    rng = np.random.default_rng(0)
    ls, lm = rng.integers(0, 64, (5, 8)), rng.integers(0, 64, (5, 8))
    sc, mn = quants.unpack_k_scales(quants._pack_k_scales(ls, lm))
    assert np.array_equal(sc, ls) and np.array_equal(mn, lm)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        quants.quantize(np.zeros(33), "Q8_0")
    with pytest.raises(ValueError, match="NaN"):
        quants.quantize(np.full(32, np.nan), "Q4_0")
    with pytest.raises(ValueError, match="unknown quantization format 'Q3_X'"):
        quants.quantize(np.zeros(32), "Q3_X")
    with pytest.raises(ValueError, match="uint8"):
        quants.dequantize(np.zeros(34, np.float32), "Q8_0")


def test_awkward_matrix_has_its_edge_cases():
    w = awkward_matrix(16, 256, seed=0)
    assert not w[0].any() and np.all(w[1] == w[1, 0]) and np.all(w[6] <= 0)
    assert CHECK_ARCH.hidden % 256 == 0 and CHECK_ARCH.ffn % 256 == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", quants.FORMATS)
def test_bytes_identical_to_llama_cpp(name, tmp_path):
    rows = compare_with_llama_cpp(name, tmp_path, seed=7)
    assert len(rows) == 9  # token_embd, output and the 7 matrices of the one block
    assert all(r["type"] == name for r in rows)
    assert sum(r["blocks that differ"] for r in rows) == 0, rows
    assert all(r["dequantized equal"] for r in rows)


@pytest.mark.parametrize("name", LEGACY)
def test_subnormal_scales_behave_like_c(name):
    """1/d overflows to inf when d is a float32 subnormal; the C casts then give 0, as gguf does."""
    x = np.zeros((1, 32), np.float32)
    x[0, 0] = np.float32(1.1754944e-38)
    with np.errstate(all="ignore"):
        assert np.array_equal(quants.quantize(x, name), gguf.quants.quantize(x, getattr(T, name)))


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(quants.FORMATS), seed=st.integers(0, 2**16))
def test_bytes_identical_to_llama_cpp_for_any_seed(name, seed):
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        rows = compare_with_llama_cpp(name, workdir, seed=seed)
    assert sum(r["blocks that differ"] for r in rows) == 0, (name, seed, rows)


def test_mxfp4_is_4_25_bits_from_its_block_layout():
    from helpers.course.catalog import load_quant_types

    assert quants.LAYOUTS["MXFP4"].bytes_per_block == 17 and quants.LAYOUTS["MXFP4"].bits_per_weight == 4.25
    assert load_quant_types()["MXFP4"].bits_per_weight == 4.25
    x = np.array([[6.0, -6.0, 0.5, 1.5, 3.0, -0.25] + [0.0] * 26], np.float32)
    assert np.array_equal(quants.round_trip(x, "MXFP4")[0, :5], [6.0, -6.0, 0.5, 1.5, 3.0])  # exact E2M1 values
    assert np.array_equal(quants.quantize(x, "MXFP4"), gguf.quants.quantize(x, T.MXFP4))
