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
# those distances. This notebook measures all of it with llama.cpp on this machine.
#
# Two models, each where it teaches best:
#
# - **SmolLM2-135M-Instruct**, a real pretrained chat model trained for 8,192 tokens of context:
#   its KV cache measured as llama.cpp allocates it, from 256 tokens to past its trained length,
#   its quantized caches, the errors at the limit, its loss along a long text;
# - **the course's own tiny Llama** (notebook 19), trained on sequences of 128 tokens: going past
#   *its* trained length costs a fraction of a second, so even the quick run can show what happens there.
#
# **Learning goals**
# - Tell the trained context (GGUF metadata) from the `n_ctx` you ask for, and see how llama.cpp rounds it.
# - Compute the KV cache of any model and context, and check it against what llama.cpp allocates.
# - Choose a KV cache type (f16, q8_0, q4_0) and know that a quantized V cache needs flash attention.
# - Recognise what happens past the limit: an over-long prompt, a generation that hits `n_ctx`,
#   a context beyond the trained length.
# - See that a long prompt costs time as well as memory.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_DIR = "data/tiny_llama"  # the course's own small Llama
LONG_TOKENS = None  # tokens of one long text through the real model; None: 512 in quick mode, 10240 in the full run
TINY_WINDOWS = None  # held-out windows read by the tiny model; None: 128 in quick mode, all that fit in the full run

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.course.paths import REPO_ROOT

model_dir = REPO_ROOT / MODEL_DIR
LONG_TOKENS = LONG_TOKENS or (512 if QUICK else 10240)
MiB = 2**20

# %% [markdown]
# ## 1. The context window: trained length vs the `n_ctx` you ask for
#
# Two numbers are easy to mix up:
#
# - the **trained context**: the longest sequence the model was built for, written in the GGUF
#   metadata as `<arch>.context_length` (llama.cpp calls it `n_ctx_train`);
# - **`n_ctx`**: how many tokens *this run* reserves room for. It is your choice; it sets the size of
#   the KV cache, and prompt plus generated text must fit in it.

# %%
from helpers.llm.chat_model import chat_model_path
from helpers.llm.context import architecture_from_gguf

chat_path = chat_model_path()
smol = architecture_from_gguf(chat_path, name="SmolLM2-135M-Instruct")
pd.DataFrame({"value": {
    "file": chat_path.name, "file size (MiB)": round(chat_path.stat().st_size / MiB, 1),
    "context_length in the GGUF metadata (tokens)": smol.max_context,
    "layers": smol.n_layers, "query heads": smol.n_heads, "KV heads": smol.n_kv_heads,
    "head dimension": smol.head_dim}})

# %% [markdown]
# Ask llama.cpp for a context and read back what it made (`helpers.llm.context.measure_context`
# loads the model with that `n_ctx` and parses llama.cpp's own log). It rounds `n_ctx` **up to a
# multiple of 256** (its KV cache is allocated in blocks of 256 cells), so asking for 100 gives 256.

# %%
from helpers.llm.context import measure_context

rows = []
for n in [100, 256, 300, 1000]:
    m = measure_context(chat_path, n)
    rows.append({"n_ctx asked": n, "n_ctx llama.cpp made": m.n_ctx, "KV cache cells": m.buffers.cells,
                 "n_ctx_train in llama.cpp's log": m.n_ctx_train})
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
# modern models store far fewer than `n_heads`: SmolLM2 has 9 query heads and 3 KV heads).
# `helpers.memory.vram.kv_cache_bytes` computes it from the architecture read out of the GGUF;
# llama.cpp prints what it allocated ("KV buffer size") in its log. Here is SmolLM2 from 256 tokens
# to its trained 8,192, and one step past it:

# %%
from helpers.memory.vram import compute_buffer_bytes, kv_cache_bytes, kv_cells

file_mib = chat_path.stat().st_size / MiB
contexts = [256, 512, 1024, 2048, 4096, 8192, 16384] + ([] if QUICK else [32768])
measured = {n: measure_context(chat_path, n) for n in contexts}
kv_table = pd.DataFrame([{
    "n_ctx": n, "KV measured (MiB)": m.buffers.kv_bytes / MiB, "KV estimated (MiB)": kv_cache_bytes(smol, n) / MiB,
    "compute buffer measured (MiB)": m.buffers.compute_bytes / MiB,
    "compute buffer estimated (MiB)": compute_buffer_bytes(smol, n, ubatch=min(512, n), flash_attention=False) / MiB,
    "past the trained context": n > m.n_ctx_train, "llama.cpp warned": bool(m.warning),
    "RSS growth (MiB)": m.rss_growth_bytes / MiB} for n, m in measured.items()]).set_index("n_ctx")
