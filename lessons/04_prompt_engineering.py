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
# # 04 · Prompt engineering: what the model reads, examples, stop strings, JSON by grammar
#
# Prompt advice is easy to find and hard to check. Here every claim is measured on a real model:
# the exact text and tokens a chat becomes, how much a system prompt or a few examples change the
# probability of the answer you want, how stop strings and `max_tokens` end a reply, and how a
# **grammar** makes even a tiny model return JSON that parses and validates every time. The model
# is the course's own tiny Llama (notebook 18): trained briefly on Shakespeare, it writes
# Shakespeare-flavoured text without much sense, and — as you will measure — it has not learned to
# learn from examples in its prompt. That makes it a clear lens: you see which prompt techniques
# are mechanics (templates, stop strings, grammars: they work on any model) and which depend on what
# a model learned in training (following system prompts and examples). Set `MODEL_PATH` to a larger
# GGUF to see the second kind work.
#
# **Learning goals**
# - Render a chat through the model's template to the exact text and tokens it reads.
# - Measure the effect of a system prompt and of 0, 1 and 3 examples as the log-probability of an intended continuation.
# - Use stop strings and `max_tokens`, and read `finish_reason`.
# - Force JSON output with a GBNF grammar and with `response_format`, and check it with `json.loads` and a schema.
#
# **Time:** 35 minutes · **Needs:** CPU only

# %% tags=["parameters"]
QUICK = None  # True: short CI-sized run; False: full run; None: True when COURSE_QUICK or CI is set
SEED = 0
MODEL_PATH = "data/tiny_llama/tiny_llama-q8_0.gguf"  # any GGUF with a chat template
N_CTX = 256  # context window in tokens
N_THREADS = 2  # fixed, so seeded sampling repeats exactly

# %%
from helpers.course.notebook import start_notebook

QUICK = start_notebook(QUICK, seed=SEED)

from pathlib import Path

import pandas as pd

from helpers.course.paths import REPO_ROOT
from helpers.llm.load import load_model

model_path = Path(MODEL_PATH) if Path(MODEL_PATH).is_absolute() else REPO_ROOT / MODEL_PATH
llm = load_model(model_path, n_ctx=N_CTX, n_threads=N_THREADS, seed=SEED, logits_all=True)
N_SEEDS = 5 if QUICK else 20  # generations per JSON experiment
pd.set_option("display.max_colwidth", 90)  # show whole JSON outputs in tables

# %% [markdown]
# ## 1. A prompt is one string, then tokens
#
# A chat API takes a list of messages, but the model reads one sequence of tokens. The chat
# template stored in the GGUF (notebook 03) writes the messages out; `render_chat_for` renders it
# exactly as `create_chat_completion` does:

# %%
from helpers.llm.prompting import prompt_token_ids, render_chat_for, token_pieces

messages = [{"role": "system", "content": "You are the Prince of Verona."},
            {"role": "user", "content": "Who began this brawl?"}]
text = render_chat_for(llm, messages)
print(text)

# %% [markdown]
# Those characters become these tokens (`▁` is a space; `<s>` is written as text by the template
# and turned into the special beginning-of-sequence token):

# %%
ids = prompt_token_ids(llm, text)
print(len(ids), "tokens")
print(" | ".join(repr(p)[1:-1] for p in token_pieces(llm, ids)))

# %% [markdown]
# The API's own count agrees: `create_chat_completion` reports the same number of prompt tokens.
# The roles, the colons, the newlines — everything the template adds — cost tokens of your context
# window and are what the model actually conditions on.

# %%
reply = llm.create_chat_completion(messages, max_tokens=1, temperature=0.0)
print("usage.prompt_tokens =", reply["usage"]["prompt_tokens"], "| tokens of the rendered text =", len(ids))

# %% [markdown]
# **Format is the strongest signal a small model reads.** The last few characters of a prompt
# decide what comes next. After `ROMEO` the model expects the colon; after `ROMEO:` a newline;
# after `ROMEO:\n` the first word of a speech:

# %%
from helpers.llm.prompting import next_token_table

rows = []
for prompt in ["ROMEO", "ROMEO:", "ROMEO:\n"]:
    for rank, (piece, p) in enumerate(next_token_table(llm, prompt, n=3), start=1):
        rows.append({"prompt": repr(prompt), "rank": rank, "next token": repr(piece), "probability": round(p, 3)})
