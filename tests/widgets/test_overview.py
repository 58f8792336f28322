"""The notebook-01 playground draws and regenerates when a control moves (no browser needed)."""
import matplotlib

matplotlib.use("Agg")

from helpers.textgen.bigram import fit_bigram  # noqa: E402
from helpers.widgets.overview import bigram_playground, char_label, show_next_char_distribution  # noqa: E402


def test_playground_redraws_on_change():
    app = bigram_playground(fit_bigram("to be or not to be, that is the question " * 10), start_chars="tb")
    controls, _plot, sample = app.children
    start, temperature, seed = controls.children
    first = sample.value
    assert first.startswith("<pre") and ">t" in first
    start.value = "b"
    assert ">b" in sample.value and sample.value != first
    second = sample.value
    seed.value = 5
    assert sample.value != second


def test_blank_characters_get_readable_labels():
    assert [char_label(c) for c in (" ", "\n", "\t", "a")] == ["sp", "\\n", "\\t", "a"]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    show_next_char_distribution(fit_bigram("a b a c a b " * 5), "a", 1.0, ax=ax)
    assert "sp" in [t.get_text() for t in ax.get_xticklabels()] and "sp: a space" in ax.get_xlabel()
    plt.close(fig)
