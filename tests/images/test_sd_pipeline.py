"""The real Stable Diffusion code path on a tiny random-weight pipeline built here: saved as safetensors
whole or not at all, counted from its headers exactly as the estimator counts, generating images of the
asked size, the same for the same seed, with each memory saver on, its memory measured per phase."""
import json
import shutil

import numpy as np
import pytest
import torch

from helpers.images import memory as im
from helpers.images import sd_pipeline as sp
from helpers.images.checkpoint_check import CheckpointError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return sp.tiny_pipeline_folder(tmp_path_factory.mktemp("models") / "tiny-sd")


def pixels(generation):
    return np.stack([np.asarray(image) for image in generation.images])


def run(folder, **kwargs):
    return sp.generate("a red apple", pipe=sp.load_pipeline(folder, device="cpu"), device="cpu", threads=1, **kwargs)


def test_tokenizer_is_byte_level_clip_and_needs_no_download():
    tokenizer = sp.tiny_tokenizer()
    assert len(tokenizer) == 2 + 2 * 256
    ids = tokenizer("A Red  apple", padding="max_length", max_length=77).input_ids
    assert len(ids) == 77 and ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.pad_token_id
    assert len(tokenizer("apple").input_ids) == 2 + 5  # no merges: one token per character
    assert tokenizer.decode(tokenizer("A Red  apple").input_ids, skip_special_tokens=True) == "a red apple"


def test_saved_folder_is_safetensors_only_and_loads_offline(folder):
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert "model_index.json" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl"))]
    assert sum(f.endswith(".safetensors") for f in files) == 3
    index = json.loads((folder / "model_index.json").read_text())
    assert index["safety_checker"] == [None, None] and index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    pipe = sp.load_pipeline(folder, device="cpu")
    assert type(pipe).__name__ == "StableDiffusionPipeline" and pipe.safety_checker is None
    assert type(pipe.text_encoder).__name__ == "CLIPTextModel"


