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
# # 08 · VRAM math: what a model needs in memory, term by term
#
# "Will this model fit?" has a precise answer. The memory a local model needs is the sum of four
# terms: the **weights** (the GGUF file's tensors), the **KV cache** (grows with context), the
# **compute buffer** (scratch space for one batch) and the **runtime overhead** (the GPU driver's own
# share). This notebook derives each term from the model's `config.json` numbers, checks the
# weights term against the file sizes model hubs publish and against llama.cpp's own quantizer on
# this machine, and shows how memory moves between GPU and system RAM when only some layers are
# offloaded.
#
# **Learning goals**
# - Count a model's parameters from its architecture, and turn them into a GGUF file size tensor by tensor.
# - Read a quantization mix: why a "Q4_K_M" file averages more than 4.5 bits per weight.
# - Compute the KV cache for any context, batch and cache type, and see when it overtakes the weights.
# - Split memory between GPU and RAM for a given `n_gpu_layers`, as llama.cpp does.
# - See where a generic formula fails: sliding-window and latent-attention caches, mixtures of experts, MXFP4.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "Llama 3.1 8B"  # any name of data/models.csv
QUANT = "Q4_K_M"
CONTEXT = 8192  # tokens

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. Weights: from config.json to a parameter count
#
# A decoder-only transformer is a stack of identical blocks. Each block holds attention matrices
# (query, key, value, output) and a feed-forward network (gate, up, down), plus two small norm
# vectors. Around the stack sit the token embeddings and the output matrix (sometimes the same
# matrix: *tied* embeddings). With grouped-query attention the key and value matrices are smaller
# than the query matrix: only `n_kv_heads` heads are stored. The catalog `data/models.csv` holds the
# numbers from each model's `config.json`, with the URL it came from.

# %%
import pandas as pd

from helpers.course.catalog import get_model, load_models
from helpers.memory.architecture import model_tensors, parameter_count

rows = []
for m in load_models().values():
    a = m.architecture
    rows.append({"model": m.name, "layers": a.n_layers, "hidden": a.hidden, "FFN": a.ffn, "heads": a.n_heads,
                 "KV heads": a.n_kv_heads, "head dim": a.head_dim, "vocab": a.vocab, "tied": a.tied_embeddings,
                 "computed (B params)": round(parameter_count(a) / 1e9, 3), "model card (B)": m.params_published_b})
pd.DataFrame(rows).set_index("model")

# %% [markdown]
# The computed counts land within a percent of what the model cards say: the architecture *is* the
# parameter count. Here are the tensors of one block of the chosen model, with their shapes as a
# GGUF file stores them (row length first):

# %%
arch = get_model(MODEL).architecture
block0 = [t for t in model_tensors(arch) if t.layer == 0]
pd.DataFrame([(t.name, t.shape, t.n_elements) for t in block0],
             columns=["tensor", "GGUF shape", "weights"]).set_index("tensor")

# %% [markdown]
# ## 2. Quantization: bytes per block, and mixes
#
# GGUF stores weights in *blocks*: a run of 32 or 256 weights shares one or two scales. The block's
# byte count follows from its C struct in ggml (`ggml-common.h`); for example `block_q4_K` is two f16
# scales, 12 bytes of sub-block scales and 128 bytes of 4-bit values: 144 bytes for 256 weights, 4.5
# bits per weight. `data/quant_types.csv` derives every type from its layout (they agree with
# the `gguf` package's table).

# %%
from helpers.course.catalog import load_quant_types

pd.DataFrame([(q.name, q.block_size, q.layout, q.bytes_per_block, q.bits_per_weight)
              for q in load_quant_types().values()],
             columns=["type", "block (weights)", "struct layout", "bytes per block", "bits per weight"]).set_index("type")

