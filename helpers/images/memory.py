"""What Stable Diffusion 1.5 and SDXL are made of, and how much GPU memory they need.

Components (configs with sources in ``data/image_models.json``):

* **text encoder(s)**: CLIP ViT-L/14's text tower (SD 1.5); SDXL adds OpenCLIP ViT-bigG/14's.
* **UNet**: the noise predictor, run once per denoising step (twice the batch with classifier-free
  guidance, which batches the prompt and the empty prompt together).
* **VAE**: decodes the 4-channel latents (8x smaller per side than the image) to pixels at the end.

Parameter counts are *computed*: the UNet and VAE are built on torch's ``meta`` device (shapes, no
memory) with diffusers' own classes; the CLIP text encoders are counted with a formula from their
config (``clip_text_params``), checked in the tests against PyTorch's own transformer layer.

Memory model (bytes; GiB = 2**30 bytes, GB = 10**9 bytes; deliberately simple, and said so):

* weights = parameters x bytes per element (fp32 4, fp16/bf16 2).
* UNet activations at a latent of h x w tokens per level: the skip connections kept for the way up
  (every down-block output) plus the largest working set of one level, ``K_ATTN_WORK`` (levels with
  attention) or ``K_RES_WORK`` (ResNet-only levels) feature maps of that level's size, plus, with
  naive attention, the score matrix: 2 (scores and probabilities) x heads x n_tokens² per image -
  the quadratic term. PyTorch 2's ``scaled_dot_product_attention`` (diffusers' default, like
  xFormers) is a fused kernel that never materialises it, so there the term is 0. Attention slicing
  (diffusers' ``SlicedAttnProcessor``) replaces either kind by plain attention over a slice of the
  batch x heads axis at a time: 2 x (heads // 2) x n_tokens², whatever the batch - less than naive
  attention, more than SDPA. Cross-attention scores (n x 77) are ignored.
* VAE decode: ``K_VAE_DECODE`` feature maps of its largest decoder map (256 channels at full
  resolution for these VAEs) per image, plus the mid-block attention scores when naive.
  SDXL's VAE config sets ``force_upcast``: diffusers decodes it in fp32 even in an fp16 pipeline
  (``vae_dtype=None``); an fp16-safe VAE or a UI's half-precision decode is ``vae_dtype="fp16"``.
* the text encoders' activations (77 tokens) are negligible and left out.
* runtime overhead: CUDA context and library workspaces, ``RUNTIME_OVERHEAD_BYTES`` (the 400 MiB
  ``helpers.memory.vram`` uses); PyTorch's caching allocator can hold more than this model counts.

The peak is the largest of three phases (text encoding, denoising, VAE decode): weights on the GPU
in that phase + that phase's activations + overhead. ``text_encoders_offloaded`` moves the text
encoders off the GPU once the prompt is encoded (the UNet and VAE stay). The coefficients were set
by measuring models on a CPU (``measure_forward_peak``: torch.profiler's allocator events; see
notebook 17) and are a model, not a promise: a GPU adds cuDNN workspaces and the caching
allocator's slack. ``published_comparison`` sets published figures beside the peak of the setup
each source describes (``SETUPS``, plus the VAE's dtype).
"""
import json
import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from helpers.course.catalog import suggest
from helpers.course.paths import DATA_DIR
from helpers.course.units import GiB
from helpers.memory.vram import RUNTIME_OVERHEAD_BYTES

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
ATTENTION_KINDS = ("sdpa", "naive")
SAVERS = ("attention_slicing", "vae_slicing", "vae_tiling", "model_cpu_offload", "sequential_cpu_offload")
LATENT_FACTOR = 8  # the VAE halves height and width three times
MAX_RESOLUTION = 8192  # pixels per side
MAX_BATCH = 64
# Feature maps alive at once, set from allocator peaks measured with ``measure_forward_peak`` (small UNet
# and VAE configs and SD 1.5's real VAE, fp32 on a CPU, PyTorch 2.13 / diffusers 0.42; see notebook 17
# and benchmarks/image_memory.py):
K_ATTN_WORK = 28  # inside a transformer block (q, k, v, GEGLU's 8x-wide projection, residuals, ...)
K_RES_WORK = 8  # inside a ResNet block (not measured separately: levels without attention are small)
K_VAE_DECODE = 4  # the VAE decoder's largest feature map (256 channels at full resolution): SD 1.5's real
# VAE config measured 3.8 such maps at 128 and 256 px (torch.profiler allocator peak, fp32, CPU)
ATTENTION_SLICES = 2  # diffusers' enable_attention_slicing("auto"): heads in two halves

