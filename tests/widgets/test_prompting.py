"""The notebook-04 prompt playground redraws the rendered prompt and the reply when a control moves."""
import pytest

from helpers.course.paths import DATA_DIR

MODEL = DATA_DIR / "tiny_llama" / "tiny_llama-q8_0.gguf"  # any model with a chat template will do


@pytest.fixture(scope="module")
def llm():
    from helpers.llm.load import load_model

    return load_model(MODEL, n_ctx=256, n_threads=1)


@pytest.mark.slow
def test_widget_redraws_when_controls_change(llm):
    from helpers.widgets.prompting import prompt_playground

    examples = [("What news?", "The king is dead."), ("Who comes?", "The prince.")]
    app = prompt_playground(llm, {"none": "", "herald": "You are a herald."}, examples, "Where is he?")
    system, shots, _temperature = app.children[0].children
    view = app.children[1]
    before = view.value
    system.value = "You are a herald."
    assert view.value != before and "SYSTEM:" in view.value and "You are a herald." in view.value
    shots.value = 2
    assert "The king is dead." in view.value and "The prince." in view.value


@pytest.mark.slow
def test_playground_html_shows_the_examples_as_turns(llm):
    from helpers.widgets.prompting import playground_html

    page = playground_html(llm, "", [("What news?", "The king is dead.")], "Who comes?", shots=1, temperature=0.0)
    assert "USER:\nWhat news?" in page and "ASSISTANT:\nThe king is dead." in page
    assert "temperature 0.00, seed 0" in page


@pytest.mark.slow
def test_static_view_is_the_widgets_first_view(llm):
    """Notebook 04 stores playground_html at the widget's default settings beside the widget: the same page."""
    from helpers.widgets.prompting import playground_html, prompt_playground

    examples = [("What news?", "The king is dead.")]
    app = prompt_playground(llm, {"none": "", "herald": "You are a herald."}, examples, "Where is he?", seed=3)
    assert app.children[1].value == playground_html(llm, "", examples, "Where is he?", shots=0, temperature=0.0, seed=3)
