"""Self-check exercises: each check returns Feedback that passes, or explains what went wrong.

A check never just says "wrong": it recognises the usual mistakes (GiB for GB, one thread for
all, bits for bytes...) and answers with a hint. ``None`` means "not answered yet".
Per-notebook checks live in the modules beside this one, named after their notebook.
"""
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Feedback:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return ("PASS: " if self.passed else "NOT YET: ") + self.message

    def _repr_markdown_(self) -> str:
        return ("**Correct.** " if self.passed else "**Not yet.** ") + self.message


NOT_ANSWERED = Feedback(False, "not answered yet: replace None with your answer and run the cell again.")


def is_close(a: float, b: float, rel_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)


def check_number(answer, expected: float, *, rel_tol: float = 0.02, unit: str = "",
                 mistakes=()) -> Feedback:
    """Compare a numeric answer with ``expected`` (within ``rel_tol``).

    ``mistakes`` is a sequence of ``(wrong_value, hint)``: an answer close to a known wrong value
    gets that hint. Otherwise the feedback says whether the answer is too high or too low.
    """
    if answer is None:
        return NOT_ANSWERED
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        return Feedback(False, f"expected a finite number, got {answer!r}.")
    suffix = f" {unit}" if unit else ""
    if is_close(answer, expected, rel_tol):
        return Feedback(True, f"{answer:g}{suffix} is right.")
    for wrong_value, hint in mistakes:
        if is_close(answer, wrong_value, rel_tol):
            return Feedback(False, hint)
    direction = "high" if answer > expected else "low"
    if min(answer, expected) <= 0:  # no meaningful factor across zero or between signs
        return Feedback(False, f"{answer:g}{suffix} is too {direction}" + (" (a negative number)." if answer < 0 <= expected else "."))
    factor = max(answer, expected) / min(answer, expected)
    return Feedback(False, f"{answer:g}{suffix} is too {direction} (off by a factor of {factor:.2g}).")


def check_choice(answer, expected, *, allowed, hints=None) -> Feedback:
    """Compare a choice (a string or bool from ``allowed``); ``hints`` maps wrong choices to hints."""
    if answer is None:
        return NOT_ANSWERED
    if isinstance(answer, str):  # " File truncated" and "file truncated" mean the allowed "File truncated"
        answer = next((a for a in allowed if isinstance(a, str) and a.casefold() == answer.strip().casefold()), answer)
    same_type = [a for a in allowed  # 1 is not True, a list is not a string
                 if isinstance(answer, type(a)) and isinstance(answer, bool) == isinstance(a, bool)]
    if answer not in same_type:
        return Feedback(False, f"{answer!r} is not one of the allowed answers {list(allowed)!r}.")
    if answer == expected:
        return Feedback(True, f"{answer!r} is right.")
    return Feedback(False, (hints or {}).get(answer, f"{answer!r} is not it; look again."))