SAVER_NOTES = {
    "attention_slicing": ("plain attention over half the heads at a time (diffusers 'auto'), so only part of "
                          "the score matrix exists at once: saves memory against naive attention; against "
                          "SDPA/xFormers, whose fused kernel never materialises the scores, it gains nothing "
                          "and adds the slices' score matrices (measured: benchmarks/results/sd_pipeline_memory.md)",
                          "small: about 10% slower",
                          "https://huggingface.co/docs/diffusers/v0.13.0/optimization/fp16"),
    "vae_slicing": ("the VAE decodes a batch one image at a time", "none to small (batches only)",
                    "https://huggingface.co/docs/diffusers/optimization/memory"),
    "vae_tiling": ("the VAE decodes overlapping tiles of the VAE's sample_size (512 px for SD 1.5, 1024 px for "
                   "SDXL), so decode memory stops growing with resolution; no effect at or below the tile size",
                   "slower decode; tiles can leave faint seams",
                   "https://huggingface.co/docs/diffusers/optimization/memory"),
    "model_cpu_offload": ("only the component in use (text encoders, UNet or VAE) is on the GPU; each moves "
                          "once per image (AUTOMATIC1111: --medvram)",
                          "small: 'lowers performance, but only by a bit'",
                          "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Optimizations"),
    "sequential_cpu_offload": ("each layer's weights move to the GPU just before it runs, at every step "
                               "(AUTOMATIC1111: --lowvram; ComfyUI: --novram)",
                               "large: 'devastating for performance' (weights cross PCIe every step)",
                               "https://github.com/AUTOMATIC1111/stable-diffusion-webui/wiki/Optimizations"),
}


# --- the catalogue -----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def load_image_models() -> dict:
    """``data/image_models.json`` models as {key: entry}; every component must name its source."""
    with open(DATA_DIR / "image_models.json", encoding="utf-8") as f:
        models = json.load(f)["models"]
    for key, model in models.items():
        for name, comp in model["components"].items():
            if not comp.get("source") or comp.get("kind") not in ("clip_text", "unet", "vae"):
                raise ValueError(f"image_models.json: {key}.{name} needs a kind and a source")
    return models


def find_model(name: str) -> dict:
    """The catalogue entry of ``name`` ("sd15", "sdxl"; case and spacing forgiven)."""
    models = load_image_models()
    key = str(name).lower().replace(" ", "").replace("-", "").replace(".", "").replace("_", "")
    aliases = {"sd15": "sd15", "sd1": "sd15", "stablediffusion15": "sd15", "sdxl": "sdxl", "sdxl10": "sdxl",
               "sdxlbase": "sdxl"}
    if key in aliases:
        return models[aliases[key]]
    raise ValueError(f"unknown image model {name!r}; {suggest(name, list(models))}")


def model_key(name: str) -> str:
    entry = find_model(name)
    return next(k for k, v in load_image_models().items() if v is entry)


# --- parameter counts --------------------------------------------------------------------------

def clip_text_params(config: dict) -> int:
    """Parameters of a CLIP text transformer from its config (transformers' CLIPTextModel layout).

    token + position embeddings, then per layer: q, k, v, out projections (d x d + d each), two
    LayerNorms (2d each), MLP d->f->d with biases; a final LayerNorm; and, when ``projection_dim``
    is set (CLIPTextModelWithProjection), a bias-free d x projection_dim text projection.
    """
    d, f = config["hidden_size"], config["intermediate_size"]
    per_layer = 4 * (d * d + d) + 2 * (2 * d) + (d * f + f) + (f * d + d)
    total = (config["vocab_size"] + config["max_position_embeddings"]) * d + config["num_hidden_layers"] * per_layer
    total += 2 * d
    if config.get("projection_dim"):
        total += d * config["projection_dim"]
    return total


