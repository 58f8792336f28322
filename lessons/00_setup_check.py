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
# # 00 · Setup check: what is this machine?
#
# Before running any model, an operator asks three questions about the machine: **how much memory**
# (decides what fits), **which accelerator** (decides where the model runs) and **how fast memory
# is** (decides how many tokens per second you get). This notebook answers them for *your* machine
# and saves the answers to a *machine card* that later notebooks read, so their estimates are about
# your hardware, not someone else's.
#
# **Learning goals**
# - Find your CPU, cores, RAM and GPU (NVIDIA, AMD or Apple), and know that no GPU is a normal case.
# - Check that the course's libraries are installed, and which versions.
# - Measure your memory bandwidth in GB/s and see why it caps text-generation speed.
# - Record llama.cpp's speed on the real chat model once, with its range, for later notebooks to read.
# - Tell GB (10⁹ bytes) from GiB (2³⁰ bytes).
#
# **Time:** 10 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
BANDWIDTH_REPEATS = 5  # memory-copy timings; the best one counts

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. Inspect the machine
#
# `describe_machine` reads the operating system's own reports (`/proc/cpuinfo`, `psutil`), asks the
# GPU vendors' tools (`nvidia-smi`, `rocm-smi`; on a Mac the Apple chip), and times memory copies.
# Your values will differ from the ones stored in this notebook: those were measured on whichever
# machine last ran it (the banner under the parameters cell says it was a quick run).

# %% tags=["nbval-ignore-output"]
import pandas as pd

from helpers.hardware.machine import describe_machine, gpu_report, machine_summary

card = describe_machine(repeats=2 if QUICK else BANDWIDTH_REPEATS)
pd.DataFrame(machine_summary(card), columns=["what", "value"]).set_index("what")

# %% [markdown]
# ## 2. GPU or not?
#
# A GPU has its own fast memory (VRAM). A model whose weights fit in VRAM runs far faster than one
# in system RAM, because GPU memory moves several times more bytes per second. Apple silicon is
# different: CPU and GPU share one *unified* memory pool. With no GPU, everything runs on the CPU,
# and every notebook here still works.

# %% tags=["nbval-ignore-output"]
print(gpu_report(card))

# %% [markdown]
# ## 3. The libraries this course uses

# %% tags=["nbval-ignore-output"]
pd.DataFrame(sorted(card.libraries.items()), columns=["package", "version"]).set_index("package")

# %% [markdown]
# ## 4. Is everything the course needs in place?
#
# The same report as `python course.py check` in a terminal: each package with its version, llama.cpp's
# own tools, the real chat model checked byte for byte, which backend your llama.cpp was built with (CPU,
# CUDA, Metal, Vulkan, ROCm, SYCL) and whether a GPU on this machine could take over. A line marked
# MISSING ends with the command that fixes it; run it in a terminal in the course folder. llama.cpp's
# tools are built apart from the rest, so the first notebook need not wait for them: until
# `python course.py tools` has run, their line reads MISSING, and only notebooks 04, 14 and 20 use
# them (20 stops without them).

# %% tags=["nbval-ignore-output"]
from helpers.course.setup_report import format_report
from helpers.troubleshooting.setup_check import setup_checks

print(format_report(setup_checks()))

# %% [markdown]
# ## 5. Memory bandwidth: the number behind tokens per second
#
# To generate **one** token, a language model reads **all** of its weights from memory once. So the
# fastest possible generation speed is roughly
#
# $$\text{tokens/s} \le \frac{\text{memory bandwidth (GB/s)}}{\text{model size (GB)}}$$
#
# We measure bandwidth the way the STREAM benchmark does ([STREAM](https://www.cs.virginia.edu/stream/)):
# copy a large array (much larger than the CPU caches) and count each byte twice, once read and once
# written, and keep the best of several copies (the ceiling, not the average). One thread and all
# physical cores take turns over a few rounds, so that a busy moment of the machine hits both alike;
# the figure is the best round, the range under the plot shows how much the rounds moved. On many
# machines one thread cannot saturate the memory bus and all cores together get closer to what
# llama.cpp achieves; on others (a small virtual machine, or one busy with other work) the two come
# out close. The last line under the plot says which case this machine is.

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

labels = ["1 thread", f"{card.physical_cores} threads"]
values = [card.bandwidth_gbps_one_thread, card.bandwidth_gbps_all_threads]
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.barh(labels, values, color=["#9ecae1", "#3182bd"])
ax.set_xlabel("memory copy bandwidth (GB/s, 10⁹ bytes per second)")
ax.set_title("Measured on this machine")
for y, v in enumerate(values):
    ax.text(v, y, f" {v:.1f}", va="center")
plt.show()
for threads, rounds in card.bandwidth_rounds_gbps.items():
    print(f"{threads} thread(s): {len(rounds)} rounds, {min(rounds):.1f} to {max(rounds):.1f} GB/s")
gain = card.bandwidth_gbps_all_threads / card.bandwidth_gbps_one_thread
if gain > 1.15:
    verdict = "the extra cores add bandwidth here."
