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
# # 10 · Tokens per second: why generation is memory-bound, and how fast your machine is
#
# "How fast will it be?" is the first question after "will it fit?". This notebook answers it twice:
# with a model (bytes read per token divided by memory bandwidth) and with a stopwatch (llama.cpp
# running models of real size on your machine), then sets the two side by side. No download is
# needed: the models are built here with random weights and the exact shapes of SmolLM2 and Llama,
# which is all that speed depends on.
#
# **Learning goals**
# - Tell prompt processing (compute-bound, many tokens per weight read) from generation (memory-bound, one token per read).
# - Estimate generation speed as effective bandwidth / bytes read per token, plus a fixed overhead per layer.
# - Read the estimate's error off the published record of real GPUs, and see why a faster card gains less than its bandwidth.
# - Measure prompt and generation tokens/s with llama.cpp, and the effect of the thread count.
# - Calibrate the estimate on your own machine from measured bandwidth and a few runs.
#
# **Time:** 30 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
THREADS = None  # llama.cpp threads; None: 1 in quick mode (steadier when other programs share the cores), else the physical cores
CACHE_DIR = "build/speed"  # built random-weight GGUF files are kept here and reused

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)
if THREADS is None:
    import psutil
    THREADS = 1 if QUICK else psutil.cpu_count(logical=False) or 1

# %% [markdown]
# ## 1. Two phases, two limits
#
# A chat turn has two phases. **Prompt processing** pushes all prompt tokens through the network at
# once: each weight matrix is read from memory once and multiplied by a whole block of tokens, so
# the cores' arithmetic is the limit. **Generation** produces one token at a time: each new token
# needs every weight matrix again, multiplied by a single vector, so almost all the time goes into
# streaming the weights from memory. The cost of generation is therefore *bytes read per token*.
#
# We build a random-weight copy of SmolLM2 135M (the real shapes, vocabulary size included) at
# Q4_K_M, cached under `build/`, and time both phases with llama.cpp.

# %%
from helpers.course.catalog import get_model
from helpers.course.paths import REPO_ROOT, relative_to_repo
from helpers.gguf.random_weights import cached_random_gguf

MODELS = ["SmolLM2 135M", "SmolLM2 360M"] if QUICK else ["SmolLM2 135M", "SmolLM2 360M", "Qwen2.5 0.5B", "Llama 3.2 1B"]
MIXES = ["Q4_K_M"] if QUICK else ["Q4_K_M", "Q8_0"]
cache = REPO_ROOT / CACHE_DIR
files = {(m, q): cached_random_gguf(get_model(m).architecture, q, cache) for m in MODELS for q in MIXES}
for (m, q), path in files.items():
    print(f"{m:14s} {q:7s} {relative_to_repo(path)}  {path.stat().st_size / 1e6:.0f} MB")

# %% [markdown]
# Section 4 times both phases for each of these files.
#
# ## 2. The roofline estimate
#
# If each generated token reads `B` bytes and memory delivers `W` bytes per second, at most `W / B`
# tokens come out per second. `helpers.memory.gguf_size.bytes_read_per_token` counts the weights'
# part of `B` from the architecture and the quantization mix (every matrix once; the embedding table
# is a lookup of one row, unless it doubles as the output matrix). Real runs fall short of that
# ceiling in two ways: the weights stream at a share of peak bandwidth (the *efficiency*), and
# every layer costs a fixed time whatever its size (on a GPU, a few dozen kernel launches and the
# waits between them; on a CPU, the threads meeting after every operation):
#
#     seconds per token = bytes / (efficiency x bandwidth) + layers x time per layer
#
# The two constants differ between kinds of hardware and software, so the course fits them per
# *device class* to a published record of llama.cpp runs (`data/published_speeds.csv`: several
# hundred llama-bench results on about sixty devices, each with its source, build and backend;
# `helpers.hardware.device_speed`). Here is the ceiling and the estimate for a few devices of the
# catalog, with an empty context (weights only; the next table adds the KV cache).

# %%
import pandas as pd

from helpers.course.catalog import get_gpu
from helpers.hardware.device_speed import generation_tokens_per_second, speed_model
from helpers.hardware.roofline import estimated_tokens_per_second, generation_ceiling_tokens_per_second
from helpers.memory.gguf_size import bytes_read_per_token

