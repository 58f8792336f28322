"""Widget for notebook 02: a real next-token distribution reshaped by sampling knobs, live and static.

``sampling_explorer`` moves the knobs with sliders; ``settings_summary`` and ``settings_figure`` show
the same computation for a few fixed settings, so the notebook also teaches when read without a kernel.
"""
import html

import ipywidgets as widgets
import numpy as np

from helpers.textgen.sampling import apply_temperature, entropy_bits, min_p, repetition_penalty, softmax, top_k, top_p

KNOBS = ("temperature", "k", "p", "min_prob", "penalty")
NO_KNOBS = {"temperature": 1.0, "k": 0, "p": 1.0, "min_prob": 0.0, "penalty": 1.0}


def filtered_probabilities(logits, temperature: float, k: int, p: float, min_prob: float,
                           penalty: float = 1.0, previous_ids=()) -> np.ndarray:
    """Probabilities after penalty, top-k, top-p, min-p and temperature (zeros for removed tokens)."""
    z = repetition_penalty(logits, previous_ids, penalty)
    z = min_p(top_p(top_k(z, k), p), min_prob)
    return softmax(apply_temperature(z, temperature))


def setting_probabilities(logits, knobs: dict, previous_ids=()) -> np.ndarray:
    """:func:`filtered_probabilities` for a dict of knobs (names in ``KNOBS``; missing ones are off)."""
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown sampling knob(s) {unknown}; allowed: {list(KNOBS)}")
    return filtered_probabilities(logits, previous_ids=previous_ids, **{**NO_KNOBS, **knobs})


def settings_summary(logits, settings: dict, previous_ids=()) -> list:
    """One row per named setting ({name: knobs}): tokens that can still be drawn, p(top token), entropy (bits)."""
    rows = []
    for name, knobs in settings.items():
        probs = setting_probabilities(logits, knobs, previous_ids)
        rows.append({"setting": name, "tokens that can be drawn": int((probs > 0).sum()),
                     "p(top token)": float(probs.max()), "entropy (bits)": entropy_bits(probs)})
    return rows


def settings_figure(logits, pieces, settings: dict, previous_ids=(), n: int = 8):
    """A bar chart per named setting: the ``n`` tokens most likely before the knobs, before and after.

    The same numbers :func:`sampling_explorer` shows for those slider positions. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if not settings:
        raise ValueError("settings must name at least one setting, e.g. {'T = 0.5': {'temperature': 0.5}}")
    raw = softmax(logits)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= raw.size:
        raise ValueError(f"n must be a whole number of tokens in [1, {raw.size}], got {n!r}")
    top = np.argsort(-raw, kind="stable")[:n]
    cols = min(2, len(settings))
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 2.9 * rows), squeeze=False, sharey=True)
    for ax, (name, knobs) in zip(axes.flat, settings.items()):
        probs = setting_probabilities(logits, knobs, previous_ids)
        ax.bar(range(n), raw[top], color="none", edgecolor="grey", label="raw (T = 1)")
        ax.bar(range(n), probs[top], width=0.55, label="after the knobs")
        ax.set_xticks(range(n), [repr(pieces[i]) for i in top], rotation=45, ha="right")
        ax.set(title=f"{name}: {int((probs > 0).sum()):,} tokens can be drawn", ylabel="probability")
    axes.flat[0].legend()
    for ax in list(axes.flat)[len(settings):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def distribution_html(logits, pieces, probs, n: int = 12) -> str:
    """An HTML table of the ``n`` most likely tokens: piece, probability before and after, a bar."""
    before = softmax(logits)
    rows = []
    for i in np.argsort(-before, kind="stable")[:n]:
        bar = "█" * int(round(40 * probs[i]))
        rows.append(f"<tr><td><code>{html.escape(repr(pieces[i]))}</code></td><td>{before[i]:.3f}</td>"
                    f"<td>{probs[i]:.3f}</td><td style='font-family:monospace'>{bar}</td></tr>")
    kept = int((probs > 0).sum())
    head = "<tr><th>token</th><th>p (raw)</th><th>p (after knobs)</th><th></th></tr>"
    return f"<p>{kept:,} of {len(probs):,} tokens can still be drawn</p><table>{head}{''.join(rows)}</table>"


def sampling_explorer(logits, pieces, previous_ids=()):
    """Sliders for temperature, top-k, top-p, min-p and repetition penalty over fixed ``logits``.

    ``previous_ids``: the tokens the repetition penalty pushes back (e.g. the prompt's).
    """
    temperature = widgets.FloatSlider(value=1.0, min=0.05, max=2.0, step=0.05, description="temperature")
    k = widgets.IntSlider(value=0, min=0, max=100, description="top-k (0=off)")
    p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
    mp = widgets.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.01, description="min-p")
    penalty = widgets.FloatSlider(value=1.0, min=1.0, max=2.0, step=0.05, description="rep. penalty")
    table = widgets.HTML()

    def redraw(_=None):
        probs = filtered_probabilities(logits, temperature.value, k.value, p.value, mp.value,
                                       penalty.value, previous_ids)
        table.value = distribution_html(logits, pieces, probs)

    for control in (temperature, k, p, mp, penalty):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([widgets.VBox([temperature, k, p]), widgets.VBox([mp, penalty])]), table])