# %% [markdown]
# A *mix* such as Q4_K_M is not one type. llama.cpp's quantizer (`llama_tensor_get_type` in
# `src/llama-quant.cpp`) keeps the output matrix at Q6_K, gives Q6_K to `attn_v` and `ffn_down`
# in a subset of layers (the first and last eighth and every third in between: "use_more_bits"),
# keeps norms at F32, and falls back to another type when a row length is not a multiple of the
# block. `data/quant_mixes.json` holds these rules as data; here they are applied to the chosen model:

# %%
from helpers.memory.gguf_size import gguf_file_size, predicted_tensors

tensors = pd.DataFrame([(t.name, t.ggml_type, t.nbytes) for t in predicted_tensors(arch, QUANT)],
                       columns=["tensor", "type", "bytes"])
tensors["kind"] = tensors["tensor"].str.replace(r"blk\.\d+\.", "", regex=True)
summary = tensors.groupby(["kind", "type"])["bytes"].agg(["count", "sum"])
summary["GB"] = (summary.pop("sum") / 1e9).round(4)
summary

# %%
size = gguf_file_size(arch, QUANT)
print(f"{MODEL} {QUANT}: {size.total_gb:.3f} GB (10^9 bytes), {size.bits_per_weight:.2f} bits per weight on average")
pd.Series({kind: nbytes / size.tensor_data_bytes for kind, nbytes in size.bytes_by_type.items()},
          name="share of tensor bytes").sort_values(ascending=False).round(3).to_frame()

# %% [markdown]
# ### Does it match real files?
#
# `data/published_gguf_sizes.csv` lists file sizes as Hugging Face shows them, each with the page it
# came from. The estimate is computed live from the architecture and the rules above:

# %%
from helpers.memory.gguf_size import size_accuracy_rows

accuracy = pd.DataFrame(size_accuracy_rows()).drop(columns="source").set_index(["model", "quant"])
print(f"{(accuracy['error (%)'].abs() <= 2).sum()} of {len(accuracy)} files within 2%; "
      f"median |error| {accuracy['error (%)'].abs().median():.2f}%")
accuracy

# %% [markdown]
# Two official Qwen files stand out: they were made with a different per-tensor recipe than
# llama.cpp's stock mixes (the estimator matches another publisher's Q4_K_M of the same model).
#
# ### And on this machine, against llama.cpp itself
#
# The strongest check: write a small model with random weights, let llama.cpp's own quantizer
# (through `llama-cpp-python`) turn it into several mixes, and compare every tensor's type and the
# file size with the prediction.

# %% tags=["nbval-ignore-output"]
import tempfile
from pathlib import Path

from helpers.gguf.quantize import quantize
from helpers.gguf.random_weights import write_random_llama_gguf
from helpers.memory.architecture import Architecture
from helpers.memory.estimator_check import compare_with_file

tiny = Architecture("tiny", n_layers=8, hidden=256, ffn=512, n_heads=4, n_kv_heads=1, head_dim=64, vocab=512,
                    max_context=256, tokenizer="spm")
with tempfile.TemporaryDirectory() as folder:
    source = write_random_llama_gguf(Path(folder) / "tiny-f32.gguf", tiny)
    checks = [compare_with_file(quantize(source, Path(folder) / f"{mix}.gguf", mix), tiny, mix)
              for mix in ("Q4_K_M", "Q8_0", "Q3_K_M") if not QUICK or mix != "Q3_K_M"]
pd.DataFrame(checks).set_index("mix")

# %% [markdown]
# Every tensor type agrees and the tensor data is exact to the byte; only the header (the
# vocabulary) is estimated. Across mixes, file size follows bits per weight:

# %%
import matplotlib.pyplot as plt

from helpers.memory.willitrun import QUANT_LADDER

fig, ax = plt.subplots()
for name in ("Llama 3.2 3B", "Llama 3.1 8B", "Qwen2.5 14B", "Qwen2.5 32B"):
    a = get_model(name).architecture
    ax.plot(QUANT_LADDER[::-1], [gguf_file_size(a, q).total_gb for q in QUANT_LADDER[::-1]], marker="o", label=name)
