"""Silent failures: cut prompts and replies found from the usage counts, and a stream cut by a newer request."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import chat_body, complete
from helpers.serving.server import ServerSettings, server_command, start_server
from helpers.serving.silent_failures import chat_tokens_sent, overlapping_streams, silent_cuts

SLOT = 256
LONG = [{"role": "user", "content": "Count on: " + "one two three " * 70}]  # about 230 tokens of a 256-token slot


def _reply(prompt, completion, finish="stop"):
    return {"usage": {"prompt_tokens": prompt, "completion_tokens": completion},
            "choices": [{"finish_reason": finish}]}


def test_silent_cuts_tell_a_cut_prompt_a_full_context_and_a_shift_from_a_normal_reply():
    assert silent_cuts(_reply(100, 20, "length"), tokens_sent=100, max_tokens=20, slot_tokens=256) == []
    assert silent_cuts(_reply(100, 5), tokens_sent=100, max_tokens=20, slot_tokens=256) == []
    assert silent_cuts(_reply(200, 10), tokens_sent=300, max_tokens=20, slot_tokens=256) == [
        "prompt cut: the server read 200 of the 300 tokens sent"]
    [full] = silent_cuts(_reply(240, 16, "length"), tokens_sent=240, max_tokens=64, slot_tokens=256)
    assert full.startswith("reply cut by the context: 16 of 64 tokens")
    [shifted] = silent_cuts(_reply(240, 64, "length"), tokens_sent=240, max_tokens=64, slot_tokens=256)
    assert shifted.startswith("context shifted: 240 prompt + 64 reply tokens exceed the 256-token context")


@pytest.mark.parametrize("shift", [False, True])
def test_llama_server_reads_the_whole_prompt_then_cuts_or_shifts_the_reply_without_an_error(tmp_path, shift):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias="smollm2", n_ctx=SLOT, n_threads=1,
                              extra_args=("--context-shift",) if shift else ())
    with start_server(settings, log_dir=tmp_path) as server:
        sent = chat_tokens_sent(server.url, LONG)
        reply = complete(server.base_url, chat_body(LONG, "smollm2", max_tokens=48, ignore_eos=True))
    assert reply["usage"]["prompt_tokens"] == sent and SLOT - 48 < sent < SLOT  # not cut, but no room for 48 more
    [cut] = silent_cuts(reply, sent, max_tokens=48, slot_tokens=SLOT)
    assert cut.startswith("context shifted" if shift else "reply cut by the context")


def test_the_course_starts_llama_cpp_python_with_interrupts_off():
    command = server_command(ServerSettings(chat_model_path()), 8000)
    assert command[command.index("--interrupt_requests") + 1] == "False"


@pytest.mark.parametrize("interrupt", ["True", "False"])
def test_llama_cpp_python_cuts_a_stream_when_a_new_request_comes_unless_told_not_to(tmp_path, interrupt):
    settings = ServerSettings(chat_model_path(), model_alias="smollm2", n_ctx=256, n_threads=1,
                              extra_args=("--interrupt_requests", interrupt))
    with start_server(settings, log_dir=tmp_path) as server:
        seen = overlapping_streams(server.base_url, "smollm2", first_tokens=48)
    first_pieces, first_finish = seen["first"]
    if interrupt == "True":
        assert first_finish is None and 0 < first_pieces < 48  # ended early, without saying why
    else:
        assert first_finish in ("stop", "length") and first_pieces > 0  # finished; the second request waited
    assert seen["second"][0] > 0
