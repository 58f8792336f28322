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
# # 07 · Quantization: from one scale to GGUF's K-quant blocks
#
# A downloaded model is usually not fp16 but something like `Q4_K_M`. This notebook explains what
# those letters mean, byte by byte, and proves each step: it quantizes real weight matrices with
# readable numpy versions of llama.cpp's formats (`helpers/quantization/block_formats.py`), checks that they write the
# *same bytes* as llama.cpp itself, and measures what each format costs in error, in a layer's
# output and in file size. Then it opens a real chat model's Q4_1 file block by block and measures
# what quantizing it *again* costs. At the end you can explain Q4_K_M to a colleague, choose a quant
# for a given GPU, and say why you quantize from the original weights.
#
# **Learning goals**
# - Explain why small blocks with their own scale beat one scale per tensor; read GGUF block layouts
#   (Q8_0, Q4_0, Q4_1, Q5_x, Q2_K...Q6_K), a real model's blocks included, and derive bits per weight.
# - Describe a K-quant super-block: 256 weights, 8 sub-blocks with 6-bit scales and mins, two f16 super-scales.
# - Say what an importance matrix changes, and measure error versus bits per weight on real matrices.
# - Pick a quant for a VRAM budget and know what quality it costs.
# - Say why llama.cpp refuses to requantize, and measure what requantizing a real model costs
#   (size, perplexity, KL divergence, speed).
#
# **Time:** 45 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_PATH = None  # a .safetensors or .gguf file, relative to the course folder (e.g. "data/tiny_llama/model.safetensors") or absolute; None: a digits MLP
N_THREADS = 1  # llama.cpp threads in section 7 (1 stays steady when other jobs share a 2-core CPU)

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.quantization import block_formats as quants
from helpers.quantization import error as qe
from helpers.quantization.model_weights import load_weight_matrices

source, matrices = load_weight_matrices(MODEL_PATH, seed=SEED)
matrices = qe.k_quant_ready(matrices)  # rows that are a multiple of 256 weights: every format fits
if not matrices:
    print(f"{source} has no matrix whose rows are a multiple of 256 weights; using the digits MLP")
    source, matrices = load_weight_matrices(None, seed=SEED)
    matrices = qe.k_quant_ready(matrices)
name = max(matrices, key=lambda k: matrices[k].size)
w = matrices[name]
print(f"weights from: {source}; measuring on {list(matrices)}; the largest, {name}, is {w.shape[0]} x {w.shape[1]}")

# %% [markdown]
# ## 1. Why blocks: one scale per tensor versus many
#
# Notebook 06 stored a matrix as `scale × q` with a 4-bit integer `q`. The scale must reach the
# largest |weight| in its group, so one outlier anywhere makes the steps coarse *everywhere*. Give
# each small block of a row its own scale and an outlier only spoils its own block. The price is
# the scales themselves: one 16-bit scale per 32 weights adds 16/32 = 0.5 bits per weight.

# %%
blocks = [16, 32, 64, 128, 256, w.shape[1], None]
rows = []
for block in blocks:
    back = qe.blockwise_round_trip(w, 4, block)
    label = "tensor" if block is None else ("row" if block == w.shape[1] else str(block))
    rows.append((label, 4 + qe.scale_bits_per_weight(block, w.size), float(np.sqrt(np.mean((back - w) ** 2)))))
blocks_table = pd.DataFrame(rows, columns=["weights per scale", "bits per weight (4 + f16 scale)", "RMSE"])
blocks_table.set_index("weights per scale")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(blocks_table["bits per weight (4 + f16 scale)"], blocks_table["RMSE"], "o-", color="#3182bd")
for _, r in blocks_table.iterrows():
    ax.annotate(r["weights per scale"], (r["bits per weight (4 + f16 scale)"], r["RMSE"]), fontsize=8,
                xytext=(4, 4), textcoords="offset points")
ax.set_xlabel("bits per weight, scales included")
ax.set_ylabel("RMSE of the weights")
ax.set_title(f"int4 with one scale per N weights ({name})")
plt.show()

# %% [markdown]
# Smaller blocks lower the error, but each halving of the block doubles the scale overhead. GGUF's
# classic formats settle on 32 weights per scale; the K-quants get the same effect cheaper, as
# section 3 shows.

# %% [markdown]
# ## 2. GGUF block layouts, byte by byte
#
# Every quantized GGUF tensor is a run of identical blocks. The layouts below are llama.cpp's
# `block_*` structs; bits per weight is simply `8 × bytes per block / weights per block`, computed
# from the layout and checked against `gguf.constants.GGML_QUANT_SIZES` (the table's last column).

# %%
import gguf

layout_rows = []
for fmt, layout in quants.LAYOUTS.items():
    block, size = gguf.constants.GGML_QUANT_SIZES[getattr(gguf.GGMLQuantizationType, fmt)]
    layout_rows.append((fmt, layout.weights_per_block, layout.bytes_per_block, layout.bits_per_weight,
                        " | ".join(f"{f.name}@{f.offset}:{f.nbytes}B" for f in layout.fields),
                        (block, size) == (layout.weights_per_block, layout.bytes_per_block)))
