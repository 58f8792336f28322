"""The notebook-02 sampling explorer redraws when a knob moves (no browser needed)."""
import numpy as np

from helpers.widgets.sampling import distribution_html, filtered_probabilities, sampling_explorer

LOGITS = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
PIECES = ["▁the", "▁a", "▁my", "▁thy", "<0x0A>"]


def test_filtered_probabilities_sum_to_one_and_drop_tokens():
    probs = filtered_probabilities(LOGITS, 1.0, 2, 1.0, 0.0)
    assert np.isclose(probs.sum(), 1.0) and (probs > 0).sum() == 2


def test_table_lists_pieces():
    text = distribution_html(LOGITS, PIECES, filtered_probabilities(LOGITS, 1.0, 0, 1.0, 0.0))
    assert "▁the" in text and "5 of 5 tokens" in text


def test_explorer_redraws():
    app = sampling_explorer(LOGITS, PIECES)
    (left, right), table = app.children[0].children, app.children[1]
    temperature, k, _ = left.children
    first = table.value
    k.value = 1
    assert "1 of 5 tokens" in table.value and table.value != first
    k.value = 0
    right.children[0].value = 0.3  # min-p: keeps p >= 0.3 * p_max
    assert "2 of 5 tokens" in table.value
