"""Exercise checks of notebook 04: right answers pass, typical mistakes get their hint."""
import math

from helpers.exercises.prompting import (
    chat_model_template,
    check_mood_schema,
    check_probability_factor,
    check_rendered_prompt,
)

SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
USER = "<|im_start|>user\nGood morrow!<|im_end|>\n"
RIGHT = SYSTEM + USER + "<|im_start|>assistant\n"


def test_rendered_prompt_check():
    assert check_rendered_prompt(RIGHT)
    assert "default system turn" in check_rendered_prompt(USER + "<|im_start|>assistant\n").message
    assert "default system turn" in check_rendered_prompt(USER).message
    assert "add_generation_prompt" in check_rendered_prompt(SYSTEM + USER).message
    assert "<|im_end|> and a newline" in check_rendered_prompt(RIGHT.replace("<|im_end|>\n", "<|im_end|>")).message
    assert "step by step" in check_rendered_prompt("USER: Good morrow!").message
    assert not check_rendered_prompt(None) and not check_rendered_prompt(3)


def test_rendered_prompt_check_reads_the_model_template():
    assert chat_model_template().startswith("{% for message in messages %}")
    own = "{% for m in messages %}[{{ m['content'] }}]{% endfor %}"
    assert check_rendered_prompt("[Good morrow!]", template=own)


def test_probability_factor_check():
    assert check_probability_factor(math.exp(2.5), -8.0, -5.5)
    assert "exp of it" in check_probability_factor(2.5, -8.0, -5.5).message
    assert "power of 10" in check_probability_factor(10 ** 2.5, -8.0, -5.5).message
    assert "power of 2" in check_probability_factor(2 ** 2.5, -8.0, -5.5).message


def test_mood_schema_check():
    good = {"type": "object", "properties": {"mood": {"type": "string", "enum": ["merry", "sad"]}},
            "required": ["mood"], "additionalProperties": False}
    assert check_mood_schema(good)
    no_enum = {**good, "properties": {"mood": {"type": "string"}}}
    assert "enum" in check_mood_schema(no_enum).message
    no_required = {k: v for k, v in good.items() if k != "required"}
    assert "required" in check_mood_schema(no_required).message
    open_object = {k: v for k, v in good.items() if k != "additionalProperties"}
    assert "additionalProperties" in check_mood_schema(open_object).message
    typo = {**good, "properties": {"mood": {"type": "string", "enum": ["mery", "sad"]}}}
    assert "should be valid" in check_mood_schema(typo).message
    assert "cannot be used" in check_mood_schema({"type": "object", "oneOf": []}).message
    assert not check_mood_schema(None) and not check_mood_schema("schema")
