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
# # 11 · Offload: when the model does not fit on the GPU, and when one machine is not enough
#
# A 70B model at 4 bits is about 42 GB (39.6 GiB); a gaming card has 24 GiB. llama.cpp still runs it: it keeps
# as many layers as fit in VRAM and the rest in system RAM (`n_gpu_layers`). This notebook predicts
# the speed of every such split from two bandwidths and two fixed per-layer times, checks two forum
# claims and the CPU side against your own machine, and then looks past one machine: several
# GPUs, several machines, and a workshop server for a room of learners.
#
# **Learning goals**
# - Compute time per token as GPU bytes / GPU bandwidth + CPU bytes / RAM bandwidth (with efficiencies), plus each side's per-layer time.
# - Read the curve of tokens/s against `n_gpu_layers`, and pick the best setting that fits.
# - Check an estimate against published llama.cpp figures, and spot a claim that is off.
# - Size a tensor split across GPUs, and RAM per learner for a JupyterHub workshop.
#
# **Time:** 30 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "Llama 3.1 70B"  # any name of data/models.csv
QUANT = "Q4_K_M"
CONTEXT = 4096  # tokens
GPU_NAME = "RTX 3090"  # a discrete GPU of data/gpus.csv
RAM_NAME = "CPU desktop DDR5-5600 dual-channel"  # a "cpu" row of data/gpus.csv

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. Times add
#
# Generating a token walks through the layers in order. The layers in VRAM are read at GPU bandwidth,
# the layers in RAM at system-RAM bandwidth, one after the other, and each side pays its fixed time
# for the layers it runs, so
#
#     seconds per token = GPU bytes / (e_gpu x GPU bandwidth) + GPU layers x t_gpu
#                       + CPU bytes / (e_cpu x RAM bandwidth) + CPU layers x t_cpu
#
# with each side's share of bandwidth reached (e) and time per layer (t) from its device class's
# speed model, fitted to published runs (notebook 10). Dual-channel DDR5 has a tenth of an RTX 3090's
# bandwidth (a quarter to a twentieth across the catalog's cards), so even a few layers left behind
# dominate the time.

# %%
import pandas as pd

from helpers.course.catalog import get_gpu, get_model
from helpers.hardware.device_speed import speed_model
from helpers.hardware.offload import best_fitting_point, offload_curve
from helpers.memory.vram import usable_gpu_bytes

