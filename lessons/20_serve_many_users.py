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
# # 20 · Serve many users: latency percentiles, goodput, batching, and the operator's controls
#
# Notebook 14 started a server and measured a few clients at once. Running one for a team or a
# workshop asks sharper questions: how long does the *slowest* user wait, how many requests per
# second still feel fast, what does the server do when more people ask than it has room for, and
# which of its switches help. This notebook measures the servers in the terms an established serving
# benchmark uses, then turns each of llama-server's operator controls and watches what changes —
# including the failures that return HTTP 200 and look like success.
#
# **Learning goals**
# - Define TTFT, TPOT, ITL, their p50 and p95, throughput and goodput at a service level, and compute
#   them from the arrival time of every streamed token.
# - Compare servers on the same model and prompts, in interleaved rounds, and explain continuous
#   batching, PagedAttention, and what happens when the slots or the KV cache run out.
# - Use llama-server's slots, `/metrics`, `/slots`, prompt caching and speculative decoding, and say
#   from a measurement (and a formula) when each one pays.
# - Detect a reply cut by a full slot, a context shift and an interrupted stream, which no error reports.
#
# **Time:** 45 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_PATH = None  # a GGUF file; None: the real chat model (SmolLM2-135M-Instruct) that ships with the course
THREADS = None  # llama.cpp threads per server; None: 1 in the short run (steadier when other programs share the cores), 2 in the full run
RUN_VLLM = None  # None: vLLM joins the full run when its environment (.venv-vllm) exists; False: never; True: always

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)
THREADS = (1 if QUICK else 2) if THREADS is None else THREADS

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers.course.paths import REPO_ROOT
from helpers.llm.chat_model import chat_model_path

model_path = chat_model_path() if MODEL_PATH is None else Path(MODEL_PATH) if Path(MODEL_PATH).is_absolute() else REPO_ROOT / MODEL_PATH
MODEL = "smollm2"  # the name clients use: every server's alias
print("model:", model_path.name)

# %% [markdown]
# ## 1. What a serving benchmark measures
#
# vLLM's `vllm bench serve` is a widely used benchmark for OpenAI-compatible servers (it measures any
# of them, not only vLLM). For each request it records when the request was sent and when every
# streamed token arrived, and reports:
#
# | metric | definition | what a user feels |
# |---|---|---|
# | **TTFT** | time to first token: sending to the first token | the wait before anything appears |
# | **TPOT** | time per output token after the first: (latency − TTFT) / (output tokens − 1) | how fast the text is written |
# | **ITL** | inter-token latency: every gap between two consecutive streamed chunks (one token each here), pooled over requests | the stutters |
# | **E2EL** | end-to-end latency: sending to the last token | the whole reply |
# | p50, p95, p99 | the median and the value 95 % (99 %) of the values stay under (requests; for ITL, gaps) | a typical user and an unlucky one |
# | **request / output throughput** | completed requests, output tokens per second of the whole run | what the server delivers |
# | **goodput** | requests per second that met a service-level objective (SLO), e.g. TTFT ≤ 1 s and TPOT ≤ 100 ms, each met at equality too | what the server delivers *well* |
#
# TPOT is one number per request, an average over its tokens; ITL keeps every gap, so one long stall
# shows in ITL's p95 while TPOT spreads it out. Two made-up requests show the difference: the second
# stalls once for 0.7 s.

# %%
from helpers.serving.latency import ServiceLevel, bench_summary
from helpers.serving.load import RequestTiming

SLO = ServiceLevel(ttft_s=1.0, tpot_s=0.1)  # seconds: first token within 1 s, then 100 ms or less per token (met at equality, as vllm bench serve counts)
steady = RequestTiming(0, first_token_s=0.2, total_s=0.6, tokens=5, text="", piece_s=(0.2, 0.3, 0.4, 0.5, 0.6))
stalled = RequestTiming(1, first_token_s=0.3, total_s=1.3, tokens=5, text="", piece_s=(0.3, 0.4, 0.5, 1.2, 1.3))
example = bench_summary([steady, stalled], wall_s=1.3, level=SLO)
pd.Series(example).round(2).to_frame("two requests in 1.3 s")

