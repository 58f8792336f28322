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
# # 09 · Will it run? Model, quantization, context and GPU in one answer
#
# Notebook 08 derived every term of a model's memory. This one puts them to work as an operator
# does before downloading anything: pick a model, a quantization and a context, pick a GPU (or your
# own machine), and get a verdict, the memory bar, an estimated speed and the best settings that fit.
# The same answer is available from the command line, `python -m helpers.memory.willitrun`.
#
# **Learning goals**
# - Turn a hardware question into a verdict: what fits entirely on the GPU, what needs offload, what does not run.
# - Find the best trade-off for a device: the most bits, or the longest context, that still fits.
# - Estimate tokens per second from memory bandwidth, and know what the estimate leaves out.
# - Use the `willitrun` command line for any model, including ones not in the catalog.
#
# **Time:** 25 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "Llama 3.1 8B"  # any name of data/models.csv
QUANT = "Q4_K_M"
CONTEXT = 8192  # tokens
GPU_NAME = "RTX 3090"  # any name of data/gpus.csv

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. One configuration, one verdict
#
# `assess` plans memory (weights, KV cache, compute buffer, runtime) the way llama.cpp's tools run
# by default, with flash attention on (the plan says so, and what it would need off: llama-cpp-python
# leaves it off unless you pass `flash_attn=True`; Ollama turns it on for the models it lists;
# LM Studio has a switch), and compares the GPU share with what the device can hold (all of a
# discrete card's VRAM; of an Apple chip's unified memory, what Metal allows by default: two thirds
# up to 32 GB, three quarters above) *less a 1 GiB margin*, the free memory llama.cpp's `--fit`
# keeps for what no plan counts. On a desktop, subtract also what the screen and other programs
# already hold (nvidia-smi lists it). Current llama-server fits by default: with `-ngl` and `-c`
# left unset it offloads what fits and shrinks the context (its log says so), so an out-of-memory
# error mostly follows settings given by hand. A plan inside the card but not the margin is a **near miss**: it may load today and
# fail when the desktop, a browser or a longer batch wants GPU memory, so it is not called "fits".
# Speed comes from the device class's speed model fitted to published llama.cpp runs (notebook 10):
# the bytes read on the GPU at its bandwidth, those left in system RAM at the RAM's, plus a fixed
# time per layer.

# %%
from helpers.course.catalog import get_gpu, get_model
from helpers.memory.willitrun import assess, format_text

arch, gpu = get_model(MODEL).architecture, get_gpu(GPU_NAME)
result = assess(arch, QUANT, CONTEXT, gpu=gpu)
print(format_text(result))

# %%
import matplotlib.pyplot as plt

from helpers.widgets.willitrun import best_settings_table, breakdown_figure

fig = breakdown_figure(result, GPU_NAME)
plt.show()

# %% [markdown]
# ## 2. The best settings that fit
#
# For each mix, from most to fewest bits, the largest context that still fits entirely on the device,
# and its estimated speed at your context: the first mix reaching your context is the best quality
# you can run there, and every mix below it trades some quality for speed.

# %%
from helpers.memory.willitrun import best_settings

best = best_settings(arch, gpu, CONTEXT)
print(f"most bits that fit {CONTEXT:,} tokens on {GPU_NAME}: {best['quant']} (fits up to {best['max_context']:,} tokens)")
best_settings_table(best, CONTEXT)

# %% [markdown]
# ## 3. Which models fit which GPUs?
#
# Q4_K_M (gpt-oss in the MXFP4 its files ship in) with an 8K context, everything on the device. A
# model that does not fit can still run with partial offload, but at system-RAM speed for the layers
# left behind (notebook 11); a mixture of experts can keep some experts in RAM at a smaller cost
# (section 4).

# %%
import pandas as pd