pd.DataFrame(layout_rows, columns=["format", "weights/block", "bytes/block", "bits/weight",
                                   "fields (name@offset:size)", "agrees with gguf"]).set_index("format")

# %% [markdown]
# Decode one Q8_0 block of the real matrix by hand: 2 bytes of f16 scale `d`, then 32 signed bytes.
# Each weight is `d × q`; the largest |weight| of the block becomes ±127.

# %%
raw = quants.quantize_q8_0(w[:1, :32])[0]
d = raw[:2].view(np.float16)[0]
q = raw[2:].view(np.int8)
print("bytes:", raw[:8].tolist(), "...")
print(f"d = {float(d):.6g}; first quants: {q[:8].tolist()}")
pd.DataFrame({"original": w[0, :6], "q": q[:6], "d * q": np.float32(d) * q[:6].astype(np.float32)}).round(6)

# %% [markdown]
# Q4_0 is the same idea with 4-bit quants (two per byte) and `d = max / -8`, where `max` keeps its
# sign, so that the largest weight lands exactly on a level. Q4_1 and Q5_1 add a minimum `m`
# (`x = d×q + m`), which fits blocks that are not centred on zero better, for 2 more bytes.

# %% [markdown]
# ### A real model's blocks
#
# The course's chat model, SmolLM2-135M-Instruct, ships as a **Q4_1** file: its matrices are stored
# exactly this way. Read one tensor as it lies in the file (through the course's one GGUF reader,
# `helpers.gguf.header.open_checked`) and decode its first blocks: 2 bytes of f16 scale `d`, 2 bytes
# of f16 minimum `m`, then 16 bytes holding 32 four-bit levels `q` in 0..15; each weight is `d × q + m`.

# %%
from helpers.llm.chat_model import chat_model_path
from helpers.quantization.llamacpp_match import dequantizes_like_gguf, read_tensor

CHAT_MODEL = chat_model_path()
TENSOR = "blk.0.attn_q.weight"
kind, stored = read_tensor(CHAT_MODEL, TENSOR)
d, m, levels = quants.q4_1_fields(stored)
print(f"{CHAT_MODEL.name}: {TENSOR} is {kind}, {stored.shape[0]} rows of {stored.shape[1]} bytes "
      f"= {stored.shape[1] // 20} blocks of 32 weights per row, {len(d):,} blocks in all")
first_blocks = pd.DataFrame({"d (scale)": d[:4, 0], "m (minimum)": m[:4, 0],
                             "levels q of its 32 weights": [" ".join(map(str, row)) for row in levels[:4]],
                             "smallest weight (q=0): m": m[:4, 0], "largest (q=15): 15d + m": 15 * d[:4, 0] + m[:4, 0]})
first_blocks.index.name = "block of row 0"
first_blocks

# %%
values = quants.dequantize_q4_1(stored)
distinct = 1 + (np.diff(np.sort(values.reshape(-1, 32), axis=1), axis=1) != 0).sum(axis=1)
print(f"row 0, weight 0: d x q + m = {d[0, 0]:.6g} x {levels[0, 0]} + ({m[0, 0]:.6g}) = {values[0, 0]:.6g}")
print(f"the course's dequantize_q4_1 equals gguf.quants.dequantize on all {values.size:,} weights, bit for bit: "
      f"{dequantizes_like_gguf(stored, kind)}")
print(f"distinct values per block of 32 weights: at most {distinct.max()}, median {np.median(distinct):g}")

# %% [markdown]
# At most 16 different numbers per 32 weights: that is all this file still knows about the model's
# original weights (published in bf16, 16 bits each). Whatever is made from it later (another quant
# type, even a "bigger" Q8_0) starts from these rounded values; section 7 measures what that costs.

# %% [markdown]
# ## 3. K-quants: a super-block of 256 weights
#
# A Q4_K block holds 256 weights as 8 sub-blocks of 32. Each sub-block gets its own scale *and*
# minimum, but stored in just **6 bits** each, as multiples of two f16 super-scales `d` and `dmin`:
#
# `x = d × sc[j] × q − dmin × m[j]`, with `q` in 0..15 and `sc[j]`, `m[j]` in 0..63.
#
# Cost: 4 bytes of super-scales + 12 bytes of packed 6-bit scales/mins + 128 bytes of quants = 144
# bytes for 256 weights = 4.5 bits per weight, the same as Q4_0, yet with an asymmetric range per 32
# weights. Q6_K does the same with 16 sub-blocks of 16 weights, int8 sub-scales, 6-bit quants and no minimums.
# Here is one real Q4_K block, field by field, and what its scales and minimums do:

# %%
block_bytes = quants.quantize_q4_k(w[:1, :256])[0]
sc, mn = quants.unpack_k_scales(block_bytes[None, 4:16])
d, dmin = block_bytes[0:4].view(np.float16).astype(np.float32)
values = quants.dequantize_q4_k(block_bytes[None])[0]
fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), gridspec_kw={"height_ratios": [1, 3]})
start = 0
for field, color in zip(quants.LAYOUTS["Q4_K"].fields, ["#e74c3c", "#e67e22", "#f1c40f", "#3498db"]):
    top.barh(0, field.nbytes, left=field.offset, color=color, edgecolor="white")
    small = field.nbytes < 8  # label the 2-byte fields beside the bar, not on it
    top.text(field.offset + field.nbytes / 2 + (6 * field.offset / 2 if small else 0), 0.55 if small else 0,
             f"{field.name} {field.nbytes} B", ha="left" if small else "center", va="center", fontsize=8)
top.set_xlim(0, 144)
top.set_ylim(-0.5, 0.9)
top.set_yticks([])
top.set_xlabel("byte offset in the 144-byte Q4_K block")
x_axis = np.arange(256)
bottom.plot(x_axis, w[0, :256], ".", ms=3, color="#7f8c8d", label="original weights")
bottom.plot(x_axis, values, "_", ms=4, color="#2c3e50", label="stored (dequantized)")
for j in range(8):
    lo, hi = -dmin * mn[0, j], -dmin * mn[0, j] + 15 * d * sc[0, j]
    bottom.hlines([lo, hi], 32 * j, 32 * j + 31, colors=["#27ae60", "#c0392b"], lw=1.5)
    bottom.text(32 * j + 2, hi, f"sc={sc[0, j]} m={mn[0, j]}", fontsize=7, va="bottom")
bottom.set_xlabel("weight index in the super-block (8 sub-blocks of 32)")
bottom.set_ylabel("weight value")
bottom.set_title("each sub-block: its own range from -dmin*m (green) to -dmin*m + 15*d*sc (red)")
bottom.legend(fontsize=8, loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# How are the scales chosen? Not simply from the min and max: for each sub-block llama.cpp's
# `make_qkx2_quants` tries 21 slightly different grids and, for each, fits scale and minimum by
# weighted least squares (weights `sqrt(mean(x²)) + |x|`, so large weights count more), keeping the
# grid with the smallest error. Then the 8 scales are themselves rounded to 6 bits against the
# largest one, and every weight is re-rounded with the scales actually stored.
#
# ### Proof: the same bytes as llama.cpp
#
# We write a small F32 llama GGUF whose matrices contain the awkward cases (zero rows, constant rows,
# all-negative rows, outliers, tiny values whose scales underflow f16), let llama.cpp's own
# `llama_model_quantize` convert every matrix to one type, read its bytes back with `gguf.GGUFReader`
# and compare them block by block with `helpers.quantization.block_formats` on the same floats.

# %% tags=["nbval-ignore-output"]
import tempfile

from helpers.quantization.llamacpp_match import compare_with_llama_cpp

proof = []
with tempfile.TemporaryDirectory() as workdir:
    for fmt in quants.FORMATS:
        result = compare_with_llama_cpp(fmt, workdir, seed=SEED)
        proof.append((fmt, sum(r["blocks"] for r in result), sum(r["blocks that differ"] for r in result),
                      all(r["dequantized equal"] for r in result)))
pd.DataFrame(proof, columns=["format", "blocks compared", "blocks that differ from llama.cpp",
                             "dequantized bit-exact with gguf"]).set_index("format")

# %% [markdown]
# Zero differing blocks means our readable numpy code *is* llama.cpp's reference quantizer,
# including its rounding quirks (ties to even in `nearest_int`, half away from zero in Q8_0,
# truncation in Q4_0). llama.cpp uses this reference path whenever no importance matrix is given.
# (llama.cpp prints its own log lines while it works; they differ a little from run to run.)

# %% [markdown]
# ## 4. Importance matrices
#
# Not all weights matter equally: weight `W[i, j]` multiplies input `x[j]`, so its error costs
# `error × x[j]` in the output. An **importance matrix** (imatrix) records, from a calibration text,
# how large each input channel's activations are (mean of `x[j]²`). The quantizer then minimises
# `Σ importance × (w − scale·q)²` instead of the plain squared error, moving error onto weights
# whose inputs are small. A small demo on one block, with four "hot" input channels:

# %%
rng = np.random.default_rng(SEED)
block = w[0, :32].astype(np.float64)
importance = np.ones(32)
importance[rng.choice(32, 4, replace=False)] = 50.0
plain = qe.best_scale(block, np.ones(32), bits=3)
weighted = qe.best_scale(block, importance, bits=3)
pd.DataFrame([("plain least squares", plain, qe.weighted_error(block, np.ones(32), plain, 3),
               qe.weighted_error(block, importance, plain, 3)),
              ("importance-weighted", weighted, qe.weighted_error(block, np.ones(32), weighted, 3),
               qe.weighted_error(block, importance, weighted, 3))],
             columns=["scale chosen by", "scale", "plain squared error", "importance-weighted error"]).set_index(
    "scale chosen by")

# %% [markdown]
# The weighted choice accepts a little more plain error to cut the error that reaches the output.
# llama.cpp's `llama-imatrix` tool computes the importances from text, and `llama-quantize --imatrix`
# uses them (then a different code path than the reference quantizer above, so bytes differ).
# It matters most at 2 to 3 bits per weight, where every level counts.

# %% [markdown]
# ## 5. Error versus bits per weight, measured
#
# Every format on the real matrices: RMSE and worst-case error of the weights, and the relative
# error of a layer's output `W @ x` for random inputs `x` (what the next layer actually sees).

# %%
errors = pd.DataFrame(qe.error_table(matrices, quants.FORMATS, seed=SEED)).set_index("format")
errors

# %%
from helpers.course.plotting import label_points

fig, ax = plt.subplots(figsize=(7.5, 3.8))
ax.semilogy(errors["bits per weight"], errors["relative output error"], "o", color="#e6550d")
label_points(ax, errors["bits per weight"], errors["relative output error"], errors.index, fontsize=8)
ax.set_xlabel("bits per weight (from the block layout)")
ax.set_ylabel("relative error of W @ x (log)")
ax.set_title("Fewer bits, more error: each bit roughly halves it")
plt.show()

# %% [markdown]
# Read the pairs at equal size: Q4_K against Q4_0 (both 4.5 bits), Q5_K against Q5_0 (5.5 bits).
# Per-sub-block minimums and fitted scales buy lower error for the same bytes. The error of each
# weight, for three sizes:

# %%
from helpers.widgets.quantization import draw_error_histogram

fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), sharex=True)
for ax, fmt in zip(axes, ["Q8_0", "Q4_K", "Q2_K"]):
    title = f"{fmt}: {quants.LAYOUTS[fmt].bits_per_weight:g} bits/weight"
    draw_error_histogram(w, quants.round_trip(w, fmt), title, ax)