# %% [markdown]
# The stalled request's TPOT is (1.3 − 0.3) / 4 = 250 ms, so it misses the 100 ms objective and
# goodput counts only the steady one: 1 request in 1.3 s. The pooled ITL shows the stall directly: seven
# gaps of 100 ms and one of 700 ms put ITL's p95 near 500 ms while its median stays at 100 ms.
#
# The measurements below use `vllm bench serve` itself where vLLM's environment is installed
# (`python3 course.py vllm-env`, Linux on x86-64) and the server accepts its requests. One run, as
# you would type it against any OpenAI-compatible server (`--tokenizer` is a folder with the model's
# tokenizer, so it can count tokens; `prompts.jsonl` holds one `{"prompt": ...}` per line):

# %%
from helpers.serving.bench_serve import bench_serve_args, command_line

print(command_line(bench_serve_args("http://127.0.0.1:8080", MODEL, "TOKENIZER_FOLDER", "prompts.jsonl", clients=4,
                                    output_tokens=64, level=SLO)))

# %% [markdown]
# It sends the 4 requests at once (`--max-concurrency 4`, `--request-rate inf`), greedy replies of
# exactly 64 tokens (`--ignore-eos`), and prints the metrics of section 1. Where it cannot run (macOS,
# Windows, or a server that refuses it), `helpers.serving.load.run_clients` measures instead: threads
# that stream the same requests and record every token's arrival, summarized with the same
# definitions (`helpers.serving.latency`). The output says which tool measured each server.
#
# ## 2. The servers side by side
#
# Three servers answer the same OpenAI-compatible API, and they schedule concurrent requests
# differently:
#
# - **llama-cpp-python's server** runs one request at a time; the others wait their turn.
# - **llama-server** (llama.cpp) has `--parallel` *slots* and **continuous batching**: at every step,
#   each busy slot's next token is computed in one pass over the weights, and a new request joins
#   the batch as soon as a slot is free — it does not wait for the batch to finish. The KV cache is
#   one block of `--ctx-size` tokens, split evenly between the slots when `--parallel` is given
#   (section 3 says what happens otherwise).
# - **vLLM** batches continuously too, and keeps the KV cache in **PagedAttention**'s fixed-size
#   blocks (16 tokens by default on GPUs, 128 in the CPU build run here), handed out as conversations grow: memory goes to the tokens that
#   exist, not to a reserved maximum per slot, so more conversations fit in the same memory. When
#   the blocks run out, vLLM stops admitting new requests (and may pre-empt one and recompute it
#   later); llama-server's limit is its slot count.
#
# Either way, a request that finds no room is **deferred**: it waits in a queue, and the wait shows
# in its TTFT. The measurement sends 1, 4 (the full run: 1, 2, 4, 8, 16) clients at once, every
# reply the same length (`ignore_eos`), the servers in turns within each round.

# %% tags=["nbval-ignore-output"]
from helpers.course.setup_report import tools_missing_line
from helpers.serving.compare import OUTPUT_THROUGHPUT, measure_in_turns, median_over_rounds, side_by_side_servers, tool_for
from helpers.serving.server import ServerSettings, llama_server_available, start_server
from helpers.serving.vllm_env import vllm_env_ready

CLIENTS = [1, 4] if QUICK else [1, 2, 4, 8, 16]
SLOTS = 4 if QUICK else 8  # llama-server's --parallel: the full run sends twice as many clients as slots
LOAD_TOKENS = 24 if QUICK else 64
ROUNDS = 1 if QUICK else 3
PROMPTS = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
           "Describe a cat.", "Tell a story about a robot.", "What is rain?", "Describe a mountain.", "Why is the sky blue?"]
use_vllm = vllm_env_ready() and not QUICK if RUN_VLLM is None else RUN_VLLM
if not llama_server_available():
    raise SystemExit(tools_missing_line())

with side_by_side_servers(model_path, MODEL, THREADS, SLOTS, with_vllm=use_vllm) as servers:
    for name, server in servers.items():
        print(f"{name}: measured by {tool_for(server)}")
    rows = measure_in_turns(servers, MODEL, PROMPTS, CLIENTS, LOAD_TOKENS, ROUNDS, SLO)
print("vLLM:", "measured (--enforce-eager, its CPU build)" if use_vllm else
      "not in this run (the short run leaves it out; the full run adds it when .venv-vllm exists)")
side_by_side = pd.DataFrame(median_over_rounds(rows)).set_index(["server", "clients"])
if ROUNDS == 1:  # one round has no spread to show
    side_by_side = side_by_side.drop(columns="output throughput spread (tokens/s)")
side_by_side.round(2)

# %% tags=["nbval-ignore-output"]
GOODPUT = next(column for column in side_by_side if column.startswith("goodput"))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for name, table in side_by_side.groupby(level="server"):
    table = table.droplevel("server")
    axes[0].plot(table.index, table[OUTPUT_THROUGHPUT], "o-", label=name)
    axes[1].plot(table.index, table["TTFT p95 (ms)"] / 1000, "o-", label=name)
    axes[2].plot(table.index, table[GOODPUT], "o-", label=name)
