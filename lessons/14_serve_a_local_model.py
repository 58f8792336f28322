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
# # 14 · Serve a model: an OpenAI-compatible server, its clients, and a room full of learners
#
# Every local runtime — llama.cpp's `llama-server`, Ollama, LM Studio, vLLM — is used the same way:
# a server process holds the model and answers HTTP requests in the shape of OpenAI's chat API. Any
# program that speaks that API (an editor plug-in, a chat front end, a script, a room of learners)
# can then use the model. This notebook starts two real servers on this machine, calls them with
# plain HTTP and with the official `openai` client, streams a chat, asks for JSON, breaks them on
# purpose, and measures what happens when several clients ask at once — which decides how many
# learners one machine can hold.
#
# **Learning goals**
# - Start a local server safely (loopback only, a free port, always stopped) and read its log.
# - Call the chat API with plain HTTP, with curl and with the `openai` client; stream the reply.
# - Ask for structured output (a JSON schema) through the API, and know what each runtime honours.
# - Measure time to first token and tokens/s with 1 to 8 concurrent clients, and explain the
#   difference between a server that queues requests and one that batches them.
# - Estimate how many learners a machine serves, from the measured queueing and the GPU speed model.
#
# **Time:** 40 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
MODEL_PATH = None  # a GGUF file; None: the real chat model (SmolLM2-135M-Instruct) that ships with the course
THREADS = 1  # llama.cpp threads per server (1: steadier figures when other programs share the cores)
MAX_TOKENS = 48  # tokens per reply in sections 2-5

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from pathlib import Path

import pandas as pd

from helpers.course.paths import REPO_ROOT, relative_to_repo
from helpers.llm.chat_model import chat_model_path

model_path = chat_model_path() if MODEL_PATH is None else Path(MODEL_PATH) if Path(MODEL_PATH).is_absolute() else REPO_ROOT / MODEL_PATH
print("model:", model_path.name)

# %% [markdown]
# ## 1. Start a server
#
# `start_server` runs llama-cpp-python's own server (`python -m llama_cpp.server`) as a child
# process. It checks the model file first, listens on **127.0.0.1** only (nothing on the network
# can reach it), picks a free port, waits until `GET /v1/models` answers, and writes the server's
# own output to a log file under `build/servers/`. The cell prints what an operator needs: the
# process id, the URL, the log and the command line it ran. One flag in it is not a default:
# `--interrupt_requests False`. llama-cpp-python's server answers one request at a time, and by
# default (`True`) a new request *cuts off* the reply being streamed to someone else: the first
# client's stream simply ends early, with no error. With `False` the new request waits its turn,
# which is what a server for several people needs (section 7 measures that queue).
#
# The server must always stop, even when a cell fails or you interrupt the kernel. In a script,
# write `with start_server(settings) as server: ...`; in a notebook, where a `with` block cannot
# span cells, the last section calls `server.stop()`, and the server is also stopped when the
# kernel exits.

# %% tags=["nbval-ignore-output"]
from helpers.serving.server import ServerSettings, start_server

MODEL = "smollm2"  # the name clients will use: the server's --model_alias
settings = ServerSettings(model_path, kind="llama-cpp-python", model_alias=MODEL, n_ctx=2048, n_threads=THREADS)
server = start_server(settings)
print(f"pid {server.pid}, {server.base_url}, log {relative_to_repo(server.log_path)}")
print("command:", server.command_line())
print(server.log_tail(3))

# %% [markdown]
# ## 2. The API is one JSON body
#
# A chat request is a POST of one JSON object to `{base_url}/chat/completions`: the model name, the
# messages so far, and sampling settings. Here it is, as the course's small standard-library
# client sends it and as the same request looks in a terminal with curl.

# %%
import json

from helpers.serving.client import chat_body, complete, curl_command, reply_text

question = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
body = chat_body(question, MODEL, max_tokens=MAX_TOKENS, temperature=0.0, seed=SEED)
print(json.dumps(body, indent=1))

