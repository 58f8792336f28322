"""Checks for the exercises of notebook 04 (prompt engineering)."""
import math

from helpers.exercises import NOT_ANSWERED, Feedback, check_number
from helpers.llm.prompting import render_chat, validate
from helpers.training.export import CHAT_TEMPLATE

EXERCISE_MESSAGES = [{"role": "system", "content": "Speak in verse."},
                     {"role": "user", "content": "Good morrow!"}]


def check_rendered_prompt(answer, messages=EXERCISE_MESSAGES, template: str = CHAT_TEMPLATE):
    """04 ex. 1: the exact text the tiny Llama's chat template makes of ``messages``."""
    if answer is None:
        return NOT_ANSWERED
    if not isinstance(answer, str):
        return Feedback(False, f"expected a string, got {type(answer).__name__}.")
    right = render_chat(template, messages)
    if answer == right:
        return Feedback(True, "that is exactly what the model reads.")
    if answer == right.removeprefix("<s>"):
        return Feedback(False, "The template starts with {{ bos_token }}: the text begins with <s>.")
    if answer == right.removesuffix("ASSISTANT:\n"):
        return Feedback(False, "add_generation_prompt is on: the text ends with 'ASSISTANT:' and a newline, "
                               "so the model writes the assistant's turn next.")
    if answer.upper() == right.upper():
        return Feedback(False, "Roles go through the `upper` filter: SYSTEM:, USER:, ASSISTANT:.")
    if answer.replace("\n\n", "\n") == right.replace("\n\n", "\n"):
        return Feedback(False, "Each message ends with a blank line: content, then two newlines.")
    return Feedback(False, "Not the same text. Render it step by step: <s>, then for each message ROLE:, "
                           "newline, content, blank line; then ASSISTANT: and a newline.")


def check_probability_factor(answer, logprob_before: float, logprob_after: float):
    """04 ex. 2: by what factor the probability grows when the log-probability (nats) goes up."""
    diff = logprob_after - logprob_before
    right = math.exp(diff)
    return check_number(answer, right, rel_tol=0.01, mistakes=[
        (diff, "That is the change in log-probability (nats); the probability changes by exp of it."),
        (10 ** diff, "Natural logarithms (nats): use exp, not a power of 10."),
        (2 ** diff, "Natural logarithms (nats): use exp, not a power of 2."),
        (logprob_after / logprob_before, "Log-probabilities are not divided: subtract them, then exponentiate."),
    ])


SCHEMA_CASES = (
    ({"mood": "merry"}, True, None),
    ({"mood": "sad"}, True, None),
    ({"mood": "angry"}, False, "'angry' passes: restrict mood to the allowed values with \"enum\"."),
    ({"mood": 3}, False, "a number passes as a mood: say \"type\": \"string\" (or use an enum of strings)."),
    ({}, False, "an empty object passes: list the property under \"required\"."),
    ({"mood": "sad", "extra": 1}, False, "extra properties pass: add \"additionalProperties\": False."),
    ([], False, "a list passes: the top level must be \"type\": \"object\"."),
)


def check_mood_schema(answer):
    """04 ex. 3: a JSON Schema for an object whose only property ``mood`` is required and is "merry" or "sad"."""
    if answer is None:
        return NOT_ANSWERED
    if not isinstance(answer, dict):
        return Feedback(False, f"expected a dict (a JSON Schema), got {type(answer).__name__}.")
    for instance, should_pass, hint in SCHEMA_CASES:
        try:
            passes = not validate(instance, answer)
        except ValueError as err:
            return Feedback(False, f"the schema cannot be used: {err}")
        if passes != should_pass:
            if should_pass:
                return Feedback(False, f"{instance!r} should be valid but is refused: check the enum spelling "
                                       "and the property name.")
            return Feedback(False, f"{instance!r} should be refused, but {hint}")
    return Feedback(True, "your schema accepts exactly the objects it should on every test case.")
