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
# # 01 · What generative models are
#
# A *generative* model learns what its training data looks like well enough to produce **new**
# examples of it: sentences that were never written, pictures that were never drawn. A
# *discriminative* model only labels what it is given ("spam or not", "which digit"). Everything an
# operator runs locally, from Llama to Stable Diffusion, is a generative model, and they all work by
# turning **probabilities into samples, one step at a time**.
#
# **Learning goals**
# - Say what a generative model is, and how it differs from a classifier.
# - See the two ways of generating this course teaches: text one token at a time (autoregressive),
#   images by removing noise step by step (diffusion).
# - Train a real (tiny) generative text model in a second and sample from it.
# - Know the three numbers an operator meets first: parameters, bytes per parameter, memory.
#
# **Time:** 20 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
CORPUS_FILE = None  # None: the course's Shakespeare training text in data/; or any UTF-8 text file (relative to the course folder, or absolute)

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. Text: predict the next character, then the next...
#
# The simplest generative text model counts, in a body of text, **which character follows which**.
# Those counts, normalised, are a probability distribution over the next character. That is a
# *bigram model*. Our training text is Shakespeare's plays (public domain, shipped in `data/`).

# %%
from pathlib import Path

from helpers.course.paths import DATA_DIR
from helpers.textgen.bigram import average_surprise_bits, fit_bigram, read_training_text

corpus_path = Path(CORPUS_FILE) if CORPUS_FILE else DATA_DIR / "shakespeare" / "train.txt"
text = read_training_text(corpus_path)
model = fit_bigram(text)
print(f"{len(text):,} characters of training text, {len(model.alphabet)} distinct characters")
print(text[:300])

# %% [markdown]
# What does the model believe comes after a `q`? After a `t`? These are real probabilities, counted
# from the text.

# %%
import matplotlib.pyplot as plt

from helpers.widgets.overview import show_next_char_distribution

fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for ax, char in zip(axes, "qt"):
    show_next_char_distribution(model, char, temperature=1.0, ax=ax)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Generation is a loop
#
# To write text, take the last character, ask the model for the distribution of the next one,
# **draw** a character from it, append it, repeat. Feeding each output back in as the next input
# is called *autoregressive* generation, and it is exactly what an LLM does, with tokens (pieces of
# words) instead of characters and a neural network instead of a count table. The *temperature*
# reshapes the distribution before drawing: below 1 it favours the likeliest choice, above 1 it
# flattens the odds.

# %%
from helpers.textgen.bigram import generate

for temperature in (0.3, 1.0, 2.0):
    print(f"temperature {temperature}:")
    print("   ", generate(model, "T", 120, temperature=temperature, seed=SEED).replace("\n", " / "))

# %% [markdown]
# The same distribution at three temperatures, after a `t` (the widget's first letter): at 0.3 the
# two likeliest characters (`h` and a space) take almost everything, at 2.0 the odds flatten towards
# the alphabet's (the line under the plots gives the two likeliest characters' share at each temperature).

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8), sharey=True)
for ax, temperature in zip(axes, (0.3, 1.0, 2.0)):
    show_next_char_distribution(model, "t", temperature, ax=ax)
plt.tight_layout()
plt.show()
two_likeliest = {t: sum(sorted(model.next_char_probabilities("t", t))[-2:]) for t in (0.3, 1.0, 2.0)}
print("the two likeliest characters after 't' hold", ", ".join(f"{p:.0%} at T={t}" for t, p in two_likeliest.items()),
      f"(any two of the {len(model.alphabet)} characters: {2 / len(model.alphabet):.1%} if all were equally likely)")

# %% [markdown]
# With a running kernel, move the controls: the bars are the model's real next-character
# distribution, the text below a fresh sample drawn with it.

# %% tags=["nbval-ignore-output"]
from helpers.widgets.overview import bigram_playground

bigram_playground(model)

# %% [markdown]
# ## 3. How good is a generative model?
#
# A good model is **rarely surprised** by real text it has not seen. We measure surprise in bits:
# $-\log_2 P(\text{actual next character})$, averaged. Guessing uniformly among all characters
# costs $\log_2(\text{alphabet size})$ bits. Perplexity, which later notebooks use for the real
# LLM, is $2^{\text{bits}}$: "as unsure as choosing among this many options".

# %%
import math

import pandas as pd