pd.DataFrame(rows).set_index(["prompt", "rank"])

# %% [markdown]
# ## 2. Measuring a prompt: the log-probability of the answer you want
#
# "Does this prompt work better?" has a number: the probability the model gives to the
# continuation you want. For a continuation of several tokens it is the product of each token's
# probability given everything before it; in logs, a sum (natural log, so **nats**; 0 is
# certainty, more negative is less likely). `continuation_logprob` computes it from llama.cpp's
# logits. It does not sample, so it needs no seed and no luck.
#
# **System prompt.** A system prompt is just more text in the template, under `SYSTEM:`. Does the
# model give more probability to a reply that obeys it?

# %%
from helpers.llm.prompting import continuation_logprob

question = [{"role": "user", "content": "Who began this brawl?"}]
target = "My lord"
rows = []
for system in ["", "Always begin your answer with 'My lord'.", "You are a servant. Address everyone as my lord."]:
    chat = ([{"role": "system", "content": system}] if system else []) + question
    r = continuation_logprob(llm, render_chat_for(llm, chat), target, add_bos=False)
    rows.append({"system prompt": system or "(none)", "ln p('My lord') (nats)": round(r["logprob"], 2),
                 "p('My lord')": f"{r['probability']:.2e}"})
pd.DataFrame(rows).set_index("system prompt")

# %% [markdown]
# (`add_bos=False` because the rendered text already starts with `<s>`.) The differences are a few
# hundredths of a nat: this model was never trained on conversations that obey a `SYSTEM:` turn, so
# it treats the instruction as a few more words of a play. Instruction-tuned models are trained on
# exactly such turns; on them the same measurement moves by many nats.
#
# **Few-shot examples.** Examples in the prompt show the pattern you want. Three small tasks in this
# model's own register, each with 0, 1 and 3 examples before the query:

# %%
import numpy as np

from helpers.llm.prompting import few_shot_prompt

TASKS = {
    "speaker name in capitals": ([("romeo:", " ROMEO:"), ("juliet:", " JULIET:"), ("hamlet:", " HAMLET:")],
                                 "king:", " KING:"),
    "same short reply": ([("KING:\n", "My lord.\n"), ("QUEEN:\n", "My lord.\n"), ("PRINCE:\n", "My lord.\n")],
                         "DUKE:\n", "My lord."),
    "repeat the word": ([("ROMEO", " ROMEO"), ("JULIET", " JULIET"), ("HAMLET", " HAMLET")], "KING", " KING"),
}
rows = []
for task, (examples, query, target) in TASKS.items():
    for shots in (0, 1, 3):
        r = continuation_logprob(llm, few_shot_prompt(examples[:shots], query, separator="\n"), target)
        rows.append({"task": task, "examples": shots, "ln p(target) (nats)": round(r["logprob"], 2)})
shots_table = pd.DataFrame(rows)
shots_table["gain vs 0 examples (nats)"] = (shots_table["ln p(target) (nats)"]
                                            - shots_table.groupby("task")["ln p(target) (nats)"].transform("first")).round(2)
shots_table["probability x"] = np.exp(shots_table["gain vs 0 examples (nats)"]).round(2)
shots_table.set_index(["task", "examples"])

# %%
import matplotlib.pyplot as plt

ax = shots_table.pivot(index="task", columns="examples", values="ln p(target) (nats)").plot.barh(figsize=(7.5, 3))
ax.set(xlabel="ln p(intended continuation) (nats; closer to 0 is more likely)", ylabel="",
       title="few-shot examples, measured on the tiny Llama")
ax.legend(title="examples")
plt.show()

# %% [markdown]
# One example raises the probability of the intended continuation by at most a factor of about
# 3.5 (capital letters), one example of repeating a word even lowers it, and going from one to
# three examples adds little or nothing. Few-shot prompting relies on **in-context
# learning** — copying a pattern seen earlier in the prompt — which models acquire with much more
# training than this one had (250 steps). The *measurement* is what to take away: run the same cell
# with a 1B+ instruct model as `MODEL_PATH` and the gains grow to many nats. That is also how to
# compare two prompts for a real task: score the answers you want, not a single lucky sample.
#
# Try it: system prompt, number of examples (as chat turns) and temperature; the exact prompt
# text and the reply redraw (seeded, so each setting gives one repeatable reply):

# %% tags=["nbval-ignore-output"]
from helpers.widgets.prompting import prompt_playground