arch, gpu, ram = get_model(MODEL).architecture, get_gpu(GPU_NAME), get_gpu(RAM_NAME)
gpu_model, ram_model = speed_model(gpu), speed_model(ram)
curve = offload_curve(arch, QUANT, CONTEXT, gpu.bandwidth_gbps, ram.bandwidth_gbps, gpu_model, ram_model)
best = best_fitting_point(curve, usable_gpu_bytes(gpu))
rows = [(p.n_gpu_layers, round(p.gpu_read_bytes / 1e9, 2), round(p.cpu_read_bytes / 1e9, 2),
         round(p.gpu_memory_bytes / 2**30, 2), round(p.tokens_per_second, 2))
        for p in curve if p.n_gpu_layers in (0, arch.n_layers // 4, best.n_gpu_layers, arch.n_layers + 1)]
print(f"{MODEL} {QUANT}, {CONTEXT} tokens on {GPU_NAME} ({usable_gpu_bytes(gpu) / 2**30:.0f} GiB usable, "
      f"{gpu.bandwidth_gbps:g} GB/s) + {RAM_NAME} ({ram.bandwidth_gbps:g} GB/s)")
pd.DataFrame(rows, columns=["n_gpu_layers", "GB read on GPU", "GB read from RAM", "GPU memory (GiB)",
                            "tokens/s"]).set_index("n_gpu_layers")

# %% [markdown]
# ## 2. The curve
#
# Every setting from all-CPU to all-GPU. The curve is flat for most of its length and shoots up only
# at the end: speed is set by the slowest part, and as long as a good share of the bytes sits in RAM,
# that is RAM. Only the points that fit the card (dots) are possible.

# %%
import matplotlib.pyplot as plt

from helpers.widgets.hardware import offload_app, offload_figure

offload_figure(MODEL, QUANT, CONTEXT, GPU_NAME, RAM_NAME)
plt.show()

# %% tags=["nbval-ignore-output"]
offload_app()

# %% [markdown]
# ### Mixtures of experts: offload experts, not layers
#
# A mixture of experts reads only the experts each token is routed to (Qwen3 30B-A3B: 8 of 128 per
# block), wherever they are: in either kind of split the CPU reads only a sixteenth of the expert
# bytes it holds. Layer offload (`--n-gpu-layers`) moves whole blocks, attention and KV cache
# included; llama.cpp's `--n-cpu-moe N` keeps only the experts of the first N blocks in system RAM
# and all the rest (attention, router, KV cache, output) on the GPU. The two curves below trade GPU
# memory for speed; the dashed line is what the card can use.

# %%
from helpers.hardware.offload import expert_offload_curve

moe_name, moe_quant, moe_gpu = "Qwen3 30B-A3B", "Q4_K_M", get_gpu("RTX 4060 Ti 16GB")
moe = get_model(moe_name).architecture
by_layers = offload_curve(moe, moe_quant, CONTEXT, moe_gpu.bandwidth_gbps, ram.bandwidth_gbps, speed_model(moe_gpu),
                          ram_model)
by_experts = expert_offload_curve(moe, moe_quant, CONTEXT, moe_gpu.bandwidth_gbps, ram.bandwidth_gbps,
                                  speed_model(moe_gpu), ram_model)
fig, ax = plt.subplots()
ax.plot([p.gpu_memory_bytes / 2**30 for p in by_layers], [p.tokens_per_second for p in by_layers],
        label="--n-gpu-layers 0 ... all")
ax.plot([p.gpu_memory_bytes / 2**30 for p in by_experts], [p.tokens_per_second for p in by_experts],
        label="all layers, --n-cpu-moe 48 ... 0")
ax.axvline(usable_gpu_bytes(moe_gpu) / 2**30, linestyle="--", color="grey", label=f"{moe_gpu.name} usable")
ax.set_yscale("log")
ax.set_xlabel("GPU memory (GiB, 2³⁰ bytes)")
ax.set_ylabel("estimated tokens/s (log scale)")
ax.set_title(f"{moe_name} {moe_quant}, {CONTEXT} tokens, {RAM_NAME}")
ax.legend()
plt.show()
fits = usable_gpu_bytes(moe_gpu)
print(f"best layer split that fits: {best_fitting_point(by_layers, fits).tokens_per_second:.1f} tokens/s; "
      f"best expert split that fits: {max(p.tokens_per_second for p in by_experts if p.gpu_memory_bytes <= fits):.1f} "
      "tokens/s")

# %% [markdown]
# At equal GPU memory the expert split is faster: what it leaves in RAM is only experts, of which a
# token reads a sixteenth, while the layer split also leaves attention and KV cache there, read in
# full. Both are far faster than a dense model of the same size split the same way (notebook 09 has
# the table, and gpt-oss-120b on a 24 GB card). The estimate ignores the CPU's own arithmetic on the
# experts it holds, so measure before relying on it.

# %% [markdown]
# ## 3. Two forum claims, checked
#
# Two figures you will meet: "Llama 3.1 8B Q4_K_M on an RTX 3090: about 40 tokens/s" and "70B Q4_K_M
# on a 24 GB card with DDR5 offload: about 3 tokens/s". Here is the estimator beside them, and
# beside a published llama-bench run of the first (notebook 10 sets the speed model against every
# published run, by device class; the RTX 3090's class, NVIDIA consumer cards, is within about 15%
# for 90% of its runs).

# %%
from helpers.hardware.published_speeds import load_published_speeds

small = get_model("Llama 3.1 8B").architecture
seed_8b = offload_curve(small, "Q4_K_M", CONTEXT, get_gpu("RTX 3090").bandwidth_gbps, ram.bandwidth_gbps,
                        speed_model(get_gpu("RTX 3090")), ram_model)[-1]
seed_70b = best_fitting_point(offload_curve(get_model("Llama 3.1 70B").architecture, "Q4_K_M", CONTEXT,
                                            get_gpu("RTX 3090").bandwidth_gbps, ram.bandwidth_gbps,
                                            speed_model(get_gpu("RTX 3090")), ram_model),
                              usable_gpu_bytes(get_gpu("RTX 3090")))
measured_8b = next(r for r in load_published_speeds() if r.device == "RTX 3090" and r.model == "Llama 3.1 8B"
                   and r.mix == "Q4_K_M" and r.mean_context_tokens == CONTEXT)
pd.DataFrame([(f"Llama 3.1 8B Q4_K_M, RTX 3090, all layers, {CONTEXT:,} tokens of context", 40,
               round(seed_8b.tokens_per_second, 1), measured_8b.tokens_per_second),
              (f"Llama 3.1 70B Q4_K_M, RTX 3090 + DDR5, best split, {CONTEXT:,} tokens of context", 3,
               round(seed_70b.tokens_per_second, 1), None)],
             columns=["claim", "claimed (tokens/s)", "estimate (tokens/s)",
                      f"published llama-bench {measured_8b.test}, mean context {CONTEXT:,} (tokens/s)"]).set_index("claim")

# %%
print(f"70B: the estimate with the best split that fits is {seed_70b.tokens_per_second:.1f} tokens/s against the "
      f"claimed 3: the bytes left in RAM cost most of the time.\n"
      f"8B: the whole model sits in VRAM; at {CONTEXT:,} tokens of context the estimate is "
      f"{seed_8b.tokens_per_second / 40:.1f} times and the published llama-bench run "
      f"{measured_8b.tokens_per_second / 40:.1f} times the claimed 40 tokens/s.")

# %% [markdown]
# A speed figure without its conditions is half a figure. When *is* 40 tokens/s right for an 8B
# model on a 3090? Each generated token reads the weights **and the whole KV cache so far**, so the
# same model slows down as the conversation grows (notebook 10, section 2, has the table by
# context), and an unquantized (F16) model reads over three times the bytes of Q4_K_M. The curve below is the same
# estimator, one context length at a time, with the best split that fits
# (`helpers.hardware.ranking.assess_device`, which notebook 12 uses to rank cards).

# %%
import matplotlib.pyplot as plt

from helpers.hardware.ranking import assess_device

contexts = [1024, 4096, 16384, 32768, 65536, 98304, 131072]
card = get_gpu("RTX 3090")
fig, ax = plt.subplots(figsize=(7, 3.5))
for mix in ["Q4_K_M", "Q8_0", "F16"]:
    speeds = [assess_device(small, mix, c, card, ram.bandwidth_gbps).tokens_per_second for c in contexts]
    ax.plot([c / 1024 for c in contexts], speeds, "o-", label=f"Llama 3.1 8B {mix}")
ax.axhline(40, color="gray", ls="--", label="the claimed 40 tokens/s")
ax.set(xscale="log", xlabel="tokens in the context (thousands)", ylabel="estimated tokens/s",
       title="Llama 3.1 8B on an RTX 3090: speed falls as the context fills")
ax.set_xticks([1, 4, 16, 32, 64, 96, 128], labels=["1", "4", "16", "32", "64", "96", "128"])
ax.legend(fontsize=8)
plt.show()

# %%
from helpers.hardware.device_speed import speed_by_context

f16_short = assess_device(small, "F16", contexts[0], card, ram.bandwidth_gbps)
q4_slow = next(r for r in speed_by_context(small, "Q4_K_M", card, range(4096, 131073, 4096)) if r.tokens_per_second <= 40)
q4_fits = assess_device(small, "Q4_K_M", q4_slow.context_tokens, card, ram.bandwidth_gbps).fits_entirely
print(f"F16 at {contexts[0]:,} tokens of context: {f16_short.tokens_per_second:.1f} tokens/s "
      f"({'all on the GPU' if f16_short.fits_entirely else 'partly in RAM'}).\n"
      f"Q4_K_M reaches 40 tokens/s only at about {q4_slow.context_tokens:,} tokens of context "
      f"({q4_slow.kv_cache_bytes / 1e9:.1f} GB of KV cache beside {q4_slow.weight_bytes / 1e9:.1f} GB of weights, "
      f"{'still all on the GPU' if q4_fits else 'partly in RAM'}).")

# %% [markdown]
# So 40 tokens/s is about what the unquantized (F16) model gives with a short context, or Q4_K_M with
# a very long context already in the cache (an extrapolation: the estimate ran 20-30% above notebook
# 10's published long-context runs, so 40 tokens/s comes sooner than the printed context), or a run
# that was not fully on the GPU (a CPU-only build, or llama-cpp-python's `n_gpu_layers` left at its
# default, 0): exactly the slowness notebook 18 teaches to diagnose. Where
# a line drops steeply, the KV cache no longer fits beside the weights and layers move to RAM.
#
# ## 4. The CPU side, measured here
#
# With `n_gpu_layers=0` only the CPU side is left: notebook 10's speed model. We measure it on this
# machine with a random-weight SmolLM2 360M (built once under `build/`) and set it beside the CPU
# side of the formula, with the published CPUs' constants at this machine's bandwidth.

# %% tags=["nbval-ignore-output"]
import psutil

from helpers.course.paths import BUILD_DIR
from helpers.gguf.random_weights import cached_random_gguf
from helpers.hardware.machine import bandwidth_buffer_bytes, load_machine_card, measure_copy_bandwidth
from helpers.hardware.measured_speed import load_llama, measure_speed
from helpers.hardware.offload import offload_seconds_per_token
from helpers.memory.gguf_size import bytes_read_per_token

card = load_machine_card()
here_bw = card.bandwidth_gbps_one_thread if card else measure_copy_bandwidth(
    bandwidth_buffer_bytes(psutil.virtual_memory().available), threads=1)  # no machine card yet: measure now
small_model = get_model("SmolLM2 360M").architecture
path = cached_random_gguf(small_model, "Q4_K_M", BUILD_DIR / "speed")
llm = load_llama(path, 1, 96)
r = measure_speed(path, 32, 16, 1, llm=llm)
cpu_bytes = bytes_read_per_token(small_model, "Q4_K_M")
print(f"measured {r.generation_tokens_per_second:.1f} tok/s with 1 thread; the CPU side predicts "
      f"{1 / offload_seconds_per_token(0, cpu_bytes, 1, here_bw, gpu_model, ram_model, 0, small_model.n_layers):.1f} "
      f"tok/s at {here_bw:.1f} GB/s ({'the machine card' if card else 'measured now'}, one thread; constants "
      "fitted to other people's CPUs, most with many threads: notebook 10 fits them to this machine)")

# %% [markdown]
# ## 5. Beyond one machine
#
# When even the best split is too slow, add GPUs. Existing engines do the splitting:
#
# - **llama.cpp `--tensor-split 1,1`** (with `--split-mode layer`, the default) puts half the layers on
#   each GPU. Memory divides, but the GPUs take turns, so speed is about that of *one* GPU holding
#   everything: `sequential_seconds_per_token` adds their times.
# - **llama.cpp RPC backend** (`rpc-server` on other machines, `--rpc host:port`) does the same across
#   the network; each token's activations cross the network once per machine boundary.
# - **vLLM `--tensor-parallel-size 2`** splits every matrix: both GPUs read their half at the same
#   time, so the reading time halves; the per-layer time does not (each GPU still runs every layer),
#   and an all-reduce per layer is added on top, so a small model gains little.

# %%
from helpers.hardware.offload import sequential_seconds_per_token, tensor_split_bytes
from helpers.memory.vram import kv_cache_bytes, memory_plan

plan = memory_plan(arch, QUANT, CONTEXT, -1)
per_gpu = tensor_split_bytes(plan.weights_gpu + plan.kv_gpu, [1, 1])
read = bytes_read_per_token(arch, QUANT) + kv_cache_bytes(arch, CONTEXT)
halves = [(b, gpu.bandwidth_gbps, gpu_model, arch.n_layers // 2) for b in tensor_split_bytes(read, [1, 1])]
layer_split = 1 / sequential_seconds_per_token(halves)  # the GPUs take turns, each with half the layers
reading = sum(gpu_model.seconds_for(b, gpu.bandwidth_gbps, 0) for b, *_ in halves)
tensor_parallel = 1 / (reading / 2 + gpu_model.seconds_for(0, gpu.bandwidth_gbps, arch.n_layers))
pd.DataFrame([("weights + KV per GPU (GiB)", round(per_gpu[0] / 2**30, 2)),
              ("+ compute buffer and runtime on each (GiB)",
               round((per_gpu[0] + plan.compute_gpu + plan.overhead_gpu) / 2**30, 2)),
              (f"{GPU_NAME} usable (GiB)", round(usable_gpu_bytes(gpu) / 2**30, 2)),
              ("layer split, estimated tok/s", round(layer_split, 1)),
              ("tensor parallel (reading halved, every layer on both), tok/s, before communication",
               round(tensor_parallel, 1))],
             columns=[f"{MODEL} {QUANT} on 2 x {GPU_NAME}", "value"]).set_index(f"{MODEL} {QUANT} on 2 x {GPU_NAME}")

# %% [markdown]
# **What crosses the link, per token.** A layer split sends the token's hidden state once per
# boundary between devices: 8,192 numbers for a 70B model, in F32 for llama.cpp (its RPC backend
# across machines does the same). Tensor parallel sums partial results after the attention and
# after the feed-forward block of *every* layer: 2 x 80 all-reduces per token for the 70B, each
# a message that waits for the slowest link. Per token a link costs bytes / bandwidth plus one
# latency per message. Latencies here are assumptions (`LATENCY_US`): microseconds inside one
# machine, tens of microseconds over a LAN; bandwidths from each link's specification
# (`data/interconnects.csv`). Each split's tokens/s adds the link's time to the GPUs' work from the
# table above (the tensor-parallel work is before communication there; here it is paid).

# %%
from helpers.hardware.distributed import (
    layer_split_traffic,
    llama_cpp_rpc_command,
    load_interconnects,
    tensor_parallel_traffic,
    vllm_command,
)

LATENCY_US = {"inside a server": 5, "inside a machine": 5, "between servers": 20, "between machines": 50}
splits = {"layer split": (layer_split_traffic(arch, 2), 1 / layer_split),  # (traffic, seconds of work per token)
          "tensor parallel": (tensor_parallel_traffic(arch, 2), 1 / tensor_parallel)}
for name, (traffic, work_s) in splits.items():
    print(f"{name}: {traffic.bytes_per_token / 1024:,.0f} KiB in {traffic.messages_per_token} message(s) per token, "
          f"{work_s * 1e3:.1f} ms of work on the GPUs ({MODEL}, 2 x {GPU_NAME})")
rows = []
for link in load_interconnects().values():
    latency = LATENCY_US[link.scope] * 1e-6
    row = {"link": link.name, "GB/s": link.gb_per_s, "latency (µs, assumed)": LATENCY_US[link.scope]}
    for name, (traffic, work_s) in splits.items():
        seconds = traffic.seconds_per_token(link, latency)
        row[f"{name}: link ms per token"] = round(seconds * 1e3, 2)
        row[f"{name}: tokens/s"] = round(1 / (work_s + seconds), 1)
    (layer, layer_s), (tensor, tensor_s) = splits.values()  # latency at which both take as long per token:
    row["tensor parallel wins below (µs per message)"] = round(
        (layer_s + layer.seconds_per_token(link, 0) - tensor_s - tensor.seconds_per_token(link, 0))
        / (tensor.messages_per_token - layer.messages_per_token) * 1e6)
    rows.append(row)
pd.DataFrame(rows).set_index("link")

# %% [markdown]
# A layer split barely uses the link: even Gigabit Ethernet carries its 32 KiB in a third of a
# millisecond. But the devices take turns, so it adds memory, not speed, for one conversation; it
# pays when the model does not fit on one machine, and for a server with many requests in flight,
# whose stages work on different requests at once (pipeline parallel). Tensor parallel is what
# makes one conversation faster (every device reads its share at the same time), and it needs the
# fast links: inside a machine its 160 messages cost under a millisecond and it keeps nearly all
# its gain. Over Ethernet the megabytes and the latency of every message eat into it, and the last
# column says how much latency per message it can afford before the layer split is as fast: about
# 140 microseconds on every link down to 10 Gigabit Ethernet, barely 15 on Gigabit Ethernet, where
# the bytes alone take most of the gain. A message through the network stack of two
# ordinary machines often takes tens to hundreds of microseconds, so the assumption decides the
# verdict there: measure your own (`ping` gives a lower bound). So: tensor parallel inside a
# machine, layers (pipeline) across machines, as vLLM's own guide advises. A prompt sends the same per *prompt* token, so a 512-token batch moves
# 512 times the bytes in the same number of messages. The command lines, from each engine's
# documentation:

# %%
print("\n".join(vllm_command("meta-llama/Llama-3.1-70B-Instruct", gpus_per_node=4)))
print()
print("\n".join(vllm_command("meta-llama/Llama-3.1-70B-Instruct", gpus_per_node=8, nodes=2)))
print()
print("\n".join(llama_cpp_rpc_command("Llama-3.1-70B-Instruct-Q4_K_M.gguf", ["192.168.1.10:50052", "192.168.1.11:50052"])))

# %% [markdown]
# `rpc-server` listens without authentication: run it only on a network you trust. The course's own
# llama.cpp tools are built without the RPC backend (`-DGGML_RPC=ON` adds it); vLLM's guide is at
# https://docs.vllm.ai/en/latest/serving/parallelism_scaling/ and llama.cpp's RPC notes in its
# `tools/rpc/README.md`.
#
# **A workshop server.** With JupyterHub (or a Binder deployment) every learner gets a kernel; each
# kernel that loads a model holds its own copy in RAM (llama.cpp maps the file read-only, so the
# page cache can share the weights between kernels on one machine, but KV cache and buffers are
# per kernel). A safe plan counts each learner's whole memory plan plus the kernel itself. That is the
# memory ceiling only: so many learners generating at once share the cores and the memory bus, and
# notebook 14 sizes a room by how busy the server gets.

# %%
from helpers.hardware.offload import learners_per_server

KERNEL_BYTES = 300 * 2**20  # a Python kernel with numpy, pandas and llama_cpp imported: about 300 MiB RSS
workshop = get_model("SmolLM2 360M").architecture
per_learner = memory_plan(workshop, "Q8_0", 2048, 0).cpu_total + KERNEL_BYTES
rows = [(f"{gib} GiB server", learners_per_server(gib * 2**30, per_learner, 4 * 2**30)) for gib in (32, 64, 128, 256)]
print(f"SmolLM2 360M Q8_0, 2048 tokens: {per_learner / 2**30:.2f} GiB per learner (4 GiB kept for the system)")
pd.DataFrame(rows, columns=["server", "learners"]).set_index("server")

# %% [markdown]
# ## Summary
#
# - Split models: the GPU part and the RAM part take turns, so their *times* add; RAM usually dominates.
# - The tokens/s curve against `n_gpu_layers` is flat until nearly everything is on the GPU.
# - Each side of a split uses its own device class's speed model, fitted to published runs (notebook 10).
#   The "8B on a 3090 at 40 tokens/s" claim is far too low for Q4_K_M with a short context: it fits
#   F16, a very long context, or a run not on the GPU.
# - More GPUs: a layer split divides memory, not time; tensor parallelism (vLLM) divides the memory
#   and the reading time, while the per-layer time and the all-reduces remain.
# - A workshop server is sized by memory per learner: model plan + kernel.
#
# ## Exercises
#
# **1.** A split puts 9 GB (9 x 10^9 bytes) on a 900 GB/s GPU and 1 GB in 50 GB/s RAM; take
# efficiency 1 on both and no per-layer time. How many tokens/s?

# %%
from helpers.exercises.offload import check_offload_speed, check_per_gpu_gib

answer = None
check_offload_speed(answer, 9e9, 1e9, 900, 50, 1, 1)

# %% [markdown]
# **2.** 40 GiB of weights, `--tensor-split 1,1` over two GPUs: how many GiB of weights on each?

# %%
answer = None
check_per_gpu_gib(answer, 40 * 2**30, 2)