plt.tight_layout()
plt.show()

# %% [markdown]
# Try the other formats yourself, or your own bits and block size (the file size follows):

# %% tags=["nbval-ignore-output"]
from helpers.widgets.quantization import quantization_playground

quantization_playground(w)

# %% [markdown]
# ## 6. Q4_K_M, finally, and how to choose
#
# A llama.cpp *mix* such as Q4_K_M is not one format: it is a rule per tensor. Most matrices get
# Q4_K, while the ones that hurt most when quantized (the attention `v` projection and `ffn_down`
# in some layers, and the output layer) get Q6_K. The rules come from llama.cpp's
# `llama-quant.cpp` (`data/quant_mixes.json`); for Llama 3.1 8B they give:

# %%
from helpers.course.catalog import get_model
from helpers.memory.gguf_size import gguf_file_size, predicted_tensors

arch = get_model("Llama 3.1 8B").architecture
mix_rows = []
for mix in ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]:
    tensors = predicted_tensors(arch, mix)
    counts = pd.Series([t.ggml_type for t in tensors]).value_counts()
    size = gguf_file_size(arch, mix)
    mix_rows.append((mix, ", ".join(f"{n} x {t}" for t, n in counts.items()), size.total_gb, size.bits_per_weight))
pd.DataFrame(mix_rows, columns=["mix", "tensor types", "file size (GB)", "average bits per weight"],
             ).set_index("mix").round(2)

# %% [markdown]
# ### What it costs a real model
#
# Weight error is a proxy; what users notice is the model's quality. The standard measure is
# **perplexity** on held-out data: exp(mean cross-entropy), 1 for a model that is always surely
# right, N for a uniform guess among N answers. Beside it, llama.cpp's `llama-perplexity
# --kl-divergence` reports how far the quantized model's predicted distribution drifts from the
# original's (KL divergence, in nats), which is more sensitive. Measured live on the digits
# classifier (held-out digits it never trained on; perplexity over its 10 classes), with every
# matrix quantized as llama.cpp would (rows of 64 weights fall back to a 32-block type, as in
# llama.cpp):

# %%
from helpers.quantization.model_weights import digits_split, train_digits_mlp

if MODEL_PATH is None and "MLP" in source:
    _, _, x_heldout, y_heldout = digits_split(SEED)
    quality_rows = qe.classifier_quant_table(train_digits_mlp(SEED), ["Q8_0", "Q6_K", "Q5_K", "Q4_K", "Q4_0",
                                                                     "Q3_K", "Q2_K"], x_heldout, y_heldout)
    display(pd.DataFrame(quality_rows).set_index("format").round(6))
else:
    print("this measurement uses the digits classifier: set MODEL_PATH = None and run the notebook again to see it")

