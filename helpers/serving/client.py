"""The OpenAI-compatible chat API spoken with the standard library alone: what goes over the wire.

A request is one JSON body POSTed to ``{base_url}/chat/completions``. Without streaming the reply
is one JSON object; with ``"stream": true`` it is a stream of server-sent events, one line
``data: {json}`` per piece of text and a final ``data: [DONE]``. The official ``openai`` client
sends exactly these bodies; :func:`curl_command` prints the same request for a terminal.

Errors come back as :class:`ServerError` with the HTTP status and the server's own message, and
what the course can check before sending (an unknown model name, a schema that is not JSON
Schema) is refused here with a clear message instead of a surprise from the server.
"""
import json
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass

JSON_SCHEMA_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")


class ServerError(RuntimeError):
    """The server answered with an HTTP error. ``status`` is the code, the message the server's own."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def chat_body(messages, model: str, max_tokens: int = 64, temperature: float = 0.0, seed: int = 0,
              stream: bool = False, json_schema: dict | None = None, **extra) -> dict:
    """The request body for one chat completion. ``json_schema`` asks for JSON that fits it."""
    if not messages or not all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in messages):
        raise ValueError(f"messages must be a non-empty list of {{'role': ..., 'content': ...}} dicts, got {messages!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive whole number, got {max_tokens!r}")
    body = {"model": model, "messages": list(messages), "max_tokens": max_tokens, "temperature": temperature,
            "seed": seed, "stream": stream}
    if json_schema is not None:
        check_json_schema(json_schema)
        body["response_format"] = {"type": "json_object", "schema": json_schema}
    body.update(extra)
    return body


def check_json_schema(schema) -> None:
    """Refuse a schema whose ``type`` (at any depth) is not a JSON Schema type.

    Servers differ here: some ignore a schema they cannot use and answer unconstrained text, so
    the course checks the shape before sending. It is not a full JSON Schema validator.
    """
    if not isinstance(schema, dict):
        raise ValueError(f"a JSON schema is a dict, got {type(schema).__name__}: {schema!r}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for one in kinds:
        if one not in JSON_SCHEMA_TYPES:
            raise ValueError(f"schema type {one!r} is not a JSON Schema type; allowed: {JSON_SCHEMA_TYPES}")
    for child in schema.get("properties", {}).values():
        check_json_schema(child)
    if isinstance(schema.get("items"), dict):
        check_json_schema(schema["items"])


def _request(url: str, body: bytes | None, timeout_s: float):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        return urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as err:
        raise ServerError(err.code, _error_message(err.read())) from None


def _error_message(raw: bytes) -> str:
    """The server's own error text: OpenAI's {"error": {"message": ...}} when present, else the body."""
    try:
        error = json.loads(raw)["error"]
        return error["message"] if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace").strip() or "(empty reply)"


def list_models(base_url: str, timeout_s: float = 10.0) -> list[str]:
    """The model names the server offers (``GET /v1/models``)."""
    with _request(f"{base_url}/models", None, timeout_s) as reply:
        return [entry["id"] for entry in json.load(reply)["data"]]


def check_model_name(base_url: str, model: str) -> None:
    """Refuse a model name the server does not offer, listing the ones it does."""
    offered = list_models(base_url)
    if model not in offered:
        raise ValueError(f"the server offers no model named {model!r}; it offers {offered}")


def post_json(url: str, body: dict, timeout_s: float = 120.0) -> dict:
    """POST ``body`` as JSON to ``url`` (any endpoint, e.g. llama-server's ``/completion``); the JSON reply.
    An HTTP error raises :class:`ServerError` with the server's own text."""
    with _request(url, json.dumps(body).encode(), timeout_s) as reply:
        return json.load(reply)


def post_raw(base_url: str, body: bytes, timeout_s: float = 120.0) -> dict:
    """POST bytes as they are (even malformed JSON) to /chat/completions; the JSON reply."""
    with _request(f"{base_url}/chat/completions", body, timeout_s) as reply:
        return json.load(reply)


def complete(base_url: str, body: dict, timeout_s: float = 120.0) -> dict:
    """One non-streamed chat completion: the server's JSON reply."""
    if body.get("stream"):
        raise ValueError("complete() sends stream=False; use stream_text() for a streamed reply")
    return post_raw(base_url, json.dumps(body).encode(), timeout_s)


def reply_text(reply: dict) -> str:
    """The assistant's text in a non-streamed reply."""
    return reply["choices"][0]["message"]["content"]


@dataclass(frozen=True)
class StreamPiece:
    """One streamed event: the text it adds (may be empty) and why generation stopped (or None)."""

    text: str
    finish_reason: str | None


def stream_pieces(base_url: str, body: dict, timeout_s: float = 120.0):
    """Yield a :class:`StreamPiece` per server-sent event until ``data: [DONE]``.

    Closing the generator early (``break``, an exception, a stop button) closes the connection:
    the server sees the client leave and stops generating for it.
    """
    payload = json.dumps({**body, "stream": True}).encode()
    with _request(f"{base_url}/chat/completions", payload, timeout_s) as reply:
        for raw_line in reply:
            line = raw_line.decode().strip()
            if not line.startswith("data:"):
                continue
            data = line[len("data:"):].strip()
            if data == "[DONE]":
                return
            event = json.loads(data)
            if "error" in event:
                raise ServerError(500, _error_message(data.encode()))
            if not event.get("choices"):
                continue
            choice = event["choices"][0]
            yield StreamPiece(choice.get("delta", {}).get("content") or "", choice.get("finish_reason"))


def stream_text(base_url: str, body: dict, timeout_s: float = 120.0):
    """Yield only the text of each streamed piece."""
    for piece in stream_pieces(base_url, body, timeout_s):
        if piece.text:
            yield piece.text


def curl_command(base_url: str, body: dict) -> str:
    """The same request as a curl command line, to paste into a terminal."""
    return (f"curl {shlex.quote(base_url + '/chat/completions')} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(json.dumps(body))}")
