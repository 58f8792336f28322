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
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: short CI-sized run; False: full run; None: True when COURSE_QUICK or CI is set
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
# bits per weight. `data/quant_types.csv` derives every type from its layout (a test checks them
# against the `gguf` package's table).

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
# activations; with flash attention the scores are never stored. On a GPU, the driver (CUDA context,
# cuBLAS workspace) takes a few hundred MiB before any tensor is loaded. `helpers.memory.vram` documents
# the model it uses for both.

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
                         real["compute_buffer_bytes"] / 2**20, compute_buffer_bytes(tiny, ctx) / 2**20))
pd.DataFrame(measured, columns=["context", "KV llama.cpp (MiB)", "KV estimate (MiB)", "compute llama.cpp (MiB)",
                                "compute estimate (MiB)"]).set_index("context").round(2)

# %%
from helpers.memory.vram import memory_plan

points = [512, 1024, 2048, 4096, 8192, 16384, 32768] + ([] if QUICK else [65536, 131072])
plans = [memory_plan(arch, QUANT, c) for c in points]
fig, ax = plt.subplots()
parts = {"weights": [p.weights_gpu + p.weights_cpu for p in plans], "KV cache": [p.kv_gpu + p.kv_cpu for p in plans],
         "compute buffer": [p.compute_gpu + p.compute_cpu for p in plans], "runtime": [p.overhead_gpu for p in plans]}
ax.stackplot(points, *[[v / 2**30 for v in values] for values in parts.values()], labels=list(parts))
ax.set_xscale("log", base=2)
ax.set_xlabel("context (tokens)")
ax.set_ylabel("memory (GiB, 2³⁰ bytes)")
ax.set_title(f"{MODEL} {QUANT}, all layers on the GPU")
ax.legend(loc="upper left")
plt.show()

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
# ## 6. Rules of thumb, checked
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
    ("Llama 3.1 8B Q4_K_M with 8K context runs on a 24 GB RTX 3090", "needs on the GPU",
     f"{verdict.plan.gpu_total / 2**30:.2f} GiB of {verdict.gpu_budget_bytes / 2**30:.0f} GiB: "
     f"{'fits' if verdict.fits else 'does not fit'}"),
], columns=["claim", "estimator computes", "result"]).set_index("claim")

# %% [markdown]
# ## Summary
#
# - Parameters follow from `config.json`; a GGUF file's size follows tensor by tensor from the
#   parameters, the mix's per-tensor rules and each type's block layout.
# - K-quant mixes spend extra bits where quality is fragile (output, some attn_v and ffn_down),
#   so Q4_K_M averages well above 4.5 bits per weight; odd row lengths fall back to other types.
# - The KV cache is linear in context and batch; at long contexts it can exceed the weights.
#   q8_0 halves it, q4_0 nearly quarters it.
# - Compute buffer and runtime overhead are smaller but real; a plan that fills VRAM to the last MiB fails.
# - Partial offload splits weights and KV cache block by block between GPU and RAM.
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
# **3.** Does Qwen2.5 32B at Q4_K_M with an 8,192-token f16 KV cache fit *entirely* on a 24 GB
# RTX 4090? Answer `True` or `False` (use `memory_plan`, `judge` and `usable_gpu_bytes`).

# %%
answer = None
check_fits_choice(answer, judge(memory_plan(get_model("Qwen2.5 32B").architecture, "Q4_K_M", 8192),
                                usable_gpu_bytes(get_gpu("RTX 4090"))).fits)
