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
# # 15 · Diffusion from scratch: noise, denoise, repeat
#
# Image generators such as Stable Diffusion do not paint: they start from pure random noise and
# remove a little of it at a time, many times, guided by a network that has learned what noise looks
# like on top of real images. The idea fits in a few lines and works on any data, so here it runs
# on 2D points you can plot: a cloud shaped like two moons. Every piece — the noise schedule, the
# forward (noising) process, the noise-predicting network, the sampling loop, a scheduler that needs
# fewer steps — is the same piece an image model has; notebook 16 then runs it on pixels with `diffusers`.
#
# **Learning goals**
# - Describe the forward process: how a schedule of betas and alpha-bars turns data into noise.
# - Train a small network to predict the added noise, and sample by running the process backwards.
# - Measure why many steps help, and what a scheduler (DDPM vs DDIM) changes with the same model.
# - Map each piece onto an image model: UNet, latents, scheduler, steps.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
DATASET = "moons"  # or "spiral", "circles"
T = 100  # noise levels of the schedule
TRAIN_STEPS = None  # None: 3000 in quick mode, 8000 in a full run

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from helpers.images import diffusion_toy as dt

train_steps = TRAIN_STEPS or (3000 if QUICK else 8000)
data = dt.make_data(DATASET, 2000, seed=SEED)
print(f"{len(data)} points of {DATASET!r}, standardised: mean {data.mean():.2f}, std {data.std():.2f}")

# %% [markdown]
# ## 1. The forward process: a schedule of noise
#
# At each of T steps a little Gaussian noise is mixed in: step t keeps `sqrt(1 - beta_t)` of the
# signal and adds noise of variance `beta_t`. Multiplying the survivals gives **alpha-bar**,
# `alpha_bar_t = (1 - beta_0)(1 - beta_1)…(1 - beta_t)`, the share of the data's variance left after t
# steps. Because Gaussians add up to a Gaussian, any step can be reached in one jump:
#
# `x_t = sqrt(alpha_bar_t) · x_0 + sqrt(1 - alpha_bar_t) · noise`  (that is `dt.add_noise`).
#
# Two common schedules: **linear** betas (Ho et al., 2020) and **cosine** alpha-bar (Nichol & Dhariwal,
# 2021), which keeps more signal in the early steps.

# %%
linear, cosine = dt.make_schedule(T, "linear"), dt.make_schedule(T, "cosine")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for s in (linear, cosine):
    axes[0].plot(s.betas.numpy(), label=s.kind)
    axes[1].plot(s.alpha_bars.numpy(), label=s.kind)
axes[0].set(xlabel="step t", ylabel="beta_t (noise added at step t)", title="betas", yscale="log")
axes[1].set(xlabel="step t", ylabel="alpha_bar_t (signal variance left)", title="alpha-bar")
for ax in axes:
    ax.legend()
plt.show()

# %%
g = torch.Generator().manual_seed(SEED)
shown = [0, 10, 25, 50, 75, T - 1]
fig, axes = plt.subplots(1, len(shown), figsize=(13, 2.6), sharex=True, sharey=True)
for ax, t in zip(axes, shown):
    x = dt.add_noise(data, t, linear, generator=g).numpy()
    ax.scatter(x[:, 0], x[:, 1], s=1)
    ax.set(title=f"t = {t}\nalpha_bar = {float(linear.alpha_bars[t]):.3f}", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5))
axes[0].set(xlabel="x (data units)", ylabel="y (data units)")
plt.show()

# %% [markdown]
# By the last step nothing of the moons is left: the points are a standard normal cloud. That is
# the whole trick — a known, easy distribution at one end, the data at the other.
#
# ## 2. Learning to undo it: a noise predictor
#
# The network sees a noisy point `x_t` and its step `t` (as a sinusoidal embedding, like positions in
# a transformer) and predicts the noise that was mixed in. Training is plain regression: take real
# points, a random step each, noise them, and minimise the squared error between the true and the
# predicted noise. An image model does exactly this with a UNet instead of this small MLP.

# %%
model = dt.make_model(linear, seed=SEED)
print(f"noise predictor: {sum(p.numel() for p in model.parameters()):,} parameters")
losses = dt.train(model, data, linear, steps=train_steps, seed=SEED)
smooth = np.convolve(losses, np.ones(50) / 50, mode="valid")
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(smooth)
ax.set(xlabel="training step", ylabel="loss (mean squared error of the noise)",
       title="training the noise predictor (50-step moving average)")
plt.show()
print(f"loss: first 100 steps {np.mean(losses[:100]):.3f}, last 100 steps {np.mean(losses[-100:]):.3f}")

