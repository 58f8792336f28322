"""Safetensors headers read from a (fake) hub: a diffusers pipeline's components and a transformers
model counted exactly from their headers, the same counts the course's estimators compute."""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers.hub.ranges import HubError, HubFile, Transfer, resolve_url
from helpers.hub.remote_safetensors import (
    estimator_parts,
    inspect_model,
    inspect_pipeline,
    read_remote_tensors,
    weight_files,
)
from helpers.hub.safetensors_header import SafetensorsHeaderError
from helpers.memory.architecture import Architecture, model_tensors, parameter_count

PIPE = "course/tiny-pipeline"
LLM = "course/tiny-llm"
TINY_UNET = {"sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
             "block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": 32,
             "attention_head_dim": 8, "norm_num_groups": 32}
TINY_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": [32, 32],
            "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2,
            "layers_per_block": 1, "norm_num_groups": 32, "sample_size": 32}
TINY_CLIP = {"vocab_size": 100, "max_position_embeddings": 77, "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 4, "projection_dim": None}


def _save(path, tensors):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path


def _text(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


@pytest.fixture(scope="module")
def pipeline_files(tmp_path_factory):
    """A diffusers layout: a real tiny UNet (fp32 and an fp16 variant), a VAE, a text encoder in two
    shards with an index, and a scheduler and tokenizer without weights."""
    import torch  # noqa: F401  (diffusers needs it)
    from safetensors.torch import save_file as save_torch

    from helpers.images.memory import build_module

    root = tmp_path_factory.mktemp("pipe")
    unet = build_module("unet", TINY_UNET, device="cpu")
    files = {"model_index.json": _text(root / "model_index.json", {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"], "scheduler": ["diffusers", "DDIMScheduler"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "safety_checker": [None, None]})}
    files["unet/config.json"] = _text(root / "unet/config.json", TINY_UNET)
    state = {k: v.contiguous() for k, v in unet.state_dict().items()}
    (root / "unet").mkdir(exist_ok=True)
    save_torch(state, str(root / "unet/diffusion_pytorch_model.safetensors"))
    save_torch({k: v.half() for k, v in state.items()}, str(root / "unet/diffusion_pytorch_model.fp16.safetensors"))
    files["unet/diffusion_pytorch_model.safetensors"] = root / "unet/diffusion_pytorch_model.safetensors"
    files["unet/diffusion_pytorch_model.fp16.safetensors"] = root / "unet/diffusion_pytorch_model.fp16.safetensors"
    vae = build_module("vae", TINY_VAE, device="cpu")
    (root / "vae").mkdir()
    save_torch({k: v.contiguous() for k, v in vae.state_dict().items()}, str(root / "vae/diffusion_pytorch_model.safetensors"))
    files["vae/diffusion_pytorch_model.safetensors"] = root / "vae/diffusion_pytorch_model.safetensors"
    files["vae/config.json"] = _text(root / "vae/config.json", TINY_VAE)
    files["text_encoder/config.json"] = _text(root / "text_encoder/config.json", TINY_CLIP)
    shards = {"model-00001-of-00002.safetensors": {"a": np.zeros((10, 3), np.float16)},
              "model-00002-of-00002.safetensors": {"b": np.zeros(7, np.float32), "c": np.zeros((2, 2), np.float32)}}
    for shard, tensors in shards.items():
        files[f"text_encoder/{shard}"] = _save(root / "text_encoder" / shard, tensors)
    files["text_encoder/model.safetensors.index.json"] = _text(
        root / "text_encoder/model.safetensors.index.json",
        {"weight_map": {name: shard for shard, tensors in shards.items() for name in tensors}})
    files["scheduler/scheduler_config.json"] = _text(root / "scheduler/scheduler_config.json", {"steps": 1000})
    files["tokenizer/vocab.json"] = _text(root / "tokenizer/vocab.json", {"a": 0})
    return files, sum(p.numel() for p in unet.parameters())


@pytest.fixture
def pipeline_hub(fake_hub, pipeline_files):
    files, _ = pipeline_files
    for path, source in files.items():
        fake_hub.add(PIPE, path, source)
    return fake_hub


def test_pipeline_components_counted_from_headers(pipeline_hub, pipeline_files):
    from helpers.images.memory import build_module, count_params

    found = inspect_pipeline(PIPE)
    assert sorted(found.components) == ["text_encoder", "unet", "vae"]  # scheduler, tokenizer: no weights
    unet = found.components["unet"]
    # the image estimator's count, from the config on torch's meta device, equals the header's count
    assert unet.n_parameters == count_params(build_module("unet", TINY_UNET)) == pipeline_files[1]
    assert set(unet.dtype_bytes()) == {"F32"} and unet.tensor_bytes == 4 * unet.n_parameters
    text = found.components["text_encoder"]
    assert text.files == ("text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors")
    assert text.n_parameters == 30 + 7 + 4 and text.dtype_bytes() == {"F16": 60, "F32": 44}
    assert found.components["vae"].n_parameters == count_params(build_module("vae", TINY_VAE))
    assert found.n_parameters == unet.n_parameters + found.components["vae"].n_parameters + 41
    assert found.bytes_received < found.file_bytes / 2
    assert found.bytes_received == pipeline_hub.bytes_sent


def test_fp16_variant_is_picked_on_request(pipeline_hub, pipeline_files):
    with pytest.raises(HubError, match="no fp16 .safetensors weights in vae"):
        inspect_pipeline(PIPE, variant="fp16")
    files = pipeline_files[0]
    pipeline_hub.add(PIPE, "vae/diffusion_pytorch_model.fp16.safetensors", files["vae/diffusion_pytorch_model.safetensors"])
    pipeline_hub.add(PIPE, "text_encoder/model.safetensors.index.fp16.json", files["text_encoder/model.safetensors.index.json"])
    unet = inspect_pipeline(PIPE, variant="fp16").components["unet"]
    assert unet.files == ("unet/diffusion_pytorch_model.fp16.safetensors",)
    assert unet.dtype_bytes() == {"F16": 2 * unet.n_parameters}


def test_transformers_model_parameters_equal_the_architectures_count(fake_hub, tmp_path):
    arch = Architecture("tiny", 2, 64, 128, 4, 2, 16, 320)
    tensors = {t.name: np.zeros(tuple(reversed(t.shape)), np.float16) for t in model_tensors(arch)}
    fake_hub.add(LLM, "model.safetensors", _save(tmp_path / "model.safetensors", tensors))
    fake_hub.add(LLM, "config.json", _text(tmp_path / "config.json", {"num_hidden_layers": 2}))
    found = inspect_model(LLM)
    assert found.n_parameters == parameter_count(arch)
    assert found.components["model"].tensor_bytes == 2 * parameter_count(arch)
    assert found.requests == 2  # the listing, one header read


def test_long_header_takes_a_second_read(fake_hub, tmp_path):
    path = _save(tmp_path / "many.safetensors", {f"tensor_{i:05d}": np.zeros(1, np.float32) for i in range(2000)})
    fake_hub.add(LLM, "many.safetensors", path)
    transfer = Transfer()
    tensors, total = read_remote_tensors(resolve_url(HubFile(LLM, "many.safetensors")), transfer)
    assert len(tensors) == 2000 and total == path.stat().st_size and transfer.requests == 2


def test_truncated_remote_file_is_refused(fake_hub, tmp_path):
    good = _save(tmp_path / "good.safetensors", {"w": np.zeros((64, 64), np.float32)})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    fake_hub.add(LLM, "cut.safetensors", cut)
    with pytest.raises(SafetensorsHeaderError, match="truncated"):
        read_remote_tensors(resolve_url(HubFile(LLM, "cut.safetensors")), Transfer())


def test_weight_files_rules():
    files = ["model.safetensors", "model.fp16.safetensors", "unet/x.safetensors", "a/model.safetensors.index.json"]
    assert weight_files(files, "") == ["model.safetensors"]
    assert weight_files(files, "", "fp16") == ["model.fp16.safetensors"]
    assert weight_files(files, "a", index_reader=lambda p: {"weight_map": {"w": "s2.safetensors", "v": "s1.safetensors"}}) \
        == ["a/s1.safetensors", "a/s2.safetensors"]
    with pytest.raises(HubError, match="no .safetensors weights in b"):
        weight_files(files, "b")


def test_headers_feed_the_image_estimator_like_the_models_themselves(pipeline_hub):
    """Parts from headers + configs give the estimate that parts counted on the real modules give."""
    from helpers.images.memory import PipelinePart, build_module, count_params, estimate_pipeline, largest_module_params

    parts = estimator_parts(inspect_pipeline(PIPE))
    assert {n: p.kind for n, p in parts.items()} == {"unet": "unet", "vae": "vae", "text_encoder": "clip_text"}
    for name, config in (("unet", TINY_UNET), ("vae", TINY_VAE)):
        module = build_module(name, config)
        assert parts[name] == PipelinePart(name, config, count_params(module), largest_module_params(module))
    for savers in ((), ("sequential_cpu_offload",)):
        estimate = estimate_pipeline(parts, resolution=64, savers=savers)
        assert estimate.peak_bytes > sum(p.params for p in parts.values())