# %% [markdown]
# A small classifier choosing among 10 answers is robust: its accuracy barely moves even at Q2_K,
# while the KL divergence from F32, which measures the drift itself, grows as bits drop. Read the
# small differences as noise, not as rankings: with 450 held-out digits, a quantized model's
# perplexity can land just below F32's (rounding moved a few answers the right way by luck), and
# Q4_K against Q4_0, both at 4.5 bits, is within that noise here (the K-quant's advantage shows on
# the whole matrices of section 5 and on llama.cpp's 8B measurements below, not on 450 digits).
# A language model picks among tens of thousands of tokens, one after another, and errors
# compound: there the same drift shows up as perplexity. The course ships its tiny Llama in three GGUF types (`data/tiny_llama/`: F16, Q8_0,
# Q4_K_M); this cell measures their perplexity live on held-out Shakespeare
# (`data/shakespeare/heldout.txt`, plays the model never trained on). `benchmarks/llm_quants.py`
# measures all nine types over more text (`benchmarks/results/llm_quants.md`). In both, the types
# differ by less than one percent in perplexity: a model this small and this briefly trained is a
# blunt instrument for telling quant types apart.

# %% tags=["nbval-ignore-output"]
from helpers.course.paths import DATA_DIR, REPO_ROOT, relative_to_repo
from helpers.quantization.model_weights import TINY_LLAMA_DIR

ggufs = sorted(TINY_LLAMA_DIR.glob("*.gguf")) if TINY_LLAMA_DIR.is_dir() else []
heldout_path = DATA_DIR / "shakespeare" / "heldout.txt"
if ggufs and heldout_path.is_file():
    text = heldout_path.read_text(encoding="utf-8")[: 2000 if QUICK else 20000]
    ppl = [(p.name, p.stat().st_size, qe.gguf_perplexity(p, text, n_ctx=256 if QUICK else 1024)) for p in ggufs]
    display(pd.DataFrame(ppl, columns=["file", "bytes", "perplexity"]).set_index("file"))
else:
    missing = [relative_to_repo(path) for path, there in ((TINY_LLAMA_DIR, bool(ggufs)),
                                                         (heldout_path, heldout_path.is_file())) if not there]
    print("cannot measure: nothing at", " or ".join(missing), "(notebook 19 trains and exports the tiny Llama)")

# %% [markdown]
# ### Which quant for my GPU?
#
# First, what each mix costs in quality on a real 8B model. llama.cpp's `llama-quantize` prints,
# for every mix, the file size and the perplexity increase it measured on Llama-3-8B (wikitext,
# over the 16-bit model); `data/quant_quality.csv` keeps those figures with their source:

# %%
quality = pd.DataFrame(qe.load_quality_catalog()).set_index("mix")
quality[["size_gib_at_reference", "perplexity_increase", "reference_model"]]

# %%
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(quality["size_gib_at_reference"], quality["perplexity_increase"], "o", color="#3182bd")
ax.set_yscale("log")
label_points(ax, quality["size_gib_at_reference"], quality["perplexity_increase"], quality.index)
ax.set_xlabel("file size of Llama-3-8B (GiB)")
ax.set_ylabel("perplexity increase (log)")
ax.set_title("Quality cost of each llama.cpp mix (as llama-quantize reports it)")
plt.show()

# %%
q = quality["perplexity_increase"]
size = quality["size_gib_at_reference"]
print(f"Q4_K_M is {1 - size['Q4_K_M'] / size['Q6_K']:.0%} smaller than Q6_K and adds {q['Q4_K_M'] / q['Q6_K']:.1f}x "
      f"its perplexity; Q2_K adds {q['Q2_K'] / q['Q4_K_M']:.0f}x Q4_K_M's. "
      f"At about the same size, Q4_K_S adds {q['Q4_K_S']:.3f} and Q4_0 adds {q['Q4_0']:.3f}.")

# %% [markdown]
# Q8_0 and Q6_K cost almost nothing; Q4_K_M costs more but saves a quarter of the bytes; below 4
# bits the increase grows steeply. At equal size the K-quant mixes beat the legacy formats, as
# section 5 measured on our matrices. So: walk down the ladder Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M,
# Q2_K and take the first mix whose weights, KV cache (f16, 8,192 tokens), compute buffer and
# runtime overhead fit the card with 1 GiB kept free (`helpers.memory.vram.memory_plan`; the 1 GiB
# is the margin llama.cpp's `--fit` keeps free, as in notebooks 08 and 09):

# %%
budgets_gib = [4, 6, 8, 12, 16, 24, 48]
decision = []
for model in ["Llama 3.2 3B", "Llama 3.1 8B", "Llama 3.1 70B"]:
    model_arch = get_model(model).architecture
    row = {"model": model}
    for gib in budgets_gib:
        mix, need = qe.recommend_quant(model_arch, gib * 2**30)
        row[f"{gib} GiB card"] = mix or "does not fit"
    decision.append(row)
pd.DataFrame(decision).set_index("model")

# %% [markdown]
# If nothing fits, the options are a smaller model (usually better than Q2_K of a bigger one), a
# shorter context, or offloading only some layers to the GPU (notebook 11).

# %% [markdown]
# ## 7. Requantizing: why llama.cpp asks first
#
# The chat model exists here only as Q4_1. Suppose you want it as Q4_K_M, or smaller, as Q2_K.
# llama.cpp's quantizer (the same `llama_model_quantize` that `llama-quantize` calls) refuses:

# %%
import tempfile
from pathlib import Path

from helpers.gguf.quantize import quantize

