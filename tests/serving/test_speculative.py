"""Speculative decoding: the break-even arithmetic, and llama-server's draft counts on loopback."""
import math

import pytest

from helpers.llm.chat_model import chat_model_path
from helpers.serving.client import chat_body, complete, reply_text
from helpers.serving.server import ServerSettings, start_server
from helpers.serving.speculative import acceptance, break_even_alpha, expected_tokens_per_step, speedup, step_cost


def test_tokens_per_step_run_from_one_to_k_plus_one():
    assert expected_tokens_per_step(0.0, 4) == 1.0 and expected_tokens_per_step(1.0, 4) == 5.0
    assert expected_tokens_per_step(0.5, 2) == pytest.approx(1 + 0.5 + 0.25)
    with pytest.raises(ValueError, match="alpha .* between 0 and 1, got 1.5"):
        expected_tokens_per_step(1.5, 2)
    with pytest.raises(ValueError, match="k .* got -1"):
        expected_tokens_per_step(0.5, -1)


def test_speedup_is_tokens_per_step_over_the_step_s_cost():
    assert step_cost(4, verify_cost=1.0, draft_cost=0.25) == 2.0
    assert speedup(0.5, 2, draft_cost=0.0) == pytest.approx(1.75)
    assert speedup(0.9, 4, draft_cost=0.9) < 1.0 < speedup(0.9, 4, draft_cost=0.05)  # a costly draft loses


def test_break_even_alpha_gives_a_speedup_of_one():
    alpha = break_even_alpha(4, draft_cost=0.2)
    assert 0 < alpha < 1 and speedup(alpha, 4, 0.2) == pytest.approx(1.0, abs=1e-9)
    assert break_even_alpha(4, draft_cost=0.3) > alpha  # a dearer draft needs better guesses
    assert break_even_alpha(4, draft_cost=1.0) == 1.0  # as costly as the target: never pays


def test_acceptance_reads_the_reply_s_timings():
    assert acceptance({"draft_n": 8, "draft_n_accepted": 6}) == (8, 6, 0.75)
    assert math.isnan(acceptance({"draft_n": 0, "draft_n_accepted": 0})[2])
    with pytest.raises(KeyError, match="without --spec-type"):
        acceptance({"predicted_n": 3})


REPEAT = chat_body([{"role": "user", "content": "Repeat exactly: the red fox ran to the old mill and back. " * 2}],
                   "smollm2", max_tokens=24)


def _greedy_reply(tmp_path, extra_args):
    settings = ServerSettings(chat_model_path(), kind="llama-server", model_alias="smollm2", n_ctx=512, n_threads=1,
                              extra_args=extra_args)
    with start_server(settings, log_dir=tmp_path) as server:
        return complete(server.base_url, REPEAT)


def test_draft_model_and_ngram_lookup_keep_the_greedy_text_and_count_their_drafts(tmp_path):
    model = str(chat_model_path())  # the model as its own draft: same vocabulary, and it should agree with itself
    drafted = _greedy_reply(tmp_path, ("--spec-type", "draft-simple", "--spec-draft-model", model, "--spec-draft-n-max", "4"))
    looked_up = _greedy_reply(tmp_path, ("--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", "3",
                                         "--spec-ngram-simple-size-m", "8"))
    assert reply_text(drafted) == reply_text(looked_up)  # speculation never changes a greedy reply
    for reply in (drafted, looked_up):
        n_drafted, n_accepted, rate = acceptance(reply["timings"])
        assert 0 <= n_accepted <= n_drafted and n_drafted > 0 and 0 <= rate <= 1
        assert n_accepted < reply["usage"]["completion_tokens"]  # every step adds one token of the target's own
    assert acceptance(drafted["timings"])[1] > 0