# %% [markdown]
# The loss cannot reach 0: at high noise levels nobody can tell which noise was added. What matters
# is whether running the process backwards gives moons.
#
# ## 3. Sampling: from noise back to data (DDPM)
#
# Start with pure noise. At each step from t = T-1 down to 0: predict the noise, estimate the clean
# point from it, move to the slightly less noisy point the schedule says comes before, and add back
# a little fresh noise (DDPM, "ancestral" sampling). Here is the trajectory:

# %%
samples, trajectory = dt.ddpm_sample(model, linear, n=1000, seed=SEED)
shown = [0, 25, 50, 75, 90, T]
fig, axes = plt.subplots(1, len(shown), figsize=(13, 2.6), sharex=True, sharey=True)
for ax, i in zip(axes, shown):
    ax.scatter(data[:, 0], data[:, 1], s=1, color="#dddddd")
    ax.scatter(trajectory[i][:, 0], trajectory[i][:, 1], s=1, color="#e6550d")
    ax.set(title=f"after {i} steps", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5))
axes[0].set(xlabel="x (data units)", ylabel="y (data units)")
plt.show()

# %% [markdown]
# To say "closer to the data" with a number: the **chamfer distance** averages two nearest-neighbour
# distances, from each sample to the nearest data point (are samples *on* the moons?) and from each
# data point to the nearest sample (are *all* of the moons covered?). A second draw of real data
# sets the floor; pure noise sets the ceiling.

# %%
reference = dt.make_data(DATASET, 1000, seed=SEED + 1)
noise = np.random.default_rng(SEED).normal(size=(1000, 2))
pd.DataFrame([
    {"points": "pure noise (the start)", "chamfer distance": dt.chamfer_distance(noise, data)},
    {"points": f"DDPM samples, {T} steps", "chamfer distance": dt.chamfer_distance(samples, data)},
    {"points": "fresh real data (the floor)", "chamfer distance": dt.chamfer_distance(reference, data)},
]).round(3).set_index("points")

# %% [markdown]
# Slide through the reverse steps yourself: left, the data noised forward to the level of that step;
# right, where the sampler's points are at that step. Stored below: the widget's picture at its
# default setting, step 0 (pure noise on both sides); with a kernel, move the slider.

# %%
from helpers.widgets.diffusion_toy import trajectory_explorer, trajectory_figure

fig = trajectory_figure(data, trajectory, linear, 0, title="DDPM")
plt.show()

# %% tags=["nbval-ignore-output"]
trajectory_explorer(data, trajectory, linear, title="DDPM")

# %% [markdown]
# ## 4. Why many steps? Quality against steps, measured
#
# Each step can only remove a little noise well, because the network's guess of the clean point is
# blurry at high noise. Fewer, larger steps mean acting on blurrier guesses. Same model, same seed,
# the reverse process run on a coarser grid of noise levels:

# %%
step_counts = [1, 2, 5, 10, 20, 50, 100]
rows = []
for k in step_counts:
    for name, sampler in dt.SAMPLERS.items():
        out, _ = sampler(model, linear, n=1000, steps=k, seed=SEED)
        rows.append({"steps": k, "sampler": name, "chamfer distance": dt.chamfer_distance(out, data)})
quality = pd.DataFrame(rows).pivot(index="steps", columns="sampler", values="chamfer distance").round(3)
quality

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
for name in quality.columns:
    ax.plot(quality.index, quality[name], "o-", label=name)
ax.axhline(dt.chamfer_distance(reference, data), color="grey", linestyle=":", label="real data (floor)")
ax.set(xscale="log", xlabel="sampling steps (network calls)", ylabel="chamfer distance to data (lower is better)",
       title="same model, different numbers of steps")
ax.legend()
plt.show()

# %% [markdown]
# With one or two steps the samples are nowhere near the moons: in a single step every point lands
# on the network's one best guess from pure noise, the middle of the data, which by this distance is
# even worse than the noise it started from. Quality improves quickly up to about ten to twenty steps
# and then levels off (near 0.06 in the quick run shown here), still above the real-data floor of 0.02:
# there the small, briefly trained network is the limit, not the steps. Every step is one network call, so time grows in proportion to steps
# while quality saturates — which is why image UIs default to 20-30 steps, not 1000.
#
# ## 5. What a scheduler does: DDPM vs DDIM on the same model
#
# The network never changes; the **scheduler** decides which noise levels to visit and how to step
# between them. DDPM adds fresh noise at every step. **DDIM** (Song et al., 2021) uses the predicted
# noise as the direction and jumps deterministically to the next level: after the starting noise it
# draws nothing, so the starting noise alone decides the sample, whatever the number of steps. In `diffusers`, changing `pipe.scheduler` (DDPM, DDIM, Euler, DPM-Solver…) is
# exactly this swap; ComfyUI's KSampler and AUTOMATIC1111 call it the *sampler*.

