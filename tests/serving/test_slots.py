"""llama-server's slots: -np divides -c, and a prompt longer than a slot's share is refused."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import chat_body, complete, reply_text
from helpers.serving.server import ServerSettings, start_server
from helpers.serving.slots import long_prompt_refusal, read_slots, slot_tokens

N_CTX, PARALLEL = 1024, 2


def test_each_slot_gets_its_share_of_the_context():
    assert slot_tokens(2048, 4) == 512 and slot_tokens(1024, 1) == 1024
    with pytest.raises(ValueError, match="n_ctx=1000 does not split evenly between parallel=3"):
        slot_tokens(1000, 3)
    with pytest.raises(ValueError, match="parallel must be a positive whole number, got 0"):
        slot_tokens(1024, 0)


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias="smollm2", n_ctx=N_CTX, n_threads=1,
                              parallel=PARALLEL)
    with start_server(settings, log_dir=tmp_path_factory.mktemp("slots-logs")) as server:
        yield server


def test_a_prompt_longer_than_its_slot_is_refused_though_it_fits_the_whole_context(two_slots):
    refusal = long_prompt_refusal(two_slots.base_url, "smollm2", N_CTX, PARALLEL)
    assert refusal.status == 400 and refusal.slot_tokens == 512
    assert f"available context size ({refusal.slot_tokens} tokens)" in refusal.message
    assert refusal.slot_tokens < refusal.prompt_words < N_CTX
    assert reply_text(complete(two_slots.base_url, chat_body([{"role": "user", "content": "Hi"}], "smollm2", max_tokens=3)))


def test_the_slots_endpoint_lists_every_slot_with_its_share(two_slots):
    slots = read_slots(two_slots.url)
    assert [s["id"] for s in slots] == list(range(PARALLEL))
    assert {s["n_ctx"] for s in slots} == {slot_tokens(N_CTX, PARALLEL)}
    assert not any(s["is_processing"] for s in slots)