def test_save_is_atomic_a_failed_save_leaves_the_old_folder(folder, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    before = sorted(p.name for p in target.rglob("*"))
    pipe = sp.load_pipeline(folder, device="cpu")

    def broken_save(path, **kwargs):
        (path / "half_written.safetensors").write_bytes(b"\0" * 10)
        raise OSError("disk full")

    object.__setattr__(pipe, "save_pretrained", broken_save)
    with pytest.raises(OSError, match="disk full"):
        sp.save_pipeline(pipe, target)
    assert sorted(p.name for p in target.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no temporary folder left


def test_save_replaces_an_existing_folder(tmp_path):
    target = tmp_path / "tiny"
    sp.save_pipeline(sp.build_tiny_pipeline(seed=1), target)
    first = (target / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    sp.save_pipeline(sp.build_tiny_pipeline(seed=2), target)
    assert (target / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_a_tiny_folder_from_other_configs_is_rebuilt(folder, tmp_path):
    stale = tmp_path / "stale"
    shutil.copytree(folder, stale)
    config = json.loads((stale / "unet" / "config.json").read_text())
    config["block_out_channels"] = [16, 32]
    (stale / "unet" / "config.json").write_text(json.dumps(config))
    sp.tiny_pipeline_folder(stale)
    assert json.loads((stale / "unet" / "config.json").read_text())["block_out_channels"] == [32, 64]


def test_header_counts_equal_the_loaded_modules(folder):
    counts = sp.component_counts(folder)
    assert set(counts) == {"text_encoder", "unet", "vae"}
    pipe = sp.load_pipeline(folder, device="cpu")
    for name, count in counts.items():
        module = getattr(pipe, name)
        assert count.params == sum(p.numel() for p in module.parameters())
        assert count.tensor_bytes == 4 * count.params and count.dtypes == ("F32",)
        assert count.largest_module_params == im.largest_module_params(module)


def test_estimator_weight_bytes_equal_the_counted_bytes_exactly(folder):
    counts = sp.component_counts(folder)
    every = sp.estimate_folder(folder, 64, dtype="fp32")
    assert every.phase_parts["denoising"]["weights on GPU"] == sum(c.tensor_bytes for c in counts.values())
    offload = sp.estimate_folder(folder, 64, dtype="fp32", savers=("model_cpu_offload",))
    for phase, name in (("text encoding", "text_encoder"), ("denoising", "unet"), ("VAE decode", "vae")):
        assert offload.phase_parts[phase]["weights on GPU"] == counts[name].tensor_bytes


def test_the_estimators_formulas_count_the_real_files(folder):
    counts = sp.component_counts(folder)
    text_config = dict(counts["text_encoder"].config, projection_dim=None)  # CLIPTextModel has no projection
    assert im.clip_text_params(text_config) == counts["text_encoder"].params
    for name in ("unet", "vae"):
        assert im.count_params(im.build_module(name, sp.TINY_UNET if name == "unet" else sp.TINY_VAE)) == counts[name].params


def test_generation_has_the_asked_size_and_is_deterministic(folder):
    first, again, other = run(folder, seed=3), run(folder, seed=3), run(folder, seed=4)
    assert [image.size for image in first.images] == [(64, 64)]
    assert np.array_equal(pixels(first), pixels(again))
    assert not np.array_equal(pixels(first), pixels(other))
    assert run(folder, height=64, width=128, measure=False).images[0].size == (128, 64)


def test_each_phase_is_measured(folder):
    g = run(folder)
    assert set(g.phase_peak_bytes) == set(sp.PHASES) == set(g.phase_seconds)
    pipe = sp.load_pipeline(folder, device="cpu")
    unsaved_buffers = sum(b.numel() * b.element_size() for m in (pipe.text_encoder, pipe.unet, pipe.vae)
                          for b in m.buffers())  # CLIP's position ids: in memory, not in the file
    assert g.start_bytes == sum(c.tensor_bytes for c in sp.component_counts(folder).values()) + unsaved_buffers
    assert all(peak >= g.start_bytes for peak in g.phase_peak_bytes.values())
    assert g.phase_peak_bytes["VAE decode"] > g.phase_peak_bytes["text encoding"]  # 64x64x16 maps vs 77 tokens
    rows = sp.comparison_rows(g, sp.estimate_folder(folder, 64, dtype="fp32"))
    assert [r["phase"] for r in rows] == list(sp.PHASES)


@pytest.mark.parametrize("saver", ["attention_slicing", "vae_slicing", "vae_tiling", "model_cpu_offload"])
def test_each_memory_saver_runs(folder, saver):
    plain = run(folder, batch=2, seed=5, measure=False)
    saved = run(folder, batch=2, seed=5, savers=(saver,))
    assert saved.savers == (saver,) and [i.size for i in saved.images] == [(64, 64)] * 2
    if saver == "vae_tiling":  # the tiny VAE's tile is 32 px: the 64 px image is decoded in blended tiles
        assert not np.array_equal(pixels(saved), pixels(plain))
    else:  # the same computation rearranged: the same picture, to rounding
        assert np.abs(pixels(saved).astype(int) - pixels(plain).astype(int)).max() <= 1


def test_vae_tiling_lowers_the_measured_decode_peak(folder):
    plain, tiled = run(folder, height=128, width=128), run(folder, height=128, width=128, savers=("vae_tiling",))
    assert tiled.phase_peak_bytes["VAE decode"] < plain.phase_peak_bytes["VAE decode"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine sequential offload runs")
def test_sequential_offload_is_refused_without_a_gpu(folder):
    with pytest.raises(ValueError, match="needs a GPU"):
        run(folder, savers=("sequential_cpu_offload",))


def test_bad_inputs_are_refused_clearly(folder):
    with pytest.raises(ValueError, match="multiple of 8"):
        run(folder, height=60)
    with pytest.raises(ValueError, match="steps"):
        run(folder, steps=0)
    with pytest.raises(ValueError, match="unknown memory saver"):
        run(folder, savers=("vae_tilling",))
    with pytest.raises(ValueError, match="unknown dtype"):
        sp.load_pipeline(folder, dtype="int8")


def test_folders_that_are_not_sd_pipelines_are_refused(folder, tmp_path):
    with pytest.raises(CheckpointError, match="model_index.json"):
        sp.component_counts(tmp_path)
    pickled = tmp_path / "pickled"
    shutil.copytree(folder, pickled)
    (pickled / "unet" / "diffusion_pytorch_model.safetensors").rename(pickled / "unet" / "diffusion_pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle"):
        sp.load_pipeline(pickled)
    no_unet = tmp_path / "no_unet"
    shutil.copytree(folder, no_unet)
    index = json.loads((no_unet / "model_index.json").read_text())
    index["unet"] = [None, None]
    (no_unet / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="not a Stable Diffusion pipeline"):
        sp.load_pipeline(no_unet)


def test_a_half_precision_download_is_read_as_its_variant(folder, tmp_path):
    fp16 = tmp_path / "fp16"
    shutil.copytree(folder, fp16)
    for f in fp16.rglob("*.safetensors"):
        f.rename(f.with_name(f.name.replace(".safetensors", ".fp16.safetensors")))
    assert sp.folder_variant(folder) is None and sp.folder_variant(fp16) == "fp16"
    assert {n: c.params for n, c in sp.component_counts(fp16).items()} == \
        {n: c.params for n, c in sp.component_counts(folder).items()}
    assert len(run(fp16, measure=False).images) == 1


def test_phase_peaks_attributes_each_event_to_its_phase():
    ranges = {"text encoding": [(10, 20)], "VAE decode": [(50, 60)]}
    events = [(5, 100), (12, 30), (15, -30), (30, 500), (40, -400), (55, 1000), (58, -1000), (70, 5000)]
    # held: 1100 before text; text: 1130 peak; denoising: 1600 peak; decode 2200 peak; after: ignored
    assert sp.phase_peaks(events, ranges, start_bytes=1000) == {"text encoding": 1130, "denoising": 1600,
                                                                 "VAE decode": 2200}