SYSTEMS = {"none": "", "a herald": "You are a herald. Announce news in one line.",
           "a lover": "You are Juliet. Speak only of Romeo."}
EXAMPLES = [("What news?", "The king is dead."), ("Who comes?", "The prince, my lord."),
            ("Where is he?", "In the garden, sir.")]
prompt_playground(llm, SYSTEMS, EXAMPLES, "What say you?", seed=SEED)

# %% [markdown]
# ## 3. Ending the reply: stop strings and `max_tokens`
#
# A model writes until it emits its end-of-sequence token, hits a **stop string**, or reaches
# **max_tokens**; `finish_reason` says which (`"stop"` for the first two, `"length"` for the last).
# This model was trained on speeches separated by blank lines, so left alone it ends one speech and
# starts another speaker's. A stop string of `"\n\n"` ends the reply with the speech:

# %%
rows = []
for label, kwargs in [("max_tokens=60", dict(max_tokens=60)),
                      ("max_tokens=60, stop=['\\n\\n']", dict(max_tokens=60, stop=["\n\n"])),
                      ("max_tokens=6", dict(max_tokens=6))]:
    out = llm.create_completion("ROMEO:\n", temperature=0.0, **kwargs)
    rows.append({"settings": label, "finish_reason": out["choices"][0]["finish_reason"],
                 "tokens": out["usage"]["completion_tokens"], "text": out["choices"][0]["text"]})
stops = pd.DataFrame(rows).set_index("settings")
stops

# %%
for label, row in stops.iterrows():
    print(f"--- {label} ({row.finish_reason}) ---\nROMEO:\n{row.text}\n")

# %% [markdown]
# The stop string itself is not returned. `max_tokens` cuts wherever it falls, mid-word if need be:
# a safety limit, not a way to end nicely. Chat completions add the template's end-of-sequence
# token as a stop automatically; good stop strings for your own formats are the start of the next
# turn (`"\nUSER:"`, `"\n\n"`).
#
# ## 4. JSON every time: grammars
#
# Asking for JSON in words works only when the model has learned to comply. Without it, here is
# what a chat completion returns when we ask for JSON at temperature 1 (seeded):

# %%
from helpers.llm.prompting import json_trials, max_json_chars, object_gbnf, schema_for_fields

FIELDS = {"speaker": "string", "mood": ["merry", "sad", "angry"], "lines": "integer"}
SCHEMA = schema_for_fields(FIELDS, max_string_chars=12)
ask = [{"role": "system", "content": "Answer only with JSON: speaker, mood, lines."},
       {"role": "user", "content": "Who speaks next, in what mood, and how many lines?"}]
seeds = range(N_SEEDS)
free = pd.DataFrame(json_trials(llm, seeds, SCHEMA, messages=ask, max_tokens=40)).set_index("seed")
free[["output", "parses", "valid"]]

# %% [markdown]
# A **grammar** removes the choice. At every step llama.cpp masks out each token that could not
# continue a string the grammar accepts, then samples among the rest. llama.cpp's grammar format
# is **GBNF**: rules of literals (`"..."`), character classes (`[A-Za-z]`), repetition (`{0,11}`,
# `*`, `?`) and alternatives (`|`). `object_gbnf` writes one for a flat object. It allows no free
# whitespace and bounds every string and number, so the output also has a maximum length and always
# finishes within `max_tokens`:

# %%
import json

GBNF = object_gbnf(FIELDS, max_string_chars=12)
print(GBNF)
print("longest possible output:", max_json_chars(FIELDS, 12), "characters")
print("schema the outputs must satisfy:", json.dumps(SCHEMA))

# %% [markdown]
# Sampling at temperature 1 with a different seed each time, plain completion after `ROMEO:\n`
# (`llama_cpp.LlamaGrammar.from_string(GBNF)` passed as `grammar=`). Every output goes through
# `json.loads` and the schema check:

# %%
constrained = pd.DataFrame(json_trials(llm, seeds, SCHEMA, prompt="ROMEO:\n", grammar_text=GBNF,
                                       max_tokens=max_json_chars(FIELDS, 12))).set_index("seed")
print(f"{constrained.parses.sum()} of {len(constrained)} parse, {constrained.valid.sum()} of "
      f"{len(constrained)} valid, finish reasons: {sorted(set(constrained.finish))}")
constrained[["output", "parses", "valid"]]

