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
# # 05 · Context length: the KV cache, its memory, and what happens past the limit
#
# A model does not read a whole book at once: it attends to a window of tokens, its **context**.
# Every token in that window keeps its keys and values in the **KV cache**, so memory grows with
# the context you ask for, before a single word is generated. And every model was trained on
# sequences of some length; ask for more and the runtime may let you, but the model has never seen
# those positions. This notebook measures all of it with llama.cpp on this machine: the cache
# llama.cpp allocates (on the course's tiny Llama and on a random-weight file with the shape of a
# real model), quantized caches, the errors and stops you meet at the limit, the loss past the
# trained length, and the time a long prompt costs.
#
# **Learning goals**
# - Tell the trained context (GGUF metadata) from the `n_ctx` you ask for, and see how llama.cpp rounds it.
# - Compute the KV cache of any model and context, and check it against what llama.cpp allocates.
# - Choose a KV cache type (f16, q8_0, q4_0) and know that a quantized V cache needs flash attention.
# - Recognise what happens past the limit: an over-long prompt, a generation that hits `n_ctx`,
#   positions beyond the trained length.
# - See that a long prompt costs time as well as memory.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: short CI-sized run; False: full run; None: True when COURSE_QUICK or CI is set
SEED = 0
MODEL_DIR = "data/tiny_llama"  # the course's own small Llama
REAL_MODEL = "Qwen2.5 0.5B"  # a name of data/models.csv (llama or qwen2 family): random weights, real shape
CACHE_DIR = "build/context"  # the random-weight GGUF is written here once and reused

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.course.paths import REPO_ROOT, relative_to_repo

model_dir = REPO_ROOT / MODEL_DIR

# %% [markdown]
# ## 1. The context window: trained length vs the `n_ctx` you ask for
#
# Two numbers are easy to mix up:
#
# - the **trained context**: the longest sequence the model was built for, written in the GGUF
#   metadata as `<arch>.context_length` (llama.cpp calls it `n_ctx_train`);
# - **`n_ctx`**: how many tokens *this run* reserves room for. It is your choice; it sets the size of
#   the KV cache, and prompt plus generated text must fit in it.
#
# The course's tiny Llama says 256 in its metadata; its training log tells a finer story: it was
# trained on sequences of a shorter length.

# %%
from helpers.gguf.header import read_header
from helpers.llm.context import architecture_from_gguf
from helpers.training.export import quant_gguf

tiny_path = quant_gguf(model_dir, "F16")
info = read_header(tiny_path)
train_log = json.loads((model_dir / "train_log.json").read_text())
tiny = architecture_from_gguf(tiny_path, name="tiny_llama")
pd.DataFrame({"value": {
    "file": relative_to_repo(tiny_path),
    "context_length in the GGUF metadata (tokens)": info.context_length,
    "sequence length used in training (tokens)": train_log["settings"]["seq_len"],
    "layers": tiny.n_layers, "query heads": tiny.n_heads, "KV heads": tiny.n_kv_heads,
    "head dimension": tiny.head_dim}})

# %% [markdown]
# Ask llama.cpp for a context and read back what it made. It rounds `n_ctx` **up to a multiple of
# 256** (its KV cache is allocated in blocks of 256 cells), so asking for 100 gives 256.

# %%
from helpers.llm.context import measure_context

asked = [100, 256, 300, 1000]
rows = []
for n in asked:
    m = measure_context(tiny_path, n)
    rows.append({"n_ctx asked": n, "n_ctx llama.cpp made": m.n_ctx, "KV cache cells": m.buffers.cells})
pd.DataFrame(rows).set_index("n_ctx asked")

# %% [markdown]
# ## 2. The KV cache: every token in the window keeps its keys and values
#
# Attention compares the newest token's query with the **key** of every earlier token and mixes
# their **values**. Recomputing all of them for each new token would be wasteful, so they are kept:
#
# $$\text{KV bytes} = 2 \times \text{layers} \times \text{KV heads} \times \text{head dim} \times
#   \text{cells} \times \text{bytes per number}$$
#
# (2 for K and V; with grouped-query attention several query heads share one KV head, which is why
# modern models store far fewer than `n_heads`). `helpers.memory.vram.kv_cache_bytes` computes it;
# llama.cpp prints what it allocated ("KV buffer size") in its log, which
# `helpers.llm.context.measure_context` captures and parses. We also record how much this process's
# resident memory (RSS) grew while loading.
#
# The tiny model's cache is small (1 KiB per token), so we also build a file with the **shape of a
# real model** and random weights (`helpers.gguf.random_weights`, as in notebook 10): the KV cache
# depends only on the shape, so its numbers are the real model's.

# %%
from helpers.course.catalog import get_model
from helpers.gguf.random_weights import cached_random_gguf

