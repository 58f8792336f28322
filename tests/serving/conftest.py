"""One real llama-cpp-python server with the real chat model for the serving tests of a module, and the
``vllm`` mark: a test that needs vLLM's own environment is skipped where it is missing or out of date."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.server import ServerSettings, start_server
from helpers.serving.vllm_env import vllm_env_ready

MODEL_ALIAS = "smollm2"


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    settings = ServerSettings(chat_model_path(), model_alias=MODEL_ALIAS, n_ctx=1024, n_threads=1)
    with start_server(settings, log_dir=tmp_path_factory.mktemp("server-logs")) as server:
        yield server
    assert not server.running()


def pytest_collection_modifyitems(config, items):
    if vllm_env_ready():
        return
    skip = pytest.mark.skip(reason="vLLM's own environment .venv-vllm is missing or out of date "
                                   "(create it with `python3 course.py vllm-env`, about 3.5 GB)")
    for item in items:
        if item.get_closest_marker("vllm"):
            item.add_marker(skip)
