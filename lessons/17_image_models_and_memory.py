# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 17 · Image models and memory: what SD 1.5 and SDXL are made of
#
# "SDXL needs about 8 GB" and "SD 1.5 runs on 4 GB" are the figures everyone quotes. Where do they
# come from, and why does the same card run out of memory at 1024x1024 but not at 768x768, or only
# at the very end of a generation? An image pipeline is three networks — text encoder(s), a UNet and
# a VAE — that are busy at different moments, with activations that grow with resolution (attention
# quadratically). Here each part is counted from the published configs (nothing typed in), the
# memory of each phase is estimated, the estimate is set against published figures, and the model
# is checked against real measurements of small networks on this machine.
#
# **Learning goals**
# - Name the components of SD 1.5 and SDXL and compute their parameter counts from their configs.
# - Explain latents (8x smaller per side, 4 channels) and why they make diffusion affordable.
# - Estimate peak VRAM by phase (text encoding, denoising, VAE decode) for a resolution, batch and dtype.
# - Predict what attention slicing, VAE tiling/slicing and model/sequential CPU offload save, and cost.
# - Map these pieces onto ComfyUI nodes and AUTOMATIC1111 flags.
#
# **Time:** 50 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "sdxl"  # "sd15" or "sdxl"
VRAM_GIB = 8.0  # the card you have in mind, GiB (2**30 bytes)
SD_FOLDER = None  # a Stable Diffusion folder you downloaded (model_index.json + safetensors); None: the tiny one
SD_PROMPT = "a red apple on a wooden table"
SD_SIZE = 64  # pixels per side (a multiple of 8); 512 for SD 1.5 and SD-Turbo
SD_STEPS = 2  # denoising steps; SD-Turbo: 1
SD_GUIDANCE = 7.5  # classifier-free guidance scale; SD-Turbo: 0.0 (no guidance)

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.course.units import GiB
from helpers.images import memory as im

# %% [markdown]
# ## 1. The components, counted
#
# | component | SD 1.5 | SDXL | job |
# | --- | --- | --- | --- |
# | text encoder | CLIP ViT-L/14 (text tower) | the same **plus** OpenCLIP ViT-bigG/14 | prompt → 77 vectors the UNet reads by cross-attention |
# | UNet | 4 levels, attention at 3 | 3 levels, up to 10 transformer layers per block | predicts the noise, once per step |
# | VAE | encoder + decoder | the same architecture, decoded in fp32 (`force_upcast`) | latents ↔ pixels |
#
# The counts below are computed, not copied: the UNet and VAE are built with diffusers' own classes
# on PyTorch's **meta device** — every tensor has a shape but no storage, so an SDXL UNet "exists"
# without taking memory — and the CLIP text encoders are counted with a formula from their configs
# (tested against PyTorch's own transformer layer). The published figures are beside them.

# %%
unet = im.build_module("unet", im.find_model("sdxl")["components"]["unet"]["config"])  # on "meta"
p = next(unet.parameters())
print(f"SDXL UNet on the meta device: {im.count_params(unet):,} parameters; a parameter's device is "
      f"{p.device.type!r}, so no memory was used")

rows = []
for model in ("sd15", "sdxl"):
    for row in im.parameter_table(model):
        rows.append({"model": model, **{k: row[k] for k in ("component", "what", "params (computed)",
                                                             "params (published)", "difference %")}})
params = pd.DataFrame(rows).rename(columns={"params (computed)": "computed (M)", "params (published)": "published (M)"})
params["computed (M)"] = (params["computed (M)"] / 1e6).round(1)
params["published (M)"] = (params["published (M)"] / 1e6).round(1)
params.set_index(["model", "component"])

# %%
totals = params.groupby("model")["computed (M)"].sum()
print(f"total parameters: SD 1.5 {totals['sd15'] / 1e3:.2f} B, SDXL {totals['sdxl'] / 1e3:.2f} B "
      "(Stability AI describes SDXL as a 3.5 B-parameter base model)")

