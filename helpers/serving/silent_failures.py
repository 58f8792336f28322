"""Failures a server does not report as errors: the reply looks normal, and something is missing.

* A prompt cut to fit the context: some servers drop the prompt's start instead of refusing it.
  The reply's ``usage.prompt_tokens`` is then smaller than the tokens sent. (The two servers here
  refuse instead: llama-server and llama-cpp-python answer HTTP 400 to a prompt longer than the
  context, or than llama-server's slot.)
* A reply cut by the context: llama-server stops when the slot is full and says
  ``finish_reason: "length"``, the same as for reaching ``max_tokens``; only the count tells them apart.
* Context shift (llama-server ``--context-shift``): generation goes on past the slot by discarding
  older tokens; the model no longer sees the start of its prompt. Prompt plus reply tokens exceed the slot.
* llama-cpp-python's server with ``--interrupt_requests True`` (its default): a new request stops
  the one being streamed; the first client's stream just ends early, without a finish reason.
  ``--interrupt_requests False`` makes the new request wait instead.
"""
import threading

from helpers.serving.client import chat_body, post_json, stream_pieces


def chat_tokens_sent(server_url: str, messages) -> int:
    """Tokens of ``messages`` after llama-server's chat template (``/apply-template``, then
    ``/tokenize`` with the special tokens): what its ``usage.prompt_tokens`` counts."""
    prompt = post_json(f"{server_url}/apply-template", {"messages": list(messages)})["prompt"]
    return len(post_json(f"{server_url}/tokenize", {"content": prompt, "add_special": True})["tokens"])


def silent_cuts(reply: dict, tokens_sent: int, max_tokens: int, slot_tokens: int) -> list:
    """What a chat completion ``reply`` lost without an error, as sentences (empty: nothing).

    ``tokens_sent``: the prompt's tokens (:func:`chat_tokens_sent`); ``max_tokens``: asked for;
    ``slot_tokens``: the context one request gets (n_ctx / parallel on llama-server).
    """
    prompt, reply_tokens = reply["usage"]["prompt_tokens"], reply["usage"]["completion_tokens"]
    finish = reply["choices"][0]["finish_reason"]
    found = []
    if prompt < tokens_sent:
        found.append(f"prompt cut: the server read {prompt} of the {tokens_sent} tokens sent")
    if prompt + reply_tokens > slot_tokens:
        found.append(f"context shifted: {prompt} prompt + {reply_tokens} reply tokens exceed the {slot_tokens}-token "
                     "context; the model lost the start of the conversation")
    elif finish == "length" and reply_tokens < max_tokens:
        found.append(f"reply cut by the context: {reply_tokens} of {max_tokens} tokens, the context "
                     f"({slot_tokens} tokens) was full")
    return found


def overlapping_streams(base_url: str, model: str, first_tokens: int = 48, timeout_s: float = 120.0) -> dict:
    """Stream a long reply, and once its first text arrived send a second short request.

    Returns what each stream got: ``{"first": (text pieces, finish_reason), "second": (...)}``;
    a finish_reason of None means the stream ended without saying why (it was cut off).
    """
    started = threading.Event()
    outcome = {}

    def first():
        pieces, finish = 0, None
        try:
            body = chat_body([{"role": "user", "content": "Tell a long story about a dragon."}], model,
                             max_tokens=first_tokens)
            for piece in stream_pieces(base_url, body, timeout_s):
                pieces += bool(piece.text)
                finish = piece.finish_reason or finish
                started.set()
        except Exception as err:  # handed to the caller below
            outcome["error"] = err
        finally:
            started.set()
            outcome["first"] = (pieces, finish)

    thread = threading.Thread(target=first, daemon=True)
    thread.start()
    started.wait(timeout_s)
    second = list(stream_pieces(base_url, chat_body([{"role": "user", "content": "Say hi."}], model, max_tokens=4),
                                timeout_s))
    thread.join(timeout_s)
    if "error" in outcome:
        raise outcome["error"]
    return {"first": outcome["first"], "second": (sum(bool(p.text) for p in second), second[-1].finish_reason if second else None)}