devices = ["RTX 3090", "H100 SXM", "Apple M2 Max 96GB", "CPU desktop DDR5-5600 dual-channel"]
rows = []
for name in ["Llama 3.2 1B", "Llama 3.1 8B", "Qwen2.5 32B"]:
    per_token = bytes_read_per_token(get_model(name).architecture, "Q4_K_M")
    for d in devices:
        g = get_gpu(d)
        rows.append({"model (Q4_K_M)": name, "weights read per token (GB)": round(per_token / 1e9, 2), "device": d,
                     "class": g.device_class, "bandwidth (GB/s)": g.bandwidth_gbps,
                     "ceiling (tokens/s)": round(generation_ceiling_tokens_per_second(per_token, g.bandwidth_gbps), 1),
                     "estimate, empty context (tokens/s)": round(
                         generation_tokens_per_second(get_model(name).architecture, "Q4_K_M", 0, g), 1)})
pd.DataFrame(rows).set_index(["model (Q4_K_M)", "device"])

# %% [markdown]
# ### One setup, every context
#
# Each generated token also reads the **KV cache** of every token before it (notebook 05), so the
# same model on the same card slows down as the conversation grows. A speed without its context is
# half a figure; this table is the one the other notebooks point to when they quote Llama 3.1 8B
# Q4_K_M on an RTX 3090. `speed_by_context` is the course's single estimate
# (`generation_tokens_per_second`, the same number `assess` gives in notebook 09 and
# `assess_device` in notebooks 11-13). Beside it, a published llama-bench run of the same setup
# (`data/published_speeds.csv`, with its source; the runs are of Llama 3 8B, which has Llama 3.1
# 8B's shapes, so the record files them under 3.1), predicted with the RTX 3090 left out of the fit,
# so the table shows how far off a card the model has never seen is: llama-bench's `tg N`
# generates N tokens from an empty context, so its average speed is the speed at the mean
# context, N / 2 tokens.

# %%
from helpers.hardware.device_speed import check_published, speed_by_context
from helpers.memory.vram import kv_cache_bytes

SETUP = ("Llama 3.1 8B", "Q4_K_M", "RTX 3090")
CONTEXTS = [0, 256, 512, 2048, 4096, 8192, 32768]
setup_arch, setup_gpu = get_model(SETUP[0]).architecture, get_gpu(SETUP[2])
held_out = check_published(leave_device_out=True)
bench = {c.published.mean_context_tokens: c for c in held_out
         if (c.published.model, c.published.mix, c.published.device) == SETUP and c.published.source.endswith("3090_v3.ipynb")}
rows = []
for r in speed_by_context(setup_arch, SETUP[1], setup_gpu, CONTEXTS):
    c = bench.get(r.context_tokens)
    rows.append({"context (tokens)": r.context_tokens, "weights read (GB)": round(r.weight_bytes / 1e9, 2),
                 "KV cache read (GB)": round(r.kv_cache_bytes / 1e9, 2),
                 "estimate (tokens/s)": round(r.tokens_per_second, 1),
                 "published llama-bench (tokens/s)": c.published.tokens_per_second if c else None,
                 "llama-bench test": c.published.test if c else "-",
                 "held-out prediction (tokens/s)": round(c.estimate, 1) if c else None,
                 "prediction / published": round(c.ratio, 2) if c else None,
                 f"share of {setup_gpu.bandwidth_gbps:g} GB/s reached": round(c.efficiency_reached, 2) if c else None})
context_table = pd.DataFrame(rows).set_index("context (tokens)")
print(f"{' '.join(SETUP[:2])} on an {SETUP[2]}, all layers on the GPU, f16 KV cache "
      f"({kv_cache_bytes(setup_arch, 256) // 256:,} bytes per token of context); GB = 10^9 bytes")
context_table

# %%
first, last = bench[min(bench)], bench[max(bench)]
print(f"Published run: llama.cpp build {first.published.build}, {first.published.backend}, {first.published.date}\n"
      f"({first.published.source}).\n"
      f"The held-out prediction is {first.error:+.0%} off at {first.published.mean_context_tokens:,} tokens of context and "
      f"{last.error:+.0%} at {last.published.mean_context_tokens:,}; that card reached "
      f"{first.efficiency_reached:.2f} of its peak bandwidth at the short context and "
      f"{last.efficiency_reached:.2f} at the long one.")

