"""The one GGUF header reader: metadata and tensor table read, bad files refused before llama.cpp sees them."""
import json
import pickle

import gguf
import pytest

from helpers.course.paths import DATA_DIR
from helpers.gguf.header import read_header
from helpers.training.export import CHAT_TEMPLATE

SHIPPED = DATA_DIR / "tiny_llama" / "tiny_llama-q4_k_m.gguf"
MODEL = DATA_DIR / "tiny_llama" / "tiny_llama-q8_0.gguf"
CONFIG = json.loads((MODEL.parent / "config.json").read_text())


@pytest.fixture(scope="module")
def meta():
    return read_header(MODEL)


def test_inspect_reads_header():
    info = read_header(SHIPPED)
    assert info.version == 3 and info.architecture == "llama"
    assert info.file_type == "Q4_K_M" and info.file_bytes == SHIPPED.stat().st_size
    assert info.context_length > 0 and info.tensor_count > 0


def test_header_only_file_refused(tmp_path):
    bad = tmp_path / "head.gguf"
    bad.write_bytes(SHIPPED.read_bytes()[:200])
    with pytest.raises(ValueError, match="head.gguf"):
        read_header(bad)


def test_random_bytes_refused(tmp_path):
    bad = tmp_path / "noise.gguf"
    bad.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ValueError, match="noise.gguf: not a GGUF"):
        read_header(bad)


def test_gguf_magic_then_garbage_refused(tmp_path):
    bad = tmp_path / "garbage.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 500)
    with pytest.raises(ValueError, match="garbage.gguf"):
        read_header(bad)


def test_pickle_checkpoint_refused_without_unpickling(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps({"weight": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="model.pt: not a GGUF"):
        read_header(bad)


def test_zip_checkpoint_gets_a_hint(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ValueError, match="PyTorch checkpoint"):
        read_header(bad)


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


def test_bad_files_refused_before_reading(tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(MODEL.read_bytes()[: MODEL.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.gguf"):
        read_header(cut)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.gguf: not a GGUF"):
        read_header(text)


@pytest.mark.parametrize("keep", [20, 200, 5000, None])
def test_truncated_files_get_the_courses_message(tmp_path, keep):
    data = MODEL.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: keep or len(data) // 2])
    with pytest.raises(ValueError, match="cut.gguf: truncated") as err:
        read_header(cut)
    assert "reshape" not in str(err.value) and "again" in str(err.value)
    if keep != 20:
        assert "lists 39 tensors and 23 metadata keys" in str(err.value)



def test_no_reader_is_kept_alive(tmp_path):
    """A reader holds the parsed vocabulary and the file's mapping: once dropped, nothing keeps it."""
    import gc
    import weakref

    from helpers.gguf.header import open_checked

    copy = tmp_path / "model.gguf"
    copy.write_bytes(MODEL.read_bytes())
    first = open_checked(copy)
    assert open_checked(copy) is not first
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None


def test_check_gguf_parses_a_file_version_once(tmp_path, monkeypatch):
    from helpers.gguf.header import check_gguf

    copy = tmp_path / "model.gguf"
    copy.write_bytes(MODEL.read_bytes())
    parses = []
    real_reader = gguf.GGUFReader
    monkeypatch.setattr(gguf, "GGUFReader", lambda *args: parses.append(args) or real_reader(*args))
    check_gguf(copy)
    check_gguf(copy)
    assert len(parses) == 1
    copy.write_bytes(MODEL.read_bytes()[: MODEL.stat().st_size // 2])  # a new version of the file: checked again
    with pytest.raises(ValueError, match="model.gguf: truncated"):
        check_gguf(copy)
    assert len(parses) == 2
    with pytest.raises(FileNotFoundError, match="missing.gguf"):
        check_gguf(tmp_path / "missing.gguf")


def test_tensor_data_offset_is_where_a_zero_padded_prefix_suffices(tmp_path):
    """A copy holding only the first ``tensor_data_offset`` bytes (the rest zeros) reads the same header;
    one byte fewer does not parse as the same header."""
    from helpers.gguf.header import tensor_data_offset

    data = MODEL.read_bytes()
    offset = tensor_data_offset(MODEL)
    assert 0 < offset < len(data) and offset % 32 == 0
    sparse = tmp_path / MODEL.name
    sparse.write_bytes(data[:offset] + bytes(len(data) - offset))
    assert read_header(sparse) == read_header(MODEL)
    short = tmp_path / "short" / MODEL.name
    short.parent.mkdir()
    short.write_bytes(data[:offset - 64] + bytes(len(data) - offset + 64))
    try:
        assert tensor_data_offset(short) > offset - 64 or read_header(short) != read_header(MODEL)
    except ValueError:
        pass  # refused outright: also "needs more bytes"


def test_a_dense_file_has_no_window_experts_or_latent_attention(meta):
    assert (meta.value_head_dim, meta.rope_dim) == (meta.head_dim, meta.head_dim)
    assert meta.sliding_window == meta.n_experts == meta.n_experts_used == meta.expert_bytes == 0
    assert meta.kv_lora_rank == meta.q_lora_rank == meta.mla_key_head_dim == meta.n_dense_layers == 0
    assert [field for field, _ in meta.as_rows()][-1] == "BOS / EOS token"


@pytest.mark.parametrize("family", ["gemma3", "gpt-oss", "deepseek2"])
def test_window_expert_and_latent_keys_are_read_as_the_writer_writes_them(tmp_path, family):
    """helpers.gguf.random_weights writes these keys the way llama.cpp's converter does; the reader reads them back."""
    from helpers.gguf.random_weights import write_random_gguf
    from helpers.memory.estimator_check import REDUCED
    from helpers.memory.gguf_size import predicted_tensors

    arch = REDUCED[family]
    header = read_header(write_random_gguf(arch, tmp_path / f"{family}.gguf"))
    assert header.sliding_window == arch.sliding_window
    assert (header.n_experts, header.n_experts_used) == (arch.n_experts, arch.n_experts_used)
    assert header.expert_ffn == (arch.expert_width if arch.is_moe else 0)
    assert (header.n_shared_experts, header.n_dense_layers) == (arch.n_shared_experts, arch.n_dense_layers)
    experts = [t.nbytes for t in predicted_tensors(arch, "F16") if "_exps." in t.name]  # F16 file: sizes known
    assert header.expert_bytes == sum(experts) and (header.expert_bytes > 0) == arch.is_moe
    rows = dict(header.as_rows())
    assert ("sliding window (tokens)" in rows) == bool(arch.sliding_window)
    assert ("experts used / total" in rows) == arch.is_moe
    if arch.is_mla:  # the converter's layout: one shared "head" of the compressed vector + rotary key
        assert (header.n_kv_heads, header.head_dim, header.value_head_dim) == (
            1, arch.kv_lora_rank + arch.qk_rope_head_dim, arch.kv_lora_rank)
        assert (header.mla_key_head_dim, header.mla_value_head_dim) == (arch.head_dim, arch.value_head_dim)
        assert (header.kv_lora_rank, header.q_lora_rank, header.rope_dim) == (
            arch.kv_lora_rank, arch.q_lora_rank, arch.qk_rope_head_dim)
        assert rows["latent attention: K/V rank + rotary dims"] == f"{arch.kv_lora_rank} + {arch.qk_rope_head_dim}"
    else:
        assert (header.n_kv_heads, header.head_dim, header.kv_lora_rank) == (arch.n_kv_heads, arch.head_dim, 0)
