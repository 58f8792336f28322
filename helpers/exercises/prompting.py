"""Checks for the exercises of notebook 04 (prompt engineering)."""
import math

from helpers.exercises import NOT_ANSWERED, Feedback, check_number
from helpers.llm.prompting import render_chat, validate

EXERCISE_MESSAGES = [{"role": "user", "content": "Good morrow!"}]
GENERATION_PROMPT = "<|im_start|>assistant\n"


def chat_model_template() -> str:
    """The chat template stored in the real chat model's GGUF (read from its header, no weights loaded)."""
    from helpers.gguf.header import read_header
    from helpers.llm.chat_model import chat_model_path

    return read_header(chat_model_path()).chat_template


def check_rendered_prompt(answer, messages=EXERCISE_MESSAGES, template: str = None):
    """04 ex. 1: the exact text SmolLM2-135M-Instruct's chat template makes of ``messages``."""
    if answer is None:
        return NOT_ANSWERED
    if not isinstance(answer, str):
        return Feedback(False, f"expected a string, got {type(answer).__name__}.")
    right = render_chat(template or chat_model_template(), messages)
    if answer == right:
        return Feedback(True, "that is exactly what the model reads, default system prompt included.")
    system_end = right.index("<|im_end|>") + len("<|im_end|>\n")
    if answer in (right[system_end:], right[system_end:].removesuffix(GENERATION_PROMPT)):
        return Feedback(False, "With no system message, the template writes its own default system turn first "
                               "(look at `loop.first and messages[0]['role'] != 'system'`).")
    if answer == right.removesuffix(GENERATION_PROMPT):
        return Feedback(False, "add_generation_prompt is on: the text ends with '<|im_start|>assistant' and a "
                               "newline, so the model writes the assistant's turn next.")
    if answer.replace("<|im_end|>\n", "<|im_end|>") == right.replace("<|im_end|>\n", "<|im_end|>"):
        return Feedback(False, "Every turn ends with <|im_end|> and a newline.")
    return Feedback(False, "Not the same text. Render it step by step: the default system turn "
                           "(<|im_start|>system, newline, its text, <|im_end|>, newline), then the user turn the "
                           "same way, then <|im_start|>assistant and a newline.")


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
