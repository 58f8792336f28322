"""The real Stable Diffusion code path: diffusers' text-to-image pipeline, its memory measured per phase.

The pipeline is diffusers' ``StableDiffusionPipeline`` with its real parts: a CLIP text encoder and
tokenizer (transformers' ``CLIPTextModel`` and ``CLIPTokenizer``), a ``UNet2DConditionModel``, an
``AutoencoderKL`` and a DDIM scheduler; the safety checker is off. The course builds a TINY one from
configs alone, with random weights (about 1.1 M parameters, 4.6 MB in fp32): nothing is downloaded,
and its tokenizer's vocabulary is the 256 byte symbols of byte-level BPE (no merges), written here.
Its images are noise-like: the point is the code path and its memory, not the picture. The same
functions take a folder a learner downloaded (SD 1.5, SD-Turbo; ``model_index.json`` + safetensors).

Memory savers (``helpers.images.memory.SAVERS``) and what each does **on a CPU**:

* ``attention_slicing``: replaces the attention processor by diffusers' ``SlicedAttnProcessor``
  (plain attention, heads in slices) - it runs on a CPU too, and there it *replaces* PyTorch's SDPA.
* ``vae_slicing``: decodes a batch one image at a time - works on a CPU (batches of 2 or more).
* ``vae_tiling``: decodes tiles of the VAE's ``sample_size`` pixels - works on a CPU, above that size
  (the tiny VAE's tile is 32 px, so a 64 px image is decoded in tiles).
* ``model_cpu_offload``: moves each component to the accelerator when it runs. Without a GPU the
  accelerator *is* the CPU: the hooks run (device "cpu") and save nothing.
* ``sequential_cpu_offload``: GPU-only; refused on a machine without one (accelerate's per-layer
  hooks need a separate device).

Memory is measured with ``torch.profiler``'s allocator events (``helpers.images.memory.allocator_trace``;
tracemalloc cannot see torch's allocations), split into three phases by ``record_function`` blocks
around ``encode_prompt`` (text encoding) and ``vae.decode`` (VAE decode); denoising is what lies
between. Sizes in bytes; MiB = 2**20 bytes.
"""
import json
import math
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.course.paths import BUILD_DIR
from helpers.images import memory as im
from helpers.images.checkpoint_check import CheckpointError, check_checkpoint, inspect_safetensors

TINY_FOLDER = BUILD_DIR / "models" / "tiny-stable-diffusion"
PHASES = ("text encoding", "denoising", "VAE decode")
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
TINY_TEXT_ENCODER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "max_position_embeddings": 77}
TINY_UNET = {"sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
             "block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": 32,
             "attention_head_dim": 4, "norm_num_groups": 8}
TINY_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1,
            "block_out_channels": [16, 32, 32, 32], "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4, "norm_num_groups": 8, "sample_size": 32}
TINY_SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1}
COMPONENT_KINDS = {"CLIPTextModel": "clip_text", "CLIPTextModelWithProjection": "clip_text",
                   "UNet2DConditionModel": "unet", "AutoencoderKL": "vae"}
TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@contextmanager
def quiet_hub_libraries():
    """diffusers' and transformers' progress bars and warnings off for the block (they write to stderr
    with timings, which would make every run's output differ); their settings restored after."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    saved = [(lib, lib.get_verbosity(), lib.is_progress_bar_enabled())
             for lib in (diffusers_logging, transformers_logging)]
    for lib, _, _ in saved:
        lib.set_verbosity_error()
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, verbosity, bars in saved:
            lib.set_verbosity(verbosity)
            if bars:
                lib.enable_progress_bar()


# --- the tiny pipeline, built from configs ------------------------------------------------------

def byte_level_vocab() -> dict:
    """CLIP's byte-level BPE vocabulary without merges: the two special tokens, then each of the 256
    byte symbols alone and at the end of a word (``</w>``), 514 tokens in all."""
    from tokenizers import pre_tokenizers

    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for suffix in ("", "</w>"):
        for symbol in symbols:
            vocab[symbol + suffix] = len(vocab)
    return vocab


def tiny_tokenizer():
    """A transformers ``CLIPTokenizer`` on ``byte_level_vocab()`` (every character is a token), padded
    to 77 tokens like Stable Diffusion's."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=77)


