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
# top-k, top-p, min-p, repetition penalty, seed) are all parts of that rule.
#
# Two models, each where it teaches best:
#
# - **the course's own tiny Llama** (1.2 M parameters, trained on Shakespeare in notebook 19). It is
#   small enough to run in a few lines of PyTorch, so we open the loop on it by hand and check that
#   llama.cpp, on the same weights, picks exactly the same tokens;
# - **SmolLM2-135M-Instruct**, a real pretrained chat model (135 M parameters, 4-bit, 98 MB), run by
#   llama.cpp as any local model is. Its next-token distribution after a factual prompt is what the
#   sampling knobs reshape: a real model's choices, right and wrong ones.
#
# **Learning goals**
# - Turn text into token ids and back, and see why a leading space appears.
# - Read a next-token distribution from logits (softmax) and write the autoregressive loop by hand.
# - Check that your loop and llama.cpp pick the same tokens when decoding greedily.
# - Read a real chat model's top next tokens and their probabilities from llama.cpp's logits.
# - Explain what temperature, top-k, top-p, min-p, repetition penalty and the seed each do.
#
# **Time:** 30 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_DIR = "data/tiny_llama"
PROMPT = "ROMEO:\n"
N_TOKENS = 40  # tokens generated in the loops below
CHAT_PROMPT = "The capital of France is"  # a factual prompt for the real chat model
STORY_PROMPT = "Once upon a time"  # an open prompt, sampled by llama.cpp in section 6

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from helpers.course.paths import REPO_ROOT

model_dir = REPO_ROOT / MODEL_DIR

# %% [markdown]
# ## 1. Tokens
#
# The model never sees characters, only token ids from its vocabulary: whole common words, pieces of
# rarer ones, single bytes for anything else. The tiny model's tokenizer (SentencePiece style, 1,024
# tokens) writes a space as `▁`, adds one space in front of the text and puts `<s>` (beginning of
# sequence) first.

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
# The real chat model has a larger vocabulary (49,152 tokens, byte-level BPE, like GPT-2's) learned
# from far more text: it keeps the space *inside* the token that follows it, adds no space in front
# and no `<s>`, and needs fewer tokens for the same line.

# %%
from helpers.llm.chat_model import chat_model_path
from helpers.llm.prompting import token_pieces

chat_llm = load_model(chat_model_path(), n_ctx=256, n_threads=1, seed=SEED)  # SmolLM2-135M-Instruct
chat_ids = chat_llm.tokenize(text.encode(), add_bos=True, special=False)
print(len(text), "characters ->", len(chat_ids), "tokens (vocabulary of", f"{chat_llm.n_vocab():,})")
print(" | ".join(token_pieces(chat_llm, chat_ids)))

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
# After a speaker's name the tiny model has learned that a line starts: capitalised words, none
# of them likely (the best has 6.5%).
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
# ## 4. A real model's next token
#
# Stepping through SmolLM2's 30 blocks by hand would add nothing the tiny model did not show; what it
# adds is a real distribution. llama.cpp evaluates the prompt and hands back its logits for the
# next token (`helpers.llm.next_token`); softmax turns them into probabilities:

# %%
from helpers.llm.next_token import next_token_logits, top_tokens

fact_ids = chat_llm.tokenize(CHAT_PROMPT.encode(), add_bos=True, special=False)
fact_logits = next_token_logits(chat_llm, fact_ids)
best = top_tokens(chat_llm, fact_logits, k=10)
print(f"{CHAT_PROMPT!r} = {len(fact_ids)} tokens:", " | ".join(token_pieces(chat_llm, fact_ids)))
pd.DataFrame([{"token": repr(c.piece), "id": c.token_id, "logit": round(c.logit, 2),
               "probability": round(c.probability, 4)} for c in best]).set_index("token")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(9, 3.2))
ax.bar([repr(c.piece) for c in best], [c.probability for c in best])
ax.set(xlabel="next token (quoted: most start with a space)", ylabel="probability",
       title=f"SmolLM2-135M-Instruct: the next token after {CHAT_PROMPT!r}")
ax.tick_params(axis="x", rotation=45)
plt.show()
print(f"the ten most likely tokens hold {sum(c.probability for c in best):.1%}; "
      f"the other {chat_llm.n_vocab() - 10:,} share the rest")

# %% [markdown]
# A real model is far more certain than the tiny one: `' Paris'` gets about 77%. The rest is not
# noise: `' the'` (6%) opens a longer sentence that may or may not reach Paris, while `' London'`
# (1.2%), `' La'` and `' Le'` (1.1% each) are wrong answers that sampling can still draw: together
# about once in 30 tries.
#
# ## 5. Sampling knobs
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
# On SmolLM2's distribution after the factual prompt (entropy, in bits, measures how spread it is:
# 0 for a certainty, log2(49,152) = 15.6 for all tokens equally likely; the repetition penalty acts
# on the prompt's own tokens):

