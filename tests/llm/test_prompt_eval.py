"""Prompts measured on fixed sets: few-shot layouts, label scoring with prefix reuse against a fresh
evaluation per label, JSON replies counted as parsed, valid and right."""
import math

import numpy as np
import pytest

from helpers.course.paths import DATA_DIR
from helpers.llm import prompt_eval
from helpers.llm.load import log_softmax
from helpers.llm.prompt_sets import FewShotTask, ReviewSet
from helpers.llm.prompting import validate

TINY = DATA_DIR / "tiny_llama" / "tiny_llama-q8_0.gguf"
TASK = FewShotTask("speaker", "Name the speaker.", ("ROMEO", "JULIET"),
                   (("Wherefore art thou?", "JULIET"), ("But soft!", "ROMEO")),
                   (("O happy dagger!", "JULIET"), ("I defy you, stars!", "ROMEO"), ("Good night!", "JULIET")))


@pytest.fixture(scope="module")
def tiny():
    from helpers.llm.load import load_model

    return load_model(TINY, n_ctx=256, n_threads=1, logits_all=True)


def test_few_shot_chat_layouts():
    turns = prompt_eval.few_shot_chat(TASK, 2, "Good night!")
    assert [m["role"] for m in turns] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert turns[0]["content"] == TASK.instruction and turns[2]["content"] == "JULIET"
    one = prompt_eval.few_shot_chat(TASK, 1, "Good night!", layout="one message")
    assert len(one) == 1 and one[0]["content"].endswith("Input: Good night!\nAnswer:")
    assert "Input: Wherefore art thou?\nAnswer: JULIET" in one[0]["content"]
    assert len(prompt_eval.few_shot_chat(TASK, 0, "x")) == 2
    with pytest.raises(ValueError, match="0..2"):
        prompt_eval.few_shot_chat(TASK, 3, "x")
    with pytest.raises(ValueError, match="layout"):
        prompt_eval.few_shot_chat(TASK, 1, "x", layout="table")


def fresh_label_logprob(llm, prompt, label):
    """ln p(label | prompt) from an empty cache, one evaluation: the reference for prefix reuse."""
    prompt_ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    ids = llm.tokenize((prompt + label).encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(ids)
    logp = log_softmax(np.array(llm.scores[len(prompt_ids) - 1:len(ids) - 1]))
    return sum(logp[j, ids[len(prompt_ids) + j]] for j in range(len(ids) - len(prompt_ids)))


@pytest.mark.slow
def test_few_shot_score_matches_a_fresh_evaluation_per_label(tiny):
    from helpers.llm.prompting import render_chat_for

    score = prompt_eval.few_shot_score(tiny, TASK, 2)
    assert score.items == 3 and 0 <= score.correct <= 3 and score.accuracy == score.correct / 3
    assert [(text, truth) for text, truth, _ in score.predictions] == list(TASK.items)
    assert score.correct == sum(truth == predicted for _, truth, predicted in score.predictions)
    mass = 0.0
    for text, _, predicted in score.predictions:
        prompt = render_chat_for(tiny, prompt_eval.few_shot_chat(TASK, 2, text))
        reference = {label: fresh_label_logprob(tiny, prompt, label) for label in TASK.labels}
        assert predicted == max(reference, key=reference.get)
        mass += sum(math.exp(v) for v in reference.values())
    assert score.label_probability == pytest.approx(mass / 3, rel=1e-3)
    assert 0 < score.evaluated_tokens < score.scored_tokens, "the shared start is computed once"


@pytest.mark.slow
def test_label_logprobs_reuse_the_prompt(tiny):
    prompt = "<s>ROMEO:\n"
    scores, evaluated = prompt_eval.label_logprobs(tiny, prompt, ("I", "O"))
    assert set(scores) == {"I", "O"} and all(v < 0 for v in scores.values())
    assert scores["I"] == pytest.approx(fresh_label_logprob(tiny, prompt, "I"), abs=1e-3)
    _, again = prompt_eval.label_logprobs(tiny, prompt, ("I", "O"))
    assert again < evaluated


def test_json_counts_add_up():
    rows = [{"parses": True, "valid": True, "right": True, "tokens": 10},
            {"parses": True, "valid": False, "right": False, "tokens": 12},
            {"parses": False, "valid": False, "right": False, "tokens": 32}]
    assert prompt_eval.json_counts(rows) == {"replies": 3, "parse": 2, "valid": 1, "right": 1, "tokens": 54}


@pytest.mark.slow
def test_review_json_rows_with_a_grammar_always_parse():
    from helpers.llm.chat_model import chat_model_path
    from helpers.llm.load import load_model
    from helpers.llm.prompt_sets import review_schema

    llm = load_model(chat_model_path(), n_ctx=512, n_threads=1)
    reviews = ReviewSet("Reply with JSON only: the product and its rating in stars from 1 to 5.", "Fine, 3 stars.",
                        {"product": "pen", "stars": 3},
                        (("The kettle is great, 5 stars.", 5), ("Ten out of ten for this lamp!", 5)), "test", "as stated")
    for constraint in ("minimum/maximum", "enum"):
        rows = prompt_eval.review_json_rows(llm, reviews, constraint, max_tokens=32)
        assert [r["review"] for r in rows] == [text for text, _ in reviews.items]
        for r in rows:
            assert r["parses"], r
            assert r["valid"] == (not validate(r["value"], review_schema(constraint)))
            assert r["right"] == (r["value"].get("stars") == r["stars"])
    with pytest.raises(ValueError, match="constraint"):
        prompt_eval.review_json_rows(llm, reviews, "maximum")
