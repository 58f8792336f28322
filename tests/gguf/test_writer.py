"""The one GGUF writing sequence: what goes in comes back out, and a failed write leaves nothing behind."""
import numpy as np
import pytest

from helpers.gguf.header import open_checked
from helpers.gguf.writer import write_gguf_file


def test_metadata_and_tensors_come_back_in_order(tmp_path):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)  # numpy order: 3 rows of 4
    norm = np.ones(4, dtype=np.float32)

    def add_metadata(writer):
        writer.add_name("written once")
        writer.add_context_length(128)

    path = write_gguf_file(tmp_path / "m.gguf", "llama", add_metadata, [("a.weight", matrix), ("b.weight", norm)])
    reader = open_checked(path)
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["general.name"].contents() == "written once"
    assert reader.fields["llama.context_length"].contents() == 128
    assert [t.name for t in reader.tensors] == ["a.weight", "b.weight"]
    assert [list(t.shape) for t in reader.tensors] == [[4, 3], [4]]  # GGUF order: row length first
    assert np.array_equal(np.asarray(reader.tensors[0].data).reshape(3, 4), matrix)


def test_a_failed_write_leaves_no_file(tmp_path):
    def add_metadata(writer):
        raise RuntimeError("metadata went wrong")

    with pytest.raises(RuntimeError, match="metadata went wrong"):
        write_gguf_file(tmp_path / "m.gguf", "llama", add_metadata, [])
    assert list(tmp_path.iterdir()) == []