def build_tiny_pipeline(seed: int = 0):
    """A random-weight ``StableDiffusionPipeline`` (fp32, CPU) from the ``TINY_*`` configs; ``seed``
    fixes the weights."""
    import torch

    with quiet_hub_libraries():
        from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        tokenizer = tiny_tokenizer()
        text_config = CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                                     **TINY_TEXT_ENCODER)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            text_encoder = CLIPTextModel(text_config)
            unet = UNet2DConditionModel(**TINY_UNET)
            vae = AutoencoderKL(**TINY_VAE)
        return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=DDIMScheduler(**TINY_SCHEDULER), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)


def save_pipeline(pipe, folder) -> Path:
    """Save ``pipe`` to ``folder`` as safetensors (``save_pretrained``) whole or not at all: written to
    a temporary folder beside it, then renamed into place (an older folder is replaced)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    old = None
    try:
        with quiet_hub_libraries():
            pipe.save_pretrained(tmp, safe_serialization=True)
        if folder.exists():
            old = folder.with_name(f"{tmp.name}.old")
            os.replace(folder, old)
        os.replace(tmp, folder)
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover)
    return folder


def tiny_pipeline_folder(folder=TINY_FOLDER, seed: int = 0) -> Path:
    """The tiny pipeline's folder, built and saved first when it is missing or was saved from other
    ``TINY_UNET`` / ``TINY_VAE`` configs."""
    folder = Path(folder)
    if not _is_current_tiny(folder):
        try:
            save_pipeline(build_tiny_pipeline(seed), folder)
        except OSError:
            if not _is_current_tiny(folder):  # else another process saved it first: use theirs
                raise
    return folder


def _is_current_tiny(folder: Path) -> bool:
    for name, config in (("unet", TINY_UNET), ("vae", TINY_VAE)):
        path = folder / name / "config.json"
        if not (folder / "model_index.json").exists() or not path.exists():
            return False
        saved = json.loads(path.read_text(encoding="utf-8"))
        if any(saved.get(key) != value for key, value in config.items()):
            return False
    return True


def pipeline_folder(folder=None) -> Path:
    """``folder`` as a Path, or the tiny pipeline's folder (built first if missing) when None."""
    return tiny_pipeline_folder() if folder is None else Path(folder)


# --- a pipeline folder: counted from its safetensors headers -----------------------------------

@dataclass(frozen=True)
class ComponentCount:
    """One component's weights as its safetensors headers state them (no tensor data read)."""

    component: str
    kind: str  # "clip_text", "unet" or "vae"
    files: tuple  # safetensors files, relative to the pipeline folder
    params: int
    tensor_bytes: int  # bytes in the file's dtypes
    dtypes: tuple
    largest_module_params: int  # the largest single module (tensors sharing a name prefix)
    config: dict


def _variant(path: Path):
    """"fp16" for ``model.fp16.safetensors``, None for ``model.safetensors``."""
    parts = path.name.split(".")
    return parts[-2] if len(parts) > 2 else None


def folder_variant(folder) -> str:
    """The weights variant to load: None when every weighted component has plain
    ``*.safetensors`` files, else the one variant (e.g. "fp16") they all have."""
    folder = Path(folder)
    found = set()
    for name in _weighted_components(folder):
        found.add(frozenset(_variant(p) for p in (folder / name).glob("*.safetensors")))
    if all(None in f for f in found):
        return None
    common = frozenset.intersection(*found) if found else frozenset()
    if len(common) != 1:
        raise CheckpointError(f"{folder.name}: the components' safetensors variants "
                              f"{[sorted(v or 'plain' for v in f) for f in found]} "
                              "have no single variant in common; download one complete variant")
    return next(iter(common))


def _weighted_components(folder: Path) -> dict:
    """{component: kind} of the components this module counts, from ``model_index.json``."""
    index_path = folder / "model_index.json"
    if not index_path.exists():
        raise CheckpointError(f"{folder.name} has no model_index.json: give a diffusers pipeline folder")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    out = {}
    for name, value in index.items():
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[1] in COMPONENT_KINDS:
            out[name] = COMPONENT_KINDS[value[1]]
    return out