workdir = tempfile.TemporaryDirectory()
try:
    quantize(CHAT_MODEL, Path(workdir.name) / "Q4_K_M.gguf", "Q4_K_M")
except ValueError as refusal:
    print(refusal)

# %% [markdown]
# Why? Quantizing rounds every weight onto a grid and throws the rest away. Quantizing a quantized
# file rounds the *already rounded* values onto a second grid: the second error lands on top of the
# first, and nothing brings back what the first rounding lost. llama.cpp will do it
# (`llama-quantize --allow-requantize`, here `quantize(..., allow_requantize=True)`), but only when
# asked, because the right way is to quantize from the original F16/BF16 weights.
#
# The digits MLP has its original weights, so there we can see the stacking directly: quantize each
# matrix to a target format straight from the original, and again via Q4_1 first, and measure the
# relative error of the layer's output against the *original* weights (section 5's measure):

# %%
from helpers.quantization.requantize import stacked_error_table

stacked = pd.DataFrame(stacked_error_table(matrices, "Q4_1", ["Q8_0", "Q6_K", "Q5_K", "Q5_1", "Q4_K", "Q4_1",
                                                               "Q3_K", "Q2_K"], seed=SEED)).set_index("target")
stacked.insert(0, "bits per weight", [quants.LAYOUTS[f].bits_per_weight for f in stacked.index])
stacked.round(4)

# %% [markdown]
# Read the `from Q4_1` column against `Q4_1 alone` (0.0743): no target gets below it. Q8_0 made from
# the original is about 15 times more accurate (0.0050); made from Q4_1 it is Q4_1 in a bigger file
# (0.0746): its 8 bits store Q4_1's mistakes faithfully. Every other target adds its own rounding:
# Q4_K from the original (0.0691) beats Q4_1, from Q4_1 it is worse than both (0.0768). Q5_1 stacks
# most of the 5- and 6-bit targets (0.0865, against 0.0355 from the original): its 31 steps span exactly
# the range of Q4_1's 15 steps (both run from the block's minimum to its maximum), so old level `q` lands at
# 31q/15 new steps and rounds the same way in every block (down below the middle, up above it): a
# small systematic stretch, not noise that averages out. Re-rounding onto the *same* grid (Q4_1 again)
# is free; for a much coarser target (Q2_K: 0.2848 direct, 0.2974 via Q4_1) its own error dominates.

# %% [markdown]
# ### The real model, requantized and measured
#
# For the real model the original weights are not here (only the Q4_1 file is), so the reference is
# the Q4_1 file itself: every measurement below is what requantizing *adds* on top of the Q4_1
# error the file already has. llama.cpp's own quantizer makes the five usual mixes from it:

# %%
from helpers.quantization.requantize import file_size

REQUANT_TARGETS = ["Q8_0", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]
files = {"Q4_1": CHAT_MODEL}
for target in REQUANT_TARGETS:
    files[target] = quantize(CHAT_MODEL, Path(workdir.name) / f"{target}.gguf", target, threads=2,
                             allow_requantize=True)
file_bytes = {name: path.stat().st_size for name, path in files.items()}
print("file bytes:", ", ".join(f"{name} {n:,} ({n / file_bytes['Q4_1'] - 1:+.0%})" for name, n in file_bytes.items()))
print("a row of 576 weights asked for", {f: qe.storage_type(f, 576) for f in ["Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K"]})
for name in ["Q4_1", "Q5_K_M", "Q4_K_M"]:
    print(f"{name} tensors by type:", ", ".join(f"{n} {t}" for t, n in file_size(files[name]).tensor_types.items()))

# %% [markdown]
# Two surprises before any quality is measured. Requantizing to Q4_K_M or Q5_K_M makes the file
# *bigger* than the Q4_1 it came from (+7% and +14%), and Q2_K saves only 10%. SmolLM2 is 576 wide,
# and 576 is not a multiple of 256, so most of its matrices cannot hold K-quant super-blocks: llama.cpp
# falls back to a legacy type (second line: Q4_K becomes Q5_0 at 5.5 bits, Q5_K becomes Q5_1 at 6.0,
# Q3_K and Q2_K become Q4_0 at 4.5), and the files say so: 166 Q5_0 matrices in Q4_K_M, 166 Q5_1 in
# Q5_K_M. Only `ffn_down`, whose rows are 1,536 = 6 × 256 weights, gets real K-quants. The one Q8_0
# tensor of the Q4_1 file is the token embedding (49,152 × 576 weights, shared with the output layer),
# which is why the file's bits per weight (below) come out above the format's 5.0.

# %% [markdown]
# Now quality, on a fixed text the course has offline: the start of the held-out Shakespeare plays in
# `data/shakespeare/heldout.txt` (*Twelfth Night* first; held out from the course's own tiny model;
# SmolLM2's web-scale training text may well contain Shakespeare, which does not matter here: every file
# reads the same tokens). Each file reads the same windows of 256 tokens; per token we record the
# perplexity contribution, the KL divergence of its next-token distribution from Q4_1's, and whether
# its most likely next token is Q4_1's:

# %%
from helpers.course.paths import DATA_DIR
from helpers.llm.load import load_model
from helpers.quantization import requantize as rq

WINDOW = 256
heldout_text = (DATA_DIR / "shakespeare" / "heldout.txt").read_text(encoding="utf-8")[:40_000]
quality, bits = {}, {}
for name, path in files.items():  # one model in memory at a time
    llm = load_model(path, n_ctx=WINDOW, n_threads=N_THREADS, seed=SEED, logits_all=True)
    if name == "Q4_1":
        chunks = rq.windows(llm.tokenize(heldout_text.encode("utf-8"), add_bos=False), WINDOW, 1 if QUICK else 8)
        reference = [rq.next_token_log_probs(llm, chunk) for chunk in chunks]
        quality[name] = rq.reference_quality(chunks, reference)
    else:
        quality[name] = rq.quality_against(llm, chunks, reference)
    bits[name] = rq.llama_bits_per_weight(llm)
    llm.close()
requant = pd.DataFrame([(name, file_bytes[name], bits[name], q.perplexity, q.mean_kl, 100 * q.same_top_share)
                        for name, q in quality.items()],
                       columns=["file", "file bytes", "bits per weight", "perplexity", "mean KL from Q4_1 (nats)",
                                "same top token as Q4_1 (%)"]).set_index("file")
print(f"{len(quality['Q4_1'].nll)} tokens scored per file, in {len(chunks)} window(s) of {WINDOW} tokens")
requant.round({"bits per weight": 3, "perplexity": 2, "mean KL from Q4_1 (nats)": 4, "same top token as Q4_1 (%)": 1})

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
ax.plot(requant["bits per weight"], requant["mean KL from Q4_1 (nats)"], "o", color="#e6550d")
for name, r in requant.iterrows():
    ax.annotate(name, (r["bits per weight"], r["mean KL from Q4_1 (nats)"]), fontsize=8, xytext=(4, 3),
                textcoords="offset points")
ax.set_xlabel("bits per weight (tensor bytes x 8 / weights)")
ax.set_ylabel("mean KL divergence from Q4_1 (nats)")
ax.set_title("SmolLM2-135M requantized from Q4_1: size against drift")
plt.show()

# %% [markdown]
# And speed: generation tokens/s on this machine (32 greedy tokens after a 16-token prompt,
# `N_THREADS` threads). The six files are measured in turns, several times, so that a busy moment of
# the machine hits every file alike: median, lowest and highest. One file is loaded at a time (six at
# once would hold all their weights in memory); each load is warmed up with a few tokens first, which
# pages its weights in. Read a difference
# only where the ranges do not overlap (`benchmarks/requantization.py` measures more repetitions,
# at 1 and 2 threads, shown further down):

# %% tags=["nbval-ignore-output"]
from helpers.hardware.measured_speed import load_llama, measure_speed, median_and_range

speed_runs = {name: [] for name in files}
for repeat in range(3 if QUICK else 7):
    for name, path in files.items():
        llm = load_llama(path, N_THREADS, n_ctx=64)
        measure_speed(path, 4, 4, threads=N_THREADS, llm=llm)  # warm-up: pages the weights in
        speed_runs[name].append(measure_speed(path, 16, 32, threads=N_THREADS, llm=llm, seed=repeat))
        llm.close()
workdir.cleanup()
pd.DataFrame({name: median_and_range(runs) for name, runs in speed_runs.items()}).T[
    [f"generation tokens/s ({k})" for k in ("median", "lowest", "highest")]].round(1)

# %% [markdown]
# What requantizing cost, in the table above (with `QUICK` on: one window of 256 tokens from the
# start of *Twelfth Night*, 255 of them scored; `benchmarks/requantization.py` scores 16 windows of
# 512 tokens, see `benchmarks/results/requantization.md`):
#
# - **Q8_0**: 47% more bytes for a copy that is still not Q4_1 (the smallest mean KL, about 0.01
#   nats, and the same top token about nine times in ten, not always). It cannot be better than the
#   file it came from; at best it stores Q4_1's errors faithfully. Its perplexity comes out a little
#   below Q4_1's by chance, not by skill: the KL column shows the two models disagree, and 255 tokens
#   are few.
# - **Q4_K_M**: 7% *bigger* than the Q4_1 it came from, and drifted (KL above 0.1 nats, about ten
#   times Q8_0's; perplexity about a quarter higher than Q4_1's).
# - **Q5_K_M**: more bits still, yet the worst of the three larger mixes (KL about twice Q4_K_M's,
#   and the highest perplexity in the table): its 576-wide matrices became Q5_1, the target that
#   stacked most of the 5- and 6-bit ones in the MLP table above.
# - **Q3_K_M** and **Q2_K**: 5% and 10% smaller, for KL about 0.3 and about 0.8 nats; Q2_K picks
#   Q4_1's top token only about half of the time.
#
# Perplexity ranks the files differently from KL here (Q3_K_M's and even Q2_K's perplexity are below
# Q4_K_M's, though both drifted further): on a few hundred tokens it is a noisy, blunt measure,
# while KL compares the two distributions token by token against the reference. That is why
# `llama-perplexity` has a `--kl-divergence` mode, and why it is the column to read.
#
# The benchmark's longer run, when its results are there (a rerun on your machine rewrites them):