elif gain >= 0.9:
    verdict = "about the same: one thread already takes most of what this memory bus gives."
else:
    verdict = "slower: other work held the cores while this ran; run the cell again when the machine is idle."
print(f"{card.physical_cores} threads copy {gain:.2f}x as fast as one thread: {verdict}")

# %% [markdown]
# What does that mean for a model? The table uses the bandwidth just measured and a few common
# model file sizes (GGUF files at 4-bit quantization; later notebooks compute these sizes exactly).

# %% tags=["nbval-ignore-output"]
from helpers.course.catalog import get_model
from helpers.hardware.roofline import generation_ceiling_tokens_per_second
from helpers.memory.gguf_size import gguf_file_size

model_sizes_gb = {f"{name} Q4_K_M": round(gguf_file_size(get_model(name).architecture, "Q4_K_M").total_gb, 2)
                  for name in ("Llama 3.2 1B", "Llama 3.1 8B", "Qwen2.5 32B")}
pd.DataFrame(
    [(name, size, generation_ceiling_tokens_per_second(size * 1e9, card.best_bandwidth_gbps))
     for name, size in model_sizes_gb.items()],
    columns=["model", "file size (GB)", "ceiling (tokens/s)"],
).set_index("model").round(1)

# %% [markdown]
# ## 6. llama.cpp on this machine: the reference speeds
#
# Bandwidth sets a ceiling; what llama.cpp reaches under it is measured. The course's real chat
# model (SmolLM2-135M-Instruct, a Q4_1 file, notebook 03) reads a 64-token prompt and generates 32
# tokens, with 1 thread and with every physical core, taking turns (1, N, 1, N, ...) over a few
# rounds. The card keeps the median, lowest and highest of each: these are *your machine's*
# figures. Later notebooks read them instead of measuring again, and set any new measurement
# beside them. Close other programs first: a busy machine makes slow, scattered figures.

# %% tags=["nbval-ignore-output"]
from helpers.hardware.measured_speed import compare_thread_counts, interleaved_speeds, speeds_for_card
from helpers.llm.chat_model import chat_model_path

runs = interleaved_speeds(chat_model_path(), sorted({1, card.physical_cores}), repeats=3 if QUICK else 7,
                          prompt_tokens=64, generated_tokens=32)
card.llama_cpp_speeds = speeds_for_card(runs)
if len(runs) > 1:
    for phase in ("prompt", "generation"):
        print(compare_thread_counts(runs, phase))
pd.DataFrame(card.llama_cpp_speeds["threads"]).T.rename_axis("threads").round(1)

# %% [markdown]
# On an idle machine more threads give more prompt speed, and generation gains until the memory bus
# is full. If all cores come out *slower* than one, or a range spans more than about a third of its
# median, something else was using the cores while this ran: close it and run this section again,
# because later notebooks read these figures.

# %% [markdown]
# ## 7. Save the machine card
#
# Later notebooks read this JSON file to personalise estimates. Run this notebook again after a
# hardware or driver change, or when the machine was busy while it ran.

# %% tags=["nbval-ignore-output"]
from helpers.course.paths import relative_to_repo
from helpers.hardware.machine import save_machine_card

print("machine card written to", relative_to_repo(save_machine_card(card)))

# %% [markdown]
# ## Summary
#
# - RAM (and VRAM, if you have a GPU) decides **what fits**; memory bandwidth decides **how fast**.
# - No GPU is a normal, supported case: the course runs on any recent CPU.
# - Bandwidth is measured in GB/s (10⁹ bytes/s); memory sizes are usually reported in GiB (2³⁰ bytes).
# - The machine card in `build/machine_card.json` carries these numbers to later notebooks: the
#   bandwidth and llama.cpp's speeds on the real chat model, each measured once, in turns, with its range.
#
# ## Exercises
#
# Replace `None` with your answer and run the cell; the check explains what is off.
#
# **1.** How much RAM does this machine have in total, in **GiB**? (`card.ram_total_bytes` is in bytes.)

# %%
from helpers.exercises.setup_check import check_fits_in_ram, check_ram_in_gib, check_token_ceiling

answer = None
check_ram_in_gib(answer, card.ram_total_bytes)

# %% [markdown]
# **2.** A Llama 3.1 8B file at Q4_K_M is `model_sizes_gb["Llama 3.1 8B Q4_K_M"]` GB (the table above).
# Using the *best* bandwidth you measured
# (`card.best_bandwidth_gbps`), what is the most tokens per second this machine could generate with it?

# %%
answer = None
check_token_ceiling(answer, card.best_bandwidth_gbps, model_sizes_gb["Llama 3.1 8B Q4_K_M"],
                    card.bandwidth_gbps_one_thread)

# %% [markdown]
# **3.** Would the weights of Qwen2.5 32B at Q4_K_M (`model_sizes_gb["Qwen2.5 32B Q4_K_M"]` GB) fit in the RAM
# available right now (`card.ram_available_bytes`)? Answer `True` or `False`.

# %%
answer = None
check_fits_in_ram(answer, int(model_sizes_gb["Qwen2.5 32B Q4_K_M"] * 1e9), card.ram_available_bytes)