models = ["Llama 3.2 3B", "Llama 3.1 8B", "Gemma 2 9B", "Qwen2.5 14B", "Gemma 2 27B", "Qwen2.5 32B", "Llama 3.1 70B",
          "Gemma 3 27B", "gpt-oss 20B", "Qwen3 30B-A3B"]
gpus = ["RTX 3060 12GB", "RTX 4060 Ti 16GB", "RTX 3090", "RTX 5090", "Apple M4 Pro 64GB", "A100 80GB"]
PUBLISHED_MIX = {"gpt-oss 20B": "MXFP4_MOE"}  # gpt-oss files keep their experts in MXFP4, whatever the file name says


def fit_mark(model, gpu_name):
    a, g = get_model(model).architecture, get_gpu(gpu_name)
    mix = PUBLISHED_MIX.get(model, "Q4_K_M")
    if assess(a, mix, 8192, gpu=g).verdict.fits:
        return "yes"
    if a.is_moe and g.kind == "discrete" and assess(a, mix, 8192, gpu=g, n_cpu_moe="auto").verdict.fits:
        return "with --n-cpu-moe"
    return "-"


pd.DataFrame([[fit_mark(m, g) for g in gpus] for m in models],
             index=pd.Index([f"{m} ({PUBLISHED_MIX.get(m, 'Q4_K_M')})" for m in models], name="8K context"), columns=gpus)

# %% [markdown]
# ## 4. How fast? The speed model
#
# Each generated token reads the weights it uses once, plus the KV cache so far, and every layer
# also costs a fixed time (kernel launches, synchronisation). Per *device class* (NVIDIA consumer
# cards, datacenter cards, Apple chips, ...) the share of bandwidth reached and the time per layer
# are fitted to published llama.cpp runs (`helpers.hardware.device_speed`; notebook 10 shows the fit
# and why an H100 is not three times an RTX 4090). The last column says how sure that is: 90% of
# the published runs of the class, each predicted without its own card in the fit, were within that
# much. (The fitted read efficiency is the share of bandwidth the *reading* term reaches with the
# per-layer time counted apart; where the fit puts all of a class's shortfall into the per-layer
# time it comes out at 1.00. The share of bandwidth a whole token reaches is lower: notebook 10.)
# Most published runs are short (128-512 tokens generated), so that error holds for short
# contexts; at several thousand tokens without flash attention the published RTX 3090 run fell 20-30%
# below the estimate (notebook 10). Because the KV cache grows with the context, so does the time
# per token: the table is at this notebook's context. Prompt processing (compute-bound) is another matter; a model split
# between GPU and RAM comes next, and notebook 11 covers it in full.

# %%
from helpers.hardware.device_speed import speed_model, typical_error

rows = []
for name in ("RTX 4060 Ti 16GB", "RTX 3090", "RTX 4090", "H100 SXM", "Apple M2 Max 96GB",
             "CPU desktop DDR5-5600 dual-channel"):
    device, r = get_gpu(name), assess(arch, QUANT, CONTEXT, gpu=get_gpu(name))
    model = speed_model(device)
    rows.append((name, device.device_class, device.bandwidth_gbps, round(model.efficiency, 2),
                 round(model.overhead_seconds_per_layer * 1e6), None if r.tokens_per_second is None
                 else round(r.tokens_per_second, 1), f"+-{typical_error(device).p90_abs_error:.0%}"))
pd.DataFrame(rows, columns=["device", "class", "bandwidth (GB/s)", "fitted read efficiency", "time per layer (us)",
                           f"{MODEL} {QUANT} at {CONTEXT:,} tokens (tokens/s)", "90% of the class's runs within"]
             ).set_index("device")