def component_counts(folder) -> dict:
    """{component: ComponentCount} of a pipeline folder, read from the headers of the safetensors files
    that ``load_pipeline`` loads (``checkpoint_check.inspect_safetensors``)."""
    folder = Path(folder)
    variant = folder_variant(folder)
    counts = {}
    for name, kind in _weighted_components(folder).items():
        files = sorted(p for p in (folder / name).glob("*.safetensors") if _variant(p) == variant)
        tensors = [t for f in files for t in inspect_safetensors(f)]
        modules = {}
        for t in tensors:
            prefix = t.name.rsplit(".", 1)[0]
            modules[prefix] = modules.get(prefix, 0) + math.prod(t.shape)
        config = json.loads((folder / name / "config.json").read_text(encoding="utf-8"))
        counts[name] = ComponentCount(name, kind, tuple(f.relative_to(folder).as_posix() for f in files),
                                      sum(modules.values()), sum(t.nbytes for t in tensors),
                                      tuple(sorted({t.dtype for t in tensors})), max(modules.values(), default=0),
                                      config)
    return counts


def pipeline_parts(counts: dict) -> dict:
    """``counts`` as the estimator's {component: memory.PipelinePart}, with the exact counted params."""
    return {name: im.PipelinePart(c.kind, c.config, c.params, c.largest_module_params) for name, c in counts.items()}


def estimate_folder(folder=None, resolution=64, batch: int = 1, dtype: str = "fp32", savers=(),
                    cfg: bool = True, attention: str = "sdpa") -> im.MemoryEstimate:
    """The course's image-memory estimate (``memory.estimate_pipeline``, bytes) for a pipeline folder,
    from its exact parameter counts; ``folder`` None: the tiny pipeline."""
    folder = pipeline_folder(folder)
    return im.estimate_pipeline(pipeline_parts(component_counts(folder)), resolution, batch, dtype, savers,
                                attention, cfg, name=folder.name)


# --- load, generate, measure -------------------------------------------------------------------

def accelerator() -> str:
    """"cuda" when PyTorch sees a GPU, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(folder=None, dtype: str = "fp32", device: str = None):
    """A pipeline folder checked (``check_checkpoint``: safetensors only, fits in RAM), then loaded with
    ``DiffusionPipeline.from_pretrained(local_files_only=True)``, safety checker off, on ``device``
    (default ``accelerator()``). ``folder`` None: the tiny pipeline (built first if missing). ``dtype``:
    "fp32" (use it on a CPU), "fp16" or "bf16"."""
    import torch

    folder = pipeline_folder(folder)
    if dtype not in TORCH_DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {list(TORCH_DTYPES)}")
    check_checkpoint(folder)
    kinds = sorted(_weighted_components(folder).values())
    if kinds.count("unet") != 1 or kinds.count("vae") != 1 or "clip_text" not in kinds:
        raise CheckpointError(f"{folder.name} is not a Stable Diffusion pipeline (CLIP text encoder, "
                              f"UNet2DConditionModel, AutoencoderKL); its weighted components are {kinds}")
    extra = {"safety_checker": None, "requires_safety_checker": False} if _has_safety_checker_slot(folder) else {}
    with quiet_hub_libraries():
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                 variant=folder_variant(folder),
                                                 dtype=getattr(torch, TORCH_DTYPES[dtype]), **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device or accelerator())


def _has_safety_checker_slot(folder: Path) -> bool:
    return "safety_checker" in json.loads((folder / "model_index.json").read_text(encoding="utf-8"))


def apply_savers(pipe, savers=(), device: str = None) -> tuple:
    """Switch on ``savers`` (any of ``memory.SAVERS``) on ``pipe``; see the module docstring for what
    each does on a CPU. ``sequential_cpu_offload`` is refused without a GPU."""
    savers = im.check_savers(savers)
    device = device or accelerator()
    for saver in savers:
        if saver == "attention_slicing":
            pipe.enable_attention_slicing()
        elif saver == "vae_slicing":
            pipe.vae.enable_slicing()
        elif saver == "vae_tiling":
            pipe.vae.enable_tiling()
        elif saver == "model_cpu_offload":
            pipe.enable_model_cpu_offload(device=device)
        elif device == "cpu":
            raise ValueError("sequential_cpu_offload needs a GPU: it moves each layer to the GPU as it runs, "
                             "and on a CPU-only machine there is nowhere to move it; use model_cpu_offload")
        else:
            pipe.enable_sequential_cpu_offload(device=device)
    return savers


@dataclass(frozen=True)
class Generation:
    """One text-to-image call, measured. Bytes; seconds of wall time."""

    images: list  # PIL images
    device: str
    savers: tuple
    start_bytes: int  # held on the device when the call began (on a CPU: the weights)
    phase_peak_bytes: dict  # phase -> peak held during it (start_bytes included)
    phase_seconds: dict
    seconds: float

    @property
    def peak_bytes(self) -> int:
        return max(self.phase_peak_bytes.values())


def _module_bytes(pipe) -> int:
    """Bytes of every parameter and buffer of the pipeline's torch modules."""
    import torch

    total = 0
    for part in pipe.components.values():
        if isinstance(part, torch.nn.Module):
            total += sum(t.numel() * t.element_size() for t in list(part.parameters()) + list(part.buffers()))
    return total


