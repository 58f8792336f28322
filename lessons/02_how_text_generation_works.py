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
# # 02 · How text generation works: tokens, logits, the loop, sampling
#
# A language model does one thing: given the tokens so far, it returns a score (a **logit**) for
# every token of its vocabulary. Everything else — chat, stories, code — is a loop around that
# call plus a rule for picking the next token. The knobs you meet in every runtime (temperature,
# top-k, top-p, min-p, repetition penalty, seed) are all parts of that rule. Here we open the loop
# on a real model: the course's own small Llama (trained on Shakespeare in notebook 18), run both by
# hand in PyTorch and by llama.cpp, with identical results.
#
# **Learning goals**
# - Turn text into token ids and back, and see why a leading space appears.
# - Read a next-token distribution from logits (softmax) and write the autoregressive loop by hand.
# - Check that your loop and llama.cpp pick the same tokens when decoding greedily.
# - Explain what temperature, top-k, top-p, min-p, repetition penalty and the seed each do.
#
# **Time:** 30 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: short CI-sized run; False: full run; None: True when COURSE_QUICK or CI is set
SEED = 0
MODEL_DIR = "data/tiny_llama"
PROMPT = "ROMEO:\n"
N_TOKENS = 40  # tokens generated in the loops below

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from helpers.course.paths import REPO_ROOT

model_dir = REPO_ROOT / MODEL_DIR

# %% [markdown]
# ## 1. Tokens
#
# The model never sees characters, only token ids from its vocabulary: whole common words, pieces of
# rarer ones, single bytes for anything else. `▁` stands for a space. The tokenizer adds one space in
# front of the text, and `<s>` (beginning of sequence) goes first.

# %%
import pandas as pd

from helpers.llm.load import load_model
from helpers.training.checkpoint import load_model as load_torch_model
from helpers.training.export import quant_gguf

model, vocab = load_torch_model(model_dir)  # PyTorch weights (safetensors)
llm = load_model(quant_gguf(model_dir, "F32"), n_ctx=256, logits_all=True)  # the same weights in llama.cpp
text = "ROMEO:\nO, she doth teach the torches to burn bright!"
ids = llm.tokenize(text.encode(), add_bos=True, special=False)
print(len(text), "characters ->", len(ids), "tokens")
print(" | ".join(vocab.tokens[i] for i in ids))

# %% [markdown]
# ## 2. Logits → probabilities
#
# One forward pass returns a logit per vocabulary token, at every position. The last position's
# logits are the prediction for the *next* token; softmax (exponentiate, normalise) turns them into
# probabilities.

# %%
import numpy as np
import torch

from helpers.textgen.sampling import softmax

prompt_ids = vocab.encode(PROMPT, add_bos=True)
with torch.no_grad():
    next_logits = model(torch.tensor([prompt_ids]))[0, -1].numpy().astype(np.float64)
probs = softmax(next_logits)
top = np.argsort(-probs, kind="stable")[:10]
pd.DataFrame({"token": [vocab.tokens[i] for i in top], "logit": next_logits[top].round(2),
              "probability": probs[top].round(3)})

# %% [markdown]
# After a speaker's name the model has learned that a line starts: capitalised words and `O`.
#
# ## 3. The loop, by hand
#
# Generation = forward pass, pick a token, append it, repeat. Picking the most likely token each
# time is **greedy** decoding. Here is the whole loop; then llama.cpp on the same weights.

# %%
def greedy_by_hand(ids, n):
    ids = list(ids)
    for _ in range(n):
        with torch.no_grad():
            logits = model(torch.tensor([ids[-model.cfg.n_ctx:]]))[0, -1]
        ids.append(int(logits.argmax()))
    return ids


ours = greedy_by_hand(prompt_ids, N_TOKENS)[len(prompt_ids):]
theirs = []
for token in llm.generate(prompt_ids, temp=0.0, reset=True):
    theirs.append(token)
    if len(theirs) == N_TOKENS:
        break
print("same tokens as llama.cpp:", ours == theirs)
print(PROMPT + vocab.decode(ours))

# %% [markdown]
# Identical, token for token. Greedy decoding of a small model soon repeats itself: the most likely
# continuation of a loop is more of the loop. That is why runtimes **sample** instead.
#
# ## 4. Sampling knobs
#
# Each knob reshapes the distribution before a random draw (`helpers/textgen/sampling.py`, numpy):
#
# | knob | what it does |
# | --- | --- |
# | temperature T | divide logits by T: T < 1 sharpens, T > 1 flattens; T → 0 is greedy |
# | top-k | keep only the k most likely tokens |
# | top-p (nucleus) | keep the fewest most likely tokens whose probabilities sum to at least p |
# | min-p | keep tokens with probability at least min-p × the top token's |
# | repetition penalty | shrink the logits of tokens already in the text |
# | seed | fixes the random draws: same seed, same text |
#
# On the real distribution after the prompt:

# %%
from helpers.textgen.sampling import apply_temperature, min_p, top_k, top_p

rows = []
for name, z in [("raw (T=1)", next_logits), ("T=0.5", apply_temperature(next_logits, 0.5)),
                ("T=1.5", apply_temperature(next_logits, 1.5)), ("top-k 20", top_k(next_logits, 20)),
                ("top-p 0.9", top_p(next_logits, 0.9)), ("min-p 0.1", min_p(next_logits, 0.1))]:
    p = softmax(z)
    nz = p[p > 0]
    rows.append({"setting": name, "tokens that can be drawn": int((p > 0).sum()),
                 "p(top token)": round(float(p.max()), 3),
                 "entropy (bits)": round(float(-(nz * np.log2(nz)).sum()), 2)})
pd.DataFrame(rows).set_index("setting")

# %%
import matplotlib.pyplot as plt

order = np.argsort(-probs, kind="stable")[:25]
fig, ax = plt.subplots(figsize=(10, 3.2))
for t, style in [(0.5, "o-"), (1.0, "s-"), (1.5, "^-")]:
    ax.plot(range(25), softmax(apply_temperature(next_logits, t))[order], style, label=f"T = {t}")
ax.set_xticks(range(25), [vocab.tokens[i] for i in order], rotation=70)
ax.set(ylabel="probability", title=f"next token after {PROMPT!r}: temperature reshapes the distribution")
ax.legend()
plt.show()

# %% [markdown]
# Move the knobs and watch the real distribution change (the table above and this plot are the
# static version):

# %% tags=["nbval-ignore-output"]
from helpers.widgets.sampling import sampling_explorer

sampling_explorer(next_logits, vocab.tokens)

# %% [markdown]
# ## 5. Sampling loop, seeds and the repetition penalty
#
# The same loop as before, with `helpers.textgen.sampling.sample` choosing each token from a seeded random
# generator: the same seed gives the same text, another seed another text.

# %%
from helpers.textgen.sampling import sample


def sample_by_hand(ids, n, seed, **knobs):
    ids, rng = list(ids), np.random.default_rng(seed)
    for _ in range(n):
        with torch.no_grad():
            logits = model(torch.tensor([ids[-model.cfg.n_ctx:]]))[0, -1].numpy()
        ids.append(sample(logits, rng=rng, previous_ids=ids[len(prompt_ids):], **knobs))
    return vocab.decode(ids[len(prompt_ids):])


knobs = dict(temperature=0.8, k=40, p=0.95, min_prob=0.05, penalty=1.1)
a, b, c = (sample_by_hand(prompt_ids, N_TOKENS, seed, **knobs) for seed in (1, 1, 2))
print("seed 1 twice gives the same text:", a == b, "| seed 2 differs:", a != c)
print(f"--- seed 1 ---\n{PROMPT}{a}\n--- seed 2 ---\n{PROMPT}{c}")

# %% [markdown]
# llama.cpp has the same knobs under the same names (its sampler chain and random generator differ
# from ours, so the texts differ, but the seed makes each repeatable):

# %%
def cpp_sample(seed):
    llm.set_seed(seed)
    out = llm.create_completion(PROMPT, max_tokens=N_TOKENS, temperature=0.8, top_k=40, top_p=0.95,
                                min_p=0.05, repeat_penalty=1.1, seed=seed)
    return out["choices"][0]["text"]


print("llama.cpp, seed 1 twice identical:", cpp_sample(1) == cpp_sample(1))
print(PROMPT + cpp_sample(1))

# %% [markdown]
# ## Summary
#
# - Text → token ids (SentencePiece adds a leading space and `<s>`); the model maps ids → one logit per
#   vocabulary token per position.
# - Softmax of the last position's logits is the next-token distribution; generation is a loop of
#   forward pass → pick → append. Our hand loop and llama.cpp choose the same tokens greedily.
# - Temperature reshapes, top-k / top-p / min-p cut the tail, the repetition penalty pushes back
#   on tokens already used, and the seed makes the random draws repeatable. Greedy needs no seed.
#
# ## Exercises

# %% [markdown]
# **1.** Logits `[2, 1, 0, -1]` at temperature 0.5: what is the probability of the first token?

# %%
from helpers.exercises.text_generation import check_greedy_needs_seed, check_temperature_probability, check_top_p_count

answer = None
check_temperature_probability(answer, [2.0, 1.0, 0.0, -1.0], 0.5)

# %% [markdown]
# **2.** With the same logits (temperature 1), how many tokens does top-p = 0.8 keep?

# %%
answer = None
check_top_p_count(answer, [2.0, 1.0, 0.0, -1.0], 0.8)

# %% [markdown]
# **3.** Does greedy decoding (temperature 0) give different text for different seeds? `True` or `False`.

# %%
answer = None
check_greedy_needs_seed(answer)