# %% [markdown]
# Two things to read from the table. First, the shape: the estimate and the measurement both fall
# as the context grows, because the bytes per token grow. Second, the gap, which widens with the
# context: reading the cache for attention (here without flash attention, as llama-bench ran in
# 2024) reaches a smaller share of bandwidth than the large weight matrices do, and the fit is made
# mostly of short-context runs. With an empty context the estimate is weights only; by 32,768 tokens
# the KV cache is almost as large as the weights and the estimate has fallen by about a third.
#
# ### Every published run, by device class
#
# The same check for every generation run of the record: each device's runs predicted by its
# class's model fitted *without that device* (leave one device out), the honest error for a card
# you are about to buy. The dotted lines are +-20%.

# %%
import matplotlib.pyplot as plt

from helpers.hardware.device_speed import error_by_class

fig, ax = plt.subplots(figsize=(7.5, 5.5))
for i, name in enumerate(sorted({c.device_class for c in held_out})):
    group = [c for c in held_out if c.device_class == name]
    ax.scatter([c.published.tokens_per_second for c in group], [c.estimate for c in group], s=14,
               marker="os^vD<>ph"[i % 9], label=f"{name} ({len({c.published.device for c in group})} devices)")
limits = [1, 1000]
ax.plot(limits, limits, color="black", lw=0.8)
for factor in (0.8, 1.2):
    ax.plot(limits, [factor * v for v in limits], color="black", lw=0.6, ls=":")
ax.set(xscale="log", yscale="log", xlim=limits, ylim=limits, xlabel="published llama-bench generation (tokens/s)",
       ylabel="predicted, own device left out (tokens/s)", title="The speed model against the published record")
ax.legend(fontsize=7, loc="upper left")
plt.show()
errors = pd.DataFrame([(e.device_class, e.runs, e.devices, f"{e.median_abs_error:.0%}", f"{e.p90_abs_error:.0%}",
                        f"{e.within_tolerance:.0%}") for e in error_by_class(held_out)],
                      columns=["device class", "runs", "devices", "median error", "90% of runs within",
                               "runs within +-20%"]).set_index("device class")
errors

# %% [markdown]
# Most runs land within 20% of a prediction made without their own card; Apple chips and NVIDIA
# cards, with many published devices, are the best covered. Where a class has one or two devices
# (AMD Instinct, Intel Arc) or very different machines (CPUs, whose thread count and memory layout
# vary), the prediction borrows from other devices and misses by more: the table says by how much,
# and notebooks 09, 12 and 13 quote that error beside every estimate.
# `benchmarks/results/device_speed_fit.md` lists every run, its source and its error, and the
# runs kept out of the fit with the reason (a GPU behind a single-board computer, a vendor fork,
# two CPU sockets).
#
# ### Why an H100 is not three times an RTX 4090
#
# An H100 SXM has 3.3 times an RTX 4090's bandwidth. For an 8B model at 4 bits the estimate gives it
# well under half of that advantage, and the published record agrees: in one llama-bench collection,
# same model, build series and test, an H100 PCIe (twice a 4090's bandwidth) barely beat the
# consumer card (printed below). Split the time of one token into its two terms and the reason is
# plain: the reading time shrinks with bandwidth, the per-layer time does not.

# %%
from helpers.course.catalog import get_device
from helpers.hardware.device_speed import time_per_token

held_out_runs = [c.published for c in held_out]
cards = ["RTX 4060 Ti 16GB", "RTX 3090", "RTX 4090", "RTX 5090", "H100 SXM", "Apple M2 Ultra 192GB"]
split_times = {name: time_per_token(setup_arch, "Q4_K_M", 256, get_gpu(name)) for name in cards}
fig, ax = plt.subplots(figsize=(7.5, 3.2))
ax.barh(cards, [t.reading_seconds * 1e3 for t in split_times.values()], label="reading weights and KV cache")
ax.barh(cards, [t.layer_seconds * 1e3 for t in split_times.values()],
        left=[t.reading_seconds * 1e3 for t in split_times.values()], label="fixed time of 32 layers")
