"""Prompt caching in llama-server: a repeated prefix comes from the cache; --cache-reuse finds a dropped chunk."""
import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.prompt_cache import cache_cases, filler_text, system_prompt_messages, time_to_first_token
from helpers.serving.server import ServerSettings, start_server

SYSTEM = "You answer questions about this list. " + filler_text(40)
OLD_TURN = "An earlier question that is dropped later: " + filler_text(20)
DOCUMENT = filler_text(60, numbered=True)


def test_filler_is_deterministic_and_refuses_no_words():
    assert filler_text(3) == "river mountain cloud" and filler_text(2, numbered=True) == "river0 mountain1"
    with pytest.raises(ValueError, match="words must be a positive whole number, got 0"):
        filler_text(0)


@pytest.fixture(scope="module")
def cached_server(tmp_path_factory):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias="smollm2", n_ctx=1024, n_threads=1,
                              extra_args=("--cache-reuse", "16"))
    with start_server(settings, log_dir=tmp_path_factory.mktemp("cache-logs")) as server:
        yield server


def test_a_repeated_prompt_is_read_from_the_cache_unless_the_request_says_no(cached_server):
    messages = system_prompt_messages(SYSTEM, "Which word comes first?")
    first = time_to_first_token(cached_server.base_url, messages, "smollm2")
    repeat = time_to_first_token(cached_server.base_url, messages, "smollm2")
    uncached = time_to_first_token(cached_server.base_url, messages, "smollm2", cache_prompt=False)
    assert first.cached_tokens == 0 and first.computed_tokens > 40
    assert repeat.cached_tokens + repeat.computed_tokens == first.computed_tokens
    assert repeat.cached_tokens >= first.computed_tokens - 1
    assert uncached.cached_tokens == 0 and uncached.computed_tokens == first.computed_tokens
    assert min(first.seconds, repeat.seconds, first.prompt_ms, repeat.prompt_ms) > 0


def test_cache_reuse_shifts_what_follows_a_dropped_chunk_but_not_a_replaced_one(cached_server):
    def ask(*parts):
        return time_to_first_token(cached_server.base_url, system_prompt_messages(SYSTEM, "\n".join(parts)), "smollm2")

    whole = ask(OLD_TURN, DOCUMENT, "Which word comes first?")
    dropped = ask(DOCUMENT, "Which word comes first?")  # the document follows the shared prefix directly now
    replaced = ask("A new question in its place.", DOCUMENT, "Which word comes first?")
    prefix = replaced.cached_tokens  # only the unchanged start: the document after the new chunk is recomputed
    assert whole.cached_tokens < whole.computed_tokens
    assert dropped.cached_tokens > prefix + 60  # the document's tokens came from the cache, shifted into place
    assert dropped.computed_tokens < replaced.computed_tokens


def test_the_cases_of_a_shared_system_prompt(cached_server):
    system = "You answer questions about this other list. " + filler_text(50)  # not yet in the cache
    cases = cache_cases(cached_server.base_url, "smollm2", system, OLD_TURN, DOCUMENT)
    assert list(cases) == ["first request", "same system prompt, new question", "the same, cache_prompt false",
                           "chunk and document", "chunk dropped"]
    first, repeat, uncached, both, dropped = cases.values()
    assert both.cached_tokens <= repeat.cached_tokens and both.computed_tokens > 60  # chunk and document computed
    assert first.cached_tokens < 20 < repeat.cached_tokens and uncached.cached_tokens == 0
    assert uncached.computed_tokens == repeat.cached_tokens + repeat.computed_tokens  # the same request, all computed
    assert dropped.cached_tokens > repeat.cached_tokens + 60  # --cache-reuse: the document after the dropped chunk reused
