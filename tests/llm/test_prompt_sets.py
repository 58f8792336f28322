"""The fixed prompt sets: shipped files load, bad files are refused, the two review schemas agree."""
import copy
import json

import pytest

from helpers.llm import prompt_sets
from helpers.llm.prompting import validate

TASKS = {"tasks": {"yes/no": {"instruction": "Answer yes or no.", "labels": ["yes", "no"],
                              "examples": [["Is snow cold?", "yes"]], "items": [["Is fire cold?", "no"]]}}}
REVIEWS = {"instruction": "JSON please.", "example": {"text": "Fine, 3 stars.", "reply": {"product": "x", "stars": 3}},
           "items": [{"text": "Great, 5 stars.", "stars": 5}], "source": "test", "rating_rule": "as stated"}


def test_shipped_sets_load_with_enough_items():
    tasks = prompt_sets.few_shot_tasks()
    assert set(tasks) == {"sentiment", "animal class"}
    for task in tasks.values():
        assert len(task.items) >= 20 and len(task.examples) >= 3
        assert {label for _, label in task.items} == set(task.labels), "every label is tested"
    reviews = prompt_sets.review_set()
    assert len(reviews.items) >= 20 and reviews.source and reviews.rating_rule
    assert not validate(reviews.example_reply, prompt_sets.review_schema())


def test_few_shot_file_problems_are_named():
    assert prompt_sets.parse_few_shot_tasks(TASKS)["yes/no"].labels == ("yes", "no")
    for change, message in [(lambda t: t["labels"].append("yes"), "distinct"),
                            (lambda t: t["items"].append(["Is it?", "maybe"]), "'maybe' is not one of"),
                            (lambda t: t["examples"].append(t["items"][0]), "also used as examples"),
                            (lambda t: t["items"].clear(), "no items"),
                            (lambda t: t["items"].append(["only text"]), r"items\[1\] must be")]:
        bad = copy.deepcopy(TASKS)
        change(bad["tasks"]["yes/no"])
        with pytest.raises(ValueError, match=message):
            prompt_sets.parse_few_shot_tasks(bad)
    with pytest.raises(ValueError, match="'tasks'"):
        prompt_sets.parse_few_shot_tasks({"tasks": {}})


def test_review_file_problems_are_named():
    assert prompt_sets.parse_review_set(REVIEWS).items == (("Great, 5 stars.", 5),)
    for stars in (0, 6, 2.5, True, "4"):
        bad = copy.deepcopy(REVIEWS)
        bad["items"][0]["stars"] = stars
        with pytest.raises(ValueError, match="whole stars in 1..5"):
            prompt_sets.parse_review_set(bad)
    with pytest.raises(ValueError, match="needs an example"):
        prompt_sets.parse_review_set({**REVIEWS, "example": {}})
    with pytest.raises(ValueError, match="no items"):
        prompt_sets.parse_review_set({**REVIEWS, "items": []})


def test_both_review_schemas_accept_exactly_the_same_replies():
    bounded, listed = prompt_sets.review_schema("minimum/maximum"), prompt_sets.review_schema("enum")
    replies = [{"product": "kettle", "stars": s} for s in (-1, 0, 1, 3, 5, 6, 10)]
    replies += [{"product": "kettle"}, {"product": "kettle", "stars": 4, "price": 2}, {"product": 1, "stars": 4},
                {"product": "kettle", "stars": True}]
    for reply in replies:
        assert (not validate(reply, bounded)) == (not validate(reply, listed)), reply
    assert sum(not validate(r, bounded) for r in replies) == 3  # stars 1, 3 and 5
    with pytest.raises(ValueError, match="stars_bound"):
        prompt_sets.review_schema("range")


def test_review_messages_put_the_example_before_the_review():
    reviews = prompt_sets.parse_review_set(REVIEWS)
    plain = prompt_sets.review_messages(reviews, "Awful, 1 star.")
    assert [m["role"] for m in plain] == ["system", "user"] and plain[-1]["content"] == "Awful, 1 star."
    shown = prompt_sets.review_messages(reviews, "Awful, 1 star.", with_example=True)
    assert [m["role"] for m in shown] == ["system", "user", "assistant", "user"]
    assert json.loads(shown[2]["content"]) == REVIEWS["example"]["reply"]
