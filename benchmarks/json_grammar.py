"""JSON from the course's tiny Llama, with and without grammars: how often the output parses and
validates, over many seeds.

    .venv/bin/python benchmarks/json_grammar.py [--seeds 40] [--threads 1] [--model data/tiny_llama/tiny_llama-q8_0.gguf]

Five ways of asking, each sampled at temperature 1 with seeds 0..N-1 (llama-cpp-python):
a chat request for JSON with no constraint; plain completion constrained by the course's own GBNF
(``helpers.llm.prompting.object_gbnf``); and ``create_chat_completion(response_format={"type":
"json_object", "schema": ...})`` with three schemas (plain; strings by ``pattern``; numbers bounded
by ``enum``); llama-cpp-python converts each schema with its own
``llama_cpp.llama_grammar.json_schema_to_gbnf``. Every output goes through ``json.loads`` (strict)
and ``helpers.llm.prompting.validate``.
Writes benchmarks/results/json_grammar.md (rates, tokens per output, seconds per output).
"""
import argparse
import json
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.llm.load import load_model  # noqa: E402
from helpers.llm.prompting import json_trials, max_json_chars, object_gbnf, schema_for_fields  # noqa: E402

FIELDS = {"speaker": "string", "mood": ["merry", "sad", "angry"], "lines": "integer"}
ASK = [{"role": "system", "content": "Answer only with JSON: speaker, mood, lines."},
       {"role": "user", "content": "Who speaks next, in what mood, and how many lines?"}]


def schemas():
    patterned = schema_for_fields(FIELDS, max_string_chars=12)
    plain = {"type": "object", "required": list(FIELDS), "additionalProperties": False,
             "properties": {"speaker": {"type": "string", "maxLength": 12},
                            "mood": {"type": "string", "enum": FIELDS["mood"]},
                            "lines": {"type": "integer", "minimum": 0, "maximum": 99}}}
    strict = json.loads(json.dumps(patterned))
    strict["properties"]["lines"] = {"type": "integer", "enum": list(range(1, 21))}
    return plain, patterned, strict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="data/tiny_llama/tiny_llama-q8_0.gguf")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    llm = load_model(REPO_ROOT / args.model, n_ctx=256, n_threads=args.threads)
    plain, patterned, strict = schemas()
    seeds = range(args.seeds)
    runs = {
        "chat, no constraint (asked in words)": dict(schema=patterned, messages=ASK, max_tokens=40),
        "plain completion + own GBNF (object_gbnf)": dict(schema=patterned, prompt="ROMEO:\n",
                                                          grammar_text=object_gbnf(FIELDS, 12),
                                                          max_tokens=max_json_chars(FIELDS, 12)),
        "response_format, plain schema (maxLength, minimum/maximum)": dict(schema=plain, messages=ASK,
                                                                          use_response_format=True, max_tokens=120),
        "response_format, string pattern, minimum/maximum": dict(schema=patterned, messages=ASK,
                                                                 use_response_format=True, max_tokens=120),
        "response_format, string pattern, integer enum": dict(schema=strict, messages=ASK,
                                                              use_response_format=True, max_tokens=120),
    }
    lines = []
    for name, kwargs in runs.items():
        schema = kwargs.pop("schema")
        t0 = time.perf_counter()
        rows = json_trials(llm, seeds, schema, **kwargs)
        seconds = (time.perf_counter() - t0) / len(rows)
        tokens = sum(len(llm.tokenize(r["output"].encode(), add_bos=False)) for r in rows) / len(rows)
        problems = sorted({re.sub(r"-?\d+", "N", r["problem"]).split(" at ")[0] for r in rows if r["problem"]})[:3]
        lines.append(f"| {name} | {sum(r['parses'] for r in rows)}/{len(rows)} | {sum(r['valid'] for r in rows)}/{len(rows)} "
                     f"| {tokens:.1f} | {seconds:.2f} | {'; '.join(problems) or '-'} |")
        print(lines[-1], flush=True)
    machine = (f"{platform.machine()}, {psutil.cpu_count(logical=False)} physical / {psutil.cpu_count()} logical CPUs, "
               f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, no GPU used")
    import llama_cpp
    text = "\n".join([
        "# JSON from the tiny Llama: with and without grammars",
        "",
        f"Command: `.venv/bin/python benchmarks/json_grammar.py --seeds {args.seeds} --threads {args.threads}` · "
        f"date (UTC): {datetime.now(timezone.utc):%Y-%m-%d %H:%M} · machine: {machine} · llama-cpp-python "
        f"{llama_cpp.__version__}, {args.threads} thread(s) · model `{args.model}` · run time "
        f"{(time.perf_counter() - started) / 60:.1f} min",
        "",
        "**The machine was shared with other jobs while this ran: the seconds column is noisy.** The parse and "
        "valid counts are exact for this model file, llama-cpp-python version and thread count (seeded sampling at "
        "temperature 1, seeds 0 to N-1). Parses = strict `json.loads`; valid = `helpers.llm.prompting.validate` "
        "against the schema of that row.",
        "",
        "| request | parses | valid | tokens per output (mean) | seconds per output | problems seen (first 3 kinds) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        *lines,
        "",
        "Reading: a grammar guarantees the structure it encodes. llama-cpp-python's own JSON-Schema converter "
        "(`llama_cpp.llama_grammar.json_schema_to_gbnf`, used by `LlamaGrammar.from_json_schema` and "
        "`response_format`) lets raw control characters (newlines) into strings (`char ::= [^\"\\\\] | ...`), "
        "which strict JSON refuses, and drops minimum/maximum; a `pattern` on strings and an `enum` for bounded "
        "integers close both gaps. llama.cpp's own C++ converter (`common/json-schema-to-grammar.cpp`, used by "
        "llama-server) excludes control characters from strings and enforces integer minimum/maximum; it is not "
        "run here.",
        "",
    ])
    write_text_atomic(REPO_ROOT / "benchmarks" / "results" / "json_grammar.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