ax.set_xlabel("quantization mix (fewer bits on the left)")
ax.set_ylabel("GGUF file size (GB, 10⁹ bytes)")
ax.set_yscale("log")
ax.legend()
plt.show()

# %% [markdown]
# ## 3. KV cache: memory that grows with context
#
# To generate the next token, attention needs the key and value vectors of every earlier token, in
# every layer. llama.cpp keeps them in the KV cache:
#
# $$\text{KV bytes} = 2 \times \text{layers} \times \text{KV heads} \times \text{head dim} \times \text{context} \times \text{sequences} \times \text{bytes per number}$$
#
# with 2 bytes per number for f16, 34/32 for q8_0 and 18/32 for q4_0 (their block layouts).

# %%
from helpers.memory.vram import kv_cache_bytes

contexts = [2048, 8192, 32768, 131072]
pd.DataFrame({cache: [kv_cache_bytes(arch, c, cache_type=cache) / 2**30 for c in contexts]
              for cache in ("f16", "q8_0", "q4_0")}, index=pd.Index(contexts, name="context (tokens)")).round(3) \
    .rename(columns=lambda c: f"{c} (GiB)")

# %% [markdown]
# ## 4. Compute buffer and runtime overhead
#
# llama.cpp reserves a *compute buffer* for the intermediate results of one batch (its log says
# "compute buffer size"). Its peak is either the attention scores (heads × context numbers per
# token of the batch) or the logits (vocabulary size per token), whichever is larger, plus the
# activations; with flash attention the scores are never stored. Which one you get depends on the
# runtime: llama.cpp's own tools (`-fa auto`, the default since late 2025) turn flash attention on
# wherever the backend supports it; Ollama turns it on for the models it lists (gpt-oss, Qwen3,
# Gemma 3, ...; `OLLAMA_FLASH_ATTENTION=1` forces it) and LM Studio has a switch in the load
# settings; llama-cpp-python's `Llama` leaves it off unless you pass `flash_attn=True`. Check the
# runtime's log for the line that says. The course's plans follow llama.cpp's tools (on) and say so;
# the measurements below use llama-cpp-python, so they are compared with it off. On a GPU, the driver
# (CUDA context, cuBLAS workspace) takes a few hundred MiB before any tensor is loaded.
# `helpers.memory.vram` documents the model it uses for both.

# %% [markdown]
# Checked on this machine: llama.cpp loads the small random model from section 2 and reports its KV
# cache and compute buffer; the estimates sit beside them.

# %% tags=["nbval-ignore-output"]
from helpers.memory.estimator_check import llama_cpp_buffers
from helpers.memory.vram import compute_buffer_bytes

with tempfile.TemporaryDirectory() as folder:
    source = write_random_llama_gguf(Path(folder) / "tiny-f32.gguf", tiny)
    measured = []
    for ctx in (256, 1024) if QUICK else (256, 1024, 4096):
        real = llama_cpp_buffers(source, ctx)
        measured.append((ctx, real["kv_cache_bytes"] / 2**20, kv_cache_bytes(tiny, ctx) / 2**20,
                         real["compute_buffer_bytes"] / 2**20,
                         compute_buffer_bytes(tiny, ctx, flash_attention=False) / 2**20))
pd.DataFrame(measured, columns=["context", "KV llama.cpp (MiB)", "KV estimate (MiB)", "compute llama.cpp (MiB)",
                                "compute estimate (MiB)"]).set_index("context").round(2)

# %% [markdown]
# Now every term for the chosen model, all layers on the GPU, from 512 tokens to past the point where
# the KV cache outweighs the weights (pure arithmetic, so even the quick run draws the whole range;
# `helpers.memory.vram.context_where_kv_exceeds` finds the crossing):

# %%
from helpers.memory.vram import context_where_kv_exceeds, memory_plan