# %% [markdown]
# SDXL's UNet is three times SD 1.5's, and its second text encoder alone (695 M) is about four fifths
# of SD 1.5's whole UNet (860 M). The VAE is the same size in both.
#
# ## 2. Latents: why diffusion runs on 4 x 64 x 64 and not on 3 x 512 x 512
#
# The UNet never sees pixels. The VAE's encoder halves height and width three times (8x per side)
# and keeps 4 channels: a 512x512 RGB image (786,432 numbers) becomes a 4 x 64 x 64 latent (16,384
# numbers), 48 times fewer. Denoising happens there; the VAE's decoder turns the final latent into
# pixels once, at the end. For memory, the count of **tokens** the UNet's attention sees is what matters:
# 64 x 64 = 4,096 latent tokens instead of 262,144 pixels — and naive attention's score matrix grows
# with the *square* of the token count.

# %%
cfg = im.find_model("sd15")["components"]["unet"]["config"]
rows = []
for res in (512, 768, 1024):
    _, c, lh, lw = im.latent_shape("sd15", res)
    on_latents = im.unet_activation(cfg, lh, lw, 1, 2, "naive").attention_scores
    on_pixels = im.unet_activation(cfg, res, res, 1, 2, "naive").attention_scores
    rows.append({"image (px)": f"{res}x{res}", "latent": f"{c}x{lh}x{lw}",
                 "numbers: image / latent": im.pixel_to_latent_ratio("sd15", res),
                 "attention tokens (first level)": lh * lw,
                 "naive attention scores on latents, GiB": round(on_latents / GiB, 2),
                 "the same UNet on pixels, GiB": round(on_pixels / GiB)})
pd.DataFrame(rows).set_index("image (px)")

# %% [markdown]
# On pixels, one image's attention scores alone would need thousands of GiB; on latents 0.5 GiB at
# 512x512 and still 8 GiB at 1024x1024, which is why memory-efficient attention matters (section 3).
# (fp16, one image, SD 1.5's UNet, naive attention: the score matrix stored whole.)
#
# ## 3. The memory model, phase by phase
#
# A text-to-image call has three phases, and only one network is busy in each:
#
# 1. **text encoding** — the text encoder(s) turn the prompt (and the empty negative prompt) into vectors;
# 2. **denoising** — the UNet runs once per step on the latents, twice the batch with classifier-free
#    guidance (prompt and empty prompt side by side);
# 3. **VAE decode** — the decoder turns the final latents into full-resolution pixels.
#
# Peak VRAM = the largest phase: the weights on the GPU in that phase + that phase's activations + the
# runtime overhead (CUDA context, library workspaces: 400 MiB here). The activation terms are simple
# on purpose (`helpers/images/memory.py` says how): skip connections and a working set of feature maps
# for the UNet, plus naive attention's scores (2 x heads x tokens² per image); a few full-resolution
# feature maps for the decoder. PyTorch 2's `scaled_dot_product_attention` (**SDPA**, which diffusers
# uses by default) and the xFormers library compute attention in one fused kernel, block by block,
# without ever storing the score matrix, so with them that term is zero. SDXL's VAE config sets
# `force_upcast`, so diffusers decodes in fp32 even in an fp16 pipeline (its VAE overflows in fp16).

# %%
rows = []
for model in ("sd15", "sdxl"):
    for dtype in ("fp32", "fp16"):
        for res in (512, 768, 1024):
            e = im.estimate(model, res, dtype=dtype)
            rows.append({"model": model, "dtype": dtype, "resolution": res,
                         **{f"{phase} GiB": round(b / GiB, 2) for phase, b in e.phase_bytes.items()},
                         "peak GiB": round(e.peak_gib, 2), "peak phase": e.peak_phase})
phases = pd.DataFrame(rows).set_index(["model", "dtype", "resolution"])
phases