# %% [markdown]
# The words inside are still this model's — invented names, random numbers — but the *shape* is
# guaranteed. A grammar cannot make a model know things; it can make it say them in your format.
#
# **From a JSON Schema.** llama-cpp-python converts a JSON Schema to GBNF for you:
# `LlamaGrammar.from_json_schema(json.dumps(schema))`, or in a chat completion
# `response_format={"type": "json_object", "schema": schema}`. The conversion enforces structure,
# types, `enum`, `required`, `pattern` and string lengths — but not everything. A plain schema,
# tried over the same seeds:

# %%
PLAIN_SCHEMA = {"type": "object", "required": ["speaker", "mood", "lines"], "additionalProperties": False,
                "properties": {"speaker": {"type": "string", "maxLength": 12},
                               "mood": {"type": "string", "enum": ["merry", "sad", "angry"]},
                               "lines": {"type": "integer", "minimum": 0, "maximum": 99}}}
plain = pd.DataFrame(json_trials(llm, range(2 * N_SEEDS), PLAIN_SCHEMA, messages=ask, use_response_format=True,
                                 max_tokens=120)).set_index("seed")
print(f"{plain.parses.sum()} of {len(plain)} parse, {plain.valid.sum()} of {len(plain)} valid")
plain[~plain.valid][["output", "problem"]]

# %% [markdown]
# The converter's string rule allows raw control characters, so a newline slips into `"speaker"`
# (this model loves `NAME:` + newline) — and strict JSON (`json.loads`) refuses an unescaped newline
# inside a string. The fix goes in the schema: a `pattern` for the string, which the converter turns
# into a character class. `schema_for_fields` wrote such a schema above (`SCHEMA`); through
# `response_format`:

# %%
patterned = pd.DataFrame(json_trials(llm, range(2 * N_SEEDS), SCHEMA, messages=ask, use_response_format=True,
                                     max_tokens=120)).set_index("seed")
print(f"{patterned.parses.sum()} of {len(patterned)} parse, {patterned.valid.sum()} of {len(patterned)} valid")
patterned[~patterned.valid][["output", "problem"]]

# %% [markdown]
# All parse now, but the converter ignores `minimum` and `maximum`: the grammar lets any integer
# through, and only the validation catches the out-of-range ones above. A bound the grammar *can* enforce is an `enum` of the allowed values:

# %%
STRICT_SCHEMA = json.loads(json.dumps(SCHEMA))
STRICT_SCHEMA["properties"]["lines"] = {"type": "integer", "enum": list(range(1, 21))}
print(json.dumps(STRICT_SCHEMA["properties"]))
strict = pd.DataFrame(json_trials(llm, range(2 * N_SEEDS), STRICT_SCHEMA, messages=ask, use_response_format=True,
                                  max_tokens=120)).set_index("seed")
print(f"{strict.parses.sum()} of {len(strict)} parse, {strict.valid.sum()} of {len(strict)} valid, "
      f"finish reasons: {sorted(set(strict.finish))}")
strict[["output", "valid"]]

# %% [markdown]
# Every output parses and validates. The rule that carries over to any model and any runtime
# (llama-server's `json_schema`, Ollama's `format` and LM Studio's structured output also turn a
# schema into constrained decoding): **constrain with a grammar, then still validate** — a grammar guarantees
# only what it encodes.
#
# ## Summary
#
# - The model reads one string: the chat template's rendering of your messages (roles, separators,
#   `<s>`), in tokens. Check it with `render_chat_for`; it is what `create_chat_completion` sends.
# - Measure prompts by the log-probability (nats) of the answer you want: a sum over its tokens
#   from the logits; e^(gain) is the factor on its probability.
# - System prompts and few-shot examples work only as far as a model has learned to use them: the
#   tiny Llama gains at most about 1.2 nats; instruction-tuned models gain many.
# - `finish_reason` says why a reply ended: a stop string (`"stop"`) or `max_tokens` (`"length"`).
# - A GBNF grammar (own, or converted from a JSON Schema by `response_format`) makes every output
#   match the format, even from a tiny model; validate anyway, because the grammar enforces only
#   what it encodes.
#
# ## Exercises

# %% [markdown]
# **1.** Write the exact text the tiny Llama's chat template makes of
# `[{"role": "system", "content": "Speak in verse."}, {"role": "user", "content": "Good morrow!"}]`
# (with the generation prompt), as a Python string.

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