# %% tags=["nbval-ignore-output"]
print(curl_command(server.base_url, body))  # the port differs on every run

# %%
reply = complete(server.base_url, body)
print("reply:", reply_text(reply))
print("finish reason:", reply["choices"][0]["finish_reason"], "| usage:", reply["usage"])

# %% [markdown]
# The reply says why generation stopped (`stop`: the model ended its turn; `length`: `max_tokens`
# ran out) and how many tokens the prompt and the reply took. The prompt is longer than the
# question: the server wrapped it in the model's chat template (ChatML here, with its default
# system prompt) before the model read it.
#
# ## 3. The official `openai` client
#
# Because the API is the same, the official Python client works unchanged: only `base_url`
# differs. A local server needs no key, but the client insists on one; any text will do.

# %%
from openai import OpenAI

client = OpenAI(base_url=server.base_url, api_key="not-needed-locally", max_retries=0)
answer = client.chat.completions.create(model=MODEL, messages=question, max_tokens=MAX_TOKENS, temperature=0.0, seed=SEED)
print("openai client:", answer.choices[0].message.content)
print("same text as plain HTTP:", answer.choices[0].message.content == reply_text(reply))

# %% [markdown]
# **Streaming.** With `stream=True` the server sends each token as it is generated, as
# server-sent events (`data: {...}` lines, then `data: [DONE]`). A chat window shows text as it
# arrives; the learner reads while the model writes. The streamed pieces add up to the same reply.

# %%
pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model=MODEL, messages=question, max_tokens=MAX_TOKENS, temperature=0.0, seed=SEED, stream=True) if c.choices]
print(f"{len(pieces)} pieces:", pieces[:8], "...")
print("streamed == whole reply:", "".join(pieces) == reply_text(reply))

# %% [markdown]
# ## 4. A chat window
#
# The server keeps nothing between requests: a conversation is the list of messages, and every
# turn sends all of it again. The widget below keeps that list, streams each reply in a background
# thread, and has a **Stop** button: stopping closes the connection, and the server stops
# generating for this client. Type a question and press Send (it needs a running kernel).

# %% tags=["nbval-ignore-output"]
from helpers.widgets.chat import chat_window

chat_window(server.base_url, MODEL, max_tokens=96)

# %% [markdown]
# Without a kernel the widget is blank, so here is the same loop run from code, through the widget's
# own `stream_reply`: two turns, the second one sent with the first turn's question and answer in front of it.

# %%
from IPython.display import HTML

from helpers.serving.conversation import Conversation
from helpers.widgets.chat import stream_reply

conversation = Conversation()
for turn in ["Name a fruit that is yellow.", "What colour is it inside?"]:
    conversation.add("user", turn)
    stream_reply(conversation, server.base_url, MODEL, max_tokens=40)
print(f"the second request carried {len(conversation.messages) - 1} messages, {conversation.characters()} characters in all")
HTML(conversation.as_html())

# %% [markdown]
# A 135 M-parameter model follows the conversation only loosely; the point is the mechanics. The
# prompt grows with every turn until it no longer fits the server's context (section 6).
#
# ## 5. Structured output through the API
#
# Notebook 04 constrained the model with a grammar inside llama.cpp. Through the API the same
# thing is a `response_format` with a JSON schema: the server turns the schema into a grammar, and
# at each step the model can only pick a token that keeps the text on the way to valid JSON. It
# cannot make the reply *end* in time: a reply cut at `max_tokens` is unfinished JSON whatever the
# grammar. Below: ten questions without and with the schema.

# %%
from helpers.serving.client import check_json_schema

schema = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
          "required": ["city", "country"]}
check_json_schema(schema)
countries = ["France", "Japan", "Italy", "Spain", "Germany", "Canada", "Egypt", "Peru", "Kenya", "Norway"]


