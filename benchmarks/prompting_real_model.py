"""Prompt techniques measured on SmolLM2-135M-Instruct (the course's real chat model) over the fixed sets
in data/prompting/: few-shot accuracy by number of examples, layout and example order; JSON replies
that parse, validate and are right, without and with a grammar.

    .venv/bin/python benchmarks/prompting_real_model.py [--threads 1] [--max-shots 6]

Few-shot items are scored by the log-probability of each allowed label as the start of the
assistant's reply (helpers.llm.prompt_eval.few_shot_score), so every count is deterministic for
this model file, llama-cpp-python version and thread count. JSON replies are greedy (temperature 0)
with at most 32 tokens (helpers.llm.prompt_eval.review_json_rows). Writes
benchmarks/results/prompting_real_model.md.
"""
import argparse
import dataclasses
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.course.atomic import write_text_atomic  # noqa: E402
from helpers.course.other_work import OtherWork  # noqa: E402
from helpers.course.paths import REPO_ROOT  # noqa: E402
from helpers.course.report import report_header  # noqa: E402
from helpers.llm.chat_model import chat_model_path, model_card  # noqa: E402
from helpers.llm.load import load_model  # noqa: E402
from helpers.llm.prompt_eval import LAYOUTS, few_shot_score, json_counts, review_json_rows  # noqa: E402
from helpers.llm.prompt_sets import few_shot_tasks, review_set  # noqa: E402

ORDERS = {  # the sentiment examples re-ordered by label (the file alternates, starting positive)
    "p n p n p n (file order)": "pnpnpn", "n p n p n p": "npnpnp", "p p p n n n": "pppnnn", "n n n p p p": "nnnppp"}
JSON_REQUESTS = {"asked in words, no grammar": (None, False), "asked in words, one worked example": (None, True),
                 "response_format, stars by minimum/maximum": ("minimum/maximum", False),
                 "response_format, stars by enum": ("enum", False)}


def reordered(task, pattern: str):
    """``task`` with its positive (p) and negative (n) examples in the order ``pattern`` gives."""
    pools = {"p": [e for e in task.examples if e[1] == "positive"], "n": [e for e in task.examples if e[1] == "negative"]}
    return dataclasses.replace(task, examples=tuple(pools[c].pop(0) for c in pattern))


def few_shot_lines(llm, tasks, max_shots: int) -> list:
    lines = []
    for task in tasks.values():
        for layout in LAYOUTS:
            for shots in range(max_shots + 1):
                t0 = time.perf_counter()
                s = few_shot_score(llm, task, shots, layout)
                lines.append(f"| {task.name} | {layout} | {shots} | {s.correct}/{s.items} | {s.label_probability:.3f} | "
                             f"{s.evaluated_tokens:,} | {s.scored_tokens:,} | {time.perf_counter() - t0:.1f} |")
                print(lines[-1], flush=True)
    return lines


def order_lines(llm, task, max_shots: int) -> list:
    lines = []
    for name, pattern in ORDERS.items():
        cells = []
        for shots in range(1, max_shots + 1):
            s = few_shot_score(llm, reordered(task, pattern), shots)
            positives = Counter(p for _, _, p in s.predictions)["positive"]
            cells.append(f"{s.correct} ({positives})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def json_lines(llm, reviews) -> list:
    lines = []
    for name, (constraint, with_example) in JSON_REQUESTS.items():
        t0 = time.perf_counter()
        rows = review_json_rows(llm, reviews, constraint, with_example)
        seconds = (time.perf_counter() - t0) / len(rows)
        c = json_counts(rows)
        problems = sorted({re.sub(r"-?\d+", "N", r["problem"])[:60] for r in rows if r["problem"]})
        lines.append(f"| {name} | {c['parse']}/{c['replies']} | {c['valid']}/{c['replies']} | {c['right']}/{c['replies']} "
                     f"| {c['tokens'] / c['replies']:.1f} | {seconds:.2f} | {'; '.join(problems[:3]) or '-'} |")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-shots", type=int, default=6)
    args = parser.parse_args(argv)
    other_work = OtherWork()
    started = time.perf_counter()
    llm = load_model(chat_model_path(), n_ctx=1024, n_threads=args.threads, seed=0, logits_all=True)
    tasks, reviews = few_shot_tasks(), review_set()
    few = few_shot_lines(llm, tasks, args.max_shots)
    orders = order_lines(llm, tasks["sentiment"], args.max_shots)
    replies = json_lines(llm, reviews)
    import llama_cpp

    card = model_card()
    command = ".venv/bin/python benchmarks/prompting_real_model.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    shots_header = " | ".join(str(k) for k in range(1, args.max_shots + 1))
    text = "\n".join([
        *report_header("Prompt techniques measured on SmolLM2-135M-Instruct", command,
                       ("no GPU used", f"llama-cpp-python {llama_cpp.__version__}, {args.threads} thread(s)",
                        f"model {card['file']} (SHA-256 {card['sha256'][:16]}...)",
                        f"run time {(time.perf_counter() - started) / 60:.1f} min"), other_work),
        "Sets: `data/prompting/few_shot_tasks.json` (24 items per task, 6 worked examples) and "
        "`data/prompting/json_reviews.json` (24 reviews), both written for the course. Counts are exact and "
        "repeat for this model file, llama-cpp-python version and thread count; seconds depend on the machine "
        "and on what else it was running.", "",
        "## Few-shot accuracy by number of examples", "",
        "Each item's likeliest allowed label, by log-probability as the start of the assistant's reply. "
        "`turns`: instruction as system prompt, examples as user/assistant turns; `one message`: instruction, "
        "`Input:`/`Answer:` examples and the item in one user message. p(a label): mean probability of starting "
        "the reply with any allowed label. Tokens computed (with llama.cpp prefix reuse) against tokens of all "
        "scored sequences (a fresh start for each).", "",
        "| task | layout | examples | correct | p(a label) | tokens computed | tokens without reuse | seconds |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |", *few, "",
        "## The same sentiment examples in other orders", "",
        "Correct of 24 (and how many items were answered `positive`; 12 of the 24 are positive), by number of "
        "examples, `turns` layout. The order is the sequence of example labels (p positive, n negative).", "",
        f"| order | {shots_header} |", "| --- |" + " ---: |" * args.max_shots, *orders, "",
        "## JSON replies over the review set", "",
        "Greedy, at most 32 tokens. Parses: strict `json.loads` of the whole reply; valid: "
        "`helpers.llm.prompting.validate` against the schema (stars a whole number 1-5); right: stars equal "
        "the rating the review states. `response_format` is turned into a grammar by llama-cpp-python's own "
        "converter, `llama_cpp.llama_grammar.json_schema_to_gbnf`.", "",
        "| request | parses | valid | right | tokens per reply (mean) | seconds per reply | problems (first 3 kinds) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |", *replies, "",
        "Reading: llama-cpp-python's converter drops `minimum`/`maximum` (its source marks them TODO), so out-of-range "
        "stars parse but fail validation; an `enum` keeps the stars in range, and the model then writes 1 where it "
        "wanted a score out of ten: valid and wrong. llama.cpp's own C++ converter "
        "(`common/json-schema-to-grammar.cpp`, llama-server) turns integer minimum/maximum into digit rules; "
        "`benchmarks/json_grammar.py --llama-server` runs the same reviews through both converters "
        "(`benchmarks/results/json_grammar.md`).", ""])
    write_text_atomic(REPO_ROOT / "benchmarks" / "results" / "prompting_real_model.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