def build_module(kind: str, config: dict, device: str = "meta"):
    """A diffusers ``UNet2DConditionModel`` (kind "unet") or ``AutoencoderKL`` ("vae") from ``config``
    on ``device`` ("meta": shapes only, no memory)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    cls = {"unet": UNet2DConditionModel, "vae": AutoencoderKL}.get(kind)
    if cls is None:
        raise ValueError(f"can only build 'unet' or 'vae', got {kind!r}")
    with torch.device(device):
        return cls(**config)


def count_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def largest_module_params(module) -> int:
    """Parameters of the largest single module (its own, not its children's): what sequential CPU
    offload must hold on the GPU at once."""
    return max(sum(p.numel() for p in m.parameters(recurse=False)) for m in module.modules())


@lru_cache(maxsize=None)
def _component_counts(model: str, component: str) -> tuple:
    comp = find_model(model)["components"][component]
    cfg = comp["config"]
    if comp["kind"] == "clip_text":
        d = cfg["hidden_size"]
        largest = max(cfg["vocab_size"] * d, d * cfg["intermediate_size"] + cfg["intermediate_size"])
        return clip_text_params(cfg), largest
    module = build_module(comp["kind"], cfg)
    return count_params(module), largest_module_params(module)


def component_params(model: str, component: str) -> int:
    """Computed parameter count of one component ("text_encoder", "text_encoder_2", "unet", "vae")."""
    return _component_counts(model_key(model), _check_component(model, component))[0]


def _check_component(model: str, component: str) -> str:
    comps = find_model(model)["components"]
    if component not in comps:
        raise ValueError(f"{model!r} has no component {component!r}; it has {list(comps)}")
    return component


def components(model: str) -> list:
    """Component names of ``model`` in pipeline order."""
    return list(find_model(model)["components"])


def parameter_table(model: str) -> list:
    """Rows {component, label, params computed, params published, difference %, source}."""
    rows = []
    for name, comp in find_model(model)["components"].items():
        n = component_params(model, name)
        pub = comp["published_params"]
        rows.append({"component": name, "what": comp["label"], "params (computed)": n, "params (published)": pub,
                     "difference %": round(100 * (n - pub) / pub, 2), "source": comp["published_source"]})
    return rows


# --- input checks ------------------------------------------------------------------------------

def check_dtype(dtype: str) -> int:
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {list(DTYPE_BYTES)}")
    return DTYPE_BYTES[dtype]


def check_resolution(resolution) -> tuple:
    """``(height, width)`` in pixels from an int or a pair: positive, multiples of 8, at most 8192."""
    pair = tuple(resolution) if isinstance(resolution, (tuple, list)) else (resolution, resolution)
    if len(pair) != 2:
        raise ValueError(f"resolution must be one number or (height, width), got {resolution!r}")
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v != int(v):
            raise ValueError(f"resolution must be whole pixels, got {resolution!r}")
        if v <= 0:
            raise ValueError(f"resolution must be positive, got {resolution!r}")
        if v % LATENT_FACTOR:
            raise ValueError(f"resolution must be a multiple of {LATENT_FACTOR} pixels (the VAE's downsampling), "
                             f"got {resolution!r}; nearest: {int(v) // 8 * 8 or 8} or {int(v) // 8 * 8 + 8}")
        if v > MAX_RESOLUTION:
            raise ValueError(f"resolution {resolution!r} is above {MAX_RESOLUTION} pixels per side")
    return int(pair[0]), int(pair[1])


def check_batch(batch) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be a whole number of images in [1, {MAX_BATCH}], got {batch!r}")
    return batch


def check_savers(savers) -> tuple:
    savers = tuple(savers or ())
    for s in savers:
        if s not in SAVERS:
            raise ValueError(f"unknown memory saver {s!r}; {suggest(s, SAVERS)}")
    if "model_cpu_offload" in savers and "sequential_cpu_offload" in savers:
        raise ValueError("choose one of model_cpu_offload and sequential_cpu_offload, not both")
    return savers


# --- latents -----------------------------------------------------------------------------------

def latent_shape(model: str, resolution, batch: int = 1) -> tuple:
    """(batch, latent channels, height / 8, width / 8) of the latents the UNet denoises."""
    h, w = check_resolution(resolution)
    channels = find_model(model)["components"]["vae"]["config"]["latent_channels"]
    return check_batch(batch), channels, h // LATENT_FACTOR, w // LATENT_FACTOR


def pixel_to_latent_ratio(model: str, resolution) -> float:
    """How many numbers an RGB image has per latent number (48 for 4 latent channels)."""
    h, w = check_resolution(resolution)
    _, c, lh, lw = latent_shape(model, resolution)
    return 3 * h * w / (c * lh * lw)


# --- activations -------------------------------------------------------------------------------

def _per_level(value, levels: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * levels


@dataclass(frozen=True)
class UNetActivation:
    """Activation bytes of one UNet forward pass: skip connections, the largest working set, attention."""

    skips: int
    working: int
    attention_scores: int

    @property
    def total(self) -> int:
        return self.skips + self.working + self.attention_scores


def unet_activation(config: dict, latent_h: int, latent_w: int, batch: int, bytes_per_element: int,
                    attention: str = "sdpa", slices: int = 1) -> UNetActivation:
    """The UNet's activation peak (bytes) for ``batch`` latents of ``latent_h`` x ``latent_w``.

    ``batch`` counts every image the UNet sees at once (twice the images with classifier-free
    guidance). ``attention``: "sdpa" (scores never stored) or "naive" (2 x heads x tokens² per image).
    ``slices`` > 1: attention slicing, which replaces either kind by diffusers' ``SlicedAttnProcessor``:
    scores and probabilities for ``heads // slices`` rows of the batch x heads axis at a time
    (2 x heads // slices x tokens², whatever the batch; with SDPA this is memory SDPA never used).
    """
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    chans = config["block_out_channels"]
    levels = len(chans)
    heads = _per_level(config.get("num_attention_heads") or config.get("attention_head_dim", 8), levels)
    has_attn = ["CrossAttn" in t for t in config["down_block_types"]]
    tokens = []
    h, w = latent_h, latent_w
    for _ in range(levels):
        tokens.append(h * w)
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    layers = config.get("layers_per_block", 2)
    skip = chans[0] * tokens[0]
    for i in range(levels):
        skip += layers * chans[i] * tokens[i]
        if i < levels - 1:
            skip += chans[i] * tokens[i + 1]
    work, scores = 0, 0  # elements per image (work) and for the whole call (scores)
    for i in range(levels):
        attn_here = has_attn[i] or i == levels - 1  # the mid block attends at the deepest level
        work = max(work, (K_ATTN_WORK if attn_here else K_RES_WORK) * chans[i] * tokens[i])
        if attn_here and slices > 1:
            scores = max(scores, 2 * max(1, heads[i] // slices) * tokens[i] ** 2)
        elif attn_here and attention == "naive":
            scores = max(scores, 2 * heads[i] * tokens[i] ** 2 * batch)
    b = batch * bytes_per_element
    return UNetActivation(skip * b, work * b, scores * bytes_per_element)


def vae_decode_bytes(config: dict, height: int, width: int, batch: int, bytes_per_element: int,
                     attention: str = "sdpa") -> int:
    """Activation peak (bytes) of decoding ``batch`` images of ``height`` x ``width`` pixels at once."""
    chans = config["block_out_channels"]
    largest = max(chans[1] if len(chans) > 1 else chans[0], chans[0]) * height * width
    per_image = K_VAE_DECODE * largest + 3 * height * width
    if attention == "naive":
        n = (height // 2 ** (len(chans) - 1)) * (width // 2 ** (len(chans) - 1))
        per_image += 2 * n * n
    return batch * per_image * bytes_per_element


# --- the estimate ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory of one text-to-image call (bytes), with the parts of its peak phase."""

    model: str
    resolution: tuple
    batch: int
    dtype: str
    savers: tuple
    attention: str
    phase_bytes: dict  # phase -> peak bytes in that phase (overhead included)
    peak_phase: str
    parts: dict = field(default_factory=dict)  # name -> bytes at the peak phase; sums to peak_bytes
    phase_parts: dict = field(default_factory=dict)  # phase -> {name -> bytes}; each sums to that phase's bytes
    vae_dtype: str = ""  # the dtype the VAE decodes in (fp32 when diffusers upcasts it)
    text_encoders_offloaded: bool = False

    @property
    def peak_bytes(self) -> int:
        return self.phase_bytes[self.peak_phase]

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GiB

    def fits(self, vram_gib: float) -> bool:
        """Whether the peak fits in ``vram_gib`` GiB (2**30 bytes)."""
        return self.peak_bytes <= vram_gib * GiB


def weight_bytes(model: str, dtype: str = "fp16") -> dict:
    """{component: bytes of its weights in ``dtype``} (computed parameter counts x bytes per element)."""
    s = check_dtype(dtype)
    return {c: component_params(model, c) * s for c in components(model)}


@dataclass(frozen=True)
class PipelinePart:
    """One component as the estimator needs it: kind ("clip_text", "unet", "vae"), its config, its
    parameter count and the parameters of its largest single module (for sequential offload)."""

    kind: str
    config: dict
    params: int
    largest_module_params: int


def estimate(model: str = "sdxl", resolution=1024, batch: int = 1, dtype: str = "fp16", savers=(),
             attention: str = "sdpa", cfg: bool = True, vae_dtype: str = None,
             text_encoders_offloaded: bool = False) -> MemoryEstimate:
    """Peak GPU memory (bytes) of generating ``batch`` images at ``resolution`` with ``model``.

    ``savers``: any of ``SAVERS``; ``attention``: "sdpa" (PyTorch 2 / xFormers) or "naive";
    ``cfg``: classifier-free guidance (the UNet sees twice the batch); ``vae_dtype``: None for
    diffusers' rule (``force_upcast`` VAEs decode in fp32 in an fp16 pipeline), or the dtype the VAE
    is kept and decodes in (an fp16-safe VAE, or a UI's half-precision decode: "fp16");
    ``text_encoders_offloaded``: the text encoders leave the GPU once the prompt is encoded.
    """
    key = model_key(model)
    parts = {}
    for name, comp in find_model(key)["components"].items():
        params, largest = _component_counts(key, name)
        parts[name] = PipelinePart(comp["kind"], comp["config"], params, largest)
    return estimate_pipeline(parts, resolution, batch, dtype, savers, attention, cfg, name=key, vae_dtype=vae_dtype,
                             text_encoders_offloaded=text_encoders_offloaded)


def estimate_pipeline(parts: dict, resolution=512, batch: int = 1, dtype: str = "fp16", savers=(),
                      attention: str = "sdpa", cfg: bool = True, name: str = "pipeline", vae_dtype: str = None,
                      text_encoders_offloaded: bool = False) -> MemoryEstimate:
    """``estimate`` for any pipeline given as {component name: PipelinePart} (one "unet", one "vae",
    any number of "clip_text"): the catalogue's models, or a folder's exact counts
    (``helpers.images.sd_pipeline``). Bytes; weights = params x bytes per element of ``dtype``."""
    h, w = check_resolution(resolution)
    batch = check_batch(batch)
    s = check_dtype(dtype)
    savers = check_savers(savers)
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    kinds = sorted(p.kind for p in parts.values())
    if kinds.count("unet") != 1 or kinds.count("vae") != 1 or set(kinds) - {"clip_text", "unet", "vae"}:
        raise ValueError(f"a pipeline needs one unet, one vae and clip_text encoders; got kinds {kinds}")
    by_kind = {p.kind: n for n, p in parts.items()}
    unet_name, vae_name = by_kind["unet"], by_kind["vae"]
    weights = {c: p.params * s for c, p in parts.items()}
    vae_cfg = parts[vae_name].config
    if vae_dtype is None:  # diffusers: an fp16 pipeline upcasts a force_upcast VAE for the decode only
        decode_dtype = "fp32" if vae_cfg.get("force_upcast") and dtype == "fp16" else dtype
        vae_weights_idle = weights[vae_name]
    else:
        decode_dtype = vae_dtype
        vae_weights_idle = parts[vae_name].params * check_dtype(vae_dtype)
    vae_s = check_dtype(decode_dtype)
    text = [c for c, p in parts.items() if p.kind == "clip_text"]
    phase_comps = {"text encoding": text, "denoising": [unet_name], "VAE decode": [vae_name]}

    def largest(names):
        return max((parts[c].largest_module_params for c in names), default=0)

    slices = ATTENTION_SLICES if "attention_slicing" in savers else 1
    act = unet_activation(parts[unet_name].config, h // 8, w // 8, batch * (2 if cfg else 1), s, attention, slices)
    tile = vae_cfg.get("sample_size", 512)
    dh, dw = (min(h, tile), min(w, tile)) if "vae_tiling" in savers else (h, w)
    decode_images = 1 if "vae_slicing" in savers else batch
    decode = vae_decode_bytes(vae_cfg, dh, dw, decode_images, vae_s, attention)
    decode += (batch - decode_images) * 3 * h * w * vae_s  # decoded images already finished
    if "vae_tiling" in savers and (dh, dw) != (h, w):
        decode += decode_images * 3 * h * w * vae_s  # the full output the tiles are pasted into
    vae_weights = parts[vae_name].params * vae_s
    phase_bytes, phase_parts = {}, {}
    for phase, names in phase_comps.items():
        if "sequential_cpu_offload" in savers:
            resident = largest(names) * (vae_s if phase == "VAE decode" else s)
        elif "model_cpu_offload" in savers:
            resident = sum(vae_weights if c == vae_name else weights[c] for c in names)
        else:
            vae = vae_weights if phase == "VAE decode" else vae_weights_idle
            gone = text if text_encoders_offloaded and phase != "text encoding" else []
            resident = sum(weights[c] for c in parts if c != vae_name and c not in gone) + vae
        phase_part = {"weights on GPU": resident, "runtime overhead": RUNTIME_OVERHEAD_BYTES}
        if phase == "denoising":
            phase_part.update({"UNet activations": act.skips + act.working, "attention scores": act.attention_scores})
        elif phase == "VAE decode":
            phase_part["VAE decode"] = decode
        phase_bytes[phase] = sum(phase_part.values())
        phase_parts[phase] = phase_part
    peak = max(phase_bytes, key=lambda p: (phase_bytes[p], p == "denoising"))
    return MemoryEstimate(name, (h, w), batch, dtype, savers, attention, phase_bytes, peak, phase_parts[peak],
                          phase_parts, decode_dtype, bool(text_encoders_offloaded))


def offload_transfer_bytes(model: str, dtype: str = "fp16", steps: int = 30, saver: str = "model_cpu_offload") -> int:
    """Bytes of weights copied CPU -> GPU per image: each component once (model offload), or the
    text encoders and VAE once plus the UNet at every step (sequential offload)."""
    w = weight_bytes(model, dtype)
    if saver == "model_cpu_offload":
        return sum(w.values())
    if saver == "sequential_cpu_offload":
        return sum(w.values()) + (steps - 1) * w["unet"]
    raise ValueError(f"saver must be model_cpu_offload or sequential_cpu_offload, got {saver!r}")


def saver_table(model: str = "sdxl", resolution=1024, batch: int = 1, dtype: str = "fp16",
                attention: str = "sdpa") -> list:
    """One row per memory saver (and none): peak GiB, the phase that sets it, what it saves (negative:
    costs), the denoising phase alone (GiB), what it does, its speed cost."""
    base = estimate(model, resolution, batch, dtype, (), attention)
    rows = [{"saver": "none", "peak GiB": round(base.peak_gib, 2), "peak phase": base.peak_phase,
             "saves GiB": 0.0, "denoising GiB": round(base.phase_bytes["denoising"] / GiB, 2),
             "what it does": "everything on the GPU", "speed cost": "-"}]
    for saver in SAVERS:
        e = estimate(model, resolution, batch, dtype, (saver,), attention)
        what, cost, _source = SAVER_NOTES[saver]
        rows.append({"saver": saver, "peak GiB": round(e.peak_gib, 2), "peak phase": e.peak_phase,
                     "saves GiB": round(base.peak_gib - e.peak_gib, 2),
                     "denoising GiB": round(e.phase_bytes["denoising"] / GiB, 2), "what it does": what,
                     "speed cost": cost})
    return rows


# --- published figures -------------------------------------------------------------------------

PUBLISHED_KINDS = ("requirement", "estimate", "measured peak", "stated peak")
SETUPS = {"all on GPU": {}, "text encoders off after encoding": {"text_encoders_offloaded": True},
          "model CPU offload": {"savers": ("model_cpu_offload",)},
          "sequential CPU offload": {"savers": ("sequential_cpu_offload",)}}


def load_published() -> list:
    """``data/published_image_memory.csv`` rows (vram_gb as the source writes it): each names its
    source, the setup it describes (a key of ``SETUPS``), the dtype its VAE decodes in, and its kind
    (a card size to buy, a sum of parts, a peak said to be measured, or a peak with no method given)."""
    import csv

    with open(DATA_DIR / "published_image_memory.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, start=2):
        if not row["source"].strip():
            raise ValueError(f"published_image_memory.csv line {i}: every row needs a source")
        if row["setup"] not in SETUPS or row["kind"] not in PUBLISHED_KINDS:
            raise ValueError(f"published_image_memory.csv line {i}: setup {row['setup']!r} must be one of "
                             f"{list(SETUPS)} and kind {row['kind']!r} one of {list(PUBLISHED_KINDS)}")
        row["resolution"], row["batch"], row["vram_gb"] = int(row["resolution"]), int(row["batch"]), float(row["vram_gb"])
        model_key(row["model"])
        check_dtype(row["dtype"])
        check_dtype(row["vae_dtype"])
    return rows


def published_comparison() -> list:
    """Each published figure beside this module's peak for the setup its source describes (its
    savers, text encoders and VAE dtype): estimated peak in GiB and GB, the phase that sets it, and
    estimate / published, reading the source's "GB" as 10**9 bytes."""
    rows = []
    for row in load_published():
        e = estimate(row["model"], row["resolution"], row["batch"], row["dtype"], vae_dtype=row["vae_dtype"],
                     **SETUPS[row["setup"]])
        rows.append({"model": row["model"], "resolution": row["resolution"], "dtype": row["dtype"],
                     "setup": row["setup"], "VAE decodes in": e.vae_dtype, "kind": row["kind"],
                     "published (as written, 'GB')": row["vram_gb"], "estimated peak GiB": round(e.peak_gib, 2),
                     "estimated peak GB": round(e.peak_bytes / 1e9, 2), "peak phase": e.peak_phase,
                     "estimate / published": round(e.peak_bytes / 1e9 / row["vram_gb"], 2), "source": row["source"]})
    return rows


def setup_table(model: str = "sdxl", resolution=1024, dtype: str = "fp16", vram_gib: float = 8.0) -> list:
    """One image set up the ways diffusers and the UIs do it: peak GiB and GB, the phase that sets it,
    the dtype the VAE decodes in, and whether it fits ``vram_gib`` GiB (2**30 bytes)."""
    ways = [("diffusers, no savers", "everything resident; a force_upcast VAE decodes in fp32", {}),
            ("fp16-safe VAE", "everything resident; the VAE decodes in the pipeline's dtype", {"vae_dtype": dtype}),
            ("fp16-safe VAE, text encoders off after encoding", "UNet and VAE resident",
             {"vae_dtype": dtype, "text_encoders_offloaded": True}),
            ("model CPU offload", "only the busy component on the GPU", {"savers": ("model_cpu_offload",)}),
            ("sequential CPU offload", "one layer at a time on the GPU", {"savers": ("sequential_cpu_offload",)})]
    rows = []
    for name, what, options in ways:
        e = estimate(model, resolution, 1, dtype, **options)
        rows.append({"setup": name, "what stays on the GPU": what, "VAE decodes in": e.vae_dtype,
                     "peak GiB": round(e.peak_gib, 2), "peak GB": round(e.peak_bytes / 1e9, 2),
                     "peak phase": e.peak_phase, f"fits {vram_gib:g} GiB": e.fits(vram_gib)})
    return rows


# --- measuring a small model on this machine ---------------------------------------------------

SMALL_UNET = {"sample_size": 32, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
              "block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
              "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": 32,
              "attention_head_dim": 4, "norm_num_groups": 8}
SMALL_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1,
             "block_out_channels": [16, 32], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "norm_num_groups": 8, "sample_size": 64}


@contextmanager
def _quiet_fd2():
    """Send file descriptor 2 to /dev/null for the block: the profiler's C++ side prints a timestamped
    start/stop line there. Python exceptions still propagate."""
    import os

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def allocator_trace(run, device: str = "cpu", range_names=()) -> tuple:
    """Run ``run()`` under ``torch.profiler`` with ``profile_memory=True`` and return
    ``(memory events, ranges)``: every allocation (+bytes) and free (-bytes) on ``device`` ("cpu" or
    "cuda") as ``(time ns, bytes)`` in time order, and ``{name: [(start ns, end ns), ...]}`` of the
    ``torch.profiler.record_function`` blocks named in ``range_names`` that ``run`` opened."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with _quiet_fd2(), profile(activities=activities, profile_memory=True) as prof:
        run()
    memory, ranges = [], {}
    for e in prof.profiler.kineto_results.events():
        if e.name() == "[memory]":
            if e.device_type().name.lower() == device:
                memory.append((e.start_ns(), e.nbytes()))
        elif e.name() in range_names:
            ranges.setdefault(e.name(), []).append((e.start_ns(), e.start_ns() + e.duration_ns()))
    memory.sort(key=lambda t: t[0])
    return memory, ranges


def allocator_peak_bytes(run) -> int:
    """Peak of the bytes PyTorch's CPU allocator holds during ``run()`` above what it held before,
    from ``torch.profiler``'s memory events (``profile_memory=True``): every allocation and free,
    summed in time order. Python's tracemalloc cannot see these allocations, and the process's
    resident set (psutil, ``ru_maxrss``) mixes them with the allocator's caching and earlier peaks."""
    held = peak = 0
    for _, nbytes in allocator_trace(run)[0]:
        held += nbytes
        peak = max(peak, held)
    return peak


def measure_forward_peak(kind: str, config: dict, height: int, width: int, batch: int = 1,
                         attention: str = "sdpa") -> dict:
    """Build a module from ``config`` in fp32 on the CPU, run one forward pass (UNet) or decode (VAE)
    and return ``{"weights_bytes": real sum(numel x element_size), "peak_bytes": allocator peak of
    the pass}`` (bytes, from ``allocator_peak_bytes``). For "unet", ``height`` x ``width`` is the
    latent size; for "vae", the decoded image size. One thread; a warm-up pass runs first."""
    import torch

    if kind not in ("unet", "vae") or attention not in ATTENTION_KINDS:
        raise ValueError(f"kind must be 'unet' or 'vae' and attention one of {ATTENTION_KINDS}, got {kind!r}, {attention!r}")
    check_batch(batch)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            module = build_module(kind, config, device="cpu").eval()
            if attention == "naive":
                from diffusers.models.attention_processor import AttnProcessor
                module.set_attn_processor(AttnProcessor())
            if kind == "unet":
                x = torch.randn(batch, config["in_channels"], height, width)
                ctx = torch.randn(batch, 77, config["cross_attention_dim"])
                run = lambda: module(x, 10, encoder_hidden_states=ctx)  # noqa: E731
            else:
                down = 2 ** (len(config["block_out_channels"]) - 1)
                if height % down or width % down:
                    raise ValueError(f"VAE image size must be a multiple of {down}, got {height}x{width}")
                x = torch.randn(batch, config["latent_channels"], height // down, width // down)
                run = lambda: module.decode(x)  # noqa: E731
            with torch.no_grad():
                run()
                peak = allocator_peak_bytes(run)
    finally:
        torch.set_num_threads(before)
    weights = sum(p.numel() * p.element_size() for p in module.parameters())
    return {"weights_bytes": weights, "peak_bytes": peak}


def predicted_forward_peak(kind: str, config: dict, height: int, width: int, batch: int = 1,
                           attention: str = "sdpa") -> int:
    """This module's activation estimate (bytes, fp32) for the same pass ``measure_forward_peak`` runs."""
    if kind == "unet":
        return unet_activation(config, height, width, batch, 4, attention).total
    return vae_decode_bytes(config, height, width, batch, 4, attention)


# --- command line ------------------------------------------------------------------------------

def main(argv=None) -> int:
    """``python -m helpers.images.memory --model sdxl --resolution 1024 --dtype fp16 [--json]``:
    the peak estimate, phase by phase (GiB = 2**30 bytes; bytes in the JSON)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.images.memory", description=main.__doc__.splitlines()[0])
    parser.add_argument("--model", default="sdxl", help="sd15 or sdxl")
    parser.add_argument("--resolution", type=int, default=1024, help="pixels per side (a multiple of 8)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", default="fp16", help=f"one of {list(DTYPE_BYTES)}")
    parser.add_argument("--saver", action="append", default=[], help=f"any of {list(SAVERS)}; repeat for more")
    parser.add_argument("--attention", default="sdpa", help=f"one of {list(ATTENTION_KINDS)}")
    parser.add_argument("--vae-dtype", default=None, help="the dtype the VAE decodes in (default: diffusers' rule, "
                        "fp32 for a force_upcast VAE in an fp16 pipeline)")
    parser.add_argument("--text-encoders-offloaded", action="store_true",
                        help="the text encoders leave the GPU once the prompt is encoded")
    parser.add_argument("--json", action="store_true", help="print JSON (bytes) instead of text (GiB)")
    args = parser.parse_args(argv)
    try:
        e = estimate(args.model, args.resolution, args.batch, args.dtype, args.saver, args.attention,
                     vae_dtype=args.vae_dtype, text_encoders_offloaded=args.text_encoders_offloaded)
    except ValueError as err:
        parser.error(str(err))
    if args.json:
        print(json.dumps({"model": e.model, "resolution": list(e.resolution), "batch": e.batch, "dtype": e.dtype,
                          "savers": list(e.savers), "attention": e.attention, "vae_dtype": e.vae_dtype,
                          "text_encoders_offloaded": e.text_encoders_offloaded, "peak_bytes": e.peak_bytes,
                          "peak_phase": e.peak_phase, "phase_bytes": e.phase_bytes, "peak_parts_bytes": e.parts},
                         indent=2))
    else:
        name = find_model(e.model)["name"]
        print(f"{name}, {e.resolution[0]}x{e.resolution[1]}, batch {e.batch}, {e.dtype}, "
              f"savers: {', '.join(e.savers) or 'none'}, attention: {e.attention}, VAE decodes in {e.vae_dtype}"
              f"{', text encoders off after encoding' if e.text_encoders_offloaded else ''}")
        for phase, nbytes in e.phase_bytes.items():
            print(f"  {phase:<14} {nbytes / GiB:6.2f} GiB{'  <- peak' if phase == e.peak_phase else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
