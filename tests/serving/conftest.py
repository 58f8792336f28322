"""One real llama-cpp-python server with the real chat model for the serving tests of a module."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.server import ServerSettings, start_server

MODEL_ALIAS = "smollm2"


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    settings = ServerSettings(chat_model_path(), model_alias=MODEL_ALIAS, n_ctx=1024, n_threads=1)
    with start_server(settings, log_dir=tmp_path_factory.mktemp("server-logs")) as server:
        yield server
    assert not server.running()
