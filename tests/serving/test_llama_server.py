"""llama.cpp's own llama-server, started and stopped by the course, with parallel slots."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import ServerError, chat_body, complete, list_models, reply_text, stream_text
from helpers.serving.load import run_clients
from helpers.serving.server import ServerSettings, llama_server_available, port_is_open, server_command, start_server

ALIAS = "smollm2"


def ask(text, **kwargs):
    return chat_body([{"role": "user", "content": text}], ALIAS, **kwargs)


@pytest.fixture(scope="module")
def slots_server(tmp_path_factory):
    assert llama_server_available(), "llama.cpp's tools are not built: python course.py tools"
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias=ALIAS, n_ctx=2048, n_threads=1, parallel=4)
    with start_server(settings, log_dir=tmp_path_factory.mktemp("llama-server-logs")) as server:
        yield server
    assert not server.running() and not port_is_open("127.0.0.1", server.port)


def test_command_line_splits_the_context_between_slots():
    cmd = server_command(ServerSettings(chat_model_path(), kind="llama-server", n_ctx=2048, parallel=4), 8123)
    assert cmd[0].endswith("llama-server")
    assert cmd[cmd.index("--parallel") + 1] == "4" and cmd[cmd.index("--ctx-size") + 1] == "2048"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


def test_serves_the_alias_and_streams_the_same_text(slots_server):
    assert list_models(slots_server.base_url) == [ALIAS]
    body = ask("Name three colours.", max_tokens=24)
    whole = reply_text(complete(slots_server.base_url, body))
    assert whole and "".join(stream_text(slots_server.base_url, body)) == whole


def test_concurrent_clients_each_get_their_own_answer(slots_server):
    prompts = ["Say the word apple.", "What is 2 plus 2?", "Name a large animal.", "Say hello in French."]
    alone = [reply_text(complete(slots_server.base_url, ask(p, max_tokens=8))) for p in prompts]
    together = run_clients(slots_server.base_url, [ask(p, max_tokens=8) for p in prompts])
    assert len(set(alone)) == 4
    assert [t.text for t in together.timings] == alone


def test_a_prompt_longer_than_a_slot_is_an_error_then_the_next_request_works(slots_server):
    with pytest.raises(ServerError) as err:
        complete(slots_server.base_url, ask("word " * 1000, max_tokens=4))  # a slot holds 2048 / 4 = 512 tokens
    assert err.value.status == 400
    assert reply_text(complete(slots_server.base_url, ask("Hello", max_tokens=3)))
