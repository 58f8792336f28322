"""llama.cpp's quantizer: by name, atomically, refusing unknown types and missing files."""
import pytest

from helpers.gguf.header import read_header
from helpers.gguf.quantize import QUANT_NAMES, ftype, quantize, quantized_types
from helpers.gguf.random_weights import write_random_llama_gguf
from helpers.memory.architecture import Architecture


def test_quantize_refuses_unknown_type_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="'Q9_9'"):
        quantize(tmp_path / "a.gguf", tmp_path / "b.gguf", "Q9_9")
    with pytest.raises(FileNotFoundError, match="a.gguf"):
        quantize(tmp_path / "a.gguf", tmp_path / "b.gguf", "Q8_0")


def test_names_are_llama_cpps_own():
    assert {"F32", "F16", "Q8_0", "Q4_K_M", "Q2_K"} <= set(QUANT_NAMES)
    assert ftype("F32") == 0 and ftype("F16") == 1 and ftype("Q8_0") == 7


@pytest.mark.slow
def test_pure_gives_every_matrix_the_same_type(tmp_path):
    import gguf

    arch = Architecture(name="t", n_layers=1, hidden=256, ffn=512, n_heads=4, n_kv_heads=4, head_dim=64,
                        vocab=320, max_context=64, tokenizer="spm")
    src = write_random_llama_gguf(tmp_path / "f32.gguf", arch)
    mixed = quantize(src, tmp_path / "mixed.gguf", "Q4_K_M", threads=1)
    pure = quantize(src, tmp_path / "pure.gguf", "Q4_K_M", threads=1, pure=True)
    types = lambda p: {t.tensor_type.name for t in gguf.GGUFReader(p).tensors if len(t.shape) > 1}  # noqa: E731
    assert types(pure) == {"Q4_K"} and len(types(mixed)) > 1
    assert read_header(pure).file_type == read_header(mixed).file_type == "Q4_K_M"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f32.gguf", "mixed.gguf", "pure.gguf"]


@pytest.mark.slow
def test_requantizing_is_refused_unless_allowed(tmp_path):
    import inspect

    arch = Architecture(name="t", n_layers=1, hidden=256, ffn=512, n_heads=4, n_kv_heads=4, head_dim=64,
                        vocab=320, max_context=64, tokenizer="spm")
    src = write_random_llama_gguf(tmp_path / "f32.gguf", arch)
    assert quantized_types(src) == set()
    q4_1 = quantize(src, tmp_path / "q4_1.gguf", "Q4_1", threads=1, pure=True)
    assert quantized_types(q4_1) == {"Q4_1"}
    assert inspect.signature(quantize).parameters["allow_requantize"].default is False
    with pytest.raises(ValueError, match=r"already-quantized tensors \(Q4_1\).*allow_requantize=True"):
        quantize(q4_1, tmp_path / "q8.gguf", "Q8_0", threads=1)
    assert not (tmp_path / "q8.gguf").exists()  # nothing half-written left behind
    q8 = quantize(q4_1, tmp_path / "q8.gguf", "Q8_0", threads=1, allow_requantize=True)
    assert quantized_types(q8) == {"Q8_0"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f32.gguf", "q4_1.gguf", "q8.gguf"]