# %% [markdown]
# ### Why does a 30B mixture of experts run fast on a 16 GB card?
#
# Qwen3 30B-A3B has 30.5 billion weights but routes each token through 8 of the 128 experts in each
# block: about 3.3 billion weights per token. Memory must hold all of them; speed depends on the
# ones a token reads. That makes a split unusual: llama.cpp's `--n-cpu-moe N` (or `--override-tensor
# "blk\.(0|1|...)\.ffn_.*_exps\.=CPU"`) keeps the experts of the first N blocks in system RAM and
# everything else (attention, router, shared experts, output, KV cache) on the GPU. The CPU then
# reads only a sixteenth of the expert bytes it holds per token. A dense model split with
# `n_gpu_layers` has to read every byte it left in RAM. Below, the fewest experts in RAM that fit
# (MoE) against the best `n_gpu_layers` that fits (dense), 8K context, dual-channel DDR5 system RAM:

# %%
from helpers.hardware.offload import best_fitting_point, expert_offload_curve, fewest_cpu_moe_that_fits, offload_curve
from helpers.memory.gguf_size import gguf_file_size
from helpers.memory.vram import usable_gpu_bytes

ram = get_gpu("CPU desktop DDR5-5600 dual-channel")
ram_model = speed_model(ram)
cases = [("Qwen3 32B", "Q4_K_M", "RTX 4060 Ti 16GB"), ("Qwen3 30B-A3B", "Q4_K_M", "RTX 4060 Ti 16GB"),
         ("gpt-oss 20B", "MXFP4_MOE", "RTX 4060 Ti 16GB"), ("Llama 3.3 70B", "Q4_K_M", "RTX 3090"),
         ("gpt-oss 120B", "MXFP4_MOE", "RTX 3090")]
rows = []
for name, mix, gpu_name in cases:
    a, g = get_model(name).architecture, get_gpu(gpu_name)
    if a.is_moe:
        p = fewest_cpu_moe_that_fits(expert_offload_curve(a, mix, 8192, g.bandwidth_gbps, ram.bandwidth_gbps,
                                                          speed_model(g), ram_model), usable_gpu_bytes(g))
        setting = f"all layers, --n-cpu-moe {p.n_cpu_moe}"
    else:
        p = best_fitting_point(offload_curve(a, mix, 8192, g.bandwidth_gbps, ram.bandwidth_gbps, speed_model(g),
                                             ram_model), usable_gpu_bytes(g))
        setting = f"--n-gpu-layers {p.n_gpu_layers} of {a.n_layers + 1}"
    rows.append((name, mix, gpu_name, round(gguf_file_size(a, mix).total_gb, 1), setting,
                 round(p.gpu_read_bytes / 1e9, 2), round(p.cpu_read_bytes / 1e9, 2), round(p.tokens_per_second, 1)))
pd.DataFrame(rows, columns=["model", "file", "GPU", "file (GB)", "setting that fits", "read on GPU per token (GB)",
                            "read in RAM per token (GB)", "estimate (tokens/s)"]).set_index("model")

# %% [markdown]
# The 30B MoE keeps most of its speed with the experts of about a quarter of its blocks in RAM, while the dense 32B
# on the same card is an order of magnitude slower: every token has to stream the gigabytes left in
# RAM, at a third (RTX 4060 Ti) to a tenth (RTX 3090) of the GPU's bandwidth. The same trick runs the 117-billion-weight gpt-oss-120b on
# one 24 GB card at a usable speed, faster than a 70B dense model split over the same hardware.
# These are estimates from speed models fitted to runs with everything in one memory: how a split's
# two sides overlap, and the CPU's own arithmetic on the experts it holds, were not in those runs, so
# measure before you buy. The verdict takes the same option:
# `assess(..., n_cpu_moe="auto")`, `python -m helpers.memory.willitrun --n-cpu-moe auto`, and the
# widget's "experts in RAM" control find the fewest blocks whose experts must stay in RAM.

# %% [markdown]
# ## 5. Forum claims, side by side with the estimator

# %%
from helpers.memory.gguf_size import gguf_file_size

