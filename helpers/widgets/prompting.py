"""Widget for notebook 04: system prompt, number of examples and temperature -> the exact prompt
text the model reads and the reply it writes (seeded, so each setting gives one repeatable reply).

:func:`playground_html` renders one setting; the widget redraws with it, and notebook 04 stores it at
the widget's default settings beside the widget, for readers without a kernel."""
import html

import ipywidgets as widgets

from helpers.llm.prompting import few_shot_messages, prompt_token_ids, render_chat_for


def playground_html(llm, system: str, examples, query: str, shots: int, temperature: float, seed: int = 0,
                    max_tokens: int = 40) -> str:
    """HTML: the rendered prompt (with its token count) and the model's reply for these settings."""
    messages = few_shot_messages(list(examples)[:shots], query, system)
    text = render_chat_for(llm, messages)
    reply = llm.create_chat_completion(messages, temperature=temperature, seed=seed, max_tokens=max_tokens,
                                       stop=["\n\n"])["choices"][0]["message"]["content"]
    n_tokens = len(prompt_token_ids(llm, text))
    return (f"<p><b>prompt the model reads</b> ({n_tokens} tokens)</p>"
            f"<pre style='background:#f4f4f4;padding:6px'>{html.escape(text)}</pre>"
            f"<p><b>reply</b> (temperature {temperature:.2f}, seed {seed})</p>"
            f"<pre style='background:#eef6ee;padding:6px'>{html.escape(reply)}</pre>")


def prompt_playground(llm, systems: dict, examples, query: str, seed: int = 0):
    """Dropdown of system prompts, a slider for the number of examples, a temperature slider."""
    system = widgets.Dropdown(options=list(systems.items()), description="system")
    shots = widgets.IntSlider(value=0, min=0, max=len(examples), description="examples")
    temperature = widgets.FloatSlider(value=0.0, min=0.0, max=1.5, step=0.1, description="temperature")
    view = widgets.HTML()

    def redraw(_=None):
        view.value = playground_html(llm, system.value, examples, query, shots.value, temperature.value, seed)

    for control in (system, shots, temperature):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([system, shots, temperature]), view])