real = get_model(REAL_MODEL).architecture
real_path = cached_random_gguf(real, "Q8_0", REPO_ROOT / CACHE_DIR)
pd.DataFrame([{"model": m.name, "layers": m.n_layers, "KV heads": m.n_kv_heads, "head dimension": m.head_dim,
               "trained context (tokens)": m.max_context,
               "f16 KV cache per token (KiB)": 2 * m.n_layers * m.n_kv_heads * m.head_dim * 2 / 1024}
              for m in (tiny, real)]).set_index("model")

# %%
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes

MiB = 2**20
contexts = {"tiny_llama": (tiny_path, tiny, [256, 1024, 4096] if QUICK else [256, 512, 1024, 2048, 4096, 8192]),
            REAL_MODEL: (real_path, real, [512, 2048, 8192] if QUICK else [512, 1024, 2048, 4096, 8192, 16384, 32768])}
measured = []
for name, (path, arch, ctxs) in contexts.items():
    for n in ctxs:
        m = measure_context(path, n)
        measured.append({"model": name, "n_ctx": n,
                         "KV measured (MiB)": m.buffers.kv_bytes / MiB,
                         "KV estimated (MiB)": kv_cache_bytes(arch, n) / MiB,
                         "compute buffer measured (MiB)": m.buffers.compute_bytes / MiB,
                         "compute buffer estimated (MiB)": compute_buffer_bytes(arch, n, ubatch=min(512, n)) / MiB,
                         "RSS growth (MiB)": m.rss_growth_bytes / MiB,
                         "file (MiB)": path.stat().st_size / MiB})
kv_table = pd.DataFrame(measured).set_index(["model", "n_ctx"])
kv_table[["KV measured (MiB)", "KV estimated (MiB)", "compute buffer measured (MiB)",
          "compute buffer estimated (MiB)"]].round(2)

# %% [markdown]
# The KV cache llama.cpp allocates is exactly the formula (the log prints MiB with two decimals).
# The compute buffer, llama.cpp's scratch space for one batch of up to 512 tokens, grows with the
# context too (the attention scores of a batch span the whole cache); `helpers.memory.vram` fits it.
#
# Resident memory tells the same story from the operating system's side (a measurement of this
# machine, so it varies from run to run). Loading grows it by about the file (llama.cpp maps the
# weights into memory and reads them in) plus the KV cache, which llama.cpp fills with zeros. The
# compute buffer is reserved but Linux gives a page real memory only when it is first written: it
# becomes resident once a batch that large runs. Plan for all three; the small model's figures are
# within the noise of a few MiB.