axes[0].set(ylabel="output tokens/s", title="Output throughput")
axes[1].set(ylabel="seconds", title="TTFT, p95")
axes[1].axhline(SLO.ttft_s, color="grey", linestyle=":", label="SLO")
axes[2].set(ylabel="requests/s", title=f"Goodput (TTFT ≤ {SLO.ttft_s:g} s, TPOT ≤ {SLO.tpot_s * 1000:g} ms)")
for ax in axes:
    ax.set(xlabel="concurrent clients", xticks=CLIENTS, ylim=(0, None))
    ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table and the three panels together. The server that queues finishes one reply before
# it starts the next: its first client is served as fast as alone, each of the others waits about
# one whole reply more, so TTFT p95 grows with the clients in line and goodput *falls* as the late
# ones miss the TTFT objective, while the throughput stays near the one-client figure. The batching
# server starts every client together: their prompts are computed in one batch, so every first token
# waits for that batch (TTFT is several times its one-client value), and each later step computes
# every slot's token, so TPOT grows too (one CPU thread does all of it here). The median user
# finishes no sooner than in the queue; what improves is the unlucky one (TTFT and E2EL p95), the
# throughput, and so the goodput. Goodput also falls when TPOT passes its objective, or, as the full
# run below shows, when clients outnumber slots and the extra ones wait. Throughput alone shows
# neither.
#
# Each measurement here is one burst: N requests sent at once, so p95 is taken over N requests (at 1
# it is the only one; at 4 it lies just below the worst). It says how a burst of N is served. The request rate a server
# *sustains* comes from sending many more requests than clients at a steady rate, e.g.
# `vllm bench serve --request-rate 2 --num-prompts 200` (Poisson arrivals), and watching goodput as
# the rate grows.
#
# The short run leaves vLLM out (it needs 20 to 30 s to start on 2 cores, and a longer load to show
# what it does). Its full run, 1 to 16 clients and 3 rounds, is in
# `benchmarks/results/serving_many_users.md` (command: `python benchmarks/serving_many_users.py`, 2
# threads per llama.cpp server; its header says how busy the machine was, and each row gives the
# spread over the rounds). Read it as above. llama-server's TPOT grows from about 10 ms at 1 client to
# 40 ms at 8, its slots sharing each step; clients 9 to 16 wait for one of its 8 slots, which shows
# in TTFT p95 (near 3 s) and halves goodput (`-np 16` was not measured). vLLM runs the same weights
# dequantized to 16 bits (rounded to bfloat16), about three times the bytes of Q4_1 per token. It is the slowest for one user
# (TPOT about 47 ms: its CPU build, run without compiled graphs, spends most of a step outside the
# arithmetic), keeps that TPOT nearly flat up to 16 clients because the overhead is paid once per
# step whatever the batch, and so is the fastest at 16 (about 260 tokens/s, TPOT near 56 ms); at 8,
# llama-server is ahead. llama-cpp-python's server ran at two speeds, about 13 ms per token (70-75
# tokens/s) and about 30 ms, switching between loads and even within one (TPOT p50 and p95 at 16
# clients); the cause was not found here. The spread column shows it, and the medians (each column's
# own median over the rounds) keep the table readable but hide which speed a user gets. That is this
# machine and these builds, not a ranking of the servers.
#
# **What an operator takes from it.** Measure with `-np` at least as large as the most clients you
# expect, then choose the largest number of clients at which goodput still equals the request
# throughput (every request met the objective). The full run capped `-np` at 8, so it shows that 8
# clients are served well and cannot say whether 16 slots would be. Give `-c` enough for each slot's
# conversation, and measure with your real prompts: a long system prompt costs every slot its whole
# prefill on its first turn (section 3's caching table: seconds on this CPU), which alone can miss a
# 1 s TTFT objective. Beyond that, add machines or use a server whose step cost grows slowly with
# the batch.
#
# **Why a CPU figure says little about a GPU's.** On this CPU, one step for 4 slots costs a good part
# of four single steps (compare TPOT at 1 and at 4 clients). With a batch, each matrix-vector
# product of a step becomes a matrix-matrix product whose arithmetic grows with the batch; for a
# 135-million-parameter model on a CPU that arithmetic is a large part of the step, so batching
# saves less here than the memory-bound picture promises. On a GPU, decoding a model of useful size is bound by reading the weights
# (notebook 10's speed model): one pass costs about the same for 1 or 16 tokens, so each client keeps
# most of its speed while the aggregate grows almost with the batch (notebook 14, section 8, sizes a
# workshop that way). Measure on the machine that will serve.
#
# ### Benchmarking servers yourself
#
# Three things to know. `vllm bench serve` numbers its requests
# in an `x-request-id` header (`bench-1a2b3c4d-0`, `-1`, ...); llama-cpp-python's server accepts only
# a UUID there and answers anything else with HTTP 400 Bad Request, which is why `run_clients`
# measured that server above. The two tools time slightly different things: `vllm bench serve` times
# every chunk of the stream, including the first one that only names the role (it comes with the
# first token) and llama-server's closing one, each adding an ITL value near 0 ms; `run_clients` times
# the chunks that carry text, so compare small ITL differences between them with care. And vLLM's
# CPU engine keeps one core busy for about a second after its last reply: on a small machine, pause
# between servers (the measurement above waits 2 s), or the next one shares the cores with it.
#
# ### When vLLM's KV cache runs out
#
# vLLM admits a waiting request when there are free blocks for its
# prompt, and gives it another block each time its reply fills one. When a running request needs a
# block and none is free, vLLM *pre-empts* the request that arrived last: it frees that request's
# blocks and puts it back at the head of the queue, to be recomputed later (its prompt and the tokens
# it had already produced; the client sees no repeat). Nothing
# fails and nothing is refused: the cost shows as waiting (TTFT) and as work done twice (throughput).
# The full run starts vLLM twice, with 1 GiB of KV cache (tens of thousands of tokens) and with 1,024
# tokens (8 blocks of 128, one of them kept aside), sends 16 clients a reply of 256 tokens each,
# and reads `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc` and
# `vllm:num_preemptions_total` from its `/metrics` every quarter second.