heldout_path = corpus_path.with_name("heldout.txt")
heldout = heldout_path.read_text(encoding="utf-8")[:20_000] if heldout_path.exists() else text[-20_000:]
heldout = "".join(c for c in heldout if c in model.alphabet)
bits = average_surprise_bits(model, heldout)
uniform_bits = math.log2(len(model.alphabet))
pd.DataFrame(
    {"bits per character": [uniform_bits, bits], "perplexity": [2**uniform_bits, 2**bits]},
    index=["uniform guess", "bigram model (held-out text)" if heldout_path.exists()
           else "bigram model (the end of its own training text: no heldout.txt beside it)"],
).round(2)

# %% [markdown]
# ## 4. Images: from noise to a picture
#
# Image generators work differently. A *diffusion* model is trained to remove a little noise from
# a noisy picture. Generation starts from pure noise and applies that denoiser many times (the
# *steps* setting of every image tool), each step guided by the prompt. Notebooks 15-17 build and
# run one. Here is the forward direction, adding noise to a real handwritten digit: the model
# learns to walk this path backwards.

# %%
import numpy as np
from sklearn.datasets import load_digits

digit = load_digits().images[0] / 16.0 * 2 - 1  # pixels scaled to [-1, 1]
rng = np.random.default_rng(SEED)
noise = rng.standard_normal(digit.shape)
signal_levels = [1.0, 0.8, 0.5, 0.2, 0.0]
fig, axes = plt.subplots(1, len(signal_levels), figsize=(9, 2))
for ax, keep in zip(axes, signal_levels):
    ax.imshow(np.sqrt(keep) * digit + np.sqrt(1 - keep) * noise, cmap="gray_r")
    ax.set_title(f"{keep:.0%} signal")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. What an operator meets first: parameters and bytes
#
# A model is a file of numbers (its *parameters* or *weights*). How much memory it needs starts
# with **parameters × bytes per parameter**. The parameter counts below are computed from each
# model's published architecture (`data/models.csv`), not copied. The last column is the size of a
# real 4-bit file, a `Q4_K_M` GGUF as llama.cpp writes it (computed tensor by tensor; notebook 07
# explains the name).

# %%
from helpers.course.catalog import get_model
from helpers.memory.architecture import parameter_count
from helpers.memory.gguf_size import gguf_file_size

names = ["SmolLM2 135M", "Llama 3.2 1B", "Llama 3.1 8B", "Llama 3.1 70B"]
rows = []
for name in names:
    n = parameter_count(get_model(name).architecture)
    rows.append({"model": name, "parameters (billions)": n / 1e9,
                 "16-bit weights (GB)": 2 * n / 1e9, "4-bit weights (GB)": 0.5 * n / 1e9,
                 "Q4_K_M file (GB)": gguf_file_size(get_model(name).architecture, "Q4_K_M").total_gb})
sizes = pd.DataFrame(rows).set_index("model").round(2)
sizes

# %% [markdown]
# Real 4-bit files are larger than 4 bits per parameter: every block of weights stores its own
# scale, and some tensors keep more bits (notebook 07). Here the Q4_K_M file is 21% (Llama 3.1 70B)
# to 57% (SmolLM2 135M) larger than the plain 4-bit figure. The smallest model pays most, for two
# reasons of about equal weight: its token-embedding table, which it also uses as its output
# layer, is a large share of its parameters and is stored at 8 bits; and its rows of 576 numbers
# do not split into the 256-number blocks of Q4_K, so most of its matrices fall back to a 5.5-bit
# format (notebook 07, section 7). Notebook 08 takes files apart tensor by tensor and adds the
# memory that *running* needs on top.
#
# ## Summary
#
# - A generative model gives **probabilities for what comes next** and generates by **sampling**.
# - Text models generate **autoregressively**, one token at a time; temperature reshapes the odds.
# - Image diffusion models generate by **denoising** step by step from random noise.
# - Quality can be measured as *surprise* on unseen data (bits, perplexity).
# - Memory starts at parameters × bytes per parameter: 8 B parameters at 16 bits is 16 GB.
#
# ## Exercises
#
# **1.** According to the bigram model, what is the probability that a `q` is followed by a `u`?
# (Use `model.next_char_probabilities("q")` and `model.index("u")`.)

# %%
from helpers.exercises.overview import check_bytes_for_weights, check_p_u_after_q, check_uniform_bits

answer = None
check_p_u_after_q(answer, model)

# %% [markdown]
# **2.** How many bits per character does a uniform guess cost with this model's alphabet?

# %%
answer = None
check_uniform_bits(answer, len(model.alphabet))

# %% [markdown]
# **3.** How many GB (10⁹ bytes) do the weights of a 3-billion-parameter model take at 16 bits each?

# %%
answer = None
check_bytes_for_weights(answer, 3e9, 16)
