"""The course's fixed prompt sets, read and checked in one place (``data/prompting/``).

* ``few_shot_tasks.json``: classification tasks with a small set of labels (sentiment; animal
  class), each with an instruction, a pool of worked examples and test items that never overlap.
* ``json_reviews.json``: one-line product reviews with the rating they state (1-5 stars), for
  JSON extraction with and without a grammar.

Both were written for the course; each file says where its items come from and how the right
answers were decided. A malformed file is refused with a ValueError naming the bad entry.
"""
import json
from dataclasses import dataclass

from helpers.course.paths import DATA_DIR

PROMPT_DIR = DATA_DIR / "prompting"
STAR_RANGE = (1, 5)  # the rating scale of the review set, inclusive


@dataclass(frozen=True)
class FewShotTask:
    """A classification task: instruction, allowed labels, worked examples and test items.

    ``examples`` and ``items`` are tuples of (text, label); every label is one of ``labels``.
    """

    name: str
    instruction: str
    labels: tuple
    examples: tuple
    items: tuple


@dataclass(frozen=True)
class ReviewSet:
    """Reviews that state a rating: (text, stars) items, the instruction, one worked example."""

    instruction: str
    example_text: str
    example_reply: dict
    items: tuple
    source: str
    rating_rule: str


def _pairs(raw, labels, where: str) -> tuple:
    pairs = []
    for i, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) and x for x in pair)):
            raise ValueError(f"{where}[{i}] must be a [text, label] pair of non-empty strings, got {pair!r}")
        if pair[1] not in labels:
            raise ValueError(f"{where}[{i}]: label {pair[1]!r} is not one of {list(labels)}")
        pairs.append(tuple(pair))
    return tuple(pairs)


def parse_few_shot_tasks(data: dict) -> dict:
    """{name: :class:`FewShotTask`} from the JSON structure of ``few_shot_tasks.json``."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict) or not data["tasks"]:
        raise ValueError("few-shot task file must hold a non-empty 'tasks' object")
    tasks = {}
    for name, raw in data["tasks"].items():
        labels = raw.get("labels")
        if not (isinstance(labels, list) and len(labels) >= 2 and len(set(labels)) == len(labels)
                and all(isinstance(label, str) and label for label in labels)):
            raise ValueError(f"task {name!r}: labels must be two or more distinct non-empty strings, got {labels!r}")
        examples = _pairs(raw.get("examples", []), labels, f"task {name!r} examples")
        items = _pairs(raw.get("items", []), labels, f"task {name!r} items")
        if not items:
            raise ValueError(f"task {name!r} has no items to score")
        leaked = {text for text, _ in examples} & {text for text, _ in items}
        if leaked:
            raise ValueError(f"task {name!r}: items also used as examples: {sorted(leaked)}")
        tasks[name] = FewShotTask(name, str(raw.get("instruction", "")), tuple(labels), examples, items)
    return tasks


def few_shot_tasks() -> dict:
    """The course's few-shot classification tasks, {name: :class:`FewShotTask`}."""
    return parse_few_shot_tasks(json.loads((PROMPT_DIR / "few_shot_tasks.json").read_text()))


def parse_review_set(data: dict) -> ReviewSet:
    """A :class:`ReviewSet` from the JSON structure of ``json_reviews.json``."""
    low, high = STAR_RANGE
    items = []
    for i, item in enumerate(data.get("items", [])):
        text, stars = (item.get("text"), item.get("stars")) if isinstance(item, dict) else (None, None)
        if not (isinstance(text, str) and text and isinstance(stars, int) and not isinstance(stars, bool)
                and low <= stars <= high):
            raise ValueError(f"review item {i} must have a non-empty text and whole stars in {low}..{high}, got {item!r}")
        items.append((text, stars))
    if not items:
        raise ValueError("the review set has no items")
    example = data.get("example", {})
    if not (isinstance(example.get("text"), str) and isinstance(example.get("reply"), dict)):
        raise ValueError(f"the review set needs an example with text and reply, got {example!r}")
    return ReviewSet(str(data.get("instruction", "")), example["text"], example["reply"], tuple(items),
                     str(data.get("source", "")), str(data.get("rating_rule", "")))


def review_set() -> ReviewSet:
    """The course's review set for JSON extraction."""
    return parse_review_set(json.loads((PROMPT_DIR / "json_reviews.json").read_text()))


def review_schema(stars_bound: str = "minimum/maximum") -> dict:
    """JSON Schema of a reply: {"product": string, "stars": whole number 1..5}, nothing else.

    ``stars_bound`` says how the range is written: "minimum/maximum" (the usual way) or "enum"
    (the list [1, 2, 3, 4, 5]). Both accept exactly the same replies; converters to grammars may
    treat them differently.
    """
    low, high = STAR_RANGE
    if stars_bound == "minimum/maximum":
        stars = {"type": "integer", "minimum": low, "maximum": high}
    elif stars_bound == "enum":
        stars = {"type": "integer", "enum": list(range(low, high + 1))}
    else:
        raise ValueError(f"stars_bound must be 'minimum/maximum' or 'enum', got {stars_bound!r}")
    return {"type": "object", "properties": {"product": {"type": "string"}, "stars": stars},
            "required": ["product", "stars"], "additionalProperties": False}


def review_messages(reviews: ReviewSet, text: str, with_example: bool = False) -> list:
    """Chat messages asking for the JSON of review ``text``: the instruction as the system prompt,
    optionally one worked example as a user turn and an assistant turn, then the review."""
    messages = [{"role": "system", "content": reviews.instruction}]
    if with_example:
        messages += [{"role": "user", "content": reviews.example_text},
                     {"role": "assistant", "content": json.dumps(reviews.example_reply)}]
    return messages + [{"role": "user", "content": text}]