# %% tags=["nbval-ignore-output"]
from IPython.display import display

from helpers.llm.context import architecture_from_gguf
from helpers.serving.kv_pressure import kv_cache_gib_for_tokens, measure_pressure

CACHE_TOKENS = 1024
PRESSURE_CLIENTS, PRESSURE_TOKENS = 16, 256
if use_vllm:
    small_cache = kv_cache_gib_for_tokens(architecture_from_gguf(model_path), CACHE_TOKENS)
    pressure = {label: measure_pressure(model_path, MODEL, PROMPTS, gib, PRESSURE_CLIENTS, PRESSURE_TOKENS)
                for label, gib in {"1 GiB": 1.0, f"{CACHE_TOKENS:,} tokens": small_cache}.items()}
    columns = ["KV cache (tokens)", "requests", OUTPUT_THROUGHPUT, "TTFT p50 (ms)", "TTFT p95 (ms)", "E2EL p95 (ms)",
               "most running", "most waiting", "pre-emptions"]
    display(pd.DataFrame([run.row() for run in pressure.values()], index=list(pressure))[columns].round(1))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharex=True)
    for ax, (label, run) in zip(axes, pressure.items()):
        series = pd.DataFrame(run.series).set_index("time (s)")
        series[["running requests", "waiting requests", "pre-emptions so far"]].plot(ax=ax, drawstyle="steps-post")
        ax.set(title=f"KV cache: {label}", xlabel="seconds (the load starts after vllm bench serve's start-up)",
               ylabel="requests")
    plt.tight_layout()
    plt.show()
else:
    print("vLLM is not in this run: benchmarks/results/serving_many_users.md, section "
          "'vLLM when its KV cache runs out', holds a full run")

# %% [markdown]
# In the full run (`benchmarks/results/serving_many_users.md`, "vLLM when its KV cache runs out"),
# with 1 GiB all 16 requests ran at once and the output throughput was about 260 tokens/s. With
# 1,024 tokens at most 7 ran (7 blocks: vLLM keeps one aside), 14 waited, and 23 pre-emptions threw
# work away: the throughput fell to about 75 tokens/s, the median request waited 17 s for its first
# token (p95: 35 s), and every request completed. On a server, `vllm:num_requests_waiting` above
# zero with `vllm:kv_cache_usage_perc` near 1 says the KV cache is too small for the load; alert on
# those two, since the pre-emption counter rose seconds after them here (up to about ten). Give vLLM
# more memory for the cache (`--gpu-memory-utilization` on a GPU, or `--kv-cache-memory-bytes` on
# any device; on a CPU a set `VLLM_CPU_KVCACHE_SPACE`, whole GiB, overrides the flag), or admit fewer
# requests at once (`--max-num-seqs`): with `--max-num-seqs` × `--max-model-len` within the cache,
# pre-emption becomes plain queueing.
#
# ## 3. llama-server's controls
#
# **Slots.** `-c` (`--ctx-size`) is the whole KV cache and `-np` (`--parallel`) splits it: with
# `-c 2048 -np 4` each conversation has 512 tokens, however empty the other slots are. (Left to its
# automatic slot count, this llama-server turns on `--kv-unified` instead: all slots then share one
# pool of `-c` tokens.) A longer
# prompt is refused before any work is done. `GET /slots` lists each slot's share and whether it is busy.
# (Like `/metrics`, it tells anyone who can reach the server what it is doing: on a shared server,
# turn them off (`--no-slots`, no `--metrics`) or keep them behind the proxy, and set `--api-key`.)