weights_bytes = memory_plan(arch, QUANT, 512).weights_gpu + memory_plan(arch, QUANT, 512).weights_cpu
crossing = context_where_kv_exceeds(arch, weights_bytes)
last = max(arch.max_context, 2 * crossing if crossing else 0)
points = [2**k for k in range(9, (last - 1).bit_length() + 1)]  # 512 tokens up to past both the crossing and max_context
plans = [memory_plan(arch, QUANT, c) for c in points]
terms = {"weights": [p.weights_gpu + p.weights_cpu for p in plans], "KV cache": [p.kv_gpu + p.kv_cpu for p in plans],
         "compute buffer": [p.compute_gpu + p.compute_cpu for p in plans], "runtime": [p.overhead_gpu for p in plans]}
fig, ax = plt.subplots(figsize=(8, 4.5))
for name, values in terms.items():
    ax.plot(points, [v / 2**30 for v in values], marker="o", ms=4, label=name)
ax.plot(points, [sum(v) / 2**30 for v in zip(*terms.values())], "k--", label="total")
ax.axvline(arch.max_context, color="0.5", ls=":", label=f"trained context ({arch.max_context:,})")
if crossing:
    ax.axvline(crossing, color="C1", lw=0.8)
    ax.plot(crossing, weights_bytes / 2**30, "s", ms=11, mfc="none", mec="C3", mew=2,
            label=f"KV cache > weights from {crossing:,} tokens")
ax.set_xscale("log", base=2)
ax.set_xlabel("context (tokens, log scale)")
ax.set_ylabel("memory (GiB, 2³⁰ bytes)")
ax.set_title(f"{MODEL} {QUANT}, all layers on the GPU, f16 KV cache, flash attention on")
ax.legend(loc="upper left")
plt.show()
if crossing:
    print(f"{MODEL} {QUANT}: weights {weights_bytes / 2**30:.2f} GiB; the f16 KV cache outweighs them from "
          f"{crossing:,} tokens, {crossing / arch.max_context:.0%} of the trained context ({arch.max_context:,})")
else:
    print(f"{MODEL} {QUANT}: the f16 KV cache never outweighs the weights ({weights_bytes / 2**30:.2f} GiB)")
no_flash = memory_plan(arch, QUANT, points[-1], flash_attention=False)
print(f"compute buffer at {points[-1]:,} tokens: {terms['compute buffer'][-1] / 2**30:.2f} GiB with flash attention "
      f"(the plotted plans), {(no_flash.compute_gpu + no_flash.compute_cpu) / 2**30:.2f} GiB without it")

# %% [markdown]
# The KV cache crosses the weights at the marked context and keeps climbing. The compute buffer
# stays nearly flat, because flash attention never stores the attention scores; without it (the
# printed line, llama-cpp-python as it comes) the buffer holds the scores of a whole batch against
# every cached token and climbs with the context (section 4).
#
# **Checked against real GPUs.** The same estimate beside load logs people published from CUDA,
# Metal and Vulkan (`data/published_buffers.csv`: each log's settings, build and source; a few are
# models outside the catalog, planned from the shape the log printed). The KV cache is counted
# exactly; the compute buffer within about 15% for current builds (older builds allocated it
# differently, and one build padded a 128-token cache to 128 cells instead of 256):

# %%
from helpers.memory.estimator_check import check_published_buffers

buffers = pd.DataFrame(check_published_buffers())
buffers[["model", "backend", "n_ctx", "n_ubatch", "flash attention", "KV published (MiB)", "KV error (%)",
         "compute published (MiB)", "compute estimated (MiB)", "compute error (%)", "build"]
        ].set_index(["model", "backend", "n_ctx"])

# %% [markdown]
# ## 5. When it does not fit: offloading some layers
#
# llama.cpp's `n_gpu_layers` puts the *last* n blocks on the GPU; n = blocks + 1 also moves the
# output layer; the token embeddings stay in RAM (they are a lookup table). Each offloaded block
# brings its share of the KV cache along.