ax.set(xlabel="milliseconds per generated token (estimate)", title="Llama 3.1 8B Q4_K_M, 256 tokens of context")
ax.legend(fontsize=8)
plt.show()
h100, rtx4090 = split_times["H100 SXM"], split_times["RTX 4090"]
print(f"H100 SXM vs RTX 4090: {get_gpu('H100 SXM').bandwidth_gbps / get_gpu('RTX 4090').bandwidth_gbps:.1f}x the "
      f"bandwidth, {h100.tokens_per_second / rtx4090.tokens_per_second:.2f}x the estimated speed "
      f"({h100.tokens_per_second:.0f} against {rtx4090.tokens_per_second:.0f} tokens/s): the per-layer time is "
      f"{h100.layer_seconds / h100.total_seconds:.0%} of an H100 token")
same_test = {r.device: r for r in held_out_runs if r.model == "Llama 3.1 8B" and r.mix == "Q4_K_M" and r.test == "tg512"
             and r.device in ("H100 PCIe", "RTX 4090")}
print("published, Llama 3 8B (3.1's shapes) Q4_K_M tg512: " + ", ".join(
    f"{d} {r.tokens_per_second:g} tokens/s ({get_device(d).bandwidth_gbps:g} GB/s, build {r.build})" for d, r in same_test.items()))

# %% [markdown]
# The per-layer time is why datacenter cards shine at *serving*: batch many users' tokens into one
# step (notebook 14) and the fixed cost is shared, while a single chat on a big card wastes most of
# its bandwidth. For one user, a bigger model is where a fast card earns its price.

# %% [markdown]
# ## 3. Your machine's bandwidth
#
# Notebook 00 measured the copy bandwidth of this machine and saved it in the machine card. If there
# is no card yet, we measure it here (a few seconds).

# %% tags=["nbval-ignore-output"]
import psutil

from helpers.hardware.machine import bandwidth_buffer_bytes, load_machine_card, measure_copy_bandwidth

card = load_machine_card()
if card is not None and card.bandwidth_gbps_all_threads > 0:
    bandwidth = card.bandwidth_gbps_one_thread if THREADS == 1 else card.bandwidth_gbps_all_threads
    print(f"machine card: {bandwidth:.1f} GB/s copy bandwidth, {'one thread' if THREADS == 1 else 'all threads'}")
else:
    bandwidth = measure_copy_bandwidth(bandwidth_buffer_bytes(psutil.virtual_memory().available), threads=THREADS)
    print(f"measured now: {bandwidth:.1f} GB/s copy bandwidth, {THREADS} threads")

# %% [markdown]
# ## 4. Measured against estimated
#
# Now every model of the list, same prompt, same number of generated tokens, best of three runs.
# Look at the two speed columns first: prompt processing runs several times faster per token than
# generation on the same model and the same cores. That gap *is* the difference between
# compute-bound and memory-bound work.

# %% tags=["nbval-ignore-output"]
from helpers.hardware.measured_speed import best_of, load_llama, measure_speed