# %%
from helpers.serving.slots import long_prompt_refusal, read_slots

with start_server(ServerSettings(model_path, kind="llama-server", model_alias=MODEL, n_ctx=2048, n_threads=THREADS,
                                 parallel=4)) as server:
    refusal = long_prompt_refusal(server.base_url, MODEL, n_ctx=2048, parallel=4)
    slot_list = read_slots(server.url)
print(f"a prompt of {refusal.prompt_words} words against slots of {refusal.slot_tokens} tokens: "
      f"HTTP {refusal.status}, {refusal.message!r}")
pd.DataFrame(slot_list).set_index("id")

# %% [markdown]
# **`/metrics` during a load.** Started with `--metrics`, llama-server answers Prometheus' text format
# at `/metrics`: counters of prompt and generated tokens, and gauges of the busy slots
# (`requests_processing`) and of the requests waiting for a slot (`requests_deferred`). Scraping it
# every quarter second while twice as many clients as slots stream a reply gives a time series. (It
# counts a prompt's tokens once the prompt is computed and a reply's tokens when the request ends, so
# the counters grow in steps.)

# %% tags=["nbval-ignore-output"]
from helpers.serving.compare import request_bodies
from helpers.serving.load import run_clients
from helpers.serving.metrics import MetricsRecorder, metrics_rows

monitored = ServerSettings(model_path, kind="llama-server", model_alias=MODEL, n_ctx=512 * SLOTS, n_threads=THREADS,
                           parallel=SLOTS, extra_args=("--metrics",))
with start_server(monitored) as server:
    with MetricsRecorder(server.url, interval_s=0.25) as recorder:
        run_clients(server.base_url, request_bodies(PROMPTS, MODEL, 2 * SLOTS, LOAD_TOKENS))
    busy_after = sum(slot["is_processing"] for slot in read_slots(server.url))
series = pd.DataFrame(metrics_rows(recorder.samples)).set_index("time (s)")
print(f"{2 * SLOTS} clients on {SLOTS} slots; at most {series['deferred requests'].max():.0f} deferred; "
      f"busy slots after the load: {busy_after}")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].step(series.index, series["busy slots"], where="post", lw=3, alpha=0.6, label="busy slots")
axes[0].step(series.index, series["deferred requests"], where="post", ls="--", color="tab:red", label="deferred requests")
axes[0].set(xlabel="seconds", ylabel="requests", title="Gauges")
axes[0].legend(fontsize=8)
scrapes = pd.DataFrame(recorder.samples)
counters = {"llamacpp:prompt_tokens_total": "prompt tokens", "llamacpp:tokens_predicted_total": "generated tokens"}
totals = scrapes.set_index(scrapes["time_s"] - scrapes["time_s"].iloc[0])[list(counters)].rename(columns=counters)
totals.plot(ax=axes[1], drawstyle="steps-post", title="Counters (tokens so far)")
axes[1].set(xlabel="seconds", ylabel="tokens")
plt.tight_layout()
plt.show()

# %% [markdown]
# The first half of the clients fill the slots; the other half are deferred until a slot frees, and
# join the batch then: continuous batching at work, and the queue an operator watches. The counters
# (right) grow in steps: prompt tokens as each batch of prompts is computed, generated tokens only
# when requests end, so a rate taken between two scrapes jumps; plot the totals, or average the rate
# over a longer window, as a monitoring system does. A deferred count that stays above zero means
# more slots (and `-c` to match), a faster machine, or fewer users.
#
# **Prompt caching.** Each slot keeps the KV cache of its last request. A new request that starts with
# the same tokens (a long shared system prompt, the earlier turns of a chat) computes only the rest:
# `cache_prompt` is on by default, and the reply's `timings` say how many prompt tokens came from the
# cache. `--cache-reuse N` goes further: when the prompt differs early (an old turn dropped from the
# middle), it finds later runs of at least N tokens in the cache and shifts them into place.