# %% tags=["nbval-ignore-output"]
from IPython.display import Markdown

bench_md = REPO_ROOT / "benchmarks" / "results" / "requantization.md"
if bench_md.is_file():
    bench_text = bench_md.read_text(encoding="utf-8")
    display(Markdown(bench_text[bench_text.index("## Size and drift"):]))
else:
    print("no", relative_to_repo(bench_md), "yet: run python benchmarks/requantization.py")

# %% [markdown]
# Over 32 times more tokens it ranks the mixes by mean KL in the same order as the quick run above:
# Q8_0, Q4_K_M, Q5_K_M, Q3_K_M, Q2_K. Speed moves too. In the benchmark's medians, at 1 and at 2
# threads, the mixes whose 576-wide matrices fell back to Q4_0 (Q3_K_M, Q2_K) generate fastest, and
# Q8_0 processes prompts about twice as fast as the smaller Q4_1 and generates at least as fast. The
# short single-thread run of this section (32 tokens, a few repetitions) is a different
# measurement and need not agree: there Q8_0 can generate slower than Q4_1, and Q4_K_M can come last.
# A few seconds per file on one thread show what the machine did in those seconds as much as what
# the file costs; for an order, read the benchmark's medians and ranges. For a model this small,
# which kernel a type gets matters as much as how many bytes a token reads (notebook 10 measures
# that balance). Speed is no reason to requantize, though: it follows the tensor types, so the same
# mix made from the original weights runs as fast, without the stacked error.
#
# So: keep the original F16/BF16 weights (download the F16/BF16 GGUF, or convert the safetensors with
# llama.cpp's `convert_hf_to_gguf.py`) and make every quant from them, as the MLP table shows: Q4_K
# from the original beats Q4_K from Q4_1. If a quantized file is all you can get, take the quant you
# need as published rather than making it from another quant. `llama-quantize --allow-requantize`
# exists for the rare case where there is no other way, and you now know what it costs.

# %% [markdown]
# ## Summary
#
# - Quantization stores `scale × small integer`; blocks of 32 weights each with their own scale
#   contain the damage of outliers, at 16/32 = 0.5 extra bits per weight for an f16 scale.
# - GGUF formats are fixed block layouts: bits per weight = 8 × bytes per block / weights per block
#   (Q8_0 8.5, Q4_0 4.5, Q4_K 4.5, Q6_K 6.5625).
# - K-quants group 256 weights in a super-block: 6-bit sub-block scales and mins under two f16
#   super-scales, fitted by weighted least squares, lower error at the same size.
# - Q4_K_M is a *mix*: Q4_K for most tensors, Q6_K where errors hurt most.
# - An importance matrix weights the error by how much each input channel is used.
# - `helpers.quantization.block_formats` reproduces llama.cpp's bytes exactly, so every number here describes real
#   files; it decodes the real chat model's Q4_1 blocks bit for bit as `gguf` does.
# - Requantizing rounds already-rounded weights again: the errors stack and nothing comes back. Measured on
#   SmolLM2's Q4_1 file, every requantized mix drifted from it, and Q4_K_M and Q5_K_M came out *bigger*
#   than it: 576-wide rows cannot hold K-quant blocks and fall back to wider legacy types. Quantize from the original F16/BF16 weights; `llama-quantize` makes you type
#   `--allow-requantize` for a reason.
#
# ## Exercises
#
# **1.** From the Q6_K block layout (section 2), how many **bits per weight** does Q6_K use?

# %%
from helpers.exercises.quantization import check_best_format, check_bits_per_weight, check_file_gb, check_least_drift

answer = None
check_bits_per_weight(answer, "Q6_K")

# %% [markdown]
# **2.** A model has 8 × 10⁹ weights, all stored as Q4_K. How large is the file in **GB** (10⁹ bytes),
# ignoring metadata?

# %%
answer = None
check_file_gb(answer, 8e9, "Q4_K")

# %% [markdown]
# **3.** In the measured table of section 5, which of `"Q4_0"`, `"Q4_1"`, `"Q4_K"` has the smallest
# relative output error?

# %%
candidates = ["Q4_0", "Q4_1", "Q4_K"]
answer = None
check_best_format(answer, errors.loc[candidates, "relative output error"].idxmin(), candidates)

# %% [markdown]
# **4.** In the measured table of section 7, which of the requantized mixes `"Q5_K_M"`, `"Q4_K_M"`,
# `"Q3_K_M"` drifted least from the Q4_1 file it was made from (smallest mean KL divergence)?

# %%
candidates = ["Q5_K_M", "Q4_K_M", "Q3_K_M"]
answer = None
check_least_drift(answer, requant.loc[candidates, "mean KL from Q4_1 (nats)"].to_dict(),
                  requant.loc[candidates, "bits per weight"].to_dict())