# %% tags=["nbval-ignore-output"]
rss = kv_table[["RSS growth (MiB)", "file (MiB)"]].copy()
rss["file + KV (MiB)"] = kv_table["file (MiB)"] + kv_table["KV measured (MiB)"]
rss["file + KV + compute (MiB)"] = rss["file + KV (MiB)"] + kv_table["compute buffer measured (MiB)"]
rss.round(1)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, (name, (_, arch, ctxs)) in zip(axes, contexts.items()):
    line = np.arange(1, max(ctxs) + 1, max(1, max(ctxs) // 400))
    ax.plot(line, [kv_cache_bytes(arch, int(n)) / MiB for n in line], "-", label="estimate (kv_cache_bytes)")
    part = kv_table.loc[name]
    ax.plot(part.index, part["KV measured (MiB)"], "o", ms=8, label="measured (llama.cpp log)")
    ax.set(xlabel="n_ctx (tokens)", ylabel="KV cache (MiB, 2²⁰ bytes)", title=f"{name}: f16 KV cache vs context")
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# A straight line through the origin: the cache is **proportional to the context**. The small
# steps are the 256-cell rounding. For the real shape, the full trained context costs:

# %%
full = {name: kv_cache_bytes(arch, arch.max_context) for name, arch in
        [(REAL_MODEL, real), ("Llama 3.2 1B", get_model("Llama 3.2 1B").architecture),
         ("Llama 3.1 8B", get_model("Llama 3.1 8B").architecture)]}
pd.DataFrame({"trained context (tokens)": {n: get_model(n).architecture.max_context for n in full},
              "f16 KV cache at that context (GiB)": {n: round(b / 2**30, 2) for n, b in full.items()}})

# %% [markdown]
# This is why runtimes default to a context far below the trained maximum: a full 128k-token
# window of Llama 3.1 8B needs 16 GiB for the cache alone, more than three times its 4-bit weights.
#
# ## 3. Smaller caches: q8_0 and q4_0
#
# llama.cpp can store the cache quantized (`type_k`, `type_v` in llama-cpp-python; `-ctk`/`-ctv`
# on the command line). q8_0 stores blocks of 32 numbers as 32 bytes plus a 2-byte scale (34/32
# bytes per number), q4_0 as 16 bytes plus the scale (18/32). One catch, checked here with
# llama-cpp-python's `Llama`: a **quantized V cache requires flash attention** (`flash_attn=True`);
# without it llama.cpp refuses to create the context.

# %%
from helpers.llm.context import captured_llama_log, make_llama

with captured_llama_log() as log:
    try:
        make_llama(real_path, 2048, k_type="q8_0", v_type="q8_0", flash_attention=False, verbose=True)
    except ValueError as err:
        print("llama-cpp-python raised ValueError:", err)
print("llama.cpp's log says:", *[line.strip() for line in log.getvalue().splitlines() if "requires" in line])

# %%
N_KV = 8192
rows = []
for k_type, v_type, fa in [("f16", "f16", False), ("f16", "f16", True), ("q8_0", "f16", False),
                           ("q8_0", "q8_0", True), ("q4_0", "q4_0", True)]:
    m = measure_context(real_path, N_KV, k_type, v_type, flash_attention=fa)
    rows.append({"K type": k_type, "V type": v_type, "flash attention": fa,
                 "KV measured (MiB)": m.buffers.kv_bytes / MiB,
                 "estimate (MiB)": (kv_cache_bytes(real, N_KV, cache_type=k_type)
                                    + kv_cache_bytes(real, N_KV, cache_type=v_type)) / 2 / MiB,
                 "compute buffer (MiB)": m.buffers.compute_bytes / MiB})
pd.DataFrame(rows).set_index(["K type", "V type", "flash attention"]).round(2)

# %% [markdown]
# A quantized **K** cache alone works without flash attention; V needs it. q8_0 roughly halves
# the cache with a small loss of precision; q4_0 stores under a third of f16's bytes and loses more
# (keys are the more sensitive half). The compute buffer hardly moves here: for this shape it is
# dominated by the output logits of a 512-token batch (151,936 vocabulary entries x 512 x 4 bytes
# = 297 MiB), not by attention.
#
# ## 4. Past the limit
#
# ### A prompt longer than `n_ctx`
#
# llama-cpp-python checks before evaluating and raises `ValueError`; it does not cut the prompt for you.

# %%
from helpers.llm.load import load_model
from helpers.training.corpus import load_split

llm = load_model(tiny_path, n_ctx=256)
heldout = load_split("heldout")
long_prompt = heldout[:3000]
print("prompt tokens:", len(llm.tokenize(long_prompt.encode())), "| n_ctx:", llm.n_ctx())
try:
    llm.create_completion(long_prompt, max_tokens=8)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# The cure is yours to choose: keep the **last** tokens that fit (chat front ends drop the oldest
# turns), summarise, or load the model with a larger `n_ctx`.
#
# ### A generation that runs into `n_ctx`
#
# Prompt and answer share the window. llama-cpp-python lowers `max_tokens` so that prompt plus
# output fit, and reports `finish_reason: "length"` when it stopped for lack of room (or because
# `max_tokens` ran out) rather than at an end-of-text token (`"stop"`).

# %%
ids = llm.tokenize(heldout.encode())
prompt = llm.detokenize(ids[:240]).decode(errors="ignore")
n_prompt = len(llm.tokenize(prompt.encode()))
out = llm.create_completion(prompt, max_tokens=100, temperature=0.0)
print(f"prompt {n_prompt} tokens + max_tokens 100 in n_ctx {llm.n_ctx()}:",
      out["usage"]["completion_tokens"], "tokens generated, finish_reason =", repr(out["choices"][0]["finish_reason"]))

# %% [markdown]
# ### Beyond the trained context
#
# With a larger `n_ctx` llama.cpp will happily run past the trained length: it only logs a warning
# (printed below the next cell). Whether the model copes is an empirical question, so we measure:
# evaluate held-out text in windows of 512 tokens (1,024 in the full run), each from an empty cache,
# take llama.cpp's logits at every position and average the loss of each position over the windows.

# %%
from helpers.llm.context import bucket_perplexity, position_nll

WINDOW = 512 if QUICK else 1024
long_llm = make_llama(tiny_path, WINDOW, logits_all=True)
nll = position_nll(long_llm, ids, WINDOW, max_windows=8 if QUICK else 24)
buckets = bucket_perplexity(nll, 64)
pd.DataFrame(buckets, columns=["first position", "last position", "perplexity"]).set_index(
    ["first position", "last position"]).round(2)

# %%
fig, ax = plt.subplots(figsize=(9, 3.6))
centers = [(a + b) / 2 for a, b, _ in buckets]
ax.plot(centers, [p for _, _, p in buckets], "o-", label="held-out perplexity (64-position buckets)")
ax.axvline(train_log["settings"]["seq_len"], color="C2", ls="--", label="sequence length in training")
ax.axvline(info.context_length, color="C3", ls=":", label="context_length in the GGUF")
ax.set(xlabel="position in the window (tokens)", ylabel="perplexity (lower is better)",
       title="tiny_llama: loss by position, from llama.cpp's logits")
ax.legend()
plt.show()
inside = np.exp(nll[:info.context_length - 1].mean())
beyond = np.exp(nll[info.context_length - 1:].mean())
print(f"perplexity at positions 1-{info.context_length - 1}: {inside:.1f}; "
      f"at positions {info.context_length}-{len(nll)}: {beyond:.1f} ({beyond / inside - 1:+.0%})")

# %% [markdown]
# In the stored (quick) run the loss stays flat through the trained 256 positions and a little
# beyond, then climbs steeply: past the positions it was trained on, the model meets rotary angles
# and attention patterns it never learned, and nothing in the runtime stops you from going there.
# (The first bucket is worse for the opposite reason: those tokens have almost no context.)
#
# Models stretch their context with **RoPE scaling**: rotary position embeddings turn position into
# angles, and linear scaling (`rope_freq_scale` in llama-cpp-python) or YaRN (`rope_scaling_type`)
# squeeze longer sequences into the angles seen in training. It works best with some fine-tuning
# at the longer length; published long-context models (Qwen2.5's 32k, Llama 3.1's 128k) were
# trained that way.
#
# ## 5. Long prompts cost time too
#
# Before the first new token appears, the whole prompt is processed ("prompt processing", or
# prefill). Each token attends to all earlier ones, so the work per token grows with the position.
# Measured on this machine (timings vary run to run):

# %% tags=["nbval-ignore-output"]
from helpers.llm.context import prompt_tokens_per_second

lengths = [64, 128, 256, 512] if QUICK else [64, 128, 256, 512, 1024]
speed_llm = make_llama(tiny_path, max(lengths), n_threads=1)
speed = pd.DataFrame({"prompt tokens": lengths,
                      "prompt processing (tokens/s)": [prompt_tokens_per_second(speed_llm, ids[:n]) for n in lengths]})
speed["seconds for the prompt"] = speed["prompt tokens"] / speed["prompt processing (tokens/s)"]
speed.set_index("prompt tokens").round(3)

# %% [markdown]
# ## 6. Try it: memory by model, context and cache type
#
# The widget adds up weights (Q4_K_M), KV cache and compute buffer for a CPU run
# (`helpers.memory.vram.memory_plan`), for the catalog's models and the tiny Llama.

# %% tags=["nbval-ignore-output"]
from helpers.course.catalog import load_models
from helpers.widgets.context import context_memory_app

models = {"tiny_llama": tiny, **{n: m.architecture for n, m in load_models().items()}}
context_memory_app(models, model="Llama 3.1 8B")

# %% [markdown]
# ## Summary
#
# - The trained context is in the GGUF metadata; `n_ctx` is what you reserve. llama.cpp rounds
#   `n_ctx` up to a multiple of 256 cells.
# - KV cache = 2 × layers × KV heads × head dim × cells × bytes per number; llama.cpp allocates
#   exactly that, measured here on two shapes. It grows linearly with the context and can
#   outweigh the weights at long contexts.
# - q8_0 halves and q4_0 quarters the cache; a quantized V cache needs flash attention.
# - Too long a prompt raises `ValueError`; a generation that fills the window stops with
#   `finish_reason: "length"`; past the trained length the loss was measured, not assumed.
# - Prompt processing time grows with the prompt: long contexts cost time as well as memory.
#
# ## Exercises

# %% [markdown]
# **1.** Llama 3.1 8B has 32 layers, 32 query heads, 8 KV heads and head dimension 128. How many
# MiB does its f16 KV cache take at `n_ctx = 8192`?

# %%
from helpers.exercises.context import (
    check_kv_cache_mib,
    check_prompt_overflow,
    check_quantized_kv_mib,
    check_tokens_generated,
)

answer = None
check_kv_cache_mib(answer, n_layers=32, n_heads=32, n_kv_heads=8, head_dim=128, context=8192)

# %% [markdown]
# **2.** The same cache stored as q8_0 (34 bytes per block of 32 numbers): how many MiB?

# %%
answer = None
check_quantized_kv_mib(answer, f16_mib=1024, cache_type="q8_0")

# %% [markdown]
# **3.** You give llama-cpp-python a 300-token prompt with `n_ctx = 256`. What happens:
# `"error"`, `"truncated"` (it keeps what fits) or `"runs"`?

# %%
answer = None
check_prompt_overflow(answer)

# %% [markdown]
# **4.** `n_ctx = 512`, a prompt of 500 tokens, `max_tokens = 100`, and the model never emits an
# end-of-text token. How many tokens come back?

# %%
answer = None
check_tokens_generated(answer, n_ctx=512, prompt_tokens=500, max_tokens=100)
