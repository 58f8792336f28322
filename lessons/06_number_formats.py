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
# # 06 · Number formats: how a weight is stored
#
# A model file is mostly numbers, billions of them. How many bits each number gets decides how
# big the file is, how much memory it needs and how fast it runs, and how many bits it gets
# decides how exactly it keeps the value it was trained to. This notebook takes apart the formats
# you meet as an operator (fp32, fp16, bf16, int8, int4), measures what each one loses on the
# weights of a real trained model (a small digits classifier; set `MODEL_PATH` for a GGUF of
# yours), and prepares the next notebook, where llama.cpp's GGUF blocks combine small integers with
# shared scales.
#
# **Learning goals**
# - Read a float's bit layout (sign, exponent, mantissa) and derive its range and precision from it.
# - Explain why bf16 keeps fp32's range but not its precision, and why fp16 overflows above 65504.
# - Quantize to int8/int4 with a scale, and see why one scale per row beats one per tensor.
# - Describe what trained weight matrices look like: most weights small, rows of very different size,
#   and in large language models rare outliers.
#
# **Time:** 30 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_PATH = None  # a .safetensors or .gguf file, relative to the course folder (e.g. "data/tiny_llama/model.safetensors") or absolute; None: a digits MLP

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. Three floats, one recipe
#
# A binary float stores `sign × 1.mantissa × 2^(exponent − bias)`. The **exponent bits** set the
# *range* (how large and how small a number can be); the **mantissa bits** set the *precision*
# (how many significant digits survive). The table below is computed from those two widths alone
# (`helpers.quantization.number_formats`; it agrees with numpy's own `finfo`). Integer formats have no
# exponent: they need a separate float *scale*, so their range is "whatever the scale says" and
# their precision is one step, 1/127 of the largest value for int8, 1/7 for int4.

# %%
import numpy as np
import pandas as pd

from helpers.quantization import number_formats as nf

pd.DataFrame(nf.format_table()).set_index("format")

# %% [markdown]
# Each format's bits for the same number, 0.1 (which no binary format stores exactly):

# %%
import matplotlib.pyplot as plt

value = 0.1
fig, ax = plt.subplots(figsize=(9, 2.2))
colors = {"sign": "#e74c3c", "exponent": "#3498db", "mantissa": "#2ecc71"}
for row, name in enumerate(["fp32", "fp16", "bf16"]):
    for kind, bits, start in zip(("sign", "exponent", "mantissa"), nf.bit_fields(value, name),
                                 (0, 1, 1 + nf.FLOATS[name].exponent_bits)):
        for i, bit in enumerate(bits):
            ax.add_patch(plt.Rectangle((start + i, -row), 0.95, 0.8, color=colors[kind]))
            ax.text(start + i + 0.47, -row + 0.4, bit, ha="center", va="center", fontsize=7)
    ax.text(-0.5, -row + 0.4, name, ha="right", va="center")
ax.set_xlim(-4, 33)
ax.set_ylim(-2.3, 1)
ax.axis("off")
ax.set_title("0.1 in three formats: sign (red), exponent (blue), mantissa (green)")
plt.show()
pd.DataFrame([(n, float(nf.round_to_format(value, n)), nf.relative_error([value], [nf.round_to_format(value, n)])[0])
              for n in ["fp32", "fp16", "bf16"]],
             columns=["format", "stored value", "relative error"]).set_index("format")

# %% [markdown]
# bf16 is just the top half of an fp32: same 8 exponent bits (same range), 7 mantissa bits instead
# of 23. Converting is a matter of rounding away 16 bits, which `nf.round_to_bf16` does with integer
# operations only (add `0x7FFF` plus the lowest kept bit, shift right by 16: round to nearest, ties
# to even). The same table for a value past fp16's largest (65,504) and one below its smallest
# subnormal (about 6e-8): fp16 turns the first into `inf` and the second into 0, while bf16, with
# fp32's exponent range, keeps both within a few tenths of a percent.

# %%
from IPython.display import HTML, display

from helpers.widgets.number_formats import bits_table_html

for typed in (70000.0, 1e-8):
    display(HTML(bits_table_html(typed)))

# %% [markdown]
# With a running kernel, try other values:

# %% tags=["nbval-ignore-output"]
from helpers.widgets.number_formats import bits_explorer

bits_explorer(0.1)