def _phase_of(t_ns: int, ranges: dict):
    for phase in ("text encoding", "VAE decode"):
        if any(a <= t_ns <= b for a, b in ranges.get(phase, ())):
            return phase
    text_end = max((b for _, b in ranges.get("text encoding", ())), default=None)
    decode_start = min((a for a, _ in ranges.get("VAE decode", ())), default=None)
    if text_end is not None and decode_start is not None and text_end < t_ns < decode_start:
        return "denoising"
    return None


def phase_peaks(events, ranges: dict, start_bytes: int) -> dict:
    """{phase: peak bytes held} from the allocator's ``(time ns, +/- bytes)`` events, each attributed to
    the phase whose time range holds it; a phase starts from what is held when it begins."""
    held, peaks = start_bytes, {}
    for t_ns, nbytes in events:
        phase = _phase_of(t_ns, ranges)
        if phase is not None:
            peaks.setdefault(phase, held)
        held += nbytes
        if phase is not None:
            peaks[phase] = max(peaks[phase], held)
    return {phase: peaks.get(phase, start_bytes) for phase in PHASES}


def generate(prompt: str = "a red apple on a table", pipe=None, height: int = 64, width: int = 64, steps: int = 2,
             guidance_scale: float = 7.5, seed: int = 0, batch: int = 1, savers=(), device: str = None,
             measure: bool = True, threads: int = None) -> Generation:
    """Text to ``batch`` images of ``height`` x ``width`` pixels with ``pipe`` (default: the tiny
    pipeline, loaded fresh), ``savers`` switched on, a seeded CPU generator (same seed, same images).
    With ``measure``, each phase's peak memory is taken from the allocator trace. ``guidance_scale``
    above 1 means classifier-free guidance (SD-Turbo: 0.0 and 1 step). ``threads``: PyTorch's CPU
    threads for this call (None: as set; 1 is fastest for the tiny pipeline on a busy machine)."""
    import torch
    from torch.profiler import record_function

    device = device or accelerator()
    im.check_resolution((height, width))
    im.check_batch(batch)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    pipe = load_pipeline(device=device) if pipe is None else pipe
    savers = apply_savers(pipe, savers, device)
    originals = {"encode_prompt": pipe.encode_prompt, "decode": pipe.vae.decode}

    def in_range(name, fn):
        def wrapped(*args, **kwargs):
            with record_function(name):
                return fn(*args, **kwargs)
        return wrapped

    result = {}

    def run():
        generator = torch.Generator("cpu").manual_seed(seed)
        t0 = time.perf_counter()
        result["images"] = pipe(prompt, height=height, width=width, num_inference_steps=steps,
                                guidance_scale=guidance_scale, num_images_per_prompt=batch,
                                generator=generator).images
        result["seconds"] = time.perf_counter() - t0

    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    object.__setattr__(pipe, "encode_prompt", in_range("text encoding", originals["encode_prompt"]))
    object.__setattr__(pipe.vae, "decode", in_range("VAE decode", originals["decode"]))
    try:
        if device == "cuda":
            torch.cuda.synchronize()
            start = torch.cuda.memory_allocated()
        else:
            start = _module_bytes(pipe)
        with torch.no_grad():
            if measure:
                events, ranges = im.allocator_trace(run, device, range_names=("text encoding", "VAE decode"))
            else:
                run()
    finally:
        object.__delattr__(pipe, "encode_prompt")
        object.__delattr__(pipe.vae, "decode")
        torch.set_num_threads(threads_before)
    peaks, seconds = {}, {}
    if measure:
        peaks = phase_peaks(events, ranges, start)
        spans = {p: sum(b - a for a, b in ranges.get(p, ())) / 1e9 for p in ("text encoding", "VAE decode")}
        text_end = max(b for _, b in ranges["text encoding"])
        decode_start = min(a for a, _ in ranges["VAE decode"])
        seconds = {"text encoding": spans["text encoding"], "denoising": (decode_start - text_end) / 1e9,
                   "VAE decode": spans["VAE decode"]}
    return Generation(result["images"], device, savers, start if measure else 0, peaks, seconds, result["seconds"])


