"""Prompt caching in llama-server: a prompt that starts like the slot's last one skips that part.

Each slot keeps the KV cache of its last prompt and reply. A new request whose tokens start the
same way (``cache_prompt``, true by default, in the request body) computes only the rest: a long
shared system prompt is paid once, and the next request's time to first token (TTFT) is short.
``--cache-reuse N`` goes further: after the first difference it looks for runs of at least ``N``
tokens of the new prompt further on in the cache and shifts their KV entries into place instead of
recomputing them. It finds a chunk that was *removed* (an old turn dropped from the middle of a
conversation); a *replaced* chunk's new tokens are nowhere in the cache, so what follows it is
recomputed. The reply's ``timings`` say how many prompt tokens came from the cache (``cache_n``)
and how many were computed (``prompt_n``).
"""
import time
from dataclasses import dataclass

from helpers.serving.client import chat_body, complete

WORDS = "river mountain cloud forest stone garden window letter bridge candle".split()


def filler_text(words: int, numbered: bool = False) -> str:
    """``words`` words of deterministic filler, about one token each (two with ``numbered``: every
    word carries its index, so no run of it repeats elsewhere)."""
    if not isinstance(words, int) or words < 1:
        raise ValueError(f"words must be a positive whole number, got {words!r}")
    return " ".join(WORDS[i % len(WORDS)] + (str(i) if numbered else "") for i in range(words))


@dataclass(frozen=True)
class FirstToken:
    """One request that stopped after its first token. ``seconds``: wall time of the request (the
    client's TTFT); ``cached_tokens``/``computed_tokens``: the prompt's tokens taken from the cache
    and computed (llama-server's ``timings.cache_n`` and ``timings.prompt_n``); ``prompt_ms``: the
    server's time for the computed ones, milliseconds."""

    seconds: float
    cached_tokens: int
    computed_tokens: int
    prompt_ms: float


def time_to_first_token(base_url: str, messages, model: str, cache_prompt: bool = True,
                        timeout_s: float = 300.0) -> FirstToken:
    """Send ``messages`` asking for one token (greedy) and time it."""
    body = chat_body(messages, model, max_tokens=1, cache_prompt=cache_prompt)
    began = time.perf_counter()
    reply = complete(base_url, body, timeout_s)
    seconds = time.perf_counter() - began
    timings = reply["timings"]
    return FirstToken(seconds, timings["cache_n"], timings["prompt_n"], timings["prompt_ms"])


def system_prompt_messages(system: str, question: str) -> list:
    """A chat whose long ``system`` prompt is shared between requests and whose ``question`` changes."""
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def cache_cases(base_url: str, model: str, system: str, chunk: str, document: str) -> dict:
    """Time to first token, in order, against one fresh llama-server: the ``system`` prompt's first
    request; the same system prompt with a new question; that again with ``cache_prompt: false``; a
    request with an earlier ``chunk`` and a ``document`` after the system prompt; and the same with the
    chunk dropped. {case: :class:`FirstToken`}."""
    def ask(question: str, **options) -> FirstToken:
        return time_to_first_token(base_url, system_prompt_messages(system, question), model, **options)

    return {"first request": ask("Which word comes first?"),
            "same system prompt, new question": ask("Which word comes last?"),
            "the same, cache_prompt false": ask("Which word comes last?", cache_prompt=False),
            "chunk and document": ask(chunk + "\n" + document + "\nHow many words?"),
            "chunk dropped": ask(document + "\nHow many words?")}
