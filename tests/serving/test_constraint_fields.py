"""The two request shapes of an output constraint, and the check that a reply obeys it."""
import pytest

from helpers.serving.constraint_fields import FieldCheck, constraint_extra, follows, ignored_fields


def test_current_and_removed_shapes():
    assert constraint_extra("structured_outputs", "choice", ["yes", "no"]) == {"structured_outputs": {"choice": ["yes", "no"]}}
    assert constraint_extra("guided_choice", "choice", ["yes", "no"]) == {"guided_choice": ["yes", "no"]}
    assert constraint_extra("guided_regex", "regex", "[0-9]+") == {"guided_regex": "[0-9]+"}
    assert constraint_extra("structured_outputs", "json", {"type": "object"}) == {"structured_outputs": {"json": {"type": "object"}}}
    with pytest.raises(ValueError, match="'guided_regex' cannot carry a choice constraint"):
        constraint_extra("guided_regex", "choice", ["yes"])
    with pytest.raises(ValueError, match="unknown constraint kind 'grammar'"):
        constraint_extra("structured_outputs", "grammar", "root ::= x")


def test_follows_each_kind():
    assert follows("yes", "choice", ["yes", "no"]) and not follows("Yes, the sea is blue.", "choice", ["yes", "no"])
    assert follows("2024-06-01", "regex", r"\d{4}-\d{2}-\d{2}") and not follows("June 2024", "regex", r"\d{4}-\d{2}-\d{2}")
    schema = {"type": "object", "required": ["name", "age"]}
    assert follows('{"name": "Ann", "age": 3}', "json", schema)
    assert not follows('{"name": "Ann"}', "json", schema) and not follows("The sea is blue.", "json", schema)


def test_ignored_means_accepted_and_not_followed():
    checks = [FieldCheck("structured_outputs", 200, "yes", True), FieldCheck("guided_choice", 200, "The sea...", False),
              FieldCheck("guided_regex", 400, "unknown field", False)]
    assert ignored_fields(checks) == ["guided_choice"]