# %%
steps = sorted({0, arch.n_layers // 4, arch.n_layers // 2, 3 * arch.n_layers // 4, arch.n_layers, arch.n_layers + 1})
split = pd.DataFrame([(n, memory_plan(arch, QUANT, CONTEXT, n).gpu_total / 2**30,
                       memory_plan(arch, QUANT, CONTEXT, n).cpu_total / 2**30) for n in steps],
                     columns=["n_gpu_layers", "GPU (GiB)", "system RAM (GiB)"]).set_index("n_gpu_layers")
split.round(2)

# %% [markdown]
# One surprise hides in the GPU column: a partial offload *grows* the GPU's compute buffer. For a
# batch of 32 tokens or more (a prompt of that length; not the one-token steps of generation), the
# GPU backend runs the products of the layers left in RAM itself, on a copy of each weight matrix,
# and that copy lives in the compute buffer (`helpers.memory.vram.offload_copy_bytes`; llama.cpp's
# scheduler, in `ggml-backend.cpp`; `--no-op-offload` turns it off, at the cost of slower prompts).
# The buffer holds the largest of its phases, not their sum: the copy joins the feed-forward phase,
# so the buffer grows only where that phase plus the copy beats the others (here the logits of a
# 151,936-word vocabulary keep Qwen3 30B-A3B's buffer where it was). For a dense model the copy is
# one matrix of a few hundred MiB; for a large mixture of experts with experts kept in RAM
# (`--n-cpu-moe`), one layer's experts. That is why the table's last two rows show the same GPU
# total: with every block but not the output layer on the GPU, the GPU's compute buffer holds a copy
# of the output matrix left in RAM, as large as the matrix itself. Offloading the output too costs
# no more VRAM and saves the RAM: always offload it when the blocks fit.
#
# The copy for a few setups:

# %%
from helpers.memory.vram import offload_copy_bytes

rows = []
for name, mix, layers, cpu_moe in [(MODEL, QUANT, arch.n_layers // 2, 0), ("Qwen3 30B-A3B", "Q4_K_M", -1, 12),
                                   ("gpt-oss 120B", "MXFP4_MOE", -1, 12)]:
    a = get_model(name).architecture
    copied = sum(offload_copy_bytes(a, mix, layers, n_cpu_moe=cpu_moe))
    all_gpu, split_plan = memory_plan(a, mix, CONTEXT), memory_plan(a, mix, CONTEXT, layers, n_cpu_moe=cpu_moe)
    rows.append((f"{name} {mix}", f"--n-cpu-moe {cpu_moe}" if cpu_moe else f"--n-gpu-layers {layers}",
                 round(copied / 2**20), round(all_gpu.compute_gpu / 2**20), round(split_plan.compute_gpu / 2**20)))
pd.DataFrame(rows, columns=["model", "setting", "largest weight copied (MiB)", "compute buffer, all on GPU (MiB)",
                            "compute buffer, this setting (MiB)"]).set_index("model")

# %% [markdown]
# ## 6. Newer architectures: sliding windows, latent attention, experts
#
# The KV formula of section 3 assumes every block attends over the whole context with its own K and
# V heads, and the weights term assumes every weight is read for every token. Three designs in
# today's popular models break those assumptions, and generic online calculators get them wrong:
#
# - **Sliding-window attention** (Gemma 3: five local blocks to one global; gpt-oss: local and global
#   alternate). A local block only looks at the last `window` tokens, so llama.cpp gives it a cache
#   of `window + n_ubatch` cells (rounded up to 256) instead of the whole context. llama.cpp's own
#   tools (`llama-server`, `llama-cli`) do that by default; the library's defaults (so
#   llama-cpp-python's) set `swa_full`, which gives those blocks the full size again.
# - **Multi-head latent attention** (DeepSeek V3/R1). Keys and values are rebuilt from one
#   compressed vector per token (`kv_lora_rank` = 512 numbers) plus a 64-number rotary key. The
#   llama.cpp in this course caches only those 576 numbers per token and block (a K cache, no V
#   cache), for files converted with separate `attn_k_b`/`attn_v_b` tensors; older DeepSeek GGUFs
#   with a fused `attn_kv_b` run without it and cache every head's decompressed K and V, about 70
#   times more.
# - **Mixture of experts** (Qwen3 30B-A3B, gpt-oss, DeepSeek). Each block has many expert FFNs and a
#   router picks a few per token. *Memory* needs all of them; *speed* depends only on the ones used
#   (plus attention, shared experts and the output matrix). gpt-oss ships its experts in **MXFP4**:
#   blocks of 32 four-bit E2M1 numbers with one shared power-of-two scale byte, 17 bytes per 32
#   weights = 4.25 bits per weight.
#
# The catalog's newer families, at 8K and 32K tokens of f16 cache:

# %%
from helpers.memory.architecture import active_parameter_count, parameters_read_per_token
from helpers.memory.vram import swa_savings

NEW_FAMILIES = ["Gemma 3 4B", "Gemma 3 27B", "gpt-oss 20B", "gpt-oss 120B", "Qwen3 30B-A3B", "Qwen3 32B",
                "Mistral Small 24B", "DeepSeek V3"]
rows = []
for name in NEW_FAMILIES:
    a = get_model(name).architecture
    mix = "MXFP4_MOE" if a.family == "gpt-oss" else "Q4_K_M"
    for ctx in (8192, 32768):
        kv = swa_savings(a, ctx)
        rows.append({"model": name, "context": ctx, "file": mix,
                     "weights (GB)": round(gguf_file_size(a, mix).total_gb, 1),
                     "total (B params)": round(parameter_count(a) / 1e9, 1),
                     "active (B params)": round(active_parameter_count(a) / 1e9, 1),
                     "read per token (B params)": round(parameters_read_per_token(a) / 1e9, 1),
                     "KV as llama.cpp allocates it (GiB)": round(kv["window only"] / 2**30, 2),
                     "KV with swa_full (GiB)": round(kv["swa_full"] / 2**30, 2),
                     "KV, generic formula (GiB)": round(kv["generic formula"] / 2**30, 2)})
pd.DataFrame(rows).set_index(["model", "context"])

# %% [markdown]
# Read the three KV columns side by side. For Gemma 3 27B at 32K tokens llama.cpp's tools allocate
# about a fifth of what the generic formula (and `swa_full`) says, because 52 of its 62 blocks keep
# only 1,536 cells. gpt-oss's window is 128 tokens, so half its blocks cost almost nothing.
# DeepSeek V3 goes the other way: a generic formula with 128 KV heads of 192 numbers claims
# more than eighty times the latent cache llama.cpp allocates. The weights column is the whole
# file. *Active* counts every weight a token uses, the whole embedding table included, as most
# model cards do; a token only looks up one row of that table, so *read per token* leaves it out
# (unless the table is tied to the output layer, which multiplies all of it). That is the number
# OpenAI's cards give for gpt-oss (3.6 and 5.1 billion), and the one that sets the speed (notebook 09).
#
# ### Checked against llama.cpp itself
#
# A full-size DeepSeek or gpt-oss file cannot be downloaded here, but llama.cpp's memory layout
# depends on the architecture's *shape*, not on its trained values. So the course writes
# random-weight files of **reduced configurations** of each family (a few blocks, small widths, the
# same tensor layout, layer pattern, window and cache design), quantizes them with llama.cpp's own
# quantizer (gpt-oss to MXFP4 experts, as published), loads them with llama.cpp and reads back what
# it allocates.

# %% tags=["nbval-ignore-output"]
from helpers.memory.estimator_check import REDUCED, check_family

with tempfile.TemporaryDirectory() as folder:
    family_checks = [row for family in REDUCED for row in check_family(family, folder, context=4096)]
pd.DataFrame(family_checks).set_index(["family", "what"]).drop(columns="quant")

# %% [markdown]
# File sizes and tensor types are predicted byte for byte, the KV caches exactly in both modes
# (window only and `swa_full`), and the compute buffers within a few percent
# (`benchmarks/results/new_architectures.md` keeps the table with the machine it ran on).

# %% [markdown]
# ## 7. Rules of thumb, checked
#
# Three claims you will meet on forums, set beside the estimator:

# %%
from helpers.course.catalog import get_gpu
from helpers.memory.vram import judge, usable_gpu_bytes

llama8 = get_model("Llama 3.1 8B").architecture
verdict = judge(memory_plan(llama8, "Q4_K_M", 8192), usable_gpu_bytes(get_gpu("RTX 3090")))
pd.DataFrame([
    ("a 7B model at 4-bit is about 5 GB", "Qwen2.5 7B Q4_K_M file",
     f"{gguf_file_size(get_model('Qwen2.5 7B').architecture, 'Q4_K_M').total_gb:.2f} GB"),
    ("a 70B model at 4-bit is about 40 GB", "Llama 3.1 70B Q4_K_M file",
     f"{gguf_file_size(get_model('Llama 3.1 70B').architecture, 'Q4_K_M').total_gb:.2f} GB"),
    ("Llama 3.1 8B Q4_K_M with 8K context runs on an RTX 3090", "needs on the GPU",
     f"{verdict.plan.gpu_total / 2**30:.2f} GiB of {verdict.gpu_budget_bytes / 2**30:.0f} GiB usable "
     f"(1 GiB kept free): {'fits' if verdict.fits else 'does not fit'}"),
], columns=["claim", "estimator computes", "result"]).set_index("claim")

# %% [markdown]
# The 7B and 70B claims hold as rough figures. A card sold as "24 GB" has 24 GiB of VRAM (24 × 2³⁰
# bytes, about 25.8 GB): memory chips come in binary sizes, so VRAM is counted in GiB, as here.
#
# ## Summary
#
# - Parameters follow from `config.json`; a GGUF file's size follows tensor by tensor from the
#   parameters, the mix's per-tensor rules and each type's block layout.
# - K-quant mixes spend extra bits where quality is fragile (output, some attn_v and ffn_down),
#   so Q4_K_M averages well above 4.5 bits per weight; odd row lengths fall back to other types.
# - The KV cache is linear in context and batch; at long contexts it can exceed the weights.
#   q8_0 stores 53% of f16's bytes, q4_0 28%.
# - Compute buffer and runtime overhead are smaller at everyday contexts but real (without flash attention
#   the compute buffer grows with the context too); a plan that fills VRAM to the last MiB fails.
# - Partial offload splits weights and KV cache block by block between GPU and RAM.
# - Sliding-window blocks cache only their window (unless `swa_full`), latent attention caches one
#   compressed vector per token, and a mixture of experts needs memory for all experts but reads
#   only the few it uses: check these against llama.cpp, not against a generic formula.
#
# ## Exercises
#
# **1.** How big, in **GiB**, is the f16 KV cache of Llama 3.1 8B at 32,768 tokens (one sequence)?

# %%
from helpers.exercises.vram import check_fits_choice, check_kv_cache_gib, check_q8_0_bytes_per_weight

answer = None
check_kv_cache_gib(answer, get_model("Llama 3.1 8B").architecture, 32768)

# %% [markdown]
# **2.** How many **bytes per weight** does Q8_0 use? (Look at its block layout.)

# %%
answer = None
check_q8_0_bytes_per_weight(answer)

# %% [markdown]
# **3.** Does Qwen2.5 32B at Q4_K_M with an 8,192-token f16 KV cache fit *entirely* on an RTX 4090
# (24 GiB)? Answer `True` or `False` (use `memory_plan`, `judge` and `usable_gpu_bytes`).

# %%
answer = None
check_fits_choice(answer, judge(memory_plan(get_model("Qwen2.5 32B").architecture, "Q4_K_M", 8192),
                                usable_gpu_bytes(get_gpu("RTX 4090"))).fits)