# %%
fig, axes = plt.subplots(2, 4, figsize=(12, 5.6), sharex=True, sharey=True)
for row, (name, sampler) in enumerate(dt.SAMPLERS.items()):
    for ax, k in zip(axes[row], [5, 10, 20, 100]):
        out, _ = sampler(model, linear, n=1000, steps=k, seed=SEED)
        ax.scatter(data[:, 0], data[:, 1], s=1, color="#dddddd")
        ax.scatter(out[:, 0], out[:, 1], s=1, color="#3182bd" if name == "DDIM" else "#e6550d")
        ax.set(title=f"{name}, {k} steps: {dt.chamfer_distance(out, data):.3f}", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5))
axes[1, 0].set(xlabel="x (data units)", ylabel="y (data units)")
plt.show()

# %% [markdown]
# By the distance the two are close at every step count here: this DDPM already recomputes its betas
# for the coarser grid ("respacing"), which is what lets it run in few steps at all. The difference
# that matters in practice is **reproducibility**. Take the same seed, sample with 20 and with 100
# steps, and see how far each point moves; a different seed sets the scale of "a different sample":

# %%
rows = []
for name, sampler in dt.SAMPLERS.items():
    a, _ = sampler(model, linear, n=1000, steps=20, seed=SEED)
    b, _ = sampler(model, linear, n=1000, steps=100, seed=SEED)
    c, _ = sampler(model, linear, n=1000, steps=100, seed=SEED + 1)
    rows.append({"sampler": name,
                 "same seed, 20 vs 100 steps": float(np.linalg.norm(a - b, axis=1).mean()),
                 "another seed, 100 steps": float(np.linalg.norm(b - c, axis=1).mean())})
pd.DataFrame(rows).set_index("sampler").round(3).rename_axis(columns="mean distance a point moves (data units)")

# %% [markdown]
# With DDPM, changing the step count gives an unrelated sample (as far apart as another seed): the
# fresh noise drawn at each step differs. With DDIM the points barely move: fewer steps give a rougher
# version of the *same* sample. That is why image UIs can preview a seed with few steps and then
# refine it with more, with deterministic samplers such as DDIM or Euler, and not with "ancestral"
# ones (Euler a, DPM++ 2S a), which add noise like DDPM.
#
# ## 6. From points to pictures
#
# | here (2D points) | an image model (Stable Diffusion) |
# | --- | --- |
# | a point: 2 numbers | an image's **latent**: 4 x 64 x 64 numbers for 512x512 pixels (a VAE compresses 8x per side) |
# | MLP noise predictor, about 38 thousand parameters | **UNet** noise predictor, 0.86-2.6 billion parameters |
# | step embedding | the same, plus the **prompt** (a text encoder's vectors, read by cross-attention) |
# | `make_schedule(T=100)` | T = 1000 training noise levels |
# | `ddpm_sample`, `ddim_sample` | `pipe.scheduler`: DDPM, DDIM, Euler, DPM-Solver++… with 20-50 steps |
# | chamfer distance to the data | people's eyes, or FID (how far generated images' statistics are from real ones') and CLIP score (how well an image matches its prompt) |
#
# Notebook 16 runs this on real (small) images with `diffusers`; notebook 17 counts what the big
# pieces weigh in memory.
#
# ## Summary
#
# - The forward process mixes data with Gaussian noise on a schedule; alpha-bar (the running product
#   of 1 - beta) says how much signal is left, and `x_t` can be drawn in one jump.
# - A network trained to predict the added noise (plain squared-error regression) is enough to run
#   the process backwards, from pure noise to new data.
# - Quality improves with steps and then saturates; each step costs one network call.
# - The scheduler (DDPM, DDIM, …) chooses the noise levels and the update rule for the same model;
#   DDIM is deterministic after the starting noise, so fewer steps give a rougher version of the same
#   sample, where DDPM gives a different one.
#
# ## Exercises

# %% [markdown]
# **1.** A 3-step schedule has betas `[0.1, 0.2, 0.3]`. What is alpha-bar at t = 2 (counting from 0)?

# %%
from helpers.exercises.diffusion_toy import check_alpha_bar, check_deterministic_sampler, check_noisy_point

answer = None
check_alpha_bar(answer, [0.1, 0.2, 0.3], 2)

# %% [markdown]
# **2.** A clean value `x0 = 2.0` is noised to a level with alpha-bar 0.64, and the noise drawn is
# `1.0`. What is `x_t`?

# %%
answer = None
check_noisy_point(answer, 2.0, 0.64, 1.0)

# %% [markdown]
# **3.** Which sampler draws no fresh random noise after the starting point, so that the same seed
# gives the same sample at any step count: `"DDPM"` or `"DDIM"`?

# %%
answer = None
check_deterministic_sampler(answer)
