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
# # 12 · Choosing hardware: fit first, then speed, then speed per dollar
#
# "Which GPU should I buy?" has an answer once you say which models you want to run, at which
# quantization and context. This notebook ranks every device of the catalog (NVIDIA and AMD cards,
# Apple chips, plain desktops) for a target model: whether it fits, the best offload setting if it
# does not, the estimated generation speed, and the speed per dollar of list price.
#
# **Learning goals**
# - Rank devices for a target model by fit, tokens/s and tokens/s per $1000.
# - See why memory size decides *what* runs and memory bandwidth decides *how fast*.
# - Compare a discrete GPU with offload against a unified-memory machine that fits the whole model.
# - Use the widget to answer the question for your own models and budget.
#
# **Time:** 20 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
TARGETS = ["Llama 3.1 8B", "Qwen2.5 32B", "Llama 3.1 70B"]  # names of data/models.csv
QUANT = "Q4_K_M"
CONTEXT = 8192  # tokens
BUDGET_USD = 2000

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. One model, every device
#
# `rank_devices` tries each catalog row: a discrete GPU gets the most layers that fit its VRAM with
# the rest in DDR5 system RAM (notebook 11); an Apple chip or a desktop CPU runs the model in its own
# memory if the whole plan fits. Prices are the catalog's list prices (dated, in `data/gpus.csv`).
# Speeds are estimates at this notebook's context (`CONTEXT` tokens): each token reads the KV cache
# so far, so a longer context is slower (notebook 10, section 2, has Llama 3.1 8B Q4_K_M on an
# RTX 3090 at every context beside a published llama-bench run).

# %%
from helpers.course.catalog import get_model
from helpers.hardware.ranking import rank_devices
from helpers.widgets.hardware import ranking_table

arch = get_model(TARGETS[0]).architecture
ranking_table(rank_devices(arch, QUANT, CONTEXT, budget_usd=BUDGET_USD), CONTEXT)

# %% [markdown]
# Within the budget, every device that fits the 8B model runs it, and speed follows memory bandwidth,
# less than in proportion: every layer also costs a fixed time that a faster card does not shorten
# (notebook 10). At these list prices, speed per dollar favours older cards with fast memory.
#
# **How sure is the order?** Each speed comes from its device class's speed model, fitted to published
# llama.cpp runs; the column "90% of its class's published runs within" says how far 90% of that
# class's runs were from a prediction made without their own card. Below, two neighbours in the
# ranking count as settled when their speeds differ by more than the sum of their classes' typical
# (median) errors; otherwise the order may flip on your build. The column "published runs of this
# card" says whether the card itself is in the record (a new card is predicted from its class).

# %%
top = rank_devices(arch, QUANT, CONTEXT, budget_usd=BUDGET_USD)
for a, b in zip(top, top[1:4]):
    gap = a.tokens_per_second / b.tokens_per_second - 1
    settled = gap > a.speed_error_median + b.speed_error_median
    print(f"{a.name} vs {b.name}: {gap:.0%} apart, typical errors {a.speed_error_median:.0%} and "
          f"{b.speed_error_median:.0%}: {'a real difference' if settled else 'too close to call'}")

# %% [markdown]
# ## 2. Bigger targets change the answer
#
# A 32B model at 4 bits still fits a 24 GB card; a 70B model does not. From there on what matters
# first is *capacity* (can the whole model sit in fast memory?) and only then bandwidth. A few
# devices of each kind, for each target:

# %%
import pandas as pd

from helpers.course.catalog import get_gpu
from helpers.hardware.ranking import assess_device

DEVICES = ["RTX 3090", "RTX 5090", "Apple M2 Max 96GB", "Apple M4 Max 128GB", "CPU desktop DDR5-5600 dual-channel",
           "H100 SXM"]
rows = []
for name in TARGETS:
    for device in DEVICES:
        o = assess_device(get_model(name).architecture, QUANT, CONTEXT, get_gpu(device))
        rows.append((name, device, o.price_usd, "yes" if o.fits_entirely else
                     ("no" if o.tokens_per_second == 0 else f"{o.n_gpu_layers} layers"), round(o.tokens_per_second, 1),
                     f"+-{o.speed_error_p90:.0%}"))
pd.DataFrame(rows, columns=["model", "device", "price (USD)", "fits entirely",
                           f"tokens/s at {CONTEXT:,} tokens of context", "90% of its class's runs within"]
             ).set_index(["model", "device"])

# %% [markdown]
# For the 8B model the data-centre card is barely ahead of a gaming card (its per-layer time, not
# its bandwidth, sets the pace); it pulls away as the model grows. Among machines a person buys, a
# large unified-memory Mac holds a 70B model entirely and beats a 24 or 32 GB card whose remaining
# layers wait on system RAM; the cards are about twice as fast for every model that fits them.
#
# ## 3. Speed against price
#
# Each point is a device that fits the first target entirely; up and to the left is better value.
# The bars span the typical (median) error of the device's class.

# %%
import matplotlib.pyplot as plt

ranked = rank_devices(arch, QUANT, CONTEXT, require_fit=True)
fig, ax = plt.subplots(figsize=(7, 4))
for kind, marker in (("discrete", "o"), ("unified", "s"), ("cpu", "^")):
    pts = [o for o in ranked if o.kind == kind]
    ax.errorbar([o.price_usd for o in pts], [o.tokens_per_second for o in pts], fmt=marker, label=kind, capsize=2,
                yerr=[[o.tokens_per_second * o.speed_error_median for o in pts],
                      [o.tokens_per_second * o.speed_error_median for o in pts]])
for o in ranked[:5]:
    ax.annotate(o.name, (o.price_usd, o.tokens_per_second), fontsize=7, xytext=(3, 3), textcoords="offset points")
ax.set(xscale="log", xlabel="list price (USD, log)", ylabel=f"estimated generation tokens/s at {CONTEXT:,} tokens",
       title=f"{TARGETS[0]} {QUANT}, {CONTEXT} tokens, devices that fit it")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Your question
#
# Pick a model, a quant, a context and a budget. Stored below: the widget's starting settings
# (Llama 3.1 8B, Q4_K_M, 8,192 tokens of context, up to $2,000, must fit entirely); with a kernel,
# move the controls.

# %%
from helpers.widgets.hardware import hardware_table

hardware_table("Llama 3.1 8B", "Q4_K_M", 8192, 2000, True)

# %% tags=["nbval-ignore-output"]
from helpers.widgets.hardware import hardware_app

hardware_app()

# %% [markdown]
# ## Summary
#
# - Capacity decides what runs entirely in fast memory; bandwidth decides how fast it then runs.
# - Offloading to system RAM keeps a big model usable but slow: a device that fits it wins.
# - At list prices, tokens/s per $1000 often favours older cards with fast memory (used prices are lower still).
# - All figures are estimates from the bandwidth model; notebook 10 shows how close they come.
#
# ## Exercises
#
# **1.** Which device in `candidates` is the fastest for Llama 3.1 8B Q4_K_M at 8192 tokens
# within $1000, fitting entirely? (Use `rank_devices`.)

# %%
from helpers.exercises.hardware import check_fastest_in_budget, check_tokens_per_dollar

within = rank_devices(arch, QUANT, CONTEXT, budget_usd=1000, require_fit=True)
candidates = sorted(o.name for o in within)
print(candidates)
answer = None
check_fastest_in_budget(answer, within[0].name, candidates)

# %% [markdown]
# **2.** A card generates 150 tokens/s and costs $1500. How many tokens/s per $1000?

# %%
answer = None
check_tokens_per_dollar(answer, 150, 1500)