kv_table.drop(columns="RSS growth (MiB)").round(2)

# %% [markdown]
# The KV cache llama.cpp allocates is exactly the formula: 2 × 30 × 3 × 64 × 2 bytes = 22.5 KiB per
# token (the log prints MiB with two decimals). The compute buffer, llama.cpp's scratch space for one
# batch of up to 512 tokens, grows with the context too (the attention scores of a batch span the
# whole cache); `helpers.memory.vram` fits it. Asking for 16,384 tokens, twice the trained length,
# raises no error: llama.cpp allocates the cache and writes one warning line in its log:

# %%
print(measured[16384].warning)

# %% [markdown]
# Resident memory tells the same story from the operating system's side (a measurement of this
# machine, so it varies from run to run). Loading grows it by about the file (llama.cpp maps the
# weights into memory and reads them in) plus the KV cache, which llama.cpp fills with zeros. The
# compute buffer is reserved but Linux gives a page real memory only when it is first written: it
# becomes resident once a batch that large runs. Plan for all three.

# %% tags=["nbval-ignore-output"]
rss = kv_table[["RSS growth (MiB)"]].copy()
rss["file (MiB)"] = file_mib
rss["file + KV (MiB)"] = file_mib + kv_table["KV measured (MiB)"]
rss["file + KV + compute (MiB)"] = rss["file + KV (MiB)"] + kv_table["compute buffer measured (MiB)"]
rss.round(1)

# %%
from helpers.memory.vram import context_where_kv_exceeds

