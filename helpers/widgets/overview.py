"""Widgets for notebook 01: play with a character bigram model's temperature and starting letter."""
import html

import ipywidgets as widgets
import matplotlib.pyplot as plt

from helpers.textgen.bigram import BigramModel, generate


def char_label(char: str) -> str:
    """A short readable axis label for one character: 'sp' for a space, escapes for newlines and tabs."""
    return "sp" if char == " " else repr(char)[1:-1]


def show_next_char_distribution(model: BigramModel, char: str, temperature: float, top: int = 12, ax=None):
    """Bar chart of the ``top`` most likely characters after ``char`` at ``temperature``."""
    probabilities = model.next_char_probabilities(char, temperature)
    order = probabilities.argsort()[::-1][:top]
    labels = [char_label(model.alphabet[i]) for i in order]
    ax = ax or plt.gca()
    ax.bar(labels, probabilities[order], color="#3182bd")
    ax.set_ylim(0, 1)
    blank = " (sp: a space)" if " " in (char, *(model.alphabet[i] for i in order)) else ""
    ax.set_xlabel(f"next character after {char_label(char)!r}{blank}")
    ax.set_ylabel("probability")
    ax.set_title(f"temperature {temperature:.2f}")


def bigram_playground(model: BigramModel, start_chars: str = "tqa e"):
    """A temperature slider and start-letter dropdown driving a plot and a generated sample."""
    temperature = widgets.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="temperature")
    start = widgets.Dropdown(options=[(repr(c), c) for c in start_chars], value=start_chars[0], description="start")
    seed = widgets.IntSlider(value=0, min=0, max=20, description="seed")
    plot = widgets.Output()
    sample = widgets.HTML()

    def redraw(_=None):
        text = generate(model, start.value, 160, temperature.value, seed.value)
        sample.value = f"<pre style='white-space: pre-wrap'>{html.escape(text)}</pre>"
        with plot:
            plot.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(7, 2.8))
            show_next_char_distribution(model, start.value, temperature.value, ax=ax)
            plt.show()

    for control in (temperature, start, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([start, temperature, seed]), plot, sample])
