"""The notebook-02 sampling explorer redraws when a knob moves (no browser needed)."""
import numpy as np
import pytest

from helpers.textgen.sampling import softmax
from helpers.widgets.sampling import (
    distribution_html,
    filtered_probabilities,
    sampling_explorer,
    setting_probabilities,
    settings_figure,
    settings_summary,
)

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


def test_settings_use_the_widgets_computation_and_refuse_unknown_knobs():
    probs = setting_probabilities(LOGITS, {"k": 2, "temperature": 0.5}, previous_ids=[1])
    assert np.array_equal(probs, filtered_probabilities(LOGITS, 0.5, 2, 1.0, 0.0, previous_ids=[1]))
    assert np.array_equal(setting_probabilities(LOGITS, {}), softmax(LOGITS))
    with pytest.raises(ValueError, match=r"\['top_k'\].*allowed"):
        setting_probabilities(LOGITS, {"top_k": 2})


def test_settings_summary_rows():
    rows = settings_summary(LOGITS, {"raw": {}, "top-k 1": {"k": 1}, "T=0.5": {"temperature": 0.5}})
    assert [r["setting"] for r in rows] == ["raw", "top-k 1", "T=0.5"]
    raw, greedy, cold = rows
    assert raw["tokens that can be drawn"] == 5 and greedy["tokens that can be drawn"] == 1
    assert greedy["p(top token)"] == 1.0 and greedy["entropy (bits)"] == 0.0
    assert raw["p(top token)"] == pytest.approx(softmax(LOGITS).max())
    assert cold["entropy (bits)"] < raw["entropy (bits)"]


def test_settings_figure_draws_the_same_probabilities():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = {"top-k 2": {"k": 2}, "T=2": {"temperature": 2.0}, "min-p 0.5": {"min_prob": 0.5}}
    fig = settings_figure(LOGITS, PIECES, settings, n=4)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and not fig.axes[3].get_visible()
    for ax, knobs in zip(axes, settings.values()):
        raw_bars, after_bars = ax.containers
        assert [b.get_height() for b in raw_bars] == pytest.approx(softmax(LOGITS)[:4])
        assert [b.get_height() for b in after_bars] == pytest.approx(setting_probabilities(LOGITS, knobs)[:4])
        assert [t.get_text() for t in ax.get_xticklabels()] == [repr(p) for p in PIECES[:4]]
    assert axes[0].get_title() == "top-k 2: 2 tokens can be drawn"
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one setting"):
        settings_figure(LOGITS, PIECES, {})
    with pytest.raises(ValueError, match=r"n must be .*\[1, 5\], got 6"):
        settings_figure(LOGITS, PIECES, settings, n=6)