def parses(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and {"city", "country"} <= value.keys()


rows = []
for constrained in (False, True):
    replies = [reply_text(complete(server.base_url, chat_body(
        [{"role": "user", "content": f"Give the capital of {c} as JSON with keys city and country."}], MODEL,
        max_tokens=40, json_schema=schema if constrained else None))) for c in countries]
    rows.append({"response_format": "json schema" if constrained else "none",
                 "parse and have both keys": f"{sum(map(parses, replies))} / {len(replies)}",
                 "first reply": replies[0][:60]})
pd.DataFrame(rows).set_index("response_format")

# %% [markdown]
# With this schema (two short strings) and 40 tokens of room, the constrained replies of this run
# parse and have both keys (the requests sample at the server's default temperature, so another run
# can differ); whether the *city* is right is still up to the model. That is one easy schema, not a
# guarantee: in notebook 04 llama-server's C++ converter let the tiny Shakespeare model spend its
# tokens on the spaces and newlines the grammar allows, and 5 of 40 replies ended at `max_tokens`
# unfinished; the Python converter, the one this llama-cpp-python server uses, let 31 of 40 replies
# hold a raw control character (9 of 40 parsed). Give `max_tokens` room, keep the schema tight, and parse every reply anyway. The request field is the same for every runtime, but what each server does with
# it differs. The table below (from each project's documentation, source per row) is what to
# check before pointing a program written for one server at another.

# %%
from helpers.serving.api_differences import load_openai_servers

servers_table = pd.DataFrame(load_openai_servers()).set_index("server")
servers_table[["default_base_url", "model_field", "concurrent_requests", "structured_output"]]

# %%
servers_table[["beyond_openai", "source"]]

# %% [markdown]
# ## 6. When requests go wrong
#
# A server for many users must survive bad requests and keep answering. Each case below is sent
# on purpose; the course's client shows the server's own message (or refuses the request before
# sending it, where the course can check it), and a good request follows each one.

# %%
from helpers.serving.client import ServerError, check_model_name, post_raw, stream_pieces


def good_request_works() -> str:
    return "next request answered" if reply_text(complete(server.base_url, chat_body(question, MODEL, max_tokens=4))) else "no answer"


faults = {
    "prompt longer than the context": lambda: complete(server.base_url, chat_body(
        [{"role": "user", "content": "word " * 3000}], MODEL, max_tokens=4)),
    "malformed JSON": lambda: post_raw(server.base_url, b'{"model": "smollm2", "messages": ['),
    "unknown model name": lambda: check_model_name(server.base_url, "gpt-9"),
    "invalid schema": lambda: chat_body(question, MODEL, json_schema={"type": "nonsense"}),
}
fault_rows = []
for name, send in faults.items():
    try:
        send()
        outcome = "accepted"
    except (ServerError, ValueError) as err:
        outcome = str(err)
    fault_rows.append({"fault": name, "what the client sees": outcome, "then": good_request_works()})

stream = stream_pieces(server.base_url, chat_body([{"role": "user", "content": "Tell a long story."}], MODEL, max_tokens=200))
received = [next(stream).text for _ in range(3)]
stream.close()  # the client leaves after three pieces
fault_rows.append({"fault": "client leaves mid-stream", "what the client sees": f"{len(received)} pieces, then it closed",
                   "then": good_request_works()})
pd.DataFrame(fault_rows).set_index("fault")

# %% [markdown]
# Notice what the server itself does: a too-long prompt is a clear `400` with OpenAI's
# `context_length_exceeded` message; malformed JSON gets a bare `500`; and llama-cpp-python's
# server, holding one model, would answer *any* model name (so does llama-server with one model
# loaded) — which is why the client checks the name against `/v1/models` first, as Ollama and vLLM
# do on their side.
#
# ## 7. Many clients at once
#
# A workshop is many learners sending requests at the same moment. We start all clients together
# and measure, for each: the **time to first token** (TTFT: waiting in line plus reading the
# prompt) and its **generation speed** (tokens after the first, per second after the first), and
# for the server the **aggregate** tokens/s (all tokens delivered / wall time).
#
# Two servers handle this differently:
# - **llama-cpp-python's server** runs one request at a time; the others wait (they queue because
#   of `--interrupt_requests False`, section 1; by default a new request would cut the one in
#   flight). Aggregate speed should stay at the one-client speed, and each extra client adds a
#   whole reply to the last one's wait.
# - **llama.cpp's `llama-server`** has `--parallel` slots and *continuous batching*: every
#   active slot's next token is computed in one pass over the weights. Generation is
#   memory-bound (notebook 10), so reading the weights once for several tokens raises the
#   aggregate; each slot gets `ctx-size / parallel` tokens of context. It is one of llama.cpp's
#   tools, built once by `python course.py tools` (without them, only the first server is measured).
# - **vLLM** batches the same way and keeps the KV cache in fixed-size pages (*PagedAttention*),
#   so memory goes to the conversations that exist, not to reserved slots. It needs an environment
#   of its own (3.5 GB); notebook 20 runs it beside these two, with the metrics serving teams use.
#
# Speeds on a shared machine move from one moment to the next, so both servers run side by side and
# are measured in turns: a short warm-up, then `ROUNDS` rounds, each sending 1, 2, 4... clients to one
# server and then to the other. The table gives the median over the rounds, and the spread of the
# aggregate (slowest to fastest round).

# %% tags=["nbval-ignore-output"]
from helpers.course.setup_report import tools_missing_line
from helpers.hardware.machine import load_machine_card
from helpers.hardware.measured_speed import card_speed
from helpers.serving.load import median_rows, run_clients
from helpers.serving.server import llama_server_available

CLIENTS = [1, 4] if QUICK else [1, 2, 4, 8]
LOAD_TOKENS = 32 if QUICK else 128
ROUNDS = 3
prompts = ["Write a short poem about the sea.", "Explain what a GPU is.", "List some rivers of Europe.",
           "Describe a cat.", "Tell a story about a robot.", "What is rain?", "Describe a mountain.", "Why is the sky blue?"]


def one_round(base_url: str) -> list:
    rows = []
    for n in CLIENTS:
        bodies = [chat_body([{"role": "user", "content": prompts[i]}], MODEL, max_tokens=LOAD_TOKENS) for i in range(n)]
        rows.append(run_clients(base_url, bodies).row())
    return rows


def measure_in_turns(urls: dict) -> dict:
    for url in urls.values():  # warm-up: the first requests after a start are slower
        run_clients(url, [chat_body(question, MODEL, max_tokens=8)])
    rounds = {name: [] for name in urls}
    for _ in range(ROUNDS):
        for name, url in urls.items():
            rounds[name].append(one_round(url))
    return {name: pd.DataFrame(median_rows(r)).set_index("clients") for name, r in rounds.items()}


urls = {"llama-cpp-python": server.base_url}
if llama_server_available():
    batched = ServerSettings(model_path, kind="llama-server", model_alias=MODEL, n_ctx=512 * max(CLIENTS),
                             n_threads=THREADS, parallel=max(CLIENTS))
    with start_server(batched) as second:
        load = measure_in_turns({**urls, f"llama-server --parallel {max(CLIENTS)}": second.base_url})
    print("llama-server stopped:", not second.running())
else:
    print(tools_missing_line(), "- until then only llama-cpp-python's server is measured")
    load = measure_in_turns(urls)
for name, table in load.items():
    one, most = table.iloc[0], table.iloc[-1]
    print(f"{name}, 1 -> {most.name} clients: aggregate {one['aggregate (tokens/s)']:.0f} -> "
          f"{most['aggregate (tokens/s)']:.0f} tokens/s, each client {one['per request (tokens/s)']:.0f} -> "
          f"{most['per request (tokens/s)']:.0f} tokens/s")
card = load_machine_card()
alone = card_speed(card.llama_cpp_speeds if card else {}, model_path.name, THREADS)
if alone:
    print(f"llama.cpp alone, no server, on this file at {THREADS} thread(s) (machine card, notebook 00): "
          f"{alone['generation tokens/s (median)']:.0f} tokens/s")
pd.concat(load, names=["server"]).round(2)

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for (name, table), color in zip(load.items(), ["tab:blue", "tab:orange"]):  # one colour per server
    axes[0].plot(table.index, table["aggregate (tokens/s)"], "o-", color=color, label=f"{name}: aggregate")
    axes[0].plot(table.index, table["per request (tokens/s)"], "s--", color=color, label=f"{name}: per request")
    axes[1].plot(table.index, table["worst TTFT (s)"], "o-", color=color, label=name)
axes[0].set(xlabel="concurrent clients", ylabel="tokens/s", title=f"Speed (median of {ROUNDS} rounds)", xticks=CLIENTS,
            ylim=(0, None))
axes[1].set(xlabel="concurrent clients", ylabel="seconds", title="Worst time to first token", xticks=CLIENTS, ylim=(0, None))
for ax in axes:
    ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the two panels together (solid lines: aggregate; dashed: each client), and the two lines
# printed above the table. With one request at a time, the aggregate stays near the single-client
# speed while the last client's wait grows by about one reply per client in front of it. With
# batching, the wait stays short and each client's own speed falls, here steeply: one CPU thread
# computes every slot's token. Whether the aggregate grows depends on what else the cores are doing:
# with other work on the cores the gain shrinks or vanishes. With one client, compare the first
# line of each server, and the machine card's figure for llama.cpp with no server at all:
# llama-cpp-python's server spends part of every token in Python (its web framework and sampling
# loop), llama-server is C++ throughout, so llama-server is ahead; by how much depends on the
# threads. In the reference run below (2 threads on a 2-core machine) llama-server's one-client
# speed rises by about half over this 1-thread run, while llama-cpp-python's server gets *slower*:
# its Python work for each token competes with llama.cpp's two threads for the two cores. On a
# GPU, where one pass over the weights costs about the same for 1 or 16 tokens,
# each client keeps most of its speed and the aggregate grows far more. The reference run of this
# measurement (2 threads, 64 tokens, up to 8 clients, medians of 3 rounds) is in
# `benchmarks/results/serving_load.md`
# (command: `python benchmarks/serving_load.py`).
#
# ## 8. How many learners does one machine hold?
#
# A learner does not send requests all the time: they read and type for a while (*think time*
# T), then wait R seconds for a reply. Each learner has a request in flight R / (R + T) of the
# time, so *c* requests in flight serve c (R + T) / R learners (Little's law) — as long as the
# server keeps up. It delivers X tokens/s in all (the aggregate above), so N learners keep it busy
# N x reply tokens / (X (R + T)) of the time, and that must stay below about 80 %: as a queue fills,
# waits grow without bound. For each measured concurrency whose per-request speed stays above
# reading speed (about 5.3 tokens/s), R = the one-client time to first token + reply tokens /
# per-request speed. An **estimate**, from this machine's measurements.

# %% tags=["nbval-ignore-output"]
from helpers.serving.sizing import READING_TOKENS_PER_SECOND, learners_from_measurements

REPLY_TOKENS, THINK_S = 200, 60
estimates = {name: learners_from_measurements(table.reset_index().to_dict("records"), REPLY_TOKENS, THINK_S)
             for name, table in load.items()}
print(f"replies of {REPLY_TOKENS} tokens, {THINK_S} s think time, floor {READING_TOKENS_PER_SECOND} tokens/s")
pd.DataFrame.from_dict(estimates, orient="index").round(1)

# %% [markdown]
# For a GPU, the same reasoning runs on the card's speed model (notebook 10: fitted per device class
# to published llama.cpp runs) instead of a measurement: with *b* replies batched, one step reads
# the weights once plus each slot's KV cache and pays the fixed time of every layer once; slots are
# limited by the card's memory less the 1 GiB margin (notebook 09); and every turn first reads the
# conversation so far (1,000 prompt tokens here), at the prompt rate the card reached in published
# llama-bench runs (or, for a card with none, its fp16 shader rate, which makes that time an upper
# bound; llama-server's prompt cache would shorten it) — the server should stay below 80 % busy,
# because waits grow without bound as a queue fills. The published runs behind
# the speed model are single-request benchmarks, so the batched speed is an extrapolation; the
# full model is in `helpers/serving/sizing.py`.

# %%
from helpers.serving.sizing import gpu_workshop_estimate

rows = []
for model, gpu in [("Llama 3.2 3B", "RTX 3060 12GB"), ("Llama 3.1 8B", "RTX 3060 12GB"), ("Llama 3.1 8B", "RTX 3090"),
                   ("Llama 3.1 8B", "RTX 4090"), ("Qwen2.5 14B", "RTX 4090")]:
    e = gpu_workshop_estimate(model, "Q4_K_M", gpu, context_per_learner=4096, prompt_tokens=1000,
                              reply_tokens=REPLY_TOKENS, think_s=THINK_S)
    rows.append({"model": model, "GPU": gpu, "slots that fit (4k each)": e.slots_that_fit, "slots used": e.slots_used,
                 "tokens/s each": round(e.tokens_per_second_each, 1), "prompt s/turn": round(e.prompt_seconds_per_turn, 2),
                 "learners (by slots)": round(e.learners_by_slots), "learners (80% busy)": round(e.learners_by_utilization),
                 "learners": round(e.learners), "prompt rate from": e.prompt_rate_source})
pd.DataFrame(rows).set_index(["model", "GPU"])

# %% [markdown]
# The smaller of the two limits decides. For a chat workshop the server's *busy time* usually
# binds before the slots do: reading each learner's growing conversation takes as much of that
# time as generating the reply, or more on the slower cards. Prompt caching (llama-server keeps each slot's last prompt) and shorter
# conversations raise the count; long documents pasted into the chat lower it. Rehearse with the
# real room's prompts before the day (the workshop guide in `lessons/syllabus.md` says how).
#
# ## 9. Stop the server
#
# Stopping sends SIGTERM to the server's process group, waits, and kills it if it does not exit;
# then it waits until the port is free. Nothing is left behind.

# %%
from helpers.serving.server import port_is_open

server.stop()
print("server running:", server.running(), "| port still open:", port_is_open("127.0.0.1", server.port))

# %% [markdown]
# ## Summary
#
# - Every local runtime serves the same OpenAI-compatible chat API: one JSON body per request,
#   server-sent events when streaming; only the base URL and the meaning of `model` change.
# - Start servers on loopback, on a free port, and always stop them; read the log when they fail.
# - Structured output through the API (`response_format` with a schema) turns the schema into a
#   grammar: replies follow it while they run, but a reply cut at `max_tokens` still fails to parse,
#   so give room and validate. What each runtime honours differs (and changes between versions:
#   vLLM ignores its old `guided_*` fields since 0.12); check the table's version before switching.
# - One request at a time makes waits grow with every client; continuous batching shares each read
#   of the weights between clients and raises the aggregate speed.
# - Learners per machine = requests in flight x (reply time + think time) / reply time, as long as
#   each reply stays faster than reading and the server is not busy all the time.
#
# ## Exercises
#
# **1.** A server holds 4 requests in flight. Each reply has 200 tokens at 20 tokens/s after a
# 1-second wait for the first token, and learners think for 60 s between requests. How many
# learners does it serve?

# %%
from helpers.exercises.serving import check_learners, check_request_speed, check_tokens_per_slot

answer = None
check_learners(answer, 4, 1.0, 200, 20.0, 60.0)

# %% [markdown]
# **2.** `llama-server --ctx-size 8192 --parallel 4`: how many tokens of context does each
# conversation get?

# %%
answer = None
check_tokens_per_slot(answer, 8192, 4)

# %% [markdown]
# **3.** A streamed reply of 101 tokens: the first arrived after 0.5 s, the last after 5.5 s. At
# how many tokens/s did the learner see it being written?

# %%
answer = None
check_request_speed(answer, 0.5, 5.5, 101)