# %%
parts = ["weights on GPU", "UNet activations", "attention scores", "VAE decode", "runtime overhead"]
colours = ["#3182bd", "#31a354", "#e6550d", "#756bb1", "#969696"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
for ax, model in zip(axes, ("sd15", "sdxl")):
    labels, bottoms = [], None
    stacks = {p: [] for p in parts}
    for dtype in ("fp32", "fp16"):
        for res in (512, 768, 1024):
            e = im.estimate(model, res, dtype=dtype)
            labels.append(f"{dtype}\n{res}")
            for part in parts:
                stacks[part].append(e.parts.get(part, 0) / GiB)
    bottom = np.zeros(len(labels))
    for part, colour in zip(parts, colours):
        ax.bar(labels, stacks[part], bottom=bottom, color=colour, label=part)
        bottom += np.array(stacks[part])
    ax.set(title=f"{im.find_model(model)['name']}: peak phase, batch 1", ylabel="GiB (2^30 bytes)",
           xlabel="dtype and resolution (pixels per side)")
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# What the table and bars say:
#
# - **fp16 halves the weights**, and the weights are most of the memory at native resolution.
# - For both models the **VAE decode** is the peak at these sizes: full-resolution feature maps with
#   128-256 channels are big, and SDXL's are in fp32. SDXL in fp16 at 1024x1024 peaks at about
#   11.0 GiB in the decode, while its **denoising** phase (weights plus UNet activations) is about
#   7.2 GiB. The peak is what has to fit; section 5 sets published figures against it.
# - This is why an 8 GB card can finish all the steps of an SDXL image and then fail in the last
#   second, and why ComfyUI answers "ran out of memory when regular VAE decoding, retrying with tiled
#   VAE decoding".
#
# The same estimate from a terminal, for any setup:
# `python -m helpers.images.memory --model sdxl --resolution 1024 --dtype fp16 --saver model_cpu_offload`
# (add `--json` for bytes).
#
# ## 4. The memory savers
#
# | saver (diffusers) | what it does | speed cost |
# | --- | --- | --- |
# | `enable_attention_slicing()` | plain attention over half the heads at a time, in place of SDPA | small; with SDPA it *costs* memory (below) |
# | `enable_vae_slicing()` | decode a batch one image at a time | none to small |
# | `enable_vae_tiling()` | decode in overlapping tiles of the VAE's `sample_size` (512 px SD 1.5, 1024 px SDXL) | slower decode, faint seams possible |
# | `enable_model_cpu_offload()` | only the busy component on the GPU; each moves once per image | small |
# | `enable_sequential_cpu_offload()` | each layer's weights move to the GPU just before they run, every step | large |
#
# (Costs as the diffusers docs and AUTOMATIC1111's wiki describe them; sources in `helpers.images.memory.SAVER_NOTES`.)
# Their estimated effect on SDXL at 1024x1024, fp16, batch 1 (a negative saving is a cost):

# %%
savers = pd.DataFrame(im.saver_table("sdxl", 1024, 1, "fp16"))
savers[["saver", "peak GiB", "peak phase", "saves GiB", "denoising GiB", "speed cost"]].set_index("saver")

# %% [markdown]
# VAE tiling does nothing at 1024x1024 for SDXL: its tile *is* 1024 px (it helps at 1536 and up).
# Model offload takes the text encoders and the UNet off the GPU during decode, which moves the peak
# back to denoising; sequential offload keeps only one layer's weights at a time, so what is left is
# activations, the fp32 decode above all.
#
# **Attention slicing** does not lower the peak, and it makes the denoising phase *larger*. diffusers'
# `enable_attention_slicing()` replaces the attention kernel with its sliced one, which computes the
# score matrix the plain way for half the heads at a time. With SDPA the fused kernel never
# materialises the score matrix at all, so slicing gains nothing and adds the slices' score matrices.
# That is what was measured on diffusers' real pipeline (section 9, `benchmarks/results/sd_pipeline_memory.md`):
# at 256 px the denoising phase held 21.8 MiB above the weights with slicing against 12.7 MiB with SDPA.
# Slicing helps only where attention was plain (naive) to begin with: an old PyTorch 1 without
# xFormers, say. There it matters, as SD 1.5 at 1024x1024 with 4 images shows:

# %%
naive = pd.DataFrame(im.saver_table("sd15", 1024, 4, "fp16", attention="naive"))
naive[["saver", "peak GiB", "peak phase", "saves GiB"]].set_index("saver")

# %% [markdown]
# Why sequential offload is slow: it moves the UNet's weights across PCIe at **every** step, where
# model offload moves each component once per image.

# %%
steps = 30
pd.DataFrame([{"saver": s, "weights copied to the GPU per image (GB)":
               round(im.offload_transfer_bytes("sdxl", "fp16", steps, s) / 1e9, 1)}
              for s in ("model_cpu_offload", "sequential_cpu_offload")]).set_index("saver")

# %% [markdown]
# At a PCIe 4.0 x16 link's ~25 GB/s in practice, 156 GB is about six seconds of copying per image
# on top of the compute; AUTOMATIC1111's wiki calls its equivalent (`--lowvram`) "devastating for performance".
#
# ## 5. Against published figures: the peak, for the setup each source describes
#
# What has to fit on a card is the **peak**, so published figures are set against the estimated peak,
# not against one phase of it. And a peak belongs to a setup: the same SDXL image needs very different
# memory depending on where the text encoders are during the decode and in what precision the VAE
# decodes.
#
# - **diffusers without savers** keeps every component on the GPU and, for SDXL's `force_upcast`
#   VAE, decodes in fp32.
# - **The UIs** decode in half precision where they can: ComfyUI decodes in bf16 on GPUs that support
#   it (its VAE's working dtypes are bf16 and fp32,
#   [comfy/sd.py](https://github.com/comfyanonymous/ComfyUI/blob/master/comfy/sd.py)) and retries in
#   tiles when the decode runs out of memory; AUTOMATIC1111 decodes in fp16 unless started with
#   `--no-half-vae`. Many SDXL users swap in an **fp16-safe VAE**, a fine-tune of SDXL's VAE whose
#   activations stay inside fp16's range
#   ([madebyollin/sdxl-vae-fp16-fix](https://huggingface.co/madebyollin/sdxl-vae-fp16-fix)). A UI can
#   also take the text encoders off the GPU once the prompt is encoded: ComfyUI unloads a model it no
#   longer needs when the next one needs the room; AUTOMATIC1111's `--medvram-sdxl` goes further
#   (model offload, section 4).
#
# The estimator expresses these with `vae_dtype=` (the dtype the VAE decodes in) and
# `text_encoders_offloaded=True`; the savers do the rest. One SDXL image at 1024x1024, fp16, set up
# five ways (an "8 GB" card holds 8 GiB, of 2³⁰ bytes each):

# %%
pd.DataFrame(im.setup_table("sdxl", 1024, "fp16", vram_gib=8.0)).set_index("setup")

# %% [markdown]
# Now each published figure (`data/published_image_memory.csv`) beside the estimated peak for the
# setup its source describes. The setup is read from the source's own words (which components it
# says stay resident, which flags) and from its component list: SDXL's VAE has 84 M parameters, so a
# page listing it at 0.2 GB counts an fp16 VAE and one listing 0.34 GB an fp32 one. The pages write
# "GB" without saying whether they mean 10⁹ bytes or GiB; the ratio reads them as 10⁹ bytes (read as
# GiB, every ratio would be 7% lower). The kind says what a figure is: a card size to buy
# ("requirement"), a sum of parts ("estimate"), a peak the page says it measured, or a peak stated
# with no method.

# %%
compare = pd.DataFrame(im.published_comparison())
compare.set_index(["model", "resolution", "dtype", "setup"])

# %%
PUBLISHED = "published (as written, 'GB')"


def ratios(rows) -> str:
    return ", ".join(f"{r:.2f}" for r in rows["estimate / published"])


def figures(rows) -> str:
    return ", ".join(f"{v:g}" for v in rows[PUBLISHED])


resident = compare[compare["setup"] == "all on GPU"]
sd15 = resident[resident["model"] == "sd15"]
sdxl_plain = resident[(resident["model"] == "sdxl") & (resident["VAE decodes in"] == resident["dtype"])]
measured = compare[compare["kind"] == "measured peak"].iloc[0]
offload = compare[compare["setup"] == "sequential CPU offload"].set_index("model")
ui = im.estimate("sdxl", 1024, 1, "fp16", vae_dtype="fp16", text_encoders_offloaded=True)
print(f"SD 1.5, everything resident: LOW. Estimated peak {sd15['estimated peak GB'].iloc[0]:.2f} GB against "
      f"{figures(sd15)} GB: estimate / published {ratios(sd15)}.")
print(f"SDXL, everything resident, VAE in the pipeline's dtype: HIGH. Estimated peaks "
      f"{', '.join(f'{v:.2f}' for v in sdxl_plain['estimated peak GB'])} GB against {figures(sdxl_plain)} GB: "
      f"{ratios(sdxl_plain)}.")
print(f"SDXL, '{measured[PUBLISHED]:g} GB measured on an 8 GB card' with the text encoders resident and an "
      f"{measured['VAE decodes in']} VAE: HIGH, {measured['estimate / published']:.2f}. That setup peaks at "
      f"{measured['estimated peak GiB']:.2f} GiB in the {measured['peak phase']}, more than an 8 GiB card holds. "
      f"With an fp16 VAE and the text encoders off after encoding the estimate is {ui.peak_gib:.2f} GiB "
      f"({ui.peak_bytes / 1e9:.2f} GB, {ui.peak_bytes / 1e9 / measured[PUBLISHED]:.2f} of the figure).")
print(f"Sequential CPU offload: SD 1.5 LOW, {offload.loc['sd15', 'estimate / published']:.2f}; "
      f"SDXL (fp32 VAE) HIGH, {offload.loc['sdxl', 'estimate / published']:.2f}, "
      f"the {offload.loc['sdxl', 'peak phase']} setting the peak.")
sdxl_vae = im.find_model("sdxl")["components"]["vae"]["config"]
print("The model's SDXL decode term at 1024x1024 (activations only): " + ", ".join(
    f"{im.vae_decode_bytes(sdxl_vae, 1024, 1024, 1, im.DTYPE_BYTES[d]) / GiB:.2f} GiB in {d}" for d in ("fp16", "fp32")))

# %% [markdown]
# Why, as far as the model can tell:
#
# - **SD 1.5 is estimated low.** The published figures are a card size ("runs on 4 GB") or a sum of
#   parts rounded up, and the model leaves out what a real GPU adds: PyTorch's caching allocator keeps
#   freed blocks for reuse (tools such as `nvidia-smi` count them as used), cuDNN and cuBLAS (NVIDIA's
#   convolution and matrix libraries) take scratch *workspaces*, and a CUDA context with those
#   libraries loaded often needs more than the 400 MiB allowed for here. Under sequential offload,
#   AUTOMATIC1111's `--lowvram` moves the UNet in blocks, not one layer at a time, so more weights are
#   on the GPU at once than the model's one layer.
# - **SDXL is estimated high.** Its peak is the VAE decode, and the model's decode term (four
#   full-resolution feature maps of 256 channels, printed above) is more than the whole "activations
#   and buffers" allowance of the pages (gigagpu's table: about 1.5 GB). That
#   coefficient was set from SD 1.5's VAE measured on a CPU (section 6); no GPU measurement here says
#   which side is right, so the ratios show where the model and the pages disagree, not who is wrong.
# - **The "measured" SDXL figure cannot be the setup its page describes**, by this model: with an
#   fp32 VAE and the text encoders resident the decode phase would not fit an 8 GiB card. A UI on an
#   8 GB card decodes in half precision or in tiles and lets the text encoders go, and in that setup
#   the estimate comes close to the figure.
# - Plain diffusers is the setup the estimator's default describes, and for SDXL it needs about
#   11 GiB at 1024x1024, more than any of the published fp16 figures: on an 8 GB card use an fp16-safe
#   VAE with the text encoders off the GPU after encoding, or model offload (the table above).
#
# ## 6. Checking the model on this machine
#
# A small UNet and a small VAE (reduced configs, same diffusers classes) and SD 1.5's real VAE config
# (random weights: memory does not depend on their values) run for real on the CPU, in fp32.
# Weights: the real `sum(p.numel() * p.element_size())` against the count from the meta device.

# %%
import torch

small = im.build_module("unet", im.SMALL_UNET, device="cpu")
counted = im.count_params(im.build_module("unet", im.SMALL_UNET))  # on the meta device
for dtype, torch_dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
    real = sum(q.numel() * q.element_size() for q in (p.detach().to(torch_dtype) for p in small.parameters()))
    estimated = counted * im.DTYPE_BYTES[dtype]
    print(f"small UNet, {dtype}: real weights {real:,} bytes, estimated {estimated:,} bytes, equal: {real == estimated}")

# %% [markdown]
# Activations: the peak of the bytes PyTorch's CPU allocator holds during one forward pass (UNet) or
# decode (VAE), above what it held before. `im.measure_forward_peak` records every allocation and free
# with `torch.profiler` (`profile_memory=True`) and sums them in time order. Python's `tracemalloc`
# cannot see PyTorch's allocations, and the process's resident set (psutil) mixes them with memory
# freed earlier and kept by the allocator. The numbers depend on the CPU's kernels: yours will differ
# a little from the ones shown.

# %% tags=["nbval-ignore-output"]
sd15_vae = im.find_model("sd15")["components"]["vae"]["config"]
cases = [("small UNet", im.SMALL_UNET, "unet", 32, "naive"), ("small UNet", im.SMALL_UNET, "unet", 48, "naive"),
         ("small UNet", im.SMALL_UNET, "unet", 64, "sdpa"), ("small VAE", im.SMALL_VAE, "vae", 128, "sdpa"),
         ("small VAE", im.SMALL_VAE, "vae", 256, "sdpa"), ("SD 1.5 VAE", sd15_vae, "vae", 128, "sdpa")]
if not QUICK:
    cases += [("small UNet", im.SMALL_UNET, "unet", 128, "sdpa"), ("SD 1.5 VAE", sd15_vae, "vae", 256, "sdpa")]
rows = []
for label, config, kind, size, attention in cases:
    got = im.measure_forward_peak(kind, config, size, size, 1, attention)
    predicted = im.predicted_forward_peak(kind, config, size, size, 1, attention)
    rows.append({"module": label, "size (latent or pixels)": size, "attention": attention,
                 "measured MB": round(got["peak_bytes"] / 1e6, 1), "estimated MB": round(predicted / 1e6, 1),
                 "estimate / measured": round(predicted / got["peak_bytes"], 2)})
pd.DataFrame(rows).set_index(["module", "size (latent or pixels)"])

# %% [markdown]
# On the small UNet with naive attention the quadratic score term dominates and the estimate is
# within about 10% on the machine these outputs came from; with SDPA (measured in the full run) it is
# about 20% high. The decoder's coefficient (`K_VAE_DECODE`,
# four full-resolution maps of 256 channels) was set from SD 1.5's real VAE, which it matches within
# a few percent. Not everything transfers: on a GPU, cuDNN workspaces and PyTorch's caching allocator
# add their own, and SD 1.5's real UNet measured on this CPU (`benchmarks/image_memory.py`, results in
# `benchmarks/results/image_memory.md`) holds less activation memory than the working-set term assumes
# at small latents, plus about 0.1 GB that does not grow with the latent (most likely weight copies
# made by the CPU's convolution kernels). Treat the
# estimate as a model good to tens of percent, not to the megabyte.
#
# ## 7. Plan your own card
#
# Pick a model, resolution, dtype, batch and savers; the bar shows the peak phase's parts against
# your VRAM and the verdict says what to try. Stored below: the planner's picture at its default
# settings (no savers, SDPA, batch 1); with a kernel, move the controls.

# %%
from helpers.widgets.image_memory import memory_planner, planner_figure

fig = planner_figure(MODEL, 1024, "fp16", VRAM_GIB)
plt.show()

# %% tags=["nbval-ignore-output"]
memory_planner(MODEL, 1024, "fp16", VRAM_GIB)

# %% [markdown]
# ## 8. The same pieces in ComfyUI and AUTOMATIC1111
#
# **ComfyUI** makes the pipeline visible as nodes:
#
# | node | piece |
# | --- | --- |
# | Load Checkpoint | reads one file holding UNet ("MODEL"), text encoder(s) ("CLIP") and VAE |
# | CLIP Text Encode (x2: prompt, negative) | the text encoder(s): phase 1 |
# | Empty Latent Image | the starting latent, 4 x H/8 x W/8 (the resolution is set here) |
# | KSampler | the denoising loop: the UNet plus a scheduler ("sampler" and "scheduler" fields, steps, CFG) |
# | VAE Decode | phase 3 (falls back to tiled decoding when it runs out of memory) |
#
# It manages memory itself (moving models between RAM and VRAM as needed); `--lowvram` splits the
# UNet into parts to use less VRAM, `--novram` keeps even less on the GPU, `--cpu` uses no GPU.
#
# **AUTOMATIC1111** (stable-diffusion-webui) has switches for the same savers:
#
# | flag | equivalent |
# | --- | --- |
# | `--medvram` | model CPU offload: text encoder, UNet and VAE take turns on the GPU; "lowers performance, but only by a bit" |
# | `--lowvram` | sequential offload: the UNet in many pieces, one on the GPU at a time; "devastating for performance" |
# | `--xformers` (or PyTorch's SDPA) | memory-efficient attention: no stored score matrix, faster too |
# | `--no-half-vae` | decode in fp32, as diffusers does for SDXL's VAE: safer, more memory |
#
# **Checkpoint formats.** A `.ckpt` (or `.pt`, `.bin`) file is a Python **pickle**: loading it can run
# any code its author put inside. A `.safetensors` file is a JSON header plus raw tensor bytes, and
# loading it runs nothing. Prefer `.safetensors`; this course loads nothing else.
#
# ## 9. The real pipeline
#
# Everything so far was counted and estimated. Here diffusers' own text-to-image pipeline runs:
# `StableDiffusionPipeline` with a CLIP tokenizer and text encoder (transformers), a
# `UNet2DConditionModel`, an `AutoencoderKL` and a DDIM scheduler, the code that runs SD 1.5 and
# SD-Turbo. The course builds a **tiny** one from configs alone, with random weights (about 1.1 M
# parameters; its tokenizer's vocabulary is the 256 byte symbols of CLIP's byte-level BPE, no merges):
# nothing is downloaded, it saves as safetensors (written to a temporary folder, then renamed into
# place) and loads back with `from_pretrained(..., local_files_only=True)`. Its pictures are noise:
# what is real is the code path and its memory.
#
# The parameter counts come from the safetensors **headers** of the saved files (no tensor read), and
# the estimator of section 3 takes them as they are: its weight bytes equal the counted bytes exactly
# (when the weights load in the files' own dtype; an fp32 download loaded in fp16 takes half).

# %%
from helpers.course.paths import relative_to_repo
from helpers.images import sd_pipeline as sdp

folder = sdp.pipeline_folder(SD_FOLDER)
device = sdp.accelerator()  # "cuda" with a GPU, else "cpu"
dtype = "fp16" if device == "cuda" else "fp32"
counts = sdp.component_counts(folder)
print(f"pipeline folder: {relative_to_repo(folder)}")
pd.DataFrame([{"component": c.component, "kind": c.kind, "file": ", ".join(c.files), "dtypes": ", ".join(c.dtypes),
               "parameters": c.params, "bytes": c.tensor_bytes} for c in counts.values()]).set_index("component")

# %%
sd_estimate = sdp.estimate_folder(folder, SD_SIZE, 1, dtype, cfg=SD_GUIDANCE > 1)
estimated_weights = sd_estimate.phase_parts["denoising"]["weights on GPU"]
counted_bytes = sum(c.tensor_bytes for c in counts.values())
print(f"weights in {dtype}: estimator {estimated_weights:,} bytes; in the files: {counted_bytes:,} bytes "
      f"({', '.join(sorted({d for c in counts.values() for d in c.dtypes}))}); equal: {estimated_weights == counted_bytes}")

# %% [markdown]
# One generation, measured phase by phase: the allocator trace of section 6 (`torch.profiler`) over
# the whole call, split by named blocks around `encode_prompt` (text encoding) and `vae.decode` (VAE
# decode); denoising is what lies between (on a GPU, the same with CUDA's allocator events). On a
# CPU the weights sit in RAM from the start, so each phase's peak is the weights plus what that phase
# allocates; the estimate is shown without the 400 MiB GPU runtime overhead, which a CPU does not
# have. The image and the timings depend on the machine: yours will differ from the ones shown.

# %% tags=["nbval-ignore-output"]
pipe = sdp.load_pipeline(folder, dtype=dtype, device=device)
generation = sdp.generate(SD_PROMPT, pipe=pipe, height=SD_SIZE, width=SD_SIZE, steps=SD_STEPS,
                          guidance_scale=SD_GUIDANCE, seed=SEED, device=device, threads=1 if SD_FOLDER is None else None)
fig, ax = plt.subplots(figsize=(2.5, 2.5))
ax.imshow(generation.images[0])
ax.set_title(f"{SD_SIZE}x{SD_SIZE} px, {generation.seconds:.1f} s")
ax.axis("off")
plt.show()
pd.DataFrame(sdp.comparison_rows(generation, sd_estimate)).set_index("phase")

# %% [markdown]
# The memory savers of section 4, switched on one at a time on a fresh tiny pipeline (a batch of two
# images, so that VAE slicing has something to slice; a warm-up run first). "measured MiB" is each
# phase's peak above the weights, "estimated MiB" the estimator's activations for the same setup.

# %% tags=["nbval-ignore-output"]
savers = pd.DataFrame(sdp.measure_savers(resolution=64, batch=2, steps=2, device=device))
columns = pd.MultiIndex.from_product([["measured MiB", "estimated MiB"], sdp.PHASES])
savers.pivot(index="savers", columns="phase", values=["measured MiB", "estimated MiB"]).reindex(
    index=savers["savers"].unique(), columns=columns)

# %% [markdown]
# What to read in it (and in `benchmarks/results/sd_pipeline_memory.md`, the same at 64 and 256 px):
#
# - **VAE tiling** and **VAE slicing** lower the decode peak, as the estimator says: the tiny VAE's
#   tile is 32 px, so even a 64 px image is decoded in tiles (its pixels change a little where tiles
#   are blended); slicing decodes the two images one after the other.
# - **Attention slicing** saves nothing here, and at 256 px it *costs* memory (21.8 against 12.7 MiB
#   in the benchmark): diffusers swaps PyTorch's SDPA attention (which never stores the score matrix)
#   for plain attention computed half the heads at a time. The estimator counts those slices' score
#   matrices too (section 4); at 64 px they are tens of kilobytes. It helps only where attention was
#   plain to begin with.
# - **Model CPU offload** needs a second device to offload to. On a CPU-only machine the hooks run
#   with the CPU as "the accelerator" and save nothing; measured, each phase even holds about one
#   more copy of the weights of the components run so far (text encoder, then + UNet, then + VAE).
#   **Sequential CPU offload** is refused without a GPU.
#
# **Your own model.** Download a Stable Diffusion folder (for example SD-Turbo, a few GB; it must hold
# `model_index.json` and `.safetensors` weights), then set `SD_FOLDER`, `SD_SIZE`, `SD_STEPS` and
# `SD_GUIDANCE` at the top and run this section again, or call the functions directly:
#
# ```python
# pipe = sdp.load_pipeline("models/sd-turbo", dtype="fp16", device="cuda")  # dtype="fp32" on a CPU
# sdp.generate("a red apple on a wooden table", pipe=pipe, height=512, width=512, steps=1,
#              guidance_scale=0.0, savers=("vae_tiling",))
# sdp.estimate_folder("models/sd-turbo", 512, dtype="fp16", cfg=False)  # the plan, from the headers
# ```
#
# The folder is checked first (safetensors only, fits in RAM), nothing is fetched
# (`local_files_only=True`), and the estimate uses the exact counts from its headers.
#
# ## Summary
#
# - SD 1.5 = CLIP ViT-L/14 text encoder (123 M) + UNet (860 M) + VAE (84 M); SDXL adds OpenCLIP
#   ViT-bigG/14's text encoder (695 M) and a 2.6 B UNet — all counted here from their configs.
# - Diffusion runs on latents 8x smaller per side with 4 channels (48x fewer numbers); attention's
#   cost grows with the square of the latent tokens, so resolution is expensive.
# - Peak VRAM is the largest of three phases; fp16 halves the weights. For SDXL at 1024x1024 the
#   peak is the VAE decode: about 11 GiB in plain diffusers (fp32 decode, everything resident), about
#   7.3 GiB with an fp16-safe VAE and the text encoders off the GPU after encoding.
# - Judged on that peak, for the setup each source describes, the estimate is low for SD 1.5 and
#   high for SDXL against published figures (section 5 prints by how much).
# - Savers trade speed for memory: slicing and tiling cost little, model offload a bit, sequential
#   offload a lot (weights cross PCIe every step). Attention slicing only helps naive attention; with
#   SDPA it costs memory.
# - ComfyUI's nodes and AUTOMATIC1111's flags are the same pieces and savers; prefer `.safetensors`.
# - diffusers' real pipeline runs here on a tiny random-weight model: its weights, counted from the
#   safetensors headers, are what the estimator says to the byte; savers are measured, not assumed.
#
# ## Exercises

# %% [markdown]
# **1.** How many GB (10⁹ bytes) do SDXL's UNet weights take in fp16? Use the computed parameter count
# (`im.component_params("sdxl", "unet")`).

# %%
from helpers.exercises.image_memory import check_attention_growth, check_checkpoint_format, check_unet_weights_gb

answer = None
check_unet_weights_gb(answer, "sdxl", "fp16")

# %% [markdown]
# **2.** By what factor do naive attention's scores grow when the image goes from 512x512 to 1024x1024?

# %%
answer = None
check_attention_growth(answer, 512, 1024)

# %% [markdown]
# **3.** Two downloads of the same model: `".safetensors"` and `".ckpt"`. Which do you load?

# %%
answer = None
check_checkpoint_format(answer)
