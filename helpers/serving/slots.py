"""llama-server's parallel slots: ``--parallel`` (-np) divides ``--ctx-size`` (-c) between them.

Started with ``-c n_ctx -np parallel`` (and without ``--kv-unified``, which this llama-server turns
on only when the slot count is left to "auto"), every slot owns ``n_ctx / parallel`` tokens of the
KV cache: prompt and reply of one conversation must fit in that share, not in ``n_ctx``. A longer
prompt is refused with HTTP 400 before any token is computed; :func:`long_prompt_refusal` shows it.
``GET /slots`` (on by default; ``--no-slots`` turns it off) lists each slot's share and state.
"""
import json
import urllib.request
from dataclasses import dataclass

from helpers.serving.client import ServerError, chat_body, complete

FILLER = "one two three four five six seven eight nine ten "  # about 10 tokens in SmolLM2's vocabulary


def slot_tokens(n_ctx: int, parallel: int) -> int:
    """Tokens of context each of ``parallel`` slots gets out of ``n_ctx`` (llama-server's per-slot n_ctx)."""
    for name, value in (("n_ctx", n_ctx), ("parallel", parallel)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    if n_ctx % parallel:
        raise ValueError(f"n_ctx={n_ctx} does not split evenly between parallel={parallel} slots")
    return n_ctx // parallel


@dataclass(frozen=True)
class SlotRefusal:
    """The server's answer to a prompt longer than a slot: HTTP ``status`` and its ``message``."""

    status: int
    message: str
    slot_tokens: int  # n_ctx / parallel, computed here
    prompt_words: int  # words of filler sent (more tokens than slot_tokens)


def long_prompt_refusal(base_url: str, model: str, n_ctx: int, parallel: int) -> SlotRefusal:
    """Send a prompt longer than one slot's share (but shorter than ``n_ctx`` when parallel > 1) and
    return the refusal. Raises RuntimeError if the server answers it instead."""
    share = slot_tokens(n_ctx, parallel)
    words = share + 16  # at least one token per word: longer than the share
    prompt = " ".join(FILLER.split() * (words // 10 + 1))
    body = chat_body([{"role": "user", "content": prompt}], model, max_tokens=4)
    try:
        complete(base_url, body)
    except ServerError as err:
        return SlotRefusal(err.status, err.message, share, len(prompt.split()))
    raise RuntimeError(f"the server answered a prompt of {len(prompt.split())} words; a slot of {share} tokens "
                       "cannot hold it (is --kv-unified on, or the slot count not what was asked?)")


def read_slots(server_url: str, timeout_s: float = 10.0) -> list[dict]:
    """``GET /slots`` (llama-server's root URL, not ``/v1``): one dict per slot with its ``id``,
    ``n_ctx`` (tokens), ``is_processing`` and ``speculative``."""
    with urllib.request.urlopen(f"{server_url}/slots", timeout=timeout_s) as reply:
        return [{key: slot[key] for key in ("id", "n_ctx", "is_processing", "speculative")} for slot in json.load(reply)]
