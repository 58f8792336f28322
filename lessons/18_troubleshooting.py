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
# # 18 · Troubleshooting: out of memory, slow generation, drivers and broken files
#
# Local models fail in a handful of ways, and each has a message that looks cryptic until you have
# seen it once. This notebook is the "seen it once": the exact text llama.cpp, llama-cpp-python and
# PyTorch print, what it means and the fix, then a doctor that reads your machine card and your
# settings and tells you what will go wrong *before* you load anything. Two real failures are
# triggered on purpose, safely, so you see them happen.
#
# **Learning goals**
# - Recognise the common failures from their text: GPU out of memory, CPU-only builds, driver and ROCm problems, Metal memory, truncated or unknown GGUF files, context overflow.
# - Explain slow generation: CPU fallback, too few layers offloaded, too many threads, throttling.
# - Run the doctor on your machine and settings, and read its findings.
# - Guard loads so a broken file fails with a clear message instead of a crash.
#
# **Time:** 25 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL = "Llama 3.1 8B"  # any name of data/models.csv, for the doctor
QUANT = "Q4_K_M"
CONTEXT = 8192  # tokens
N_GPU_LAYERS = -1  # -1: all layers
THREADS = 8

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

# %% [markdown]
# ## 1. The catalogue: symptom, diagnosis, fix
#
# `data/troubleshooting.json` quotes each message from the program that prints it (source link per
# row; numbers inside a message change from run to run).

# %%
import pandas as pd

from helpers.troubleshooting.doctor import load_troubleshooting

catalogue = load_troubleshooting()
pd.DataFrame([(e["id"], e["category"], e["symptom"].splitlines()[0]) for e in catalogue.values()],
             columns=["id", "category", "what you see"]).set_index("id")

# %% [markdown]
# Each entry also says where it appears, what it means and what to do, for example:

# %%
for key in ("no_gpu_build", "cuda_oom_llama_cpp", "gguf_truncated"):
    e = catalogue[key]
    print(f"[{key}]\n  symptom:   {e['symptom'].splitlines()[0]}\n  diagnosis: {e['diagnosis']}\n  fix:       {e['fix']}\n")

# %% [markdown]
# ## 2. Why is it slow?
#
# Slowness has no error message, so it pays to know the usual suspects, in the order to check them:
#
# 1. **CPU fallback**: the GPU is there but llama.cpp was built without it (`no_gpu_build`), or
#    `n_gpu_layers` was left at 0. Speed then follows system-RAM bandwidth (notebook 10).
# 2. **Too few layers offloaded**: the layers left in RAM set the pace (notebook 11's offload curve).
# 3. **Wrong thread count**: more threads than physical cores makes llama.cpp slower, not faster
#    (notebook 10 sweeps the thread count on your machine).
# 4. **Thermal or power limits**: speed falls after a few minutes; check clocks and power draw.
#
# The estimate tells you which one you have: if measured tokens/s is far below the bandwidth
# estimate for where the layers *should* be, the layers are not where you think.

# %%
for key in ("slow_partial_offload", "slow_threads", "slow_thermal"):
    print(f"[{key}] {catalogue[key]['diagnosis']}\n  fix: {catalogue[key]['fix']}\n")

# %% [markdown]
# How much slower is system RAM? Generation reads every weight once per token, so the ratio of
# bandwidths is the ratio of speeds for the layers in each place (`data/gpus.csv`, sources per row):

# %%
from helpers.course.catalog import get_gpu

ram = ["CPU desktop DDR4-3200 dual-channel", "CPU desktop DDR5-5600 dual-channel"]
vram = ["RTX 3060 12GB", "RTX 3090", "RTX 4090"]
pd.DataFrame({f"{g} ({get_gpu(g).bandwidth_gbps:,.0f} GB/s)": {f"{r} ({get_gpu(r).bandwidth_gbps:.1f} GB/s)":
              f"{get_gpu(g).bandwidth_gbps / get_gpu(r).bandwidth_gbps:.0f}x" for r in ram} for g in vram})

# %% [markdown]
# ## 3. The doctor: what will go wrong, before it does
#
# `helpers.troubleshooting.doctor.diagnose` takes a machine card and the settings (model, quant, context,
# `n_gpu_layers`, threads) and returns findings with a severity. First on made-up machines, so you
# see each kind of finding:

# %%
import dataclasses

from helpers.course.catalog import get_model
from helpers.hardware.machine import GPU, MachineCard
from helpers.troubleshooting.doctor import diagnose

GIB = 2**30
laptop = MachineCard(os="Linux", python="3.11", cpu_model="4-core laptop", physical_cores=4, logical_cores=8,
                     ram_total_bytes=16 * GIB, ram_available_bytes=12 * GIB)
cards = {
    "laptop, no GPU": laptop,
    "RTX 3060 12GB, CPU-only llama.cpp": dataclasses.replace(laptop, gpus=[GPU("NVIDIA", "RTX 3060", 12 * GIB, "CUDA")]),
    "RTX 3060 12GB, CUDA build": dataclasses.replace(laptop, gpus=[GPU("NVIDIA", "RTX 3060", 12 * GIB, "CUDA")],
                                                     llama_cpp_gpu_offload=True),
}
arch = get_model(MODEL).architecture
rows = []
for label, card in cards.items():
    for f in diagnose(card, arch, QUANT, CONTEXT, N_GPU_LAYERS, THREADS):
        rows.append((label, f.severity, f.code, f.message))
pd.DataFrame(rows, columns=["machine", "severity", "code", "finding"]).set_index(["machine", "severity"])

