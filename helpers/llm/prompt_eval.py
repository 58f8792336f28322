"""Prompts measured on the course's fixed sets (:mod:`helpers.llm.prompt_sets`) with a loaded model.

* **Few-shot classification by log-probability.** For each item the chat is rendered through the
  model's template, and each allowed label is scored as the start of the assistant's reply:
  ln p(label | prompt) in nats. The prediction is the likeliest label, so a run is deterministic
  and needs no sampling. Prompts that share a start (system prompt, examples) reuse llama.cpp's
  KV cache (:func:`helpers.llm.prompting.eval_reusing_prefix`), so each label costs only its own
  tokens. The model must be loaded with ``logits_all=True``.
* **JSON extraction.** Each review is answered once at temperature 0, with no constraint or with
  a grammar made from a JSON Schema; a reply counts as parsed (strict ``json.loads``), valid
  (against the schema) and right (the stars equal the rating the review states).
"""
import math
from dataclasses import dataclass

from helpers.llm.prompt_sets import review_messages, review_schema
from helpers.llm.prompting import continuation_logprob, few_shot_messages, json_reply, prompt_token_ids, render_chat_for

LAYOUTS = ("turns", "one message")


def few_shot_chat(task, shots: int, text: str, layout: str = "turns") -> list:
    """Chat messages asking ``task`` about ``text`` after its first ``shots`` worked examples.

    "turns": the instruction as the system prompt, each example as a user turn and an assistant
    turn, then the item. "one message": instruction, examples and item in one user message as
    ``Input: ...`` / ``Answer: ...`` lines.
    """
    if not isinstance(shots, int) or not 0 <= shots <= len(task.examples):
        raise ValueError(f"shots must be a whole number in 0..{len(task.examples)} for task {task.name!r}, got {shots!r}")
    examples = task.examples[:shots]
    if layout == "turns":
        return few_shot_messages(examples, text, system=task.instruction)
    if layout == "one message":
        lines = [task.instruction, ""]
        for example, label in examples:
            lines += [f"Input: {example}", f"Answer: {label}", ""]
        return [{"role": "user", "content": "\n".join(lines + [f"Input: {text}", "Answer:"])}]
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def label_logprobs(llm, prompt: str, labels) -> tuple:
    """({label: ln p(label | prompt) in nats}, tokens evaluated) for a rendered chat ``prompt``."""
    scores, evaluated = {}, 0
    for label in labels:
        r = continuation_logprob(llm, prompt, label, add_bos=False, special=True)
        scores[label] = r["logprob"]
        evaluated += r["evaluated_tokens"]
    return scores, evaluated


@dataclass(frozen=True)
class FewShotScore:
    """Accuracy of one task at one number of examples, and what scoring it cost in tokens."""

    task: str
    shots: int
    layout: str
    correct: int
    items: int
    label_probability: float  # mean over items of p(any allowed label) as the reply's start, 0..1
    evaluated_tokens: int  # tokens llama.cpp computed
    scored_tokens: int  # tokens of all (prompt + label) sequences: what a fresh start each time would compute
    predictions: tuple  # (text, right label, predicted label) per item

    @property
    def accuracy(self) -> float:
        """Share of items whose likeliest label is the right one, 0..1."""
        return self.correct / self.items


def few_shot_score(llm, task, shots: int, layout: str = "turns") -> FewShotScore:
    """Score every item of ``task`` after ``shots`` examples: likeliest label vs the right one."""
    predictions, mass, evaluated, scored = [], 0.0, 0, 0
    for text, truth in task.items:
        prompt = render_chat_for(llm, few_shot_chat(task, shots, text, layout))
        scores, cost = label_logprobs(llm, prompt, task.labels)
        predictions.append((text, truth, max(scores, key=scores.get)))
        mass += sum(math.exp(v) for v in scores.values())
        evaluated += cost
        scored += sum(len(prompt_token_ids(llm, prompt + label)) for label in task.labels)
    correct = sum(truth == predicted for _, truth, predicted in predictions)
    return FewShotScore(task.name, shots, layout, correct, len(predictions), mass / len(predictions),
                        evaluated, scored, tuple(predictions))


CONSTRAINTS = (None, "minimum/maximum", "enum")


def review_json_rows(llm, reviews, constraint=None, with_example: bool = False, max_tokens: int = 32) -> list:
    """One row per review: the reply at temperature 0 and whether it parses, is valid and is right.

    ``constraint`` None asks in words only; "minimum/maximum" or "enum" passes
    :func:`helpers.llm.prompt_sets.review_schema` of that kind as ``response_format``, which
    llama-cpp-python converts to a grammar. Validity is always checked against the schema of that
    kind (both kinds accept the same replies).
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
    schema = review_schema(constraint or "minimum/maximum")
    rows = []
    for text, stars in reviews.items:
        reply = json_reply(llm, schema, messages=review_messages(reviews, text, with_example),
                           use_response_format=constraint is not None, max_tokens=max_tokens)
        value = reply["value"]
        right = isinstance(value, dict) and value.get("stars") == stars and not isinstance(value.get("stars"), bool)
        rows.append({"review": text, "stars": stars, **reply, "right": right})
    return rows


def json_counts(rows) -> dict:
    """How many of ``rows`` (from :func:`review_json_rows`) parse, are valid, are right; tokens generated."""
    return {"replies": len(rows), "parse": sum(r["parses"] for r in rows), "valid": sum(r["valid"] for r in rows),
            "right": sum(r["right"] for r in rows), "tokens": sum(r["tokens"] for r in rows)}
