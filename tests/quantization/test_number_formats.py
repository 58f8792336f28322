"""Number formats: properties from bit layouts agree with numpy's own finfo; bf16 rounding by bits."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.quantization import number_formats as nf
from helpers.quantization.model_weights import load_weight_matrices, train_digits_mlp


@pytest.mark.parametrize("name,dtype", [("fp32", np.float32), ("fp16", np.float16)])
def test_properties_match_numpy_finfo(name, dtype):
    f, info = nf.FLOATS[name], np.finfo(dtype)
    assert f.bits == info.bits
    assert f.max_normal == float(info.max)
    assert f.min_normal == float(info.smallest_normal)
    assert f.min_subnormal == float(info.smallest_subnormal)
    assert f.epsilon == float(info.eps)


def test_bf16_has_fp32_range_and_fewer_digits():
    bf, fp32 = nf.FLOATS["bf16"], nf.FLOATS["fp32"]
    assert bf.bits == 16 and bf.epsilon == 2.0**-7
    assert bf.min_normal == fp32.min_normal and bf.max_normal < fp32.max_normal
    assert abs(bf.max_normal - 3.3895e38) / 3.3895e38 < 1e-3


def test_table_rows():
    rows = {r["format"]: r for r in nf.format_table()}
    assert set(rows) == set(nf.FORMAT_NAMES)
    assert rows["int8"]["max"] == 127 and rows["int4"]["max"] == 7


@settings(max_examples=200, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_bf16_rounding_is_nearest(v):
    r = float(nf.round_to_bf16(np.float32(v)))
    # the result's low 16 bits are zero, and no bf16 neighbour is closer
    assert np.float32(r).view(np.uint32) & 0xFFFF == 0
    step = nf.spacing(r if r != 0 else v, "bf16")
    assert abs(r - v) <= step / 2 * (1 + 1e-9) or np.isinf(r)


def test_bf16_ties_go_to_even_and_nan_stays_nan():
    one = np.float32(1.0).view(np.uint32)
    halfway = np.array([one + 0x8000], np.uint32).view(np.float32)  # exactly between 1 and 1+2**-7
    assert nf.round_to_bf16(halfway)[0] == 1.0
    assert np.isnan(nf.round_to_bf16(np.float32(np.nan)))


def test_spacing_matches_numpy_spacing_for_fp16_and_fp32():
    values = np.array([1e-6, 0.001, 0.5, 1.0, 3.0, 1000.0, 60000.0])
    assert np.allclose(nf.spacing(values, "fp16"), np.spacing(values.astype(np.float16)).astype(float))
    assert np.allclose(nf.spacing(values, "fp32"), np.spacing(values.astype(np.float32)).astype(float))


def test_round_to_format_and_bits():
    assert nf.round_to_format(np.float32(1 / 3), "fp16") == np.float32(np.float16(1 / 3))
    assert nf.round_to_format(np.float32(70000), "fp16") == np.inf
    assert nf.bit_fields(1.0, "fp16") == ("0", "01111", "0000000000")
    assert nf.bit_fields(-2.0, "bf16") == ("1", "10000000", "0000000")
    assert nf.bit_fields(70000.0, "fp16") == ("0", "11111", "0000000000")  # inf
    with pytest.raises(ValueError, match="unknown float format 'fp12'"):
        nf.round_to_format(1.0, "fp12")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, width=32), min_size=1, max_size=64), st.sampled_from([4, 8]))
def test_int_round_trip_error_is_at_most_half_a_step(values, bits):
    x = np.array(values, np.float32)
    q, scale = nf.quantize_int(x, bits)
    assert np.abs(q).max() <= 2 ** (bits - 1) - 1
    assert np.all(np.abs(nf.int_round_trip(x, bits) - x) <= scale / 2 * 1.0001 + 1e-30)


def test_per_row_scales_beat_one_scale_when_rows_differ():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 64)).astype(np.float32) * np.logspace(-2, 1, 8, dtype=np.float32)[:, None]
    per_tensor = np.sqrt(np.mean((nf.int_round_trip(w, 4) - w) ** 2))
    per_row = np.sqrt(np.mean((nf.int_round_trip(w, 4, axis=1) - w) ** 2))
    assert per_row < per_tensor
    assert nf.row_ranges(w).shape == (8,)
    with pytest.raises(ValueError, match="bits must be"):
        nf.quantize_int(w, 1)


def test_outlier_share_and_relative_error():
    w = np.zeros(1000)
    w[:500] = 1
    assert nf.outlier_share(w) == 0
    w[0] = 1000
    assert nf.outlier_share(w) == 0.001
    assert np.isnan(nf.relative_error([0.0], [1.0])[0]) and nf.relative_error([2.0], [1.0])[0] == 0.5


def test_default_model_weights_are_real_matrices():
    source, mats = load_weight_matrices()
    assert mats and all(m.ndim == 2 and m.dtype == np.float32 for m in mats.values())
    assert "MLP" in source and [m.shape for m in mats.values()] == [(512, 64), (256, 512), (10, 256)]


def test_find_course_model(tmp_path):
    from helpers.quantization.model_weights import find_course_model

    assert find_course_model(tmp_path) is None
    (tmp_path / "tiny-f16.gguf").write_bytes(b"")
    assert find_course_model(tmp_path).name == "tiny-f16.gguf"
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert find_course_model(tmp_path).name == "model.safetensors"


def test_mlp_cache_returns_the_trained_weights(tmp_path):
    fresh = train_digits_mlp(hidden=(16,), max_iter=5, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    cached = train_digits_mlp(hidden=(16,), max_iter=5, cache_dir=tmp_path)
    assert set(fresh) == {"layer1", "layer1.bias", "layer2", "layer2.bias"}
    assert all(np.array_equal(fresh[k], cached[k]) for k in fresh)


def test_heldout_digits_are_not_trained_on():
    from helpers.quantization.model_weights import HELDOUT_SHARE, digits_split

    x_train, y_train, x_heldout, y_heldout = digits_split()
    assert len(x_heldout) == math.ceil(1797 * HELDOUT_SHARE) and len(x_train) + len(x_heldout) == 1797
    train_rows = {r.tobytes() for r in x_train}
    assert sum(r.tobytes() in train_rows for r in x_heldout) < 5  # digits has a few exact duplicates


def test_model_files_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_weight_matrices(tmp_path / "missing.safetensors")
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match="safetensors or .gguf"):
        load_weight_matrices(bad)


def test_relative_model_path_starts_at_the_course_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as a notebook does: it runs in notebooks/, not in the course folder
    name, mats = load_weight_matrices("data/tiny_llama/model.safetensors")
    assert name == "model.safetensors" and mats
    with pytest.raises(FileNotFoundError, match="'data/nothing.safetensors' .a relative path starts at the course"):
        load_weight_matrices("data/nothing.safetensors")


def test_corrupt_safetensors_refused_with_its_name(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(ValueError, match="broken.safetensors: not a readable .safetensors file"):
        load_weight_matrices(bad)


def test_safetensors_round_trip(tmp_path):
    from safetensors.numpy import save_file

    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_file({"w": w, "bias": np.ones(3, np.float32)}, str(tmp_path / "m.safetensors"))
    name, mats = load_weight_matrices(tmp_path / "m.safetensors")
    assert name == "m.safetensors" and list(mats) == ["w"] and np.array_equal(mats["w"], w)


def test_gguf_matrices_load_in_row_order(tmp_path):
    from helpers.gguf.quantize import quantize
    from helpers.gguf.random_weights import write_random_llama_gguf
    from helpers.memory.architecture import Architecture

    arch = Architecture(name="t", n_layers=1, hidden=64, ffn=128, n_heads=2, n_kv_heads=2, head_dim=32,
                        vocab=320, max_context=64, tokenizer="spm")
    src = write_random_llama_gguf(tmp_path / "f32.gguf", arch)
    name, mats = load_weight_matrices(src)
    assert name == "f32.gguf" and mats["blk.0.ffn_down.weight"].shape == (64, 128)
    assert mats["token_embd.weight"].shape == (320, 64)
    _, q8 = load_weight_matrices(quantize(src, tmp_path / "q8.gguf", "Q8_0"))
    w, w8 = mats["blk.0.ffn_up.weight"], q8["blk.0.ffn_up.weight"]
    assert w8.shape == w.shape and np.abs(w8 - w).max() <= np.abs(w).max() / 127
