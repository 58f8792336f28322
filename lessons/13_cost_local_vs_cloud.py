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
# # 13 · Cost: is local cheaper than the cloud?
#
# Owning hardware costs its price spread over the tokens it will ever generate, plus electricity.
# An API costs a list price per million tokens. Which is cheaper depends on how much you use it:
# this notebook puts both in dollars per million tokens and finds the break-even.
#
# **Learning goals**
# - Compute local cost per million tokens: amortised hardware + energy (power x time x price per kWh).
# - Compare it with dated, sourced API list prices.
# - Find the usage (tokens per day) above which owning pays off, and how utilisation changes it.
# - Price a whole request: the prompt the API bills, the machine's power at the wall, and batching.
#
# **Time:** 20 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "Llama 3.1 8B"
QUANT = "Q4_K_M"
DEVICE = "RTX 3090"  # a name of data/gpus.csv
CONTEXT = 4096  # tokens of context the speed is estimated at
ELECTRICITY_USD_PER_KWH = 0.30
HOURS_PER_DAY = 8.0  # hours a day the machine generates
YEARS = 3.0  # write-off period
PROMPT_TOKENS, OUTPUT_TOKENS = 1000, 200  # one chat request: the conversation so far, and the reply
BATCH = 8  # requests a server decodes together (llama-server --parallel, vLLM)
HOST_POWER_W = 60  # the rest of a desktop beside a discrete GPU while it generates (CPU, board, RAM, fans): measure yours

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. The model
#
#     hardware $ per million = price / (tokens/s x hours per day x 3600 x 365 x years) x 10^6
#     energy $ per million  = power (W) x (10^6 / tokens/s) s / 3.6 x 10^6 J per kWh x $ per kWh
#
# Speed from notebook 12's estimate, at `CONTEXT` tokens of context: each token reads the KV cache
# so far, so the speed (and the cost) depends on it; notebook 10, section 2, has Llama 3.1 8B
# Q4_K_M on an RTX 3090 at every context beside a published llama-bench run. Power is the device's
# rated board power (an upper bound while generating, which often draws less since it waits on memory).

# %%
from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.ranking import assess_device
from helpers.widgets.hardware import cost_table

arch = get_model(MODEL).architecture
option = assess_device(arch, QUANT, CONTEXT, get_gpu(DEVICE))
print(f"{MODEL} {QUANT} on {DEVICE}: {option.tokens_per_second:.0f} tokens/s (estimate at {CONTEXT:,} tokens of "
      f"context), {option.power_w:.0f} W, ${option.price_usd:.0f}")
cost_table(option, ELECTRICITY_USD_PER_KWH, HOURS_PER_DAY, YEARS)

# %% [markdown]
# The API rows are output-token list prices (`data/api_prices.csv`, each with its date and source;
# prices change, check before you decide). They are different models: compare a local 8B with a
# small API model, a local 70B with a hosted 70B.
#
# ## 2. Utilisation is everything
#
# The hardware term falls as usage grows; energy per token does not. A machine used an hour a day
# pays its whole price for few tokens.

# %%
import matplotlib.pyplot as plt
import numpy as np

from helpers.hardware.cost import load_api_prices, local_cost_per_million

hours = np.linspace(0.25, 24, 60)
totals = [local_cost_per_million(option.price_usd, option.tokens_per_second, option.power_w,
                                 ELECTRICITY_USD_PER_KWH, YEARS, h).total_usd_per_million for h in hours]
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(hours, totals, label=f"{DEVICE} owning, {MODEL} {QUANT}, {option.tokens_per_second:.0f} tokens/s")
for p in load_api_prices():
    if p.output_usd_per_million <= 2:  # the cheaper APIs; the log axis would squeeze the rest
        ax.axhline(p.output_usd_per_million, ls="--", lw=1, color="0.5")
        ax.annotate(f"{p.model} ({p.date})", (24, p.output_usd_per_million), ha="right", va="bottom", fontsize=7)
ax.set(yscale="log", xlabel="hours per day generating", ylabel="USD per million output tokens (log)",
       title=f"Owning vs API, {YEARS:g}-year write-off, ${ELECTRICITY_USD_PER_KWH:.2f}/kWh")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Break-even