# %% [markdown]
# And with a context beyond what the model was trained for, on the GPU machine. llama.cpp allocates
# the cache for the context you ask for (with a warning), so the doctor plans that context too:

# %%
for f in diagnose(cards["RTX 3060 12GB, CUDA build"], arch, QUANT, 2 * arch.max_context, N_GPU_LAYERS, 4):
    print(f"{f.severity:8s}{f.code}: {f.message}\n        fix: {f.fix}")

# %% [markdown]
# Now your own machine, from the card notebook 00 saved (your findings will differ from the stored
# ones):

# %% tags=["nbval-ignore-output"]
from helpers.hardware.machine import describe_machine, load_machine_card

card = load_machine_card() or describe_machine(measure_bandwidth=False)
print(f"{card.cpu_model}: {card.physical_cores} physical cores, {card.ram_available_bytes / GIB:.1f} GiB RAM available, "
      f"GPU: {', '.join(g.name for g in card.gpus) or 'none'}")
for f in diagnose(card, arch, QUANT, CONTEXT, N_GPU_LAYERS, THREADS):
    print(f"{f.severity:8s}{f.code}: {f.message}\n        fix: {f.fix}")

# %% [markdown]
# ## 4. Two real failures, triggered safely
#
# We write a tiny random-weight GGUF (2 blocks, a few hundred kB), then cut it in half as an
# interrupted download would.

# %%
from helpers.course.paths import BUILD_DIR
from helpers.gguf.random_weights import write_random_gguf
from helpers.memory.architecture import Architecture

folder = BUILD_DIR / "troubleshooting"
tiny = Architecture("tiny", n_layers=2, hidden=64, ffn=128, n_heads=4, n_kv_heads=2, head_dim=16, vocab=320,
                    max_context=256)
good = write_random_gguf(tiny, folder / "tiny.gguf", seed=SEED)
data = good.read_bytes()
broken = folder / "tiny_truncated.gguf"
broken.write_bytes(data[: len(data) // 2])
print(f"good file {len(data):,} bytes, truncated copy {broken.stat().st_size:,} bytes")

# %% [markdown]
# **Failure 1: a truncated file.** The guarded loader (`helpers.gguf.header.read_header`) reads only the
# header and compares the file size with where the tensor data should end, so it refuses the file
# before llama.cpp sees it. Without the guard, llama.cpp itself refuses it too (it prints the
# "not within the file bounds" line on the terminal) and llama-cpp-python raises a `ValueError`.

# %%
from helpers.gguf.header import read_header

try:
    read_header(broken)
except ValueError as err:
    print("guarded loader:", type(err).__name__, "-", err)

# %%
import llama_cpp

try:
    llama_cpp.Llama(str(broken), n_ctx=64, verbose=False)
except ValueError as err:
    print("llama-cpp-python:", type(err).__name__, "-", str(err).replace(str(folder) + "/", ""))

# %% [markdown]
# **Failure 2: a file that is not a GGUF at all.** A download link that pointed at a web page
# saves HTML under the model's name. The guard reads the first four bytes (the GGUF magic) and says
# so; llama.cpp fails too ("invalid magic characters" on the terminal).

# %%
html = folder / "model-page.gguf"
html.write_text("<!DOCTYPE html><html><head><title>model page</title></head><body>...</body></html>")
for load in (read_header, lambda p: llama_cpp.Llama(str(p), n_ctx=64, verbose=False)):
    try:
        load(html)
    except ValueError as err:
        print(type(err).__name__, "-", str(err).replace(str(folder) + "/", ""))
print("catalogue entry:", catalogue["gguf_bad_magic"]["fix"])

# %% [markdown]
# ## Summary
#
# - Out of memory (CUDA, Metal): the plan asked for more than the device has. Fewer layers, shorter
#   context, smaller quant; `most_gpu_layers_that_fit` finds the setting.
# - A GPU that does nothing: a CPU-only llama.cpp build ("no usable GPU found"), a ROCm runtime that
#   sees no device, or a driver older than the CUDA runtime. Reinstall with the backend switched on.
# - Broken files: "not within the file bounds" (truncated: download again, check SHA-256), "invalid
#   magic" (not a GGUF), "unknown model architecture" (llama.cpp too old).
# - Slow: CPU fallback, partial offload, too many threads, throttling; compare with the estimate.
# - The doctor reads the machine card and the settings and says all this before the load.
#
# ## Exercises
#
# **1.** An operator sees `ggml_cuda_init: failed to initialize CUDA: CUDA driver version is
# insufficient for CUDA runtime version`. Which cause? One of `CAUSES`.

# %%
from helpers.exercises.troubleshooting import CAUSES, check_cause, check_layers_that_fit

print(CAUSES)
answer = None
check_cause(answer, "driver too old")

# %% [markdown]
# **2.** Another sees `llama_model_load: error loading model: tensor 'blk.31.ffn_down.weight' data is
# not within the file bounds, model is corrupted or incomplete`. Which cause?

# %%
answer = None
check_cause(answer, "file truncated")

# %% [markdown]
# **3.** Llama 3.1 70B Q4_K_M with a 4096-token context on a 24 GiB RTX 3090: what is the largest
# `n_gpu_layers` that fits? (Use `helpers.memory.vram.most_gpu_layers_that_fit` and `usable_gpu_bytes`.)

# %%
from helpers.course.catalog import get_gpu
from helpers.memory.vram import most_gpu_layers_that_fit, usable_gpu_bytes

big = get_model("Llama 3.1 70B").architecture
answer = None
check_layers_that_fit(answer, most_gpu_layers_that_fit(big, "Q4_K_M", 4096, usable_gpu_bytes(get_gpu("RTX 3090"))),
                      big.n_layers)