# %% tags=["nbval-ignore-output"]
from helpers.serving.prompt_cache import cache_cases, filler_text

SYSTEM_WORDS = 600 if QUICK else 1200
system = "You answer questions about the list below.\n" + filler_text(SYSTEM_WORDS)
chunk, document = "An earlier exchange: " + filler_text(150, numbered=True), filler_text(150, numbered=True)
cache_rows = []
for reuse in (False, True):
    settings = ServerSettings(model_path, kind="llama-server", model_alias=MODEL, n_ctx=4096, n_threads=THREADS,
                              extra_args=("--cache-reuse", "64") if reuse else ())
    with start_server(settings) as server:
        cases = cache_cases(server.base_url, MODEL, system, chunk, document)
    for case, first in cases.items():
        cache_rows.append({"server": "--cache-reuse 64" if reuse else "default", "request": case,
                           "TTFT (s)": first.seconds, "from the cache": first.cached_tokens,
                           "computed": first.computed_tokens})
pd.DataFrame(cache_rows).set_index(["server", "request"]).round(3)

# %% [markdown]
# The same system prompt with a new question computes only the few tokens of the question: its TTFT
# is a fraction of the first request's, and `cache_prompt: false` pays the whole prompt again. Then
# a request carries an earlier exchange (the chunk) and a document, and the next one drops the chunk,
# as a chat does when it forgets an old turn. The default server keeps the shared system prompt and
# recomputes everything after the change: the document, now at the end of a longer context, which costs about as much as the whole
# first request. With `--cache-reuse` the document's tokens are found further on in the cache and
# mostly reused. Those reused entries were computed while the dropped chunk was still in front of
# them, so the reply can differ slightly from a fresh computation: an approximation that is usually
# harmless for chat. The cache lives in each slot: with `-np 8`, up to eight requests pay the whole
# system prompt before every slot holds it. After that, for a workshop with one long system prompt,
# caching is what keeps the time to first token short for every turn.
#
# **Speculative decoding.** A cheap guesser proposes k tokens and the model checks them all in one
# pass, keeping the guesses up to the first it disagrees with. Two guessers: a *draft model* (here
# the same model requantized to Q2_K: same vocabulary, fewer bytes) and *n-gram lookup* (copy what
# followed the same few tokens earlier in the text, nearly free). If each guess is accepted with
# probability α, a step yields (1 − α^(k+1)) / (1 − α) tokens and costs one check plus k draft steps
# of relative cost c, so the speed-up is that over (1 + k c); it pays above a **break-even α**.

# %% tags=["nbval-ignore-output"]
from helpers.serving.client import chat_body, complete
from helpers.serving.speculative import acceptance, break_even_alpha, draft_model_file, speedup

SPEC_TOKENS = 32 if QUICK else 64
K = 4
spec_prompts = {"copying": "Repeat this text exactly: " + "The red fox ran to the old mill, crossed the bridge and "
                           "came back before the rain. " * 4,
                "free writing": "Write a short story about a robot who learns to paint."}
draft = draft_model_file(model_path)
ngram = ("--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", "4", "--spec-ngram-simple-size-m", "8")
spec_settings = {"plain": (model_path, ()), "draft alone (Q2_K)": (draft, ()),
                 f"draft model Q2_K, k={K}": (model_path, ("--spec-type", "draft-simple", "--spec-draft-model", str(draft),
                                                           "--spec-draft-n-max", str(K))),
                 "n-gram lookup": (model_path, ngram)}
spec = {}
for name, (path, extra) in spec_settings.items():
    with start_server(ServerSettings(path, kind="llama-server", model_alias=MODEL, n_ctx=2048, n_threads=THREADS,
                                     extra_args=extra)) as server:
        complete(server.base_url, chat_body([{"role": "user", "content": "Hi"}], MODEL, max_tokens=4))  # warm-up
        spec[name] = {prompt: complete(server.base_url, chat_body([{"role": "user", "content": text}], MODEL,
                                                                  max_tokens=SPEC_TOKENS, ignore_eos=True))["timings"]
                      for prompt, text in spec_prompts.items()}