#
# How many tokens a day before owning is cheaper than each API? (Energy per million counted;
# "never" means the API is cheaper than even the electricity.) The speed is an estimate:
# 90% of the published runs of this device's class were within the stated error of a prediction
# made without their own card (notebook 10), so the break-even is given for the speed at both ends
# of that range.

# %%
import pandas as pd

from helpers.hardware.cost import break_even_tokens_per_day


def break_even(speed):
    """(tokens/day to break even, whether one device can generate that many) at ``speed`` tokens/s."""
    energy = local_cost_per_million(option.price_usd, speed, option.power_w, ELECTRICITY_USD_PER_KWH, YEARS,
                                    HOURS_PER_DAY).energy_usd_per_million
    per_day = break_even_tokens_per_day(option.price_usd, p.output_usd_per_million, energy, YEARS)
    return per_day, per_day <= speed * HOURS_PER_DAY * 3600


def millions(per_day):
    return "never" if per_day == float("inf") else f"{per_day / 1e6:.2f} M"


slow, fast = option.tokens_per_second / (1 + option.speed_error_p90), option.tokens_per_second * (1 + option.speed_error_p90)
print(f"speed {option.tokens_per_second:.0f} tokens/s, 90% range {slow:.0f}-{fast:.0f} tokens/s")
rows = []
for p in load_api_prices():
    (mid, reach), (low, reach_slow), (high, _) = break_even(option.tokens_per_second), break_even(slow), break_even(fast)
    rows.append((f"{p.provider} {p.model}", p.output_usd_per_million, millions(mid), f"{millions(high)} - {millions(low)}",
                 "yes" if reach and reach_slow else ("no" if not reach else "only if the speed holds")))
pd.DataFrame(rows, columns=["API", "$/M output", "break-even tokens/day", "over the speed's 90% range",
                            f"reachable on one {DEVICE} in {HOURS_PER_DAY:g} h/day"]).set_index("API")

# %% [markdown]
# For the cheapest small API models, one person's chat use never pays off the card; for expensive
# frontier models, or for batch jobs that keep the card busy, it can. Privacy, offline use and
# control are reasons to run locally that no price table shows.
#
# ## 4. What a request costs: prompts, the whole machine, batching
#
# The table above prices output tokens only, one stream at a time, at the card's board power. Three
# things move the answer, in both directions:
#
# - **Prompts.** A chat request re-sends the conversation so far (here 1,000 tokens for a
#   200-token reply). An API bills those at its input price; the machine reads them at its
#   prompt rate (notebook 10: compute-bound, many times faster than generating), so they cost it
#   little time.
# - **The whole machine.** A discrete GPU sits in a PC whose CPU, board, RAM and fans draw power
#   too (`HOST_POWER_W`, an assumption: a plug-in meter measures yours), and the power supply
#   loses about a tenth on the way. A Mac's listed power is already the whole machine's.
# - **Batching.** A server decodes several requests in one pass over the weights (notebook 14):
#   each step writes `BATCH` tokens in far less time than `BATCH` single steps, so each request holds the
#   machine for a fraction of its reply time. That pays for a shared server or a batch job, not for
#   one person who sends one request at a time.
#
# The machine's seconds per request = prompt tokens / prompt rate + output tokens / the tokens per
# second of all batched requests together. Break-even: the requests a day whose API bill covers the
# price of owning (written off over `YEARS`) plus the electricity of those seconds.

# %%
from helpers.hardware.cost import Request, api_usd_per_request, busy_seconds_per_request, request_break_even, wall_power_w
from helpers.hardware.device_speed import generation_tokens_per_second, prompt_tokens_per_second
from helpers.memory.vram import memory_plan, usable_gpu_bytes

