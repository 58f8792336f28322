"""Is an output constraint honoured, or silently ignored? Send it in two shapes and look at the answer.

vLLM constrains a reply (one of a few choices, a regular expression, a JSON schema) when the request
carries ``"structured_outputs": {"choice": [...]}`` (or ``"regex"``, ``"json"``). Before version 0.12 the
same request was spelled ``"guided_choice": [...]`` (``guided_regex``, ``guided_json``). Newer vLLM
still accepts the old fields without complaint, answers HTTP 200 and generates unconstrained text: the
only sign is one warning in the server's log. :func:`check_constraint_fields` sends the same request in
both shapes and checks each reply against the constraint itself, so an ignored field shows.
"""
import json
import re
from dataclasses import dataclass

from helpers.serving.client import ServerError, chat_body, complete, reply_text

CONSTRAINT_KINDS = ("choice", "regex", "json")
CURRENT_FIELD = "structured_outputs"  # vLLM >= 0.12
REMOVED_FIELDS = {"choice": "guided_choice", "regex": "guided_regex", "json": "guided_json"}  # vLLM < 0.12
PROMPT = "Write two sentences about the sea."  # an unconstrained answer fits none of the constraints below


@dataclass(frozen=True)
class FieldCheck:
    """One request: which field carried the constraint, what came back, whether it obeys the constraint."""

    field: str
    status: int  # HTTP status: 200 accepted, 400 refused
    text: str  # the reply's text, or the server's error message
    followed: bool


def constraint_extra(field: str, kind: str, constraint) -> dict:
    """The extra request fields for ``constraint`` of ``kind``, in the current or the removed shape."""
    if kind not in CONSTRAINT_KINDS:
        raise ValueError(f"unknown constraint kind {kind!r}; choose one of {CONSTRAINT_KINDS}")
    if field == CURRENT_FIELD:
        return {CURRENT_FIELD: {kind: constraint}}
    if field == REMOVED_FIELDS[kind]:
        return {field: constraint}
    raise ValueError(f"field {field!r} cannot carry a {kind} constraint; use {CURRENT_FIELD!r} or "
                     f"{REMOVED_FIELDS[kind]!r}")


def follows(text: str, kind: str, constraint) -> bool:
    """Whether ``text`` obeys the constraint: one of the choices, a full regex match, or a JSON object
    with every property the schema requires."""
    if kind == "choice":
        return text in constraint
    if kind == "regex":
        return re.fullmatch(constraint, text) is not None
    if kind == "json":
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return isinstance(value, dict) and set(constraint.get("required", ())) <= value.keys()
    raise ValueError(f"unknown constraint kind {kind!r}; choose one of {CONSTRAINT_KINDS}")


def check_constraint_fields(base_url: str, model: str, kind: str = "choice", constraint=("yes", "no"),
                            prompt: str = PROMPT, max_tokens: int = 32) -> list[FieldCheck]:
    """Send ``prompt`` with the constraint in the current field, then in the removed one (greedy both
    times); one :class:`FieldCheck` each. ``followed`` False with status 200 means: silently ignored; a
    refused request (HTTP 4xx) is recorded with the server's message."""
    if kind not in CONSTRAINT_KINDS:
        raise ValueError(f"unknown constraint kind {kind!r}; choose one of {CONSTRAINT_KINDS}")
    constraint = list(constraint) if kind == "choice" else constraint
    checks = []
    for field in (CURRENT_FIELD, REMOVED_FIELDS[kind]):
        body = chat_body([{"role": "user", "content": prompt}], model, max_tokens=max_tokens,
                         **constraint_extra(field, kind, constraint))
        try:
            text = reply_text(complete(base_url, body))
        except ServerError as err:
            checks.append(FieldCheck(field, err.status, err.message, False))
            continue
        checks.append(FieldCheck(field, 200, text, follows(text, kind, constraint)))
    return checks


def ignored_fields(checks: list[FieldCheck]) -> list[str]:
    """The fields the server accepted (HTTP 200) and then did not follow."""
    return [check.field for check in checks if check.status == 200 and not check.followed]