draft_cost = spec["plain"]["free writing"]["predicted_per_second"] / spec["draft alone (Q2_K)"]["free writing"]["predicted_per_second"]
spec_rows = []
for name in ("plain", f"draft model Q2_K, k={K}", "n-gram lookup"):
    for prompt in spec_prompts:
        timings = spec[name][prompt]
        row = {"setting": name, "prompt": prompt, "tokens/s": timings["predicted_per_second"],
               "speed-up": timings["predicted_per_second"] / spec["plain"][prompt]["predicted_per_second"]}
        if name != "plain" and "draft_n" in timings:
            drafted, accepted, rate = acceptance(timings)
            k, cost = (8, 0.0) if name == "n-gram lookup" else (K, draft_cost)
            row.update({"accepted / drafted": f"{accepted} / {drafted}", "predicted speed-up": speedup(rate, k, cost),
                        "break-even acceptance": break_even_alpha(k, cost)})
        spec_rows.append(row)
print(f"the Q2_K draft costs {draft_cost:.2f} of the model's time per token")
pd.DataFrame(spec_rows).set_index(["setting", "prompt"]).round(2)

# %% [markdown]
# Say it plainly when it is slower. The draft here is the *same* 135 M-parameter model at 2 bits:
# on a CPU it costs most of a full step per guess, or all of one (the line above the table gives the
# measured cost; at a whole step, no acceptance can pay), so speculative decoding with it is *slower*
# than plain decoding, even when most guesses are accepted. Nor are they all accepted: at 2 bits the
# model's greedy choice differs from its 4-bit self often, most of all in free writing (the
# accepted / drafted column). N-gram lookup (here: find the last 4 tokens earlier in the text,
# `--spec-ngram-simple-size-n 4`, and propose the 8 that followed them, `size-m 8`) costs almost
# nothing, so it helps where the reply copies its prompt (the copying prompt) and does nothing where
# the text is new (nothing to look up, nothing drafted). A
# draft pays when it is many times smaller than the model (a 0.5 B draft for a 7 B+ model) and the
# check of k + 1 tokens costs about one step — true on a GPU, where one pass over the weights serves
# them all. On this CPU it is not. The predicted speed-ups also assume k guesses at every step and
# take accepted / drafted as the acceptance probability (n-gram lookup drafts only where it finds a
# match, and guesses after a rejection count as drafted), so read that column as a rough upper
# bound, not a forecast. The break-even acceptance, for a few draft costs:

# %%
pd.DataFrame({f"k={k}": {f"draft cost {c:g}": break_even_alpha(k, c) for c in (0.0, 0.05, 0.2, 0.5)}
              for k in (2, 4, 8)}).round(2)

# %% [markdown]
# ## 4. Failures that look like success
#
# **A reply cut by a full slot, and context shift.** A prompt that fits a slot but leaves no room for
# the reply is answered with HTTP 200 and `finish_reason: "length"` — the same as reaching
# `max_tokens`; only the token count tells them apart. With `--context-shift`, llama-server instead
# keeps generating by discarding the oldest tokens: the reply is complete, and the model no longer
# saw the start of its prompt. `silent_cuts` compares the reply's counts with what was sent and asked.

# %%
from helpers.serving.silent_failures import chat_tokens_sent, overlapping_streams, silent_cuts

SLOT = 256
long_prompt = [{"role": "user", "content": "Count on: " + "one two three " * 70}]
for shift in (False, True):
    settings = ServerSettings(model_path, kind="llama-server", model_alias=MODEL, n_ctx=SLOT, n_threads=THREADS,
                              extra_args=("--context-shift",) if shift else ())
    with start_server(settings) as server:
        sent = chat_tokens_sent(server.url, long_prompt)
        reply = complete(server.base_url, chat_body(long_prompt, MODEL, max_tokens=48, ignore_eos=True))
    print(f"{'--context-shift' if shift else 'default'}: HTTP 200, finish_reason {reply['choices'][0]['finish_reason']!r},"
          f" {reply['usage']['prompt_tokens']} prompt + {reply['usage']['completion_tokens']} reply tokens")
    for finding in silent_cuts(reply, sent, max_tokens=48, slot_tokens=SLOT):
        print("   found:", finding)

# %% [markdown]
# **A stream cut by the next request.** llama-cpp-python's server answers one request at a time, and
# its default `--interrupt_requests True` makes a new request *stop* the one being streamed: the
# first user's reply just ends, without a finish reason or an error. Start it with
# `--interrupt_requests False` whenever more than one person uses it (the new request then waits;
# the servers in this notebook run that way). Below, a long reply is streamed and a second request
# sent once its first token arrived, under each setting.