device = get_gpu(DEVICE)
request = Request(PROMPT_TOKENS, OUTPUT_TOKENS)
prompt_rate, prompt_source = prompt_tokens_per_second(arch, device)
batch_fits = option.fits_entirely and memory_plan(arch, QUANT, CONTEXT * BATCH).gpu_total <= usable_gpu_bytes(device)
batched = BATCH * generation_tokens_per_second(arch, QUANT, CONTEXT, device, batch=BATCH) if batch_fits else None
host_w = HOST_POWER_W if device.kind == "discrete" else 0
settings = {  # (seconds the machine spends on one request, watts at the wall, what the API bills)
    "output only, one stream, board power": (OUTPUT_TOKENS / option.tokens_per_second, option.power_w, "output"),
    "+ prompt, whole machine at the wall": (busy_seconds_per_request(request, prompt_rate, option.tokens_per_second),
                                            wall_power_w(option.power_w, host_w), "both"),
}
if batched:
    settings[f"+ {BATCH} requests batched"] = (busy_seconds_per_request(request, prompt_rate, batched),
                                               wall_power_w(option.power_w, host_w), "both")
print(f"prompt rate {prompt_rate:,.0f} tokens/s ({prompt_source}); one stream {option.tokens_per_second:.0f} tokens/s"
      + (f"; {BATCH} batched {batched:.0f} tokens/s in all" if batched else f"; {BATCH} batched: does not fit"))
for name, (seconds, watts, _) in settings.items():
    print(f"{name}: {seconds:.2f} s of the machine per request at {watts:.0f} W")

rows = []
for p in load_api_prices():
    output_only = Request(0, OUTPUT_TOKENS)
    row = {"API": f"{p.provider} {p.model}", "$ per request": round(api_usd_per_request(p, request), 5)}
    for name, (seconds, watts, billed) in settings.items():
        bill = api_usd_per_request(p, request if billed == "both" else output_only)
        point = request_break_even(option.price_usd, bill, seconds, watts, ELECTRICITY_USD_PER_KWH, YEARS)
        row[name] = ("never" if point.requests_per_day == float("inf") else
                     f"{point.requests_per_day:,.0f}/day ({point.busy_hours_per_day:.1f} h busy)")
    rows.append(row)
pd.DataFrame(rows).set_index("API")

# %% [markdown]
# Each cell is the break-even in requests a day, with the hours a day the machine is busy at that
# point: more than `HOURS_PER_DAY` (or 24) means one machine cannot get there. Read along a row.
# Counting the prompt multiplies the API's bill per request by about 1.5 to 5 here (1,000 input tokens
# beside 200 output tokens; most where input is priced close to output) while adding a fraction of
# a second of machine time, so the break-even falls; the whole machine's power raises the
# electricity, which matters only against the cheapest APIs. Batching cuts the machine's seconds per request most of all: a
# server that keeps `BATCH` requests in flight reaches break-even in far fewer busy hours. The
# speeds are estimates with the error of section 3, the prices list prices on their dates.
#
# ## 5. Your numbers
#
# The widget prices a model at Q4_K_M and 4,096 tokens of context on any catalog device. Stored
# below: its starting settings (Llama 3.1 8B on an RTX 3090, $0.30/kWh, 8 hours a day, 3 years);
# with a kernel, move the controls.

# %%
from helpers.widgets.hardware import device_cost_table

device_cost_table("Llama 3.1 8B", "RTX 3090", 0.30, 8, 3)

# %% tags=["nbval-ignore-output"]
from helpers.widgets.hardware import cost_app

cost_app()

# %% [markdown]
# ## Summary
#
# - Local cost per million tokens = amortised hardware (falls with use) + energy (constant per token).
# - API list prices for small models are below what most single users can reach locally.
# - Owning pays off with heavy, steady use or against expensive APIs; check the dated prices.
# - Price requests, not just output tokens: APIs bill the prompt too, a machine draws more than its
#   GPU's board power, and batching divides the machine's time between the requests it serves.
#
# ## Exercises
#
# **1.** A 360 W machine generates 100 tokens/s; electricity costs $0.30 per kWh. What does one
# million tokens cost in electricity (USD)?

# %%
from helpers.exercises.cost import check_energy_per_million, check_hardware_per_million

answer = None
check_energy_per_million(answer, 360, 100, 0.30)

# %% [markdown]
# **2.** A $1000 machine at 100 tokens/s, used 12 hours a day, written off over 1 year: hardware
# cost per million tokens (USD)?

# %%
answer = None
check_hardware_per_million(answer, 1000, 100, 1, 12)