claim_check = assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 3090"))
pd.DataFrame([
    ("7B at 4-bit is about 5 GB", "Qwen2.5 7B Q4_K_M file (GB)",
     round(gguf_file_size(get_model("Qwen2.5 7B").architecture, "Q4_K_M").total_gb, 2)),
    ("70B at 4-bit is about 40 GB", "Llama 3.1 70B Q4_K_M file (GB)",
     round(gguf_file_size(get_model("Llama 3.1 70B").architecture, "Q4_K_M").total_gb, 2)),
    ("Llama 3.1 8B Q4_K_M, 8K context, fits a 24 GB RTX 3090", "GPU memory needed (GiB)",
     round(claim_check.verdict.plan.gpu_total / 2**30, 2)),
], columns=["claim", "estimator", "value"]).set_index("claim")

# %% [markdown]
# ## 6. Your machine
#
# Notebook 00 saved a machine card. If it exists, your GPU (or your CPU and RAM) becomes a device here;
# your numbers will differ from the stored ones.

# %% tags=["nbval-ignore-output"]
from helpers.hardware.machine import load_machine_card
from helpers.memory.willitrun import machine_card_gpu

card = load_machine_card()
if card is None:
    print("no machine card yet: run notebook 00 first")
else:
    mine = machine_card_gpu(card)
    print(format_text(assess(get_model("Llama 3.2 1B").architecture, "Q4_K_M", 4096, gpu=mine)))

# %% [markdown]
# ## 7. Explore
#
# Change the model, quantization, context, GPU, KV cache type and offload; the bar, the verdict and
# the best-settings table follow. Stored below: the widget's starting settings (Llama 3.1 8B, Q4_K_M,
# 8,192 tokens, RTX 3090, f16 KV cache, all layers; with a machine card it starts on your machine);
# with a kernel, move the controls.

# %%
from helpers.widgets.willitrun import verdict_line

start = assess(get_model("Llama 3.1 8B").architecture, "Q4_K_M", 8192, gpu=get_gpu("RTX 3090"))
breakdown_figure(start, "RTX 3090")
plt.show()
print(verdict_line(start))
best_settings_table(best_settings(get_model("Llama 3.1 8B").architecture, get_gpu("RTX 3090"), 8192), 8192)

# %% tags=["nbval-ignore-output"]
from helpers.widgets.willitrun import will_it_run_app

will_it_run_app(card)

# %% [markdown]
# ## 8. From the command line
#
# The same answer in a terminal, for catalog models or any architecture you type in (here a model
# described only by its `config.json` numbers, offloading as many layers as fit into 12 GiB):
#
#     python -m helpers.memory.willitrun --model "Qwen2.5 14B" --quant Q5_K_M --ctx 16384 --gpu "RTX 4090"
#     python -m helpers.memory.willitrun --layers 40 --hidden 5120 --ffn 13824 --heads 40 --kv-heads 40 \
#         --head-dim 128 --vocab 32000 --vram-gib 12 --n-gpu-layers auto --json

# %%
from helpers.memory.willitrun import main

exit_code = main(["--layers", "40", "--hidden", "5120", "--ffn", "13824", "--heads", "40", "--kv-heads", "40",
                  "--head-dim", "128", "--vocab", "32000", "--vram-gib", "12", "--n-gpu-layers", "auto"])

# %% [markdown]
# And the mixture of experts of section 4 with the fewest blocks' experts kept in system RAM
# (`--n-cpu-moe auto`; a dense model is refused with a message):

# %%
exit_code = main(["--model", "Qwen3 30B-A3B", "--quant", "Q4_K_M", "--ctx", "8192", "--gpu", "RTX 4060 Ti 16GB",
                  "--n-cpu-moe", "auto"])

# %% [markdown]
# ## 9. A real file, before you download it
#
# Everything above plans a model's *shape* at a predicted quantization mix. A real GGUF file carries
# the exact answer in its header: the type and size of every tensor, in its first few megabytes.
# `assess_file` plans memory from that tensor table (weights exact, KV cache and compute buffer from
# the shape). Here the real chat model the course installed, SmolLM2-135M-Instruct at Q4_1:

# %%
from helpers.gguf.header import read_header
from helpers.llm.chat_model import chat_model_path
from helpers.memory.willitrun import assess_file

print(format_text(assess_file(read_header(chat_model_path()), 4096, gpu=get_gpu("RTX 3060 12GB"))))

# %% [markdown]
# A file on Hugging Face gets the same plan without the download: the header is read with HTTP
# *range requests* (`Range: bytes=0-1048575`, answered `206 Partial Content`), so only it travels
# (a few MB of a multi-GB file; the command reports the bytes). When you decide to fetch it,
# `helpers.hub.download` pins the revision, checks free disk space, resumes an interrupted download,
# and checks the SHA-256 the hub publishes before the file appears under its name:
#
#     python -m helpers.memory.willitrun --hf bartowski/Qwen2.5-7B-Instruct-GGUF:Qwen2.5-7B-Instruct-Q4_K_M.gguf@f4b6063c19a94c15fe9031d8afbbb9df7ec8b93f --gpu "RTX 3060 12GB"
#     python -m helpers.hub.download bartowski/Qwen2.5-7B-Instruct-GGUF:Qwen2.5-7B-Instruct-Q4_K_M.gguf@f4b6063c19a94c15fe9031d8afbbb9df7ec8b93f --dest models/
#
# (This notebook stays offline: run those two lines in a terminal when you are online.) A short list of real models to start with, sizes as the hub lists them (sources in
# `data/curated_models.json`), each judged by the estimator at 4,096 tokens (images: 512x512):

# %%
from helpers.hub.curated import curated_table

machines = ("RTX 3070", "CPU desktop DDR4-3200 dual-channel")
pd.DataFrame(curated_table(machines=machines))[["model", "listed GB", *machines]].set_index("model")

# %% [markdown]
# ## Summary
#
# - A verdict compares the GPU share of the plan with what the device can use; offload moves whole
#   blocks (and their KV cache) to system RAM.
# - For a fixed device, bits per weight and context trade against each other: the best-settings table shows the frontier.
# - Speed is bounded by bandwidth / bytes per token; the estimate applies a measured efficiency and
#   reads the bytes left in system RAM at the RAM's bandwidth, so a dense split is slow and an
#   expert split (`n_cpu_moe`) is not.
# - The `willitrun` command line answers the same question for any architecture, with `--json` for scripts.
# - A real file's header gives the exact plan, and a file on a hub can be judged from its header alone
#   (`--hf`), then fetched verified (`python -m helpers.hub.download`).
#
# ## Exercises
#
# **1.** Which mix with the most bits runs Llama 3.1 8B with a 16,384-token context entirely on an
# RTX 3060 12GB? Answer with a name from `QUANT_LADDER` (use `best_settings`).

# %%
from helpers.exercises.vram import check_best_quant, check_tokens_per_second
from helpers.memory.willitrun import QUANT_LADDER

answer = None
check_best_quant(answer, best_settings(get_model("Llama 3.1 8B").architecture, get_gpu("RTX 3060 12GB"), 16384)["quant"],
                 QUANT_LADDER)

# %% [markdown]
# **2.** Estimate the tokens per second of a 32-layer model that reads 5 GB (5 × 10⁹ bytes) per token
# on an RTX 4090 (`get_gpu("RTX 4090").bandwidth_gbps`), with its class's speed model
# `m = speed_model(get_gpu("RTX 4090"))`: share of bandwidth reached `m.efficiency`, time per layer
# `m.overhead_seconds_per_layer` (seconds).

# %%
answer = None
m = speed_model(get_gpu("RTX 4090"))
check_tokens_per_second(answer, 5e9, get_gpu("RTX 4090").bandwidth_gbps, m.efficiency, m.overhead_seconds_per_layer, 32)