# %%
interrupt_rows = []
for interrupt in ("True", "False"):
    settings = ServerSettings(model_path, model_alias=MODEL, n_ctx=512, n_threads=THREADS,
                              extra_args=("--interrupt_requests", interrupt))
    with start_server(settings) as server:
        seen = overlapping_streams(server.base_url, MODEL, first_tokens=48)
    (first_pieces, first_finish), (second_pieces, second_finish) = seen["first"], seen["second"]
    interrupt_rows.append({"--interrupt_requests": interrupt, "first stream": "cut, no finish reason" if first_finish is None
                           else f"finished ({first_finish})", "second request": f"answered ({second_finish})"})
pd.DataFrame(interrupt_rows).set_index("--interrupt_requests")

# %% [markdown]
# **vLLM's removed `guided_*` fields.** vLLM constrains a reply with `"structured_outputs": {"choice":
# [...]}` (or `regex`, `json`). Older versions also read the same request spelled `guided_choice`,
# `guided_regex`, `guided_json`; since 0.12 those fields are no longer read: vLLM accepts them, answers HTTP 200 and
# generates *unconstrained* text, with one warning in the server's log. A program written for an
# older vLLM keeps running and silently loses its constraint. `check_constraint_fields` sends both
# shapes and checks each reply against the constraint itself; with vLLM 0.32 (the version
# `requirements-vllm.txt` pins) the `structured_outputs` reply is one of the choices and the
# `guided_choice` one is free text, both with HTTP 200 (the end of
# `benchmarks/results/serving_many_users.md` shows the two replies). The full run repeats that check
# when vLLM is there.

# %% tags=["nbval-ignore-output"]
if use_vllm:
    from helpers.serving.compare import vllm_settings
    from helpers.serving.constraint_fields import check_constraint_fields

    with start_server(vllm_settings(model_path, MODEL)) as vllm:
        checks = check_constraint_fields(vllm.base_url, MODEL, "choice", ("yes", "no"))
    print(pd.DataFrame([vars(c) for c in checks]).set_index("field"))
else:
    print("vLLM is not in this run: the paragraph above says what it shows")

# %% [markdown]
# ## Summary
#
# - Report serving speed the way `vllm bench serve` does (and with it, where it runs): TTFT, TPOT, ITL
#   and E2EL at p50 and p95, request and output throughput, and **goodput**: requests per second that
#   met a stated service level.
# - A server that queues keeps its throughput and makes waits grow; continuous batching starts everyone
#   together and slows each token. Goodput, not throughput, says when users stop being served well;
#   one burst of N requests measures a burst, a steady request rate measures what a server sustains.
# - llama-server's `-np` divides `-c`: more slots, less context each. Requests beyond the slots are
#   deferred (`/metrics` shows it); vLLM's PagedAttention hands KV memory out in blocks instead, and
#   when the blocks run out it pre-empts and later recomputes requests: no errors, longer waits.
# - Prompt caching makes a shared system prompt nearly free once each slot has seen it; speculative
#   decoding pays only above its break-even acceptance, which a CPU and a barely smaller draft miss,
#   while n-gram lookup pays where the reply copies its prompt.
# - A reply cut at a full slot, a context shift, an interrupted stream and an ignored constraint all
#   answer HTTP 200: check `finish_reason`, the token counts and the reply itself.
#
# ## Exercises
#
# **1.** A streamed reply of 11 tokens: the first arrived after 0.5 s, the last after 1.7 s. What is
# its TPOT, in milliseconds? Does it meet a 100 ms objective?

# %%
from helpers.exercises.serving_at_scale import check_break_even, check_goodput, check_tpot

answer = None
check_tpot(answer, 0.5, 1.7, 11)

# %% [markdown]
# **2.** A run of 10 s completed these requests (TTFT in s, TPOT in ms): (0.4, 60), (0.8, 90),
# (1.2, 50), (0.3, 120), (0.6, 95), (1.5, 80). What is the goodput, in requests/s, at TTFT ≤ 1 s and TPOT ≤ 100 ms?

# %%
answer = None
check_goodput(answer, [(0.4, 60), (0.8, 90), (1.2, 50), (0.3, 120), (0.6, 95), (1.5, 80)], 10.0, 1.0, 100)

# %% [markdown]
# **3.** A draft model costs 0.25 of the target's time per token and proposes k = 3 tokens per step.
# Above which acceptance probability does speculative decoding beat plain decoding? (Use
# `helpers.serving.speculative`, or solve the formula numerically.)

# %%
answer = None
check_break_even(answer, 3, 0.25)