crossing = context_where_kv_exceeds(smol, chat_path.stat().st_size)
fig, ax = plt.subplots(figsize=(9, 3.8))
line = np.arange(1, max(contexts) + 1, max(contexts) // 400)
ax.plot(line, [kv_cache_bytes(smol, int(n)) / MiB for n in line], "-", label="estimate (kv_cache_bytes)")
ax.plot(kv_table.index, kv_table["KV measured (MiB)"], "o", ms=8, label="measured (llama.cpp log)")
ax.axhline(file_mib, color="C2", ls=":", label=f"the weights: {file_mib:.0f} MiB file")
ax.axvline(smol.max_context, color="C3", ls="--", label="trained context")
ax.plot(crossing, kv_cache_bytes(smol, crossing) / MiB, "s", ms=11, mfc="none", mec="k", mew=1.5,
        label=f"cache > weights from {crossing:,} tokens")
ax.set(xlabel="n_ctx (tokens)", ylabel="MiB (2²⁰ bytes)", title="SmolLM2-135M-Instruct: f16 KV cache vs context")
ax.legend()
plt.show()
print(f"the f16 KV cache outweighs the weights file from n_ctx = {crossing:,} tokens "
      f"(llama.cpp allocates {kv_cells(crossing):,} cells), {crossing / smol.max_context:.0%} of the trained context")

# %% [markdown]
# A straight line through the origin: the cache is **proportional to the context** (the small steps
# are the 256-cell rounding). A 4-bit model this small stores less in its weights than in its cache
# at its own trained context: 180 MiB of cache at 8,192 tokens against a 94 MiB file. For larger
# models the full trained context costs (estimates from the catalog's shapes):

# %%
from helpers.course.catalog import get_model
from helpers.memory.gguf_size import gguf_file_size

full = {"SmolLM2-135M-Instruct": smol, **{n: get_model(n).architecture for n in ("Llama 3.2 1B", "Llama 3.1 8B")}}
weights_gib = {n: (chat_path.stat().st_size if a is smol else gguf_file_size(a, "Q4_K_M").total_bytes) / 2**30
               for n, a in full.items()}
long_kv = pd.DataFrame({"trained context (tokens)": {n: a.max_context for n, a in full.items()},
                        "f16 KV cache at that context (GiB)": {n: kv_cache_bytes(a, a.max_context) / 2**30
                                                                for n, a in full.items()},
                        "4-bit weights (GiB)": weights_gib})
long_kv["cache ÷ weights"] = long_kv["f16 KV cache at that context (GiB)"] / long_kv["4-bit weights (GiB)"]
long_kv.round(2)

# %% [markdown]
# (The 4-bit weights: SmolLM2's Q4_1 file, and the Q4_K_M file size `helpers.memory.gguf_size`
# predicts for the Llamas.) This is why runtimes default to a context far below the trained
# maximum: a full 128k-token window of a Llama costs several times its 4-bit weights in cache alone.
#
# ## 3. Smaller caches: q8_0 and q4_0
#
# llama.cpp can store the cache quantized (`type_k`, `type_v` in llama-cpp-python; `-ctk`/`-ctv`
# on the command line). q8_0 stores blocks of 32 numbers as 32 bytes plus a 2-byte scale (34/32
# bytes per number), q4_0 as 16 bytes plus the scale (18/32). One catch, checked here with
# llama-cpp-python's `Llama`: a **quantized V cache requires flash attention** (`flash_attn=True`:
# a way of computing attention block by block that never stores the full table of attention
# scores); without it llama.cpp refuses to create the context.

# %%
from helpers.llm.context import captured_llama_log, make_llama

with captured_llama_log() as log:
    try:
        make_llama(chat_path, 2048, k_type="q8_0", v_type="q8_0", flash_attention=False, verbose=True)
    except ValueError as err:
        print("llama-cpp-python raised ValueError:", err)
print("llama.cpp's log says:", *[line.strip() for line in log.getvalue().splitlines() if "requires" in line])

# %%
N_KV = 8192
rows = []
for k_type, v_type, fa in [("f16", "f16", False), ("f16", "f16", True), ("q8_0", "f16", False),
                           ("q8_0", "q8_0", True), ("q4_0", "q4_0", True)]:
    m = measure_context(chat_path, N_KV, k_type, v_type, flash_attention=fa)
    rows.append({"K type": k_type, "V type": v_type, "flash attention": fa,
                 "KV measured (MiB)": m.buffers.kv_bytes / MiB,
                 "estimate (MiB)": (kv_cache_bytes(smol, N_KV, cache_type=k_type)
                                    + kv_cache_bytes(smol, N_KV, cache_type=v_type)) / 2 / MiB,
                 "compute buffer (MiB)": m.buffers.compute_bytes / MiB})
pd.DataFrame(rows).set_index(["K type", "V type", "flash attention"]).round(2)

# %% [markdown]
# A quantized **K** cache alone works without flash attention; V needs it. q8_0 roughly halves
# the cache with a small loss of precision; q4_0 stores under a third of f16's bytes and loses more
# (keys are the more sensitive half). Flash attention also shrinks the compute buffer: it never
# stores the attention scores of a 512-token batch against all 8,192 cells (4 bytes × 9 heads ×
# 8,192 × 512 = 144 MiB); what remains is dominated by the logits of the batch (49,152 vocabulary
# entries × 512 × 4 bytes = 96 MiB).
#
# ## 4. Past the limit
#
# ### A prompt longer than `n_ctx`
#
# llama-cpp-python checks before evaluating and raises `ValueError`; it does not cut the prompt for you.

# %%
from helpers.training.corpus import load_split

chat = make_llama(chat_path, 256, seed=SEED)
heldout = load_split("heldout")  # Shakespeare plays the tiny model never saw (SmolLM2 may well have)
long_prompt = heldout[:3000]
print("prompt tokens:", len(chat.tokenize(long_prompt.encode())), "| n_ctx:", chat.n_ctx())
try:
    chat.create_completion(long_prompt, max_tokens=8)
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
ids = chat.tokenize(heldout[:200_000].encode(), add_bos=True, special=False)
prompt = chat.detokenize(ids[:240]).decode(errors="ignore")
n_prompt = len(chat.tokenize(prompt.encode()))
out = chat.create_completion(prompt, max_tokens=100, temperature=0.0)
print(f"prompt {n_prompt} tokens + max_tokens 100 in n_ctx {chat.n_ctx()}:",
      out["usage"]["completion_tokens"], "tokens generated, finish_reason =", repr(out["choices"][0]["finish_reason"]))

# %% [markdown]
# ### Beyond the trained context: what the model does
#
# llama.cpp let us reserve 16,384 tokens with one warning line. Whether the model copes is an
# empirical question, so we measure the loss (negative log-likelihood; perplexity = e^loss, lower is
# better) of every token of one long text, each predicted from all the tokens before it, from
# llama.cpp's logits (`helpers.llm.context.sequence_nll`).
#
# Evaluating thousands of tokens takes minutes on two cores, so the quick run shown here reads only
# the first 512 tokens, well inside SmolLM2's 8,192; run the notebook with `QUICK=False` (or set
# `LONG_TOKENS`) to read 10,240 tokens, 2,048 of them past the trained length (several minutes).

# %%
from helpers.llm.context import bucket_perplexity, sequence_nll

long_chat = make_llama(chat_path, LONG_TOKENS)
text_nll = sequence_nll(long_chat, ids[:LONG_TOKENS])
bucket = max(64, LONG_TOKENS // 20)
smol_buckets = bucket_perplexity(text_nll, bucket)
fig, ax = plt.subplots(figsize=(9, 3.6))
ax.plot([(a + b) / 2 for a, b, _ in smol_buckets], [p for _, _, p in smol_buckets], "o-",
        label=f"perplexity, {bucket}-position buckets")
ax.axvline(smol.max_context, color="C3", ls="--", label=f"trained context ({smol.max_context:,})")
ax.set(xscale="log", xlabel="position in the text (tokens, log scale)", ylabel="perplexity (lower is better)",
       title=f"SmolLM2-135M-Instruct along {LONG_TOKENS:,} tokens of one text")
ax.legend()
plt.show()

# %% [markdown]
# One text is a noisy ruler: some passages are simply harder than others, and the curve jumps with
# them. A fairer test compares **the same tokens** placed at two positions: the last stretch of the
# text read after everything before it, and read again with the first tokens dropped, so it sits
# earlier in the window with less to look back on. More context should only help, so if the
# far placement does worse, the positions are to blame. The far placement crosses 8,192 only when
# the text is longer than 8,192 tokens (the full run):

# %%
shift = LONG_TOKENS - smol.max_context if LONG_TOKENS > smol.max_context else LONG_TOKENS // 4
near_nll = sequence_nll(long_chat, ids[shift:LONG_TOKENS])
span = slice(-shift, None)  # the same last `shift` tokens in both runs
pd.DataFrame([
    {"the last tokens read": f"at positions {LONG_TOKENS - shift:,}-{LONG_TOKENS - 1:,}",
     "tokens before them": LONG_TOKENS - shift, "perplexity": np.exp(text_nll[span].mean())},
    {"the last tokens read": f"at positions {LONG_TOKENS - 2 * shift:,}-{LONG_TOKENS - shift - 1:,}",
     "tokens before them": LONG_TOKENS - 2 * shift, "perplexity": np.exp(near_nll[span].mean())},
]).set_index("the last tokens read").round(2)

# %% [markdown]
# In the quick run shown here both placements lie inside the trained context: this is the control.
# The two perplexities are within about a point of each other: a few hundred more tokens to look back
# on hardly change the loss, and differences this small are the noise of one text. The full run asks
# the real question: do the same 2,048 tokens get worse when they sit past position 8,192?
#
# ### Beyond the trained context, measured cheaply: the tiny model
#
# The tiny Llama was trained on sequences of 128 tokens (its GGUF metadata says 256, the longest
# its configuration allows): reading past either costs a fraction of a second, so here the question
# can be asked properly. One text is a noisy ruler, so we read many: windows of 512 tokens (1,024 in
# the full run) cut from the held-out plays without overlap and spread evenly over them, each
# evaluated from an empty cache, so position p always has exactly p tokens before it
# (`helpers.llm.context.window_nll`). llama.cpp prints its warning below the cell.

# %%
import time

from helpers.llm.context import window_nll
from helpers.training.export import quant_gguf

tiny_path = quant_gguf(model_dir, "F16")
tiny = architecture_from_gguf(tiny_path, name="tiny_llama")
seq_len = json.loads((model_dir / "train_log.json").read_text())["settings"]["seq_len"]
WINDOW = 512 if QUICK else 1024
tiny_llm = make_llama(tiny_path, WINDOW, logits_all=True)
tiny_ids = tiny_llm.tokenize(heldout.encode())
fit = len(tiny_ids) // WINDOW
n_windows = TINY_WINDOWS or (min(128, fit) if QUICK else fit)
started = time.perf_counter()
tiny_nll = window_nll(tiny_llm, tiny_ids, WINDOW, n_windows)
seconds = time.perf_counter() - started
print(f"held-out plays: {len(tiny_ids):,} tokens, room for {fit} windows of {WINDOW} without overlap; "
      f"{n_windows} read")

# %% [markdown]
# What that cost on this machine (it varies from run to run; the full run reads every window that fits):

# %% tags=["nbval-ignore-output"]
print(f"{n_windows} windows of {WINDOW} tokens in {seconds:.1f} s ({1000 * seconds / n_windows:.0f} ms per window)")

# %% [markdown]
# For every bucket of 64 positions the table gives three views of the same losses
# (`helpers.llm.context.bucket_spread`):
#
# - **perplexity** over all windows, with a **95% interval** from a *bootstrap*: draw the windows
#   again, with replacement, 2,000 times and see how far the result moves. It says how sure the
#   number is.
# - the windows' own **quartiles** (the middle half of the passages): how much passages differ,
#   which is why a handful of windows can show a jump that is not there, or hide one that is.
# - **× in-training level**: the bucket's perplexity divided by that of positions 65-128 *in the
#   same windows* (the second half of what training showed the model: plenty of context, every
#   distance seen), with its interval. Comparing within windows cancels out passages that are
#   simply hard. A bucket is **clearly worse** when that whole interval lies above 1.

# %%
from helpers.llm.context import bucket_spread, first_degraded_bucket

BUCKET = 64
reference = (seq_len // 2 + 1, seq_len)  # positions 65-128: the second half of the training sequences
spread = bucket_spread(tiny_nll, BUCKET, reference)
pd.DataFrame([{"first position": s.first, "last position": s.last, "perplexity": s.perplexity,
               "95% low": s.low, "95% high": s.high, "windows: 1st quartile": s.window_q1,
               "windows: median": s.window_median, "windows: 3rd quartile": s.window_q3,
               "× in-training level": s.ratio, "× 95% low": s.ratio_low, "× 95% high": s.ratio_high}
              for s in spread]).set_index(["first position", "last position"]).round(2)

# %%
level = np.exp(tiny_nll[:, reference[0] - 1:reference[1]].mean())
onset = first_degraded_bucket(spread, after=seq_len)
fig, ax = plt.subplots(figsize=(9, 5))
centers = [(s.first + s.last) / 2 for s in spread]
ax.fill_between(centers, [s.window_q1 for s in spread], [s.window_q3 for s in spread], color="C0", alpha=0.12,
                label="windows' middle half (quartiles)")
ax.fill_between(centers, [s.low for s in spread], [s.high for s in spread], color="C0", alpha=0.35,
                label="95% interval (bootstrap over windows)")
ax.plot(centers, [s.perplexity for s in spread], "o-", color="C0",
        label=f"perplexity, {BUCKET}-position buckets, {n_windows} windows")
ax.axhline(level, color="0.3", lw=1, label=f"in-training level (positions {reference[0]}-{reference[1]})")
ax.axvline(seq_len, color="C2", ls="--", label=f"sequence length in training ({seq_len})")
ax.axvline(tiny.max_context, color="C3", ls=":", label=f"context_length in the GGUF ({tiny.max_context})")
if onset:
    ax.plot((onset.first + onset.last) / 2, onset.perplexity, "s", ms=13, mfc="none", mec="C3", mew=2,
            label="first bucket clearly above the in-training level")
ax.set(xlabel="position in the window (tokens)", ylabel="perplexity (lower is better)",
       title="tiny_llama: loss by position over many windows, from llama.cpp's logits")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
plt.show()
just_past = next(s for s in spread if s.first > seq_len)
print(f"in-training level, positions {reference[0]}-{reference[1]}: perplexity {level:.1f}")
print(f"just past the training length, positions {just_past.first}-{just_past.last}: x{just_past.ratio:.2f} "
      f"(95% interval {just_past.ratio_low:.2f}-{just_past.ratio_high:.2f})")
if onset is None:
    print("no bucket is clearly above the in-training level")
else:
    where = "inside" if onset.first <= tiny.max_context else "past"
    print(f"first bucket clearly above it: positions {onset.first}-{onset.last}, x{onset.ratio:.2f} "
          f"({onset.ratio_low:.2f}-{onset.ratio_high:.2f}), starting at {onset.first / seq_len:.1f}x the training "
          f"length, {where} the GGUF's context_length ({tiny.max_context})")
last = spread[-1]
print(f"last bucket, positions {last.first}-{last.last}: x{last.ratio:.2f} ({last.ratio_low:.2f}-{last.ratio_high:.2f})")

# %% [markdown]
# Read the printed lines with the plot. There is **no cliff** at the training length: the bucket just
# past position 128 does as well as the in-training level. Further out the loss **creeps up**,
# bucket by bucket, until it is clearly above that level, and it is higher still at the end of the
# window (the last line). Where exactly the first clearly worse bucket falls moves a little with the
# windows read (the full run reads longer ones), and it owes nothing to the GGUF's 256: that number
# is a setting in the file, not something the model learned. A likely reading: rotary position embeddings encode the
# *distance* between tokens, and predicting the next word leans mostly on the last few dozen tokens,
# at distances the model knows well, so it does not fall apart at once; but every token beyond 128
# back sits at a distance it never saw in training, and the more of them attention mixes in, the
# worse the prediction. Nothing in the runtime stops you from going there: llama.cpp only warned.
#
# Models stretch their context with **RoPE scaling**: rotary position embeddings turn position into
# angles, and linear scaling (`rope_freq_scale` in llama-cpp-python) or YaRN (`rope_scaling_type`)
# squeeze longer sequences into the angles seen in training. It works best with some fine-tuning
# at the longer length; published long-context models (Qwen2.5's 32k, Llama 3.1's 128k) were
# trained that way. A large RoPE base is part of the same recipe: SmolLM2's is 100,000 (in its GGUF
# metadata), ten times Llama 2's 10,000, so its angles turn more slowly and far-apart positions
# stay distinguishable.
#
# ## 5. Long prompts cost time too
#
# Before the first new token appears, the whole prompt is processed ("prompt processing", or
# prefill). Each token attends to all earlier ones, so the work per token grows with the position.
# Measured on this machine with SmolLM2 on one thread (timings vary run to run):

# %% tags=["nbval-ignore-output"]
from helpers.llm.context import prompt_tokens_per_second

lengths = [64, 512] if QUICK else [64, 512, 2048, 8192]
speed_llm = make_llama(chat_path, max(lengths))
speed = pd.DataFrame({"prompt tokens": lengths, "prompt processing (tokens/s)": [
    prompt_tokens_per_second(speed_llm, ids[:n], repeats=1 if QUICK else 2) for n in lengths]})
speed["seconds for the prompt"] = speed["prompt tokens"] / speed["prompt processing (tokens/s)"]
speed.set_index("prompt tokens").round(3)

# %% [markdown]
# ## 6. Try it: memory by model, context and cache type
#
# The widget adds up weights (Q4_K_M), KV cache and compute buffer for a CPU run
# (`helpers.memory.vram.memory_plan`), for SmolLM2, the tiny Llama and the catalog's models.
# Below, its default settings (Llama 3.1 8B, 4,096 tokens, f16 cache), then the widget: move its controls.

# %%
from helpers.course.catalog import load_models
from helpers.widgets.context import (
    DEFAULT_CACHE_TYPE,
    DEFAULT_CONTEXT,
    breakdown_table,
    context_breakdown,
    context_memory_app,
)

models = {"SmolLM2-135M-Instruct": smol, "tiny_llama": tiny, **{n: m.architecture for n, m in load_models().items()}}
breakdown_table(context_breakdown(models["Llama 3.1 8B"], DEFAULT_CONTEXT, DEFAULT_CACHE_TYPE))

# %% tags=["nbval-ignore-output"]
context_memory_app(models, model="Llama 3.1 8B")

# %% [markdown]
# ## Summary
#
# - The trained context is in the GGUF metadata; `n_ctx` is what you reserve. llama.cpp rounds
#   `n_ctx` up to a multiple of 256 cells.
# - KV cache = 2 × layers × KV heads × head dim × cells × bytes per number; llama.cpp allocates
#   exactly that, measured here on SmolLM2 from 256 to 16,384 tokens. It grows linearly with the
#   context and outweighs SmolLM2's own weights from about half its trained 8,192 tokens on.
# - q8_0 stores 53% and q4_0 28% of f16's bytes (34/64 and 18/64); a quantized V cache needs flash
#   attention.
# - Too long a prompt raises `ValueError`; a generation that fills the window stops with
#   `finish_reason: "length"`; a context past the trained length gets only a warning from llama.cpp,
#   and what it costs the model is measured, not assumed (the tiny model here, SmolLM2 in the full run).
# - Measured over many windows with intervals, the tiny model shows no cliff at its training length
#   but a loss that creeps up beyond it; a few windows of one text are too noisy to say where.
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
