"""Checking a checkpoint before loading: good files pass with their tensors listed; every bad kind
of file is refused with a clear CheckpointError (a ValueError), never a crash, and nothing is loaded."""
import json
import pickle
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers.images.checkpoint_check import CheckpointError, check_checkpoint, inspect_safetensors, read_safetensors_header


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"w": np.zeros((4, 3), np.float32), "b": np.ones(5, np.float16)}, str(path))
    return path


def test_good_file_lists_tensors_without_loading(good_file):
    report = check_checkpoint(good_file, available_bytes=10**9)
    assert report.kind == "safetensors file" and report.files == ("model.safetensors",)
    by_name = {t.name: t for t in report.tensors}
    assert by_name["w"].dtype == "F32" and by_name["w"].shape == (4, 3) and by_name["w"].nbytes == 48
    assert by_name["b"].dtype == "F16" and by_name["b"].nbytes == 10
    assert report.tensor_bytes == 58 and report.n_parameters == 17
    assert report.dtype_bytes() == {"F32": 48, "F16": 10}
    assert report.file_bytes == good_file.stat().st_size


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin", ".pkl"])
def test_pickle_suffixes_are_refused_unopened(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    with pytest.raises(CheckpointError, match="pickle"):
        check_checkpoint(path)


@pytest.mark.parametrize("content", [pickle.dumps({"w": 1}, protocol=4), b"PK\x03\x04" + b"\0" * 60])
def test_pickle_bytes_under_a_safetensors_name_are_refused(tmp_path, content):
    path = tmp_path / "renamed.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="pickle"):
        check_checkpoint(path)


def test_missing_path_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        check_checkpoint(tmp_path / "nothing.safetensors")


def test_truncated_file_is_refused(tmp_path, good_file):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good_file.read_bytes()[:-7])
    with pytest.raises(CheckpointError, match="truncated"):
        check_checkpoint(cut)
    header_cut = tmp_path / "header_cut.safetensors"
    header_cut.write_bytes(good_file.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="truncated"):
        check_checkpoint(header_cut)


def test_too_short_file_is_refused(tmp_path):
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x01\x02\x03")
    with pytest.raises(CheckpointError, match="too short"):
        check_checkpoint(path)


def test_header_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "garbage.safetensors"
    body = b"{not json at all}"
    path.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(CheckpointError, match="not valid JSON"):
        check_checkpoint(path)


def test_trailing_bytes_and_bad_offsets_are_refused(tmp_path, good_file):
    extra = tmp_path / "extra.safetensors"
    extra.write_bytes(good_file.read_bytes() + b"\0" * 16)
    with pytest.raises(CheckpointError, match="corrupt"):
        check_checkpoint(extra)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}).encode()
    bad = tmp_path / "offsets.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(CheckpointError, match="offsets"):
        check_checkpoint(bad)


def test_header_whose_shape_disagrees_with_its_bytes_is_refused_by_safetensors(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "shape.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert read_safetensors_header(path)[1] == 8 + len(header)  # our own checks pass...
    with pytest.raises(CheckpointError, match="safetensors could not read"):
        inspect_safetensors(path)  # ...and safetensors' own validation is turned into a clear error


def test_file_larger_than_available_memory_is_refused(good_file):
    with pytest.raises(CheckpointError,
                       match=r"needs 58 bytes \(0\.00 MiB\) for its tensors but only 50 bytes \(0\.00 MiB\) of memory"):
        check_checkpoint(good_file, available_bytes=50)
    with pytest.raises(CheckpointError, match=r"only 57 bytes"):
        check_checkpoint(good_file, available_bytes=57)
    assert check_checkpoint(good_file, available_bytes=58).tensor_bytes == 58


def test_other_file_types_are_refused(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(CheckpointError, match="expected a .safetensors file"):
        check_checkpoint(path)


def write_pipeline_folder(root, weights_name="diffusion_pytorch_model.safetensors"):
    (root / "unet").mkdir(parents=True)
    (root / "scheduler").mkdir()
    (root / "model_index.json").write_text(json.dumps(
        {"_class_name": "X", "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDIMScheduler"]}))
    (root / "unet" / "config.json").write_text("{}")
    (root / "scheduler" / "scheduler_config.json").write_text("{}")
    if weights_name.endswith(".safetensors"):
        save_file({"w": np.zeros(3, np.float32)}, str(root / "unet" / weights_name))
    else:
        (root / "unet" / weights_name).write_bytes(pickle.dumps({"w": 1}))
    return root


def test_pipeline_folder_is_checked_component_by_component(tmp_path):
    report = check_checkpoint(write_pipeline_folder(tmp_path / "ok"), available_bytes=10**9)
    assert report.kind == "diffusers pipeline folder"
    assert report.files == ("unet/diffusion_pytorch_model.safetensors",) and report.tensor_bytes == 12


def test_pipeline_folder_with_pickle_weights_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="pickle"):
        check_checkpoint(write_pipeline_folder(tmp_path / "p", "diffusion_pytorch_model.bin"))


def test_pipeline_folder_with_a_missing_component_is_refused(tmp_path):
    root = write_pipeline_folder(tmp_path / "m")
    index = json.loads((root / "model_index.json").read_text())
    index["vae"] = ["diffusers", "AutoencoderKL"]
    (root / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="vae"):
        check_checkpoint(root)


def test_model_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no .safetensors"):
        check_checkpoint(tmp_path)


def test_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="neither a diffusers folder"):
        check_checkpoint(tmp_path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)