cpu_class = speed_model(get_gpu("CPU desktop DDR5-5600 dual-channel"))  # fitted to published CPU runs
N_PROMPT, N_GEN = (64, 24) if QUICK else (128, 64)
measured = []
for (m, q), path in files.items():
    llm = load_llama(path, THREADS, N_PROMPT + N_GEN + 8)
    r = best_of(measure_speed(path, N_PROMPT, N_GEN, THREADS, llm=llm, seed=i) for i in range(3))
    del llm
    arch = get_model(m).architecture
    per_token = bytes_read_per_token(arch, q) + kv_cache_bytes(arch, N_PROMPT + N_GEN // 2)
    measured.append({"model": m, "mix": q, "MB read/token": per_token / 1e6, "layers": arch.n_layers,
                     "prompt tok/s": r.prompt_tokens_per_second, "generation tok/s": r.generation_tokens_per_second,
                     "published CPUs' model": cpu_class.tokens_per_second(per_token, bandwidth, arch.n_layers)})
table = pd.DataFrame(measured).set_index(["model", "mix"])
table.round(1)

# %% [markdown]
# The plain roofline over-promises for the smallest models: a token also costs time that does not
# depend on the bytes. Every layer runs a few dozen small operations besides reading its matrices
# (norms, rotary embedding, attention over the cache, the activations prepared for the next matrix),
# and llama.cpp's threads synchronise after each one. That time grows with the number of *layers*,
# not with their size, so the speed model has two terms:
#
#     seconds per token = bytes / (efficiency x bandwidth) + layers x overhead per layer
#
# Both constants belong to the *machine*, not to a model: `fit_speed_model` fits them by least
# squares to the measurements (seconds per token is linear in bytes and layers). A deep, narrow
# model such as SmolLM2 135M (30 layers of 576 numbers) pays the overhead 30 times for little
# reading; Llama 3.2 1B pays it 16 times for much more. On a busy machine (other programs on the same
# cores) the measurements scatter and so does the fit: close other work, or run the cell again,
# before you trust it.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
import numpy as np

from helpers.hardware.roofline import fit_speed_model

fit = fit_speed_model(table["MB read/token"] * 1e6, table["layers"], table["generation tok/s"], bandwidth)
print(f"efficiency {fit.efficiency:.2f} of {bandwidth:.1f} GB/s, "
      f"overhead {fit.overhead_seconds_per_layer * 1e3:.2f} ms per layer")
table["speed model"] = [fit.tokens_per_second(b * 1e6, bandwidth, int(n))
                        for b, n in zip(table["MB read/token"], table["layers"])]
if len(table) >= 3:  # predict each model from a fit to the others: a test the fit can fail
    table["left out, predicted"] = [
        fit_speed_model(others["MB read/token"] * 1e6, others["layers"], others["generation tok/s"], bandwidth)
        .tokens_per_second(table.loc[row, "MB read/token"] * 1e6, bandwidth, int(table.loc[row, "layers"]))
        for row in table.index for others in [table.drop(row)]]
    table["error"] = table["left out, predicted"] / table["generation tok/s"] - 1
else:
    print(f"{len(table)} models for 2 constants: the fit passes through every point, so it cannot be judged "
          "here; the full run (QUICK = False, 4 models) predicts each model from the others")

sizes = np.linspace(50e6, 1.2 * table["MB read/token"].max() * 1e6, 100)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(table["MB read/token"], table["generation tok/s"], "o", label="measured (llama.cpp)")
ax.plot(table["MB read/token"], table["speed model"], "x", color="black", label="speed model (fitted)")
ax.plot(sizes / 1e6, [estimated_tokens_per_second(s, bandwidth, 1.0) for s in sizes], "--",
        label="ceiling (efficiency 1, no per-layer time)")
for n in sorted(set(table["layers"])):
    ax.plot(sizes / 1e6, [fit.tokens_per_second(s, bandwidth, int(n)) for s in sizes], lw=0.8,
            label=f"speed model, {n} layers")
ax.set(xlabel="MB read per generated token (10^6 bytes)", ylabel="generation tokens/s", title="This machine")
ax.legend()
plt.show()
table.round(2)

# %% [markdown]
# The fitted efficiency is the share of the copy bandwidth that llama.cpp's matrix reads reach on
# this machine (with two models, as in the quick run, the two constants pass through both points
# exactly and one of them can come out at its bound, 0 ms or efficiency 1; the full run separates
# them); the "published CPUs' model" column is the CPU class fitted to other people's
# desktops and servers (section 2), which a measurement on your own machine replaces. With two models the two constants fit both
# points exactly, which proves nothing: a fit is tested by predicting a model it has not seen. The
# repository's benchmark (`benchmarks/tokens_per_second.py`) does that with more models and mixes,
# each predicted from a fit that leaves it out: see
# `benchmarks/results/tokens_per_second.md` for such a table (your machine's numbers will differ).
#
# **A real model.** Everything above ran random weights, which read exactly as many bytes per token
# as trained ones. The course's real chat model, SmolLM2-135M-Instruct (a Q4_1 file, notebook 03),
# is measured here beside the fitted speed model's prediction for a 30-layer model of its size. The
# fit comes from Q4_K_M files, so a gap also measures how differently llama.cpp's Q4_1 and Q4_K
# kernels run on this CPU. Its speeds are this machine's reference figures: notebook 00 measured
# them for the machine card (thread counts in turns, so a busy moment hits both alike; median and
# range), and they are read from there, or measured the same way now when there is no card yet:

# %% tags=["nbval-ignore-output"]
from helpers.gguf.header import read_header
from helpers.hardware.measured_speed import card_speed, interleaved_speeds, speeds_for_card
from helpers.llm.chat_model import chat_model_path

real_path = chat_model_path()
real = read_header(real_path)  # every tensor is read once per token: the tied embedding is the output layer
reference = card.llama_cpp_speeds if card is not None else {}
if card_speed(reference, real.file_name, THREADS) is None:
    reference = speeds_for_card(interleaved_speeds(real_path, sorted({1, THREADS}), repeats=3 if QUICK else 7,
                                                   prompt_tokens=64, generated_tokens=32))
    print("no machine card with this file's speeds: measured now, as notebook 00 does")
else:
    print(f"machine card (notebook 00): {reference['rounds']} rounds of {reference['prompt_tokens']} prompt and "
          f"{reference['generated_tokens']} generated tokens")
real_table = pd.DataFrame(reference["threads"]).T.rename_axis("threads").round(1)
print(f"{real.file_name}: {real.tensor_bytes / 1e6:.0f} MB read per token, {real.n_layers} layers; at {THREADS} "
      f"thread(s): speed model {fit.tokens_per_second(real.tensor_bytes, bandwidth, real.n_layers):.1f} tokens/s, "
      f"published CPUs' model {cpu_class.tokens_per_second(real.tensor_bytes, bandwidth, real.n_layers):.1f}")
real_table

# %% [markdown]
# The spread between the lowest and the highest run is the machine's noise; trust the median, and
# compare thread counts only when their ranges do not overlap. The speed model above was fitted on
# this notebook's own random-weight files, measured a few seconds apart from the card's figures:
# where the two disagree by more than the spread, the machine's load changed in between (run again
# on a quiet machine). `benchmarks/results/chat_model_speed.md` has the same measurement with more
# repetitions.
#
# ## 5. Threads
#
# Generation is memory-bound, so more threads help only until the memory bus is full; prompt
# processing is compute-bound and keeps scaling with cores. More threads than *free* cores makes
# both much slower: llama.cpp's threads wait for each other after every operation, so one thread
# that shares its core with another program holds all the others back. On a machine where other
# work is running, 1 thread can beat 2.

# %% tags=["nbval-ignore-output"]
import os

sweep = []
path = files[(MODELS[0], "Q4_K_M")]
n_gen = 8 if QUICK else N_GEN
for threads in sorted({1, 2, os.cpu_count() or 1}):
    llm = load_llama(path, threads, N_PROMPT + n_gen + 8)
    sweep.append(measure_speed(path, N_PROMPT, n_gen, threads, llm=llm).as_row())
    del llm
pd.DataFrame(sweep).set_index(["model", "threads"]).round(1)

# %% [markdown]
# ## Summary
#
# - Prompt processing is compute-bound (a block of tokens per weight read); generation is memory-bound.
# - Ceiling: tokens/s = bandwidth / bytes read per token; real runs reach a share of it (the efficiency)
#   and pay a fixed time per layer, fitted per device class to published runs: most land within 20%
#   of a prediction that never saw their card, and a fast card gains less than its bandwidth on a small model.
# - Bytes per token = weights + the KV cache so far, so one setup has one speed *per context*: quote
#   the context with the speed (section 2's table, which notebooks 09 and 11-13 point to).
# - Every layer adds a fixed overhead; `SpeedModel` = bytes / (efficiency x bandwidth) + layers x overhead,
#   fitted once per machine, predicts the other sizes.
# - Thread count: up to the physical cores; past the memory-bus limit generation stops improving.
#
# ## Exercises
#
# **1.** Which phase is limited by memory bandwidth: `"prompt processing"` or `"generation"`?

# %%
from helpers.exercises.tokens_per_second import check_bound_phase, check_ceiling, check_overhead_speed

answer = None
check_bound_phase(answer)

# %% [markdown]
# **2.** A model reads 4.6 GB (4.6 x 10^9 bytes) per token on a card with 936 GB/s. What is the
# roofline *ceiling* in tokens/s (efficiency 1)?

# %%
answer = None
check_ceiling(answer, 4.6e9, 936)

# %% [markdown]
# **3.** On a laptop with 40 GB/s, llama.cpp reaches efficiency 0.5 and an overhead of 0.2 ms per
# layer. How many tokens/s for a 25-layer model that reads 400 MB (4 x 10^8 bytes) per token?

# %%
answer = None
check_overhead_speed(answer, 4e8, 40, 0.5, 0.0002, 25)