# %%
from helpers.llm.next_token import vocabulary_pieces
from helpers.textgen.sampling import apply_temperature
from helpers.widgets.sampling import settings_figure, settings_summary

SETTINGS = {"raw (T=1)": {}, "T=0.5": {"temperature": 0.5}, "T=1.5": {"temperature": 1.5},
            "top-k 20": {"k": 20}, "top-p 0.9": {"p": 0.9}, "min-p 0.05": {"min_prob": 0.05},
            "T=1.5 + min-p 0.05": {"temperature": 1.5, "min_prob": 0.05},
            "repetition penalty 1.5": {"penalty": 1.5}}
pd.DataFrame(settings_summary(fact_logits, SETTINGS, previous_ids=fact_ids)).set_index("setting").round(3)

# %%
pieces = vocabulary_pieces(chat_llm)
order = np.argsort(-fact_logits, kind="stable")[:20]
fig, ax = plt.subplots(figsize=(10, 3.2))
for t, style in [(0.5, "o-"), (1.0, "s-"), (1.5, "^-")]:
    ax.plot(range(20), softmax(apply_temperature(fact_logits, t))[order], style, label=f"T = {t}")
ax.set_xticks(range(20), [repr(pieces[i]) for i in order], rotation=70)
ax.set(yscale="log", xlabel="the 20 most likely next tokens (at T = 1)", ylabel="probability (log scale)",
       title=f"next token after {CHAT_PROMPT!r}: temperature reshapes the distribution")
ax.legend()
plt.show()

# %% [markdown]
# Temperature keeps every token and moves probability between them: 0.5 makes `' Paris'` nearly
# certain, 1.5 hands a good share to the tail. The cut-offs keep the head and drop the rest of the
# 49,152 tokens: top-p 0.9 keeps 10 here and min-p 0.05 only 2, top-k always exactly k (and the
# tokens it keeps are renormalised, which raises `' Paris'` a little). min-p is why high temperatures
# stay usable: the tail it removes is where nonsense lives. The repetition penalty pushes back
# `' capital'`, already in the prompt.
#
# Below, the same computation the widget runs, for four settings (grey: the raw distribution;
# blue: after the knobs), then the widget itself to move the knobs yourself:

# %%
shown = ("T=0.5", "T=1.5", "top-p 0.9", "T=1.5 + min-p 0.05")
fig = settings_figure(fact_logits, pieces, {name: SETTINGS[name] for name in shown}, previous_ids=fact_ids)
plt.show()

# %% tags=["nbval-ignore-output"]
from helpers.widgets.sampling import sampling_explorer

sampling_explorer(fact_logits, pieces, previous_ids=fact_ids)

# %% [markdown]
# ## 6. Sampling loop, seeds and the repetition penalty
#
# Back to the tiny model for the loop by hand: the same loop as before, with
# `helpers.textgen.sampling.sample` choosing each token from a seeded random generator. The same seed
# gives the same text, another seed another text.

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
# from ours, so the texts differ, but the seed makes each repeatable). Here on the real model, from
# an open prompt where many continuations are plausible:

# %%
def cpp_sample(seed):
    out = chat_llm.create_completion(STORY_PROMPT, max_tokens=N_TOKENS, temperature=0.8, top_k=40, top_p=0.95,
                                     min_p=0.05, repeat_penalty=1.1, seed=seed)
    return out["choices"][0]["text"]


first, again, other = cpp_sample(1), cpp_sample(1), cpp_sample(2)
print("llama.cpp, seed 1 twice identical:", first == again, "| seed 2 differs:", first != other)
print(f"--- seed 1 ---\n{STORY_PROMPT}{first}\n--- seed 2 ---\n{STORY_PROMPT}{other}")

# %% [markdown]
# Fluent English, and yet neither is a story: seed 1 drifts into career advice, seed 2 into a
# programming tutorial (Python's `with` statement). Sampling only picks among the continuations the
# model finds likely; it cannot add the sense of genre that 135 M parameters did not learn.

# %% [markdown]
# ## Summary
#
# - Text → token ids (SentencePiece adds a leading space and `<s>`); the model maps ids → one logit per
#   vocabulary token per position.
# - Softmax of the last position's logits is the next-token distribution; generation is a loop of
#   forward pass → pick → append. Our hand loop and llama.cpp choose the same tokens greedily (tiny
#   model, by hand).
# - A real model (SmolLM2-135M-Instruct) puts 77% on `' Paris'` after "The capital of France is",
#   and still leaves some probability on wrong answers that sampling can draw.
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
# **3.** On SmolLM2's distribution after "The capital of France is" (`fact_logits`, temperature 1),
# how many tokens does top-p = 0.8 keep?

# %%
answer = None
check_top_p_count(answer, fact_logits, 0.8)

# %% [markdown]
# **4.** Does greedy decoding (temperature 0) give different text for different seeds? `True` or `False`.

# %%
answer = None
check_greedy_needs_seed(answer)
