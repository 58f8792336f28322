"""Speculative decoding: a cheap guesser proposes ``k`` tokens, the model checks them in one pass.

Each step the draft (a smaller model, or an n-gram lookup in the text so far) proposes ``k``
tokens; the target model computes all ``k + 1`` positions in one forward pass and keeps the
proposals up to the first it disagrees with, plus its own next token. If each proposal is accepted
with probability ``alpha`` (independently), a step yields on average
``(1 - alpha**(k + 1)) / (1 - alpha)`` tokens and costs one verify pass plus ``k`` draft steps.
Against plain decoding (one target pass per token) the speed-up is their ratio; it is below 1
(slower) when the draft is nearly as costly as the target or guesses badly.

llama-server (this version): ``--spec-type draft-simple --spec-draft-model FILE
--spec-draft-n-max k`` for a draft model (it must share the target's vocabulary), ``--spec-type
ngram-simple`` (or ngram-mod, ngram-map-k, ...) for n-gram lookup; each reply's ``timings`` carry
``draft_n`` (tokens proposed) and ``draft_n_accepted``. :func:`draft_model_file` makes a draft of the
course's chat model: the same model requantized to Q2_K (same vocabulary, fewer bytes per weight).
"""
from pathlib import Path

from helpers.course.paths import BUILD_DIR
from helpers.gguf.quantize import quantize
from helpers.llm.chat_model import chat_model_path

DRAFT_QUANT = "Q2_K"


def _check(alpha: float, k: int) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (acceptance probability) must be between 0 and 1, got {alpha!r}")
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k (draft tokens per step) must be a whole number >= 0, got {k!r}")


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """Tokens one verify step yields on average: (1 - alpha^(k+1)) / (1 - alpha); k + 1 at alpha = 1."""
    _check(alpha, k)
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def step_cost(k: int, verify_cost: float = 1.0, draft_cost: float = 0.0) -> float:
    """Cost of one step in units of one plain decoding step of the target: one verify pass of
    ``k + 1`` tokens (``verify_cost``, 1 when the batch is as cheap as one token, as when weights'
    memory traffic dominates) plus ``k`` draft steps of ``draft_cost`` each (draft / target time per
    token: near 0 for n-gram lookup, near 1 for a draft barely smaller than the target)."""
    if verify_cost <= 0 or draft_cost < 0:
        raise ValueError(f"verify_cost must be > 0 and draft_cost >= 0, got {verify_cost!r} and {draft_cost!r}")
    return verify_cost + k * draft_cost


def speedup(alpha: float, k: int, draft_cost: float, verify_cost: float = 1.0) -> float:
    """Tokens/s with speculative decoding over tokens/s without: expected tokens per step / step cost."""
    return expected_tokens_per_step(alpha, k) / step_cost(k, verify_cost, draft_cost)


def break_even_alpha(k: int, draft_cost: float, verify_cost: float = 1.0) -> float:
    """The acceptance probability at which speculative decoding is exactly as fast as plain decoding
    (speed-up 1); 1.0 means it never pays (even perfect guesses do not cover the cost)."""
    if k < 1:
        raise ValueError(f"k must be at least 1 to speculate, got {k!r}")
    if speedup(1.0, k, draft_cost, verify_cost) <= 1.0:
        return 1.0
    low, high = 0.0, 1.0  # speed-up grows with alpha: bisect
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if speedup(middle, k, draft_cost, verify_cost) < 1.0 else (low, middle)
    return (low + high) / 2


def acceptance(timings: dict) -> tuple:
    """(drafted, accepted, accepted / drafted) from a llama-server reply's ``timings``; the rate is
    nan when nothing was drafted. Raises KeyError naming the fields when the reply has no draft counts."""
    if "draft_n" not in timings:
        raise KeyError(f"no draft_n in timings {sorted(timings)}: the server was started without --spec-type, "
                       "or (n-gram lookup) found nothing to draft")
    drafted, accepted = timings["draft_n"], timings["draft_n_accepted"]
    return drafted, accepted, accepted / drafted if drafted else float("nan")


def draft_model_file(target=None, quant: str = DRAFT_QUANT, out_dir: Path = BUILD_DIR / "serving") -> Path:
    """A draft for ``target`` (default: the course's chat model): the same file requantized to ``quant``,
    made once under ``out_dir`` (a few seconds) and reused afterwards."""
    target = chat_model_path() if target is None else Path(target)
    path = Path(out_dir) / f"{target.stem.rsplit('.', 1)[0]}.{quant}.gguf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        quantize(target, path, quant, allow_requantize=True)
    return path