def comparison_rows(generation: Generation, estimate: im.MemoryEstimate) -> list:
    """Per phase: the measured peak and the estimate without the GPU runtime overhead (MiB = 2**20
    bytes), split into weights and activations."""
    mib = 2**20
    rows = []
    for phase in PHASES:
        parts = dict(estimate.phase_parts[phase])
        weights = parts.pop("weights on GPU")
        parts.pop("runtime overhead")
        measured = generation.phase_peak_bytes[phase]
        rows.append({"phase": phase, "measured peak MiB": round(measured / mib, 3),
                     "measured above weights MiB": round((measured - generation.start_bytes) / mib, 3),
                     "estimated weights MiB": round(weights / mib, 3),
                     "estimated activations MiB": round(sum(parts.values()) / mib, 3),
                     "estimated total MiB": round((weights + sum(parts.values())) / mib, 3)})
    return rows


def savers_on(device: str) -> tuple:
    """The memory savers that run on ``device``: all of ``memory.SAVERS`` on "cuda", all but
    sequential CPU offload on "cpu"."""
    return tuple(s for s in im.SAVERS if device == "cuda" or s != "sequential_cpu_offload")


def measure_savers(folder=None, resolution: int = 64, batch: int = 2, steps: int = 2, saver_sets=None,
                   device: str = None, threads: int = 1, seed: int = 0) -> list:
    """For no saver and each saver (``saver_sets``: tuples of savers; default: each one of
    ``savers_on(device)`` alone), a fresh pipeline from ``folder`` (default: the tiny one) generates
    ``batch`` images at ``resolution`` twice (a warm-up, then measured); one row per phase with the
    measured peak above the weights beside the estimator's activations (sdpa attention; MiB = 2**20
    bytes), and whole peaks with weights (the estimate without the GPU runtime overhead)."""
    folder = pipeline_folder(folder)
    device = device or accelerator()
    saver_sets = [()] + [(s,) for s in savers_on(device)] if saver_sets is None else saver_sets
    rows = []
    for savers in saver_sets:
        pipe = load_pipeline(folder, device=device)
        apply_savers(pipe, savers, device)
        kwargs = {"pipe": pipe, "height": resolution, "width": resolution, "steps": steps, "batch": batch,
                  "seed": seed, "device": device, "threads": threads}
        generate(measure=False, **kwargs)
        g = generate(**kwargs)
        estimate = im.estimate_pipeline(pipeline_parts(component_counts(folder)), resolution, batch,
                                        _dtype_name(pipe), savers, "sdpa", cfg=True, name=folder.name)
        for row in comparison_rows(g, estimate):
            rows.append({"savers": " + ".join(savers) or "none", "phase": row["phase"],
                         "measured MiB": row["measured above weights MiB"],
                         "estimated MiB": row["estimated activations MiB"],
                         "measured peak MiB": row["measured peak MiB"],
                         "estimated peak MiB": row["estimated total MiB"],
                         "seconds": round(g.phase_seconds[row["phase"]], 3)})
    return rows


def _dtype_name(pipe) -> str:
    names = {v: k for k, v in TORCH_DTYPES.items()}
    return names[str(pipe.unet.dtype).removeprefix("torch.")]