# %% [markdown]
# ## 2. Range and precision in one plot
#
# The gap between a number and the next representable one grows with the number: floats keep a
# roughly constant *relative* precision (epsilon) over a huge range. Below the smallest normal
# number the gap stops shrinking (subnormals), and above the largest the number becomes `inf`.
# A scaled int8 is the opposite: a constant *absolute* gap (scale/1) across a small range fixed by
# the scale; here the scale is chosen so that the largest value is 1.

# %%
magnitudes = np.logspace(-9, 6, 600)
fig, ax = plt.subplots(figsize=(8, 4.2))
for name, color in zip(["fp32", "fp16", "bf16"], ["#2c3e50", "#e67e22", "#8e44ad"]):
    f = nf.FLOATS[name]
    inside = magnitudes <= f.max_normal
    ax.loglog(magnitudes[inside], nf.spacing(magnitudes[inside], name), color=color,
              label=f"{name} (max {f.max_normal:.3g})")
for name, color in zip(["int8", "int4"], ["#27ae60", "#c0392b"]):
    step = 1 / nf.INTS[name].qmax
    ax.loglog([step, 1], [step, step], color=color, lw=2.5, label=f"{name}, scale for max = 1")
ax.axvline(nf.FLOATS["fp16"].min_normal, color="#e67e22", ls=":", lw=0.8)
ax.axvline(nf.FLOATS["fp16"].max_normal, color="#e67e22", ls="--", lw=0.8)
ax.set_xlabel("magnitude of the value")
ax.set_ylabel("gap to the next representable value")
ax.set_title("Spacing of representable values (fp16: dotted smallest normal, dashed max)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read it like this: at 1.0, fp16 can tell apart numbers about 0.001 apart, bf16 only 0.008, fp32
# about 1e-7. fp16 stops at 65504: an activation or a sum above that becomes `inf`, which is why
# training moved to bf16, and why some models overflow when run in fp16. For *weights*, values are
# small (mostly below 1), so the question is precision near their size, not range.

# %% [markdown]
# ## 3. A real model's weights
#
# `load_weight_matrices` reads the 2-D tensors of a `.safetensors` or `.gguf` file (never a pickle).
# With `MODEL_PATH = None` it trains a small multilayer perceptron on scikit-learn's digits (a few
# seconds on a 2-core CPU, then cached in `build/`). To look at the course's own tiny Llama instead, set `MODEL_PATH` in the
# parameters cell to the file this cell names, and run the notebook again.

# %% tags=["nbval-ignore-output"]
from helpers.course.paths import relative_to_repo
from helpers.quantization.model_weights import find_course_model, load_weight_matrices

course_model = find_course_model()
print("course model file:", relative_to_repo(course_model) if course_model else "none yet in data/tiny_llama/")

# %%

source, matrices = load_weight_matrices(MODEL_PATH, seed=SEED)
print("weights from:", source)
weights_table = pd.DataFrame([(name, f"{w.shape[0]} x {w.shape[1]}", w.size, float(w.std()), float(np.abs(w).max()),
                               nf.outlier_share(w))
                              for name, w in matrices.items()],
                             columns=["matrix", "rows x cols", "weights", "std", "max |w|", "share beyond 6 std"],
                             ).set_index("matrix")
beyond = round((weights_table["share beyond 6 std"] * weights_table["weights"]).sum())
print(f"weights beyond 6 standard deviations of their matrix: {beyond:,} of {weights_table['weights'].sum():,}")
weights_table.round(4)

# %%
name = max(matrices, key=lambda k: matrices[k].size)
w = matrices[name]
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
left.hist(w.ravel(), bins=200, color="#3182bd")
left.set_yscale("log")
left.set_xlabel("weight value")
left.set_ylabel("count (log scale)")
left.set_title(f"{name}: {np.mean(np.abs(w) < np.abs(w).max() / 2):.0%} of weights below half the largest")
ranges = nf.row_ranges(w)
right.plot(np.sort(ranges)[::-1], color="#e6550d")
right.set_xlabel("row (sorted by its largest |w|)")
right.set_ylabel("max |w| in the row")
right.set_title(f"rows differ: largest/smallest = {ranges.max() / ranges.min():.1f}x")
plt.show()

# %% [markdown]
# Two facts decide everything that follows. Most weights are small compared with the largest one
# (left; this small MLP still shows the flat top of its uniform random initialisation, while the
# course's tiny Llama, loaded with `MODEL_PATH`, shows a bell), so a format needs fine steps near
# zero; and rows differ a lot in size (right). One scale for the whole matrix must stretch to the
# largest weight and then wastes its few levels on a range most weights never use.
#
# Large language models add a harsher version of this: a few weights and feature dimensions far
# larger than the rest, which are the first casualties of a coarse grid (weight outliers in
# [SqueezeLLM, Kim et al. 2023](https://arxiv.org/abs/2306.07629); outlier features of billion-
# parameter models in [LLM.int8(), Dettmers et al. 2022](https://arxiv.org/abs/2208.07339)). The line
# above the table counts the weights beyond 6 standard deviations of their matrix for the model
# loaded here (a normal distribution puts about 2 in a billion there); the digits MLP and the
# course's tiny Llama have none: they are far too small to grow such outliers.

# %% [markdown]
# ## 4. What each format does to the same weights
#
# The same matrix, stored five ways. Floats round each weight on their own; int8 and int4 use
# `scale = max|w| / qmax` and round `w / scale` to an integer, either with one scale for the whole
# tensor or one per row.

# %%
def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


stored = {f: nf.round_to_format(w, f) for f in ["fp16", "bf16"]}
for bits in (8, 4):
    stored[f"int{bits} per tensor"] = nf.int_round_trip(w, bits)
    stored[f"int{bits} per row"] = nf.int_round_trip(w, bits, axis=1)
x_in = np.random.default_rng(SEED).standard_normal(w.shape[1]).astype(np.float32)
y_ref = w.astype(np.float64) @ x_in
table = pd.DataFrame([
    (fmt, rmse(w, v), float(np.nanmedian(nf.relative_error(w, v))),
     float(np.linalg.norm(v.astype(np.float64) @ x_in - y_ref) / np.linalg.norm(y_ref)))
    for fmt, v in stored.items()], columns=["format", "RMSE", "median relative error", "relative error of W @ x"])
table.set_index("format")

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
errors = {fmt: np.abs(v - w).ravel() for fmt, v in stored.items()}
for fmt, color in zip(["bf16", "fp16", "int8 per row", "int4 per row", "int4 per tensor"],
                      ["#8e44ad", "#e67e22", "#27ae60", "#c0392b", "#7f8c8d"]):
    e = errors[fmt]
    e = e[e > 0]
    ax.hist(np.log10(e), bins=80, histtype="step", lw=1.5, color=color, label=fmt, density=True)
ax.set_xlabel("log10 of the absolute rounding error per weight")
ax.set_ylabel("density")
ax.set_title("Rounding error per weight, same matrix")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# What the table shows: fp16 is nearly lossless for weights of this size; bf16 is coarser (3 fewer
# mantissa bits, so about 8 times the rounding error); int8 costs more again but with half the
# bits; int4 is where the error becomes large, and there the choice of *how many weights share a
# scale* matters most: compare "per tensor" with "per row". Notebook 07 takes that idea down to
# blocks of 32 and 256 weights, which is what GGUF files do.

# %% [markdown]
# ## Summary
#
# - A float's exponent bits set its range, its mantissa bits its precision (epsilon = 2^-mantissa bits).
# - fp16: 10 mantissa bits, max 65504. bf16: fp32's range with 7 mantissa bits. Both are 2 bytes per weight.
# - Integers need a float scale; their error is at most half a step, `scale / 2`, everywhere in the range.
# - Real weights: most near zero and rows of very different size (large language models add rare
#   outliers; the small models measured here have none), so one scale for a whole matrix is a poor
#   fit, and finer-grained scales (per row, per block) pay off.
#
# ## Exercises
#
# Replace `None` with your answer and run the cell; the check explains what is off.
#
# **1.** A model has 1 billion (10⁹) parameters. How many **GB** (10⁹ bytes) does it take in bf16?

# %%
from helpers.exercises.number_formats import check_bf16_model_gb, check_format_for_large_value, check_int8_max_error

answer = None
check_bf16_model_gb(answer, 1e9)

# %% [markdown]
# **2.** An activation reaches 70,000. Which 16-bit format stores it without turning it into `inf`:
# `"fp16"` or `"bf16"`?

# %%
answer = None
check_format_for_large_value(answer, 70000)

# %% [markdown]
# **3.** A row's largest weight is 0.5 and the row is quantized to symmetric int8 (`scale = max|w| / 127`).
# What is the largest possible rounding error of one weight?

# %%
answer = None
check_int8_max_error(answer, 0.5)
