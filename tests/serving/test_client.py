import json
import shlex

import pytest

from helpers.serving.client import (
    ServerError,
    chat_body,
    check_json_schema,
    check_model_name,
    complete,
    curl_command,
    post_raw,
    reply_text,
    stream_pieces,
    stream_text,
)
from helpers.serving.load import run_clients

ALIAS = "smollm2"


def ask(text, **kwargs):
    return chat_body([{"role": "user", "content": text}], ALIAS, **kwargs)


def test_body_refuses_bad_messages_and_lengths():
    with pytest.raises(ValueError, match="messages must be a non-empty list"):
        chat_body([], ALIAS)
    with pytest.raises(ValueError, match="messages must be"):
        chat_body([{"role": "user"}], ALIAS)
    with pytest.raises(ValueError, match="max_tokens must be a positive whole number, got 0"):
        ask("hi", max_tokens=0)


def test_schema_check_names_the_bad_type():
    tags = {"type": "array", "items": {"type": "string"}}
    check_json_schema({"type": "object", "properties": {"city": {"type": "string"}, "tags": tags}})
    with pytest.raises(ValueError, match="schema type 'nonsense' is not a JSON Schema type"):
        check_json_schema({"type": "object", "properties": {"x": {"type": "nonsense"}}})
    with pytest.raises(ValueError, match="a JSON schema is a dict"):
        check_json_schema(["string"])
    body = ask("hi", json_schema={"type": "object"})
    assert body["response_format"] == {"type": "json_object", "schema": {"type": "object"}}


def test_curl_line_sends_the_same_body():
    body = ask("It's \"quoted\"", max_tokens=5)
    words = shlex.split(curl_command("http://127.0.0.1:8000/v1", body))
    assert words[:2] == ["curl", "http://127.0.0.1:8000/v1/chat/completions"]
    assert json.loads(words[words.index("-d") + 1]) == body


def test_streamed_text_equals_the_whole_reply(chat_server):
    body = ask("Name three colours.", max_tokens=24)
    complete(chat_server.base_url, body)  # from here on both requests find the same prompt in the server's cache,
    whole = reply_text(complete(chat_server.base_url, body))  # so their arithmetic, and greedy text, is the same
    assert whole and "".join(stream_text(chat_server.base_url, body)) == whole


def test_concurrent_clients_each_get_their_own_answer(chat_server):
    prompts = ["Say the word apple.", "What is 2 plus 2?", "Name a large animal."]
    alone = [reply_text(complete(chat_server.base_url, ask(p, max_tokens=12))) for p in prompts]
    assert len(set(alone)) == 3
    together = run_clients(chat_server.base_url, [ask(p, max_tokens=12) for p in prompts])
    assert [t.text for t in together.timings] == alone
    assert all(t.tokens >= 1 and t.total_s >= t.first_token_s for t in together.timings)


def good_request_is_answered(server):
    assert reply_text(complete(server.base_url, ask("Hello", max_tokens=3)))


def test_a_prompt_longer_than_the_context_is_a_400_then_the_server_goes_on(chat_server):
    with pytest.raises(ServerError, match="maximum context length is 1024 tokens") as err:
        complete(chat_server.base_url, ask("word " * 2000, max_tokens=4))
    assert err.value.status == 400
    good_request_is_answered(chat_server)


def test_malformed_json_is_an_http_error_then_the_server_goes_on(chat_server):
    with pytest.raises(ServerError) as err:
        post_raw(chat_server.base_url, b'{"model": "smollm2", "messages": [')
    assert 400 <= err.value.status < 600
    good_request_is_answered(chat_server)


def test_an_unknown_model_name_is_refused_by_the_course_client(chat_server):
    with pytest.raises(ValueError, match=r"no model named 'gpt-9'; it offers \['smollm2'\]"):
        check_model_name(chat_server.base_url, "gpt-9")
    check_model_name(chat_server.base_url, ALIAS)
    good_request_is_answered(chat_server)


def test_json_schema_through_the_api_gives_parseable_json(chat_server):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = ask("Give the capital of France as JSON.", max_tokens=40, json_schema=schema)
    answer = json.loads(reply_text(complete(chat_server.base_url, body)))
    assert isinstance(answer["city"], str)


def test_a_client_that_leaves_mid_stream_does_not_hurt_the_next(chat_server):
    pieces = stream_pieces(chat_server.base_url, ask("Write a long story about a cat.", max_tokens=200))
    first_two = [next(pieces), next(pieces)]
    pieces.close()  # the connection closes here, mid-reply
    assert len(first_two) == 2 and chat_server.running()
    good_request_is_answered(chat_server)
